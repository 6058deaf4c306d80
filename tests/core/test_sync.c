/* SPDX-License-Identifier: MIT */
/* Mutex, condition variable, semaphore and rwlock: semantics, deadlines,
 * interrupts, and contention between coroutines on two vcpus. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kaon/sync.h"
#include "test_util.h"

/* ----------------------------------------------------------------- mutex */

static kaon_mutex mu;
static long counter;

static void *hold_mutex_ms(void *arg)
{
	assert_int_equal(kaon_mutex_lock(&mu, KAON_FOREVER), 0);
	kaon_sleep_until(kaon_deadline_in((intptr_t)arg * MS));
	assert_int_equal(kaon_mutex_unlock(&mu), 0);
	return NULL;
}

static void *mutex_basic_body(void *arg)
{
	(void)arg;
	kaon_mutex_init(&mu);
	assert_int_equal(kaon_mutex_lock(&mu, KAON_FOREVER), 0);
	assert_int_equal(kaon_mutex_lock(&mu, KAON_FOREVER), -EDEADLK);
	assert_int_equal(kaon_mutex_trylock(&mu), -EBUSY);
	assert_int_equal(kaon_mutex_destroy(&mu), -EBUSY);
	assert_int_equal(kaon_mutex_unlock(&mu), 0);
	assert_int_equal(kaon_mutex_unlock(&mu), -EPERM);

	kaon_co *h;
	kaon_go(&h, NULL, hold_mutex_ms, (void *)20);
	kaon_yield();
	assert_int_equal(kaon_mutex_lock(&mu, kaon_deadline_in(2 * MS)), -ETIMEDOUT);
	assert_int_equal(kaon_mutex_unlock(&mu), -EPERM); /* not ours */
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_mutex_lock(&mu, KAON_FOREVER), -ECANCELED);
	assert_int_equal(kaon_mutex_lock(&mu, KAON_FOREVER), 0); /* handed over */
	assert_int_equal(kaon_mutex_unlock(&mu), 0);
	kaon_join(h, KAON_FOREVER, NULL);
	assert_int_equal(kaon_mutex_destroy(&mu), 0);
	return NULL;
}

static void t_mutex_basic(void **s)
{
	(void)s;
	run_main(mutex_basic_body, NULL);
}

enum { WORKERS = 8, ITERS = 20000 };

static void *mutex_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		assert_int_equal(kaon_mutex_lock(&mu, KAON_FOREVER), 0);
		long c = counter;
		if (i % 7 == 0)
			kaon_yield(); /* hold it across a switch now and then */
		counter = c + 1;
		kaon_mutex_unlock(&mu);
		if (i % 3 == 0)
			kaon_yield();
	}
	return NULL;
}

/* Run WORKERS copies of @p fn, half on this vcpu and half on another. */
static void spread(kaon_fn fn, void *arg)
{
	kaon_vcpu *other;
	assert_int_equal(kaon_vcpu_start(&other, NULL), 0);
	kaon_co *co[WORKERS];
	for (int i = 0; i < WORKERS; i++) {
		if (i % 2)
			assert_int_equal(kaon_go_on(other, &co[i], NULL, fn, arg), 0);
		else
			assert_int_equal(kaon_go(&co[i], NULL, fn, arg), 0);
	}
	for (int i = 0; i < WORKERS; i++)
		assert_int_equal(kaon_join(co[i], KAON_FOREVER, NULL), 0);
	/* kaon_vcpu_stop must not run on a vcpu: hand it to a plain thread
	 * would be overkill here, the other vcpu is idle, so stop after. */
	*(kaon_vcpu **)arg = other;
}

static void *mutex_contention_body(void *arg)
{
	(void)arg;
	kaon_mutex_init(&mu);
	counter = 0;
	kaon_vcpu *other = NULL;
	spread(mutex_worker, &other);
	assert_int_equal(counter, (long)WORKERS * ITERS);
	return other;
}

static void t_mutex_contention(void **s)
{
	(void)s;
	kaon_vcpu *other = run_main(mutex_contention_body, NULL);
	assert_int_equal(kaon_vcpu_stop(other), 0);
}

/* ------------------------------------------------------------------ cond */

static kaon_cond cv;
static int ready_flag;
static _Atomic int cond_woken;

static void *cond_waiter(void *arg)
{
	(void)arg;
	kaon_mutex_lock(&mu, KAON_FOREVER);
	while (!ready_flag)
		assert_int_equal(kaon_cond_wait(&cv, &mu, KAON_FOREVER), 0);
	atomic_fetch_add(&cond_woken, 1);
	kaon_mutex_unlock(&mu);
	return NULL;
}

static void *cond_body(void *arg)
{
	(void)arg;
	kaon_mutex_init(&mu);
	kaon_cond_init(&cv);
	ready_flag = 0;
	atomic_store(&cond_woken, 0);
	/* Deadline: returns -ETIMEDOUT with the mutex held again. */
	kaon_mutex_lock(&mu, KAON_FOREVER);
	assert_int_equal(kaon_cond_wait(&cv, &mu, kaon_deadline_in(MS)), -ETIMEDOUT);
	assert_int_equal(kaon_mutex_trylock(&mu), -EBUSY);
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_cond_wait(&cv, &mu, KAON_FOREVER), -ECANCELED);
	assert_int_equal(kaon_mutex_unlock(&mu), 0);
	assert_int_equal(kaon_cond_wait(&cv, &mu, KAON_FOREVER), -EPERM);

	kaon_vcpu *other;
	kaon_vcpu_start(&other, NULL);
	kaon_co *co[10];
	for (int i = 0; i < 10; i++) {
		if (i % 2)
			kaon_go_on(other, &co[i], NULL, cond_waiter, NULL);
		else
			kaon_go(&co[i], NULL, cond_waiter, NULL);
	}
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_cond_signal(&cv); /* flag still 0: one wakes and waits again */
	kaon_mutex_lock(&mu, KAON_FOREVER);
	ready_flag = 1;
	kaon_cond_broadcast(&cv);
	kaon_mutex_unlock(&mu);
	for (int i = 0; i < 10; i++)
		kaon_join(co[i], KAON_FOREVER, NULL);
	assert_int_equal(atomic_load(&cond_woken), 10);
	assert_int_equal(kaon_cond_destroy(&cv), 0);
	return other;
}

static void t_cond(void **s)
{
	(void)s;
	kaon_vcpu *other = run_main(cond_body, NULL);
	kaon_vcpu_stop(other);
}

/* ------------------------------------------------------------------- sem */

static kaon_sem sem;

static void *sem_body(void *arg)
{
	(void)arg;
	kaon_sem_init(&sem, 2);
	assert_int_equal(kaon_sem_trywait(&sem), 0);
	assert_int_equal(kaon_sem_wait(&sem, KAON_FOREVER), 0);
	assert_int_equal(kaon_sem_trywait(&sem), -EAGAIN);
	assert_int_equal(kaon_sem_wait(&sem, kaon_deadline_in(MS)), -ETIMEDOUT);
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_sem_wait(&sem, KAON_FOREVER), -ECANCELED);
	assert_int_equal(kaon_sem_post(&sem), 0);
	assert_int_equal(kaon_sem_wait(&sem, 0), 0); /* past deadline, unit available */
	assert_int_equal(kaon_sem_destroy(&sem), 0);
	kaon_sem_init(&sem, UINT64_MAX);
	assert_int_equal(kaon_sem_post(&sem), -EOVERFLOW);
	return NULL;
}

static void t_sem(void **s)
{
	(void)s;
	run_main(sem_body, NULL);
}

/* Ping-pong between two vcpus through two semaphores. */
static kaon_sem ping, pong;
static void *ponger(void *arg)
{
	long n = (long)(intptr_t)arg;
	for (long i = 0; i < n; i++) {
		assert_int_equal(kaon_sem_wait(&ping, KAON_FOREVER), 0);
		kaon_sem_post(&pong);
	}
	return NULL;
}

static void *sem_pingpong_body(void *arg)
{
	(void)arg;
	enum { ROUNDS = 20000 };
	kaon_sem_init(&ping, 0);
	kaon_sem_init(&pong, 0);
	kaon_vcpu *other;
	kaon_vcpu_start(&other, NULL);
	kaon_co *co;
	kaon_go_on(other, &co, NULL, ponger, (void *)(intptr_t)ROUNDS);
	for (long i = 0; i < ROUNDS; i++) {
		kaon_sem_post(&ping);
		assert_int_equal(kaon_sem_wait(&pong, kaon_deadline_in(5000 * MS)), 0);
	}
	kaon_join(co, KAON_FOREVER, NULL);
	return other;
}

static void t_sem_cross_vcpu(void **s)
{
	(void)s;
	kaon_vcpu *other = run_main(sem_pingpong_body, NULL);
	kaon_vcpu_stop(other);
}

/* ---------------------------------------------------------------- rwlock */

static kaon_rwlock rw;
static _Atomic int readers_in, writers_in, max_readers;
static long rw_value;

static void *rw_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3000; i++) {
		if (i % 4 == 0) {
			assert_int_equal(kaon_rwlock_wrlock(&rw, KAON_FOREVER), 0);
			assert_int_equal(atomic_fetch_add(&writers_in, 1), 0);
			assert_int_equal(atomic_load(&readers_in), 0);
			long v = rw_value;
			kaon_yield();
			rw_value = v + 1;
			atomic_fetch_sub(&writers_in, 1);
		} else {
			assert_int_equal(kaon_rwlock_rdlock(&rw, KAON_FOREVER), 0);
			int r = atomic_fetch_add(&readers_in, 1) + 1;
			int m = atomic_load(&max_readers);
			while (r > m && !atomic_compare_exchange_weak(&max_readers, &m, r))
				;
			assert_int_equal(atomic_load(&writers_in), 0);
			kaon_yield();
			atomic_fetch_sub(&readers_in, 1);
		}
		assert_int_equal(kaon_rwlock_unlock(&rw), 0);
	}
	return NULL;
}

static void *rw_body(void *arg)
{
	(void)arg;
	kaon_rwlock_init(&rw);
	assert_int_equal(kaon_rwlock_unlock(&rw), -EPERM);
	assert_int_equal(kaon_rwlock_rdlock(&rw, KAON_FOREVER), 0);
	assert_int_equal(kaon_rwlock_rdlock(&rw, KAON_FOREVER), 0);
	assert_int_equal(kaon_rwlock_wrlock(&rw, kaon_deadline_in(MS)), -ETIMEDOUT);
	/* The writer that gave up must not block readers behind it. */
	assert_int_equal(kaon_rwlock_rdlock(&rw, kaon_deadline_in(MS)), 0);
	assert_int_equal(kaon_rwlock_destroy(&rw), -EBUSY);
	for (int i = 0; i < 3; i++)
		kaon_rwlock_unlock(&rw);
	assert_int_equal(kaon_rwlock_wrlock(&rw, KAON_FOREVER), 0);
	assert_int_equal(kaon_rwlock_rdlock(&rw, kaon_deadline_in(MS)), -ETIMEDOUT);
	kaon_rwlock_unlock(&rw);

	rw_value = 0;
	atomic_store(&max_readers, 0);
	kaon_vcpu *other = NULL;
	spread(rw_worker, &other);
	assert_int_equal(rw_value, (long)WORKERS * 750);
	assert_true(atomic_load(&max_readers) >= 2); /* readers do share */
	assert_int_equal(kaon_rwlock_destroy(&rw), 0);
	return other;
}

static void t_rwlock(void **s)
{
	(void)s;
	kaon_vcpu *other = run_main(rw_body, NULL);
	kaon_vcpu_stop(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_mutex_basic),
		cmocka_unit_test(t_mutex_contention),
		cmocka_unit_test(t_cond),
		cmocka_unit_test(t_sem),
		cmocka_unit_test(t_sem_cross_vcpu),
		cmocka_unit_test(t_rwlock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
