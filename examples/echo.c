/* SPDX-License-Identifier: MIT */
/*
 * A complete echo server on kaon. The kernel and the user-space variants
 * differ by one line: which engine the vcpu runs (see "THE ONE LINE").
 *
 *   echo PORT                  on the Linux kernel (epoll)
 *   echo PORT CONFIG           on kaon's own TCP/IP stack over DPDK
 *
 * Stop it with Ctrl-C. It is C and C++ alike (tests/install builds it as both).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kaon/co.h>
#include <kaon/io.h>
#include <kaon/sock.h>
#include <kaon/user.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

/* One connection: read what comes, write it back, until the peer leaves. */
static void *serve(void *arg)
{
	kaon_sock *c = (kaon_sock *)arg;
	char buf[4096];
	ssize_t n;
	while ((n = kaon_recv(c, buf, sizeof(buf), KAON_FOREVER)) > 0)
		if (kaon_write_full(c, buf, (size_t)n, KAON_FOREVER) < 0)
			break;
	kaon_close(c);
	return NULL;
}

static void *server(void *arg)
{
	const char *port = (const char *)arg;
	kaon_addr addr;
	kaon_sock *ls, *c;
	kaon_addr_parse(&addr, "0.0.0.0", (uint16_t)atoi(port));
	int rc = kaon_listen(&ls, &addr, NULL);
	if (rc < 0) {
		fprintf(stderr, "echo: listen: %s\n", strerror(-rc));
		return NULL;
	}
	printf("echo: listening on port %s\n", port);
	fflush(stdout);
	kaon_co_opts detached;
	kaon_co_opts_init(&detached);
	detached.detached = 1;
	while (!stop) {
		/* Wake up now and then to notice Ctrl-C. */
		rc = kaon_accept(ls, &c, NULL, kaon_deadline_in(100000000));
		if (rc == 0)
			kaon_go(NULL, &detached, serve, c);
	}
	kaon_close(ls);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: echo PORT [CONFIG]\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	kaon_vcpu_opts vo;
	kaon_vcpu_opts_init(&vo);
	/* THE ONE LINE: the kernel through epoll, or kaon's stack on DPDK. */
	int rc = argc == 2 ? (vo.engine = &kaon_engine_epoll, 0) : kaon_user_setup(&vo, argv[2]);
	if (rc < 0)
		return 2;
	rc = kaon_run(&vo, server, argv[1], NULL);
	kaon_user_teardown();
	return rc < 0;
}
