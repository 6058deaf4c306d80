/* The buffer budget: queues can never take the buffers the device needs to
 * receive, tiny segments cannot pin a buffer each, data over budget is
 * dropped and comes again, senders out of memory wait and are woken, UDP
 * reads say how much they copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mempool.h>

#include "net/wire.h"
#include "tcp_harness.h"

#define POOL_N 4096

/* ---- a link end that receives like DPDK 22.11's af_xdp PMD ----------------
 * af_xdp_rx_zc() allocates the fill-ring replacements for a burst before it
 * hands the burst up (rte_pktmbuf_alloc_bulk, all or nothing) and returns 0
 * when the pool cannot supply them: with the pool drained, nothing is ever
 * received again. This wrapper does the same around the in-memory link. */
struct xdpish {
	struct kn_dev dev;
	struct kn_dev *inner;
	uint64_t starved;   /* bursts refused for want of mbufs */
};

static uint16_t xdpish_rx(struct kn_dev *d, struct rte_mbuf **pkts, uint16_t n)
{
	struct xdpish *x = d->priv;
	struct rte_mbuf *fill[64];
	if (n > 64)
		n = 64;
	if (rte_pktmbuf_alloc_bulk(kt_pool, fill, n) != 0) {
		x->starved++;
		return 0;
	}
	rte_pktmbuf_free_bulk(fill, n);
	return x->inner->ops->rx_burst(x->inner, pkts, n);
}

static uint16_t xdpish_tx(struct kn_dev *d, struct rte_mbuf **pkts, uint16_t n)
{
	struct xdpish *x = d->priv;
	return x->inner->ops->tx_burst(x->inner, pkts, n);
}

static const struct kn_dev_ops xdpish_ops = {.rx_burst = xdpish_rx, .tx_burst = xdpish_tx};

static void xdpish_init(struct xdpish *x, struct kn_dev *inner)
{
	memset(x, 0, sizeof(*x));
	x->dev = *inner;
	x->dev.ops = &xdpish_ops;
	x->dev.priv = x;
	x->inner = inner;
}

/* ---- many connections echoing megabytes over a small pool ----------------- */

#define NCONN 32
#define MSG (1u << 20)
#define CHUNK 65536

struct echo_sock {
	struct kt_ev ev;
	struct kn_tcb *t;
	uint64_t tx, rx;          /* client: bytes sent / checked */
	uint32_t plen, poff;      /* server: bytes read, not yet echoed */
	uint8_t buf[CHUNK];
};

static uint8_t byte_at(uint64_t off, unsigned conn)
{
	return (uint8_t)((off * 2654435761u) >> 11 ^ conn);
}

static void test_echo_small_pool(void **st)
{
	(void)st;
	int64_t t = KT_SEC;
	struct kn_loop_conf lc = {.seed = 9, .delay_ns = 20000, .queue_max = 256};
	struct kn_loop *link = kn_loop_create(&lc, kt_pool);
	assert_non_null(link);
	static struct xdpish xa, xb;
	xdpish_init(&xa, kn_loop_dev(link, 0));
	xdpish_init(&xb, kn_loop_dev(link, 1));
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	/* Two stacks share the pool: each gets an explicit budget. What is
	 * left (4096 - 1200) covers the link's 2 x 256 frames in flight (a
	 * header and up to two clones each), both tx batches and a burst. */
	ca.rcv_mem_mbufs = cb.rcv_mem_mbufs = 300;
	ca.snd_mem_mbufs = cb.snd_mem_mbufs = 300;
	ca.tcp.max_retries = cb.tcp.max_retries = 30;
	int err;
	struct kn_stack *a = kn_stack_create(&ca, &xa.dev, kt_pool, t, &err);
	struct kn_stack *b = kn_stack_create(&cb, &xb.dev, kt_pool, t, &err);
	assert_non_null(a);
	assert_non_null(b);
	struct kt_ev lev_ = {0};
	struct kn_tcb *l = kn_tcp_listen(b, 7, 64, &lev_, &err);
	assert_non_null(l);
	static struct echo_sock cs[NCONN], ss[NCONN];
	memset(cs, 0, sizeof(cs));
	memset(ss, 0, sizeof(ss));
	for (unsigned i = 0; i < NCONN; i++) {
		cs[i].t = kn_tcp_connect(a, KT_US_IP, 7, (uint16_t)(3000 + i), &cs[i].ev, &err);
		assert_non_null(cs[i].t);
	}
	unsigned nss = 0, done = 0;
	const int64_t deadline = t + 300 * KT_SEC;
	uint64_t passes = 0;
	while (done < NCONN) {
		assert_true(t < deadline);
		passes++;
		kn_loop_set_now(link, t);
		int moved = kn_stack_poll(a, t) + kn_stack_poll(b, t);
		struct kn_tcb *nt;
		while (nss < NCONN && (nt = kn_tcp_accept(l, &ss[nss].ev)) != NULL)
			ss[nss++].t = nt;
		/* Servers: echo what they read; read no more while an echo waits. */
		for (unsigned i = 0; i < nss; i++) {
			struct echo_sock *k = &ss[i];
			if (k->poff < k->plen) {
				ssize_t w = kn_tcp_send(k->t, k->buf + k->poff, k->plen - k->poff);
				assert_true(w > 0 || w == -EAGAIN);
				if (w > 0) {
					k->poff += (uint32_t)w;
					moved++;
				}
			}
			if (k->poff == k->plen) {
				ssize_t r = kn_tcp_recv(k->t, k->buf, CHUNK);
				assert_true(r > 0 || r == -EAGAIN);
				k->plen = r > 0 ? (uint32_t)r : 0;
				k->poff = 0;
			}
		}
		/* Clients: write the message while reading the echo, check it. */
		for (unsigned i = 0; i < NCONN; i++) {
			struct echo_sock *k = &cs[i];
			if (k->rx == MSG)
				continue;
			if (k->tx < MSG && kn_tcp_get_state(k->t) == KN_TCP_ESTABLISHED) {
				uint32_t n = (uint32_t)RTE_MIN((uint64_t)CHUNK, MSG - k->tx);
				for (uint32_t j = 0; j < n; j++)
					k->buf[j] = byte_at(k->tx + j, i);
				ssize_t w = kn_tcp_send(k->t, k->buf, n);
				assert_true(w > 0 || w == -EAGAIN);
				if (w > 0) {
					k->tx += (uint64_t)w;
					moved++;
				}
			}
			ssize_t r = kn_tcp_recv(k->t, k->buf, CHUNK);
			assert_true(r > 0 || r == -EAGAIN);
			for (ssize_t j = 0; j < r; j++)
				assert_int_equal(k->buf[j], byte_at(k->rx + (uint64_t)j, i));
			if (r > 0) {
				k->rx += (uint64_t)r;
				moved++;
				if (k->rx == MSG)
					done++;
			}
		}
		/* The queues stay within their bounds, and the pool always has
		 * the burst the receive path needs. */
		for (int side = 0; side < 2; side++) {
			const struct kn_stats *s = kn_stack_stats(side ? b : a);
			/* Over the receive budget only by admission
			 * (rcv_admit): its overdraft of an eighth, and
			 * retransmissions after a drop. */
			assert_true(s->mem_rcv_used <=
				    s->mem_rcv_limit + s->mem_rcv_limit / 8 + NCONN);
			assert_true(s->mem_snd_used <= s->mem_snd_limit);
		}
		assert_true(rte_mempool_avail_count(kt_pool) >= 64);
		/* Idle: skip to the next thing due. */
		int64_t next = t + 100000;
		if (!moved) {
			int64_t d = kn_loop_next_delivery(link);
			if (kn_stack_next_timer(a) < d)
				d = kn_stack_next_timer(a);
			if (kn_stack_next_timer(b) < d)
				d = kn_stack_next_timer(b);
			if (d > next && d != INT64_MAX)
				next = d;
		}
		t = next;
	}
	const struct kn_stats *sa = kn_stack_stats(a), *sb = kn_stack_stats(b);
	printf("echo: %u x %u KiB in %.1f s fake, %llu passes; starved bursts %llu/%llu; "
	       "rcv hiwat %llu/%llu, snd hiwat %llu/%llu, mem waits %llu, rcv drops %llu, "
	       "collapsed %llu\n",
	       NCONN, MSG >> 10, (double)(t - KT_SEC) / KT_SEC, (unsigned long long)passes,
	       (unsigned long long)xa.starved, (unsigned long long)xb.starved,
	       (unsigned long long)sa->mem_rcv_hiwat, (unsigned long long)sb->mem_rcv_hiwat,
	       (unsigned long long)sa->mem_snd_hiwat, (unsigned long long)sb->mem_snd_hiwat,
	       (unsigned long long)(sa->tcp_snd_mem_waits + sb->tcp_snd_mem_waits),
	       (unsigned long long)(sa->drops[KN_DROP_TCP_RCV_NO_MEMORY] +
				    sb->drops[KN_DROP_TCP_RCV_NO_MEMORY]),
	       (unsigned long long)(sa->tcp_rcv_collapsed + sb->tcp_rcv_collapsed));
	/* The budget was what bounded the run: senders did wait for memory. */
	assert_true(sa->tcp_snd_mem_waits + sb->tcp_snd_mem_waits > 0);
	for (unsigned i = 0; i < NCONN; i++) {
		kn_tcp_abort(cs[i].t);
		kn_tcp_abort(ss[i].t);
	}
	kn_tcp_close(l);
	/* Every charge was released with its buffer. */
	assert_int_equal(sa->mem_rcv_used + sa->mem_snd_used, 0);
	assert_int_equal(sb->mem_rcv_used + sb->mem_snd_used, 0);
	kn_stack_destroy(a);
	kn_stack_destroy(b);
	kn_loop_destroy(link);
	kt_assert_no_leak();
}

/* ---- segment-level tests with the harness ---------------------------------- */

static const uint32_t ISS_PEER = 5000;
static struct kn_tcb *LT, *T;
static uint32_t our_iss;

/* Listener on LPORT, handshake from PPORT, connection accepted. */
static void establish(void)
{
	int err;
	LT = kn_tcp_listen(S, LPORT, 16, &lev, &err);
	assert_non_null(LT);
	static const uint8_t mss1460[] = {2, 4, 0x05, 0xb4};
	peer_send_opts(KN_TH_SYN, ISS_PEER, 0, 65535, mss1460, sizeof(mss1460));
	struct kt_seg g;
	assert_true(take_seg(&g));
	assert_int_equal(g.flags, KN_TH_SYN | KN_TH_ACK);
	our_iss = g.seq;
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, NULL, 0);
	T = kn_tcp_accept(LT, &cev);
	assert_non_null(T);
	while (take_seg(&g))
		;
}

/* The last ACK the stack sent, after flushing whatever it sent. */
static uint32_t last_ack(void)
{
	struct kt_seg g;
	uint32_t ack = 0;
	bool any = false;
	while (take_seg(&g)) {
		ack = g.ack;
		any = true;
	}
	assert_true(any);
	return ack;
}

static void no_delack(struct kn_stack_conf *c)
{
	c->tcp.delack_ns = 0;
}

/* One peer stops reading and sends 4,000 one-byte in-window segments: every
 * byte is taken into a few buffers, the window stays open, and another
 * connection still works. (Before: each byte pinned a buffer and shrank the
 * window by a quarter buffer, closing it after ~470 segments.) */
static void test_one_byte_segments(void **st)
{
	(void)st;
	th_setup(no_delack);
	establish();
	unsigned base = rte_mempool_avail_count(kt_pool);
	uint32_t seq = ISS_PEER + 1;
	for (unsigned i = 0; i < 4000; i++) {
		uint8_t c = (uint8_t)i;
		peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, &c, 1);
		seq++;
		kt_cap_clear(&cap);
	}
	peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, NULL, 0);
	kn_tcp_nagle(T, false);
	/* A window probe of nothing: the stack answers with its ACK. */
	peer_send(KN_TH_ACK, seq - 1, our_iss + 1, 65535, NULL, 0);
	assert_int_equal(last_ack(), seq);
	assert_int_equal(kn_tcp_readable(T), 4000);
	const struct kn_stats *s = kn_stack_stats(S);
	assert_true(s->mem_rcv_used <= 3);
	assert_true(base - rte_mempool_avail_count(kt_pool) <= 3);
	assert_true(s->tcp_rcv_collapsed >= 3990);

	/* A second connection on the same stack works. */
	struct kt_tcp f = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT + 1, .dport = LPORT,
			   .seq = 9000, .flags = KN_TH_SYN, .win = 65535};
	kn_stack_input(S, kt_tcp_frame(&f), now);
	struct kt_seg g;
	assert_true(take_seg(&g));
	assert_int_equal(g.flags, KN_TH_SYN | KN_TH_ACK);
	f.flags = KN_TH_ACK;
	f.seq = 9001;
	f.ack = g.seq + 1;
	kn_stack_input(S, kt_tcp_frame(&f), now);
	struct kt_ev ev2 = {0};
	struct kn_tcb *t2 = kn_tcp_accept(LT, &ev2);
	assert_non_null(t2);
	f.data = "hello";
	f.len = 5;
	kn_stack_input(S, kt_tcp_frame(&f), now);
	char buf[8];
	assert_int_equal(kn_tcp_recv(t2, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	kn_tcp_abort(t2);
	uint8_t out[4000];
	assert_int_equal(kn_tcp_recv(T, out, sizeof(out)), 4000);
	for (unsigned i = 0; i < 4000; i++)
		assert_int_equal(out[i], (uint8_t)i);
	assert_int_equal(kn_stack_stats(S)->mem_rcv_used, 0);
	kn_tcp_abort(T);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

/* Receive memory is charged per buffer queued and comes back in full when
 * the connection goes, whatever happened to the queue meanwhile: kept
 * segments, small ones copied into the tail, a partial read, a read by mbuf,
 * and out-of-order data. (The receive queue's charge is counted when the
 * queue is freed, not kept on every segment.) */
static void test_rcv_memory_released_on_close(void **st)
{
	(void)st;
	th_setup(no_delack);
	establish();
	const struct kn_stats *s = kn_stack_stats(S);
	assert_int_equal(s->mem_rcv_used, 0);
	static uint8_t seg[1000];
	uint32_t seq = ISS_PEER + 1;
	for (int i = 0; i < 3; i++) {
		memset(seg, 'a' + i, sizeof(seg));
		peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, seg, sizeof(seg));
		seq += sizeof(seg);
	}
	assert_int_equal(s->mem_rcv_used, 3);
	/* Ten one-byte segments go into the last buffer's room. */
	uint64_t collapsed = s->tcp_rcv_collapsed;
	for (int i = 0; i < 10; i++) {
		peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, "z", 1);
		seq++;
	}
	assert_int_equal(s->tcp_rcv_collapsed - collapsed, 10);
	assert_int_equal(s->mem_rcv_used, 3);
	/* A read of one and a half buffers frees one. */
	static uint8_t out[1500];
	assert_int_equal(kn_tcp_recv(T, out, sizeof(out)), sizeof(out));
	assert_int_equal(out[999], 'a');
	assert_int_equal(out[1000], 'b');
	assert_int_equal(s->mem_rcv_used, 2);
	/* A read by mbuf hands one over. */
	int err;
	struct rte_mbuf *m = kn_tcp_recv_mbuf(T, &err);
	assert_non_null(m);
	assert_int_equal(m->pkt_len, 500);
	rte_pktmbuf_free(m);
	assert_int_equal(s->mem_rcv_used, 1);
	assert_int_equal(kn_tcp_readable(T), 1010);
	/* Data beyond a hole waits out of order, charged too. */
	peer_send(KN_TH_ACK, seq + 100, our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(s->mem_rcv_used, 2);
	kt_cap_clear(&cap);
	kn_tcp_abort(T);
	assert_int_equal(s->mem_rcv_used, 0);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

static void small_rcv_budget(struct kn_stack_conf *c)
{
	c->tcp.delack_ns = 0;
	c->rcv_mem_mbufs = KN_MEM_MIN_MBUFS;
}

/* Open a connection from peer port @port (MSS 1460, window 65535) and
 * accept it; @return it, its ISS in *iss. */
static struct kn_tcb *open_extra(uint16_t port, struct kt_ev *ev, uint32_t *iss)
{
	static const uint8_t mss1460[] = {2, 4, 0x05, 0xb4};
	struct kt_tcp f = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = port, .dport = LPORT,
			   .seq = 9000, .flags = KN_TH_SYN, .win = 65535,
			   .opt = mss1460, .optlen = sizeof(mss1460)};
	kn_stack_input(S, kt_tcp_frame(&f), now);
	kn_stack_flush(S);
	struct kt_seg g;
	assert_true(take_seg(&g));
	*iss = g.seq;
	f = (struct kt_tcp){.src = KT_PEER_IP, .dst = KT_US_IP, .sport = port, .dport = LPORT,
			    .seq = 9001, .ack = g.seq + 1, .flags = KN_TH_ACK, .win = 65535};
	kn_stack_input(S, kt_tcp_frame(&f), now);
	kn_stack_flush(S);
	while (take_seg(&g))
		;
	struct kn_tcb *t = kn_tcp_accept(LT, ev);
	assert_non_null(t);
	return t;
}

#define NEXTRA 80

/* A stack with a small receive budget, T established, and NEXTRA more
 * connections (@extra) whose peers send one full segment each while their
 * applications read nothing: the receive budget runs out. */
static void spend_rcv_budget(struct kn_tcb **extra)
{
	th_setup(small_rcv_budget);
	establish();
	static struct kt_ev evs[NEXTRA];
	static uint8_t seg[1460];
	uint32_t iss[NEXTRA];
	for (int i = 0; i < NEXTRA; i++)
		extra[i] = open_extra((uint16_t)(PPORT + 1 + i), &evs[i], &iss[i]);
	struct kt_tcp f = {.src = KT_PEER_IP, .dst = KT_US_IP, .dport = LPORT, .seq = 9001,
			   .flags = KN_TH_ACK, .win = 65535, .data = seg, .len = sizeof(seg)};
	for (int i = 0; i < NEXTRA; i++) {
		f.sport = (uint16_t)(PPORT + 1 + i);
		f.ack = iss[i] + 1;
		kn_stack_input(S, kt_tcp_frame(&f), now);
	}
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* Then T's peer sends a full segment of 7s into the window it was offered
 * before: refused, and not acknowledged. @return TCP_RCV_NO_MEMORY drops. */
static uint64_t spent_budget_drops(uint8_t *seg, uint32_t len)
{
	uint64_t drops = kt_drops(S, KN_DROP_TCP_RCV_NO_MEMORY);
	assert_true(drops > 0);
	memset(seg, 7, len);
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, seg, len);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_NO_MEMORY), drops + 1);
	struct kt_seg g;
	while (take_seg(&g))
		assert_true(g.ack == ISS_PEER + 1 || g.len == 0);
	assert_int_equal(kn_tcp_readable(T), 0);
	return drops + 1;
}

static void spent_budget_end(struct kn_tcb **extra)
{
	for (int i = 0; i < NEXTRA; i++)
		kn_tcp_abort(extra[i]);
	kn_tcp_abort(T);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

/* Over the receive budget, in-window data is dropped without an ACK; once
 * the application reads, the peer's retransmission is taken. A single
 * connection cannot get there (its window is its share of what is free);
 * many can: each that holds nothing is offered a segment. */
static void test_over_budget_dropped_then_accepted(void **st)
{
	(void)st;
	struct kn_tcb *extra[NEXTRA];
	spend_rcv_budget(extra);
	static uint8_t seg[1460];
	/* Past the budget, its overdraft (an eighth) went to connections
	 * holding nothing; then the budget is spent. */
	const struct kn_stats *s = kn_stack_stats(S);
	assert_true(s->mem_rcv_used <= s->mem_rcv_limit + s->mem_rcv_limit / 8);
	assert_true(s->tcp_rcv_admitted > 0);
	/* The first connection's peer sends into the window it was offered
	 * before: refused, and not acknowledged. */
	spent_budget_drops(seg, sizeof(seg));
	/* The other applications read what they hold... */
	static uint8_t out[2000];
	for (int i = 0; i < NEXTRA; i++) {
		ssize_t r = kn_tcp_recv(extra[i], out, sizeof(out));
		assert_true(r == (ssize_t)sizeof(seg) || r == -EAGAIN);
	}
	kn_stack_flush(S);
	kt_cap_clear(&cap);
	/* ... and the retransmission is taken and acknowledged. */
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(last_ack(), ISS_PEER + 1 + sizeof(seg));
	assert_int_equal(kn_tcp_recv(T, out, sizeof(out)), sizeof(seg));
	assert_int_equal(out[0], 7);
	spent_budget_end(extra);
}

/* Admission over the budget (rcv_admit in tcp_input.c): with the budget
 * and its overdraft spent by connections whose applications do not read,
 * a connection that lost a segment at RCV.NXT gets its retransmission in
 * at once, without anyone reading: a peer never loses two in a row to the
 * budget, so its retransmission timer never backs off (before: dropped
 * again and again until others read; on the testbed, peers backed off to
 * 12.8 s and a request waited 20 s for one byte). Out-of-order data and
 * in-order data for a connection over its share are refused, each counted
 * by its reason; with the pool itself down to the device's floor, even the
 * retransmission waits (TCP_RCV_POOL_LOW). */
static void test_retransmission_admitted_over_budget(void **st)
{
	(void)st;
	struct kn_tcb *extra[NEXTRA];
	spend_rcv_budget(extra);
	/* The first connection's segment at RCV.NXT: dropped, unacknowledged. */
	static uint8_t seg[1460];
	uint64_t drops = spent_budget_drops(seg, sizeof(seg)) - 1;
	const struct kn_stats *s = kn_stack_stats(S);
	/* Its retransmission: taken and acknowledged, nobody having read. */
	uint64_t admitted = s->tcp_rcv_admitted;
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(last_ack(), ISS_PEER + 1 + sizeof(seg));
	assert_int_equal(s->tcp_rcv_admitted, admitted + 1);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_NO_MEMORY), drops + 1);
	/* Out of order: refused, counted apart. */
	uint32_t next = ISS_PEER + 1 + sizeof(seg);
	peer_send(KN_TH_ACK, next + sizeof(seg), our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_OOO_NO_MEMORY), 1);
	kt_cap_clear(&cap);
	/* In order again, holding one (within its floor of 2 mbufs), the
	 * overdraft spent: dropped. */
	peer_send(KN_TH_ACK, next, our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_NO_MEMORY), drops + 2);
	kt_cap_clear(&cap);
	/* The pool down to the device's floor: even the retransmission waits. */
	static struct rte_mbuf *hog[POOL_N];
	unsigned nhog = 0;
	while (rte_mempool_avail_count(kt_pool) > 100)
		hog[nhog++] = rte_pktmbuf_alloc(kt_pool);
	peer_send(KN_TH_ACK, next, our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_POOL_LOW), 1);
	kt_cap_clear(&cap);
	for (unsigned i = 0; i < nhog; i++)
		rte_pktmbuf_free(hog[i]);
	/* The pool back: taken. */
	peer_send(KN_TH_ACK, next, our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(last_ack(), next + sizeof(seg));
	/* Holding 2 now, its application not reading: over its share. */
	peer_send(KN_TH_ACK, next + sizeof(seg), our_iss + 1, 65535, seg, sizeof(seg));
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_OVER_SHARE), 1);
	kt_cap_clear(&cap);
	static uint8_t out[4000];
	assert_int_equal(kn_tcp_recv(T, out, sizeof(out)), 2 * sizeof(seg));
	assert_int_equal(out[0], 7);
	spent_budget_end(extra);
}

/* Fair-share windows: with the receive budget mostly spent, a connection
 * advertises no more than its share of what is left (at least one MSS). */
static void test_window_shrinks_with_pressure(void **st)
{
	(void)st;
	th_setup(small_rcv_budget);
	establish();
	struct kt_seg g;
	/* An empty budget: the window is what the socket buffer allows, up to
	 * the free budget (56 mbufs x MSS here). */
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, "x", 1);
	assert_true(take_seg(&g));
	uint32_t w0 = g.win;
	static uint8_t seg[1000];
	uint32_t seq = ISS_PEER + 2;
	for (int i = 0; i < 50; i++) {
		peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, seg, sizeof(seg));
		seq += sizeof(seg);
	}
	uint32_t w1 = 0;
	while (take_seg(&g))
		w1 = g.win;
	/* 51 of 56 mbufs in use: at most max(1 MSS, 5 MSS) more, and the
	 * right edge never moves back. */
	assert_true(w1 < w0);
	assert_true(w1 <= 6u * 1460u);
	kn_tcp_abort(T);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

/* A connection whose application does not read gets no window beyond its
 * share once memory is short: a peer that sends only what it is offered
 * then never has a segment dropped for memory. Before, every window was at
 * least one MSS whatever the connection already held: unread queues kept
 * growing by a segment per round trip until the budget was gone and
 * in-window data was dropped (peers backing off for tens of seconds). */
static void test_unread_queue_gets_no_more_window(void **st)
{
	(void)st;
	th_setup(small_rcv_budget);
	establish();
	static uint8_t seg[1460];
	uint32_t seq = ISS_PEER + 1;
	uint32_t win = 1460;
	struct kt_seg g;
	int i;
	for (i = 0; i < 200 && win; i++) {
		uint32_t len = win < sizeof(seg) ? win : sizeof(seg);
		peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, seg, len);
		seq += len;
		while (take_seg(&g))
			win = g.win - (seq - g.ack); /* what is left of the offer */
	}
	assert_int_equal(win, 0);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RCV_NO_MEMORY), 0);
	const struct kn_stats *s = kn_stack_stats(S);
	assert_true(s->mem_rcv_used <= s->mem_rcv_limit);
	/* Reading reopens it. */
	static uint8_t out[200 * 1460];
	assert_true(kn_tcp_recv(T, out, sizeof(out)) > 0);
	kn_stack_flush(S);
	win = 0;
	while (take_seg(&g))
		win = g.win;
	assert_true(win >= 1460);
	kn_tcp_abort(T);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

static void small_rcvbuf(struct kn_stack_conf *c)
{
	c->tcp.delack_ns = 0;
	c->tcp.rcvbuf = 16384;
}

/* A peer facing a closed window learns as soon as one segment fits again,
 * not only after two (it would sit on its persist timer, backing off). */
static void test_window_reopens_by_one_segment(void **st)
{
	(void)st;
	th_setup(small_rcvbuf);
	establish();
	static uint8_t seg[1460];
	uint32_t seq = ISS_PEER + 1;
	struct kt_seg g;
	uint16_t win = 1;
	for (int i = 0; i < 40 && win; i++) {
		peer_send(KN_TH_ACK, seq, our_iss + 1, 65535, seg, sizeof(seg));
		seq += sizeof(seg);
		while (take_seg(&g))
			win = g.win;
	}
	assert_int_equal(win, 0);
	size_t queued = kn_tcp_readable(T);
	static uint8_t out[2000];
	assert_int_equal(kn_tcp_recv(T, out, sizeof(out)), sizeof(out));
	kn_stack_flush(S);
	assert_true(take_seg(&g));
	assert_true(g.win >= 1460);
	assert_int_equal(g.ack, ISS_PEER + 1 + (uint32_t)queued);
	kn_tcp_abort(T);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

static void small_snd_budget(struct kn_stack_conf *c)
{
	c->tcp.delack_ns = 0;
	c->snd_mem_mbufs = KN_MEM_MIN_MBUFS;
}

/* A sender out of send memory gets -EAGAIN (never -ENOMEM), and
 * KN_EV_WRITABLE once ACKs free memory, even when the ACKs are for another
 * connection. */
static void test_sender_waits_for_memory(void **st)
{
	(void)st;
	th_setup(small_snd_budget);
	establish();
	struct kn_tcb *hog = T;
	static uint8_t buf[256 * 1024];
	memset(buf, 'a', sizeof(buf));
	/* The hog fills the send memory (the peer's window is shut, nothing
	 * leaves). */
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 0, NULL, 0);
	ssize_t w = kn_tcp_send(hog, buf, sizeof(buf));
	assert_true(w > 0 && (size_t)w < sizeof(buf));
	assert_int_equal(kn_tcp_send(hog, buf, sizeof(buf)), -EAGAIN);
	/* A second connection finds no memory either, with its own buffer empty. */
	struct kt_tcp f = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT + 1, .dport = LPORT,
			   .seq = 9000, .flags = KN_TH_SYN, .win = 65535};
	kn_stack_input(S, kt_tcp_frame(&f), now);
	struct kt_seg g;
	assert_true(take_seg(&g));
	f.flags = KN_TH_ACK;
	f.seq = 9001;
	f.ack = g.seq + 1;
	kn_stack_input(S, kt_tcp_frame(&f), now);
	struct kt_ev ev2 = {0};
	struct kn_tcb *t2 = kn_tcp_accept(LT, &ev2);
	assert_non_null(t2);
	kn_stack_timers(S, now);
	ev2.events = 0;
	assert_int_equal(kn_tcp_send(t2, "hi", 2), -EAGAIN);
	assert_true(kn_stack_stats(S)->tcp_snd_mem_waits >= 1);
	kn_stack_timers(S, now);
	assert_false(ev2.events & KN_EV_WRITABLE);
	/* The hog's peer opens its window and acknowledges everything. */
	kt_cap_clear(&cap);
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, NULL, 0);
	uint32_t acked = our_iss + 1;
	for (int round = 0; round < 100 && acked != our_iss + 1 + (uint32_t)w; round++) {
		while (take_seg(&g))
			if (g.sport == LPORT && g.dport == PPORT && g.len)
				acked = g.seq + g.len;
		peer_send(KN_TH_ACK, ISS_PEER + 1, acked, 65535, NULL, 0);
	}
	assert_int_equal(acked, our_iss + 1 + (uint32_t)w);
	/* The waiter was told, and its send now goes through. */
	assert_true(ev2.events & KN_EV_WRITABLE);
	assert_int_equal(kn_tcp_send(t2, "hi", 2), 2);
	kn_tcp_abort(t2);
	kn_tcp_abort(hog);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

/* While a socket waits for send memory, another one that keeps sending
 * must not take every buffer the ACKs free: it queues behind the waiter
 * (before, the waiter was woken only at the low-water mark, which a busy
 * sender kept usage above: seen as connections starved for a minute under
 * 1,000-connection load). */
static void test_waiter_not_starved(void **st)
{
	(void)st;
	th_setup(small_snd_budget);
	establish();
	struct kn_tcb *hog = T;
	static uint8_t buf[256 * 1024];
	memset(buf, 'b', sizeof(buf));
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 0, NULL, 0);
	ssize_t w = kn_tcp_send(hog, buf, sizeof(buf));
	assert_true(w > 0);
	struct kt_tcp f = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT + 1, .dport = LPORT,
			   .seq = 9000, .flags = KN_TH_SYN, .win = 65535};
	kn_stack_input(S, kt_tcp_frame(&f), now);
	struct kt_seg g;
	assert_true(take_seg(&g));
	f.flags = KN_TH_ACK;
	f.seq = 9001;
	f.ack = g.seq + 1;
	kn_stack_input(S, kt_tcp_frame(&f), now);
	struct kt_ev ev2 = {0};
	struct kn_tcb *t2 = kn_tcp_accept(LT, &ev2);
	assert_non_null(t2);
	assert_int_equal(kn_tcp_send(t2, "hi", 2), -EAGAIN);
	/* The hog's peer opens its window and acknowledges a little: a buffer
	 * or two frees, usage stays above the low-water mark. */
	kt_cap_clear(&cap);
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1, 65535, NULL, 0);
	while (take_seg(&g))
		;
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1 + 4096, 0, NULL, 0);
	assert_true(kn_stack_stats(S)->mem_snd_used < kn_stack_stats(S)->mem_snd_limit);
	assert_true(kn_stack_stats(S)->mem_snd_used > kn_stack_stats(S)->mem_snd_limit * 3 / 4);
	/* The hog, which never waited, queues behind the waiter. */
	assert_int_equal(kn_tcp_send(hog, buf, 4096), -EAGAIN);
	/* Now the hog waits too, behind t2, and its own ACKs wake it
	 * (KN_EV_WRITABLE) while usage is still above the low-water mark:
	 * it must not take what they free ahead of t2 either. Before, a
	 * socket on the wait list could allocate whenever it tried: under
	 * 1,000 echo connections on a small pool, those with data in flight
	 * (woken by their ACKs) kept usage between the mark and the limit,
	 * and 360 with nothing in flight, woken only at the mark, echoed
	 * nothing for 5 s (the veth testbed, af_packet, 2,047 mbufs). */
	kt_cap_clear(&cap);
	peer_send(KN_TH_ACK, ISS_PEER + 1, our_iss + 1 + 8192, 0, NULL, 0);
	assert_true(kn_stack_stats(S)->mem_snd_used > kn_stack_stats(S)->mem_snd_limit * 3 / 4);
	assert_int_equal(kn_tcp_send(hog, buf, 4096), -EAGAIN);
	/* ACKs bring usage down to the mark: t2 goes first. */
	uint32_t acked = our_iss + 1 + 8192;
	peer_send(KN_TH_ACK, ISS_PEER + 1, acked, 65535, NULL, 0);
	for (int i = 0; i < 100 && kn_stack_stats(S)->mem_snd_used >
					    kn_stack_stats(S)->mem_snd_limit * 3 / 4; i++) {
		uint32_t hi = acked;
		while (take_seg(&g))
			if (g.len && (int32_t)(g.seq + g.len - hi) > 0)
				hi = g.seq + g.len;
		acked = hi;
		peer_send(KN_TH_ACK, ISS_PEER + 1, acked, 65535, NULL, 0);
	}
	assert_true(kn_stack_stats(S)->mem_snd_used <= kn_stack_stats(S)->mem_snd_limit * 3 / 4);
	assert_int_equal(kn_tcp_send(t2, "hi", 2), 2);
	kn_tcp_abort(t2);
	kn_tcp_abort(hog);
	kn_tcp_close(LT);
	th_teardown(NULL);
}

/* kn_udp_recvfrom returns what it copied, and tiny datagrams are bounded by
 * the buffers they pin, not by their count. */
static void test_udp_copied_and_bounded(void **st)
{
	(void)st;
	th_setup(NULL);
	int err;
	struct kt_ev uev = {0};
	struct kn_udp *u = kn_udp_bind(S, 5353, &uev, &err);
	assert_non_null(u);
	uint8_t dg[100];
	for (unsigned i = 0; i < sizeof(dg); i++)
		dg[i] = (uint8_t)i;
	kn_stack_input(S, kt_udp_frame(KT_PEER_IP, KT_US_IP, 1234, 5353, dg, sizeof(dg)), now);
	uint8_t small[10];
	memset(small, 0xee, sizeof(small));
	assert_int_equal(kn_udp_recvfrom(u, small, sizeof(small), NULL, NULL), sizeof(small));
	for (unsigned i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], i);
	/* A flood of 1-byte datagrams: at most udp_rcvbuf bytes of buffers. */
	for (unsigned i = 0; i < 1000; i++)
		kn_stack_input(S, kt_udp_frame(KT_PEER_IP, KT_US_IP, 1234, 5353, dg, 1), now);
	const struct kn_stats *s = kn_stack_stats(S);
	uint32_t per = rte_pktmbuf_data_room_size(kt_pool); /* buf_len of one mbuf */
	assert_true(s->mem_rcv_used <= conf.udp_rcvbuf / per + 1);
	assert_true(s->drops[KN_DROP_UDP_RCVBUF_FULL] > 0);
	unsigned n = 0;
	while (kn_udp_recvfrom(u, small, sizeof(small), NULL, NULL) == 1)
		n++;
	assert_int_equal(n, s->udp_rx - 1 - s->drops[KN_DROP_UDP_RCVBUF_FULL]);
	assert_int_equal(s->mem_rcv_used, 0);
	kn_udp_close(u);
	th_teardown(NULL);
}

/* Buffers a stack keeps for reuse (kn_free) are not held while it is idle:
 * after request/response traffic, once both stacks poll with nothing to
 * receive, the pool has as many buffers in use as before the traffic plus
 * what the queues are charged with (the drained state test_overload checks
 * on the testbed). */
static void test_idle_stack_holds_no_spare_buffers(void **st)
{
	(void)st;
	int64_t t = KT_SEC;
	struct kn_loop_conf lc = {.seed = 3, .queue_max = 1024};
	struct kn_loop *link = kn_loop_create(&lc, kt_pool);
	assert_non_null(link);
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	ca.rcv_mem_mbufs = cb.rcv_mem_mbufs = 300;
	ca.snd_mem_mbufs = cb.snd_mem_mbufs = 300;
	int err;
	struct kn_stack *a = kn_stack_create(&ca, kn_loop_dev(link, 0), kt_pool, t, &err);
	struct kn_stack *b = kn_stack_create(&cb, kn_loop_dev(link, 1), kt_pool, t, &err);
	assert_non_null(a);
	assert_non_null(b);
	struct kt_ev lev_ = {0};
	struct kn_tcb *l = kn_tcp_listen(b, 7, 64, &lev_, &err);
	enum { N = 8, ROUNDS = 20 };
	struct kn_tcb *c[N], *sv[N];
	struct kt_ev ev[N];
	memset(ev, 0, sizeof(ev));
	for (unsigned i = 0; i < N; i++)
		assert_non_null(c[i] = kn_tcp_connect(a, KT_US_IP, 7, (uint16_t)(4000 + i), &ev[i], &err));
	unsigned ns = 0;
	for (int k = 0; k < 50; k++) {
		t += KT_MS;
		kn_loop_set_now(link, t);
		kn_stack_poll(a, t);
		kn_stack_poll(b, t);
		while (ns < N && (sv[ns] = kn_tcp_accept(l, NULL)) != NULL)
			ns++;
	}
	assert_int_equal(ns, N);
	unsigned base = rte_mempool_in_use_count(kt_pool);
	uint8_t msg[64], buf[256];
	memset(msg, 0x5a, sizeof(msg));
	unsigned rounds[N] = {0};
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(kn_tcp_send(c[i], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	for (int k = 0; k < 2000; k++) {
		t += KT_MS / 10;
		kn_loop_set_now(link, t);
		kn_stack_poll(a, t);
		kn_stack_poll(b, t);
		for (unsigned i = 0; i < N; i++) {
			ssize_t r;
			while ((r = kn_tcp_recv(sv[i], buf, sizeof(buf))) > 0)
				assert_int_equal(kn_tcp_send(sv[i], buf, (size_t)r), r);
			while ((r = kn_tcp_recv(c[i], buf, sizeof(buf))) > 0)
				if (++rounds[i] < ROUNDS)
					assert_int_equal(kn_tcp_send(c[i], msg, sizeof(msg)),
							 (ssize_t)sizeof(msg));
		}
	}
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(rounds[i], ROUNDS);
	/* Idle now: a few passes with nothing to receive (delayed ACKs done). */
	for (int k = 0; k < 5; k++) {
		t += 100 * KT_MS;
		kn_loop_set_now(link, t);
		kn_stack_poll(a, t);
		kn_stack_poll(b, t);
	}
	/* In use: what was before, and what the queues are charged with (each
	 * connection keeps its acknowledged send buffer as a spare), no more. */
	assert_int_equal(kn_loop_in_flight(link), 0);
	const struct kn_stats *sa = kn_stack_stats(a), *sb = kn_stack_stats(b);
	uint64_t charged = sa->mem_snd_used + sa->mem_rcv_used + sb->mem_snd_used + sb->mem_rcv_used;
	assert_true(charged > 0);
	assert_int_equal(rte_mempool_in_use_count(kt_pool), base + charged);
	for (unsigned i = 0; i < N; i++) {
		kn_tcp_abort(c[i]);
		kn_tcp_abort(sv[i]);
	}
	kn_tcp_close(l);
	kn_stack_flush(a);
	kn_stack_flush(b);
	kn_stack_destroy(a);
	kn_stack_destroy(b);
	kn_loop_destroy(link);
	kt_assert_no_leak();
}

/* A pool that cannot hold the reserve and the minimum budget is refused. */
static void test_pool_too_small(void **st)
{
	(void)st;
	struct kn_stack_conf c;
	kt_conf(&c, KT_US_IP);
	uint32_t r, w, need;
	assert_int_equal(kn_stack_mem_budget(&c, 8192, &r, &w, &need), 0);
	assert_true(r >= KN_MEM_MIN_MBUFS && w >= KN_MEM_MIN_MBUFS && r + w < 8192);
	c.mem_reserve = 4000;
	assert_int_equal(kn_stack_mem_budget(&c, 4100, &r, &w, &need), -ENOSPC);
	assert_true(need > 4100);
	assert_int_equal(kn_stack_mem_budget(&c, need, &r, &w, &need), 0);
	c.mem_reserve = POOL_N;
	struct kt_cap cp;
	kt_cap_init(&cp, 0);
	int err;
	assert_null(kn_stack_create(&c, &cp.dev, kt_pool, 0, &err));
	assert_int_equal(err, -ENOSPC);
}

int main(void)
{
	int rc = kt_eal_init("net-budget", POOL_N);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_small_pool),
		cmocka_unit_test(test_one_byte_segments),
		cmocka_unit_test(test_rcv_memory_released_on_close),
		cmocka_unit_test(test_over_budget_dropped_then_accepted),
		cmocka_unit_test(test_retransmission_admitted_over_budget),
		cmocka_unit_test(test_window_shrinks_with_pressure),
		cmocka_unit_test(test_unread_queue_gets_no_more_window),
		cmocka_unit_test(test_window_reopens_by_one_segment),
		cmocka_unit_test(test_sender_waits_for_memory),
		cmocka_unit_test(test_waiter_not_starved),
		cmocka_unit_test(test_udp_copied_and_bounded),
		cmocka_unit_test(test_pool_too_small),
		cmocka_unit_test(test_idle_stack_holds_no_spare_buffers),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
