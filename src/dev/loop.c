/* The in-memory link (see kaon/net_loop.h). Each direction holds frames
 * keyed by delivery time (then by send order, so equal times keep FIFO
 * order): a ring for frames that arrive in time order (the common case,
 * O(1)) and a min-heap for the ones that overtake (jitter, reordering).
 * Impairments come from one xorshift generator per link. */
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <kaon/net_loop.h>

struct qent {
	int64_t at;
	uint64_t order;
	struct rte_mbuf *m;
};

struct dir {
	struct qent *heap;
	uint32_t n, cap;
	struct qent *ring;          /* in time order */
	uint32_t rhead, rn;
	uint64_t order;
	struct kn_loop_stats st;
};

struct kn_loop {
	struct kn_loop_conf c;
	bool plain;             /* no impairment: every frame in send order, as sent */
	struct rte_mempool *pool;
	uint64_t rng;
	int64_t now;
	struct kn_dev dev[2];
	struct dir dir[2];      /* dir[i]: frames sent by side i */
};

static uint64_t rnd(struct kn_loop *l)
{
	uint64_t x = l->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	l->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static bool chance(struct kn_loop *l, uint32_t ppm)
{
	return ppm && (rnd(l) % 1000000) < ppm;
}

static bool qless(const struct qent *a, const struct qent *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct dir *d, struct qent e)
{
	uint32_t i = d->n++;
	while (i) {
		uint32_t p = (i - 1) / 2;
		if (!qless(&e, &d->heap[p]))
			break;
		d->heap[i] = d->heap[p];
		i = p;
	}
	d->heap[i] = e;
}

static struct qent heap_pop(struct dir *d)
{
	struct qent top = d->heap[0];
	struct qent last = d->heap[--d->n];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= d->n)
			break;
		if (c + 1 < d->n && qless(&d->heap[c + 1], &d->heap[c]))
			c++;
		if (!qless(&d->heap[c], &last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->n)
		d->heap[i] = last;
	return top;
}

static void enqueue(struct kn_loop *l, struct dir *d, struct rte_mbuf *m, bool reorder)
{
	int64_t at = l->now + l->c.delay_ns;
	if (l->c.jitter_ns > 0)
		at += (int64_t)(rnd(l) % (uint64_t)(l->c.jitter_ns + 1));
	if (reorder)
		at += l->c.reorder_ns;
	struct qent e = {.at = at, .order = d->order++, .m = m};
	if (d->rn == 0 || d->ring[(d->rhead + d->rn - 1) % d->cap].at <= at) {
		d->ring[(d->rhead + d->rn) % d->cap] = e;
		d->rn++;
	} else {
		heap_push(d, e);
	}
}

/* The earliest frame of @d, or NULL. */
static struct qent *peek(struct dir *d)
{
	struct qent *r = d->rn ? &d->ring[d->rhead] : NULL;
	struct qent *h = d->n ? &d->heap[0] : NULL;
	if (!r)
		return h;
	if (!h)
		return r;
	return qless(h, r) ? h : r;
}

static struct rte_mbuf *pop(struct dir *d)
{
	struct qent *e = peek(d);
	if (e == &d->heap[0] && d->n)
		return heap_pop(d).m;
	d->rhead = (d->rhead + 1) % d->cap;
	d->rn--;
	return e->m;
}

/* loop_tx of a plain link (stack-loop's, most tests'): straight onto the
 * ring, which keeps time order unless the clock went back (then the heap).
 * Every frame of the burst is due at the same time, so the room and the
 * ring's order are checked once a burst, and the ring's indices live in
 * registers (stores into the mbufs would otherwise make the compiler
 * reload them per frame): stack-loop counts the link as part of each
 * request, ~40 instructions a frame before. */
static uint16_t plain_tx(struct kn_loop *l, struct dir *d, struct rte_mbuf **pkts, uint16_t n)
{
	int64_t at = l->now + l->c.delay_ns;
	uint32_t cap = d->cap, rn = d->rn, tail = d->rhead + rn;
	if (tail >= cap)
		tail -= cap;
	if (rn && d->ring[tail ? tail - 1 : cap - 1].at > at) {
		/* The clock went back: the general way, frame by frame. */
		uint16_t i;
		for (i = 0; i < n; i++) {
			if (d->n + d->rn + 2 > d->cap) {
				d->st.overflow++;
				break;
			}
			d->st.tx++;
			pkts[i]->packet_type = 0;
			enqueue(l, d, pkts[i], false);
		}
		return i;
	}
	/* Frames past the room overflow, as loop_tx counts them: a frame goes
	 * while the queues hold at most cap - 2 before it. */
	uint32_t used = d->n + rn + 1, room = used < cap ? cap - used : 0;
	uint16_t take = room < n ? (uint16_t)room : n;
	struct qent *ring = d->ring;
	uint64_t order = d->order;
	for (uint16_t i = 0; i < take; i++) {
		struct rte_mbuf *m = pkts[i];
		m->packet_type = 0;
		ring[tail] = (struct qent){.at = at, .order = order++, .m = m};
		if (++tail == cap)
			tail = 0;
	}
	d->order = order;
	d->rn = rn + take;
	d->st.tx += take;
	if (take < n)
		d->st.overflow++;
	return take;
}

static uint16_t loop_tx(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	struct kn_loop *l = dev->priv;
	int side = dev == &l->dev[1];
	struct dir *d = &l->dir[side];
	if (l->plain)
		return plain_tx(l, d, pkts, n);
	uint16_t i;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (d->n + d->rn + 2 > d->cap) {
			d->st.overflow++;
			break;
		}
		d->st.tx++;
		if (chance(l, l->c.loss_ppm)) {
			d->st.lost++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (chance(l, l->c.corrupt_ppm)) {
			/* Never flip bits in place: the buffer may be the
			 * sender's retransmission copy. */
			struct rte_mbuf *c = rte_pktmbuf_copy(m, l->pool, 0, UINT32_MAX);
			rte_pktmbuf_free(m);
			if (!c)
				continue;
			uint32_t bit = (uint32_t)(rnd(l) % ((uint64_t)c->pkt_len * 8));
			struct rte_mbuf *seg = c;
			uint32_t off = bit / 8;
			while (off >= seg->data_len) {
				off -= seg->data_len;
				seg = seg->next;
			}
			rte_pktmbuf_mtod(seg, uint8_t *)[off] ^= (uint8_t)(1u << (bit % 8));
			c->ol_flags = 0;
			c->packet_type = 1; /* mark: corrupted, no checksum offload */
			m = c;
			d->st.corrupted++;
		} else {
			m->packet_type = 0;
		}
		if (chance(l, l->c.dup_ppm)) {
			struct rte_mbuf *c = rte_pktmbuf_copy(m, l->pool, 0, UINT32_MAX);
			if (c) {
				c->packet_type = m->packet_type;
				d->st.duplicated++;
				enqueue(l, d, c, false);
			}
		}
		bool reorder = chance(l, l->c.reorder_ppm);
		if (reorder)
			d->st.reordered++;
		enqueue(l, d, m, reorder);
	}
	return i;
}

static uint16_t loop_rx(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	struct kn_loop *l = dev->priv;
	int side = dev == &l->dev[1];
	struct dir *d = &l->dir[!side];
	uint16_t got = 0;
	uint64_t ok = l->c.offload ? RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD : 0;
	if (l->plain && d->n == 0) {
		/* Nothing overtook: the ring alone, in order (its indices in
		 * registers, as in plain_tx). */
		const struct qent *ring = d->ring;
		uint32_t head = d->rhead, rn = d->rn, cap = d->cap;
		int64_t now = l->now;
		while (got < n && rn && ring[head].at <= now) {
			struct rte_mbuf *m = ring[head].m;
			if (++head == cap)
				head = 0;
			rn--;
			m->packet_type = 0;
			m->ol_flags = ok;
			pkts[got++] = m;
		}
		d->rhead = head;
		d->rn = rn;
		d->st.delivered += got;
		return got;
	}
	struct qent *e;
	while (got < n && (e = peek(d)) != NULL && e->at <= l->now) {
		struct rte_mbuf *m = pop(d);
		bool corrupted = m->packet_type == 1;
		m->packet_type = 0;
		m->ol_flags = 0;
		if (l->c.offload && !corrupted)
			m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		d->st.delivered++;
		pkts[got++] = m;
	}
	return got;
}

static const struct kn_dev_ops loop_ops = {
	.rx_burst = loop_rx,
	.tx_burst = loop_tx,
};

struct kn_loop *kn_loop_create(const struct kn_loop_conf *c, struct rte_mempool *pool)
{
	struct kn_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->c = *c;
	l->plain = !c->loss_ppm && !c->dup_ppm && !c->reorder_ppm && !c->corrupt_ppm &&
		   c->jitter_ns <= 0;
	l->pool = pool;
	l->rng = c->seed ? c->seed : 0x9e3779b97f4a7c15ULL;
	uint32_t cap = c->queue_max ? c->queue_max : 4096;
	for (int i = 0; i < 2; i++) {
		l->dir[i].cap = cap;
		l->dir[i].heap = calloc(cap, sizeof(struct qent));
		l->dir[i].ring = calloc(cap, sizeof(struct qent));
		if (!l->dir[i].heap || !l->dir[i].ring) {
			kn_loop_destroy(l);
			return NULL;
		}
		struct kn_dev *d = &l->dev[i];
		d->ops = &loop_ops;
		d->priv = l;
		d->mtu = c->mtu ? c->mtu : 1500;
		/* Locally administered MACs 02:6b:61:6f:6e:0i. */
		uint8_t mac[6] = {0x02, 0x6b, 0x61, 0x6f, 0x6e, (uint8_t)(i + 1)};
		memcpy(d->mac, mac, 6);
		d->offloads = KN_DEV_TX_MULTI_SEG;
		if (c->offload)
			d->offloads |= KN_DEV_TX_IP_CKSUM | KN_DEV_TX_L4_CKSUM | KN_DEV_RX_CKSUM;
	}
	return l;
}

void kn_loop_destroy(struct kn_loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < 2; i++) {
		struct dir *d = &l->dir[i];
		for (uint32_t j = 0; j < d->n; j++)
			rte_pktmbuf_free(d->heap[j].m);
		for (uint32_t j = 0; j < d->rn; j++)
			rte_pktmbuf_free(d->ring[(d->rhead + j) % d->cap].m);
		free(d->heap);
		free(d->ring);
	}
	free(l);
}

struct kn_dev *kn_loop_dev(struct kn_loop *l, int side)
{
	return &l->dev[side ? 1 : 0];
}

void kn_loop_set_now(struct kn_loop *l, int64_t now)
{
	l->now = now;
}

int64_t kn_loop_next_delivery(const struct kn_loop *l)
{
	int64_t t = INT64_MAX;
	for (int i = 0; i < 2; i++) {
		struct qent *e = peek((struct dir *)&l->dir[i]);
		if (e && e->at < t)
			t = e->at;
	}
	return t;
}

unsigned kn_loop_in_flight(const struct kn_loop *l)
{
	return l->dir[0].n + l->dir[0].rn + l->dir[1].n + l->dir[1].rn;
}

const struct kn_loop_stats *kn_loop_stats(const struct kn_loop *l, int side)
{
	return &l->dir[side ? 1 : 0].st;
}
