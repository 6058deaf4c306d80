/* Shared by the fuzz target and the corpus generator.
 *
 * Input: a 4-byte header, then a script of operations.
 *
 * Header:
 *   byte 0: FZ_H_* flags (device, TCP options of the stack)
 *   byte 1: MTU choice (fz_mtus[byte % FZ_NMTU])
 *   byte 2: send buffer in 16 KB units (0 = the default, 256 KB)
 *   byte 3: reserved
 *
 * Operations (first byte % FZ_OP_COUNT), each followed by its arguments;
 * a script that ends inside an operation stops there:
 *   RAW    u16 length (LE, & 0x7ff) | u8 control | frame bytes
 *          control bit 0: recompute IPv4/TCP/UDP/ICMP checksums first, so
 *          mutations reach past checksum checks; bits 4..7: advance the clock
 *          by 2^(bits) ms first; bits 1..3: what the application does with
 *          connections the frame created (reply, close, send on the active
 *          connection) -- the frame fuzzing of the first version of this target.
 *   OPEN   u8 conn | u8 FZ_O_* | u16 peer MSS (BE) | u8 peer wscale | u16 window (BE)
 *          the harness completes a handshake with these peer options: passive
 *          (to the listener on 80) or active (FZ_O_ACTIVE: kn_tcp_connect).
 *   SEG    u8 conn | u8 TCP flags | i16 seq (relative to the peer's next) |
 *          i16 ack (relative to the highest sequence the stack sent) |
 *          u16 window | u16 payload length | u8 FZ_S_* (and SACK blocks)
 *   PUMP   u8 conn | u16 window | u8 rounds: the peer ACKs everything the
 *          stack sent, 1 ms apart, rounds times (lets large writes flow)
 *   WRITE  u8 conn | u24 length (BE): kn_tcp_send until refused
 *   READ   u8 conn | u16 length: kn_tcp_recv (conn byte >= 0x80: recv_mbuf)
 *   CLOSE  u8 conn | u8 how (0 close, 1 shutdown, 2 abort)
 *   CLOCK  u8 n: n < 200: advance n+1 ms; else (n-199) seconds
 *   UDP    u16 length: kn_udp_sendto of that many bytes
 *   PING   u16 size: an ICMP echo of size data bytes, fragmented to the MTU
 *
 * The stack under test is 198.18.0.2 with a listener on TCP 80, a UDP socket
 * on 53 and an active connection from port 1025 to 198.18.0.1:80. Script
 * connections use peer ports FZ_PPORT0 + conn (passive) or connect from
 * FZ_LPORT0 + conn to the peer's port FZ_APORT (active). Every byte either
 * side sends is a function of its position in the stream (fz_pat), so both
 * directions are content-checked. */
#ifndef KAON_FUZZ_COMMON_H
#define KAON_FUZZ_COMMON_H

#include <stdint.h>
#include <string.h>

#define FZ_US_IP 0xc6120002u   /* 198.18.0.2 */
#define FZ_PEER_IP 0xc6120001u /* 198.18.0.1 */
#define FZ_CTL_FIXCSUM 0x01

#define FZ_HDR 4
enum {
	FZ_H_MULTISEG = 1u << 0, /* the device takes chains; default: a linearizing one */
	FZ_H_NO_TS    = 1u << 1, /* stack: timestamps off (default on) */
	FZ_H_NO_WS    = 1u << 2, /* stack: window scaling off */
	FZ_H_NAGLE    = 1u << 3,
};
#define FZ_NMTU 4
static const uint16_t fz_mtus[FZ_NMTU] = {1500, 576, 1280, 1000};

enum {
	FZ_OP_RAW, FZ_OP_OPEN, FZ_OP_SEG, FZ_OP_PUMP, FZ_OP_WRITE, FZ_OP_READ,
	FZ_OP_CLOSE, FZ_OP_CLOCK, FZ_OP_UDP, FZ_OP_PING, FZ_OP_COUNT
};
enum {
	FZ_O_ACTIVE = 1u << 0,
	FZ_O_MSS    = 1u << 1,
	FZ_O_WS     = 1u << 2,
	FZ_O_TS     = 1u << 3,
	FZ_O_SACKOK = 1u << 4,
};
enum {
	FZ_S_NO_TS   = 1u << 0, /* omit the timestamp option */
	FZ_S_OLD_TS  = 1u << 1, /* a timestamp from the past (PAWS) */
	FZ_S_BAD_CSUM = 1u << 2,
	/* a SACK option: 1 + bits 4..5 blocks (3 at most next to a
	 * timestamp), block i = [ack + (2i+1)·b, ack + (2i+2)·b) with
	 * b = 1 + window % 1500; bit 6: the first block as a D-SACK
	 * [ack - b, ack) instead */
	FZ_S_SACK     = 1u << 3,
};
#define FZ_CONNS 4
#define FZ_PPORT0 50000
#define FZ_LPORT0 2000
#define FZ_APORT 8080

/* Byte @off of the stream of connection @c, direction @dir (0: the stack
 * sends it, 1: the peer does). Not periodic in 256 or 65536. */
static inline uint8_t fz_pat(unsigned c, unsigned dir, uint32_t off)
{
	uint32_t x = off * 2654435761u + c * 97u + dir * 0x5bd1e995u;
	return (uint8_t)(x >> 24 ^ off);
}

static const uint8_t fz_us_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t fz_peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

static inline uint16_t fz_csum(const uint8_t *b, uint32_t len, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The IPv4 pseudo-header sum of @ip for an L4 length @l4len. */
static inline uint32_t fz_pseudo(const uint8_t *ip, uint32_t l4len)
{
	return (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
	       (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + ip[9] + l4len;
}

/* Recompute checksums in a frame, trusting only what lies inside @len. */
static inline void fz_fix_checksums(uint8_t *f, uint32_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return;
	uint8_t *ip = f + 14;
	uint32_t ihl = (ip[0] & 0xf) * 4u;
	if (ihl < 20 || 14 + ihl > len)
		return;
	ip[10] = ip[11] = 0;
	uint16_t c = fz_csum(ip, ihl, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint32_t tot = (uint32_t)(ip[2] << 8 | ip[3]);
	if (tot < ihl || 14 + tot > len)
		return;
	if ((ip[6] & 0x3f) || ip[7])
		return; /* fragments: the L4 checksum spans pieces */
	uint8_t *l4 = ip + ihl;
	uint32_t l4len = tot - ihl;
	uint32_t ps = fz_pseudo(ip, l4len);
	uint32_t off;
	if (ip[9] == 6 && l4len >= 20)
		off = 16;
	else if (ip[9] == 17 && l4len >= 8)
		off = 6;
	else if (ip[9] == 1 && l4len >= 4) {
		off = 2;
		ps = 0;
	} else
		return;
	l4[off] = l4[off + 1] = 0;
	c = fz_csum(l4, l4len, ps);
	if (ip[9] == 17 && c == 0)
		c = 0xffff;
	l4[off] = (uint8_t)(c >> 8);
	l4[off + 1] = (uint8_t)c;
}

#endif
