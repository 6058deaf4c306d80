/* Congestion control and the TCP defects long or lossy transfers expose
 * (issue 11), segment by segment on a fake clock: zero-window probes are
 * not duplicate ACKs; fast retransmit still works past 2 and 4 GiB of
 * sequence space; shutdown() under window scale 14 ends; cwnd grows only
 * when it is the limit, restarts after idle, cannot wrap, and is one
 * segment after a SYN retransmission; a SYN reopens a TIME_WAIT 4-tuple;
 * a simultaneous open between two kaon stacks needs no RTO; the RST of an
 * abort carries SND.MAX; segments without timestamps on a timestamp
 * connection are dropped; keepcnt and ooo_max are clamped.
 *
 * Some checks read the TCB (cwnd, ssthresh), as test_net_timers does:
 * nothing on the wire says what cwnd is until it is used. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcp_harness.h"
#include "net/tcp.h"
#include "net/wire.h"

#define PISN 7000000u
/* Data per full segment: MSS 1460 less the timestamp option both sides use. */
#define SMSS (1460 - 12)

/* MSS 1460 and window scale 7; the harness adds timestamps. */
static const uint8_t syn_ws7[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
/* MSS 1460 and no window scale. */
static const uint8_t syn_mss[] = {2, 4, 0x05, 0xb4};

/* Throw away what the stack sent (its tx batch too). */
static void clear(void)
{
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* Data segments the stack sent (the rest thrown away); @bytes gets their
 * payload, @first the first one's sequence number. */
static unsigned count_data(uint32_t *bytes, uint32_t *first)
{
	unsigned n = 0;
	struct kt_seg s;
	if (bytes)
		*bytes = 0;
	while (take_seg(&s)) {
		if (!s.len)
			continue;
		if (n == 0 && first)
			*first = s.seq;
		n++;
		if (bytes)
			*bytes += s.len;
	}
	return n;
}

/* Passive open with the SYN options @opt, accepted. @return our ISS. */
static uint32_t open_passive(struct kn_tcb **lp, struct kn_tcb **cp, const uint8_t *opt,
			     uint8_t optlen, uint16_t win)
{
	int err;
	*lp = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	assert_non_null(*lp);
	peer_send_opts(KN_TH_SYN, PISN, 0, win, opt, optlen);
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, win, NULL, 0);
	*cp = kn_tcp_accept(*lp, &cev);
	assert_non_null(*cp);
	assert_int_equal(kn_tcp_get_state(*cp), KN_TCP_ESTABLISHED);
	clear();
	return sa.seq;
}

static void close_all(struct kn_tcb *l, struct kn_tcb *c)
{
	if (c)
		kn_tcp_abort(c);
	if (l)
		kn_tcp_close(l);
	kn_stack_flush(S);
	clear();
}

static uint8_t data[256 * 1024];

/* 1. Replies to our own zero-window probes repeat SND.UNA with the same
 * (zero) window: they are not duplicate ACKs. Before the fix the third one
 * made a fast retransmit and set ssthresh to 2 segments. Target of issue
 * 11: none in a 10 s zero-window episode. */
static void test_zero_window_probes_no_fast_rexmt(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_mss, sizeof(syn_mss), 4 * SMSS);
	uint32_t ssthresh = c->ssthresh;
	assert_int_equal(kn_tcp_send(c, data, 10 * SMSS), 10 * SMSS);
	uint32_t bytes;
	assert_int_equal(count_data(&bytes, NULL), 4);
	/* The peer takes the four segments and shuts its window. */
	uint32_t una = iss + 1 + bytes;
	peer_send(KN_TH_ACK, PISN + 1, una, 0, NULL, 0);
	clear();
	unsigned probes = 0;
	for (int i = 0; i < 1000; i++) {   /* 10 s */
		tick(10 * KT_MS);
		struct kt_seg s;
		while (take_seg(&s)) {
			if (s.len == 0)
				continue;
			assert_int_equal(s.seq, una);
			assert_int_equal(s.len, 1);
			probes++;
			/* The byte is not taken; the window stays shut. */
			peer_send(KN_TH_ACK, PISN + 1, una, 0, NULL, 0);
		}
	}
	assert_true(probes >= 3);
	assert_int_equal(kn_stack_stats(S)->tcp_fast_rexmt, 0);
	assert_int_equal(kn_stack_stats(S)->tcp_dupacks, 0);
	assert_int_equal(c->ssthresh, ssthresh);
	/* The window opens: the rest goes, from SND.UNA. */
	peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	uint32_t first;
	assert_true(count_data(NULL, &first) >= 1);
	assert_int_equal(first, una);
	close_all(l, c);
}

/* ... and when the peer shuts its window with data still in flight (it
 * shrank the window): its answers to the segments past the new edge are
 * refusals, not duplicate ACKs, and the persist timer, not the
 * retransmission timer, waits for the window (as FreeBSD): no fast
 * retransmit, no timeout, no ssthresh cut, in 10 s. */
static void test_shrunk_window_no_fast_rexmt(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_mss, sizeof(syn_mss), 8 * SMSS);
	uint32_t ssthresh = c->ssthresh;
	assert_int_equal(kn_tcp_send(c, data, 12 * SMSS), 12 * SMSS);
	assert_int_equal(count_data(NULL, NULL), 8);
	uint32_t una = iss + 1 + 4 * SMSS;
	for (int i = 0; i < 5; i++)
		peer_send(KN_TH_ACK, PISN + 1, una, 0, NULL, 0);
	unsigned probes = 0;
	for (int i = 0; i < 1000; i++) {   /* 10 s */
		tick(10 * KT_MS);
		struct kt_seg s;
		while (take_seg(&s)) {
			if (s.len == 0)
				continue;
			assert_int_equal(s.seq, una);
			probes++;
			peer_send(KN_TH_ACK, PISN + 1, una, 0, NULL, 0);
		}
	}
	assert_true(probes >= 3);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	assert_int_equal(kn_stack_stats(S)->tcp_fast_rexmt, 0);
	assert_int_equal(kn_stack_stats(S)->tcp_rexmt_timeouts, 0);
	assert_int_equal(c->ssthresh, ssthresh);
	peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	uint32_t first;
	assert_true(count_data(NULL, &first) >= 1);
	assert_int_equal(first, una);
	close_all(l, c);
}

/* The ACK that takes everything in flight and shuts the window comes on a
 * segment we must answer at once (out-of-order data here): the answer
 * went, and with it kn_tcp_output returned before arming the persist
 * timer. Nothing was in flight, no timer ran: the connection stalled for
 * ever with data queued (test_net_chaos found it). */
static void test_window_shut_by_acked_data_segment(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_mss, sizeof(syn_mss), 4 * SMSS);
	assert_int_equal(kn_tcp_send(c, data, 10 * SMSS), 10 * SMSS);
	uint32_t bytes;
	assert_int_equal(count_data(&bytes, NULL), 4);
	uint32_t una = iss + 1 + bytes;
	peer_send(KN_TH_ACK, PISN + 1 + 100, una, 0, data, 100);
	struct kt_seg s;
	bool acked = false;
	while (take_seg(&s))
		acked |= s.len == 0 && s.ack == PISN + 1;
	assert_true(acked);
	assert_true(c->t_persist != 0);
	unsigned probes = 0;
	for (int i = 0; i < 100 && !probes; i++) {
		tick(10 * KT_MS);
		while (take_seg(&s))
			probes += s.len > 0 && s.seq == una;
	}
	assert_int_equal(probes, 1);
	close_all(l, c);
}

/* The headers of a frame the stack sent, read in place: big frames are
 * chains, and only the first segment (the headers) is looked at. */
static void frame_hdr(struct rte_mbuf *m, uint32_t *seq, uint32_t *len)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(p + 14);
	uint32_t ihl = (ip->ver_ihl & 0xf) * 4u;
	const struct kn_tcp_hdr *th = (const struct kn_tcp_hdr *)(p + 14 + ihl);
	*seq = rte_be_to_cpu_32(th->seq);
	*len = rte_be_to_cpu_16(ip->len) - ihl - (th->off >> 4) * 4u;
}

/* A peer that ACKs every data segment, the way a receiver with quick ACKs
 * does, reading the frames' headers only (the payload is the stack's own
 * send buffer). Out-of-order data is kept as one range past the hole. */
struct bulk {
	struct kn_tcb *c;
	uint32_t rcv_nxt;
	uint64_t bytes;
	uint32_t lost;       /* the segment dropped on purpose, 0 = none */
	uint32_t ooo_start, ooo_end; /* data held past the hole */
	unsigned after_hole; /* segments seen past it */
};

static void bulk_segment(struct bulk *b, uint32_t seq, uint32_t len)
{
	if (seq == b->rcv_nxt) {
		b->rcv_nxt += len;
		if (b->ooo_end && b->rcv_nxt == b->ooo_start)
			b->rcv_nxt = b->ooo_end;
		if (b->lost && SEQ_GT(b->rcv_nxt, b->lost)) {
			b->lost = 0;
			b->ooo_end = 0;
		}
	} else if (SEQ_GT(seq, b->rcv_nxt)) {
		b->after_hole++;
		if (!b->ooo_end)
			b->ooo_start = b->ooo_end = seq;
		if (seq == b->ooo_end)
			b->ooo_end += len;
	}
	peer_send(KN_TH_ACK, PISN + 1, b->rcv_nxt, 65535, NULL, 0);
}

/* One round: the application fills the send buffer, the stack sends, the
 * peer ACKs what arrives (which makes the stack send more). @drop: lose the
 * first data segment of this round. */
static void bulk_round(struct bulk *b, bool drop)
{
	size_t w = kn_tcp_writable(b->c);
	if (w > sizeof(data))
		w = sizeof(data);
	if (w)
		assert_true(kn_tcp_send(b->c, data, w) > 0);
	kn_stack_flush(S);
	struct rte_mbuf *m;
	while ((m = kt_cap_take(&cap)) != NULL) {
		uint32_t seq, len;
		frame_hdr(m, &seq, &len);
		rte_pktmbuf_free(m);
		if (!len)
			continue;
		if (drop) {
			drop = false;
			b->lost = seq;
			b->after_hole = 0;
			continue;
		}
		uint32_t old = b->rcv_nxt;
		bulk_segment(b, seq, len);
		b->bytes += b->rcv_nxt - old;
		kn_stack_flush(S);
	}
}

static void bulk_until(struct bulk *b, uint64_t total)
{
	while (b->bytes < total)
		bulk_round(b, false);
}

/* One loss: the hole must be filled by a fast retransmit, with no clock
 * running (no RTO can fire). */
static void bulk_loss(struct bulk *b)
{
	uint64_t fr = kn_stack_stats(S)->tcp_fast_rexmt;
	bulk_round(b, true);
	for (int i = 0; i < 8 && b->lost; i++)
		bulk_round(b, false);
	assert_true(b->after_hole >= 3);
	assert_int_equal(b->lost, 0);
	assert_int_equal(kn_stack_stats(S)->tcp_fast_rexmt, fr + 1);
}

static void jumbo(struct kn_stack_conf *c)
{
	c->tcp.sndbuf = 1u << 20;
	c->tcp.rcvbuf = 1u << 20;
}

/* 2. RFC 6582's recover, compared modulo 2^32, must follow SND.UNA: before
 * the fix, after 2 GiB without a loss SND.UNA seemed to lie before it and
 * the next loss waited for an RTO. Past 4 GiB the sequence space has
 * wrapped whatever the ISN. Jumbo frames (MTU 9000, checksum offload) keep
 * the 4.5 GiB cheap. */
static void test_fast_rexmt_past_2_and_4_gib(void **st)
{
	(void)st;
	th_teardown(st);
	now = 1000 * KT_SEC;
	memset(&lev, 0, sizeof(lev));
	memset(&cev, 0, sizeof(cev));
	kt_cap_init(&cap, KN_DEV_TX_MULTI_SEG | KN_DEV_TX_L4_CKSUM | KN_DEV_TX_IP_CKSUM);
	cap.dev.mtu = 9000;
	kt_conf(&conf, KT_US_IP);
	jumbo(&conf);
	S = kt_stack(&cap, &conf, now);
	th_peer_ts = true;
	th_ts_recent = 0;
	static const uint8_t opt[] = {2, 4, 0x23, 0x28, 1, 3, 3, 7}; /* MSS 9000, WS 7 */
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, opt, sizeof(opt), 65535);
	fprintf(stderr, "cc: ISS %u, mss %u\n", iss, c->mss);
	struct bulk b = {.c = c, .rcv_nxt = iss + 1};
	bulk_until(&b, 64u << 20);
	bulk_loss(&b);                     /* the loss recovery works at all */
	bulk_until(&b, (2ull << 30) + (256u << 20));
	bulk_loss(&b);                     /* past 2 GiB */
	bulk_until(&b, (4ull << 30) + (512u << 20));
	bulk_loss(&b);                     /* past 4 GiB: wrapped */
	assert_int_equal(kn_stack_stats(S)->tcp_rexmt_timeouts, 0);
	fprintf(stderr, "cc: %llu bytes, una %u\n", (unsigned long long)b.bytes, b.rcv_nxt);
	close_all(l, c);
}

/* 3. shutdown() with data the peer's window will not take, under window
 * scale 14 (16 KiB units) and a window of a few segments: a window update
 * that rounds to what the peer already has changed nothing, and the FIN
 * loop in kn_tcp_output sent it for ever. The alarm turns a hang into a
 * failure. */
static void wscale14(struct kn_stack_conf *c)
{
	c->tcp.rcvbuf = 1u << 30;    /* asks for shift 14 */
	c->rx_burst_frames = 12;     /* a window of a few segments */
}

static void test_shutdown_wscale14_ends(void **st)
{
	(void)st;
	th_teardown(st);
	th_setup(wscale14);
	struct kn_tcb *l, *c;
	static const uint8_t opt[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 14};
	uint32_t iss = open_passive(&l, &c, opt, sizeof(opt), 0);
	assert_int_equal(c->rcv_wscale, 14);
	assert_int_equal(kn_tcp_send(c, data, 1000), 1000);
	assert_int_equal(kn_tcp_shutdown(c), 0);
	clear();
	alarm(20);
	/* The peer sends into the window its SYN-ACK offered. */
	uint32_t seq = PISN + 1;
	for (int i = 0; i < 3; i++) {
		peer_send(KN_TH_ACK, seq, iss + 1, 0, data, SMSS);
		seq += SMSS;
		assert_true(cap.n <= 4);
		clear();
	}
	char buf[4096];
	while (kn_tcp_recv(c, buf, sizeof(buf)) > 0)
		assert_true(cap.n <= 4);
	kn_stack_flush(S);
	assert_true(cap.n <= 4);
	alarm(0);
	close_all(l, c);
}

/* 4a. RFC 7661: an application that sends little does not grow cwnd. */
static void test_cwnd_app_limited(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_ws7, sizeof(syn_ws7), 65535);
	uint32_t iw = c->cwnd;
	assert_int_equal(iw, 10u * c->mss);
	uint32_t una = iss + 1;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(kn_tcp_send(c, data, 100), 100);
		assert_int_equal(count_data(NULL, NULL), 1);
		una += 100;
		peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	}
	assert_int_equal(c->cwnd, iw);
	/* Limited by cwnd, it grows (slow start). */
	assert_int_equal(kn_tcp_send(c, data, 40 * SMSS), 40 * SMSS);
	uint32_t bytes;
	assert_int_equal(count_data(&bytes, NULL), 10);
	una += bytes;
	peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	assert_true(c->cwnd > iw);
	close_all(l, c);
}

/* 4b. RFC 5681 §4.1: after more than an RTO without sending, the burst is
 * the restart window min(IW, cwnd), and ssthresh remembers 3/4 of cwnd. */
static void test_cwnd_idle_restart(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_ws7, sizeof(syn_ws7), 65535);
	uint32_t una = iss + 1;
	/* Grow cwnd well past IW: rounds of full flights. */
	for (int r = 0; r < 6; r++) {
		assert_true(kn_tcp_send(c, data, 200 * SMSS) > 0);
		uint32_t bytes;
		count_data(&bytes, NULL);
		una += bytes;
		peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	}
	/* Send what is left, all acknowledged: nothing in flight. */
	while (kn_tcp_writable(c) < conf.tcp.sndbuf) {
		uint32_t bytes;
		count_data(&bytes, NULL);
		una += bytes;
		peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	}
	uint32_t big = c->cwnd;
	assert_true(big >= 20u * c->mss);
	/* Idle for less than an RTO: the whole cwnd goes. */
	tick(c->rto / 2);
	assert_int_equal(kn_tcp_send(c, data, 100 * SMSS), 100 * SMSS);
	uint32_t bytes;
	unsigned n = count_data(&bytes, NULL);
	assert_true(n >= 20);
	una += bytes;
	peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	while (kn_tcp_writable(c) < conf.tcp.sndbuf) {
		count_data(&bytes, NULL);
		una += bytes;
		peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	}
	assert_int_equal(kn_stack_stats(S)->tcp_idle_restarts, 0);
	big = c->cwnd;
	/* Idle for more than an RTO: ten segments. */
	tick(c->rto + KT_MS);
	clear();
	assert_int_equal(kn_tcp_send(c, data, 100 * SMSS), 100 * SMSS);
	assert_int_equal(count_data(NULL, NULL), 10);
	assert_int_equal(kn_stack_stats(S)->tcp_idle_restarts, 1);
	assert_int_equal(c->cwnd, 10u * c->mss);
	assert_true(c->ssthresh >= big - big / 4);
	close_all(l, c);
}

/* 4c. cwnd saturates: a flood of duplicate ACKs inflating it in recovery
 * cannot wrap it to a few bytes. cwnd starts near the top rather than
 * after three million duplicate ACKs. */
static void test_cwnd_no_wrap(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_ws7, sizeof(syn_ws7), 65535);
	assert_int_equal(kn_tcp_send(c, data, 10 * SMSS), 10 * SMSS);
	assert_int_equal(count_data(NULL, NULL), 10);
	for (int i = 0; i < 3; i++)
		peer_send(KN_TH_ACK, PISN + 1, iss + 1, 65535, NULL, 0);
	assert_int_equal(kn_stack_stats(S)->tcp_fast_rexmt, 1);
	assert_true(c->flags & TF_INRECOVERY);
	clear();
	c->cwnd = UINT32_MAX - 3u * c->mss;
	for (int i = 0; i < 10; i++)
		peer_send(KN_TH_ACK, PISN + 1, iss + 1, 65535, NULL, 0);
	assert_true(c->cwnd >= 10u * c->mss);
	assert_true(c->cwnd <= KN_TCP_CWND_MAX);
	close_all(l, c);
}

/* 4d. RFC 5681 §3.1 / RFC 6928: after a retransmitted SYN the first window
 * is one segment (active open). */
static void test_iw_after_syn_rexmt(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	assert_non_null(c);
	struct kt_seg syn = th_take();
	assert_int_equal(syn.flags, KN_TH_SYN);
	tick(conf.tcp.rto_init_ns);
	struct kt_seg syn2 = th_take();
	assert_int_equal(syn2.flags, KN_TH_SYN);
	peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 65535, syn_ws7, sizeof(syn_ws7));
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	clear();
	assert_int_equal(kn_tcp_send(c, data, 20 * SMSS), 20 * SMSS);
	assert_int_equal(count_data(NULL, NULL), 1);
	/* A handshake has no flight to halve: slow start goes on. */
	assert_int_equal(c->ssthresh, UINT32_MAX / 2);
	peer_send(KN_TH_ACK, PISN + 1, syn.seq + 1 + SMSS, 65535, NULL, 0);
	assert_int_equal(count_data(NULL, NULL), 2);
	close_all(NULL, c);
}

/* ... and the passive one: a SYN-ACK retransmitted. */
static void test_iw_after_synack_rexmt(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	peer_send_opts(KN_TH_SYN, PISN, 0, 65535, syn_ws7, sizeof(syn_ws7));
	struct kt_seg sa = th_take();
	tick(conf.tcp.rto_init_ns);
	struct kt_seg sa2 = th_take();
	assert_int_equal(sa2.flags, KN_TH_SYN | KN_TH_ACK);
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	clear();
	assert_int_equal(kn_tcp_send(c, data, 20 * SMSS), 20 * SMSS);
	assert_int_equal(count_data(NULL, NULL), 1);
	assert_int_equal(c->ssthresh, UINT32_MAX / 2);
	close_all(l, c);
}

/* 5. A SYN for a 4-tuple in TIME_WAIT (RFC 6191; Linux's rule): taken when
 * it passes PAWS and its timestamp is newer or its sequence number lies
 * past RCV.NXT; the new ISS lies past all the old connection sent. */
static uint32_t into_time_wait(struct kn_tcb **lp, uint32_t *snd_max)
{
	struct kn_tcb *c;
	uint32_t iss = open_passive(lp, &c, syn_ws7, sizeof(syn_ws7), 65535);
	assert_int_equal(kn_tcp_send(c, data, 100), 100);
	clear();
	kn_tcp_close(c);            /* we close first: our FIN */
	struct kt_seg f = th_take();
	assert_true(f.flags & KN_TH_FIN);
	*snd_max = iss + 1 + 100 + 1;
	peer_send(KN_TH_ACK | KN_TH_FIN, PISN + 1, *snd_max, 65535, NULL, 0);
	clear();
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_TIME_WAIT);
	return PISN + 2;            /* our RCV.NXT */
}

static void test_time_wait_reuse(void **st)
{
	(void)st;
	struct kn_tcb *l;
	uint32_t snd_max;
	uint32_t rcv_nxt = into_time_wait(&l, &snd_max);
	tick(KT_MS);                /* a newer timestamp */
	/* A new SYN, sequence past RCV.NXT, newer timestamp: a SYN-ACK at once. */
	peer_send_opts(KN_TH_SYN, rcv_nxt + 100000, 0, 65535, syn_ws7, sizeof(syn_ws7));
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(sa.ack, rcv_nxt + 100001);
	assert_int_equal(sa.seq, snd_max + 65537);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_reused, 1);
	peer_send(KN_TH_ACK, rcv_nxt + 100001, sa.seq + 1, 65535, NULL, 0);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	close_all(l, c);
}

/* Sequence number below RCV.NXT but a newer timestamp: taken (Linux). */
static void test_time_wait_reuse_by_timestamp(void **st)
{
	(void)st;
	struct kn_tcb *l;
	uint32_t snd_max;
	uint32_t rcv_nxt = into_time_wait(&l, &snd_max);
	tick(KT_MS);
	peer_send_opts(KN_TH_SYN, rcv_nxt - 50000, 0, 65535, syn_ws7, sizeof(syn_ws7));
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_reused, 1);
	close_all(l, NULL);
}

/* An old timestamp (PAWS) keeps TIME_WAIT, whatever the sequence number. */
static void test_time_wait_old_syn_refused(void **st)
{
	(void)st;
	struct kn_tcb *l;
	uint32_t snd_max;
	uint32_t rcv_nxt = into_time_wait(&l, &snd_max);
	tick(KT_MS);
	static const uint8_t old_ts[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
	peer_send_opts(KN_TH_SYN, rcv_nxt + 100000, 0, 65535, old_ts, sizeof(old_ts));
	struct kt_seg s;
	while (take_seg(&s))
		assert_false(s.flags & KN_TH_SYN);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_reused, 0);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	close_all(l, NULL);
}

/* Without timestamps: RFC 1122 §4.2.2.13, the sequence number decides. */
static void no_ts(struct kn_stack_conf *c)
{
	c->tcp.timestamps = false;
}

static void test_time_wait_reuse_no_timestamps(void **st)
{
	(void)st;
	th_teardown(st);
	th_setup(no_ts);
	th_peer_ts = false;
	struct kn_tcb *l;
	uint32_t snd_max;
	uint32_t rcv_nxt = into_time_wait(&l, &snd_max);
	/* Below RCV.NXT: an old duplicate, refused. */
	peer_send_opts(KN_TH_SYN, rcv_nxt - 10, 0, 65535, syn_ws7, sizeof(syn_ws7));
	struct kt_seg s;
	while (take_seg(&s))
		assert_false(s.flags & KN_TH_SYN);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_reused, 0);
	/* Above: taken at once. */
	peer_send_opts(KN_TH_SYN, rcv_nxt + 10, 0, 65535, syn_ws7, sizeof(syn_ws7));
	s = th_take();
	assert_int_equal(s.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(s.ack, rcv_nxt + 11);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_reused, 1);
	close_all(l, NULL);
}

/* 6. Simultaneous open between two kaon stacks on the in-memory link: both
 * send a SYN, each receives the other's, the SYN-ACKs cross; both are
 * ESTABLISHED without any timer having run. */
static void test_simultaneous_open_two_stacks(void **st)
{
	(void)st;
	int64_t t0 = KT_SEC;
	struct kn_loop_conf lc = {.seed = 1, .delay_ns = 10000};
	struct kn_loop *link = kn_loop_create(&lc, kt_pool);
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	/* Static ARP, so that both SYNs leave at once. */
	struct kn_static_arp arp_a = {.ip = KT_US_IP}, arp_b = {.ip = KT_PEER_IP};
	memcpy(arp_a.mac, kn_loop_dev(link, 1)->mac, 6);
	memcpy(arp_b.mac, kn_loop_dev(link, 0)->mac, 6);
	ca.static_arp = &arp_a;
	ca.n_static_arp = 1;
	cb.static_arp = &arp_b;
	cb.n_static_arp = 1;
	int err;
	struct kn_stack *a = kn_stack_create(&ca, kn_loop_dev(link, 0), kt_pool, t0, &err);
	struct kn_stack *b = kn_stack_create(&cb, kn_loop_dev(link, 1), kt_pool, t0, &err);
	assert_non_null(a);
	assert_non_null(b);
	struct kt_ev ea = {0}, eb = {0};
	int64_t t = t0;
	kn_loop_set_now(link, t);
	struct kn_tcb *x = kn_tcp_connect(a, KT_US_IP, 5001, 5002, &ea, &err);
	struct kn_tcb *y = kn_tcp_connect(b, KT_PEER_IP, 5002, 5001, &eb, &err);
	assert_non_null(x);
	assert_non_null(y);
	/* The SYNs leave together and cross: each side is SYN-RECEIVED,
	 * its SYN-ACK on the way. */
	kn_stack_poll(a, t);
	kn_stack_poll(b, t);
	t += lc.delay_ns;
	kn_loop_set_now(link, t);
	kn_stack_poll(a, t);
	kn_stack_poll(b, t);
	assert_int_equal(kn_tcp_get_state(x), KN_TCP_SYN_RECEIVED);
	assert_int_equal(kn_tcp_get_state(y), KN_TCP_SYN_RECEIVED);
	/* 10 ms: far below any RTO (1 s before an RTT sample). */
	for (int i = 0; i < 1000; i++) {
		t += 10000;
		kn_loop_set_now(link, t);
		kn_stack_poll(a, t);
		kn_stack_poll(b, t);
	}
	assert_int_equal(kn_tcp_get_state(x), KN_TCP_ESTABLISHED);
	assert_int_equal(kn_tcp_get_state(y), KN_TCP_ESTABLISHED);
	assert_true(ea.events & KN_EV_CONNECTED);
	assert_true(eb.events & KN_EV_CONNECTED);
	assert_int_equal(kn_stack_stats(a)->tcp_rexmt_timeouts, 0);
	assert_int_equal(kn_stack_stats(b)->tcp_rexmt_timeouts, 0);
	assert_int_equal(kn_stack_stats(a)->tcp_resets_tx + kn_stack_stats(b)->tcp_resets_tx, 0);
	/* Data both ways. */
	assert_int_equal(kn_tcp_send(x, "ping", 4), 4);
	assert_int_equal(kn_tcp_send(y, "pong", 4), 4);
	for (int i = 0; i < 100; i++) {
		t += 10000;
		kn_loop_set_now(link, t);
		kn_stack_poll(a, t);
		kn_stack_poll(b, t);
	}
	char buf[8];
	assert_int_equal(kn_tcp_recv(x, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
	assert_int_equal(kn_tcp_recv(y, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	kn_tcp_abort(x);
	kn_tcp_abort(y);
	kn_stack_destroy(a);
	kn_stack_destroy(b);
	kn_loop_destroy(link);
}

/* 7. The RST of an abort carries SND.MAX: after an RTO pulled SND.NXT back,
 * a peer that got everything would find SND.NXT below its RCV.NXT and drop
 * the RST without a word (RFC 5961 §3.2). */
static void test_abort_rst_at_snd_max(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_ws7, sizeof(syn_ws7), 65535);
	assert_int_equal(kn_tcp_send(c, data, 3 * SMSS), 3 * SMSS);
	assert_int_equal(count_data(NULL, NULL), 3);
	tick(c->rto);                 /* the ACKs were lost: RTO */
	uint32_t first;
	assert_int_equal(count_data(NULL, &first), 1);
	assert_int_equal(first, iss + 1);
	kn_tcp_abort(c);
	struct kt_seg r = th_take();
	assert_true(r.flags & KN_TH_RST);
	assert_int_equal(r.seq, iss + 1 + 3 * SMSS);
	close_all(l, NULL);
}

/* 8. RFC 7323 §3.2: with timestamps agreed, a segment without one is
 * dropped (a RST excepted). */
static void test_no_timestamp_dropped(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, syn_ws7, sizeof(syn_ws7), 65535);
	th_peer_ts = false;
	peer_send(KN_TH_ACK | KN_TH_PSH, PISN + 1, iss + 1, 65535, "abcd", 4);
	assert_int_equal(kn_tcp_readable(c), 0);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_NO_TIMESTAMP), 1);
	assert_int_equal(cap.n, 0);
	/* With one: taken. */
	th_peer_ts = true;
	peer_send(KN_TH_ACK | KN_TH_PSH, PISN + 1, iss + 1, 65535, "abcd", 4);
	assert_int_equal(kn_tcp_readable(c), 4);
	/* A RST without one still resets. */
	th_peer_ts = false;
	peer_send(KN_TH_RST, PISN + 5, 0, 0, NULL, 0);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_CLOSED);
	assert_int_equal(kn_tcp_error(c), -ECONNRESET);
	close_all(l, c);
}

/* 9. keepcnt past what keep_probes (uint8_t) counts: clamped to 127 (as
 * Linux's TCP_KEEPCNT), so the connection does end; ooo_max past ooo_n's
 * uint16_t: clamped to 65535. */
static void many_probes(struct kn_stack_conf *c)
{
	c->tcp.keepcnt = 1000;
	c->tcp.keepidle_ns = KT_SEC;
	c->tcp.keepintvl_ns = KT_SEC;
	c->tcp.ooo_max = 1u << 20;
}

static void test_config_clamps(void **st)
{
	(void)st;
	th_teardown(st);
	th_setup(many_probes);
	assert_int_equal(S->conf.tcp.ooo_max, 65535);
	assert_int_equal(S->conf.tcp.keepcnt, 127);
	struct kn_tcb *l, *c;
	open_passive(&l, &c, syn_ws7, sizeof(syn_ws7), 65535);
	kn_tcp_keepalive(c, true);
	unsigned probes = 0;
	for (int i = 0; i < 400 && kn_tcp_get_state(c) != KN_TCP_CLOSED; i++) {
		tick(KT_SEC);
		struct kt_seg s;
		while (take_seg(&s))
			if (!(s.flags & KN_TH_RST))
				probes++;
	}
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_CLOSED);
	assert_int_equal(kn_tcp_error(c), -ETIMEDOUT);
	assert_int_equal(probes, 127);
	close_all(l, c);
}

int main(void)
{
	int rc = kt_eal_init("net-tcp-cc", 8192);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_zero_window_probes_no_fast_rexmt, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_window_shut_by_acked_data_segment, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_shrunk_window_no_fast_rexmt, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_fast_rexmt_past_2_and_4_gib, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_wscale14_ends, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_app_limited, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_idle_restart, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_no_wrap, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_iw_after_syn_rexmt, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_iw_after_synack_rexmt, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_reuse, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_reuse_by_timestamp, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_old_syn_refused, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_reuse_no_timestamps, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_open_two_stacks, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_abort_rst_at_snd_max, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_no_timestamp_dropped, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_config_clamps, th_setup_default, th_teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
