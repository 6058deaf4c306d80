/* The in-memory link itself: delay, order, impairments from a seed, and the
 * same seed giving the same run. */
#include <string.h>

#include "net_test.h"

static struct rte_mbuf *frame(uint32_t tag)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(kt_pool);
	assert_non_null(m);
	uint8_t buf[64] = {0};
	memcpy(buf, &tag, 4);
	char *p = rte_pktmbuf_append(m, sizeof(buf));
	if (!p)
		fail();
	else
		memcpy(p, buf, sizeof(buf));
	return m;
}

static uint32_t tag_of(struct rte_mbuf *m)
{
	uint32_t t;
	memcpy(&t, rte_pktmbuf_mtod(m, void *), 4);
	return t;
}

static void test_delay_and_order(void **st)
{
	(void)st;
	struct kn_loop_conf c = {.seed = 1, .delay_ns = 1000};
	struct kn_loop *l = kn_loop_create(&c, kt_pool);
	struct kn_dev *a = kn_loop_dev(l, 0), *b = kn_loop_dev(l, 1);
	assert_memory_not_equal(a->mac, b->mac, 6);
	kn_loop_set_now(l, 0);
	struct rte_mbuf *v[8];
	for (uint32_t i = 0; i < 8; i++)
		v[i] = frame(i);
	assert_int_equal(a->ops->tx_burst(a, v, 8), 8);
	assert_int_equal(kn_loop_in_flight(l), 8);
	assert_int_equal(kn_loop_next_delivery(l), 1000);
	struct rte_mbuf *r[8];
	kn_loop_set_now(l, 999);
	assert_int_equal(b->ops->rx_burst(b, r, 8), 0);
	assert_int_equal(a->ops->rx_burst(a, r, 8), 0); /* nothing comes back */
	kn_loop_set_now(l, 1000);
	assert_int_equal(b->ops->rx_burst(b, r, 3), 3);
	assert_int_equal(b->ops->rx_burst(b, r + 3, 8), 5);
	for (uint32_t i = 0; i < 8; i++) {
		assert_int_equal(tag_of(r[i]), i);
		rte_pktmbuf_free(r[i]);
	}
	/* Frames left in flight are freed with the link. */
	v[0] = frame(99);
	b->ops->tx_burst(b, v, 1);
	kn_loop_destroy(l);
	kt_assert_no_leak();
}

/* A plain link's burst (plain_tx, once a burst): what fits the room goes,
 * in order, across the ring's wrap; the rest is refused and counted once;
 * a clock that went back still delivers by time. */
static void test_plain_burst_room(void **st)
{
	(void)st;
	struct kn_loop_conf c = {.seed = 1, .delay_ns = 10, .queue_max = 8};
	struct kn_loop *l = kn_loop_create(&c, kt_pool);
	struct kn_dev *a = kn_loop_dev(l, 0), *b = kn_loop_dev(l, 1);
	kn_loop_set_now(l, 100);
	struct rte_mbuf *v[10], *r[10];
	for (uint32_t i = 0; i < 10; i++)
		v[i] = frame(i);
	/* A frame goes while at most 8 - 2 are queued before it. */
	assert_int_equal(a->ops->tx_burst(a, v, 10), 7);
	assert_int_equal(kn_loop_stats(l, 0)->overflow, 1);
	assert_int_equal(kn_loop_stats(l, 0)->tx, 7);
	rte_pktmbuf_free(v[7]);
	kn_loop_set_now(l, 110);
	assert_int_equal(b->ops->rx_burst(b, r, 4), 4);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(tag_of(r[i]), i);
		rte_pktmbuf_free(r[i]);
	}
	/* Three left at ring slots 4 to 6: four more wrap round. */
	assert_int_equal(a->ops->tx_burst(a, v + 8, 2), 2);
	struct rte_mbuf *w[2] = {frame(10), frame(11)};
	assert_int_equal(a->ops->tx_burst(a, w, 2), 2);
	assert_int_equal(kn_loop_in_flight(l), 7);
	assert_int_equal(b->ops->rx_burst(b, r, 2), 2);
	assert_int_equal(tag_of(r[0]), 4);
	assert_int_equal(tag_of(r[1]), 5);
	rte_pktmbuf_free(r[0]);
	rte_pktmbuf_free(r[1]);
	/* The clock goes back: that frame is due before the queued ones. */
	kn_loop_set_now(l, 50);
	struct rte_mbuf *x = frame(12);
	assert_int_equal(a->ops->tx_burst(a, &x, 1), 1);
	kn_loop_set_now(l, 200);
	assert_int_equal(b->ops->rx_burst(b, r, 10), 6);
	static const uint32_t want[] = {12, 6, 8, 9, 10, 11};
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(tag_of(r[i]), want[i]);
		rte_pktmbuf_free(r[i]);
	}
	assert_int_equal(kn_loop_stats(l, 0)->tx, 12);
	assert_int_equal(kn_loop_stats(l, 0)->delivered, 12);
	kn_loop_destroy(l);
	kt_assert_no_leak();
}

static void run(uint64_t seed, struct kn_loop_stats *out, uint32_t *order_hash)
{
	struct kn_loop_conf c = {.seed = seed, .loss_ppm = 100000, .dup_ppm = 50000,
				 .reorder_ppm = 50000, .corrupt_ppm = 50000, .delay_ns = 1000,
				 .jitter_ns = 500, .reorder_ns = 5000};
	struct kn_loop *l = kn_loop_create(&c, kt_pool);
	struct kn_dev *a = kn_loop_dev(l, 0), *b = kn_loop_dev(l, 1);
	uint32_t h = 2166136261u;
	int64_t now = 0;
	for (uint32_t i = 0; i < 2000; i++) {
		kn_loop_set_now(l, now);
		struct rte_mbuf *m = frame(i);
		assert_int_equal(a->ops->tx_burst(a, &m, 1), 1);
		struct rte_mbuf *r[32];
		uint16_t n = b->ops->rx_burst(b, r, 32);
		for (uint16_t k = 0; k < n; k++) {
			h = (h ^ tag_of(r[k])) * 16777619u;
			rte_pktmbuf_free(r[k]);
		}
		now += 100;
	}
	*out = *kn_loop_stats(l, 0);
	*order_hash = h;
	kn_loop_destroy(l);
}

static void test_impairments_deterministic(void **st)
{
	(void)st;
	struct kn_loop_stats s1, s2, s3;
	uint32_t h1, h2, h3;
	run(7, &s1, &h1);
	run(7, &s2, &h2);
	run(8, &s3, &h3);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	assert_int_equal(h1, h2);
	assert_true(h1 != h3);
	/* Roughly the rates asked for (2000 frames). */
	assert_true(s1.lost > 120 && s1.lost < 280);
	assert_true(s1.duplicated > 40 && s1.duplicated < 160);
	assert_true(s1.corrupted > 40 && s1.corrupted < 160);
	assert_true(s1.reordered > 40 && s1.reordered < 160);
	kt_assert_no_leak();
}

int main(void)
{
	int rc = kt_eal_init("net-loop", 4096);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_and_order),
		cmocka_unit_test(test_plain_burst_room),
		cmocka_unit_test(test_impairments_deterministic),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
