/* Many connections between two stacks over a lossy link, driven by a seeded
 * random script of sends, reads, shutdowns, closes and aborts. Whatever the
 * script does: no crash, every byte that arrives is exactly the byte sent at
 * that position of that connection, every byte sent on a connection that no
 * reset ended arrives, every TCB goes away in the end and every mbuf returns
 * to the pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_test.h"

#define NCONN 24

struct sock {
	struct kt_ev ev;
	struct kn_tcb *t;
	uint64_t tx, rx;   /* bytes sent / received on this side */
	uint16_t lport, rport;
	bool shut, dead;
	bool rst;          /* this side reset the connection (abort, close with unread data) */
	bool keep;         /* the light script never shuts, closes or aborts it */
	struct sock *peer; /* the other end, once accepted */
};

static uint64_t rng = 12345;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Byte @off of what the side with port @from sends to port @to: differs
 * between connections and directions, and is not periodic in 256. */
static uint8_t byte_at(uint64_t off, uint16_t from, uint16_t to)
{
	uint32_t x = (uint32_t)off * 2654435761u ^ (uint32_t)from * 40503u ^ (uint32_t)to << 16;
	return (uint8_t)(x >> 24 ^ off >> 8);
}

static void check_read(struct sock *k, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], byte_at(k->rx + i, k->rport, k->lport));
	k->rx += n;
}

/* Read everything @k has; @return bytes read. */
static size_t drain(struct sock *k)
{
	static uint8_t buf[16384];
	size_t got = 0;
	ssize_t n;
	while ((n = kn_tcp_recv(k->t, buf, sizeof(buf))) > 0) {
		check_read(k, buf, (size_t)n);
		got += (size_t)n;
	}
	return got;
}

/* @k can be held to "every byte its peer sent arrived": it is still open
 * without an error, and its peer reset nothing. */
static bool checkable(const struct sock *k)
{
	return k->peer && !k->dead && kn_tcp_error(k->t) == 0 && !k->peer->rst;
}

static struct sock *socks;
static unsigned *nsocks;

static void accept_all(struct kn_tcb *l, struct sock *ss, unsigned *nss, struct sock *cs)
{
	struct kn_tcb *t;
	while (*nss < NCONN * 4 && (t = kn_tcp_accept(l, &ss[*nss].ev)) != NULL) {
		struct sock *k = &ss[(*nss)++];
		k->t = t;
		kn_tcp_endpoints(t, NULL, &k->lport, NULL, &k->rport);
		assert_true(k->rport >= 2000 && k->rport < 2000 + NCONN);
		struct sock *c = &cs[k->rport - 2000];
		assert_null(c->peer); /* one server socket per client port */
		k->peer = c;
		k->keep = c->keep;
		c->peer = k;
	}
}

static bool all_arrived(const struct sock *cs)
{
	for (int j = 0; j < NCONN; j++)
		if (checkable(&cs[j]) && cs[j].rx != cs[j].peer->tx)
			return false;
	for (unsigned j = 0; j < *nsocks; j++)
		if (checkable(&socks[j]) && socks[j].rx != socks[j].peer->tx)
			return false;
	return true;
}

/* @return 1 if @k is held to it (and it holds). */
static unsigned check_arrived(const struct sock *k, uint64_t *bytes)
{
	if (!checkable(k))
		return 0;
	if (k->rx != k->peer->tx)
		fprintf(stderr, "chaos: port %u got %llu of the %llu bytes port %u sent\n", k->lport,
			(unsigned long long)k->rx, (unsigned long long)k->peer->tx, k->rport);
	assert_int_equal(k->rx, k->peer->tx);
	*bytes += k->rx;
	return 1;
}

static void chaos(uint64_t seed, bool heavy, uint32_t loss_ppm)
{
	int64_t now = KT_SEC;
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	struct kn_loop_conf lc = {.seed = seed, .loss_ppm = loss_ppm, .dup_ppm = 10000,
				  .reorder_ppm = 20000, .corrupt_ppm = 5000, .delay_ns = 20000,
				  .jitter_ns = 10000, .reorder_ns = 50000};
	struct kn_loop *link = kn_loop_create(&lc, kt_pool);
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	ca.tcp.sndbuf = cb.tcp.sndbuf = 16384;
	ca.tcp.rcvbuf = cb.tcp.rcvbuf = 16384;
	ca.tcp.time_wait_ns = cb.tcp.time_wait_ns = 2 * KT_SEC;
	ca.tcp.ooo_max = cb.tcp.ooo_max = 8;
	/* Odd seeds: one side offers timestamps, the other declines. */
	cb.tcp.timestamps = !(seed & 1);
	int err;
	struct kn_stack *a = kn_stack_create(&ca, kn_loop_dev(link, 0), kt_pool, now, &err);
	struct kn_stack *b = kn_stack_create(&cb, kn_loop_dev(link, 1), kt_pool, now, &err);
	struct kt_ev lev = {0};
	struct kn_tcb *l = kn_tcp_listen(b, 80, 64, &lev, &err);
	static struct sock cs[NCONN], ss[NCONN * 4];
	memset(cs, 0, sizeof(cs));
	memset(ss, 0, sizeof(ss));
	unsigned nss = 0;
	for (int i = 0; i < NCONN; i++) {
		cs[i].t = kn_tcp_connect(a, KT_US_IP, 80, (uint16_t)(2000 + i), &cs[i].ev, &err);
		assert_non_null(cs[i].t);
		cs[i].lport = (uint16_t)(2000 + i);
		cs[i].rport = 80;
		/* Half the connections stay open to the end of the light
		 * script, so that most of what they send is checked. */
		cs[i].keep = !heavy && (i & 1) == 0;
	}
	static uint8_t buf[8192];
	for (int step = 0; step < 40000; step++) {
		now += 100000;
		kn_loop_set_now(link, now);
		kn_stack_poll(a, now);
		kn_stack_poll(b, now);
		accept_all(l, ss, &nss, cs);
		/* One random action on one random socket per step. */
		bool server = rnd() & 1;
		struct sock *k = server ? (nss ? &ss[rnd() % nss] : NULL) : &cs[rnd() % NCONN];
		if (!k || k->dead)
			continue;
		uint32_t r = rnd() % 1000;
		if (heavy && r >= 800)
			r = 900 + (r - 800) / 33; /* 900..906: shutdowns, closes, aborts */
		if (k->keep && r >= 900)
			continue;
		if (r < 450) {
			size_t n = rnd() % sizeof(buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = byte_at(k->tx + i, k->lport, k->rport);
			ssize_t w = kn_tcp_send(k->t, buf, n);
			if (w > 0)
				k->tx += (uint64_t)w;
		} else if (r < 900) {
			ssize_t n = kn_tcp_recv(k->t, buf, rnd() % sizeof(buf) + 1);
			if (n > 0)
				check_read(k, buf, (size_t)n);
		} else if (r < 903) {
			kn_tcp_shutdown(k->t);
			k->shut = true;
		} else if (r < 905) {
			/* Unread data makes the close a reset. */
			k->rst = kn_tcp_readable(k->t) > 0;
			kn_tcp_close(k->t);
			k->dead = true;
		} else if (r < 906) {
			kn_tcp_abort(k->t);
			k->rst = true;
			k->dead = true;
		}
	}
	/* The script stops; everyone still open reads until every byte its
	 * peer sent has arrived (the link keeps losing, duplicating,
	 * reordering and corrupting). */
	socks = ss;
	nsocks = &nss;
	for (int i = 0; i < 400000 && !all_arrived(cs); i++) {
		kn_loop_set_now(link, now);
		kn_stack_poll(a, now);
		kn_stack_poll(b, now);
		accept_all(l, ss, &nss, cs);
		for (int j = 0; j < NCONN; j++)
			if (!cs[j].dead)
				drain(&cs[j]);
		for (unsigned j = 0; j < nss; j++)
			if (!ss[j].dead)
				drain(&ss[j]);
		int64_t next = kn_loop_next_delivery(link);
		if (kn_stack_next_timer(a) < next)
			next = kn_stack_next_timer(a);
		if (kn_stack_next_timer(b) < next)
			next = kn_stack_next_timer(b);
		now = next > now && next - now < KT_MS && next != INT64_MAX ? next : now + KT_MS;
	}
	unsigned checked = 0;
	uint64_t bytes = 0;
	for (int j = 0; j < NCONN; j++)
		checked += check_arrived(&cs[j], &bytes);
	for (unsigned j = 0; j < nss; j++)
		checked += check_arrived(&ss[j], &bytes);
	if (getenv("KT_TRACE"))
		for (int i = 0; i < NCONN; i++)
			fprintf(stderr, "c%d %s dead=%d err=%d tx=%llu rx=%llu\n", i,
				cs[i].dead ? "-" : kn_tcp_state_name(kn_tcp_get_state(cs[i].t)), cs[i].dead,
				cs[i].dead ? 0 : kn_tcp_error(cs[i].t), (unsigned long long)cs[i].tx,
				(unsigned long long)cs[i].rx);
	/* Everyone closes; let every timer run out. */
	for (int i = 0; i < NCONN; i++)
		if (!cs[i].dead)
			kn_tcp_close(cs[i].t);
	for (unsigned i = 0; i < nss; i++)
		if (!ss[i].dead)
			kn_tcp_close(ss[i].t);
	kn_tcp_close(l);
	for (int i = 0; i < 200000 && (kn_stack_tcb_count(a) || kn_stack_tcb_count(b)); i++) {
		kn_loop_set_now(link, now);
		kn_stack_poll(a, now);
		kn_stack_poll(b, now);
		int64_t next = kn_loop_next_delivery(link);
		if (kn_stack_next_timer(a) < next)
			next = kn_stack_next_timer(a);
		if (kn_stack_next_timer(b) < next)
			next = kn_stack_next_timer(b);
		now = next > now && next != INT64_MAX ? next : now + 1000;
	}
	printf("chaos seed %llu%s: %u accepted, %u directions complete (%llu bytes), tcbs left %u/%u, "
	       "a rexmt %llu, b resets tx %llu\n",
	       (unsigned long long)seed, heavy ? " (heavy)" : "", nss, checked,
	       (unsigned long long)bytes,
	       kn_stack_tcb_count(a), kn_stack_tcb_count(b),
	       (unsigned long long)kn_stack_stats(a)->tcp_rexmt,
	       (unsigned long long)kn_stack_stats(b)->tcp_resets_tx);
	/* Not vacuous: the light script keeps half the connections open. */
	if (!heavy)
		assert_true(checked >= NCONN / 2);
	assert_int_equal(kn_stack_tcb_count(a), 0);
	assert_int_equal(kn_stack_tcb_count(b), 0);
	kn_stack_destroy(a);
	kn_stack_destroy(b);
	kn_loop_destroy(link);
	kt_assert_no_leak();
}

static void test_chaos(void **st)
{
	(void)st;
	/* KT_CHAOS_SEEDS=N for a longer soak; 8 by default. Each seed runs
	 * twice: a mostly sending/reading script at 2% loss, and one heavy on
	 * shutdowns, closes and aborts at 10% loss. */
	const char *e = getenv("KT_CHAOS_SEEDS");
	uint64_t n = e ? strtoull(e, NULL, 0) : 8;
	for (uint64_t seed = 1; seed <= n; seed++) {
		chaos(seed, false, 20000);
		chaos(seed, true, 100000);
	}
}

int main(void)
{
	int rc = kt_eal_init("net-chaos", 16384);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chaos),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
