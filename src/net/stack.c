/* One stack instance: configuration, the poll pass, timers, events, tx. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

static const char *const drop_names[] = {
#define KN_DROP_NAME(n, s) #n,
	KN_DROP_REASONS(KN_DROP_NAME)
#undef KN_DROP_NAME
};

static const char *const drop_descs[] = {
#define KN_DROP_DESC(n, s) s,
	KN_DROP_REASONS(KN_DROP_DESC)
#undef KN_DROP_DESC
};

const char *kn_drop_name(enum kn_drop_reason r)
{
	return (unsigned)r < KN_DROP_MAX ? drop_names[r] : "?";
}

const char *kn_drop_desc(enum kn_drop_reason r)
{
	return (unsigned)r < KN_DROP_MAX ? drop_descs[r] : "?";
}

void kn_stack_conf_default(struct kn_stack_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->arp_entries = 64;
	c->arp_timeout_ns = 20 * 60 * 1000000000LL;
	c->arp_queue = 8;
	c->neigh_retry_ns = 10 * 1000000LL;
	c->neigh_tries = 100;
	c->frag_max_bytes = 4u << 20;
	c->frag_max_datagrams = 256;
	c->frag_timeout_ns = 30 * 1000000000LL;
	c->udp_rcvq = 256;
	c->udp_rcvbuf = 256 * 1024;
	c->eph_port_lo = 49152;   /* RFC 6335 §6 dynamic ports */
	c->eph_port_hi = 65535;
	c->frag_max_per_src = 16;
	c->arp_max_requests = 100;
	struct kn_tcp_conf *t = &c->tcp;
	t->sndbuf = 256 * 1024;
	t->rcvbuf = 256 * 1024;
	t->syn_backlog = 1024;
	t->syncookies = true;
	t->max_tcbs = 4096;
	t->ooo_max = 64;
	t->delack_ns = 40 * 1000000LL;
	t->rto_init_ns = 1000 * 1000000LL;      /* RFC 6298 §2.1 */
	t->rto_min_ns = 200 * 1000000LL;       /* below RFC 6298's 1 s, as Linux */
	t->rto_max_ns = 60 * 1000000000LL;
	t->time_wait_ns = 60 * 1000000000LL;   /* 2 * MSL with MSL = 30 s */
	t->max_retries = 12;
	t->syn_retries = 6;
	t->keepidle_ns = 7200 * 1000000000LL;
	t->keepintvl_ns = 75 * 1000000000LL;
	t->keepcnt = 9;
	t->nagle = false;
	t->timestamps = true;
	t->wscale = true;
	t->sack = true;
	t->cc = KN_TCP_CC_CUBIC;
	t->challenge_ack_limit = 1000;
	t->invalid_ratelimit_ns = 500 * 1000000LL;
}

/* What the stack itself may hold outside the queues at any moment: the tx
 * batch (a header and up to two clones per frame), one rx burst being
 * processed, the buffers kept for reuse, and slack for ARP, ICMP and RSTs
 * built on the way. */
#define KN_STACK_OWN_MBUFS (3u * KN_TX_BATCH + KN_RX_BURST + KN_RECYCLE_MAX + 32u)

int kn_stack_mem_budget(const struct kn_stack_conf *c, uint32_t pool_size, uint32_t *rcv,
			uint32_t *snd, uint32_t *need)
{
	uint32_t reserve = (c->mem_reserve ? c->mem_reserve : pool_size / 4) + KN_STACK_OWN_MBUFS;
	uint32_t avail = pool_size > reserve ? pool_size - reserve : 0;
	uint32_t r = c->rcv_mem_mbufs, w = c->snd_mem_mbufs;
	/* Half each by default: receive memory is freed by the application
	 * reading, send memory by the peer's ACKs, and neither side's progress
	 * depends on the other's memory, so any split is free of deadlock; an
	 * echo or a proxy moves as many bytes in as out, hence half. */
	if (!r && !w)
		r = w = avail / 2;
	else if (!r)
		r = avail > w ? avail - w : 0;
	else if (!w)
		w = avail > r ? avail - r : 0;
	*rcv = r;
	*snd = w;
	*need = reserve + RTE_MAX(r, (uint32_t)KN_MEM_MIN_MBUFS) + RTE_MAX(w, (uint32_t)KN_MEM_MIN_MBUFS);
	if (c->rcv_mem_mbufs == 0 && c->snd_mem_mbufs == 0)
		*need = reserve + 2u * KN_MEM_MIN_MBUFS;
	return pool_size >= *need && r >= KN_MEM_MIN_MBUFS && w >= KN_MEM_MIN_MBUFS ? 0 : -ENOSPC;
}

/* Send memory fell to the low-water mark: every socket that waited for it
 * may try again (those that lose the race wait again). */
void kn_mem_wake(struct kn_stack *s)
{
	struct kn_evsrc *e;
	while ((e = TAILQ_FIRST(&s->mem_waiters)) != NULL) {
		TAILQ_REMOVE(&s->mem_waiters, e, mem_link);
		e->mem_wait = false;
		kn_ev_raise(s, e, KN_EV_WRITABLE);
	}
}

struct kn_stack *kn_stack_create(const struct kn_stack_conf *c, struct kn_dev *dev,
				 struct rte_mempool *pool, int64_t now, int *err)
{
	if (!c || !dev || !pool || !dev->ops || c->ip == 0 || c->tcp.rcvbuf == 0 ||
	    c->tcp.sndbuf == 0 || c->tcp.cc > KN_TCP_CC_NEWRENO) {
		*err = -EINVAL;
		return NULL;
	}
	uint32_t rcv_mem, snd_mem, need;
	if (kn_stack_mem_budget(c, pool->size, &rcv_mem, &snd_mem, &need) != 0) {
		*err = -ENOSPC;
		return NULL;
	}
	struct kn_stack *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	s->conf = *c;
	/* Bounds of the counters that hold these (tcp.h): keep_probes is a
	 * uint8_t, ooo_n a uint16_t; past them a probe count would wrap and
	 * never reach keepcnt, an out-of-order index would wrap. */
	if (s->conf.tcp.keepcnt > KN_TCP_KEEPCNT_MAX)
		s->conf.tcp.keepcnt = KN_TCP_KEEPCNT_MAX;
	if (s->conf.tcp.ooo_max > KN_TCP_OOO_MAX)
		s->conf.tcp.ooo_max = KN_TCP_OOO_MAX;
	s->st.mem_rcv_limit = rcv_mem;
	s->st.mem_snd_limit = snd_mem;
	s->rcv_soft = rcv_mem - rcv_mem / 8;
	s->rcv_burst_cap = c->rx_burst_frames ? c->rx_burst_frames * 3u / 4u : UINT32_MAX;
	/* No subnet broadcast on /31 and /32 (RFC 3021); 0 is refused as a
	 * source anyway (0/8). */
	s->src_bcast = ~c->netmask > 1 ? (c->ip & c->netmask) | ~c->netmask : 0;
	s->snd_lowat = snd_mem - RTE_MAX(snd_mem / 4, 1u);
	TAILQ_INIT(&s->mem_waiters);
	s->dev = dev;
	s->pool = pool;
	s->now = now;
	s->timer_next = INT64_MAX;
	memcpy(s->mac, dev->mac, 6);
	s->mtu = c->mtu ? c->mtu : dev->mtu;
	if (s->mtu == 0 || s->mtu > dev->mtu)
		s->mtu = dev->mtu;
	if (!(dev->offloads & KN_DEV_TX_MULTI_SEG)) {
		/* Every frame must be one mbuf: the IP packet, built up from its
		 * L4 header at the headroom mark, has to fit the tail room. */
		uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM +
				sizeof(struct kn_ip4_hdr);
		if (s->mtu > room)
			s->mtu = (uint16_t)room;
	}
	if (s->mtu < 576)
		s->mtu = 576;
	s->ip_payload_max = s->mtu - (uint32_t)sizeof(struct kn_ip4_hdr);
	s->frame_max = s->mtu + (uint32_t)sizeof(struct kn_eth_hdr);
	TAILQ_INIT(&s->events);
	LIST_INIT(&s->udps);
	/* Every secret from getrandom(2) (or derived from isn_secret, for
	 * tests); nothing that leaves the stack is a plain function of
	 * another: ports, IP IDs and TSvals each have their own key. */
	if (kn_secrets_init(&s->sec, c->isn_secret) != 0) {
		free(s);
		*err = -EAGAIN;
		return NULL;
	}
	for (unsigned i = 0; i < KN_IPID_BUCKETS; i++)
		s->ipid[i].id = (uint16_t)kn_rand(s);
	for (unsigned i = 0; i < KN_EPH_TABLE; i++)
		s->eph_perturb[i] = (uint32_t)kn_rand(s);
	s->challenge_window = now - 1000000000LL;
	if (kn_arp_init(s) != 0 || kn_frag_init(s) != 0 || kn_tcp_init(s) != 0) {
		kn_stack_destroy(s);
		*err = -ENOMEM;
		return NULL;
	}
	kn_arp_announce(s);
	*err = 0;
	return s;
}

/* The buffers kept for reuse (kn_free) back to the pool. */
static void recycle_flush(struct kn_stack *s)
{
	while (s->nrecycle)
		rte_pktmbuf_free(s->recycle[--s->nrecycle]);
}

void kn_stack_destroy(struct kn_stack *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->ntx; i++)
		rte_pktmbuf_free(s->tx[i]);
	s->ntx = 0;
	recycle_flush(s);
	kn_udp_fini(s);
	if (s->tcb_hash)
		kn_tcp_fini(s);
	kn_frag_fini(s);
	kn_arp_fini(s);
	free(s);
}

/* Deliver pending events. A callback may close sockets, including ones
 * further down the list: each entry is unlinked before its callback. */
static void dispatch_events(struct kn_stack *s)
{
	struct kn_evsrc *e;
	while ((e = TAILQ_FIRST(&s->events)) != NULL) {
		TAILQ_REMOVE(&s->events, e, link);
		unsigned ev = e->pending;
		e->pending = 0;
		if (s->conf.event)
			s->conf.event(e->user, ev, (ev & KN_EV_CLOSED) ? e->err : 0);
	}
}

void kn_stack_timers(struct kn_stack *s, int64_t now)
{
	s->now = now;
	if (now >= s->timer_next) {
		s->timer_next = INT64_MAX;
		kn_arp_timer(s);
		kn_frag_timer(s);
		kn_tcp_timers(s);
	}
	dispatch_events(s);
}

void kn_stack_input(struct kn_stack *s, struct rte_mbuf *m, int64_t now)
{
	s->now = now;
	kn_eth_input(s, m);
	dispatch_events(s);
}

unsigned kn_stack_flush(struct kn_stack *s)
{
	unsigned n = s->ntx;
	if (n == 0)
		return 0;
	uint16_t sent = s->dev->ops->tx_burst(s->dev, s->tx, (uint16_t)n);
	/* What the device did not take stays queued for the next flush. */
	if (sent < n)
		memmove(&s->tx[0], &s->tx[sent], (n - sent) * sizeof(s->tx[0]));
	s->ntx = n - sent;
	return sent;
}

int kn_stack_poll(struct kn_stack *s, int64_t now)
{
	struct rte_mbuf *pkts[KN_RX_BURST];
	s->now = now;
	uint16_t n = s->dev->ops->rx_burst(s->dev, pkts, KN_RX_BURST);
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		kn_eth_input(s, pkts[i]);
	}
	/* Waiters whose allocation failed below the limit (the pool, not the
	 * budget, ran dry) are woken here, as no release may come. */
	if (KN_UNLIKELY(!TAILQ_EMPTY(&s->mem_waiters)) && s->st.mem_snd_used <= s->snd_lowat)
		kn_mem_wake(s);
	kn_stack_timers(s, now);
	kn_stack_flush(s);
	/* A pass that received nothing: the stack is idle, and the buffers it
	 * kept for reuse go back to the pool, so that an idle stack holds no
	 * more than its queues do (what test_overload checks as drained). */
	if (KN_UNLIKELY(n == 0) && s->nrecycle)
		recycle_flush(s);
	return n;
}

int kn_stack_dump_stats(const struct kn_stack *s, FILE *f)
{
	int n = 0;
#define KN_STATS_PRINT(name)                                                          \
	if (s->st.name) {                                                             \
		fprintf(f, "%s %llu\n", #name, (unsigned long long)s->st.name);       \
		n++;                                                                  \
	}
	KN_STATS(KN_STATS_PRINT)
#undef KN_STATS_PRINT
	for (int r = 1; r < KN_DROP_MAX; r++) {
		if (s->st.drops[r]) {
			fprintf(f, "drop_%s %llu\n", drop_names[r], (unsigned long long)s->st.drops[r]);
			n++;
		}
	}
	return n;
}

int64_t kn_stack_next_timer(const struct kn_stack *s)
{
	return s->timer_next;
}

const struct kn_stats *kn_stack_stats(const struct kn_stack *s)
{
	return &s->st;
}

unsigned kn_stack_tcb_count(const struct kn_stack *s)
{
	return s->ntcb;
}
