/* TCP timers at scale and timers as the way forward: a timer pass costs
 * what is due, not the number of connections; zero-window probing ends;
 * a segment that could not be built for want of an mbuf is sent again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_harness.h"
#include "net/tcp.h"
#include "net/wire.h"

#define PISN 1000000u

static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};

static void expect_nothing(void)
{
	kn_stack_flush(S);
	assert_int_equal(cap.n, 0);
}

/* The peer sends from its port @sport to our port @dport. */
static void send_from(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
		      uint16_t win, const void *data, uint32_t len)
{
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = sport, .dport = dport,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .data = data, .len = len};
	kn_stack_input(S, kt_tcp_frame(&t), now);
}

/* Passive open from the harness's peer port up to ESTABLISHED, accepted.
 * @return our ISS. */
static uint32_t open_passive(struct kn_tcb **lp, struct kn_tcb **cp, uint16_t win)
{
	int err;
	*lp = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	assert_non_null(*lp);
	peer_send_opts(KN_TH_SYN, PISN, 0, win, syn_opts, sizeof(syn_opts));
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, win, NULL, 0);
	*cp = kn_tcp_accept(*lp, &cev);
	assert_non_null(*cp);
	assert_int_equal(kn_tcp_get_state(*cp), KN_TCP_ESTABLISHED);
	return sa.seq;
}

/* Advance to the stack's next timer (at most @max on). */
static void tick_next(int64_t max)
{
	int64_t d = kn_stack_next_timer(S) - now;
	if (d <= 0)
		d = 1;
	tick(d < max ? d : max);
}

/* ---- O(1) timers ---- */

static void many_tcbs(struct kn_stack_conf *c)
{
	c->tcp.max_tcbs = 110000;
	c->tcp.syn_backlog = 1024;
}

static int setup_many(void **st)
{
	(void)st;
	th_setup(many_tcbs);
	return 0;
}

/* Passive open from peer port @sport to our port @dport, accepted.
 * @return our ISS. */
static uint32_t open_from(struct kn_tcb *l, uint16_t sport, uint16_t dport, struct kn_tcb **cp)
{
	send_from(sport, dport, KN_TH_SYN, PISN, 0, 65535, NULL, 0);
	struct kt_seg sa = th_take();
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	send_from(sport, dport, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0);
	*cp = kn_tcp_accept(l, NULL);
	assert_non_null(*cp);
	return sa.seq;
}

/* 100k idle connections (keepalive on: a timer 2 h away each) and 1,000 in
 * TIME_WAIT do not make a timer pass slower: while one connection works
 * its delayed ACKs, the passes visit that connection only. */
static void test_idle_tcbs_not_visited(void **st)
{
	(void)st;
	enum { IDLE = 100000, TW = 1000 };
	int err;
	struct kn_tcb *l80 = kn_tcp_listen(S, 80, 1024, &lev, &err);
	struct kn_tcb *l81 = kn_tcp_listen(S, 81, 1024, &lev, &err);
	assert_non_null(l80);
	assert_non_null(l81);
	for (unsigned i = 0; i < IDLE + TW; i++) {
		uint16_t sport = (uint16_t)(1024 + i / 2), dport = (uint16_t)(80 + i % 2);
		struct kn_tcb *c;
		open_from(i % 2 ? l81 : l80, sport, dport, &c);
		if (i < IDLE) {
			kn_tcp_keepalive(c, true);
			continue;
		}
		/* We close first; the peer's FIN+ACK: TIME_WAIT. */
		kn_tcp_close(c);
		struct kt_seg f = th_take();
		assert_true(f.flags & KN_TH_FIN);
		send_from(sport, dport, KN_TH_ACK | KN_TH_FIN, PISN + 1, f.seq + 1, 65535, NULL, 0);
		struct kt_seg a = th_take();
		assert_int_equal(a.ack, PISN + 2);
		assert_int_equal(kn_tcp_get_state(c), KN_TCP_TIME_WAIT);
	}
	assert_int_equal(kn_stack_tcb_count(S), 2 + IDLE + TW);
	/* The handshakes' retransmission timers were disarmed by assignment:
	 * each TCB is visited once when its old deadline comes, and filed
	 * again at its keepalive or TIME_WAIT deadline. */
	uint64_t v0 = kn_stack_stats(S)->tcp_timer_visits;
	tick(2 * conf.tcp.rto_init_ns);
	assert_true(kn_stack_stats(S)->tcp_timer_visits - v0 <= IDLE + TW);

	/* The busy one: data, a delayed ACK, again and again. */
	struct kn_tcb *c;
	uint16_t sport = 60000;
	uint32_t iss = open_from(l80, sport, 80, &c);
	uint32_t seq = PISN + 1;
	v0 = kn_stack_stats(S)->tcp_timer_visits;
	uint64_t d0 = kn_stack_stats(S)->tcp_delacks;
	for (int k = 0; k < 50; k++) {
		send_from(sport, 80, KN_TH_ACK, seq, iss + 1, 65535, "x", 1);
		seq++;
		for (int ms = 0; ms < 40; ms++)
			tick(KT_MS);
		struct kt_seg a = th_take();
		assert_int_equal(a.ack, seq);
	}
	uint64_t visits = kn_stack_stats(S)->tcp_timer_visits - v0;
	/* 50 delayed ACKs and the handshake's stale entry; a scan of every TCB
	 * per pass would make that millions. */
	assert_int_equal(kn_stack_stats(S)->tcp_delacks - d0, 50);
	assert_true(visits >= 50);
	assert_true(visits <= 60);
	kn_tcp_abort(c);

	/* TIME_WAIT ends on time, and only those are visited. */
	v0 = kn_stack_stats(S)->tcp_timer_visits;
	tick(conf.tcp.time_wait_ns);
	assert_int_equal(kn_stack_tcb_count(S), 2 + IDLE);
	assert_int_equal(kn_stack_stats(S)->tcp_timewait_closed, TW);
	assert_true(kn_stack_stats(S)->tcp_timer_visits - v0 <= TW);
	kn_tcp_close(l80);
	kn_tcp_close(l81);
}

/* ---- zero-window probing ends ---- */

/* Our data meets a zero window: 100 bytes sent, acknowledged with win 0,
 * 100 more waiting. @return our ISS. */
static uint32_t zero_window(struct kn_tcb **lp, struct kn_tcb **cp)
{
	uint32_t iss = open_passive(lp, cp, 65535);
	static uint8_t data[100];
	assert_int_equal(kn_tcp_send(*cp, data, sizeof(data)), (ssize_t)sizeof(data));
	struct kt_seg d = th_take();
	assert_int_equal(d.len, 100);
	peer_send(KN_TH_ACK, PISN + 1, iss + 101, 0, NULL, 0);
	assert_int_equal(kn_tcp_send(*cp, data, sizeof(data)), (ssize_t)sizeof(data));
	expect_nothing();
	return iss;
}

/* An orphan (closed by the application) with a peer that answers every
 * probe but never opens its window is dropped, with its send buffer;
 * before, it stayed for ever. */
static void test_orphan_zero_window_freed(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = zero_window(&l, &c);
	assert_int_equal(kn_tcp_close(c), 0);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	int64_t t0 = now;
	unsigned probes = 0;
	bool rst = false;
	while (now - t0 < 3600 * KT_SEC && kn_stack_tcb_count(S) == 2) {
		tick_next(3600 * KT_SEC);
		struct kt_seg p;
		while (take_seg(&p)) {
			if (p.flags & KN_TH_RST) {
				rst = true;
				continue;
			}
			/* Each probe is answered: the window is still shut. */
			assert_int_equal(p.seq, iss + 101);
			probes++;
			peer_send(KN_TH_ACK, PISN + 1, iss + 101, 0, NULL, 0);
		}
	}
	assert_int_equal(kn_stack_tcb_count(S), 1);
	assert_true(rst);
	assert_true(probes >= 3);
	/* Linux's bound: about twice the maximum RTO, plus one probe interval. */
	assert_true(now - t0 <= 2 * conf.tcp.rto_max_ns + 60 * KT_SEC);
	assert_true(now - t0 >= conf.tcp.rto_max_ns);
	assert_int_equal(kn_stack_stats(S)->tcp_persist_drops, 1);
	kn_tcp_close(l);
}

/* An orphan whose probes go unanswered goes sooner: 8 probes (Linux's
 * tcp_orphan_retries). */
static void test_orphan_unanswered_probes(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	zero_window(&l, &c);
	kn_tcp_close(c);
	unsigned probes = 0;
	int64_t t0 = now;
	while (now - t0 < 3600 * KT_SEC && kn_stack_tcb_count(S) == 2) {
		tick_next(3600 * KT_SEC);
		struct kt_seg p;
		while (take_seg(&p))
			probes += !(p.flags & KN_TH_RST);
	}
	assert_int_equal(kn_stack_tcb_count(S), 1);
	assert_int_equal(probes, 8);
	kn_tcp_close(l);
}

/* A connection the application holds: probing goes on while the peer
 * answers (RFC 1122 §4.2.2.17), and ends with ETIMEDOUT after max_retries
 * probes in a row that draw no answer (Linux: tcp_retries2). */
static void test_held_zero_window(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = zero_window(&l, &c);
	int64_t t0 = now;
	unsigned probes = 0;
	while (now - t0 < 3600 * KT_SEC) {
		tick_next(3600 * KT_SEC);
		struct kt_seg p;
		while (take_seg(&p)) {
			probes++;
			peer_send(KN_TH_ACK, PISN + 1, iss + 101, 0, NULL, 0);
		}
	}
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	assert_true(probes >= 60);
	/* Now the peer falls silent. */
	probes = 0;
	t0 = now;
	while (now - t0 < 3600 * KT_SEC && !(cev.events & KN_EV_CLOSED)) {
		tick_next(3600 * KT_SEC);
		struct kt_seg p;
		while (take_seg(&p))
			probes += !(p.flags & KN_TH_RST);
	}
	assert_true(cev.events & KN_EV_CLOSED);
	assert_int_equal(cev.err, -ETIMEDOUT);
	assert_int_equal(kn_tcp_error(c), -ETIMEDOUT);
	assert_int_equal(probes, conf.tcp.max_retries);
	kn_tcp_close(c);
	kn_tcp_close(l);
}

/* An orphan in LAST_ACK whose FIN is never acknowledged is bounded by the
 * retransmission limit for orphans. */
static void test_orphan_last_ack_bounded(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	peer_send(KN_TH_ACK | KN_TH_FIN, PISN + 1, iss + 1, 65535, NULL, 0);
	th_take();
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_CLOSE_WAIT);
	kn_tcp_close(c);
	struct kt_seg f = th_take();
	assert_true(f.flags & KN_TH_FIN);
	int64_t t0 = now;
	unsigned fins = 0;
	while (now - t0 < 3600 * KT_SEC && kn_stack_tcb_count(S) == 2) {
		tick_next(3600 * KT_SEC);
		struct kt_seg p;
		while (take_seg(&p))
			fins += (p.flags & KN_TH_FIN) != 0;
	}
	assert_int_equal(kn_stack_tcb_count(S), 1);
	assert_int_equal(fins, 8);
	kn_tcp_close(l);
}

/* ---- re-arming within a tick ---- */

/* A TCB is filed on the wheel at the tick its earliest deadline rounds up
 * to. A deadline re-armed within that tick leaves it there (kn_tcp_timer_set
 * does not even call out); one a nanosecond before the tick's first files it
 * a tick earlier; one pushed back leaves the entry early, and when that
 * fires the TCB is filed again. Either way a timer fires at its deadline's
 * tick: never before the deadline, at most a tick after. */
static void test_timer_rearm_within_tick(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	open_passive(&l, &c, 65535);
	/* The handshake's stale entry fires: no timer left, off the wheel. */
	tick(2 * conf.tcp.rto_init_ns);
	assert_int_equal(c->t_wheel, INT64_MAX);
	assert_false(kn_tw_filed(&c->tw));
	/* now = k ms + 0.5 ms */
	int64_t k = now / KT_MS + 1;
	tick(k * KT_MS + KT_MS / 2 - now);
	const struct kn_stats *st_ = kn_stack_stats(S);
	uint64_t v0 = st_->tcp_timer_visits, d0 = st_->tcp_delacks;

	kn_tcp_timer_set(c, &c->t_delack, 10 * KT_MS);
	assert_int_equal(c->t_delack, (k + 10) * KT_MS + KT_MS / 2);
	assert_int_equal(c->tw.tick, k + 11);
	/* The first nanosecond of tick k + 11: earlier, same tick, it stays. */
	kn_tcp_timer_set(c, &c->t_delack, (k + 10) * KT_MS + 1 - now);
	assert_int_equal(c->t_delack, (k + 10) * KT_MS + 1);
	assert_int_equal(c->tw.tick, k + 11);
	/* The nanosecond before is tick k + 10's last: filed there. */
	kn_tcp_timer_set(c, &c->t_delack, (k + 10) * KT_MS - now);
	assert_int_equal(c->tw.tick, k + 10);
	/* Pushed back into tick k + 11: the entry stays at k + 10. */
	kn_tcp_timer_set(c, &c->t_delack, (k + 11) * KT_MS - 3 - now);
	assert_int_equal(c->tw.tick, k + 10);

	tick((k + 10) * KT_MS - 1 - now);
	expect_nothing();
	assert_int_equal(st_->tcp_timer_visits, v0);
	/* The early entry fires, finds nothing due, files the TCB at k + 11. */
	tick(1);
	expect_nothing();
	assert_int_equal(st_->tcp_timer_visits, v0 + 1);
	assert_int_equal(c->tw.tick, k + 11);
	/* At the deadline itself, still in tick k + 11: not yet. */
	tick((k + 11) * KT_MS - 3 - now);
	expect_nothing();
	assert_int_equal(st_->tcp_delacks, d0);
	/* The tick: the delayed ACK goes. */
	tick(3);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags, KN_TH_ACK);
	assert_int_equal(st_->tcp_delacks, d0 + 1);
	assert_int_equal(st_->tcp_timer_visits, v0 + 2);
	assert_false(kn_tw_filed(&c->tw));
	kn_tcp_close(c);
	kn_tcp_close(l);
}

/* ---- no mbuf: a timer brings the segment back ---- */

static struct rte_mempool *tiny;
static struct rte_mbuf *hoard[512];
static unsigned nhoard;

/* The stack under test on its own small pool (the peer's frames still come
 * from the big one), so that pool can be emptied. */
static int setup_tiny(void **st)
{
	(void)st;
	th_setup(NULL);
	kn_stack_destroy(S);
	if (!tiny)
		tiny = rte_pktmbuf_pool_create("tiny", 511, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       SOCKET_ID_ANY);
	assert_non_null(tiny);
	int err;
	/* Small enough to empty, big enough for the buffer budget's reserve. */
	conf.mem_reserve = 64;
	S = kn_stack_create(&conf, &cap.dev, tiny, now, &err);
	conf.mem_reserve = 0;
	assert_non_null(S);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
	return 0;
}

static int teardown_tiny(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	while (nhoard)
		rte_pktmbuf_free(hoard[--nhoard]);
	assert_int_equal(rte_mempool_avail_count(tiny), 511);
	kt_assert_no_leak();
	return 0;
}

static void pool_empty(void)
{
	struct rte_mbuf *m;
	while (nhoard < RTE_DIM(hoard) && (m = rte_pktmbuf_alloc(tiny)) != NULL)
		hoard[nhoard++] = m;
	assert_int_equal(rte_mempool_avail_count(tiny), 0);
}

static void pool_refill(void)
{
	while (nhoard)
		rte_pktmbuf_free(hoard[--nhoard]);
}

/* connect() while the pool is empty: the SYN goes when mbufs return. */
static void test_syn_nomem_retried(void **st)
{
	(void)st;
	pool_empty();
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	assert_non_null(c);
	expect_nothing();
	tick(100 * KT_MS);
	pool_refill();
	int64_t t0 = now;
	struct kt_seg syn;
	bool got;
	while (!(got = take_seg(&syn)) && now - t0 < 10 * KT_SEC)
		tick_next(10 * KT_SEC);
	assert_true(got);
	assert_int_equal(syn.flags, KN_TH_SYN);
	assert_true(now - t0 <= conf.tcp.rto_init_ns);
	assert_true(kn_stack_stats(S)->tcp_output_nomem >= 1);
	/* And the handshake completes. */
	peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 65535, syn_opts, sizeof(syn_opts));
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	kn_tcp_abort(c);
}

/* A SYN arrives while the pool is empty: the SYN-ACK goes when mbufs
 * return, and the connection is not stuck in the SYN queue. */
static void test_synack_nomem_retried(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	assert_non_null(l);
	pool_empty();
	peer_send_opts(KN_TH_SYN, PISN, 0, 65535, syn_opts, sizeof(syn_opts));
	expect_nothing();
	tick(100 * KT_MS);
	pool_refill();
	int64_t t0 = now;
	struct kt_seg sa;
	bool got;
	while (!(got = take_seg(&sa)) && now - t0 < 10 * KT_SEC)
		tick_next(10 * KT_SEC);
	assert_true(got);
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_int_equal(sa.ack, PISN + 1);
	peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	kn_tcp_abort(c);
	kn_tcp_close(l);
}

/* An ACK that could not be built is sent by the delayed-ACK timer; a FIN
 * by the retransmission timer. */
static void test_ack_and_fin_nomem_retried(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, 65535);
	pool_empty();
	/* The peer's FIN wants an immediate ACK. */
	peer_send(KN_TH_ACK | KN_TH_FIN, PISN + 1, iss + 1, 65535, NULL, 0);
	expect_nothing();
	pool_refill();
	tick_next(KT_SEC);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 2);
	/* Our FIN, while the pool is empty. */
	pool_empty();
	kn_tcp_shutdown(c);
	expect_nothing();
	pool_refill();
	int64_t t0 = now;
	struct kt_seg f;
	bool got;
	while (!(got = take_seg(&f)) && now - t0 < 10 * KT_SEC)
		tick_next(10 * KT_SEC);
	assert_true(got);
	assert_true(f.flags & KN_TH_FIN);
	peer_send(KN_TH_ACK, PISN + 2, f.seq + 1, 65535, NULL, 0);
	kn_stack_flush(S);
	assert_true(cev.events & KN_EV_CLOSED);
	kn_tcp_close(c);
	kn_tcp_close(l);
}

int main(void)
{
	int rc = kt_eal_init("net-timers", 4096);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_tcbs_not_visited, setup_many, th_teardown),
		cmocka_unit_test_setup_teardown(test_orphan_zero_window_freed, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_orphan_unanswered_probes, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_held_zero_window, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_orphan_last_ack_bounded, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_timer_rearm_within_tick, th_setup_default, th_teardown),
		cmocka_unit_test_setup_teardown(test_syn_nomem_retried, setup_tiny, teardown_tiny),
		cmocka_unit_test_setup_teardown(test_synack_nomem_retried, setup_tiny, teardown_tiny),
		cmocka_unit_test_setup_teardown(test_ack_and_fin_nomem_retried, setup_tiny,
						teardown_tiny),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
