/* SPDX-License-Identifier: MIT */
/* The kernel engines: fd readiness, deadlines, interrupts, close while
 * waiting, cross-thread wake-ups, engine selection. argv[1]: epoll|uring. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/io_test.h"

static int sp[2]; /* a socketpair, both ends non-blocking */

static void make_pair(void)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
}

static void *write_later(void *arg)
{
	kaon_sleep_until(kaon_deadline_in((intptr_t)arg * MS));
	assert_int_equal(kaon_io_send(sp[1], "ping", 4, 0, KAON_FOREVER), 4);
	return NULL;
}

static void *readiness_body(void *arg)
{
	(void)arg;
	make_pair();
	char buf[8];
	/* Nothing there: a past deadline does not block. */
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, 0), -ETIMEDOUT);
	int64_t t0 = kaon_now();
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, kaon_deadline_in(30 * MS)),
			 -ETIMEDOUT);
	int64_t waited = kaon_now() - t0;
	assert_true(waited >= 30 * MS);
	assert_true(waited < 1000 * MS);

	kaon_co *w;
	assert_int_equal(kaon_go(&w, NULL, write_later, (void *)(intptr_t)10), 0);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, kaon_deadline_in(5000 * MS)),
			 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(kaon_join(w, KAON_FOREVER, NULL), 0);

	/* Data already there: even a past deadline gets it. */
	assert_int_equal(kaon_io_send(sp[1], "pong", 4, 0, 0), 4);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, 0), 4);

	/* Drained by a short read, then more bytes come before the reader waits:
	 * the reader must still see them. */
	assert_int_equal(kaon_io_send(sp[1], "ab", 2, 0, KAON_FOREVER), 2);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, KAON_FOREVER), 2);
	assert_int_equal(kaon_io_send(sp[1], "cd", 2, 0, KAON_FOREVER), 2);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, KAON_FOREVER), 2);
	assert_memory_equal(buf, "cd", 2);

	/* Plain readiness. */
	assert_true(kaon_io_wait(sp[1], KAON_IO_OUT, kaon_deadline_in(1000 * MS)) > 0);
	assert_int_equal(kaon_io_wait(sp[0], KAON_IO_IN, kaon_deadline_in(5 * MS)), -ETIMEDOUT);
	kaon_io_close(sp[0]);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_readiness(void **s)
{
	(void)s;
	run_engine(readiness_body, NULL);
}

static void *write_then_shut(void *arg)
{
	(void)arg;
	kaon_sleep_until(kaon_deadline_in(10 * MS));
	/* Both before the engine polls again: one edge brings data and FIN. */
	assert_int_equal(kaon_io_send(sp[1], "end", 3, 0, KAON_FOREVER), 3);
	assert_int_equal(shutdown(sp[1], SHUT_WR), 0);
	return NULL;
}

/* The last bytes and the end of the stream in one edge: a short read takes
 * the bytes, and the next read must see the end, not wait for an edge that
 * already came (kaon-echo on epoll sat in CLOSE-WAIT for good this way, on
 * the testbed through kaon-wire at 20 ms and 1% loss). */
static void *eof_body(void *arg)
{
	(void)arg;
	make_pair();
	kaon_co *w;
	assert_int_equal(kaon_go(&w, NULL, write_then_shut, NULL), 0);
	char buf[8];
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, kaon_deadline_in(5000 * MS)),
			 3);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, kaon_deadline_in(1000 * MS)),
			 0);
	assert_int_equal(kaon_join(w, KAON_FOREVER, NULL), 0);
	kaon_io_close(sp[0]);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_eof_with_last_bytes(void **s)
{
	(void)s;
	run_engine(eof_body, NULL);
}

static void *blocked_reader(void *arg)
{
	(void)arg;
	char buf[8];
	return (void *)(intptr_t)kaon_io_recv(sp[0], buf, sizeof(buf), 0, KAON_FOREVER);
}

static void *interrupt_body(void *arg)
{
	(void)arg;
	make_pair();
	kaon_co *r;
	void *res;
	/* An interrupt ends the wait with its error. */
	assert_int_equal(kaon_go(&r, NULL, blocked_reader, NULL), 0);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_interrupt(r, ECANCELED);
	assert_int_equal(kaon_join(r, KAON_FOREVER, &res), 0);
	assert_int_equal((intptr_t)res, -ECANCELED);

	/* The socket still works afterwards. */
	assert_int_equal(kaon_io_send(sp[1], "x", 1, 0, KAON_FOREVER), 1);
	char c;
	assert_int_equal(kaon_io_recv(sp[0], &c, 1, 0, KAON_FOREVER), 1);

	/* A peer that goes away wakes the reader with end of stream. */
	assert_int_equal(kaon_go(&r, NULL, blocked_reader, NULL), 0);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_io_close(sp[1]);
	assert_int_equal(kaon_join(r, KAON_FOREVER, &res), 0);
	assert_int_equal((intptr_t)res, 0);
	kaon_io_close(sp[0]);
	return NULL;
}

static void t_interrupt(void **s)
{
	(void)s;
	run_engine(interrupt_body, NULL);
}

/* An interrupt that meets a call whose bytes are already there: the bytes
 * are returned (never lost) and the interrupt stays for the next call. */
static void *interrupt_race_body(void *arg)
{
	(void)arg;
	make_pair();
	char buf[8];
	assert_int_equal(kaon_io_send(sp[1], "data", 4, 0, KAON_FOREVER), 4);
	kaon_interrupt(kaon_self(), ECANCELED);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, KAON_FOREVER), 4);
	assert_memory_equal(buf, "data", 4);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, KAON_FOREVER), -ECANCELED);
	kaon_io_close(sp[0]);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_interrupt_race(void **s)
{
	(void)s;
	run_engine(interrupt_race_body, NULL);
}

/* On an engine that cannot wait on fds (the sleep engine), the calls still
 * work by polling between short sleeps. */
static void *fallback_body(void *arg)
{
	(void)arg;
	make_pair();
	kaon_co *w;
	char buf[8];
	assert_int_equal(kaon_go(&w, NULL, write_later, (void *)(intptr_t)5), 0);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, kaon_deadline_in(5000 * MS)),
			 4);
	assert_int_equal(kaon_join(w, KAON_FOREVER, NULL), 0);
	assert_int_equal(kaon_io_recv(sp[0], buf, sizeof(buf), 0, kaon_deadline_in(10 * MS)),
			 -ETIMEDOUT);
	kaon_io_close(sp[0]);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_sleep_engine_fallback(void **s)
{
	(void)s;
	run_main(fallback_body, NULL);
}

static void *close_body(void *arg)
{
	(void)arg;
	make_pair();
	kaon_co *r1, *r2;
	void *res;
	/* Two waiters on one fd; closing it wakes both with -ECANCELED. */
	assert_int_equal(kaon_go(&r1, NULL, blocked_reader, NULL), 0);
	assert_int_equal(kaon_go(&r2, NULL, blocked_reader, NULL), 0);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_io_close(sp[0]);
	assert_int_equal(kaon_join(r1, KAON_FOREVER, &res), 0);
	assert_int_equal((intptr_t)res, -ECANCELED);
	assert_int_equal(kaon_join(r2, KAON_FOREVER, &res), 0);
	assert_int_equal((intptr_t)res, -ECANCELED);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_close_while_waiting(void **s)
{
	(void)s;
	run_engine(close_body, NULL);
}

/* --------------------------------------------------- wake from another thread */

static atomic_int remote_ran;

static void *remote_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&remote_ran, 1);
	return NULL;
}

static void t_cross_thread_wake(void **s)
{
	(void)s;
	kaon_vcpu_opts o;
	kaon_vcpu_opts_init(&o);
	o.engine = test_engine;
	kaon_vcpu *v;
	assert_int_equal(kaon_vcpu_start(&v, &o), 0);
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.detached = 1;
	for (int i = 0; i < 100; i++) {
		/* The vcpu sleeps in its engine with no deadline: only wake() can
		 * get it to run the new coroutine. */
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		assert_int_equal(kaon_go_on(v, NULL, &co, remote_job, NULL), 0);
		int64_t until = kaon_now() + 2000 * MS;
		while (atomic_load(&remote_ran) <= i && kaon_now() < until)
			sched_yield();
		assert_int_equal(atomic_load(&remote_ran), i + 1);
	}
	assert_int_equal(kaon_vcpu_stop(v), 0);
}

/* ------------------------------------------------------------ engine choice */

static void t_pick(void **s)
{
	(void)s;
	assert_ptr_equal(kaon_io_engine_pick("epoll"), &kaon_engine_epoll);
	assert_null(kaon_io_engine_pick("bogus"));
	setenv("KAON_ENGINE", "epoll", 1);
	assert_ptr_equal(kaon_io_engine_pick(NULL), &kaon_engine_epoll);
	unsetenv("KAON_ENGINE");
	assert_ptr_equal(kaon_io_engine_pick(""), &kaon_engine_epoll);
	const kaon_engine_ops *u = kaon_io_engine_pick("uring");
	assert_true(u == &kaon_engine_uring || u == &kaon_engine_epoll);
}

/* Outside a vcpu the calls refuse to block. */
static void t_outside_vcpu(void **s)
{
	(void)s;
	make_pair();
	char c;
	assert_int_equal(kaon_io_recv(sp[0], &c, 1, 0, KAON_FOREVER), -EPERM);
	assert_int_equal(kaon_io_close(sp[0]), 0);
	assert_int_equal(kaon_io_close(sp[1]), 0);
}

/* kaon_io_sendfile: a file of 3 MiB + 1 to a socket whose reader is slower
 * than the sender (the socket fills: waits), byte for byte; then the end
 * of the file (0) and a length past it (short). Splices on io_uring. */
#define SF_LEN ((3u << 20) + 1)

static unsigned char sf_byte(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 11 ^ i);
}

static void *sf_reader(void *arg)
{
	(void)arg;
	static unsigned char buf[65536], want[65536];
	size_t got = 0;
	while (got < SF_LEN) {
		ssize_t n = kaon_io_recv(sp[1], buf, got % 3 ? 4096 : sizeof(buf), 0,
					 kaon_deadline_in(5000 * MS));
		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++)
			want[i] = sf_byte(got + (size_t)i);
		assert_memory_equal(buf, want, (size_t)n);
		got += (size_t)n;
		if (got % 7 == 0)
			kaon_yield();
	}
	return NULL;
}

static void *sendfile_body(void *arg)
{
	(void)arg;
	make_pair();
	char path[] = "/tmp/kaon-test-sendfile-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	static unsigned char data[SF_LEN];
	for (size_t i = 0; i < SF_LEN; i++)
		data[i] = sf_byte(i);
	assert_int_equal(write(fd, data, SF_LEN), (ssize_t)SF_LEN);
	kaon_co *r;
	assert_int_equal(kaon_go(&r, NULL, sf_reader, NULL), 0);
	off_t off = 0;
	while (off < (off_t)SF_LEN) {
		ssize_t n = kaon_io_sendfile(sp[0], fd, &off, SF_LEN, kaon_deadline_in(5000 * MS));
		assert_true(n > 0);
	}
	assert_int_equal(off, (off_t)SF_LEN);
	assert_int_equal(kaon_join(r, KAON_FOREVER, NULL), 0);
	/* At the end: 0. Past it: what there is. */
	assert_int_equal(kaon_io_sendfile(sp[0], fd, &off, 100, kaon_deadline_in(1000 * MS)), 0);
	off = SF_LEN - 10;
	assert_int_equal(kaon_io_sendfile(sp[0], fd, &off, 100, kaon_deadline_in(1000 * MS)), 10);
	char tail[16];
	assert_int_equal(kaon_io_recv(sp[1], tail, sizeof(tail), 0, kaon_deadline_in(1000 * MS)), 10);
	assert_memory_equal(tail, data + SF_LEN - 10, 10);
	close(fd);
	kaon_io_close(sp[0]);
	kaon_io_close(sp[1]);
	return NULL;
}

static void t_sendfile(void **s)
{
	(void)s;
	run_engine(sendfile_body, NULL);
}

int main(int argc, char **argv)
{
	test_engine_setup(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_readiness),
		cmocka_unit_test(t_sendfile),
		cmocka_unit_test(t_eof_with_last_bytes),
		cmocka_unit_test(t_interrupt),
		cmocka_unit_test(t_interrupt_race),
		cmocka_unit_test(t_sleep_engine_fallback),
		cmocka_unit_test(t_close_while_waiting),
		cmocka_unit_test(t_cross_thread_wake),
		cmocka_unit_test(t_pick),
		cmocka_unit_test(t_outside_vcpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
