/* kn_tcp_sendv_ref: bytes lent to the stack instead of copied (what
 * kaon-httpd does with file pages). Transfers of 1 B, 64 KiB + 1, 1 MiB and
 * 8 MiB between two stacks over the in-memory link with loss, reordering,
 * duplication and corruption, checked by hash; every lent piece is a fresh
 * read-only mapping (a stack writing into it faults) that its release
 * poisons and unmaps, so a segment built from it
 * after the release (a retransmission, say) breaks the hash (and ASan sees
 * it); every piece is released exactly once, before the pool is checked
 * for leaks. Then: pieces held by a connection that is aborted, closed with
 * data in flight, or destroyed with its stack are released too. The same
 * transfers with pieces that carry a sum provider (a table of prefix sums,
 * kaon/ref.h), on a device that takes chains and on one that does not (the
 * payload is copied into the frame, as on af_xdp): the provider is asked
 * and the bytes arrive intact; a provider that lies gets its segments
 * dropped by the receiver, which proves the sums it gives are the ones
 * sent. The table's arithmetic against a plain sum for every range of a
 * small buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "net_test.h"

static int64_t now = KT_SEC;

/* kn_tcp_sendv_ref lends (not copies) from 2,048 bytes: one buffer, two segments. */
#define EXT_ONE_BUFFER 2048u

/* Pieces lent and not yet released, and every release seen. */
static long outstanding, releases;

/* How pieces are lent: with a sum provider (a table of sums), and whether
 * it lies; and whether the sender's device takes chains of mbufs. */
enum { LEND_SUMS = 1, LEND_LIAR = 2, TX_NO_CHAINS = 4 };
static int lend_mode;
static long sum_calls;
#define STRIDE 64

/* A lent piece: its own pages, read-only while lent (as a file mapping
 * is), so a stack that wrote into it would fault. */
struct piece {
	size_t len, maplen;
	uint8_t *data;
	uint16_t *sums; /* LEND_SUMS: the table */
};

static struct piece *piece_new(size_t len)
{
	struct piece *p = malloc(sizeof(*p));
	assert_non_null(p);
	p->len = len;
	p->maplen = (len + 4095) & ~(size_t)4095;
	p->data = mmap(NULL, p->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p->data != MAP_FAILED);
	p->sums = NULL;
	return p;
}

/* Read-only from now on (and the table of sums made, if asked). */
static void piece_lock(struct piece *p)
{
	if (lend_mode & LEND_SUMS) {
		p->sums = malloc(kaon_sum_table_len(p->len, STRIDE) * sizeof(*p->sums));
		assert_non_null(p->sums);
		kaon_sum_table_fill(p->sums, p->data, p->len, STRIDE);
	}
	assert_int_equal(mprotect(p->data, p->maplen, PROT_READ), 0);
}

static void piece_free(struct piece *p)
{
	munmap(p->data, p->maplen);
	free(p->sums);
	free(p);
}

static uint32_t piece_sum(void *arg, const void *at, size_t len)
{
	struct piece *p = arg;
	const uint8_t *b = at;
	assert_true(b >= p->data && b + len <= p->data + p->len);
	sum_calls++;
	uint32_t s = kaon_sum_range(p->sums, STRIDE, p->data, (size_t)(b - p->data), len);
	return (lend_mode & LEND_LIAR) ? (s + 1) % 0xffff : s;
}


static void piece_release(void *arg)
{
	struct piece *p = arg;
	mprotect(p->data, p->maplen, PROT_READ | PROT_WRITE);
	memset(p->data, 0xee, p->len); /* a later read gives wrong bytes */
	piece_free(p);
	outstanding--;
	releases++;
}

/* The lending of @p: its release, and its sum provider if asked. */
static kaon_ref piece_ref(struct piece *p)
{
	return (kaon_ref){ piece_release, p, p->sums ? piece_sum : NULL };
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void fill(uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = off + i;
		buf[i] = (uint8_t)((x * 2654435761u) >> 13 ^ x);
	}
}

struct pair {
	struct kn_loop *link;
	struct kn_stack *a, *b;
	struct kn_tcb *l, *ta, *tb;
	struct kt_ev lev, eva, evb;
};

static void pair_open(struct pair *p, uint32_t loss_ppm, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	struct kn_loop_conf lc = {
		.seed = seed,
		.loss_ppm = loss_ppm,
		.dup_ppm = loss_ppm ? 5000 : 0,
		.reorder_ppm = loss_ppm ? 10000 : 0,
		.corrupt_ppm = loss_ppm ? 1000 : 0,
		.delay_ns = 50000,
		.jitter_ns = loss_ppm ? 5000 : 0,
		.reorder_ns = 120000,
		.queue_max = 16384,
	};
	p->link = kn_loop_create(&lc, kt_pool);
	assert_non_null(p->link);
	struct kn_stack_conf ca, cb;
	kt_conf(&ca, KT_PEER_IP);
	kt_conf(&cb, KT_US_IP);
	ca.isn_secret[0] = 7;
	ca.tcp.max_retries = 30;
	cb.tcp.max_retries = 30;
	int err;
	if (lend_mode & TX_NO_CHAINS)
		kn_loop_dev(p->link, 0)->offloads &= ~(uint32_t)KN_DEV_TX_MULTI_SEG;
	p->a = kn_stack_create(&ca, kn_loop_dev(p->link, 0), kt_pool, now, &err);
	p->b = kn_stack_create(&cb, kn_loop_dev(p->link, 1), kt_pool, now, &err);
	assert_non_null(p->a);
	assert_non_null(p->b);
	p->l = kn_tcp_listen(p->b, 5001, 8, &p->lev, &err);
	assert_non_null(p->l);
	p->ta = kn_tcp_connect(p->a, KT_US_IP, 5001, 0, &p->eva, &err);
	assert_non_null(p->ta);
}

/* One pass of both stacks; the clock moves to the next thing due when
 * nothing happened. */
static void pair_step(struct pair *p, bool busy)
{
	kn_stack_flush(p->a);
	kn_stack_flush(p->b);
	if (busy || kn_loop_in_flight(p->link) == 0)
		now += 1000;
	if (!busy) {
		int64_t next = kn_loop_next_delivery(p->link);
		int64_t ta = kn_stack_next_timer(p->a), tb = kn_stack_next_timer(p->b);
		next = ta < next ? ta : next;
		next = tb < next ? tb : next;
		if (next > now && next != INT64_MAX)
			now = next;
	}
	kn_loop_set_now(p->link, now);
}

static int pair_poll(struct pair *p)
{
	int n = kn_stack_poll(p->a, now) + kn_stack_poll(p->b, now);
	if (!p->tb)
		p->tb = kn_tcp_accept(p->l, &p->evb);
	return n;
}

/* One pass of both stacks, what b received read and dropped. @return the
 * bytes read. */
static size_t pair_pump(struct pair *p)
{
	pair_poll(p);
	size_t got = 0;
	int e;
	struct rte_mbuf *m;
	while ((m = kn_tcp_recv_mbuf(p->tb, &e)) != NULL) {
		got += rte_pktmbuf_pkt_len(m);
		rte_pktmbuf_free(m);
	}
	pair_step(p, false);
	return got;
}

/* Close everything, let TIME_WAIT run out, free the stacks. */
static void pair_close(struct pair *p)
{
	if (p->tb)
		kn_tcp_close(p->tb);
	if (p->ta)
		kn_tcp_close(p->ta);
	kn_tcp_close(p->l);
	for (int i = 0; i < 100000 && (kn_stack_tcb_count(p->a) || kn_stack_tcb_count(p->b)); i++) {
		kn_stack_poll(p->a, now);
		kn_stack_poll(p->b, now);
		pair_step(p, false);
	}
	assert_int_equal(kn_stack_tcb_count(p->a), 0);
	assert_int_equal(kn_stack_tcb_count(p->b), 0);
	kn_stack_destroy(p->a);
	kn_stack_destroy(p->b);
	kn_loop_destroy(p->link);
}

/* Lend the next piece of the stream (a fresh buffer of up to 4 MiB) and
 * let the stack take what it will. @return bytes of the stream taken. */
static size_t lend(struct kn_tcb *t, uint64_t off, uint64_t left, uint64_t *hs)
{
	size_t want = left < (4u << 20) ? (size_t)left : (4u << 20);
	struct piece *pc = piece_new(want);
	fill(pc->data, want, off);
	piece_lock(pc);
	struct iovec iov[1] = { { pc->data, want } };
	kaon_ref ref[1] = { piece_ref(pc) };
	outstanding++;
	ssize_t k = kn_tcp_sendv_ref(t, iov, ref, 1);
	if (k <= 0) {
		/* Nothing taken: never released by the stack. */
		outstanding--;
		piece_free(pc);
		return 0;
	}
	/* The piece may be gone already (a small one is copied and released
	 * at once): hash the stream from the generator. */
	static uint8_t again[4u << 20];
	fill(again, (size_t)k, off);
	*hs = fnv(*hs, again, (size_t)k);
	return (size_t)k;
}

static void run(uint32_t loss_ppm, uint64_t total)
{
	struct pair p;
	pair_open(&p, loss_ppm, 42 + loss_ppm + total);
	uint64_t sent = 0, rcvd = 0, hs = 0xcbf29ce484222325ULL, hr = hs;
	bool shut = false, eof = false;
	long calls = 0, releases0 = releases, sums0 = sum_calls;
	/* A copied head first: pieces follow copied bytes in one buffer. */
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: n\r\n\r\n";
	bool head_sent = false;
	while (!eof) {
		bool busy = pair_poll(&p) > 0;
		if (kn_tcp_get_state(p.ta) >= KN_TCP_ESTABLISHED && !head_sent) {
			assert_int_equal(kn_tcp_send(p.ta, head, sizeof(head) - 1), sizeof(head) - 1);
			hs = fnv(hs, (const uint8_t *)head, sizeof(head) - 1);
			head_sent = true;
		}
		while (head_sent && sent < total && kn_tcp_writable(p.ta) > 0) {
			size_t k = lend(p.ta, sent, total - sent, &hs);
			calls++;
			if (k == 0)
				break;
			sent += k;
			busy = true;
		}
		if (head_sent && sent == total && !shut) {
			assert_int_equal(kn_tcp_shutdown(p.ta), 0);
			shut = true;
		}
		if (p.tb) {
			for (;;) {
				int e;
				struct rte_mbuf *m = kn_tcp_recv_mbuf(p.tb, &e);
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
		assert_int_equal(kn_tcp_error(p.ta), 0);
		pair_step(&p, busy);
	}
	const struct kn_stats *sa = kn_stack_stats(p.a), *sb = kn_stack_stats(p.b);
	printf("loss %u ppm, %llu bytes, mode %d: %ld calls, rexmt %llu, fast %llu, timeouts %llu, "
	       "%ld sums asked, %llu bad sums\n",
	       loss_ppm, (unsigned long long)total, lend_mode, calls, (unsigned long long)sa->tcp_rexmt,
	       (unsigned long long)sa->tcp_fast_rexmt, (unsigned long long)sa->tcp_rexmt_timeouts,
	       sum_calls - sums0, (unsigned long long)sb->drops[KN_DROP_TCP_BAD_CSUM]);
	/* Pieces of 2,048 bytes and more are lent: their segments' sums come
	 * from the provider (1 byte is copied). */
	if ((lend_mode & LEND_SUMS) && total >= 2048)
		assert_true(sum_calls > sums0);
	if (!loss_ppm)
		assert_int_equal(sb->drops[KN_DROP_TCP_BAD_CSUM], 0);
	assert_int_equal(rcvd, total + sizeof(head) - 1);
	assert_true(hr == hs);
	pair_close(&p);
	assert_int_equal(outstanding, 0);
	assert_true(releases > releases0);
	kt_assert_no_leak();
}

static void test_1b(void **st)
{
	(void)st;
	run(10000, 1);
}

static void test_64k1(void **st)
{
	(void)st;
	run(10000, 65537);
}

static void test_1m(void **st)
{
	(void)st;
	run(10000, 1 << 20);
	run(0, 1 << 20);
}

static void test_8m(void **st)
{
	(void)st;
	run(50000, 8 << 20);
}

/* The same with sum providers, on a device that takes chains (segments of
 * clones) and on one that does not (payload copied into the frame). */
static void test_sums(void **st)
{
	(void)st;
	for (int tx = 0; tx <= TX_NO_CHAINS; tx += TX_NO_CHAINS) {
		lend_mode = LEND_SUMS | tx;
		run(0, 1 << 20);
		run(10000, 65537);
		run(50000, 1 << 20);
	}
	lend_mode = 0;
}

/* A provider that lies: the receiver drops every segment it summed, so
 * the sums sent are the provider's. */
static void test_sums_liar(void **st)
{
	(void)st;
	for (int tx = 0; tx <= TX_NO_CHAINS; tx += TX_NO_CHAINS) {
		lend_mode = LEND_SUMS | LEND_LIAR | tx;
		struct pair p;
		pair_open(&p, 0, 11);
		for (int i = 0; i < 2000 && !p.tb; i++) {
			pair_poll(&p);
			pair_step(&p, false);
		}
		assert_non_null(p.tb);
		uint64_t hs = 0;
		long c0 = sum_calls;
		assert_int_equal(lend(p.ta, 0, 16384, &hs), 16384);
		size_t got = 0;
		for (int i = 0; i < 200; i++)
			got += pair_pump(&p);
		assert_int_equal(got, 0);
		assert_true(sum_calls > c0);
		assert_true(kn_stack_stats(p.b)->drops[KN_DROP_TCP_BAD_CSUM] > 0);
		kn_tcp_abort(p.ta);
		p.ta = NULL;
		pair_close(&p);
		assert_int_equal(outstanding, 0);
		kt_assert_no_leak();
	}
	lend_mode = 0;
}

/* RFC 1071's sum as kaon/ref.h states it: 16-bit words in host order from
 * the first byte, an odd last byte padded with zero; reduced mod 0xffff. */
static uint32_t plain_sum(const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint16_t w;
		memcpy(&w, p + i, 2);
		s += w;
	}
	if (len & 1) {
		uint16_t w = 0;
		memcpy(&w, p + len - 1, 1);
		s += w;
	}
	return (uint32_t)(s % 0xffff);
}

/* kaon_sum_range against the plain sum for every start and length (odd
 * and even) in a small buffer, for strides from 2 up; bytes of 0xff too,
 * where sums meet 0xffff. */
static void test_sum_table(void **st)
{
	(void)st;
	enum { N = 300 };
	static uint8_t buf[N + 1];
	static uint16_t tab[N / 2 + 1];
	for (int pat = 0; pat < 2; pat++) {
		for (int i = 0; i < N + 1; i++)
			buf[i] = pat ? 0xff : (uint8_t)((i * 2654435761u) >> 11 ^ i);
		/* The buffer at an odd address too: the table counts from its start. */
		for (int shift = 0; shift < 2; shift++) {
			const uint8_t *b = buf + shift;
			static const unsigned strides[] = { 2, 4, 8, 16, 64, 256 };
			for (size_t k = 0; k < sizeof(strides) / sizeof(strides[0]); k++) {
				unsigned sd = strides[k];
				assert_true(kaon_sum_table_len(N, sd) <= N / 2 + 1);
				kaon_sum_table_fill(tab, b, N, sd);
				for (size_t off = 0; off <= N; off++)
					for (size_t len = 0; off + len <= N; len++) {
						uint32_t got = kaon_sum_range(tab, sd, b, off, len);
						assert_true(got <= 0xffff);
						if (got % 0xffff != plain_sum(b + off, len))
							fail_msg("stride %u off %zu len %zu: %#x, want %#x",
								 sd, off, len, got, plain_sum(b + off, len));
					}
			}
		}
	}
}

/* Pieces held when the connection goes: @how 0 abort, 1 close with data in
 * flight (the orphan keeps sending, then gives up on a dead peer), 2 the
 * stack destroyed under it. */
static void gone(int how)
{
	struct pair p;
	pair_open(&p, 0, 9);
	uint64_t hs = 0, off = 0;
	for (int i = 0; i < 2000 && !p.tb; i++) {
		pair_poll(&p);
		pair_step(&p, false);
	}
	assert_non_null(p.tb);
	/* The receiver never reads: the window fills and pieces stay queued. */
	for (int i = 0; i < 200; i++) {
		pair_poll(&p);
		if (kn_tcp_writable(p.ta) > 0)
			off += lend(p.ta, off, 1 << 20, &hs);
		pair_step(&p, true);
	}
	assert_true(outstanding > 0);
	if (how == 0) {
		kn_tcp_abort(p.ta);
		p.ta = NULL;
		/* Frames in flight, and b's receive queue, point into pieces
		 * too: they go as b closes. */
		pair_close(&p);
	} else if (how == 1) {
		kn_tcp_close(p.ta);
		p.ta = NULL;
		kn_tcp_abort(p.tb); /* the peer vanishes: a's orphan gives up */
		p.tb = NULL;
		pair_close(&p);
	} else {
		kn_stack_destroy(p.a);
		kn_stack_destroy(p.b);
		kn_loop_destroy(p.link);
	}
	assert_int_equal(outstanding, 0);
	kt_assert_no_leak();
}

static void test_abort(void **st)
{
	(void)st;
	gone(0);
}

static void test_close_orphan(void **st)
{
	(void)st;
	gone(1);
}

static void test_destroy(void **st)
{
	(void)st;
	gone(2);
}

/* Small pieces are copied and released at once; a vector of copied and
 * lent pieces is one write; nothing taken: nothing released. */
static void test_small_and_refused(void **st)
{
	(void)st;
	struct pair p;
	pair_open(&p, 0, 3);
	static uint8_t small[100], big[10000]; /* sizes only */
	long r0 = releases;
	outstanding = 0;
	/* Before the handshake: -ENOTCONN, nothing released. */
	struct iovec iov[2] = { { small, sizeof(small) }, { big, sizeof(big) } };
	kaon_ref none[2] = { { NULL, NULL, NULL }, { NULL, NULL, NULL } };
	assert_int_equal(kn_tcp_sendv_ref(p.ta, iov, none, 2), -ENOTCONN);
	for (int i = 0; i < 2000 && !p.tb; i++) {
		pair_poll(&p);
		pair_step(&p, false);
	}
	assert_non_null(p.tb);
	/* A vector with a small lent piece (copied: released before the call
	 * returns) and a big one (held until acknowledged). */
	struct piece *a = piece_new(sizeof(small)), *b = piece_new(sizeof(big));
	memset(a->data, 'a', a->len);
	memset(b->data, 'b', b->len);
	piece_lock(a);
	piece_lock(b);
	struct iovec v[2] = { { a->data, a->len }, { b->data, b->len } };
	kaon_ref r[2] = { piece_ref(a), piece_ref(b) };
	outstanding = 2;
	/* The small piece is released (freed) inside the call: its length is
	 * read before. */
	ssize_t want = (ssize_t)(a->len + b->len);
	assert_int_equal(kn_tcp_sendv_ref(p.ta, v, r, 2), want);
	assert_int_equal(outstanding, 1);
	for (int i = 0; i < 2000 && outstanding; i++)
		pair_pump(&p);
	assert_int_equal(outstanding, 0);
	assert_int_equal(releases - r0, 2);
	pair_close(&p);
	kt_assert_no_leak();
}

/* One lent piece that is one buffer and the whole send queue: once its
 * last bytes are acknowledged, the acknowledgement's one-buffer path must not keep it as the
 * connection's spare buffer, or the next copied send writes into the
 * lender's (read-only) memory. */
static void test_single_piece_not_spare(void **st)
{
	(void)st;
	struct pair p;
	pair_open(&p, 0, 5);
	for (int i = 0; i < 2000 && !p.tb; i++) {
		pair_poll(&p);
		pair_step(&p, false);
	}
	assert_non_null(p.tb);
	long r0 = releases;
	outstanding = 1;
	struct piece *a = piece_new(EXT_ONE_BUFFER);
	memset(a->data, 'a', a->len);
	piece_lock(a);
	struct iovec v[1] = { { a->data, a->len } };
	kaon_ref r[1] = { piece_ref(a) };
	/* The piece is freed once acknowledged: only its length is used after. */
	assert_int_equal(kn_tcp_sendv_ref(p.ta, v, r, 1), (ssize_t)EXT_ONE_BUFFER);
	size_t got = 0;
	for (int i = 0; i < 2000 && (outstanding || got < EXT_ONE_BUFFER); i++)
		got += pair_pump(&p);
	assert_int_equal(got, EXT_ONE_BUFFER);
	assert_int_equal(outstanding, 0);
	assert_int_equal(releases - r0, 1);
	/* A copied send now: into a buffer of the stack's own. */
	static const char msg[] = "copied";
	assert_int_equal(kn_tcp_send(p.ta, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	got = 0;
	for (int i = 0; i < 2000 && got < sizeof(msg); i++) {
		pair_poll(&p);
		int e;
		struct rte_mbuf *m;
		while ((m = kn_tcp_recv_mbuf(p.tb, &e)) != NULL) {
			assert_memory_equal(rte_pktmbuf_mtod(m, char *), msg + got, m->data_len);
			got += rte_pktmbuf_pkt_len(m);
			rte_pktmbuf_free(m);
		}
		pair_step(&p, false);
	}
	assert_int_equal(got, sizeof(msg));
	pair_close(&p);
	kt_assert_no_leak();
}

int main(void)
{
	int rc = kt_eal_init("net-sendref", 32768);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_and_refused),
		cmocka_unit_test(test_single_piece_not_spare),
		cmocka_unit_test(test_1b),
		cmocka_unit_test(test_64k1),
		cmocka_unit_test(test_1m),
		cmocka_unit_test(test_8m),
		cmocka_unit_test(test_sum_table),
		cmocka_unit_test(test_sums),
		cmocka_unit_test(test_sums_liar),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_close_orphan),
		cmocka_unit_test(test_destroy),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
