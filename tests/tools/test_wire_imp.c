/* SPDX-License-Identifier: MIT */
/*
 * The impairment model of kaon-wire (bench/wire_imp.c) on made-up clocks, no
 * sockets: spec parsing, loss rates (random and bursty) within statistical
 * tolerance, delay and jitter that keep order, reordering counted as it
 * happens, the rate limit and its queue, duplication, corruption, the delay
 * line's limit, and the same seed giving the same run. Every run is seeded,
 * so the figures are fixed; the tolerances are still those a fair coin would
 * pass (about 4 standard deviations), so that a new seed would pass too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "wire_imp.h"

#define MSN 1000000LL

static struct wire_dir *mk(const char *spec, int dir)
{
	struct wire_params p[2];
	uint64_t seed;
	char err[128];
	if (wire_parse(spec, p, &seed, err, sizeof err))
		fail_msg("spec '%s': %s", spec, err);
	struct wire_dir *d = malloc(sizeof *d);
	assert_non_null(d);
	assert_int_equal(wire_dir_init(d, &p[dir], seed, dir, 2048), 0);
	return d;
}

static void rm(struct wire_dir *d)
{
	wire_dir_free(d);
	free(d);
}

struct out {
	int64_t due;   /* when it left */
	uint32_t id;   /* the frame's number, from its payload */
	uint32_t len;
	int flipped;   /* bits that differ from what went in */
};

/* A pattern, and the frame's number at byte 14 with its complement after
 * it (frames of 22 bytes and more). */
static void fill(uint8_t *f, uint32_t len, uint32_t id)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 7 + 3);
	if (len >= 22) {
		uint32_t not_id = ~id;
		memcpy(f + 14, &id, sizeof id);
		memcpy(f + 18, &not_id, sizeof not_id);
	}
}

/* Offer @n frames of @len bytes, one every @gap ns from t=0, taking out
 * whatever is due as the clock goes; then empty the line. Outputs go to
 * @o (room for @cap). Returns how many came out. */
static size_t run(struct wire_dir *d, uint32_t n, uint32_t len, int64_t gap, struct out *o,
		  size_t cap)
{
	uint8_t f[2048], ref[2048];
	size_t k = 0;
	int64_t t = 0;
	for (uint32_t i = 0; i <= n; i++) {
		/* Everything due before this arrival leaves first, at its due
		 * time: the forwarder would have woken then. */
		for (;;) {
			int64_t due = wire_next_due(d);
			if (due > t && i < n)
				break;
			if (due == INT64_MAX)
				break;
			uint32_t l;
			const uint8_t *p = wire_peek(d, due, &l);
			assert_non_null(p);
			assert_true(k < cap);
			uint32_t id, not_id;
			memcpy(&id, p + 14, sizeof id);
			memcpy(&not_id, p + 18, sizeof not_id);
			/* A flipped bit in the number shows as a mismatch
			 * with its complement; elsewhere, against the
			 * pattern. */
			int flipped = __builtin_popcount(id ^ ~not_id);
			fill(ref, l, 0);
			for (uint32_t b = 0; b < l; b++)
				if (b < 14 || b >= 22)
					flipped += __builtin_popcount(ref[b] ^ p[b]);
			if (id != ~not_id)
				id = UINT32_MAX;
			o[k++] = (struct out){.due = due, .id = id, .len = l, .flipped = flipped};
			wire_pop(d);
		}
		if (i == n)
			break;
		fill(f, len, i);
		wire_in(d, f, len, t);
		t += gap;
	}
	return k;
}

static void within(double got, double want, double tol, const char *what)
{
	if (fabs(got - want) > tol)
		fail_msg("%s: %.4f, expected %.4f +- %.4f", what, got, want, tol);
}

static void test_parse(void **state)
{
	(void)state;
	struct wire_params p[2];
	uint64_t seed;
	char err[128];
	assert_int_equal(wire_parse("delay=20ms jitter=500us loss=1% rate=500mbit seed=7 "
				    "queue=100pkt s2c.loss=2.5 burst=1%,25% c2s.dup=0.1%",
				    p, &seed, err, sizeof err), 0);
	assert_int_equal(seed, 7);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(p[i].delay_ns, 20 * MSN);
		assert_int_equal(p[i].jitter_ns, 500000);
		assert_int_equal(p[i].rate_bps, 500000000);
		assert_int_equal(p[i].queue_bytes, 100 * WIRE_PKT_BYTES);
		assert_true(p[i].ge);
		assert_int_equal(p[i].ge_bad, WIRE_PROB_ONE);
		assert_int_equal(p[i].reorder_ns, MSN); /* the default */
	}
	assert_int_equal(p[0].loss, (uint64_t)llround(0.01 * WIRE_PROB_ONE));
	assert_int_equal(p[1].loss, (uint64_t)llround(0.025 * WIRE_PROB_ONE));
	assert_true(p[0].dup > 0 && p[1].dup == 0);
	assert_int_equal(wire_parse("", p, &seed, err, sizeof err), 0);
	assert_int_equal(p[0].delay_ns + (int64_t)p[0].loss + (int64_t)p[0].rate_bps, 0);
	const char *bad[] = {"delay", "delay=", "=5", "delay=fast", "loss=101%", "loss=-1%",
			     "rate=500mbps", "rate=10bit", "burst=1%", "burst=1,2,3,4,5",
			     "color=blue", "c2s.seed=3", "queue=10", "limit=0", "seed=x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (wire_parse(bad[i], p, &seed, err, sizeof err) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(err[0]);
	}
}

static void test_random_loss(void **state)
{
	(void)state;
	struct wire_dir *d = mk("loss=1% seed=42", WIRE_C2S);
	const uint32_t n = 200000;
	struct out *o = malloc(n * sizeof *o);
	size_t k = run(d, n, 100, 1000, o, n);
	/* sd = sqrt(n p (1-p)) = 44.5 frames */
	within((double)d->st.drop[WIRE_DROP_LOSS], 0.01 * n, 180, "random loss");
	assert_int_equal(k + d->st.drop[WIRE_DROP_LOSS], n);
	assert_int_equal(d->st.tx, k);
	assert_int_equal(d->st.reordered, 0);
	/* No delay asked: nothing waits. */
	assert_int_equal(d->st.delayed, 0);
	free(o);
	rm(d);
}

static void test_burst_loss(void **state)
{
	(void)state;
	/* p = 1%, r = 25%: in the bad state 1/(p+r) ... mean loss p/(p+r) =
	 * 3.85%, bursts of 1/r = 4 frames on average. */
	struct wire_dir *d = mk("burst=1%,25% seed=9", WIRE_S2C);
	const uint32_t n = 400000;
	struct out *o = malloc(n * sizeof *o);
	size_t k = run(d, n, 64, 1000, o, n);
	double lost = (double)d->st.drop[WIRE_DROP_BURST];
	within(lost / n, 0.01 / 0.26, 0.004, "burst loss rate");
	/* Bursts: runs of missing ids. */
	uint64_t runs = 0;
	uint32_t prev = UINT32_MAX;
	for (size_t i = 0; i < k; i++) {
		if (o[i].id != (prev == UINT32_MAX ? 0 : prev + 1))
			runs++;
		prev = o[i].id;
	}
	within(lost / (double)runs, 4.0, 0.4, "mean burst length");
	free(o);
	rm(d);
}

static void test_delay_keeps_order(void **state)
{
	(void)state;
	/* Dense: 100k frames/s. In order, 15..25 ms each, 2,000 in flight. */
	struct wire_dir *d = mk("delay=20ms jitter=5ms seed=3", WIRE_C2S);
	uint32_t n = 20000;
	int64_t gap = 10000;
	struct out *o = malloc(n * sizeof *o);
	size_t k = run(d, n, 1514, gap, o, n);
	assert_int_equal(k, n);
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(o[i].id, i);
		int64_t lat = o[i].due - (int64_t)i * gap;
		assert_true(lat >= 15 * MSN && lat <= 25 * MSN);
	}
	assert_int_equal(d->st.delayed, n);
	assert_int_equal(d->st.reordered, 0);
	assert_true(d->st.held_max >= 1500);
	free(o);
	rm(d);
	/* Sparse (one frame per 5 ms, as pings): the jitter shows, order
	 * still holds. */
	d = mk("delay=20ms jitter=5ms seed=4", WIRE_C2S);
	n = 2000, gap = 5 * MSN;
	o = malloc(n * sizeof *o);
	k = run(d, n, 98, gap, o, n);
	assert_int_equal(k, n);
	int64_t min = INT64_MAX, max = 0;
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(o[i].id, i);
		int64_t lat = o[i].due - (int64_t)i * gap;
		assert_true(lat >= 15 * MSN && lat <= 25 * MSN);
		min = lat < min ? lat : min;
		max = lat > max ? lat : max;
	}
	assert_true(min < 16 * MSN && max > 24 * MSN);
	free(o);
	rm(d);
	/* Plain delay: exactly 20 ms for each frame. */
	d = mk("delay=20ms", WIRE_C2S);
	o = malloc(100 * sizeof *o);
	k = run(d, 100, 64, 1000, o, 100);
	assert_int_equal(k, 100);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(o[i].due, (int64_t)i * 1000 + 20 * MSN);
	free(o);
	rm(d);
}

static void test_reorder(void **state)
{
	(void)state;
	struct wire_dir *d = mk("delay=5ms reorder=5% reorder_delay=1ms seed=11", WIRE_C2S);
	const uint32_t n = 100000;
	const int64_t gap = 10000;
	struct out *o = malloc(n * sizeof *o);
	size_t k = run(d, n, 200, gap, o, n);
	assert_int_equal(k, n);
	/* sd = sqrt(n p (1-p)) = 69 */
	within((double)d->st.reorder_held, 0.05 * n, 280, "frames held for reordering");
	/* Held 1 ms with a frame every 10 us: each is overtaken, and counted
	 * when it leaves after a later frame. */
	assert_int_equal(d->st.reordered, d->st.reorder_held);
	uint64_t late = 0;
	uint32_t top = 0;
	for (size_t i = 0; i < k; i++) {
		if (i && o[i].id < top)
			late++;
		top = o[i].id > top ? o[i].id : top;
		/* 5 ms, or 6 ms for a held frame. */
		int64_t lat = o[i].due - (int64_t)o[i].id * gap;
		assert_true(lat == 5 * MSN || lat == 6 * MSN);
	}
	assert_int_equal(late, d->st.reordered);
	free(o);
	rm(d);
}

static void test_rate_limit(void **state)
{
	(void)state;
	/* 1514-byte frames offered at 200 Mb/s to a 100 Mb/s bottleneck with a
	 * 30,000-byte queue: half go, at 100 Mb/s. */
	struct wire_dir *d = mk("rate=100mbit queue=30000 delay=1ms", WIRE_C2S);
	const uint32_t n = 20000;
	const int64_t gap = 1514LL * 8 * 1000000000 / 200000000; /* 60,560 ns */
	struct out *o = malloc(n * sizeof *o);
	size_t k = run(d, n, 1514, gap, o, n);
	assert_true(k > 0);
	double secs = (double)(o[k - 1].due - o[0].due) / 1e9;
	double bps = (double)(k - 1) * 1514 * 8 / secs;
	within(bps / 1e6, 100, 0.5, "Mb/s out of the bottleneck");
	within((double)d->st.drop[WIRE_DROP_QUEUE], n / 2.0, 60, "queue drops");
	assert_true(d->st.queue_max_bytes <= 30000);
	assert_true(d->st.queue_max_bytes > 30000 - 2 * 1514);
	/* In order, and never earlier than delay + one serialisation. */
	for (size_t i = 1; i < k; i++) {
		assert_true(o[i].id > o[i - 1].id);
		assert_true(o[i].due - (int64_t)o[i].id * gap >= MSN + 121120);
	}
	free(o);
	rm(d);
	/* Below the rate nothing is dropped and nothing queues. */
	d = mk("rate=1gbit", WIRE_S2C);
	o = malloc(1000 * sizeof *o);
	k = run(d, 1000, 1514, 20000, o, 1000);
	assert_int_equal(k, 1000);
	assert_int_equal(d->st.drop[WIRE_DROP_QUEUE], 0);
	assert_int_equal(d->st.queue_max_bytes, 1514);
	free(o);
	rm(d);
}

static void test_dup_corrupt(void **state)
{
	(void)state;
	struct wire_dir *d = mk("dup=10% corrupt=2% delay=1ms seed=5", WIRE_C2S);
	const uint32_t n = 50000;
	struct out *o = malloc(2 * n * sizeof *o);
	size_t k = run(d, n, 300, 2000, o, 2 * n);
	/* sd 67 and 31 */
	within((double)d->st.duplicated, 0.10 * n, 270, "duplicated");
	assert_int_equal(k, n + d->st.duplicated);
	uint64_t bad = 0;
	for (size_t i = 0; i < k; i++) {
		if (o[i].flipped) {
			assert_int_equal(o[i].flipped, 1);
			bad++;
		}
	}
	assert_int_equal(bad, d->st.corrupted);
	within((double)bad, 0.02 * (double)k, 130, "corrupted");
	free(o);
	rm(d);
	/* The Ethernet header is never hit: 100% corruption of 15-byte frames
	 * always flips a bit of the last byte. */
	d = mk("corrupt=100%", WIRE_C2S);
	uint8_t f[15], g[15];
	fill(f, 15, 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(wire_in(d, f, 15, 0), 1);
		uint32_t l;
		const uint8_t *p = wire_peek(d, 0, &l);
		memcpy(g, p, l);
		wire_pop(d);
		assert_memory_equal(f, g, 14);
		assert_int_equal(__builtin_popcount(f[14] ^ g[14]), 1);
	}
	rm(d);
}

static void test_limit_and_oversize(void **state)
{
	(void)state;
	struct wire_dir *d = mk("delay=1s limit=10", WIRE_C2S);
	uint8_t f[2100] = {0};
	for (int i = 0; i < 15; i++)
		wire_in(d, f, 100, i);
	assert_int_equal(d->st.drop[WIRE_DROP_FULL], 5);
	assert_int_equal(wire_next_due(d), 1000 * MSN);
	uint32_t l;
	assert_null(wire_peek(d, 1000 * MSN - 1, &l));
	assert_non_null(wire_peek(d, 1000 * MSN, &l));
	assert_int_equal(wire_in(d, f, 2049, 20), 0);
	assert_int_equal(d->st.drop[WIRE_DROP_OVERSIZE], 1);
	rm(d);
}

static void test_seeded(void **state)
{
	(void)state;
	const char *spec[] = {"loss=3% dup=3% reorder=3% corrupt=3% jitter=1ms delay=2ms seed=77",
			      "loss=3% dup=3% reorder=3% corrupt=3% jitter=1ms delay=2ms seed=77",
			      "loss=3% dup=3% reorder=3% corrupt=3% jitter=1ms delay=2ms seed=78"};
	struct out *o[3];
	size_t k[3];
	for (int r = 0; r < 3; r++) {
		struct wire_dir *d = mk(spec[r], WIRE_C2S);
		o[r] = malloc(20000 * sizeof *o[r]);
		k[r] = run(d, 10000, 100, 5000, o[r], 20000);
		rm(d);
	}
	assert_int_equal(k[0], k[1]);
	int same2 = k[0] == k[2];
	for (size_t i = 0; i < k[0]; i++) {
		assert_int_equal(o[0][i].due, o[1][i].due);
		assert_int_equal(o[0][i].id, o[1][i].id);
		assert_int_equal(o[0][i].flipped, o[1][i].flipped);
		if (same2 && (o[0][i].due != o[2][i].due || o[0][i].id != o[2][i].id))
			same2 = 0;
	}
	assert_false(same2);
	/* The two directions draw from different streams. */
	struct wire_dir *a = mk("seed=1", WIRE_C2S), *b = mk("seed=1", WIRE_S2C);
	assert_true(wire_rand32(a) != wire_rand32(b));
	rm(a);
	rm(b);
	for (int r = 0; r < 3; r++)
		free(o[r]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_random_loss),
		cmocka_unit_test(test_burst_loss),
		cmocka_unit_test(test_delay_keeps_order),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_dup_corrupt),
		cmocka_unit_test(test_limit_and_oversize),
		cmocka_unit_test(test_seeded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
