/* SPDX-License-Identifier: MIT */
/*
 * A deliberately broken echo server for kaon-bench's tests: it echoes every
 * connection faithfully except one byte, at stream offset --at N of each
 * connection, which it flips.
 * usage: corrupt-echo --port P [--at N]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaon/io.h"
#include "kaon/sock.h"

static long long flip_at = 1000;

static void *conn(void *arg)
{
	kaon_sock *s = arg;
	unsigned char buf[4096];
	long long pos = 0;
	for (;;) {
		ssize_t n = kaon_recv(s, buf, sizeof(buf), KAON_FOREVER);
		if (n <= 0)
			break;
		if (flip_at >= pos && flip_at < pos + n)
			buf[flip_at - pos] ^= 0x20;
		pos += n;
		if (kaon_write_full(s, buf, (size_t)n, KAON_FOREVER) < 0)
			break;
	}
	kaon_close(s);
	return NULL;
}

static void *serve(void *arg)
{
	kaon_sock *ls = arg;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	for (;;) {
		kaon_sock *s;
		if (kaon_accept(ls, &s, NULL, KAON_FOREVER) < 0)
			break;
		if (kaon_go(NULL, &o, conn, s) < 0)
			kaon_close(s);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long port = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--at"))
			flip_at = strtoll(argv[i + 1], NULL, 10);
	}
	if (port < 0 || port > 65535) {
		fprintf(stderr, "usage: corrupt-echo --port P [--at N]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	kaon_addr a;
	kaon_sock *ls;
	kaon_addr_parse(&a, "127.0.0.1", (uint16_t)port);
	int r = kaon_listen(&ls, &a, NULL);
	if (r < 0) {
		fprintf(stderr, "corrupt-echo: %s\n", strerror(-r));
		return 2;
	}
	kaon_sock_local(ls, &a);
	char txt[KAON_ADDR_STRLEN];
	printf("listening on %s (stack corrupt)\n", kaon_addr_format(&a, txt, sizeof(txt)));
	fflush(stdout);
	kaon_vcpu_opts o;
	kaon_vcpu_opts_init(&o);
	o.engine = &kaon_engine_epoll;
	kaon_run(&o, serve, ls, NULL);
	return 0;
}
