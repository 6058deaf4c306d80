/* The timing wheel on its own (src/net/timer_wheel.c): order, far
 * deadlines, cancelling, never early, never late, 100k timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "net/timer_wheel.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct item {
	struct kn_tw_node n;
	uint64_t want;
	int popped;
};

static struct item *of(struct kn_tw_node *n)
{
	return (struct item *)((char *)n - offsetof(struct item, n));
}

static void test_order_and_exact_tick(void **st)
{
	(void)st;
	struct kn_twheel w;
	kn_tw_init(&w, 1000);
	static struct item it[300];
	for (unsigned i = 0; i < 300; i++) {
		/* Near, across level boundaries, and far. */
		uint64_t span = i < 100 ? 64 : i < 200 ? 5000 : 400000;
		it[i].want = 1001 + rnd() % span;
		kn_tw_add(&w, &it[i].n, it[i].want);
	}
	assert_int_equal(w.count, 300);
	/* Tick by tick: each node comes out at its own tick, never before,
	 * never after, in order. */
	unsigned got = 0;
	for (uint64_t now = 1001; now <= 1001 + 400000 && got < 300; now++) {
		kn_tw_expire(&w, now);
		struct kn_tw_node *n;
		uint64_t last = 0;
		while ((n = kn_tw_pop(&w)) != NULL) {
			assert_int_equal(of(n)->want, now);
			assert_true(of(n)->want >= last);
			last = of(n)->want;
			assert_false(kn_tw_filed(n));
			got++;
		}
	}
	assert_int_equal(got, 300);
	assert_int_equal(w.count, 0);
	assert_true(kn_tw_next(&w) == UINT64_MAX);
}

/* Random jumps: what is popped is due (never early) and was not due at
 * the previous expiry (never late); what stays is not due; pops come out
 * in deadline order. */
static void test_random_jumps(void **st)
{
	(void)st;
	struct kn_twheel w;
	uint64_t now = 123456789;
	kn_tw_init(&w, now);
	enum { N = 2000 };
	static struct item it[N];
	for (unsigned i = 0; i < N; i++) {
		uint64_t span = (uint64_t)1 << (rnd() % 30);
		it[i].want = now + 1 + rnd() % span;
		it[i].popped = 0;
		kn_tw_add(&w, &it[i].n, it[i].want);
	}
	unsigned got = 0;
	while (got < N) {
		uint64_t prev = now;
		now += 1 + rnd() % ((uint64_t)1 << (rnd() % 24));
		kn_tw_expire(&w, now);
		struct kn_tw_node *n;
		uint64_t last = 0;
		while ((n = kn_tw_pop(&w)) != NULL) {
			struct item *x = of(n);
			assert_true(x->want <= now);
			assert_true(x->want > prev);
			assert_true(x->want >= last);
			last = x->want;
			x->popped = 1;
			got++;
		}
		for (unsigned i = 0; i < N; i++)
			if (!it[i].popped)
				assert_true(it[i].want > now);
	}
	assert_int_equal(w.count, 0);
}

/* kn_tw_next() never lies late: stepping from one next() to the next one
 * reaches every node exactly at its tick. */
static void test_next_is_lower_bound(void **st)
{
	(void)st;
	struct kn_twheel w;
	kn_tw_init(&w, 0);
	static struct item it[500];
	for (unsigned i = 0; i < 500; i++) {
		it[i].want = 1 + rnd() % 10000000;
		kn_tw_add(&w, &it[i].n, it[i].want);
	}
	unsigned got = 0, steps = 0;
	uint64_t t;
	while ((t = kn_tw_next(&w)) != UINT64_MAX) {
		assert_true(t > w.now);
		kn_tw_expire(&w, t);
		steps++;
		struct kn_tw_node *n;
		while ((n = kn_tw_pop(&w)) != NULL) {
			assert_int_equal(of(n)->want, t);
			got++;
		}
	}
	assert_int_equal(got, 500);
	/* One step per distinct deadline, plus a few moves down a level each. */
	assert_true(steps <= 500 * KN_TW_LEVELS);
}

static void test_far_deadlines(void **st)
{
	(void)st;
	struct kn_twheel w;
	kn_tw_init(&w, 5000);
	struct item tw = {.want = 5000 + 60000};              /* TIME_WAIT: 60 s */
	struct item ka = {.want = 5000 + 7200000};            /* keepalive: 2 h */
	struct item far = {.want = 5000 + ((uint64_t)1 << 40)}; /* beyond the levels */
	kn_tw_add(&w, &far.n, far.want);
	kn_tw_add(&w, &ka.n, ka.want);
	kn_tw_add(&w, &tw.n, tw.want);
	assert_true(kn_tw_next(&w) <= tw.want);
	kn_tw_expire(&w, tw.want - 1);
	assert_null(kn_tw_pop(&w));
	kn_tw_expire(&w, tw.want);
	assert_ptr_equal(kn_tw_pop(&w), &tw.n);
	assert_true(kn_tw_next(&w) <= ka.want);
	kn_tw_expire(&w, ka.want - 1);
	assert_null(kn_tw_pop(&w));
	kn_tw_expire(&w, ka.want);
	assert_ptr_equal(kn_tw_pop(&w), &ka.n);
	assert_true(kn_tw_next(&w) <= far.want);
	kn_tw_expire(&w, far.want - 1);
	assert_null(kn_tw_pop(&w));
	kn_tw_expire(&w, far.want + 1000);
	assert_ptr_equal(kn_tw_pop(&w), &far.n);
	assert_null(kn_tw_pop(&w));
}

static void test_cancel(void **st)
{
	(void)st;
	struct kn_twheel w;
	kn_tw_init(&w, 0);
	struct item a = {.want = 10}, b = {.want = 10}, c = {.want = 3000}, d = {.want = 20};
	kn_tw_add(&w, &a.n, a.want);
	kn_tw_add(&w, &b.n, b.want);
	kn_tw_add(&w, &c.n, c.want);
	kn_tw_add(&w, &d.n, d.want);
	kn_tw_del(&w, &a.n);
	kn_tw_del(&w, &a.n); /* twice: nothing */
	kn_tw_del(&w, &c.n);
	assert_false(kn_tw_filed(&a.n));
	assert_int_equal(w.count, 2);
	/* With the far one gone the next deadline is the near one. */
	assert_int_equal(kn_tw_next(&w), 10);
	kn_tw_expire(&w, 100);
	/* A due node can still be cancelled before it is popped. */
	kn_tw_del(&w, &b.n);
	assert_ptr_equal(kn_tw_pop(&w), &d.n);
	assert_null(kn_tw_pop(&w));
	assert_int_equal(w.count, 0);
	assert_true(kn_tw_next(&w) == UINT64_MAX);
	/* Moving a node: del + add. */
	kn_tw_add(&w, &c.n, 5000);
	kn_tw_del(&w, &c.n);
	kn_tw_add(&w, &c.n, 150);
	/* On a higher level: next() is where it moves down, not later. */
	assert_int_equal(kn_tw_next(&w), 128);
	kn_tw_expire(&w, 149);
	assert_null(kn_tw_pop(&w));
	kn_tw_expire(&w, 150);
	assert_ptr_equal(kn_tw_pop(&w), &c.n);
}

/* A tick already passed means the next one: a user that re-files what it
 * pops, with a deadline in the past, does not loop. */
static void test_past_is_next_tick(void **st)
{
	(void)st;
	struct kn_twheel w;
	kn_tw_init(&w, 100);
	struct item a;
	kn_tw_add(&w, &a.n, 50);
	assert_int_equal(a.n.tick, 101);
	kn_tw_expire(&w, 100);
	assert_null(kn_tw_pop(&w));
	kn_tw_expire(&w, 101);
	struct kn_tw_node *n = kn_tw_pop(&w);
	assert_ptr_equal(n, &a.n);
	kn_tw_add(&w, n, 101);
	assert_null(kn_tw_pop(&w));
	assert_int_equal(kn_tw_next(&w), 102);
}

/* 100k timers between TIME_WAIT's 60 s and keepalive's 2 h, and a near
 * one: the near one comes out alone, then all the others, each at its
 * tick, in order. */
static void test_100k(void **st)
{
	(void)st;
	enum { N = 100000 };
	struct kn_twheel w;
	kn_tw_init(&w, 0);
	struct item *it = calloc(N, sizeof(*it));
	assert_non_null(it);
	for (unsigned i = 0; i < N; i++) {
		it[i].want = 60000 + rnd() % 7200000;
		kn_tw_add(&w, &it[i].n, it[i].want);
	}
	struct item near = {.want = 40};
	kn_tw_add(&w, &near.n, near.want);
	assert_int_equal(w.count, N + 1);
	assert_int_equal(kn_tw_next(&w), 40);
	kn_tw_expire(&w, 40);
	assert_ptr_equal(kn_tw_pop(&w), &near.n);
	assert_null(kn_tw_pop(&w));
	/* All of them, in order, each at its tick. */
	uint64_t last = 0, t;
	unsigned got = 0;
	while ((t = kn_tw_next(&w)) != UINT64_MAX) {
		kn_tw_expire(&w, t);
		struct kn_tw_node *n;
		while ((n = kn_tw_pop(&w)) != NULL) {
			assert_true(of(n)->want == t);
			assert_true(t >= last);
			last = t;
			got++;
		}
	}
	assert_int_equal(got, N);
	free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_exact_tick),
		cmocka_unit_test(test_random_jumps),
		cmocka_unit_test(test_next_is_lower_bound),
		cmocka_unit_test(test_far_deadlines),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_past_is_next_tick),
		cmocka_unit_test(test_100k),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
