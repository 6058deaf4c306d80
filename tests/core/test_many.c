/* SPDX-License-Identifier: MIT */
/* 100k live coroutines at once: sleeping on timers, then blocked on a
 * semaphore, all accounted for. */
#include <stdlib.h>

#include "kaon/sync.h"
#include "test_util.h"

enum { N = 100000 };

static kaon_sem sem;
static long woke, slept_ok;

static void *sleeper(void *arg)
{
	int64_t d = (int64_t)(intptr_t)arg;
	if (kaon_sleep_until(d) == 0 && kaon_now() >= d)
		slept_ok++;
	if (kaon_sem_wait(&sem, KAON_FOREVER) == 0)
		woke++;
	return NULL;
}

static void *body(void *arg)
{
	(void)arg;
	kaon_co **co = calloc(N, sizeof(*co));
	assert_non_null(co);
	kaon_sem_init(&sem, 0);
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.stack_size = 16 * 1024;
	int64_t base = kaon_deadline_in(50 * MS);
	for (long i = 0; i < N; i++)
		assert_int_equal(kaon_go(&co[i], &o, sleeper, (void *)(intptr_t)(base + (i * 7919) % (100 * MS))), 0);
	while (slept_ok < N)
		kaon_sleep_until(kaon_deadline_in(10 * MS));
	for (long i = 0; i < N; i++)
		kaon_sem_post(&sem);
	for (long i = 0; i < N; i++)
		assert_int_equal(kaon_join(co[i], KAON_FOREVER, NULL), 0);
	assert_int_equal(woke, N);
	assert_int_equal(kaon_sem_destroy(&sem), 0);
	free(co);
	return NULL;
}

static void t_hundred_thousand(void **s)
{
	(void)s;
	run_main(body, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_hundred_thousand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
