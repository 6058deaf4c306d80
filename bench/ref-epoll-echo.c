/* SPDX-License-Identifier: MIT */
/*
 * ref-epoll-echo: the baseline. A plain single-threaded, level-triggered
 * epoll echo server with non-blocking sockets and no kaon code: what a C
 * programmer writes without a framework. Bytes the socket cannot take yet
 * wait in a per-connection buffer, and reading pauses until they are gone.
 *
 * usage: ref-epoll-echo [--addr A] --port P [--cpu N]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (16 * 1024)
#define MAX_EVENTS 256

struct conn {
	int fd;
	size_t off, len; /* unsent bytes: buf[off, len) */
	char buf[BUF_SIZE];
};

static volatile sig_atomic_t stop;
static unsigned long long n_conns, n_bytes;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage_exit(const char *msg)
{
	fprintf(stderr, "ref-epoll-echo: %s\nusage: ref-epoll-echo [--addr A] --port P "
			"[--cpu N]\n", msg);
	exit(2);
}

static void drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void want(int ep, struct conn *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is pending. 1: all gone, 0: would block, -1: error. */
static int flush(struct conn *c)
{
	while (c->off < c->len) {
		ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->off += (size_t)w;
	}
	return 1;
}

/* One readiness event: finish a blocked send, or read once and echo.
 * 0: keep the connection, -1: close it. */
static int serve(int ep, struct conn *c)
{
	if (c->off < c->len) { /* waiting for EPOLLOUT */
		int r = flush(c);
		if (r == 1)
			want(ep, c, EPOLLIN);
		return r < 0 ? -1 : 0;
	}
	ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	n_bytes += (unsigned long long)n;
	c->off = 0;
	c->len = (size_t)n;
	int r = flush(c);
	if (r == 0)
		want(ep, c, EPOLLOUT);
	return r < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	long port = -1, cpu = -1;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc && strcmp(argv[i], "--help"))
			usage_exit("missing value or unknown flag");
		if (!strcmp(argv[i], "--addr"))
			host = argv[++i];
		else if (!strcmp(argv[i], "--port"))
			port = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--cpu"))
			cpu = strtol(argv[++i], NULL, 10);
		else
			usage_exit("unknown flag");
	}
	if (port < 0 || port > 65535)
		usage_exit("--port P is required (0-65535)");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		usage_exit("--addr: expected a numeric IPv4 address");
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			perror("ref-epoll-echo: sched_setaffinity");
	}

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, SOMAXCONN) < 0) {
		fprintf(stderr, "ref-epoll-echo: cannot listen on %s:%ld: %s\n", host, port,
			strerror(errno));
		return 2;
	}
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);

	struct sigaction act = { .sa_handler = on_signal };
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("listening on %s:%u (stack ref-epoll)\n", host, (unsigned)ntohs(sa.sin_port));
	fflush(stdout);

	struct epoll_event evs[MAX_EVENTS];
	while (!stop) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = malloc(sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->off = c->len = 0;
					struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					n_conns++;
				}
				continue;
			}
			if (serve(ep, c) < 0)
				drop(ep, c);
		}
	}
	printf("stopped: connections %llu, bytes echoed %llu\n", n_conns, n_bytes);
	return 0;
}
