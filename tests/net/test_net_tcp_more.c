/* More TCP behaviour, segment by segment: Nagle, path MTU from ICMP,
 * our own zero window and window updates, data after close, orphaned
 * FIN-WAIT-2, challenge-ACK rate limit, ICMP port unreachable in SYN-SENT. */
#include <string.h>

#include "tcp_harness.h"
#include "net/wire.h"

#define PISN 5000u
/* Data per full segment: MSS 1460 less the timestamp option both sides use. */
#define SMSS (1460 - 12)

static void small_window(struct kn_stack_conf *c)
{
	c->tcp.wscale = false;
	c->tcp.rcvbuf = 8192;
}

static int setup(void **st)
{
	(void)st;
	th_setup(small_window);
	return 0;
}

static int teardown(void **st)
{
	return th_teardown(st);
}

static uint32_t open_passive(struct kn_tcb **lp, struct kn_tcb **cp, uint16_t win)
{
	int err;
	static const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
	*lp = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	peer_send_opts(KN_TH_SYN, PISN, 0, win, mss, 4);
	struct kt_seg sa;
	assert_true(take_seg(&sa));
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, win, NULL, 0);
	*cp = kn_tcp_accept(*lp, &cev);
	assert_non_null(*cp);
	return sa.seq;
}

static void test_nagle(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	kn_tcp_nagle(c, true);
	struct kt_seg s;
	kn_tcp_send(c, "a", 1);
	assert_true(take_seg(&s));  /* nothing in flight: goes */
	kn_tcp_send(c, "b", 1);
	kn_tcp_send(c, "c", 1);
	assert_false(take_seg(&s)); /* held until the ACK */
	peer_send(KN_TH_ACK, PISN + 1, iss + 2, 65535, NULL, 0);
	assert_true(take_seg(&s));
	assert_int_equal(s.len, 2);
	assert_memory_equal(s.data, "bc", 2);
	/* Off (the default): small writes go at once. */
	kn_tcp_nagle(c, false);
	kn_tcp_send(c, "d", 1);
	kn_tcp_send(c, "e", 1);
	assert_true(take_seg(&s));
	assert_true(take_seg(&s));
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_pmtu_from_icmp(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	static uint8_t big[3000];
	kn_tcp_send(c, big, sizeof(big));
	struct kt_seg s;
	assert_true(take_seg(&s));
	assert_int_equal(s.len, SMSS);
	kt_cap_clear(&cap);
	/* Fragmentation needed, MTU 1000, quoting our first segment. */
	uint8_t icmp[8 + 28];
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = KN_ICMP_UNREACH;
	icmp[1] = KN_ICMP_UNREACH_NEEDFRAG;
	icmp[6] = 1000 >> 8;
	icmp[7] = 1000 & 0xff;
	struct kn_ip4_hdr *in = (struct kn_ip4_hdr *)(icmp + 8);
	in->ver_ihl = 0x45;
	in->proto = KN_IPPROTO_TCP;
	in->src = rte_cpu_to_be_32(KT_US_IP);
	in->dst = rte_cpu_to_be_32(KT_PEER_IP);
	uint8_t *th = icmp + 28;
	th[0] = LPORT >> 8;
	th[1] = LPORT & 0xff;
	th[2] = PPORT >> 8;
	th[3] = PPORT & 0xff;
	uint32_t seq = iss + 1;
	th[4] = (uint8_t)(seq >> 24);
	th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8);
	th[7] = (uint8_t)seq;
	uint32_t sum = 0;
	for (unsigned i = 0; i < sizeof(icmp); i += 2)
		sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	icmp[2] = (uint8_t)(~sum >> 8);
	icmp[3] = (uint8_t)~sum;
	kn_stack_input(S, kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_ICMP, 9, 0, icmp, sizeof(icmp)), now);
	assert_true(take_seg(&s));
	assert_int_equal(s.seq, iss + 1);
	assert_int_equal(s.len, 1000 - 40 - 12);
	assert_int_equal(kn_stack_stats(S)->icmp_pmtu, 1);
	/* A forged one (sequence not in flight) is ignored. */
	kt_cap_clear(&cap);
	seq = iss + 100000;
	th[4] = (uint8_t)(seq >> 24);
	th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8);
	th[7] = (uint8_t)seq;
	icmp[2] = icmp[3] = 0;
	icmp[6] = 600 >> 8;
	icmp[7] = 600 & 0xff;
	sum = 0;
	for (unsigned i = 0; i < sizeof(icmp); i += 2)
		sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	icmp[2] = (uint8_t)(~sum >> 8);
	icmp[3] = (uint8_t)~sum;
	kn_stack_input(S, kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_ICMP, 9, 0, icmp, sizeof(icmp)), now);
	assert_false(take_seg(&s));
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_our_zero_window(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	static uint8_t d[SMSS];
	struct kt_seg s;
	/* Fill the 8 KiB receive buffer. */
	uint32_t seq = PISN + 1;
	for (int i = 0; i < 5; i++) {
		peer_send(KN_TH_ACK, seq, iss + 1, 65535, d, SMSS);
		seq += SMSS;
	}
	peer_send(KN_TH_ACK, seq, iss + 1, 65535, d, 8192 - 5 * SMSS);
	seq = PISN + 1 + 8192;
	/* Everything is acknowledged (at once or by the delayed-ACK timer),
	 * the last ACK closing the window. */
	tick(conf.tcp.delack_ns);
	struct kt_seg last = {0};
	while (take_seg(&s))
		last = s;
	assert_int_equal(last.flags, KN_TH_ACK);
	assert_int_equal(last.ack, seq);
	assert_int_equal(last.win, 0);
	/* Past the window: dropped, ACKed with window 0. */
	peer_send(KN_TH_ACK, seq, iss + 1, 65535, d, 100);
	assert_true(take_seg(&s));
	assert_int_equal(s.win, 0);
	assert_int_equal(s.ack, seq);
	/* Reading opens it: a window update goes out. */
	static uint8_t buf[8192];
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 8192);
	assert_true(take_seg(&s));
	assert_int_equal(s.flags, KN_TH_ACK);
	assert_true(s.win >= 4096);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_data_after_close_resets(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	kn_tcp_close(c);
	struct kt_seg s;
	assert_true(take_seg(&s));
	assert_true(s.flags & KN_TH_FIN);
	peer_send(KN_TH_ACK, PISN + 1, iss + 1, 65535, "more", 4);
	assert_true(take_seg(&s));
	assert_true(s.flags & KN_TH_RST);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_CLOSED_SOCKET), 1);
	assert_int_equal(kn_stack_tcb_count(S), 1);
	kn_tcp_close(l);
}

static void test_orphan_fin_wait_2(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	kn_tcp_close(c);
	struct kt_seg s;
	assert_true(take_seg(&s));
	peer_send(KN_TH_ACK, PISN + 1, iss + 2, 65535, NULL, 0);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	tick(61 * KT_SEC);
	assert_int_equal(kn_stack_tcb_count(S), 1);
	kn_tcp_close(l);
}

static void test_challenge_ack_limit(void **st)
{
	(void)st;
	/* The stack-wide budget alone (no per-connection limit): 5/2 + [0, 5)
	 * a second, drawn at random each second. */
	conf.tcp.challenge_ack_limit = 5;
	conf.tcp.invalid_ratelimit_ns = 0;
	kn_stack_destroy(S);
	S = kt_stack(&cap, &conf, now);
	struct kn_tcb *l, *c;
	open_passive(&l, &c, 65535);
	for (int i = 0; i < 20; i++)
		peer_send(KN_TH_RST, PISN + 10 + (uint32_t)i, 0, 0, NULL, 0);
	assert_in_range(cap.n, 2, 6);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_RST_CHALLENGE), 20);
	kt_cap_clear(&cap);
	tick(KT_SEC);
	peer_send(KN_TH_RST, PISN + 10, 0, 0, NULL, 0);
	assert_int_equal(cap.n, 1);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_icmp_refused_in_syn_sent(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	struct kt_seg syn;
	assert_true(take_seg(&syn));
	uint8_t icmp[8 + 28] = {KN_ICMP_UNREACH, KN_ICMP_UNREACH_PORT};
	struct kn_ip4_hdr *in = (struct kn_ip4_hdr *)(icmp + 8);
	in->ver_ihl = 0x45;
	in->proto = KN_IPPROTO_TCP;
	in->src = rte_cpu_to_be_32(KT_US_IP);
	in->dst = rte_cpu_to_be_32(KT_PEER_IP);
	uint8_t *th = icmp + 28;
	th[0] = LPORT >> 8;
	th[1] = LPORT & 0xff;
	th[2] = PPORT >> 8;
	th[3] = PPORT & 0xff;
	th[4] = (uint8_t)(syn.seq >> 24);
	th[5] = (uint8_t)(syn.seq >> 16);
	th[6] = (uint8_t)(syn.seq >> 8);
	th[7] = (uint8_t)syn.seq;
	uint32_t sum = 0;
	for (unsigned i = 0; i < sizeof(icmp); i += 2)
		sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	icmp[2] = (uint8_t)(~sum >> 8);
	icmp[3] = (uint8_t)~sum;
	kn_stack_input(S, kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_ICMP, 9, 0, icmp, sizeof(icmp)), now);
	assert_true(cev.events & KN_EV_CLOSED);
	assert_int_equal(cev.err, -ECONNREFUSED);
	kn_tcp_close(c);
	assert_int_equal(kn_stack_tcb_count(S), 0);
}

static void test_udp_between_stacks(void **st)
{
	(void)st;
	struct kn_loop_conf lc = {.seed = 3, .delay_ns = 1000};
	struct kn_loop *link = kn_loop_create(&lc, kt_pool);
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	int err;
	struct kn_stack *a = kn_stack_create(&ca, kn_loop_dev(link, 0), kt_pool, now, &err);
	struct kn_stack *b = kn_stack_create(&cb, kn_loop_dev(link, 1), kt_pool, now, &err);
	struct kt_ev ev = {0};
	struct kn_udp *ua = kn_udp_bind(a, 0, NULL, &err);
	struct kn_udp *ub = kn_udp_bind(b, 53, &ev, &err);
	assert_int_equal(kn_udp_sendto(ua, "question", 8, KT_US_IP, 53), 8);
	for (int i = 0; i < 10; i++) {
		now += 1000;
		kn_loop_set_now(link, now);
		kn_stack_poll(a, now);
		kn_stack_poll(b, now);
	}
	/* ARP resolved on the way, the datagram arrived. */
	assert_true(ev.events & KN_EV_READABLE);
	char buf[16];
	uint32_t ip;
	uint16_t port;
	assert_int_equal(kn_udp_recvfrom(ub, buf, sizeof(buf), &ip, &port), 8);
	assert_int_equal(ip, KT_PEER_IP);
	assert_true(port >= 49152);
	kn_udp_close(ua);
	kn_udp_close(ub);
	kn_stack_destroy(a);
	kn_stack_destroy(b);
	kn_loop_destroy(link);
}

/* Sender SWS avoidance holds a small window back, but not forever: with
 * nothing in flight, the persist timer forces a segment (found by the chaos
 * test: a connection with queued data, a small window and no timer). */
static void test_small_window_not_stuck(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	static uint8_t d[3000];
	struct kt_seg s;
	assert_int_equal(kn_tcp_send(c, d, 1000), 1000);
	assert_true(take_seg(&s));
	peer_send(KN_TH_ACK, PISN + 1, iss + 1001, 500, NULL, 0);
	assert_int_equal(kn_tcp_send(c, d, sizeof(d)), (ssize_t)sizeof(d));
	assert_false(take_seg(&s));         /* 500 < MSS and < half the max window */
	tick(KT_SEC);
	assert_true(take_seg(&s));
	assert_int_equal(s.seq, iss + 1001);
	assert_int_equal(s.len, 500);
	/* That segment is timed like any other: lost, it comes back. */
	tick(2 * KT_SEC);
	assert_true(take_seg(&s));
	assert_int_equal(s.seq, iss + 1001);
	kt_cap_clear(&cap);
	peer_send(KN_TH_ACK, PISN + 1, iss + 1501, 65535, NULL, 0);
	/* After the timeout the congestion window is one segment. */
	assert_true(take_seg(&s));
	assert_int_equal(s.len, SMSS);
	assert_false(take_seg(&s));
	peer_send(KN_TH_ACK, PISN + 1, iss + 1501 + SMSS, 65535, NULL, 0);
	assert_true(take_seg(&s));
	assert_int_equal(s.len, 2500 - SMSS);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void wide_window(struct kn_stack_conf *c)
{
	c->tcp.wscale = false;
	c->tcp.rcvbuf = 60000;
}

static int setup_wide(void **st)
{
	(void)st;
	th_setup(wide_window);
	return 0;
}

/* One request/response round: the peer sends @n bytes at *@seq, the
 * application reads them if @read, and answers @n bytes. @return our reply. */
static struct kt_seg window_round(struct kn_tcb *c, uint32_t *seq, uint32_t ack, uint32_t n,
				  bool read)
{
	static const uint8_t req[16] = "0123456789abcdef";
	uint8_t buf[16];
	peer_send(KN_TH_ACK, *seq, ack, 65535, req, n);
	*seq += n;
	if (read)
		assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), (ssize_t)n);
	assert_int_equal(kn_tcp_send(c, req, n), (ssize_t)n);
	struct kt_seg s;
	assert_true(take_seg(&s));
	assert_int_equal(s.ack, *seq);
	assert_int_equal(s.len, n);
	struct kt_seg more;
	assert_false(take_seg(&more));
	return s;
}

/* The window on request/response replies (adv_window_lazy in
 * tcp_output.c): the field stays the same while the application reads
 * everything (the right edge moves with RCV.NXT, so the peer's header
 * prediction holds), and the right edge stays put, not moving with
 * RCV.NXT, while data waits unread: the reused window must not promise
 * room the queue took. */
static void test_window_on_replies(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	uint32_t seq = PISN + 1, ack = iss + 1;
	struct kt_seg s = window_round(c, &seq, ack, 10, true);
	ack += 10;
	uint16_t win = s.win;
	uint32_t edge = s.ack + s.win;
	assert_true(win >= 59000);
	for (int i = 0; i < 20; i++) {
		s = window_round(c, &seq, ack, 10, true);
		ack += 10;
		assert_int_equal(s.win, win);
		assert_int_equal(s.ack + s.win, edge + 10);
		edge += 10;
	}
	/* Unread: the queue holds a buffer, the space shrank by more than
	 * the 10 bytes RCV.NXT moved, the edge stays. */
	s = window_round(c, &seq, ack, 10, false);
	ack += 10;
	assert_int_equal(s.ack + s.win, edge);
	s = window_round(c, &seq, ack, 10, false);
	ack += 10;
	assert_int_equal(s.ack + s.win, edge);
	/* Read: it moves again, never back. */
	uint8_t buf[64];
	assert_int_equal(kn_tcp_recv(c, buf, sizeof(buf)), 20);
	for (int i = 0; i < 5; i++) {
		s = window_round(c, &seq, ack, 10, true);
		ack += 10;
		assert_true((int32_t)(s.ack + s.win - edge) >= 0);
		assert_true(s.win >= 59000);
		edge = s.ack + s.win;
	}
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void test_syn_received_times_out(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	for (uint16_t i = 0; i < 3; i++) {
		struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = (uint16_t)(3000 + i),
				   .dport = LPORT, .seq = 7, .flags = KN_TH_SYN, .win = 1000};
		kn_stack_input(S, kt_tcp_frame(&t), now);
	}
	kn_stack_flush(S);
	assert_int_equal(cap.n, 3);
	kt_cap_clear(&cap);
	assert_int_equal(kn_stack_tcb_count(S), 4);
	/* SYN,ACKs are retransmitted with backoff, then the entries go. */
	int64_t rto = conf.tcp.rto_init_ns;
	for (unsigned i = 0; i < conf.tcp.syn_retries; i++) {
		tick(rto);
		assert_int_equal(cap.n, 3);
		kt_cap_clear(&cap);
		rto *= 2;
	}
	tick(rto);
	kt_cap_clear(&cap);
	assert_int_equal(kn_stack_tcb_count(S), 1);
	assert_null(kn_tcp_accept(l, NULL));
	kn_tcp_close(l);
}

int main(void)
{
	int rc = kt_eal_init("net-tcp-more", 2048);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nagle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pmtu_from_icmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_our_zero_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_after_close_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_fin_wait_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_ack_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_refused_in_syn_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_between_stacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_received_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_window_not_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_on_replies, setup_wide, teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
