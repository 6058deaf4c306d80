/* TCP state machine, segment by segment: the test plays the peer, builds
 * its segments and reads what the stack sends, on a fake clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_harness.h"
#include "net/wire.h"

#define PISN 1000000u
/* Data per full segment: MSS 1460 less the timestamp option both sides use. */
#define SMSS (1460 - 12)

static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0};

static void expect_nothing(void)
{
	kn_stack_flush(S);
	assert_int_equal(cap.n, 0);
}

/* Passive open up to ESTABLISHED and accepted. @return our ISS. */
static uint32_t open_passive(struct kn_tcb **lp, struct kn_tcb **cp, uint16_t win)
{
	int err;
	*lp = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	assert_non_null(*lp);
	peer_send_opts(KN_TH_SYN, PISN, 0, win, syn_opts, 8);  /* MSS + WS 7 */
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(sa.ack, PISN + 1);
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, win, NULL, 0);
	expect_nothing();
	assert_true(lev.events & KN_EV_ACCEPT);
	*cp = kn_tcp_accept(*lp, &cev);
	assert_non_null(*cp);
	assert_int_equal(kn_tcp_get_state(*cp), KN_TCP_ESTABLISHED);
	return sa.seq;
}

static void test_passive_open_data_delack(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	int err;
	l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	peer_send_opts(KN_TH_SYN, PISN, 0, 65535, syn_opts, 8);
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(sa.ack, PISN + 1);
	assert_true(sa.has_mss);
	assert_int_equal(sa.mss, 1460);
	assert_true(sa.has_ws);
	assert_null(kn_tcp_accept(l, &cev));
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, 1000, NULL, 0);
	c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	/* Data: the ACK is delayed, then sent by the timer. */
	peer_send(KN_TH_ACK | KN_TH_PSH, PISN + 1, sa.seq + 1, 1000, "ping", 4);
	expect_nothing();
	assert_true(cev.events & KN_EV_READABLE);
	tick(conf.tcp.delack_ns - 1);
	expect_nothing();
	tick(1);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(a.ack, PISN + 5);
	char buf[16];
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), -EAGAIN);
	/* Two full segments get an immediate ACK. */
	static uint8_t big[2 * SMSS];
	peer_send(KN_TH_ACK, PISN + 5, sa.seq + 1, 1000, big, SMSS);
	expect_nothing();
	peer_send(KN_TH_ACK, PISN + 5 + SMSS, sa.seq + 1, 1000, big, SMSS);
	a = th_take();
	assert_int_equal(a.ack, PISN + 5 + 2 * SMSS);
	/* A reply carries the ACK. */
	assert_int_equal(kn_tcp_send(c, "pong", 4), 4);
	a = th_take();
	assert_int_equal(a.len, 4);
	assert_memory_equal(a.data, "pong", 4);
	assert_int_equal(a.seq, sa.seq + 1);
	/* The window is scaled: we asked for a shift, the peer offered 7. */
	assert_true(a.win < 65535);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_active_open(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	assert_non_null(c);
	kn_stack_flush(S);
	struct kt_seg syn = th_take();
	assert_int_equal(syn.flags, KN_TH_SYN);
	assert_true(syn.has_mss && syn.has_ws);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_SYN_SENT);
	assert_int_equal(kn_tcp_send(c, "x", 1), -ENOTCONN);
	peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 65535, syn_opts, 8);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(a.ack, PISN + 1);
	assert_int_equal(a.seq, syn.seq + 1);
	assert_true(cev.events & KN_EV_CONNECTED);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	kn_tcp_abort(c);
	struct kt_seg r = th_take();
	assert_int_equal(r.flags & KN_TH_RST, KN_TH_RST);
}

/* Linux's SYN options, in its order: MSS 1460, SACK permitted, timestamps
 * (TSval 5 here), NOP, window scale 7. */
static const uint8_t linux_syn[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 5,
				      0, 0, 0, 0, 1, 3, 3, 7};

/* RFC 9293 §3.5 figure 8, with what a Linux peer sends: its SYN crosses
 * ours, both sides answer with a SYN,ACK carrying their SYN's options.
 * Receiving the peer's SYN,ACK in SYN-RECEIVED completes the open (line 6 of
 * the figure; Linux accepts it the same way, tcp_validate_incoming: a SYN,ACK
 * in SYN_RECV at rcv_nxt - 1 acknowledging snd_nxt "goto pass"), with no
 * further ACK from the peer.
 * Before 526577d kaon dropped that SYN,ACK as unacceptable (SEG.SEQ =
 * RCV.NXT - 1 with SEG.LEN 1 fails the window test; the SYN was trimmed only
 * after it) and waited for an RTO; sync_input now takes it first, as Linux.
 * test_net_tcp_cc runs the same open between two kaon stacks. */
static void test_simultaneous_open(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	kn_stack_flush(S);
	struct kt_seg syn = th_take();
	assert_int_equal(syn.flags, KN_TH_SYN);
	assert_true(syn.has_mss && syn.has_ws && syn.has_ts);
	/* The peer's SYN crosses ours. */
	peer_send_opts(KN_TH_SYN, PISN, 0, 64240, linux_syn, sizeof(linux_syn));
	struct kt_seg sa = th_take();
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_SYN_RECEIVED);
	/* Ours: SYN,ACK of our ISS, with our options again. */
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(sa.seq, syn.seq);
	assert_int_equal(sa.ack, PISN + 1);
	assert_true(sa.has_mss);
	assert_int_equal(sa.mss, syn.mss);
	assert_true(sa.has_ws);
	assert_int_equal(sa.ws, syn.ws);
	assert_true(sa.has_ts);
	assert_int_equal(sa.tsecr, 5);
	assert_false(take_seg(&sa));
	/* The peer's SYN,ACK: its SYN again, acknowledging ours, the same
	 * options, the timestamp echoing our SYN's. */
	uint8_t o[20];
	memcpy(o, linux_syn, sizeof(o));
	o[11] = 6;
	o[12] = (uint8_t)(syn.tsval >> 24);
	o[13] = (uint8_t)(syn.tsval >> 16);
	o[14] = (uint8_t)(syn.tsval >> 8);
	o[15] = (uint8_t)syn.tsval;
	peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 64240, o, sizeof(o));
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	assert_true(cev.events & KN_EV_CONNECTED);
	/* Nothing more is needed; an ACK is allowed, never a RST. */
	struct kt_seg a;
	while (take_seg(&a)) {
		assert_int_equal(a.flags, KN_TH_ACK);
		assert_int_equal(a.seq, syn.seq + 1);
		assert_int_equal(a.ack, PISN + 1);
	}
	/* Data flows with the negotiated options: timestamps echo the peer. */
	assert_int_equal(kn_tcp_send(c, "hi", 2), 2);
	struct kt_seg d = th_take();
	assert_int_equal(d.seq, syn.seq + 1);
	assert_int_equal(d.ack, PISN + 1);
	assert_int_equal(d.len, 2);
	assert_true(d.has_ts);
	assert_int_equal(d.tsecr, 6);
	peer_send(KN_TH_ACK, PISN + 1, syn.seq + 3, 501, "yo", 2);
	char b[4];
	assert_int_equal(kn_tcp_recv(c, b, sizeof(b)), 2);
	assert_memory_equal(b, "yo", 2);
	kn_tcp_abort(c);
	kn_stack_flush(S);
}

static void test_rst_in_syn_received(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	peer_send(KN_TH_SYN, PISN, 0, 65535, NULL, 0);
	struct kt_seg sa = th_take();
	assert_int_equal(kn_stack_tcb_count(S), 2);
	/* In window but not RCV.NXT: challenge ACK, still there. */
	peer_send(KN_TH_RST, PISN + 100, 0, 0, NULL, 0);
	struct kt_seg ch = th_take();
	assert_int_equal(ch.flags, KN_TH_ACK);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RST_CHALLENGE), 1);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	/* At RCV.NXT: back to LISTEN only. */
	peer_send(KN_TH_RST, PISN + 1, 0, 0, NULL, 0);
	expect_nothing();
	assert_int_equal(kn_stack_tcb_count(S), 1);
	assert_null(kn_tcp_accept(l, NULL));
	(void)sa;
	/* The listener still works. */
	peer_send(KN_TH_SYN, PISN + 5000, 0, 65535, NULL, 0);
	sa = th_take();
	assert_int_equal(sa.ack, PISN + 5001);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
	assert_int_equal(kn_stack_tcb_count(S), 0);
}

static void test_old_duplicate_syn(void **st)
{
	(void)st;
	int err;
	/* SYN-SENT: an old SYN,ACK with a wrong ACK gets a RST, the
	 * connection waits for the right one (RFC 9293 fig. 8). */
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	kn_stack_flush(S);
	struct kt_seg syn = th_take();
	peer_send(KN_TH_SYN | KN_TH_ACK, 777, syn.seq + 5000, 65535, NULL, 0);
	struct kt_seg r = th_take();
	assert_int_equal(r.flags, KN_TH_RST);
	assert_int_equal(r.seq, syn.seq + 5000);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_SYN_SENT);
	peer_send(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 65535, NULL, 0);
	th_take();
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	/* ESTABLISHED: an old SYN outside the window is ACKed, one inside gets
	 * a challenge ACK; the connection stays. */
	peer_send(KN_TH_SYN, PISN - 100000, 0, 65535, NULL, 0);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(a.ack, PISN + 1);
	tick(KT_SEC); /* past the per-connection limit on such ACKs (500 ms) */
	peer_send(KN_TH_SYN, PISN + 10, 0, 65535, NULL, 0);
	a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_SYN_CHALLENGE), 1);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	kn_tcp_abort(c);
	kn_stack_flush(S);
}

/* A SYN that straddles RCV.NXT with data is not an old SYN to trim: RFC
 * 9293 §3.10.7.4 answers a SYN in a synchronized state with a challenge ACK
 * whatever its sequence number, and takes none of its data. Trimming it as
 * an old SYN once made the data start one byte later than the peer sent it
 * (found by fuzz_net_rx: the application read shifted bytes). */
static void test_syn_straddling_rcv_nxt(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 1000);
	static const char data[] = "0123456789abcdefghij";
	peer_send(KN_TH_SYN | KN_TH_ACK | KN_TH_PSH, PISN + 1 - 5, iss + 1, 1000, data, 20);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(a.ack, PISN + 1);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_SYN_CHALLENGE), 1);
	assert_int_equal(kn_tcp_readable(c), 0);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	/* The same bytes without the SYN are taken from where they belong. */
	peer_send(KN_TH_ACK | KN_TH_PSH, PISN + 1 - 5, iss + 1, 1000, data, 20);
	char buf[32];
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 15);
	assert_memory_equal(buf, data + 5, 15);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_rst_rules(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 1000);
	/* Outside the window: ignored. */
	peer_send(KN_TH_RST, PISN + 1 + 10000000, 0, 0, NULL, 0);
	expect_nothing();
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RST_INVALID), 1);
	/* In window, not exact: challenge ACK. */
	peer_send(KN_TH_RST, PISN + 2, 0, 0, NULL, 0);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(a.ack, PISN + 1);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	/* Exact: reset. */
	peer_send(KN_TH_RST, PISN + 1, 0, 0, NULL, 0);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_CLOSED);
	assert_true(cev.events & KN_EV_CLOSED);
	assert_int_equal(cev.err, -ECONNRESET);
	assert_int_equal(kn_tcp_send(c, "x", 1), -ECONNRESET);
	assert_int_equal(kn_tcp_recv(c, &a, 1), -ECONNRESET);
	kn_tcp_close(c);
	/* No socket: RST with the right numbers. */
	peer_send(KN_TH_ACK, 5, iss + 77, 100, "zz", 2);
	a = th_take();
	assert_int_equal(a.flags, KN_TH_RST);
	assert_int_equal(a.seq, iss + 77);
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = 81,
			   .seq = 50, .flags = KN_TH_SYN, .win = 100};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
	a = th_take();
	assert_int_equal(a.flags, KN_TH_RST | KN_TH_ACK);
	assert_int_equal(a.ack, 51);
	assert_int_equal(a.seq, 0);
	/* A RST never answers a RST. */
	t.flags = KN_TH_RST;
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
	expect_nothing();
	kn_tcp_close(l);
}

static void test_syn_retransmit_timing(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	kn_stack_flush(S);
	struct kt_seg syn = th_take();
	/* RFC 6298: 1 s, then doubling. */
	int64_t rto = conf.tcp.rto_init_ns;
	for (unsigned i = 0; i < conf.tcp.syn_retries; i++) {
		tick(rto - 1);
		expect_nothing();
		tick(1);
		struct kt_seg r = th_take();
		assert_int_equal(r.flags, KN_TH_SYN);
		assert_int_equal(r.seq, syn.seq);
		rto *= 2;
	}
	tick(rto);
	expect_nothing();
	assert_true(cev.events & KN_EV_CLOSED);
	assert_int_equal(cev.err, -ETIMEDOUT);
	kn_tcp_close(c);
	assert_int_equal(kn_stack_tcb_count(S), 0);
}

/* Karn's algorithm is for connections without timestamps (with them every
 * ACK echoes the segment it answers, RFC 7323 §4): timestamps off here. */
static void test_data_retransmit_karn(void **st)
{
	(void)st;
	th_peer_ts = false;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	assert_int_equal(kn_tcp_send(c, "abcdef", 6), 6);
	struct kt_seg d = th_take();
	assert_int_equal(d.seq, iss + 1);
	/* No sample yet (handshake gave one: 0 ns, so RTO = minimum). */
	tick(conf.tcp.rto_min_ns - 1);
	expect_nothing();
	tick(1);
	struct kt_seg r = th_take();
	assert_int_equal(r.seq, iss + 1);
	assert_int_equal(r.len, 6);
	assert_memory_equal(r.data, "abcdef", 6);
	/* Backed off: twice the RTO. */
	tick(2 * conf.tcp.rto_min_ns - 1);
	expect_nothing();
	tick(1);
	th_take();
	/* An ACK after retransmission gives no RTT sample (Karn), and stops
	 * the timer. */
	tick(10 * KT_MS);
	peer_send(KN_TH_ACK, PISN + 1, iss + 7, 65535, NULL, 0);
	expect_nothing();
	tick(10 * KT_SEC);
	expect_nothing();
	assert_int_equal(kn_stack_stats(S)->tcp_rexmt_timeouts, 2);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

/* With timestamps the handshake's ACK echoes the SYN,ACK's TSval: an RTT
 * sample (0 here), as without timestamps the timed SYN,ACK gives one, and as
 * Linux takes it (tcp_synack_rtt_meas). The first data segment's RTO is then
 * the minimum, not the initial 1 s.
 * FAILS today (stack bug): tcp_output.c ~318 times segments only without
 * TF_TS, and the handshake paths (tcp_input.c ~282 SYN-SENT, ~614
 * SYN-RECEIVED) sample only rttstart, never the echoed TSecr. */
static void test_handshake_rtt_sample_with_timestamps(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	assert_int_equal(kn_tcp_send(c, "abcdef", 6), 6);
	struct kt_seg d = th_take();
	assert_true(d.has_ts);
	tick(conf.tcp.rto_min_ns - 1);
	expect_nothing();
	tick(1);
	struct kt_seg r = th_take();
	assert_int_equal(r.seq, iss + 1);
	assert_int_equal(r.len, 6);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_fast_retransmit_newreno(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	static uint8_t data[10 * SMSS];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), (ssize_t)sizeof(data));
	kn_stack_flush(S);
	/* Initial window 10 segments: all go. */
	assert_int_equal(cap.n, 10);
	kt_cap_clear(&cap);
	uint32_t una = iss + 1;
	/* Segments 1 and 3 lost: three dup ACKs for the first. */
	for (int i = 0; i < 3; i++)
		peer_send(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0);
	struct kt_seg r = th_take();
	assert_int_equal(r.seq, una);
	assert_int_equal(r.len, SMSS);
	assert_int_equal(kn_stack_stats(S)->tcp_fast_rexmt, 1);
	kt_cap_clear(&cap);
	/* Partial ACK up to the second hole: it is resent at once. */
	peer_send(KN_TH_ACK, PISN + 1, una + 2 * SMSS, 65535, NULL, 0);
	r = th_take();
	assert_int_equal(r.seq, una + 2 * SMSS);
	kt_cap_clear(&cap);
	/* Full ACK: recovery ends, nothing outstanding. */
	peer_send(KN_TH_ACK, PISN + 1, una + 10 * SMSS, 65535, NULL, 0);
	kt_cap_clear(&cap);
	tick(5 * KT_SEC);
	expect_nothing();
	assert_int_equal(kn_tcp_writable(c), conf.tcp.sndbuf);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_active_close_time_wait(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	assert_int_equal(kn_tcp_shutdown(c), 0);
	struct kt_seg f = th_take();
	assert_int_equal(f.flags, KN_TH_FIN | KN_TH_ACK);
	assert_int_equal(f.seq, iss + 1);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_FIN_WAIT_1);
	assert_int_equal(kn_tcp_send(c, "x", 1), -EPIPE);
	peer_send(KN_TH_ACK, PISN + 1, iss + 2, 65535, NULL, 0);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_FIN_WAIT_2);
	/* Still readable in FIN-WAIT-2. */
	peer_send(KN_TH_ACK, PISN + 1, iss + 2, 65535, "late", 4);
	peer_send(KN_TH_FIN | KN_TH_ACK, PISN + 5, iss + 2, 65535, NULL, 0);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 6);
	kt_cap_clear(&cap);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_TIME_WAIT);
	char buf[8];
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 4);
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 0);
	kn_tcp_close(c);
	/* A retransmitted FIN is ACKed again. */
	tick(10 * KT_SEC);
	peer_send(KN_TH_FIN | KN_TH_ACK, PISN + 5, iss + 2, 65535, NULL, 0);
	a = th_take();
	assert_int_equal(a.ack, PISN + 6);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	tick(conf.tcp.time_wait_ns - 1);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	tick(1);
	assert_int_equal(kn_stack_tcb_count(S), 1);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_closed, 1);
	kn_tcp_close(l);
}

static void test_passive_close(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	peer_send(KN_TH_FIN | KN_TH_ACK, PISN + 1, iss + 1, 65535, NULL, 0);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 2);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_CLOSE_WAIT);
	assert_true(cev.events & KN_EV_READABLE);
	char b[4];
	assert_int_equal(kn_tcp_recv(c, b, sizeof(b)), 0);
	assert_int_equal(kn_tcp_send(c, "bye", 3), 3);
	th_take();
	kn_tcp_close(c);
	struct kt_seg f = th_take();
	assert_int_equal(f.flags, KN_TH_FIN | KN_TH_ACK);
	assert_int_equal(f.seq, iss + 4);
	peer_send(KN_TH_ACK, PISN + 2, iss + 5, 65535, NULL, 0);
	assert_int_equal(kn_stack_tcb_count(S), 1);
	kn_tcp_close(l);
}

static void test_simultaneous_close(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	kn_tcp_shutdown(c);
	th_take();
	peer_send(KN_TH_FIN | KN_TH_ACK, PISN + 1, iss + 1, 65535, NULL, 0);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_CLOSING);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 2);
	peer_send(KN_TH_ACK, PISN + 2, iss + 2, 65535, NULL, 0);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_TIME_WAIT);
	kn_tcp_close(c);
	tick(conf.tcp.time_wait_ns);
	assert_int_equal(kn_stack_tcb_count(S), 1);
	kn_tcp_close(l);
}

/* kn_stats.tcp_states, the gauges telemetry shows (ss -s): @p want[state]
 * TCBs in each state, and they match the TCBs there are. */
static void states_are(int line, const uint64_t want[KN_TCP_NSTATES])
{
	const struct kn_stats *st = kn_stack_stats(S);
	for (int i = 0; i < KN_TCP_NSTATES; i++) {
		if (st->tcp_states[i] != want[i])
			print_message("line %d: %s: %llu, wanted %llu\n", line,
				      kn_tcp_state_name((enum kn_tcp_state)i),
				      (unsigned long long)st->tcp_states[i],
				      (unsigned long long)want[i]);
		assert_int_equal(st->tcp_states[i], want[i]);
	}
	th_check_states();
}
#define STATES(...) states_are(__LINE__, (const uint64_t[KN_TCP_NSTATES]){ __VA_ARGS__ })

/* Each transition moves one TCB from one gauge to another: a passive open
 * and close, an active open and close through TIME-WAIT, an abort. */
static void test_state_gauges(void **st)
{
	(void)st;
	int err;
	STATES(0);
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	STATES([KN_TCP_LISTEN] = 1);
	peer_send_opts(KN_TH_SYN, PISN, 0, 65535, syn_opts, 8);
	struct kt_seg sa = th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_SYN_RECEIVED] = 1);
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0);
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_ESTABLISHED] = 1);
	struct kn_tcb *p = kn_tcp_accept(l, &cev);
	assert_non_null(p);
	/* The peer closes: CLOSE-WAIT, then LAST-ACK, then gone. */
	peer_send(KN_TH_FIN | KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0);
	th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_CLOSE_WAIT] = 1);
	kn_tcp_close(p);
	struct kt_seg f = th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_LAST_ACK] = 1);
	peer_send(KN_TH_ACK, PISN + 2, f.seq + 1, 65535, NULL, 0);
	STATES([KN_TCP_LISTEN] = 1);

	/* Active open (the harness's peer talks to our port LPORT); we close
	 * first: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT. */
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	assert_non_null(c);
	kn_stack_flush(S);
	struct kt_seg syn = th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_SYN_SENT] = 1);
	peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 65535, syn_opts, 8);
	th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_ESTABLISHED] = 1);
	kn_tcp_shutdown(c);
	f = th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_FIN_WAIT_1] = 1);
	peer_send(KN_TH_ACK, PISN + 1, f.seq + 1, 65535, NULL, 0);
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_FIN_WAIT_2] = 1);
	peer_send(KN_TH_FIN | KN_TH_ACK, PISN + 1, f.seq + 1, 65535, NULL, 0);
	th_take();
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_TIME_WAIT] = 1);
	kn_tcp_close(c);
	tick(conf.tcp.time_wait_ns);
	STATES([KN_TCP_LISTEN] = 1);

	/* Reset by the peer while the application holds it: CLOSED until closed. */
	c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	kn_stack_flush(S);
	syn = th_take();
	peer_send(KN_TH_RST | KN_TH_ACK, 0, syn.seq + 1, 0, NULL, 0);
	STATES([KN_TCP_LISTEN] = 1, [KN_TCP_CLOSED] = 1);
	kn_tcp_close(c);
	kn_tcp_close(l);
	STATES(0);
}

static void test_zero_window_persist(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	/* The peer closes its window. */
	assert_int_equal(kn_tcp_send(c, "0123456789", 10), 10);
	th_take();
	peer_send(KN_TH_ACK, PISN + 1, iss + 11, 0, NULL, 0);
	assert_int_equal(kn_tcp_send(c, "abc", 3), 3);
	expect_nothing();
	/* Persist timer: a one-byte probe. */
	tick(KT_SEC);
	struct kt_seg p = th_take();
	assert_int_equal(p.len, 1);
	assert_int_equal(p.seq, iss + 11);
	assert_int_equal(kn_stack_stats(S)->tcp_persist_probes, 1);
	/* Still zero: probes back off, the connection is not dropped. */
	peer_send(KN_TH_ACK, PISN + 1, iss + 11, 0, NULL, 0);
	tick(2 * KT_SEC);
	kt_cap_clear(&cap);
	tick(60 * KT_SEC);
	kt_cap_clear(&cap);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	/* The window opens: the rest goes. */
	peer_send(KN_TH_ACK, PISN + 1, iss + 11, 1000, NULL, 0);
	struct kt_seg d = th_take();
	assert_int_equal(d.seq, iss + 11);
	assert_int_equal(d.len, 3);
	/* A shrunk window is honoured: nothing past it goes out. */
	peer_send(KN_TH_ACK, PISN + 1, iss + 14, 4 * 128 / 128, NULL, 0);
	static uint8_t big[4000];
	assert_int_equal(kn_tcp_send(c, big, sizeof(big)), (ssize_t)sizeof(big));
	uint32_t sent = 0;
	while (cap.n)
		sent += th_take().len;
	assert_true(sent <= 4u << 7);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_out_of_order(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	peer_send(KN_TH_ACK, PISN + 1 + 5, iss + 1, 65535, "world", 5);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 1); /* immediate duplicate ACK */
	peer_send(KN_TH_ACK, PISN + 1 + 5, iss + 1, 65535, "world", 5); /* duplicate */
	th_take();
	peer_send(KN_TH_ACK, PISN + 1, iss + 1, 65535, "hello", 5);
	a = th_take();
	assert_int_equal(a.ack, PISN + 11);
	char buf[16];
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "helloworld", 10);
	/* Overlapping retransmission: only the new part counts. */
	peer_send(KN_TH_ACK, PISN + 8, iss + 1, 65535, "rldABC", 6);
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "ABC", 3);
	/* The queue is bounded. */
	for (unsigned i = 0; i < conf.tcp.ooo_max + 5; i++)
		peer_send(KN_TH_ACK, PISN + 100 + 10 * i, iss + 1, 65535, "x", 1);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_OOO_FULL), 5);
	kt_cap_clear(&cap);
	/* Close with unread data: RST. */
	peer_send(KN_TH_ACK, PISN + 14, iss + 1, 65535, "unread", 6);
	kt_cap_clear(&cap);
	kn_tcp_close(c);
	struct kt_seg r = th_take();
	assert_true(r.flags & KN_TH_RST);
	kn_tcp_close(l);
}

static void test_listen_queues_bounded(void **st)
{
	(void)st;
	int err;
	conf.tcp.syn_backlog = 2;
	conf.tcp.syncookies = false;   /* cookies: see test_net_attack */
	kn_stack_destroy(S);
	S = kt_stack(&cap, &conf, now);
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 1, &lev, &err);
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .dport = LPORT, .flags = KN_TH_SYN, .win = 1000};
	uint32_t iss[3];
	for (int i = 0; i < 3; i++) {
		t.sport = (uint16_t)(1000 + i);
		t.seq = 100;
		kn_stack_input(S, kt_tcp_frame(&t), now);
		kn_stack_flush(S);
	}
	/* Two SYNs held; the third evicts the oldest half-open one. */
	assert_int_equal(cap.n, 3);
	assert_int_equal(kn_stack_stats(S)->tcp_synq_evicted, 1);
	assert_int_equal(kn_stack_tcb_count(S), 3);
	for (int i = 0; i < 3; i++) {
		struct kt_seg sa = th_take();
		iss[i] = sa.seq;
	}
	/* The evicted one's ACK finds no TCB: RST. */
	t.sport = 1000;
	t.seq = 101;
	t.ack = iss[0] + 1;
	t.flags = KN_TH_ACK;
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
	struct kt_seg r = th_take();
	assert_true(r.flags & KN_TH_RST);
	/* Both others complete; the accept queue holds one: the other ACK is
	 * dropped and that connection stays in SYN-RECEIVED. */
	for (int i = 1; i < 3; i++) {
		t.sport = (uint16_t)(1000 + i);
		t.seq = 101;
		t.ack = iss[i] + 1;
		t.flags = KN_TH_ACK;
		kn_stack_input(S, kt_tcp_frame(&t), now);
		kn_stack_flush(S);
	}
	assert_int_equal(kt_drops(S, KN_DROP_TCP_LISTEN_OVERFLOW), 1);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	assert_null(kn_tcp_accept(l, &cev));
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
	assert_int_equal(kn_stack_tcb_count(S), 0);
}

static void test_timestamps_paws(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	uint8_t o[20];
	memcpy(o, syn_opts, sizeof(syn_opts));
	peer_send_opts(KN_TH_SYN, PISN, 0, 65535, o, 20);  /* TS val 5 */
	struct kt_seg sa = th_take();
	assert_true(sa.has_ts);
	assert_int_equal(sa.tsecr, 5);
	static const uint8_t ts10[12] = {1, 1, 8, 10, 0, 0, 0, 10, 0, 0, 0, 0};
	peer_send_opts(KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, ts10, 12);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	/* An older timestamp: PAWS drops it and ACKs. */
	static const uint8_t ts3[12] = {1, 1, 8, 10, 0, 0, 0, 3, 0, 0, 0, 0};
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = LPORT,
			   .seq = PISN + 1, .ack = sa.seq + 1, .flags = KN_TH_ACK, .win = 65535,
			   .opt = ts3, .optlen = 12, .data = "old", .len = 3};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_PAWS), 1);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 1);
	assert_int_equal(a.tsecr, 10);
	assert_int_equal(kn_tcp_readable(c), 0);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_keepalive(void **st)
{
	(void)st;
	conf.tcp.keepidle_ns = 10 * KT_SEC;
	conf.tcp.keepintvl_ns = KT_SEC;
	conf.tcp.keepcnt = 3;
	kn_stack_destroy(S);
	S = kt_stack(&cap, &conf, now);
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	kn_tcp_keepalive(c, true);
	tick(10 * KT_SEC);
	struct kt_seg p = th_take();
	assert_int_equal(p.seq, iss);  /* SND.NXT - 1 */
	/* Answered: the idle clock restarts. */
	peer_send(KN_TH_ACK, PISN + 1, iss + 1, 65535, NULL, 0);
	tick(KT_SEC);
	expect_nothing();
	/* Unanswered: dropped after keepcnt probes. */
	for (int i = 0; i < 12; i++)
		tick(KT_SEC);
	assert_true(cev.events & KN_EV_CLOSED);
	assert_int_equal(cev.err, -ETIMEDOUT);
	kt_cap_clear(&cap);
	kn_tcp_close(c);
	kn_tcp_close(l);
}

int main(void)
{
	int rc = kt_eal_init("net-tcp", 2048);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passive_open_data_delack, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_active_open, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_open, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_rst_in_syn_received, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_old_duplicate_syn, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_syn_straddling_rcv_nxt, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_rst_rules, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_syn_retransmit_timing, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_data_retransmit_karn, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_rtt_sample_with_timestamps, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_fast_retransmit_newreno, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_active_close_time_wait, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_passive_close, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_close, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_state_gauges, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_zero_window_persist, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_listen_queues_bounded, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_timestamps_paws, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, th_setup_default, th_teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
