/* SPDX-License-Identifier: MIT */
/*
 * kaon-echo and kaon-bench as programs: both engines end to end, JSON keys,
 * signals and counters, bad flags (exit 2), address in use, a server that
 * corrupts a byte, a server that is not there; kaon-bench's overload flags:
 * size ranges, --requests, --reconnect, --stop-reading, and --timeout and
 * --max-latency against a server that never reads.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define OUT_MAX 65536

struct server {
	pid_t pid;
	int out; /* its stdout */
	int port;
};

/* Read from @p fd into buf (NUL-terminated) until EOF, a newline when
 * @p line, or @p timeout_ms. @return bytes read. */
static size_t read_until(int fd, char *buf, size_t cap, int line, int timeout_ms)
{
	size_t n = 0;
	int64_t end = kaon_now() + (int64_t)timeout_ms * MS;
	while (n + 1 < cap) {
		int64_t left = (end - kaon_now()) / MS;
		if (left <= 0)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t r = read(fd, buf + n, line ? 1 : cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (line && buf[n - 1] == '\n')
			break;
	}
	buf[n] = '\0';
	return n;
}

static pid_t spawn(char *const argv[], int *outfd, int with_stderr)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		if (with_stderr)
			dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*outfd = p[0];
	return pid;
}

/* Exit status of @p pid, killing it after @p timeout_ms; -1 if killed. */
static int reap(pid_t pid, int timeout_ms)
{
	int64_t end = kaon_now() + (int64_t)timeout_ms * MS;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (kaon_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run a program to the end; its stdout+stderr in @p out. */
static int run(char *const argv[], char *out, int timeout_ms)
{
	int fd;
	pid_t pid = spawn(argv, &fd, 1);
	read_until(fd, out, OUT_MAX, 0, timeout_ms);
	close(fd);
	return reap(pid, 5000);
}

/* Servers still running when a test fails are killed at exit, so that
 * nothing holds ctest's output pipe open. */
static pid_t live[16];

static void kill_live(void)
{
	for (int i = 0; i < 16; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
}

static void track(pid_t pid, pid_t replace)
{
	for (int i = 0; i < 16; i++)
		if (live[i] == replace) {
			live[i] = pid;
			return;
		}
}

static void start_server(struct server *s, char *const argv[])
{
	s->pid = spawn(argv, &s->out, 0);
	track(s->pid, 0);
	char line[256];
	read_until(s->out, line, sizeof(line), 1, 10000);
	const char *colon = strrchr(line, ':');
	assert_non_null(strstr(line, "listening on "));
	assert_non_null(colon);
	s->port = atoi(colon + 1);
	assert_true(s->port > 0);
}

/* SIGTERM: the server prints its counters and exits 0. */
static void stop_server(struct server *s, char *counters, size_t cap)
{
	kill(s->pid, SIGTERM);
	char tmp[1024];
	read_until(s->out, counters ? counters : tmp, counters ? cap : sizeof(tmp), 0, 10000);
	close(s->out);
	track(0, s->pid);
	assert_int_equal(reap(s->pid, 10000), 0);
}

static void bench(int port, const char *stack, const char *conns, const char *size,
		  const char *mode, char *out, int *status)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	char *argv[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", p,
			 "--conns", (char *)conns, "--size", (char *)size, "--mode", (char *)mode,
			 "--duration", "0.4", "--warmup", "0.1", "--stack", (char *)stack,
			 "--json", NULL };
	*status = run(argv, out, 30000);
}

static void end_to_end(const char *stack)
{
	static char out[OUT_MAX];
	char *echo[] = { KAON_BIN_DIR "/kaon-echo", "--stack", (char *)stack, "--addr",
			 "127.0.0.1", "--port", "0", NULL };
	struct server s;
	start_server(&s, echo);
	int st;
	bench(s.port, stack, "8", "64", "pingpong", out, &st);
	assert_int_equal(st, 0);
	static const char *keys[] = { "\"requests_per_sec\":", "\"gbps\":", "\"p50_us\":",
				      "\"p90_us\":", "\"p99_us\":", "\"p999_us\":",
				      "\"max_us\":", "\"errors\":0", "\"conns\":8",
				      "\"size\":64", "\"mode\":\"pingpong\"" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(strstr(out, keys[i]));
	assert_null(strstr(out, "\"requests_per_sec\":0.0,"));

	bench(s.port, stack, "4", "512", "stream", out, &st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "\"mode\":\"stream\""));
	bench(s.port, stack, "2", "3000000", "pingpong", out, &st);
	assert_int_equal(st, 0);
	bench(s.port, stack, "1000", "100", "pingpong", out, &st);
	assert_int_equal(st, 0);

	char counters[1024];
	stop_server(&s, counters, sizeof(counters));
	assert_non_null(strstr(counters, "connections 1014"));
}

static void t_epoll(void **s)
{
	(void)s;
	end_to_end("epoll");
}

static void t_uring(void **s)
{
	(void)s;
	end_to_end("uring");
}

static void t_vcpus(void **st)
{
	(void)st;
	static char out[OUT_MAX];
	char *echo[] = { KAON_BIN_DIR "/kaon-echo", "--port", "0", "--vcpus", "2", "--cpu",
			 "0-1", NULL };
	struct server s;
	start_server(&s, echo);
	int status;
	bench(s.port, "epoll", "16", "64", "pingpong", out, &status);
	assert_int_equal(status, 0);
	stop_server(&s, NULL, 0);
}

static void expect_exit2(char *const argv[], const char *message)
{
	static char out[OUT_MAX];
	assert_int_equal(run(argv, out, 10000), 2);
	if (!strstr(out, message))
		fail_msg("expected '%s' in: %s", message, out);
}

static void t_bad_flags(void **st)
{
	(void)st;
	char *e1[] = { KAON_BIN_DIR "/kaon-echo", "--port", "7", "--bogus", NULL };
	expect_exit2(e1, "unknown");
	char *e2[] = { KAON_BIN_DIR "/kaon-echo", "--port", "99999", NULL };
	expect_exit2(e2, "--port");
	char *e3[] = { KAON_BIN_DIR "/kaon-echo", "--port", "7000", "--addr", "not.an.ip", NULL };
	expect_exit2(e3, "--addr");
	char *e4[] = { KAON_BIN_DIR "/kaon-echo", "--port", "7000", "--stack", "dpdk-nope", NULL };
	expect_exit2(e4, "--stack");
	char *e5[] = { KAON_BIN_DIR "/kaon-echo", NULL };
	expect_exit2(e5, "--port is required");
	char *e6[] = { KAON_BIN_DIR "/kaon-echo", "--port", "0", "--cpu", "x", NULL };
	expect_exit2(e6, "--cpu");
	char *e7[] = { KAON_BIN_DIR "/kaon-echo", "--port", "0", "--config", "/nonexistent/kaon.ini", NULL };
	expect_exit2(e7, "--config");
	char *b1[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "1", "--size", "64", "--mode", "zigzag", "--duration", "1",
		       NULL };
	expect_exit2(b1, "--mode");
	char *b2[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", NULL };
	expect_exit2(b2, "required");
	char *b3[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "0", "--size", "64", "--mode", "stream", "--duration", "1",
		       NULL };
	expect_exit2(b3, "--conns");
	char *b4[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "1", "--size", "500-20", "--mode", "pingpong", "--requests",
		       "1", NULL };
	expect_exit2(b4, "--size");
	char *b5[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "1", "--size", "64", "--mode", "stream", "--requests", "1",
		       NULL };
	expect_exit2(b5, "for --mode pingpong");
	char *b6[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "2", "--size", "64", "--mode", "pingpong", "--requests", "1",
		       "--stop-reading", "2", NULL };
	expect_exit2(b6, "--stop-reading");
	char *b7[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "1", "--size", "64", "--mode", "pingpong", "--requests", "1",
		       "--warmup", "1", NULL };
	expect_exit2(b7, "--warmup");
	char *b8[] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", "1",
		       "--conns", "1", "--size", "64", "--mode", "pingpong", "--timeout", "x",
		       "--requests", "1", NULL };
	expect_exit2(b8, "--timeout");

	/* Address in use: one clear message, exit 2. */
	char *echo[] = { KAON_BIN_DIR "/kaon-echo", "--port", "0", NULL };
	struct server s;
	start_server(&s, echo);
	char port[16];
	snprintf(port, sizeof(port), "%d", s.port);
	char *dup[] = { KAON_BIN_DIR "/kaon-echo", "--port", port, NULL };
	expect_exit2(dup, "Address already in use");
	stop_server(&s, NULL, 0);
}

static void t_detects_corruption(void **st)
{
	(void)st;
	static char out[OUT_MAX];
	const char *modes[] = { "pingpong", "stream" };
	for (int i = 0; i < 2; i++) {
		char *srv[] = { KAON_TEST_DIR "/corrupt-echo", "--port", "0", "--at", "5000", NULL };
		struct server s;
		start_server(&s, srv);
		int status;
		bench(s.port, "epoll", "2", "100", modes[i], out, &status);
		assert_int_equal(status, 1);
		if (!strstr(out, "\"mismatches\":1") && !strstr(out, "\"mismatches\":2"))
			fail_msg("no mismatch reported: %s", out);
		assert_non_null(strstr(out, "byte"));
		kill(s.pid, SIGKILL);
		close(s.out);
		track(0, s.pid);
		reap(s.pid, 5000);
	}
}

/* kaon-bench against @p port with the given flags after the common ones. */
static int bench_flags(int port, char *out, const char *const *flags)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	char *argv[32] = { KAON_BIN_DIR "/kaon-bench", "--addr", "127.0.0.1", "--port", p,
			   "--mode", "pingpong", "--json" };
	int n = 8;
	for (int i = 0; flags[i]; i++)
		argv[n++] = (char *)flags[i];
	argv[n] = NULL;
	return run(argv, out, 60000);
}

static void expect_in(const char *out, const char *what)
{
	if (!strstr(out, what))
		fail_msg("expected '%s' in: %s", what, out);
}

/* Drawn sizes and chunked checking: a flipped byte is still found. */
static void t_detects_corruption_sizes(void **st)
{
	(void)st;
	static char out[OUT_MAX];
	char *srv[] = { KAON_TEST_DIR "/corrupt-echo", "--port", "0", "--at", "200000", NULL };
	struct server s;
	start_server(&s, srv);
	const char *f[] = { "--conns", "1", "--size", "1-100000", "--requests", "50", NULL };
	assert_int_equal(bench_flags(s.port, out, f), 1);
	expect_in(out, "\"mismatches\":1");
	expect_in(out, "byte");
	kill(s.pid, SIGKILL);
	close(s.out);
	track(0, s.pid);
	reap(s.pid, 5000);
}

static void t_no_server(void **st)
{
	(void)st;
	static char out[OUT_MAX];
	/* A port nobody listens on: take one, then free it. */
	char *echo[] = { KAON_BIN_DIR "/kaon-echo", "--port", "0", NULL };
	struct server s;
	start_server(&s, echo);
	stop_server(&s, NULL, 0);
	int status;
	bench(s.port, "epoll", "2", "64", "pingpong", out, &status);
	assert_int_equal(status, 1);
	assert_non_null(strstr(out, "refused"));
}

/* Sizes drawn in a range, a request count per connection, reconnects, and a
 * connection that stops reading while the others finish. */
static void t_requests(void **st)
{
	(void)st;
	static char out[OUT_MAX];
	char *echo[] = { KAON_BIN_DIR "/kaon-echo", "--port", "0", NULL };
	struct server s;
	start_server(&s, echo);
	const char *f1[] = { "--conns", "8", "--size", "1-300000", "--requests", "5",
			     "--max-latency", "20", "--max-stall", "10", "--timeout", "50", NULL };
	assert_int_equal(bench_flags(s.port, out, f1), 0);
	expect_in(out, "\"requests\":40,");
	expect_in(out, "\"conns_finished\":8,");
	expect_in(out, "\"size_min\":1,\"size_max\":300000,");
	expect_in(out, "\"late\":0,\"timed_out\":0,\"stalls\":0,");
	/* Drawn sizes: not all the same, not all the largest. */
	assert_null(strstr(out, "\"bytes\":12000000,"));
	assert_null(strstr(out, "\"bytes\":40,"));

	const char *f2[] = { "--conns", "4", "--size", "1000-5000", "--requests", "6",
			     "--reconnect", "2", NULL };
	assert_int_equal(bench_flags(s.port, out, f2), 0);
	expect_in(out, "\"requests\":24,");
	expect_in(out, "\"reconnects\":8,");

	const char *f3[] = { "--conns", "4", "--size", "100000-200000", "--requests", "10",
			     "--stop-reading", "1", "--timeout", "50", NULL };
	assert_int_equal(bench_flags(s.port, out, f3), 0);
	expect_in(out, "\"conns_finished\":3,");
	expect_in(out, "\"stop_reading\":1,");

	char counters[1024];
	stop_server(&s, counters, sizeof(counters));
	/* 8 + 4 x 3 (two reconnects each) + 4 */
	expect_in(counters, "connections 24");
}

/* A server whose application never reads: every request stays in flight;
 * --timeout fails the run and says where each connection is, and
 * --max-latency and --max-stall count the requests still in flight. */
static void t_timeout(void **st)
{
	(void)st;
	static char out[OUT_MAX];
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 16), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	const char *f[] = { "--conns", "3", "--size", "8000000", "--requests", "1",
			    "--timeout", "1", "--max-latency", "0.5", "--max-stall", "0.5", NULL };
	int64_t t0 = kaon_now();
	assert_int_equal(bench_flags(ntohs(a.sin_port), out, f), 1);
	assert_true(kaon_now() - t0 < 10000 * MS);
	expect_in(out, "timeout: after 1.0 s, 3 of 3 connections not finished");
	expect_in(out, "connection 0: request 0 (8000000 bytes): sent ");
	expect_in(out, "still in flight after");
	expect_in(out, "no byte echoed for");
	expect_in(out, "\"timed_out\":1,\"stalls\":3,");
	expect_in(out, "\"late\":3,");
	close(ls);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(kill_live);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_bad_flags),
		cmocka_unit_test(t_epoll),
		cmocka_unit_test(t_uring),
		cmocka_unit_test(t_vcpus),
		cmocka_unit_test(t_detects_corruption),
		cmocka_unit_test(t_no_server),
		cmocka_unit_test(t_detects_corruption_sizes),
		cmocka_unit_test(t_requests),
		cmocka_unit_test(t_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
