/* SPDX-License-Identifier: MIT */
/* A byte stream through the kernel engines stays whole and in order, read in
 * pieces of every size, by recv, recvmsg and MSG_PEEK, while a reader that
 * stalls lets io_uring's multishot receive fill its whole buffer ring and fall
 * back to one recv per call; a closed fd's queued bytes never reach the next
 * socket given the same number. argv[1]: epoll|uring. */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/io_test.h"

/* More than the uring engine's buffer ring holds (512 x 4 KiB). */
#define STREAM_BYTES (3u << 20)

static int sp[2];

static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 131u) ^ (i >> 9));
}

static void *writer(void *arg)
{
	(void)arg;
	static unsigned char chunk[7000];
	size_t sent = 0;
	unsigned seed = 1;
	while (sent < STREAM_BYTES) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 8) % sizeof(chunk);
		if (n > STREAM_BYTES - sent)
			n = STREAM_BYTES - sent;
		for (size_t i = 0; i < n; i++)
			chunk[i] = pat(sent + i);
		ssize_t w = kaon_io_send(sp[1], chunk, n, 0, kaon_deadline_in(10000 * MS));
		assert_true(w > 0);
		sent += (size_t)w;
	}
	assert_int_equal(shutdown(sp[1], SHUT_WR), 0);
	return NULL;
}

static void check(const unsigned char *b, size_t n, size_t at)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(at + i))
			fail_msg("byte %zu: got %u, want %u", at + i, b[i], pat(at + i));
}

static void *order_body(void *arg)
{
	(void)arg;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	/* A first short read drains the socket: that arms multishot on io_uring. */
	assert_int_equal(kaon_io_send(sp[1], "x", 1, 0, KAON_FOREVER), 1);
	char one[16];
	assert_int_equal(kaon_io_recv(sp[0], one, sizeof(one), 0, KAON_FOREVER), 1);
	kaon_co *w;
	assert_int_equal(kaon_go(&w, NULL, writer, NULL), 0);
	unsigned char buf[9000];
	size_t got = 0;
	unsigned seed = 7, round = 0;
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		size_t want = 1 + (seed >> 8) % sizeof(buf);
		ssize_t n;
		round++;
		if (round == 3) /* stall: the writer fills the buffer ring */
			kaon_sleep_until(kaon_deadline_in(200 * MS));
		if (round % 5 == 0) {
			ssize_t p = kaon_io_recv(sp[0], buf, want, MSG_PEEK, kaon_deadline_in(10000 * MS));
			assert_true(p >= 0);
			check(buf, (size_t)p, got);
		}
		if (round % 3 == 0) {
			struct iovec iov[2] = { { buf, want / 2 }, { buf + want / 2, want - want / 2 } };
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
			n = kaon_io_recvmsg(sp[0], &m, 0, kaon_deadline_in(10000 * MS));
		} else {
			n = kaon_io_recv(sp[0], buf, want, 0, kaon_deadline_in(10000 * MS));
		}
		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_true((size_t)n <= want);
		check(buf, (size_t)n, got);
		got += (size_t)n;
	}
	assert_int_equal(got, STREAM_BYTES);
	assert_int_equal(kaon_join(w, KAON_FOREVER, NULL), 0);
	kaon_io_close(sp[0]);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_order(void **s)
{
	(void)s;
	run_engine(order_body, NULL);
}

static void *reuse_body(void *arg)
{
	(void)arg;
	int a[2], b[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	char buf[64];
	assert_int_equal(kaon_io_send(a[1], "1", 1, 0, KAON_FOREVER), 1);
	assert_int_equal(kaon_io_recv(a[0], buf, sizeof(buf), 0, KAON_FOREVER), 1);
	/* Armed now (io_uring): bytes arrive and are queued, never read. */
	assert_int_equal(kaon_io_send(a[1], "old", 3, 0, KAON_FOREVER), 3);
	assert_int_equal(kaon_io_recv(a[0], buf, 1, MSG_PEEK, kaon_deadline_in(1000 * MS)), 1);
	assert_int_equal(kaon_io_send(a[1], "older", 5, 0, KAON_FOREVER), 5);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	int old = a[0];
	kaon_io_close(a[0]);
	kaon_io_close(a[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	assert_int_equal(b[0], old); /* the lowest free numbers come back */
	/* Nothing there on the new socket, whatever the old one left. */
	assert_int_equal(kaon_io_recv(b[0], buf, sizeof(buf), 0, kaon_deadline_in(20 * MS)),
			 -ETIMEDOUT);
	assert_int_equal(kaon_io_send(b[1], "new", 3, 0, KAON_FOREVER), 3);
	assert_int_equal(kaon_io_recv(b[0], buf, sizeof(buf), 0, kaon_deadline_in(1000 * MS)), 3);
	assert_memory_equal(buf, "new", 3);
	/* Drained again, then the end of the stream after more bytes. */
	assert_int_equal(kaon_io_send(b[1], "end", 3, 0, KAON_FOREVER), 3);
	assert_int_equal(shutdown(b[1], SHUT_WR), 0);
	assert_int_equal(kaon_io_recv(b[0], buf, 2, 0, kaon_deadline_in(1000 * MS)), 2);
	assert_int_equal(kaon_io_recv(b[0], buf + 2, 8, 0, kaon_deadline_in(1000 * MS)), 1);
	assert_memory_equal(buf, "end", 3);
	assert_int_equal(kaon_io_recv(b[0], buf, 8, 0, kaon_deadline_in(1000 * MS)), 0);
	assert_int_equal(kaon_io_recv(b[0], buf, 8, 0, 0), 0);
	kaon_io_close(b[0]);
	kaon_io_close(b[1]);
	return NULL;
}

static void t_fd_reuse(void **s)
{
	(void)s;
	run_engine(reuse_body, NULL);
}

int main(int argc, char **argv)
{
	test_engine_setup(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_order),
		cmocka_unit_test(t_fd_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
