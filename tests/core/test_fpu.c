/* SPDX-License-Identifier: MIT */
/* The switch keeps what the ABI says a callee keeps: the FP control state
 * (rounding mode) per coroutine, and callee-saved integer and FP registers
 * (checked through values the compiler keeps in them across yields). */
#include <fenv.h>
#include <math.h>

#include "test_util.h"

static volatile double one = 1.0, three = 3.0;

static void *rounding(void *arg)
{
	int mode = (int)(intptr_t)arg;
	if (mode != FE_TONEAREST)
		assert_int_equal(fesetround(mode), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(fegetround(), mode);
		kaon_yield();
	}
	/* The mode really applies: 1/3 rounds differently up and down. */
	return (void *)(intptr_t)(one / three > 0.33333333333333331 ? 1 : 0);
}

static void *rounding_body(void *arg)
{
	(void)arg;
	kaon_co *up, *down, *near;
	kaon_go(&up, NULL, rounding, (void *)(intptr_t)FE_UPWARD);
	kaon_go(&down, NULL, rounding, (void *)(intptr_t)FE_DOWNWARD);
	kaon_go(&near, NULL, rounding, (void *)(intptr_t)FE_TONEAREST);
	void *ru, *rd;
	kaon_join(up, KAON_FOREVER, &ru);
	kaon_join(down, KAON_FOREVER, &rd);
	kaon_join(near, KAON_FOREVER, NULL);
	assert_int_equal((intptr_t)ru, 1);
	assert_int_equal((intptr_t)rd, 0);
	assert_int_equal(fegetround(), FE_TONEAREST); /* main untouched */
	return NULL;
}

static void t_rounding_per_coroutine(void **s)
{
	(void)s;
	run_main(rounding_body, NULL);
}

/* Many values live across each yield: they end up in callee-saved
 * registers, which the switch must restore. */
static __attribute__((noinline)) double pressure(long seed, int do_yield)
{
	unsigned long a = (unsigned long)seed, b = a * 3, c = a ^ 0x55, d = a + 7, e = a * 11, f = ~a;
	double x = (double)seed, y = x / 3, z = x * 1.5, w = x - 2, u = x / 7, v = x + 0.25;
	double p = 1.5, q = 2.5;
	for (int i = 0; i < 50; i++) {
		if (do_yield)
			kaon_yield();
		a += b ^ (unsigned long)i;
		b = b * 31 + c;
		c ^= d << 1;
		d += e;
		e = e * 7 + f;
		f -= a;
		x = x * 1.0001 + y;
		y = y * 0.999 + z;
		z = z + w * 0.5;
		w = w * 1.01 - u;
		u = u + v * 0.1;
		v = v * 0.98 + x * 0.01;
		p = p * 1.0003 + q * 0.0001;
		q = q * 0.9997 + p * 0.0002;
	}
	return (double)(a + b + c + d + e + f) + x + y + z + w + u + v + p + q;
}

static void *pressure_co(void *arg)
{
	long seed = (long)(intptr_t)arg;
	double got = pressure(seed, 1);
	double want = pressure(seed, 0);
	return (void *)(intptr_t)(got == want || (isnan(got) && isnan(want)));
}

static void *pressure_body(void *arg)
{
	(void)arg;
	kaon_co *co[6];
	for (int i = 0; i < 6; i++)
		kaon_go(&co[i], NULL, pressure_co, (void *)(intptr_t)(i * 1000 + 17));
	for (int i = 0; i < 6; i++) {
		void *ok;
		kaon_join(co[i], KAON_FOREVER, &ok);
		assert_int_equal((intptr_t)ok, 1);
	}
	return NULL;
}

static void t_callee_saved(void **s)
{
	(void)s;
	run_main(pressure_body, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rounding_per_coroutine),
		cmocka_unit_test(t_callee_saved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
