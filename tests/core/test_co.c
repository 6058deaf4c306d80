/* SPDX-License-Identifier: MIT */
/* Coroutines on one vcpu: start, join, yield order, sleep, interrupt, CLS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static void *ret_arg(void *arg)
{
	return arg;
}

static void *t_join_result_body(void *arg)
{
	(void)arg;
	kaon_co *co;
	assert_int_equal(kaon_go(&co, NULL, ret_arg, (void *)0x1234), 0);
	void *r = NULL;
	assert_int_equal(kaon_join(co, KAON_FOREVER, &r), 0);
	assert_ptr_equal(r, (void *)0x1234);
	return (void *)7;
}

static void t_join_result(void **s)
{
	(void)s;
	assert_ptr_equal(run_main(t_join_result_body, NULL), (void *)7);
}

static void t_outside_vcpu(void **s)
{
	(void)s;
	kaon_co *co;
	assert_int_equal(kaon_go(&co, NULL, ret_arg, NULL), -EPERM);
	assert_int_equal(kaon_yield(), -EPERM);
	assert_int_equal(kaon_park(KAON_FOREVER), -EPERM);
	assert_null(kaon_self());
	assert_null(kaon_vcpu_self());
	assert_int_equal(kaon_run(NULL, NULL, NULL, NULL), -EINVAL);
}

static void *bad_opts_body(void *arg)
{
	(void)arg;
	kaon_co *co;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.stack_size = 100;
	assert_int_equal(kaon_go(&co, &o, ret_arg, NULL), -EINVAL);
	assert_int_equal(kaon_go(NULL, NULL, ret_arg, NULL), -EINVAL); /* joinable, no handle */
	assert_int_equal(kaon_go(&co, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(kaon_join(kaon_self(), KAON_FOREVER, NULL), -EDEADLK);
	assert_int_equal(kaon_interrupt(kaon_self(), 0), -EINVAL);
	assert_int_equal(kaon_run(NULL, ret_arg, NULL, NULL), -EBUSY);
	return NULL;
}

static void t_bad_input(void **s)
{
	(void)s;
	run_main(bad_opts_body, NULL);
	kaon_vcpu_opts o;
	kaon_vcpu_opts_init(&o);
	o.stack_size = 1;
	assert_int_equal(kaon_run(&o, ret_arg, NULL, NULL), -EINVAL);
	kaon_vcpu_opts_init(&o);
	o.cpu = -5;
	assert_int_equal(kaon_run(&o, ret_arg, NULL, NULL), -EINVAL);
}

struct order {
	int log[64];
	int n;
};

static struct order g_order;

static void *yielder(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < 3; i++) {
		g_order.log[g_order.n++] = id;
		kaon_yield();
	}
	return NULL;
}

static void *t_yield_order_body(void *arg)
{
	(void)arg;
	kaon_co *a, *b, *c;
	kaon_go(&a, NULL, yielder, (void *)1);
	kaon_go(&b, NULL, yielder, (void *)2);
	kaon_go(&c, NULL, yielder, (void *)3);
	kaon_join(a, KAON_FOREVER, NULL);
	kaon_join(b, KAON_FOREVER, NULL);
	kaon_join(c, KAON_FOREVER, NULL);
	return NULL;
}

static void t_yield_order(void **s)
{
	(void)s;
	memset(&g_order, 0, sizeof(g_order));
	run_main(t_yield_order_body, NULL);
	int want[] = { 1, 2, 3, 1, 2, 3, 1, 2, 3 };
	assert_int_equal(g_order.n, 9);
	assert_memory_equal(g_order.log, want, sizeof(want));
}

static void *t_sleep_body(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		int64_t d = kaon_deadline_in(2 * MS);
		assert_int_equal(kaon_sleep_until(d), 0);
		int64_t late = kaon_now() - d;
		assert_true(late >= 0);
		/* Generous bound: this runs on a loaded 2-core VM. */
		assert_true(late < 20 * MS);
	}
	/* A deadline in the past does not block. */
	assert_int_equal(kaon_sleep_until(kaon_now() - 1), 0);
	return NULL;
}

static void t_sleep(void **s)
{
	(void)s;
	run_main(t_sleep_body, NULL);
}

static void *sleeper_forever(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)kaon_sleep_until(KAON_FOREVER);
}

static void *t_interrupt_body(void *arg)
{
	(void)arg;
	kaon_co *co;
	kaon_go(&co, NULL, sleeper_forever, NULL);
	kaon_yield(); /* let it block */
	assert_int_equal(kaon_interrupt(co, ECANCELED), 0);
	void *r;
	assert_int_equal(kaon_join(co, KAON_FOREVER, &r), 0);
	assert_int_equal((int)(intptr_t)r, -ECANCELED);

	/* An interrupt sent before the coroutine blocks waits for it. */
	kaon_go(&co, NULL, sleeper_forever, NULL);
	assert_int_equal(kaon_interrupt(co, EINTR), 0);
	assert_int_equal(kaon_join(co, KAON_FOREVER, &r), 0);
	assert_int_equal((int)(intptr_t)r, -EINTR);

	/* Interrupting ourselves: the next blocking call returns it, once. */
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_sleep_until(kaon_deadline_in(MS)), -ECANCELED);
	assert_int_equal(kaon_sleep_until(kaon_deadline_in(MS)), 0);
	return NULL;
}

static void t_interrupt(void **s)
{
	(void)s;
	run_main(t_interrupt_body, NULL);
}

static void *sleep_ms(void *arg)
{
	kaon_sleep_until(kaon_deadline_in((intptr_t)arg * MS));
	return (void *)42;
}

static void *t_join_deadline_body(void *arg)
{
	(void)arg;
	kaon_co *co;
	kaon_go(&co, NULL, sleep_ms, (void *)30);
	assert_int_equal(kaon_join(co, kaon_deadline_in(2 * MS), NULL), -ETIMEDOUT);
	void *r = NULL;
	assert_int_equal(kaon_join(co, KAON_FOREVER, &r), 0); /* still joinable */
	assert_ptr_equal(r, (void *)42);
	/* Already finished before join. */
	kaon_go(&co, NULL, ret_arg, (void *)5);
	kaon_sleep_until(kaon_deadline_in(MS));
	assert_int_equal(kaon_join(co, kaon_now() - 1, &r), 0);
	assert_ptr_equal(r, (void *)5);
	/* Interrupting the joiner. */
	kaon_go(&co, NULL, sleep_ms, (void *)20);
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_join(co, KAON_FOREVER, NULL), -ECANCELED);
	assert_int_equal(kaon_join(co, KAON_FOREVER, NULL), 0);
	return NULL;
}

static void t_join_deadline(void **s)
{
	(void)s;
	run_main(t_join_deadline_body, NULL);
}

static int detached_done;
static void *detached_body(void *arg)
{
	(void)arg;
	kaon_yield();
	detached_done++;
	return NULL;
}

static void *t_detached_body(void *arg)
{
	(void)arg;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	for (int i = 0; i < 100; i++)
		assert_int_equal(kaon_go(NULL, &o, detached_body, NULL), 0);
	kaon_co *co;
	kaon_go(&co, &o, detached_body, NULL);
	assert_int_equal(kaon_join(co, KAON_FOREVER, NULL), -EINVAL);
	while (detached_done < 101)
		kaon_yield();
	return NULL;
}

static void t_detached(void **s)
{
	(void)s;
	detached_done = 0;
	run_main(t_detached_body, NULL);
	assert_int_equal(detached_done, 101);
}

/* When main returns, the coroutines left behind are cancelled. */
static int leftover_result;
static void *leftover(void *arg)
{
	(void)arg;
	leftover_result = kaon_sleep_until(KAON_FOREVER);
	return NULL;
}

static void *t_cancel_on_exit_body(void *arg)
{
	(void)arg;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	kaon_go(NULL, &o, leftover, NULL);
	kaon_co *unjoined;
	kaon_go(&unjoined, NULL, ret_arg, NULL); /* finished, never joined: freed */
	kaon_yield();
	return NULL;
}

static void t_cancel_on_exit(void **s)
{
	(void)s;
	leftover_result = 1;
	run_main(t_cancel_on_exit_body, NULL);
	assert_int_equal(leftover_result, -ECANCELED);
}

static int dtor_calls;
static void dtor(void *p)
{
	dtor_calls++;
	free(p);
}

static kaon_cls_key key;
static void *cls_body(void *arg)
{
	assert_null(kaon_cls_get(key));
	int *v = malloc(sizeof(int));
	*v = (int)(intptr_t)arg;
	assert_int_equal(kaon_cls_set(key, v), 0);
	kaon_yield();
	assert_int_equal(*(int *)kaon_cls_get(key), (int)(intptr_t)arg);
	return NULL;
}

static void *t_cls_body(void *arg)
{
	(void)arg;
	kaon_co *a, *b;
	kaon_go(&a, NULL, cls_body, (void *)1);
	kaon_go(&b, NULL, cls_body, (void *)2);
	kaon_join(a, KAON_FOREVER, NULL);
	kaon_join(b, KAON_FOREVER, NULL);
	assert_int_equal(kaon_cls_set(999, NULL), -EINVAL);
	return NULL;
}

static void t_cls(void **s)
{
	(void)s;
	key = kaon_cls_key_create(dtor);
	assert_true(key >= 0);
	assert_null(kaon_cls_get(key));
	assert_int_equal(kaon_cls_set(key, NULL), -EPERM);
	dtor_calls = 0;
	run_main(t_cls_body, NULL);
	assert_int_equal(dtor_calls, 2);
}

static void *names_body(void *arg)
{
	(void)arg;
	kaon_co *self = kaon_self();
	assert_string_equal(kaon_co_name(self), "main");
	assert_true(kaon_co_id(self) != 0);
	assert_int_equal(kaon_vcpu_id(kaon_vcpu_self()) >= 0, 1);
	return NULL;
}

static void t_names(void **s)
{
	(void)s;
	run_main(names_body, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_join_result),
		cmocka_unit_test(t_outside_vcpu),
		cmocka_unit_test(t_bad_input),
		cmocka_unit_test(t_yield_order),
		cmocka_unit_test(t_sleep),
		cmocka_unit_test(t_interrupt),
		cmocka_unit_test(t_join_deadline),
		cmocka_unit_test(t_detached),
		cmocka_unit_test(t_cancel_on_exit),
		cmocka_unit_test(t_cls),
		cmocka_unit_test(t_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
