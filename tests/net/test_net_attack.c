/* Off-path attacks on the stack, segment by segment on a fake clock: a SYN
 * flood against SYN cookies, predictable secrets (ISNs, timestamps, ports,
 * IP IDs), the challenge-ACK and ICMP side channels, ACK floods, and PAWS
 * poisoning by one blind segment. */
#include <string.h>

#include <rte_random.h>

#include "tcp_harness.h"
#include "net/wire.h"

#define PISN 5000u
#define BADNET KT_IP(10, 0, 0, 0)   /* spoofed sources, reached by the gateway */

static void attack_conf(struct kn_stack_conf *c)
{
	c->gateway = KT_PEER_IP;   /* off-subnet sources go through the peer's MAC */
	c->tcp.timestamps = true;
}

static int setup(void **st)
{
	(void)st;
	th_setup(attack_conf);
	return 0;
}

static int teardown(void **st)
{
	return th_teardown(st);
}

static void restart(void)
{
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	S = kt_stack(&cap, &conf, now);
}

static const struct kn_stats *stats(void)
{
	return kn_stack_stats(S);
}

static void send_tcp(uint32_t src, uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack,
		     uint16_t win, const uint8_t *opt, uint8_t optlen, const void *data, uint32_t len)
{
	struct kt_tcp t = {.src = src, .dst = KT_US_IP, .sport = sport, .dport = LPORT,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .opt = opt,
			   .optlen = optlen, .data = data, .len = len};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

/* Options of a SYN: MSS, window shift, timestamps (TSval @tsval). */
static uint8_t syn_opts(uint8_t *o, uint16_t mss, int ws, bool ts, uint32_t tsval)
{
	uint8_t n = 0;
	o[n++] = 2;
	o[n++] = 4;
	o[n++] = (uint8_t)(mss >> 8);
	o[n++] = (uint8_t)mss;
	if (ws >= 0) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = (uint8_t)ws;
	}
	if (ts) {
		uint8_t t[12] = {1, 1, 8, 10, (uint8_t)(tsval >> 24), (uint8_t)(tsval >> 16),
				 (uint8_t)(tsval >> 8), (uint8_t)tsval, 0, 0, 0, 0};
		memcpy(o + n, t, 12);
		n += 12;
	}
	return n;
}

static void ts_opt(uint8_t o[12], uint32_t tsval, uint32_t tsecr)
{
	uint8_t t[12] = {1, 1, 8, 10, (uint8_t)(tsval >> 24), (uint8_t)(tsval >> 16),
			 (uint8_t)(tsval >> 8), (uint8_t)tsval, (uint8_t)(tsecr >> 24),
			 (uint8_t)(tsecr >> 16), (uint8_t)(tsecr >> 8), (uint8_t)tsecr};
	memcpy(o, t, 12);
}

/* The next TCP segment sent to @sport, skipping others (SYN-ACKs of the
 * flood). */
static bool take_to(uint16_t sport, struct kt_seg *s)
{
	while (take_seg(s))
		if (s->dport == sport)
			return true;
	return false;
}

/* @n spoofed SYNs, each from its own address and port. */
static void syn_flood(uint32_t n, uint32_t salt)
{
	uint8_t o[4];
	syn_opts(o, 1460, -1, false, 0);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h = (i + salt) * 2654435761u;
		send_tcp(BADNET | ((i + salt) & 0xffffff), (uint16_t)(1024 + (h >> 16) % 60000),
			 KN_TH_SYN, h, 0, 65535, o, 4, NULL, 0);
		if (cap.n > KT_CAP_MAX - 64)
			kt_cap_clear(&cap);
	}
	kt_cap_clear(&cap);
}

/* A SYN flood from 100k spoofed sources fills the SYN queue; legitimate
 * clients are answered with cookies and get their connections, with MSS,
 * window scaling and timestamps as their SYN asked. */
static void test_syn_flood_cookies(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 256, &lev, &err);
	assert_non_null(l);
	syn_flood(100000, 0);
	assert_int_equal(kn_stack_tcb_count(S), 1 + conf.tcp.syn_backlog);
	assert_true(stats()->tcp_syncookies_sent >= 100000 - conf.tcp.syn_backlog);

	const int clients = 100;
	for (int i = 0; i < clients; i++) {
		uint16_t sport = (uint16_t)(20000 + i);
		uint8_t o[20];
		uint8_t n = syn_opts(o, 1400, 7, true, 1000);
		send_tcp(KT_PEER_IP, sport, KN_TH_SYN, PISN, 0, 65535, o, n, NULL, 0);
		struct kt_seg sa;
		assert_true(take_to(sport, &sa));
		assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
		assert_int_equal(sa.ack, PISN + 1);
		assert_true(sa.has_mss && sa.has_ws && sa.has_ts);
		assert_int_equal(sa.tsecr, 1000);
		uint8_t ts[12];
		ts_opt(ts, 1001, sa.tsval);
		/* Window 100 << 7: only a restored shift lets 5000 bytes go. */
		send_tcp(KT_PEER_IP, sport, KN_TH_ACK, PISN + 1, sa.seq + 1, 100, ts, 12, NULL, 0);
		struct kn_tcb *c = kn_tcp_accept(l, &cev);
		assert_non_null(c);
		assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
		static uint8_t buf[5000];
		assert_int_equal(kn_tcp_send(c, buf, sizeof(buf)), sizeof(buf));
		kn_stack_flush(S);
		uint32_t sent = 0;
		struct kt_seg d;
		while (take_to(sport, &d)) {
			assert_true(d.len <= 1400 - 12);   /* MSS 1400, less the TS option */
			assert_true(d.has_ts);
			assert_int_equal(d.tsecr, 1001);
			if (sent == 0)
				assert_int_equal(d.len, 1400 - 12);
			sent += d.len;
		}
		assert_int_equal(sent, sizeof(buf));
		/* The client's data, with its timestamp, goes in. */
		ts_opt(ts, 1002, sa.tsval);
		send_tcp(KT_PEER_IP, sport, KN_TH_ACK, PISN + 1, sa.seq + 1 + 5000, 100, ts, 12,
			 "hello", 5);
		assert_int_equal(kn_tcp_readable(c), 5);
		kn_tcp_abort(c);
		kn_stack_flush(S);
		kt_cap_clear(&cap);
	}
	assert_int_equal(stats()->tcp_syncookies_ok, clients);
	assert_int_equal(stats()->tcp_syncookies_failed, 0);

	/* A client without options gets MSS 536 and no timestamps. */
	send_tcp(KT_PEER_IP, 30000, KN_TH_SYN, PISN, 0, 65535, NULL, 0, NULL, 0);
	struct kt_seg sa;
	assert_true(take_to(30000, &sa));
	assert_false(sa.has_ts);
	assert_false(sa.has_ws);
	send_tcp(KT_PEER_IP, 30000, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0, NULL, 0);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	static uint8_t buf[2000];
	kn_tcp_send(c, buf, sizeof(buf));
	struct kt_seg d;
	assert_true(take_to(30000, &d));
	assert_int_equal(d.len, 536);
	assert_false(d.has_ts);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

static void small_synq(struct kn_stack_conf *c)
{
	attack_conf(c);
	c->tcp.syn_backlog = 4;
}

/* Get a cookie SYN-ACK for the peer at @sport (the SYN queue full). */
static struct kt_seg cookie_synack(uint16_t sport)
{
	uint8_t o[20];
	uint8_t n = syn_opts(o, 1460, 2, true, 77);
	uint64_t before = stats()->tcp_syncookies_sent;
	send_tcp(KT_PEER_IP, sport, KN_TH_SYN, PISN, 0, 65535, o, n, NULL, 0);
	struct kt_seg sa;
	assert_true(take_to(sport, &sa));
	assert_int_equal(stats()->tcp_syncookies_sent, before + 1);
	return sa;
}

/* Forged or altered cookies make no connection; a RST answers them. */
static void test_bad_cookie_refused(void **st)
{
	(void)st;
	th_teardown(st);
	th_setup(small_synq);
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 16, &lev, &err);
	syn_flood(4, 0);
	struct kt_seg sa = cookie_synack(30001);
	uint8_t ts[12];
	ts_opt(ts, 78, sa.tsval);
	unsigned ntcb = kn_stack_tcb_count(S);
	/* A guess, the options byte changed (MSS 1460 → 536), the MAC changed
	 * (bit 9 is its lowest; bit 8 is SACK-permitted). */
	uint32_t bad[3] = {sa.seq + 1 + 0x12345678u, (sa.seq ^ 0xe0u) + 1, (sa.seq ^ 0x200u) + 1};
	for (int i = 0; i < 3; i++) {
		send_tcp(KT_PEER_IP, 30001, KN_TH_ACK, PISN + 1, bad[i], 65535, ts, 12, NULL, 0);
		struct kt_seg r;
		assert_true(take_to(30001, &r));
		assert_int_equal(r.flags, KN_TH_RST);
		assert_int_equal(r.seq, bad[i]);
	}
	/* The right cookie, but for another client ISN or another port. */
	send_tcp(KT_PEER_IP, 30001, KN_TH_ACK, PISN + 2, sa.seq + 1, 65535, ts, 12, NULL, 0);
	send_tcp(KT_PEER_IP, 30002, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, ts, 12, NULL, 0);
	assert_int_equal(kn_stack_tcb_count(S), ntcb);
	assert_null(kn_tcp_accept(l, &cev));
	assert_int_equal(stats()->tcp_syncookies_failed, 5);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_SYNCOOKIE_BAD), 5);
	/* The real one still works, and the data it carries is taken. */
	send_tcp(KT_PEER_IP, 30001, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, ts, 12, "hi", 2);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	assert_int_equal(kn_tcp_readable(c), 2);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* A cookie lives about two minutes: one used 3 minutes later is refused,
 * one used after a minute is not. */
static void test_old_cookie_refused(void **st)
{
	(void)st;
	th_teardown(st);
	th_setup(small_synq);
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 16, &lev, &err);
	syn_flood(4, 0);
	struct kt_seg a = cookie_synack(30001);
	struct kt_seg b = cookie_synack(30002);
	tick(60 * KT_SEC);
	kt_cap_clear(&cap);
	uint8_t ts[12];
	ts_opt(ts, 78, a.tsval);
	send_tcp(KT_PEER_IP, 30001, KN_TH_ACK, PISN + 1, a.seq + 1, 65535, ts, 12, NULL, 0);
	assert_non_null(kn_tcp_accept(l, &cev));
	for (int i = 0; i < 12; i++) {
		tick(10 * KT_SEC);   /* the flood's entries time out on the way */
		kt_cap_clear(&cap);
	}
	syn_flood(5, 100);       /* cookies in use again */
	ts_opt(ts, 78, b.tsval);
	send_tcp(KT_PEER_IP, 30002, KN_TH_ACK, PISN + 1, b.seq + 1, 65535, ts, 12, NULL, 0);
	assert_null(kn_tcp_accept(l, &cev));
	assert_int_equal(kt_drops(S, KN_DROP_TCP_SYNCOOKIE_BAD), 1);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

static uint32_t connect_isn(uint16_t lport)
{
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, lport, &cev, &err);
	assert_non_null(c);
	struct kt_seg syn;
	assert_true(take_seg(&syn));
	kn_tcp_abort(c);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
	return syn.seq;
}

/* ISNs: keyed by the secret (a different one gives different ISNs, and no
 * configured one means getrandom(2), not DPDK's 32-bit-seeded rte_rand);
 * for one tuple they increase with time (RFC 6528). */
static void test_isn_secrets(void **st)
{
	(void)st;
	uint32_t a = connect_isn(1234);
	conf.isn_secret[0] = 99;
	restart();
	uint32_t b = connect_isn(1234);
	assert_int_not_equal(a, b);
	/* Same rte_rand state, no configured secret: still different keys. */
	conf.isn_secret[0] = conf.isn_secret[1] = 0;
	rte_srand(42);
	restart();
	uint32_t c = connect_isn(1234);
	rte_srand(42);
	restart();
	uint32_t d = connect_isn(1234);
	assert_int_not_equal(c, d);
	/* One second later, the same tuple: about 250,000 further (4 µs). */
	tick(KT_SEC);
	uint32_t e = connect_isn(1234);
	assert_in_range(e - d, 240000, 260000);
}

/* TSval = clock + a per-connection keyed offset (Linux tcp_ts_off). */
static void test_ts_offsets(void **st)
{
	(void)st;
	int err;
	uint32_t ts[2];
	for (int i = 0; i < 2; i++) {
		struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, (uint16_t)(1000 + i), &cev, &err);
		struct kt_seg syn;
		assert_true(take_seg(&syn));
		assert_true(syn.has_ts);
		ts[i] = syn.tsval;
		kn_tcp_abort(c);
		kn_stack_flush(S);
		kt_cap_clear(&cap);
	}
	uint32_t clock_ms = (uint32_t)(now / KT_MS);
	assert_int_not_equal(ts[0], ts[1]);
	assert_int_not_equal(ts[0], clock_ms);
	assert_int_not_equal(ts[1], clock_ms);
}

static void eph_range(struct kn_stack_conf *c)
{
	attack_conf(c);
	c->eph_port_lo = 40000;
	c->eph_port_hi = 40999;
}

static void check_ports(const uint16_t *p, int n)
{
	int seq = 0;
	for (int i = 0; i < n; i++) {
		assert_in_range(p[i], 40000, 40999);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(p[i], p[j]);
		if (i && p[i] == p[i - 1] + 1)
			seq++;
	}
	assert_true(seq < n / 2);
}

/* Ephemeral ports: in the configured range, for TCP and UDP, and not one
 * after the other (RFC 6056, keyed). */
static void test_ephemeral_ports(void **st)
{
	(void)st;
	th_teardown(st);
	th_setup(eph_range);
	int err;
	enum { N = 32 };
	struct kn_tcb *c[N];
	uint16_t p[N], lport, rport;
	uint32_t lip, rip;
	/* To one destination ... */
	for (int i = 0; i < N; i++) {
		c[i] = kn_tcp_connect(S, KT_PEER_IP, PPORT, 0, &cev, &err);
		assert_non_null(c[i]);
		kn_tcp_endpoints(c[i], &lip, &lport, &rip, &rport);
		p[i] = lport;
	}
	check_ports(p, N);
	for (int i = 0; i < N; i++)
		kn_tcp_abort(c[i]);
	/* ... to many. */
	for (int i = 0; i < N; i++) {
		c[i] = kn_tcp_connect(S, KT_PEER_IP, (uint16_t)(1000 + i), 0, &cev, &err);
		kn_tcp_endpoints(c[i], &lip, &lport, &rip, &rport);
		p[i] = lport;
	}
	check_ports(p, N);
	for (int i = 0; i < N; i++)
		kn_tcp_abort(c[i]);
	struct kn_udp *u[N];
	for (int i = 0; i < N; i++) {
		u[i] = kn_udp_bind(S, 0, NULL, &err);
		assert_non_null(u[i]);
	}
	/* kn_udp has no accessor for its port: read it off a datagram. */
	for (int i = 0; i < N; i++) {
		assert_int_equal(kn_udp_sendto(u[i], "x", 1, KT_PEER_IP, 9), 1);
		kn_stack_flush(S);
		uint8_t b[128];
		struct rte_mbuf *m = kt_cap_take(&cap);
		assert_non_null(m);
		kt_flatten(m, b, sizeof(b));
		rte_pktmbuf_free(m);
		p[i] = (uint16_t)(b[34] << 8 | b[35]);
	}
	check_ports(p, N);
	for (int i = 0; i < N; i++)
		kn_udp_close(u[i]);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* A connection from the peer's @sport, ESTABLISHED, without timestamps.
 * @return our ISN. */
static uint32_t open_from(struct kn_tcb *l, uint16_t sport, struct kn_tcb **c)
{
	send_tcp(KT_PEER_IP, sport, KN_TH_SYN, PISN, 0, 65535, NULL, 0, NULL, 0);
	struct kt_seg sa;
	assert_true(take_to(sport, &sa));
	send_tcp(KT_PEER_IP, sport, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, NULL, 0, NULL, 0);
	*c = kn_tcp_accept(l, &cev);
	assert_non_null(*c);
	kt_cap_clear(&cap);
	return sa.seq;
}

static unsigned count_to(uint16_t sport, uint8_t flags)
{
	unsigned n = 0;
	struct kt_seg s;
	while (take_seg(&s))
		if (s.dport == sport && s.flags == flags)
			n++;
	return n;
}

/* CVE-2016-5696: 1,000 bad RSTs on connection B in one second must leave
 * challenge ACKs for connection A. */
static void test_challenge_acks_per_connection(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 8, &lev, &err);
	struct kn_tcb *a, *b;
	open_from(l, 41000, &a);
	open_from(l, 41001, &b);
	for (int i = 0; i < 1000; i++) {
		send_tcp(KT_PEER_IP, 41001, KN_TH_RST, PISN + 100 + (uint32_t)i, 0, 0, NULL, 0, NULL, 0);
		if (cap.n > KT_CAP_MAX - 8)
			kt_cap_clear(&cap);
	}
	assert_true(stats()->tcp_challenge_acks <= 2);  /* B: one per 500 ms */
	kt_cap_clear(&cap);
	send_tcp(KT_PEER_IP, 41000, KN_TH_RST, PISN + 100, 0, 0, NULL, 0, NULL, 0);
	assert_int_equal(count_to(41000, KN_TH_ACK), 1);
	assert_int_equal(kn_tcp_get_state(a), KN_TCP_ESTABLISHED);
	assert_int_equal(kn_tcp_get_state(b), KN_TCP_ESTABLISHED);
	kn_tcp_abort(a);
	kn_tcp_abort(b);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

/* Out-of-window segments without data get at most one ACK per 500 ms per
 * connection (Linux tcp_invalid_ratelimit); data always gets its ACK. */
static void test_oow_ack_ratelimit(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 8, &lev, &err);
	struct kn_tcb *c;
	uint32_t iss = open_from(l, 41000, &c);
	for (int i = 0; i < 100; i++)
		send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN + 1 + 10000000u + (uint32_t)i * 1000,
			 iss + 1, 65535, NULL, 0, NULL, 0);
	assert_int_equal(count_to(41000, KN_TH_ACK), 1);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_OUT_OF_WINDOW), 100);
	assert_int_equal(stats()->tcp_oow_acks_skipped, 99);
	/* Old data (a retransmission): ACKed regardless. */
	send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN - 100, iss + 1, 65535, NULL, 0, "old", 3);
	assert_int_equal(count_to(41000, KN_TH_ACK), 1);
	tick(600 * KT_MS);
	send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN + 1 + 10000000u, iss + 1, 65535, NULL, 0, NULL, 0);
	assert_int_equal(count_to(41000, KN_TH_ACK), 1);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

/* PAWS poisoning: a blind segment at RCV.NXT with a TSval from the future
 * and no ACK (or an ACK for data never sent) must not become ts_recent, or
 * PAWS would drop everything the real peer sends. */
static void test_paws_poisoning(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 8, &lev, &err);
	uint8_t o[20];
	uint8_t n = syn_opts(o, 1460, -1, true, 5);
	send_tcp(KT_PEER_IP, 41000, KN_TH_SYN, PISN, 0, 65535, o, n, NULL, 0);
	struct kt_seg sa;
	assert_true(take_to(41000, &sa));
	uint8_t ts[12];
	ts_opt(ts, 10, sa.tsval);
	send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, ts, 12, NULL, 0);
	struct kn_tcb *c = kn_tcp_accept(l, &cev);
	assert_non_null(c);
	kt_cap_clear(&cap);
	/* The attacker: no ACK bit; then an ACK far in the future. */
	ts_opt(ts, 0x70000000u, 0);
	send_tcp(KT_PEER_IP, 41000, 0, PISN + 1, 0, 65535, ts, 12, "evil", 4);
	send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN + 1, sa.seq + 1 + 1000000, 65535, ts, 12, NULL, 0);
	assert_int_equal(kn_tcp_readable(c), 0);
	kt_cap_clear(&cap);
	/* The real peer carries on and is heard. */
	ts_opt(ts, 11, sa.tsval);
	send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN + 1, sa.seq + 1, 65535, ts, 12, "good", 4);
	assert_int_equal(kn_tcp_readable(c), 4);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_PAWS), 0);
	tick(100 * KT_MS);   /* the delayed ACK */
	struct kt_seg a;
	assert_true(take_to(41000, &a));
	assert_int_equal(a.tsecr, 11);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

/* The IP ID of a frame. */
static uint16_t frame_ipid(struct rte_mbuf *m, uint8_t *proto, uint32_t *dst)
{
	uint8_t b[128];
	kt_flatten(m, b, sizeof(b));
	rte_pktmbuf_free(m);
	const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(b + 14);
	*proto = ip->proto;
	*dst = rte_be_to_cpu_32(ip->dst);
	return rte_be_to_cpu_16(ip->id);
}

/* IP IDs: one host's pings do not count another's packets (per-destination
 * keyed counters), and TCP sends 0 (DF, atomic: RFC 6864). */
static void test_ip_ids(void **st)
{
	(void)st;
	uint32_t other = KT_IP(198, 18, 0, 3);
	assert_int_equal(kn_arp_set(S, other, kt_peer_mac), 0);
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 8, &lev, &err);
	struct kn_tcb *c;
	uint32_t iss = open_from(l, 41000, &c);
	int prev = -1;
	for (int i = 0; i < 10; i++) {
		kn_stack_input(S, kt_icmp_echo_frame(KT_PEER_IP, KT_US_IP, 1, (uint16_t)i, "a", 1), now);
		kn_stack_input(S, kt_icmp_echo_frame(other, KT_US_IP, 1, (uint16_t)i, "b", 1), now);
		kn_tcp_send(c, "data", 4);
		kn_stack_flush(S);
		struct rte_mbuf *m;
		int seen = 0;
		while ((m = kt_cap_take(&cap)) != NULL) {
			uint8_t proto;
			uint32_t dst;
			uint16_t id = frame_ipid(m, &proto, &dst);
			if (proto == KN_IPPROTO_TCP) {
				assert_int_equal(id, 0);
				seen |= 1;
			} else if (dst == KT_PEER_IP) {
				/* One more than this host's last: the other host's
				 * replies in between did not show. */
				if (prev >= 0)
					assert_int_equal(id, (uint16_t)(prev + 1));
				prev = id;
				seen |= 2;
			} else {
				seen |= 4;
			}
		}
		assert_int_equal(seen, 7);
		send_tcp(KT_PEER_IP, 41000, KN_TH_ACK, PISN + 1, iss + 1 + 4u * (uint32_t)(i + 1), 65535,
			 NULL, 0, NULL, 0);
		kt_cap_clear(&cap);
	}
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

/* ICMP errors: a prober hammering closed ports gets a few, and another host
 * still gets its own. */
static void test_icmp_ratelimit_per_destination(void **st)
{
	(void)st;
	uint32_t other = KT_IP(198, 18, 0, 3);
	assert_int_equal(kn_arp_set(S, other, kt_peer_mac), 0);
	unsigned n = 0;
	for (int i = 0; i < 200; i++) {
		kn_stack_input(S, kt_udp_frame(KT_PEER_IP, KT_US_IP, 5000, 9, "x", 1), now);
		kn_stack_flush(S);
		n += cap.n;
		kt_cap_clear(&cap);
	}
	assert_in_range(n, 1, 6);
	kn_stack_input(S, kt_udp_frame(other, KT_US_IP, 5000, 9, "x", 1), now);
	kn_stack_flush(S);
	assert_int_equal(cap.n, 1);
	kt_cap_clear(&cap);
	/* The prober's budget comes back, one a second. */
	tick(KT_SEC);
	kn_stack_input(S, kt_udp_frame(KT_PEER_IP, KT_US_IP, 5000, 9, "x", 1), now);
	kn_stack_flush(S);
	assert_int_equal(cap.n, 1);
	kt_cap_clear(&cap);
}

/* A SYN-RECEIVED entry whose SYN-ACK could not be built (no mbufs) still
 * has its retransmission timer: it sends the SYN-ACK later, and times out
 * in the end rather than holding its SYN-queue slot for ever. */
static void test_syn_received_timer_without_mbufs(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 8, &lev, &err);
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = LPORT,
			   .seq = PISN, .flags = KN_TH_SYN, .win = 65535};
	struct rte_mbuf *syn = kt_tcp_frame(&t);
	rte_mbuf_refcnt_update(syn, 1);   /* its free must not refill the pool */
	enum { MAX = 8192 };
	static struct rte_mbuf *hoard[MAX];
	unsigned n = 0;
	while (n < MAX && (hoard[n] = rte_pktmbuf_alloc(kt_pool)) != NULL)
		n++;
	kn_stack_input(S, syn, now);
	kn_stack_flush(S);
	assert_int_equal(cap.n, 0);
	assert_int_equal(kn_stack_tcb_count(S), 2);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(hoard[i]);
	rte_pktmbuf_free(syn);
	tick(2 * KT_SEC);
	struct kt_seg sa;
	assert_true(take_to(PPORT, &sa));
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	for (int i = 0; i < 30; i++) {
		tick(10 * KT_SEC);
		kt_cap_clear(&cap);
	}
	assert_int_equal(kn_stack_tcb_count(S), 1);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

int main(void)
{
	int rc = kt_eal_init("net-attack", 8192);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_syn_flood_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cookie_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_cookie_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isn_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ephemeral_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_acks_per_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oow_ack_ratelimit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paws_poisoning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_ratelimit_per_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_received_timer_without_mbufs, setup, teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
