/* Internal state of one stack instance, shared by the files of net/. */
#ifndef KN_NET_INT_H
#define KN_NET_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_mbuf.h>

#include <kaon/net.h>
#include "timer_wheel.h"
#include "wire.h"
#include "secret.h"

#define KN_TX_BATCH 32
#define KN_EPH_TABLE 256      /* RFC 6056 algorithm 4: TABLE_LENGTH */
#define KN_IPID_BUCKETS 2048  /* IPv4 ID counters, keyed by destination */
#define KN_ICMP_BUCKETS 64    /* ICMP error rate limit, by destination */
#define KN_RX_BURST 32
/* Buffers a stack keeps from what it frees for what it allocates next
 * (kn_free, kn_alloc): the payload mbuf a read empties or the pure ACK
 * consumed becomes the next segment's header, without a trip through the
 * mempool. Counted in the stack's own mbufs (stack.c). */
#define KN_RECYCLE_MAX 8
/* Headroom a frame needs below its TCP header: Ethernet + IPv4. */
#define KN_L2L3_LEN (sizeof(struct kn_eth_hdr) + sizeof(struct kn_ip4_hdr))

#define KN_LIKELY(x) __builtin_expect(!!(x), 1)
#define KN_UNLIKELY(x) __builtin_expect(!!(x), 0)

struct kn_tcb;
struct kn_udp;

/* Per-socket event state, embedded in TCBs and UDP sockets. */
struct kn_evsrc {
	TAILQ_ENTRY(kn_evsrc) link;
	TAILQ_ENTRY(kn_evsrc) mem_link; /* on the stack's send-memory wait list */
	void *user;
	unsigned pending;  /* KN_EV_* waiting to be delivered */
	int err;           /* error delivered with KN_EV_CLOSED */
	bool mem_wait;     /* on mem_link: KN_EV_WRITABLE when send memory frees */
};
TAILQ_HEAD(kn_evlist, kn_evsrc);

enum kn_arp_state { KN_ARP_FREE, KN_ARP_INCOMPLETE, KN_ARP_RESOLVED, KN_ARP_STATIC };

struct kn_arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t state;
	uint8_t tries;
	uint16_t nq;
	int64_t expire;      /* RESOLVED: when it ages out; INCOMPLETE: next retry */
	int64_t used;        /* last packet sent through it, else when it was made */
	struct rte_mbuf **q; /* packets waiting on resolution */
};

struct kn_frag_table;
LIST_HEAD(kn_tcb_list, kn_tcb);
LIST_HEAD(kn_udp_list, kn_udp);
TAILQ_HEAD(kn_tcb_tailq, kn_tcb);

struct kn_stack {
	struct kn_stack_conf conf;
	struct kn_dev *dev;
	struct rte_mempool *pool;
	int64_t now;
	uint16_t mtu;
	uint8_t mac[6];
	struct kn_stats st;

	/* tx batch */
	struct rte_mbuf *tx[KN_TX_BATCH];
	unsigned ntx;
	/* freed buffers kept for kn_alloc (KN_RECYCLE_MAX) */
	struct rte_mbuf *recycle[KN_RECYCLE_MAX];
	unsigned nrecycle;

	/* ARP */
	struct kn_arp_entry *arp;
	unsigned arp_last;   /* index of the last hit, a one-entry cache */
	int64_t arp_req_window;  /* ARP request rate limit, per second */
	uint32_t arp_req_count;

	/* IPv4 reassembly */
	struct kn_frag_table *frag;
	unsigned nfrags;
	uint32_t frag_bytes;  /* buffer bytes held, charged in ip4_frag.c only */

	/* TCP */
	struct kn_tcb_list *tcb_hash;
	uint32_t tcb_hash_mask;
	struct kn_tcb_list listeners;
	struct kn_tcb_tailq all;       /* every TCB, for teardown */
	unsigned ntcb;
	int64_t timer_next;            /* earliest deadline known to be armed */
	struct kn_twheel tcp_wheel;    /* TCBs with a timer armed (tcp_timer.c) */
	int64_t challenge_window;      /* RFC 5961 global budget, per second */
	uint32_t challenge_left;       /* ... randomized each second */

	/* Secrets and what is chosen with them (secret.c) */
	struct kn_secrets sec;
	uint32_t eph_perturb[KN_EPH_TABLE];   /* RFC 6056 algorithm 4 table */
	struct kn_ipid_bucket {
		uint16_t id;
		uint32_t last_ms;
	} ipid[KN_IPID_BUCKETS];

	/* ICMP error rate limit: token buckets (credit in ns), one global and
	 * one per hashed destination */
	int64_t icmp_last, icmp_credit;
	struct kn_icmp_bucket {
		int64_t last, credit;
	} icmp_rl[KN_ICMP_BUCKETS];

	/* UDP */
	struct kn_udp_list udps;

	/* events */
	struct kn_evlist events;

	/* Fixed at creation, from conf: what the per-packet paths would
	 * otherwise compute every time. */
	uint32_t src_bcast;            /* our subnet's broadcast; 0 on /31, /32 */
	uint32_t ip_payload_max;       /* mtu - IPv4 header */
	uint32_t frame_max;            /* mtu + Ethernet header */
	uint32_t rcv_burst_cap;        /* rx_burst_frames * 3 / 4, or UINT32_MAX */

	/* The buffer budget, in mbufs; the gauges live in st.mem_*. */
	uint32_t rcv_soft;             /* receive: windows are computed against this */
	uint32_t snd_lowat;            /* wake memory waiters at or below this */
	struct kn_evlist mem_waiters;  /* sockets waiting for send memory */
};

static inline void kn_drop(struct kn_stack *s, struct rte_mbuf *m, enum kn_drop_reason r)
{
	s->st.drops[r]++;
	rte_pktmbuf_free(m);
}

static inline void kn_ev_raise(struct kn_stack *s, struct kn_evsrc *e, unsigned ev)
{
	if (e->pending == 0)
		TAILQ_INSERT_TAIL(&s->events, e, link);
	e->pending |= ev;
}

static inline void kn_ev_cancel(struct kn_stack *s, struct kn_evsrc *e)
{
	if (e->pending)
		TAILQ_REMOVE(&s->events, e, link);
	e->pending = 0;
	if (e->mem_wait) {
		TAILQ_REMOVE(&s->mem_waiters, e, mem_link);
		e->mem_wait = false;
	}
}

/*
 * The buffer budget (see kn_stack_conf.rcv_mem_mbufs). Every mbuf a queue
 * keeps is charged when it enters the queue and released when it leaves,
 * counted in segments: a 1-byte segment pins a whole buffer.
 *
 * Why: on DPDK 22.11's af_xdp PMD the fill ring is refilled from the same
 * pool, and only from the receive path: af_xdp_rx_zc() first allocates as
 * many mbufs as there are frames waiting in the RX ring
 * (rte_pktmbuf_alloc_bulk, all or nothing) and, when that fails, puts the
 * frames back and returns 0. Nothing else ever refills the fill ring. So
 * once queues hold all but a burst's worth of the pool, no frame is handed
 * up again: not the ACKs that would free send buffers, not the window
 * updates; the kernel drops the rest (imissed), the application waits on
 * sockets that never change, and nothing is ever freed: a stall for good.
 * The limits keep the queues out of the reserve the device, its rings and
 * the pool's per-lcore caches need, so that state cannot be reached.
 */
void kn_mem_wake(struct kn_stack *s);

static inline void kn_mem_rcv_charge(struct kn_stack *s, uint32_t n)
{
	s->st.mem_rcv_used += n;
	if (s->st.mem_rcv_used > s->st.mem_rcv_hiwat)
		s->st.mem_rcv_hiwat = s->st.mem_rcv_used;
}

static inline void kn_mem_rcv_release(struct kn_stack *s, uint32_t n)
{
	s->st.mem_rcv_used -= n;
}

/* May @n more receive mbufs be queued? Windows are computed against the
 * soft limit (7/8 of the budget); what was already promised in a window
 * may use the rest (@promised), so that the one-segment floor every
 * connection keeps, and windows advertised before memory ran short, rarely
 * turn into drops and retransmission timeouts. Queues without a window
 * (UDP, reassembly, ARP) stop at the soft limit. */
static inline bool kn_mem_rcv_room(const struct kn_stack *s, uint32_t n, bool promised)
{
	uint64_t want = s->st.mem_rcv_used + n;
	return want <= (promised ? s->st.mem_rcv_limit : s->rcv_soft);
}

/* Free receive memory under the soft limit, in mbufs. */
static inline uint32_t kn_mem_rcv_free(const struct kn_stack *s)
{
	return s->st.mem_rcv_used < s->rcv_soft ? (uint32_t)(s->rcv_soft - s->st.mem_rcv_used) : 0;
}

static inline bool kn_mem_snd_room(const struct kn_stack *s, uint32_t n)
{
	return s->st.mem_snd_used + n <= s->st.mem_snd_limit;
}

static inline void kn_mem_snd_charge(struct kn_stack *s, uint32_t n)
{
	s->st.mem_snd_used += n;
	if (s->st.mem_snd_used > s->st.mem_snd_hiwat)
		s->st.mem_snd_hiwat = s->st.mem_snd_used;
}

static inline void kn_mem_snd_release(struct kn_stack *s, uint32_t n)
{
	s->st.mem_snd_used -= n;
	if (KN_UNLIKELY(!TAILQ_EMPTY(&s->mem_waiters)) && s->st.mem_snd_used <= s->snd_lowat)
		kn_mem_wake(s);
}

/* Put @e on the send-memory wait list: KN_EV_WRITABLE when memory frees. */
static inline void kn_mem_wait(struct kn_stack *s, struct kn_evsrc *e)
{
	if (!e->mem_wait) {
		e->mem_wait = true;
		TAILQ_INSERT_TAIL(&s->mem_waiters, e, mem_link);
		s->st.tcp_snd_mem_waits++;
	}
}

/* Number of segments in a chain. */
static inline uint32_t kn_mbuf_nsegs(const struct rte_mbuf *m)
{
	uint32_t n = 0;
	for (; m; m = m->next)
		n++;
	return n;
}

static inline void kn_timer_note(struct kn_stack *s, int64_t deadline)
{
	if (deadline < s->timer_next)
		s->timer_next = deadline;
}

/* cksum.c, inet_sum.c */
#include "net/inet_sum.h"
uint32_t kn_cksum_mbuf(uint32_t sum, const struct rte_mbuf *m, uint32_t off, uint32_t len);
static inline uint16_t kn_cksum_fold(uint32_t sum)
{
	sum = (sum >> 16) + (sum & 0xffff);
	sum += sum >> 16;
	return (uint16_t)~sum;
}
/* Pseudo-header sum (addresses as on the wire), not folded to 16 bits. */
static inline uint32_t kn_pseudo_sum(rte_be32_t src, rte_be32_t dst, uint8_t proto, uint16_t len)
{
	uint64_t sum = (uint64_t)src + dst + rte_cpu_to_be_16((uint16_t)proto) + rte_cpu_to_be_16(len);
	sum = (sum >> 32) + (sum & 0xffffffffu);
	sum = (sum >> 16) + (sum & 0xffff);
	sum = (sum >> 16) + (sum & 0xffff);
	return (uint32_t)sum;
}

/* memcpy for @n bytes, inline up to 64 (a request/response message): two
 * overlapping moves of the largest power of two that fits instead of a call
 * into the C library, whose entry and the spills around it cost more than a
 * small copy (stack-loop copies a 64-byte message three times a request). */
#define KN_COPY_INLINE 64   /* kn_copy's largest inline size */

/* kn_copy for @n <= KN_COPY_INLINE: no call at all. */
static inline __attribute__((always_inline)) void kn_copy_small(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *p = src;
	/* The second move overlaps the first where n is no power of two: it
	 * writes those bytes again with the same values (@dst and @src do
	 * not overlap, as for memcpy). */
	if (n >= 32) {
		memcpy(d, p, 32);
		memcpy(d + n - 32, p + n - 32, 32);
	} else if (n >= 16) {
		memcpy(d, p, 16);
		memcpy(d + n - 16, p + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, p, 8);
		memcpy(d + n - 8, p + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, p, 4);
		memcpy(d + n - 4, p + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = p[i];
	}
}

static inline __attribute__((always_inline)) void kn_copy(void *dst, const void *src, size_t n)
{
	if (n > KN_COPY_INLINE)
		memcpy(dst, src, n);
	else
		kn_copy_small(dst, src, n);
}

/* mbuf.c */
int kn_pullup_slow(struct rte_mbuf *m, uint32_t len);
/* Make the first @len bytes contiguous. @return 0 or -1 (too short). */
static inline int kn_pullup(struct rte_mbuf *m, uint32_t len)
{
	if (KN_LIKELY(m->data_len >= len))
		return 0;
	return kn_pullup_slow(m, len);
}
void kn_mbuf_trim_to(struct rte_mbuf *m, uint32_t len);
/* rte_pktmbuf_adj() for @len bytes a kn_pullup() has just made contiguous
 * in the first segment: nothing left to check. */
static inline void kn_adj_pulled(struct rte_mbuf *m, uint16_t len)
{
	m->data_off = (uint16_t)(m->data_off + len);
	m->data_len = (uint16_t)(m->data_len - len);
	m->pkt_len -= len;
}
static inline struct rte_mbuf *kn_alloc(struct kn_stack *s)
{
	if (KN_LIKELY(s->nrecycle)) {
		struct rte_mbuf *m = s->recycle[--s->nrecycle];
		rte_pktmbuf_reset(m);
		return m;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
	if (KN_UNLIKELY(!m))
		s->st.drops[KN_DROP_NO_MBUF]++;
	return m;
}

/* Whether kn_free() would keep @m for reuse (and needs no call). */
static inline bool kn_recyclable(const struct kn_stack *s, const struct rte_mbuf *m)
{
	return s->nrecycle < KN_RECYCLE_MAX && m->next == NULL && m->pool == s->pool &&
	       RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1;
}

/* Free @m (a chain, or one segment already unlinked from its chain):
 * kept for the next kn_alloc if it is one direct, unshared buffer of the
 * stack's pool and there is room, else back to the pool. */
static inline void kn_free(struct kn_stack *s, struct rte_mbuf *m)
{
	if (KN_LIKELY(kn_recyclable(s, m))) {
		s->recycle[s->nrecycle++] = m;
		return;
	}
	rte_pktmbuf_free(m);
}

/* eth.c; output is inline: it runs once per frame sent. */
void kn_eth_input(struct kn_stack *s, struct rte_mbuf *m);

/* Queue a finished frame in the tx batch. */
static inline void kn_tx_enqueue(struct kn_stack *s, struct rte_mbuf *m)
{
	/* The last gate: no frame above the MTU leaves, whoever built it. */
	if (KN_UNLIKELY(m->pkt_len > s->frame_max)) {
		kn_drop(s, m, KN_DROP_TX_TOO_BIG);
		return;
	}
	if (KN_UNLIKELY(s->ntx == KN_TX_BATCH)) {
		kn_stack_flush(s);
		if (s->ntx == KN_TX_BATCH) {
			kn_drop(s, m, KN_DROP_TX_FULL);   /* the device is backed up */
			return;
		}
	}
	s->tx[s->ntx++] = m;
	s->st.eth_tx++;
}

/* Prepend an Ethernet header to @m (which has the headroom) and queue it. */
static inline void kn_eth_output(struct kn_stack *s, struct rte_mbuf *m, const uint8_t *dst,
				 uint16_t type)
{
	struct kn_eth_hdr *eh = (struct kn_eth_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
	if (KN_UNLIKELY(!eh)) {
		kn_drop(s, m, KN_DROP_NO_MBUF);
		return;
	}
	memcpy(eh->dst, dst, KN_ETH_ALEN);
	memcpy(eh->src, s->mac, KN_ETH_ALEN);
	eh->type = rte_cpu_to_be_16(type);
	m->l2_len = sizeof(*eh);
	kn_tx_enqueue(s, m);
}

/* arp.c */
int kn_arp_init(struct kn_stack *s);
void kn_arp_fini(struct kn_stack *s);
void kn_arp_input(struct kn_stack *s, struct rte_mbuf *m);
void kn_arp_resolve_slow(struct kn_stack *s, struct rte_mbuf *m, uint32_t nexthop);
void kn_arp_announce(struct kn_stack *s);
void kn_arp_timer(struct kn_stack *s);

/* Send an IPv4 packet to @nexthop: at once if the last entry used is it. */
static inline void kn_arp_resolve_output(struct kn_stack *s, struct rte_mbuf *m, uint32_t nexthop)
{
	struct kn_arp_entry *e = &s->arp[s->arp_last];
	if (KN_LIKELY(e->ip == nexthop && e->state >= KN_ARP_RESOLVED)) {
		e->used = s->now;   /* for least-recently-used eviction */
		kn_eth_output(s, m, e->mac, KN_ETHERTYPE_IP4);
	} else
		kn_arp_resolve_slow(s, m, nexthop);
}

/* ip4.c */
void kn_ip4_input(struct kn_stack *s, struct rte_mbuf *m);
void kn_ip4_deliver(struct kn_stack *s, struct rte_mbuf *m);
int kn_ip4_output(struct kn_stack *s, struct rte_mbuf *m, uint8_t proto, uint32_t src,
		  uint32_t dst, uint64_t l4_cksum_flags);
/* The same for a TCP segment. */
int kn_ip4_output_tcp(struct kn_stack *s, struct rte_mbuf *m, uint32_t src, uint32_t dst,
		      uint64_t l4_cksum_flags);
/* Next hop for @dst: the connected subnet, else the default gateway.
 * @return 0 or -ENETUNREACH. */
static inline int kn_ip4_route(const struct kn_stack *s, uint32_t dst, uint32_t *nexthop)
{
	if (KN_LIKELY((dst & s->conf.netmask) == (s->conf.ip & s->conf.netmask))) {
		*nexthop = dst;
		return 0;
	}
	if (s->conf.gateway) {
		*nexthop = s->conf.gateway;
		return 0;
	}
	return -ENETUNREACH;
}

/* ip4_frag.c */
struct rte_mbuf *kn_frag_input(struct kn_stack *s, struct rte_mbuf *m);
void kn_frag_timer(struct kn_stack *s);
int kn_frag_init(struct kn_stack *s);
void kn_frag_fini(struct kn_stack *s);

/* icmp.c */
void kn_icmp_input(struct kn_stack *s, struct rte_mbuf *m);
void kn_icmp_send_unreach(struct kn_stack *s, struct rte_mbuf *orig, uint8_t code);

/* udp.c */
void kn_udp_input(struct kn_stack *s, struct rte_mbuf *m);
void kn_udp_fini(struct kn_stack *s);

/* tcp */
int kn_tcp_init(struct kn_stack *s);
void kn_tcp_fini(struct kn_stack *s);
void kn_tcp_input(struct kn_stack *s, struct rte_mbuf *m);
void kn_tcp_ctlinput(struct kn_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
		     const struct kn_ip4_hdr *ip, const uint8_t *l4, uint32_t l4len);
void kn_tcp_timers(struct kn_stack *s);

#endif
