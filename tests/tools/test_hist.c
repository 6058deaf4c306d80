/* SPDX-License-Identifier: MIT */
/* kaon-bench's log-linear histogram: bucket bounds, precision, quantiles. */
#include "hist.h"
#include "test_util.h"

static void t_buckets(void **s)
{
	(void)s;
	/* Every value lies within its bucket, buckets are contiguous and
	 * ordered, and a bucket is at most 1/64 of its values wide. */
	uint64_t v = 0;
	unsigned prev = 0;
	for (int step = 0; step < 200000; step++) {
		unsigned b = hist_bucket(v);
		assert_true(b < HIST_BUCKETS);
		assert_true(b >= prev);
		assert_true(hist_bucket_low(b) <= v && v <= hist_bucket_high(b));
		uint64_t width = hist_bucket_high(b) - hist_bucket_low(b) + 1;
		assert_true(width == 1 || width <= hist_bucket_low(b) / 64);
		prev = b;
		if (v > UINT64_MAX / 2)
			break;
		v += 1 + v / 5000;
	}
	for (unsigned b = 1; b < HIST_BUCKETS; b++)
		assert_true(hist_bucket_low(b) == hist_bucket_high(b - 1) + 1);
	assert_int_equal(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
	assert_true(hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX);
}

static void t_quantiles(void **s)
{
	(void)s;
	static hist h;
	hist_init(&h);
	assert_int_equal(hist_quantile(&h, 0.5), 0);
	for (uint64_t i = 1; i <= 100000; i++)
		hist_record(&h, i * 1000); /* 1 us .. 100 ms in ns */
	assert_int_equal(h.count, 100000);
	const double q[] = { 0.5, 0.9, 0.99, 0.999 };
	for (int i = 0; i < 4; i++) {
		double want = q[i] * 100000 * 1000;
		double got = (double)hist_quantile(&h, q[i]);
		assert_true(got >= want && got <= want * (1 + 1.0 / 64) + 1000);
	}
	assert_int_equal(hist_quantile(&h, 1.0), 100000000);
	assert_int_equal(h.max, 100000000);
	assert_int_equal(h.min, 1000);

	static hist g;
	hist_init(&g);
	hist_record(&g, 5);
	hist_merge(&g, &h);
	assert_int_equal(g.count, 100001);
	assert_int_equal(g.min, 5);
	assert_int_equal(hist_quantile(&g, 0.0), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_buckets),
		cmocka_unit_test(t_quantiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
