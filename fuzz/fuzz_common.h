/* Shared by the fuzz target and the corpus generator.
 *
 * Input format: a sequence of records
 *     u16 length (little endian) | u8 control | frame bytes
 * control bit 0: recompute IPv4/TCP/UDP/ICMP checksums before injecting,
 *                so mutations reach past checksum checks;
 * control bits 4..7: advance the clock by 2^(bits) ms before the frame,
 *                so timers (retransmission, TIME_WAIT, ARP, reassembly) run.
 * The stack under test is 198.18.0.2 with a listener on TCP 80, a UDP socket
 * on 53 and an active connection from port 1025 to 198.18.0.1:80. */
#ifndef KAON_FUZZ_COMMON_H
#define KAON_FUZZ_COMMON_H

#include <stdint.h>
#include <string.h>

#define FZ_US_IP 0xc6120002u   /* 198.18.0.2 */
#define FZ_PEER_IP 0xc6120001u /* 198.18.0.1 */
#define FZ_CTL_FIXCSUM 0x01

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
	uint32_t ps = (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
		      (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + ip[9] + l4len;
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
