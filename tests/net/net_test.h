/* Helpers for the net/ tests: EAL and pool set-up, a capture device that
 * records what a stack sends, frame builders and a segment parser. */
#ifndef KAON_NET_TEST_H
#define KAON_NET_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <rte_mbuf.h>

#include <kaon/net.h>
#include <kaon/net_loop.h>

#define KT_MS 1000000LL
#define KT_SEC 1000000000LL
#define KT_IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define KT_US_IP KT_IP(198, 18, 0, 2)
#define KT_PEER_IP KT_IP(198, 18, 0, 1)

extern struct rte_mempool *kt_pool;
extern const uint8_t kt_us_mac[6];
extern const uint8_t kt_peer_mac[6];

/* Init the EAL (unique file prefix) and a pool of @n mbufs without cache.
 * @return 0, or 77 (skip) if the EAL cannot start here. */
int kt_eal_init(const char *name, unsigned n);
void kt_eal_fini(void);
/* Pool count is back to full: no mbuf leaked. */
void kt_assert_no_leak(void);

/* A device that records transmitted frames and never receives. */
#define KT_CAP_MAX 512
struct kt_cap {
	struct kn_dev dev;
	struct rte_mbuf *out[KT_CAP_MAX];
	unsigned n;
};
void kt_cap_init(struct kt_cap *c, uint32_t offloads);
void kt_cap_clear(struct kt_cap *c);
/* Remove and return the first captured frame (NULL if none). */
struct rte_mbuf *kt_cap_take(struct kt_cap *c);

/* A stack on a capture device with a static ARP entry for the peer. */
struct kn_stack *kt_stack(struct kt_cap *cap, struct kn_stack_conf *conf, int64_t now);
void kt_conf(struct kn_stack_conf *c, uint32_t ip);

/* Event log. */
struct kt_ev {
	unsigned events;
	int err;
	unsigned count;
};
void kt_event_cb(void *user, unsigned events, int err);

/* Frame builders: valid headers and checksums. */
struct kt_tcp {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	uint8_t optlen;
	const void *data;
	uint32_t len;
};
struct rte_mbuf *kt_tcp_frame(const struct kt_tcp *t);
struct rte_mbuf *kt_udp_frame(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			      const void *data, uint32_t len);
struct rte_mbuf *kt_icmp_echo_frame(uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
				    const void *data, uint32_t len);
struct rte_mbuf *kt_arp_frame(uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
			      uint32_t tpa, const uint8_t *eth_dst);
/* Raw IPv4 packet with given header fields (payload copied as is). */
struct rte_mbuf *kt_ip_frame(uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
			     uint16_t frag, const void *payload, uint32_t len);
/* Copy @m into one flat buffer. @return length. */
uint32_t kt_flatten(const struct rte_mbuf *m, uint8_t *buf, uint32_t cap);
/* Rebuild a frame from bytes. */
struct rte_mbuf *kt_frame_from(const uint8_t *buf, uint32_t len);

/* A parsed TCP segment as the stack sent it. */
struct kt_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint32_t len;
	uint8_t data[2048];
	bool has_mss, has_ws, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	bool has_sackok;
	unsigned nsack;                /* SACK blocks, in the order sent */
	uint32_t sack[4][2];           /* start, end */
	bool csum_ok;
};
/* Parse a captured frame; frees it. @return true if it was TCP. */
bool kt_parse_tcp(struct rte_mbuf *m, struct kt_seg *s);

uint64_t kt_drops(const struct kn_stack *s, enum kn_drop_reason r);

#endif
