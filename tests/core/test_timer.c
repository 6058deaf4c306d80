/* SPDX-License-Identifier: MIT */
/* The timer heap on its own: order, FIFO ties, cancel anywhere, 1M timers. */
#include <stdlib.h>

#include "core/timer.h"
#include "test_util.h"

static int64_t last_when;
static uint64_t fired;
static int order_ok;

static void on_fire(kaon_timer *t)
{
	if (t->when < last_when)
		order_ok = 0;
	last_when = t->when;
	fired++;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void t_million(void **s)
{
	(void)s;
	enum { N = 1000000 };
	kaon_timer *t = calloc(N, sizeof(*t));
	kaon_timer_heap h = { 0 };
	assert_non_null(t);
	for (int i = 0; i < N; i++) {
		kaon__timer_init(&t[i], on_fire);
		assert_int_equal(kaon__timer_add(&h, &t[i], (int64_t)(xorshift() % 1000000000)), 0);
	}
	assert_int_equal(h.n, N);
	/* Cancel every third one, from anywhere in the heap. */
	size_t cancelled = 0;
	for (int i = 0; i < N; i += 3) {
		kaon__timer_cancel(&h, &t[i]);
		assert_false(kaon__timer_armed(&t[i]));
		cancelled++;
	}
	/* Re-arming an armed timer moves it. */
	kaon__timer_add(&h, &t[1], 5);
	assert_int_equal(kaon__timer_next(&h), 5);
	last_when = INT64_MIN;
	fired = 0;
	order_ok = 1;
	kaon__timer_run(&h, 500000000);
	kaon__timer_run(&h, INT64_MAX - 1);
	assert_true(order_ok);
	assert_int_equal(fired, N - cancelled);
	assert_int_equal(h.n, 0);
	assert_int_equal(kaon__timer_next(&h), INT64_MAX);
	kaon__timer_heap_fini(&h);
	free(t);
}

static int seq_log[8], seq_n;
static void log_fire(kaon_timer *t)
{
	seq_log[seq_n++] = (int)t->seq;
}

static void t_fifo_ties(void **s)
{
	(void)s;
	kaon_timer t[5];
	kaon_timer_heap h = { 0 };
	for (int i = 0; i < 5; i++) {
		kaon__timer_init(&t[i], log_fire);
		kaon__timer_add(&h, &t[i], 100);
	}
	seq_n = 0;
	assert_int_equal(kaon__timer_run(&h, 99), 0);
	assert_int_equal(kaon__timer_run(&h, 100), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(seq_log[i], i);
	kaon__timer_cancel(&h, &t[0]); /* not armed: no-op */
	kaon__timer_heap_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_million),
		cmocka_unit_test(t_fifo_ties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
