/* Bulk transfer between two stacks over the in-memory link, checked by hash,
 * with loss, reordering, duplication and corruption from a fixed seed.
 * Usage: test_net_transfer LOSS_PPM MIB [offload] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_test.h"

static int64_t now = KT_SEC;

struct end {
	struct kt_ev ev;
	struct kn_tcb *t;
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The byte stream: a cheap generator so both ends agree. */
static void fill(uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = off + i;
		buf[i] = (uint8_t)((x * 2654435761u) >> 13 ^ x);
	}
}

static void run(uint32_t loss_ppm, uint64_t total, bool offload)
{
	struct kn_loop_conf lc = {
		.seed = 42 + loss_ppm,
		.loss_ppm = loss_ppm,
		.dup_ppm = loss_ppm ? 5000 : 0,
		.reorder_ppm = loss_ppm ? 10000 : 0,
		.corrupt_ppm = loss_ppm ? 1000 : 0,
		.delay_ns = 50000,
		.jitter_ns = loss_ppm ? 5000 : 0,
		.reorder_ns = 120000,
		.queue_max = 16384,
		.offload = offload,
	};
	struct kn_loop *link = kn_loop_create(&lc, kt_pool);
	assert_non_null(link);
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	ca.isn_secret[0] = 7;
	ca.tcp.max_retries = 30;
	cb.tcp.max_retries = 30;
	int err;
	struct kn_stack *a = kn_stack_create(&ca, kn_loop_dev(link, 0), kt_pool, now, &err);
	struct kn_stack *b = kn_stack_create(&cb, kn_loop_dev(link, 1), kt_pool, now, &err);
	assert_non_null(a);
	assert_non_null(b);
	struct kt_ev lev = {0};
	struct end ea = {0}, eb = {0};
	struct kn_tcb *l = kn_tcp_listen(b, 5001, 8, &lev, &err);
	assert_non_null(l);
	ea.t = kn_tcp_connect(a, KT_US_IP, 5001, 0, &ea.ev, &err);
	assert_non_null(ea.t);

	static uint8_t chunk[65536];
	uint64_t sent = 0, rcvd = 0, hs = 0xcbf29ce484222325ULL, hr = hs;
	bool a_closed = false, eof = false;
	uint64_t passes = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!eof) {
		kn_loop_set_now(link, now);
		int n = kn_stack_poll(a, now) + kn_stack_poll(b, now);
		if (!eb.t) {
			eb.t = kn_tcp_accept(l, &eb.ev);
		}
		bool busy = n > 0;
		if (kn_tcp_get_state(ea.t) >= KN_TCP_ESTABLISHED && sent < total) {
			for (;;) {
				size_t want = total - sent < sizeof(chunk) ? (size_t)(total - sent) : sizeof(chunk);
				size_t room = kn_tcp_writable(ea.t);
				if (room == 0)
					break;
				if (want > room)
					want = room;
				fill(chunk, want, sent);
				ssize_t k = kn_tcp_send(ea.t, chunk, want);
				if (k <= 0)
					break;
				hs = fnv(hs, chunk, (size_t)k);
				sent += (uint64_t)k;
				busy = true;
				if (sent == total)
					break;
			}
		}
		if (sent == total && !a_closed) {
			assert_int_equal(kn_tcp_shutdown(ea.t), 0);
			a_closed = true;
		}
		if (eb.t) {
			for (;;) {
				int e;
				struct rte_mbuf *m = kn_tcp_recv_mbuf(eb.t, &e);
				if (!m) {
					if (e == 0)
						eof = true;
					else
						assert_int_equal(e, -EAGAIN);
					break;
				}
				for (struct rte_mbuf *s = m; s; s = s->next) {
					hr = fnv(hr, rte_pktmbuf_mtod(s, uint8_t *), s->data_len);
					rcvd += s->data_len;
				}
				rte_pktmbuf_free(m);
				busy = true;
			}
		}
		kn_stack_flush(a);
		kn_stack_flush(b);
		assert_int_equal(kn_tcp_error(ea.t), 0);
		passes++;
		if (busy || kn_loop_in_flight(link) == 0) {
			now += 1000;
		}
		if (!busy) {
			int64_t next = kn_loop_next_delivery(link);
			int64_t ta = kn_stack_next_timer(a), tb = kn_stack_next_timer(b);
			if (ta < next)
				next = ta;
			if (tb < next)
				next = tb;
			if (next > now && next != INT64_MAX)
				now = next;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	const struct kn_stats *sa = kn_stack_stats(a), *sb = kn_stack_stats(b);
	const struct kn_loop_stats *la = kn_loop_stats(link, 0);
	printf("loss %u ppm: %llu bytes in %.3f s wall (%.2f Gb/s), %.3f s virtual, %llu passes; "
	       "rexmt %llu (timeouts %llu, fast %llu), link lost %llu dup %llu reord %llu corrupt %llu; "
	       "b drops: csum %llu ooo-full %llu; sack recoveries %llu rescues %llu, "
	       "dsack rx %llu, b blocks tx %llu\n",
	       loss_ppm, (unsigned long long)rcvd, secs, rcvd * 8 / secs / 1e9, (double)(now - KT_SEC) / 1e9,
	       (unsigned long long)passes, (unsigned long long)sa->tcp_rexmt,
	       (unsigned long long)sa->tcp_rexmt_timeouts, (unsigned long long)sa->tcp_fast_rexmt,
	       (unsigned long long)la->lost, (unsigned long long)la->duplicated,
	       (unsigned long long)la->reordered, (unsigned long long)la->corrupted,
	       (unsigned long long)(sb->drops[KN_DROP_TCP_BAD_CSUM] + sb->drops[KN_DROP_IP_BAD_CSUM]),
	       (unsigned long long)sb->drops[KN_DROP_TCP_OOO_FULL],
	       (unsigned long long)sa->tcp_sack_recoveries, (unsigned long long)sa->tcp_sack_rescues,
	       (unsigned long long)sa->tcp_dsack_rx, (unsigned long long)sb->tcp_sack_blocks_tx);
	assert_int_equal(rcvd, total);
	assert_true(hr == hs);

	/* Close both ends and let TIME_WAIT run out. */
	kn_tcp_close(eb.t);
	kn_tcp_close(ea.t);
	kn_tcp_close(l);
	for (int i = 0; i < 100000 && (kn_stack_tcb_count(a) || kn_stack_tcb_count(b)); i++) {
		kn_loop_set_now(link, now);
		kn_stack_poll(a, now);
		kn_stack_poll(b, now);
		int64_t next = kn_loop_next_delivery(link);
		if (kn_stack_next_timer(a) < next)
			next = kn_stack_next_timer(a);
		if (kn_stack_next_timer(b) < next)
			next = kn_stack_next_timer(b);
		now = next > now && next != INT64_MAX ? next : now + 1000;
	}
	assert_int_equal(kn_stack_tcb_count(a), 0);
	assert_int_equal(kn_stack_tcb_count(b), 0);
	kn_stack_destroy(a);
	kn_stack_destroy(b);
	kn_loop_destroy(link);
	kt_assert_no_leak();
}

static uint32_t g_loss;
static uint64_t g_bytes;
static bool g_offload;

static void test_transfer(void **st)
{
	(void)st;
	run(g_loss, g_bytes, g_offload);
}

int main(int argc, char **argv)
{
	g_loss = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 0;
	g_bytes = (argc > 2 ? strtoull(argv[2], NULL, 0) : 64) << 20;
	g_offload = argc > 3 && strcmp(argv[3], "offload") == 0;
	char name[64];
	snprintf(name, sizeof(name), "net-xfer-%u", g_loss);
	int rc = kt_eal_init(name, 32768);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
