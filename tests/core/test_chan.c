/* SPDX-License-Identifier: MIT */
/* Bounded channels: buffering, rendezvous, close, deadlines, interrupts, and
 * producers and consumers spread over two vcpus with every element counted. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kaon/sync.h"
#include "test_util.h"

static kaon_chan ch;

static void *chan_basic_body(void *arg)
{
	(void)arg;
	assert_int_equal(kaon_chan_init(&ch, 0, 4), -EINVAL);
	assert_int_equal(kaon_chan_init(&ch, sizeof(int), 2), 0);
	int x = 1, y = 0;
	assert_int_equal(kaon_chan_send(&ch, &x, KAON_FOREVER), 0);
	x = 2;
	assert_int_equal(kaon_chan_send(&ch, &x, KAON_FOREVER), 0);
	x = 3;
	assert_int_equal(kaon_chan_send(&ch, &x, kaon_deadline_in(MS)), -ETIMEDOUT);
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_chan_send(&ch, &x, KAON_FOREVER), -ECANCELED);
	assert_int_equal(kaon_chan_recv(&ch, &y, KAON_FOREVER), 0);
	assert_int_equal(y, 1);
	assert_int_equal(kaon_chan_recv(&ch, &y, KAON_FOREVER), 0);
	assert_int_equal(y, 2);
	assert_int_equal(kaon_chan_recv(&ch, &y, kaon_deadline_in(MS)), -ETIMEDOUT);
	/* Close: what was sent is still delivered, then -EPIPE. */
	x = 9;
	kaon_chan_send(&ch, &x, KAON_FOREVER);
	assert_int_equal(kaon_chan_close(&ch), 0);
	assert_int_equal(kaon_chan_close(&ch), -EPIPE);
	assert_int_equal(kaon_chan_send(&ch, &x, KAON_FOREVER), -EPIPE);
	assert_int_equal(kaon_chan_recv(&ch, &y, KAON_FOREVER), 0);
	assert_int_equal(y, 9);
	assert_int_equal(kaon_chan_recv(&ch, &y, KAON_FOREVER), -EPIPE);
	assert_int_equal(kaon_chan_destroy(&ch), 0);
	return NULL;
}

static void t_basic(void **s)
{
	(void)s;
	run_main(chan_basic_body, NULL);
}

static void *rendezvous_sender(void *arg)
{
	long v = (long)(intptr_t)arg;
	return (void *)(intptr_t)kaon_chan_send(&ch, &v, KAON_FOREVER);
}

static void *blocked_receiver(void *arg)
{
	(void)arg;
	long v;
	return (void *)(intptr_t)kaon_chan_recv(&ch, &v, KAON_FOREVER);
}

static void *rendezvous_body(void *arg)
{
	(void)arg;
	kaon_chan_init(&ch, sizeof(long), 0);
	long v = 0;
	/* No receiver: a send cannot complete. */
	assert_int_equal(kaon_chan_send(&ch, &v, kaon_deadline_in(MS)), -ETIMEDOUT);
	kaon_co *co;
	kaon_go(&co, NULL, rendezvous_sender, (void *)77);
	kaon_yield();
	assert_int_equal(kaon_chan_recv(&ch, &v, KAON_FOREVER), 0);
	assert_int_equal(v, 77);
	void *r;
	kaon_join(co, KAON_FOREVER, &r);
	assert_int_equal((int)(intptr_t)r, 0);
	/* Closing wakes a blocked receiver and a blocked sender. */
	kaon_co *rx, *tx;
	kaon_go(&rx, NULL, blocked_receiver, NULL);
	kaon_yield();
	kaon_chan_close(&ch);
	kaon_join(rx, KAON_FOREVER, &r);
	assert_int_equal((int)(intptr_t)r, -EPIPE);
	kaon_chan_destroy(&ch);
	kaon_chan_init(&ch, sizeof(long), 0);
	kaon_go(&tx, NULL, rendezvous_sender, (void *)1);
	kaon_yield();
	assert_int_equal(kaon_chan_destroy(&ch), -EBUSY);
	kaon_chan_close(&ch);
	kaon_join(tx, KAON_FOREVER, &r);
	assert_int_equal((int)(intptr_t)r, -EPIPE);
	kaon_chan_destroy(&ch);
	return NULL;
}

static void t_rendezvous(void **s)
{
	(void)s;
	run_main(rendezvous_body, NULL);
}

enum { PRODUCERS = 4, CONSUMERS = 4, PER = 20000 };
static _Atomic long sum_received, n_received;

static void *producer(void *arg)
{
	long base = (long)(intptr_t)arg * PER;
	for (long i = 0; i < PER; i++) {
		long v = base + i + 1;
		assert_int_equal(kaon_chan_send(&ch, &v, KAON_FOREVER), 0);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	long v;
	while (kaon_chan_recv(&ch, &v, KAON_FOREVER) == 0) {
		atomic_fetch_add(&sum_received, v);
		atomic_fetch_add(&n_received, 1);
	}
	return NULL;
}

static void *mpmc_body(void *arg)
{
	size_t cap = (size_t)(intptr_t)arg;
	kaon_chan_init(&ch, sizeof(long), cap);
	atomic_store(&sum_received, 0);
	atomic_store(&n_received, 0);
	kaon_vcpu *other;
	kaon_vcpu_start(&other, NULL);
	kaon_co *p[PRODUCERS], *c[CONSUMERS];
	for (int i = 0; i < CONSUMERS; i++) {
		if (i % 2)
			kaon_go_on(other, &c[i], NULL, consumer, NULL);
		else
			kaon_go(&c[i], NULL, consumer, NULL);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		if (i % 2)
			kaon_go(&p[i], NULL, producer, (void *)(intptr_t)i);
		else
			kaon_go_on(other, &p[i], NULL, producer, (void *)(intptr_t)i);
	}
	for (int i = 0; i < PRODUCERS; i++)
		kaon_join(p[i], KAON_FOREVER, NULL);
	kaon_chan_close(&ch);
	for (int i = 0; i < CONSUMERS; i++)
		kaon_join(c[i], KAON_FOREVER, NULL);
	long n = (long)PRODUCERS * PER;
	assert_int_equal(atomic_load(&n_received), n);
	assert_int_equal(atomic_load(&sum_received), n * (n + 1) / 2);
	assert_int_equal(kaon_chan_destroy(&ch), 0);
	return other;
}

static void t_mpmc_buffered(void **s)
{
	(void)s;
	kaon_vcpu_stop(run_main(mpmc_body, (void *)16));
}

static void t_mpmc_rendezvous(void **s)
{
	(void)s;
	kaon_vcpu_stop(run_main(mpmc_body, (void *)0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_basic),
		cmocka_unit_test(t_rendezvous),
		cmocka_unit_test(t_mpmc_buffered),
		cmocka_unit_test(t_mpmc_rendezvous),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
