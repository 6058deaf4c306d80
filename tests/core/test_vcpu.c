/* SPDX-License-Identifier: MIT */
/* Several vcpus: starting coroutines elsewhere, joining and waking across
 * threads, stopping, pinning, and engines that fail or busy-poll. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_util.h"

static void *whoami(void *arg)
{
	(void)arg;
	return kaon_vcpu_self();
}

static void *cross_join_body(void *arg)
{
	kaon_vcpu *other = arg;
	kaon_co *co;
	assert_int_equal(kaon_go_on(other, &co, NULL, whoami, NULL), 0);
	void *r = NULL;
	assert_int_equal(kaon_join(co, KAON_FOREVER, &r), 0);
	assert_ptr_equal(r, other);
	/* Many at once, both directions of wake-up. */
	kaon_co *cos[200];
	for (int i = 0; i < 200; i++)
		assert_int_equal(kaon_go_on(other, &cos[i], NULL, whoami, NULL), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(kaon_join(cos[i], KAON_FOREVER, NULL), 0);
	return NULL;
}

static void t_cross_join(void **s)
{
	(void)s;
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, NULL), 0);
	run_main(cross_join_body, v);
	assert_int_equal(kaon_vcpu_stop(v), 0);
}

static _Atomic int blocked_result = 1;
static void *block_forever(void *arg)
{
	(void)arg;
	atomic_store(&blocked_result, kaon_sleep_until(KAON_FOREVER));
	return NULL;
}

static void t_stop_cancels(void **s)
{
	(void)s;
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, NULL), 0);
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	/* From a thread that is no vcpu. */
	assert_int_equal(kaon_go_on(v, NULL, &o, block_forever, NULL), 0);
	kaon_co *joinable;
	assert_int_equal(kaon_go_on(v, &joinable, NULL, whoami, NULL), 0);
	usleep(10000);
	assert_int_equal(kaon_vcpu_stop(v), 0); /* frees the unjoined one too */
	assert_int_equal(atomic_load(&blocked_result), -ECANCELED);
}

static kaon_co *sleeper_co;
static _Atomic int sleeper_ready, sleeper_result;
static void *sleeper(void *arg)
{
	(void)arg;
	sleeper_co = kaon_self();
	atomic_store(&sleeper_ready, 1);
	atomic_store(&sleeper_result, kaon_sleep_until(KAON_FOREVER));
	return NULL;
}

static void t_interrupt_from_thread(void **s)
{
	(void)s;
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, NULL), 0);
	kaon_co *co;
	atomic_store(&sleeper_ready, 0);
	assert_int_equal(kaon_go_on(v, &co, NULL, sleeper, NULL), 0);
	while (!atomic_load(&sleeper_ready))
		usleep(100);
	usleep(2000);
	assert_int_equal(kaon_interrupt(sleeper_co, EINTR), 0);
	for (int i = 0; i < 1000 && atomic_load(&sleeper_result) == 0; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&sleeper_result), -EINTR);
	assert_int_equal(kaon_vcpu_stop(v), 0);
}

static void *cpu_of(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)sched_getcpu();
}

static void *pin_body(void *arg)
{
	kaon_vcpu *v = arg;
	kaon_co *co;
	kaon_go_on(v, &co, NULL, cpu_of, NULL);
	void *r;
	kaon_join(co, KAON_FOREVER, &r);
	return r;
}

static void t_pinning(void **s)
{
	(void)s;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	kaon_vcpu_opts o;
	kaon_vcpu_opts_init(&o);
	o.cpu = (int)(ncpu - 1);
	o.name = "kaon-test-pin";
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, &o), 0);
	assert_int_equal((int)(intptr_t)run_main(pin_body, v), (int)(ncpu - 1));
	assert_int_equal(kaon_vcpu_stop(v), 0);
	o.cpu = 100000;
	assert_int_equal(kaon_vcpu_start(&v, &o), -EINVAL);
}

/* ------------------------------------------------------ custom engines */

static int failing_init(void **st, kaon_vcpu *v, void *arg)
{
	(void)st;
	(void)v;
	(void)arg;
	return -EIO;
}
static int noop_poll(void *st, int64_t now, int64_t deadline)
{
	(void)st;
	(void)now;
	(void)deadline;
	return 0;
}
static const kaon_engine_ops failing = { .name = "failing", .init = failing_init, .poll = noop_poll };

static _Atomic long busy_polls;
static int busy_init(void **st, kaon_vcpu *v, void *arg)
{
	(void)v;
	*st = arg;
	return 0;
}
static int busy_poll(void *st, int64_t now, int64_t deadline)
{
	(void)st;
	(void)now;
	(void)deadline; /* a busy engine returns at once, whatever the deadline */
	atomic_fetch_add(&busy_polls, 1);
	return 0;
}
static const kaon_engine_ops busy = {
	.name = "busy", .busy_poll = true, .init = busy_init, .poll = busy_poll,
};

static void *sleep_2ms(void *arg)
{
	(void)arg;
	int64_t d = kaon_deadline_in(2 * MS);
	assert_int_equal(kaon_sleep_until(d), 0);
	return (void *)(intptr_t)(kaon_now() - d);
}

static void t_engines(void **s)
{
	(void)s;
	kaon_vcpu_opts o;
	kaon_vcpu_opts_init(&o);
	o.engine = &failing;
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, &o), -EIO);
	assert_int_equal(kaon_run(&o, whoami, NULL, NULL), -EIO);

	kaon_vcpu_opts_init(&o);
	o.engine = &busy;
	atomic_store(&busy_polls, 0);
	void *late = NULL;
	assert_int_equal(kaon_run(&o, sleep_2ms, NULL, &late), 0);
	assert_true((intptr_t)late >= 0 && (intptr_t)late < 20 * MS);
	assert_true(atomic_load(&busy_polls) > 10); /* it spun while sleeping */
}

static int stop_self_rc;
static void *stop_self(void *arg)
{
	stop_self_rc = kaon_vcpu_stop(arg);
	return NULL;
}

static void t_stop_self(void **s)
{
	(void)s;
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, NULL), 0);
	kaon_co *co;
	kaon_go_on(v, &co, NULL, stop_self, v);
	usleep(5000);
	assert_int_equal(stop_self_rc, -EDEADLK);
	assert_int_equal(kaon_vcpu_stop(v), 0);
	assert_int_equal(kaon_vcpu_stop(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_cross_join),
		cmocka_unit_test(t_stop_cancels),
		cmocka_unit_test(t_interrupt_from_thread),
		cmocka_unit_test(t_pinning),
		cmocka_unit_test(t_engines),
		cmocka_unit_test(t_stop_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
