/* SPDX-License-Identifier: MIT */
/*
 * kaon-httpd: a static-file HTTP/1.1 server on kaon's socket API. One
 * coroutine per connection (http_conn.c); --stack picks what carries the
 * bytes: the kernel through epoll or io_uring, or kaon's own TCP/IP stack.
 * With --vcpus N each vcpu has its own SO_REUSEPORT listener and file cache.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http_conn.h"
#include "kaon/co.h"
#include "kaon/io.h"
#include "kaon/sock.h"
#include "kaon/sync.h"
#ifdef KAON_TOOLS_HAVE_USER
#include "kaon/user.h"
#endif

#define PROG "kaon-httpd"
#define SEC 1000000000LL

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --stack epoll|uring|user --port P (--root DIR | --fixed BYTES)\n"
		"                  [--addr A] [--config FILE] [--vcpus N] [--cpu LIST]\n"
		"                  [--max-head BYTES] [--max-body BYTES] [--idle-timeout S]\n"
		"                  [--header-timeout S] [--no-sendfile] [--no-sum-tables]\n"
		"                  [--notsent-lowat BYTES]\n"
		"Serve static files over HTTP/1.1 (GET, HEAD; keep-alive, pipelining).\n"
		"Prints 'listening on A:P (stack S)' when ready; SIGINT/SIGTERM print the\n"
		"counters and exit 0.\n"
		"  --stack S          epoll (default), uring (falls back to epoll when the\n"
		"                     kernel refuses io_uring) or user: kaon's own TCP/IP\n"
		"                     stack on DPDK (needs --config; one vcpu)\n"
		"  --addr A           numeric address to listen on (default 127.0.0.1;\n"
		"                     0.0.0.0 with --stack user)\n"
		"  --port P           TCP port, 0 picks a free one (not 0 with user)\n"
		"  --root DIR         the files; nothing outside DIR is ever served (.., %%2e,\n"
		"                     symlinks out); a directory serves its index.html or 403\n"
		"  --fixed BYTES      answer every GET/HEAD with BYTES bytes (benchmarks)\n"
		"  --config F         kaon config file (the user-space stack; only checked\n"
		"                     with the kernel stacks)\n"
		"  --vcpus N          serving threads, one listener each (SO_REUSEPORT)\n"
		"  --cpu LIST         pin vcpu i to the i-th CPU of LIST\n"
		"  --max-head BYTES   request line + fields, past it 431 (default 8192)\n"
		"  --max-body BYTES   largest request body read and dropped; past it 413\n"
		"                     (default 8192; Transfer-Encoding bodies: 501)\n"
		"  --idle-timeout S   close a connection idle that long between requests,\n"
		"                     or a write that makes no progress (default 60)\n"
		"  --header-timeout S a head not complete S after its first byte: 408 and\n"
		"                     close (default 10)\n"
		"  --no-sendfile      copy file data: no sendfile(2) (or io_uring splice) on\n"
		"                     the kernel stacks, no pages lent to kaon's stack\n"
		"  --no-sum-tables    lend file pages without their checksums: kaon's stack\n"
		"                     sums every byte it sends (for comparison)\n"
		"  --notsent-lowat B  while a vcpu serves several connections, a kernel\n"
		"                     socket sending a file holds at most B unsent bytes\n"
		"                     (TCP_NOTSENT_LOWAT; default 131072, 0: no limit)\n");
}

/* The counters of every vcpu, printed at exit. */
static void print_counters(const char *why, struct http_server *sv, int n)
{
	struct http_counters t = { 0 };
	uint64_t accepted = 0, accept_errors = 0;
	for (int i = 0; i < n; i++) {
		const struct http_counters *c = &sv[i].c;
		accepted += sv[i].srv.accepted;
		accept_errors += sv[i].srv.accept_errors;
		t.closed += c->closed + sv[i].srv.spawn_errors;
		t.conn_errors += sv[i].srv.spawn_errors;
		t.requests += c->requests;
		for (int k = 0; k < 6; k++)
			t.status[k] += c->status[k];
		t.bytes += c->bytes;
		t.sendfile_bytes += c->sendfile_bytes;
		t.zero_copy_bytes += c->zero_copy_bytes;
		t.timeouts += c->timeouts;
		t.resets += c->resets;
		t.conn_errors += c->conn_errors;
	}
	printf("%s: connections %llu, closed %llu, requests %llu, 2xx %llu, 3xx %llu, "
	       "4xx %llu, 5xx %llu, bytes sent %llu (sendfile %llu, lent %llu), timeouts %llu, "
	       "resets by peer %llu, connection errors %llu, accept errors %llu\n",
	       why, (unsigned long long)accepted, (unsigned long long)t.closed,
	       (unsigned long long)t.requests, (unsigned long long)t.status[2],
	       (unsigned long long)t.status[3], (unsigned long long)t.status[4],
	       (unsigned long long)t.status[5], (unsigned long long)t.bytes,
	       (unsigned long long)t.sendfile_bytes, (unsigned long long)t.zero_copy_bytes,
	       (unsigned long long)t.timeouts,
	       (unsigned long long)t.resets, (unsigned long long)t.conn_errors,
	       (unsigned long long)accept_errors);
}

int main(int argc, char **argv)
{
	struct serve_flags f = { .stack = "epoll", .host = "127.0.0.1", .port = -1, .nvcpus = 1 };
	const char *rootdir = NULL;
	int cpus[CLI_MAX_CPUS], ncpus = 0;
	struct http_conf cf = {
		.fixed = -1,
		.max_head = 8192,
		.max_body = 8192,
		.idle_ns = 60 * SEC,
		.header_ns = 10 * SEC,
		.zero_copy = 1,
		.sum_tables = 1,
		.notsent_lowat = 128 * 1024,
	};
	static const struct option longopts[] = {
		{ "stack", required_argument, NULL, 's' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "root", required_argument, NULL, 'r' },
		{ "fixed", required_argument, NULL, 'f' },
		{ "max-head", required_argument, NULL, 'H' },
		{ "max-body", required_argument, NULL, 'B' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "header-timeout", required_argument, NULL, 't' },
		{ "no-sendfile", no_argument, NULL, 'Z' },
		{ "no-sum-tables", no_argument, NULL, 'S' },
		{ "notsent-lowat", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	opterr = 0;
	for (;;) {
		int o = getopt_long(argc, argv, "", longopts, NULL);
		if (o == -1)
			break;
		switch (o) {
		case 's': f.stack = optarg; break;
		case 'a': f.host = optarg; f.host_given = 1; break;
		case 'p': f.port = cli_int(PROG, "--port", optarg, 0, 65535); break;
		case 'c': f.config = optarg; break;
		case 'n': f.nvcpus = cli_int(PROG, "--vcpus", optarg, 1, 256); break;
		case 'C': ncpus = cli_cpu_list(PROG, optarg, cpus); break;
		case 'r': rootdir = optarg; break;
		case 'f': cf.fixed = cli_int(PROG, "--fixed", optarg, 0, 1LL << 30); break;
		case 'H': cf.max_head = (size_t)cli_int(PROG, "--max-head", optarg, 256, 1 << 20); break;
		case 'B': cf.max_body = cli_int(PROG, "--max-body", optarg, 0, 1 << 30); break;
		case 'i': cf.idle_ns = (int64_t)(cli_seconds(PROG, "--idle-timeout", optarg, 0.01) * SEC); break;
		case 't': cf.header_ns = (int64_t)(cli_seconds(PROG, "--header-timeout", optarg, 0.01) * SEC); break;
		case 'Z': cf.zero_copy = 0; break;
		case 'S': cf.sum_tables = 0; break;
		case 'L': cf.notsent_lowat = (int)cli_int(PROG, "--notsent-lowat", optarg, 0, 1 << 30); break;
		case 'h': usage(stdout); return 0;
		default:
			cli_fail(PROG, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_fail(PROG, "unexpected argument '%s'", argv[optind]);
	if (!rootdir == (cf.fixed < 0))
		cli_fail(PROG, "give one of --root DIR and --fixed BYTES");
	kaon_addr addr;
	const kaon_engine_ops *engine;
	int user = serve_flags_check(PROG, &f, &addr, &engine);
	static struct http_root root = { .fd = -1 };
	if (rootdir) {
		int r = http_root_open(&root, rootdir);
		if (r < 0)
			cli_fail(PROG, "--root: cannot open directory %s: %s", rootdir, strerror(-r));
		cf.root = &root;
	}

	sigset_t sigs;
	serve_signals(&sigs);
	if (user && cf.zero_copy && cf.root && http_file_sigbus_init() < 0)
		cli_fail(PROG, "cannot catch SIGBUS: %s", strerror(errno));

	struct http_server *sv = calloc((size_t)f.nvcpus, sizeof(*sv));
	char *fixed_body = cf.fixed > 0 ? malloc((size_t)cf.fixed) : NULL;
	if (!sv || (cf.fixed > 0 && !fixed_body)) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (fixed_body)
		memset(fixed_body, 'x', (size_t)cf.fixed);
	struct serve **list = calloc((size_t)f.nvcpus, sizeof(*list));
	if (!list) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	for (int i = 0; i < f.nvcpus; i++) {
		sv[i].srv = (struct serve){ .conn = http_conn, .conn_name = "http-conn",
					    .vcpu_name = PROG, .owner = &sv[i] };
		list[i] = &sv[i].srv;
		sv[i].conf = &cf;
		sv[i].cache.root = cf.root;
		sv[i].cache.map = user && cf.zero_copy;
		sv[i].cache.sums = cf.sum_tables;
		sv[i].fixed_body = fixed_body;
	}
	int status;
#ifdef KAON_TOOLS_HAVE_USER
	if (user)
		status = serve_start_user(PROG, &sv[0].srv, &addr, f.config, cpus, ncpus);
	else
#endif
		status = serve_start(PROG, list, (int)f.nvcpus, &addr, engine, cpus, ncpus);
	free(list);
	if (!status) {
		char a[KAON_ADDR_STRLEN];
		printf("listening on %s (stack %s)\n", kaon_addr_format(&addr, a, sizeof(a)),
		       user ? "user" : engine->name);
		fflush(stdout);
		int sig;
		sigwait(&sigs, &sig);
		for (int i = 0; i < f.nvcpus; i++) {
			kaon_vcpu_stop(sv[i].srv.v);
			sv[i].srv.v = NULL;
		}
		print_counters(strsignal(sig), sv, (int)f.nvcpus);
	}
	for (int i = 0; i < f.nvcpus; i++) {
		if (sv[i].srv.v)
			kaon_vcpu_stop(sv[i].srv.v);
		kaon_close(sv[i].srv.ls); /* NULL for the user stack: closed on its vcpu */
		http_fcache_clear(&sv[i].cache);
	}
#ifdef KAON_TOOLS_HAVE_USER
	if (user)
		kaon_user_teardown();
#endif
	http_root_close(&root);
	free(fixed_body);
	free(sv);
	return status;
}
