/* SPDX-License-Identifier: MIT */
/*
 * kaon-echo: a TCP echo server. One handler (echo_conn) serves every stack;
 * --stack only picks the engine the vcpus run. With --vcpus N each vcpu has
 * its own SO_REUSEPORT listener, and the kernel spreads connections.
 * --udp-port adds a UDP echo on the first vcpu (datagram in, same datagram
 * back to its sender).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"
#include "kaon/co.h"
#include "kaon/io.h"
#include "kaon/sock.h"
#include "kaon/sync.h"
#ifdef KAON_TOOLS_HAVE_USER
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "kaon/net.h"
#include "kaon/user.h"
#endif

#define PROG "kaon-echo"
#define ECHO_BUF (16 * 1024)

/* Per connection, on the server's vcpu (accepts are counted in srv). */
struct counters {
	uint64_t closed, bytes, resets, conn_errors;
};

struct udp_counters {
	uint64_t datagrams, bytes, too_big, errors;
};

struct server {
	struct serve srv;  /* listener, vcpu, acceptor */
	struct counters c; /* touched only by the server's vcpu */
	int udp;           /* first server only: echo UDP on uaddr */
	kaon_addr uaddr;
	int udp_err;
	struct udp_counters u;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --stack epoll|uring|user --addr A --port P [--config FILE]\n"
		"                 [--vcpus N] [--cpu LIST] [--udp-port U]\n"
		"Echo every byte back on each TCP connection. Prints 'listening on A:P\n"
		"(stack S)' when ready; SIGINT/SIGTERM print the counters and exit 0.\n"
		"  --stack S    engine of the vcpus: epoll (default) or uring (falls back\n"
		"               to epoll when the kernel refuses io_uring), or user:\n"
		"               kaon's own TCP/IP stack on DPDK (needs --config; one vcpu)\n"
		"  --addr A     numeric IPv4/IPv6 address to listen on (default 127.0.0.1;\n"
		"               0.0.0.0 with --stack user)\n"
		"  --port P     TCP port, 0 picks a free one (required; not 0 with user)\n"
		"  --config F   kaon config file (used by the user-space stack; with the\n"
		"               kernel stacks it is only checked)\n"
		"  --vcpus N    serving threads, one listener each (SO_REUSEPORT)\n"
		"  --cpu LIST   pin vcpu i to the i-th CPU of LIST (e.g. 1 or 0-1)\n"
		"  --udp-port U also echo UDP datagrams on port U (first vcpu); one too\n"
		"               big to go back unfragmented is counted, not echoed\n"
		"With --stack user, KAON_STATS=1 prints the stack's counters at exit and\n"
		"KAON_STATS_EVERY=S a line of live ones (TCBs, mbufs in use) every S s;\n"
		"with KAON_STATS_FILE=PATH, all counters rewritten to PATH instead;\n"
		"with KAON_CONNS_FILE=PATH, the connection table rewritten to PATH.\n");
}

static void count_error(struct server *sv, ssize_t err)
{
	if (err == 0 || err == -ECANCELED)
		return;
	if (err == -ECONNRESET || err == -EPIPE)
		sv->c.resets++; /* the peer left without reading everything */
	else
		sv->c.conn_errors++;
}

/* The one echo handler: whatever arrives goes back, until end of stream. */
static void *echo_conn(void *arg)
{
	struct serve_conn *cn = arg;
	struct server *sv = cn->owner;
	kaon_sock *s = cn->s;
	free(cn);
	char buf[ECHO_BUF];
	kaon_sock_setopt(s, KAON_SO_NODELAY, 1);
	for (;;) {
		ssize_t n = kaon_recv(s, buf, sizeof(buf), KAON_FOREVER);
		if (n <= 0) {
			count_error(sv, n);
			break;
		}
		ssize_t w = kaon_write_full(s, buf, (size_t)n, KAON_FOREVER);
		if (w < 0) {
			count_error(sv, w);
			break;
		}
		sv->c.bytes += (uint64_t)n;
	}
	kaon_close(s);
	sv->c.closed++;
	return NULL;
}

static kaon_sem udp_bound;
static void *udp_echo(void *arg);

static void *wait_udp_bound(void *arg)
{
	(void)arg;
	kaon_sem_wait(&udp_bound, kaon_deadline_in(10 * 1000000000LL));
	return NULL;
}

/* Start the UDP echo on @p sv's vcpu and wait until it is bound.
 * @return 0 or the exit status (it said why). */
static int start_udp(struct server *sv)
{
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.detached = 1;
	co.name = "udp-echo";
	sv->udp_err = -ETIMEDOUT;
	int r = kaon_go_on(sv->srv.v, NULL, &co, udp_echo, sv);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot start the UDP echo: %s\n", strerror(-r));
		return 1;
	}
	kaon_run(NULL, wait_udp_bound, NULL, NULL); /* this thread is no vcpu */
	if (sv->udp_err < 0) {
		char a[KAON_ADDR_STRLEN];
		fprintf(stderr, PROG ": cannot bind UDP %s: %s\n",
			kaon_addr_format(&sv->uaddr, a, sizeof(a)), strerror(-sv->udp_err));
		return 2;
	}
	return 0;
}

/* UDP echo on the server's vcpu until it stops. The user-space stack sends
 * no fragments, so a datagram larger than the path MTU is only counted. */
static void *udp_echo(void *arg)
{
	struct server *sv = arg;
	static char buf[65536];
	kaon_addr from;
	kaon_sock *s;

	sv->udp_err = kaon_udp_bind(&s, &sv->uaddr, NULL);
	kaon_sem_post(&udp_bound);
	if (sv->udp_err < 0)
		return NULL;
	for (;;) {
		ssize_t n = kaon_recvfrom(s, buf, sizeof(buf), &from, KAON_FOREVER);
		if (n == -ECANCELED)
			break;
		if (n < 0) {
			sv->u.errors++;
			continue;
		}
		sv->u.datagrams++;
		sv->u.bytes += (uint64_t)n;
		ssize_t w = kaon_sendto(s, buf, (size_t)n, &from, KAON_FOREVER);
		if (w == -EMSGSIZE)
			sv->u.too_big++;
		else if (w < 0)
			sv->u.errors++;
	}
	kaon_close(s);
	return NULL;
}

#ifdef KAON_TOOLS_HAVE_USER
/*
 * KAON_STATS_EVERY=SECONDS: one line of live numbers that often, for soak
 * runs (KAON_STATS prints only at exit): live TCBs, mbufs taken from the
 * port's pool (in use anywhere: rings, queues, the stack), connections and
 * the stack's drop total. Printed from the stack's own vcpu, so the counters
 * are read where they are written.
 * KAON_STATS_FILE=PATH: every counter and drop reason, in KAON_STATS's
 * format, rewritten to PATH (whole, by rename) each period instead of the
 * line, with the live TCBs and mbufs in use, for a test that checks
 * counters while the server runs (tests/testbed/hostile.py).
 * KAON_CONNS_FILE=PATH: the connection table (kn_stack_dump_tcbs), rewritten
 * to PATH the same way, to see why a connection does not move.
 */
static void stats_to_file(const char *path, struct kn_stack *st, struct rte_mempool *mp)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	kaon_user_stats_print(f, st, "");
	fprintf(f, "tcbs %u\nmbufs_in_use %u\n", kn_stack_tcb_count(st),
		mp ? rte_mempool_in_use_count(mp) : 0);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void conns_to_file(const char *path, struct kn_stack *st)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	kn_stack_dump_tcbs(st, f);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void *stats_every(void *arg)
{
	struct server *sv = arg;
	double every = atof(getenv("KAON_STATS_EVERY"));
	const char *file = getenv("KAON_STATS_FILE");
	const char *conns = getenv("KAON_CONNS_FILE");
	struct kn_stack *st = kaon_user_stack();
	struct rte_mempool *mp = rte_mempool_lookup("kaon_pool_0");
	int64_t t0 = kaon_now();
	if (!(every > 0) || !st)
		return NULL;
	for (;;) {
		if (kaon_sleep_until(kaon_deadline_in((int64_t)(every * 1e9))) == -ECANCELED)
			break;
		const struct kn_stats *ks = kn_stack_stats(st);
		if (conns)
			conns_to_file(conns, st);
		if (file) {
			stats_to_file(file, st, mp);
			continue;
		}
		uint64_t drops = 0;
		for (int r = 1; r < KN_DROP_MAX; r++)
			drops += ks->drops[r];
		unsigned size = mp ? mp->size : 0, in_use = mp ? rte_mempool_in_use_count(mp) : 0;
		struct rte_eth_stats es;
		if (rte_eth_stats_get(0, &es) != 0)
			memset(&es, 0, sizeof(es));
		fprintf(stderr,
			PROG ": live %.0f s: tcbs %u mbufs_in_use %u of %u accepted %llu "
			     "closed %llu tcp_rexmt %llu drops %llu port rx %llu tx %llu "
			     "imissed %llu\n",
			(kaon_now() - t0) / 1e9, kn_stack_tcb_count(st), in_use, size,
			(unsigned long long)sv->srv.accepted, (unsigned long long)sv->c.closed,
			(unsigned long long)ks->tcp_rexmt, (unsigned long long)drops,
			(unsigned long long)es.ipackets, (unsigned long long)es.opackets,
			(unsigned long long)es.imissed);
	}
	return NULL;
}

/* On the user stack's vcpu, once it listens: the live numbers, if asked. */
static void user_listening(struct serve *srv)
{
	if (!getenv("KAON_STATS_EVERY"))
		return;
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.detached = 1;
	co.name = "stats-every";
	kaon_go(NULL, &co, stats_every, srv->owner);
}
#endif

int main(int argc, char **argv)
{
	struct serve_flags f = { .stack = "epoll", .host = "127.0.0.1", .port = -1, .nvcpus = 1 };
	long long udp_port = 0;
	int cpus[CLI_MAX_CPUS], ncpus = 0;
	static const struct option longopts[] = {
		{ "stack", required_argument, NULL, 's' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "udp-port", required_argument, NULL, 'u' },
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
		case 'u': udp_port = cli_int(PROG, "--udp-port", optarg, 1, 65535); break;
		case 'h': usage(stdout); return 0;
		default:
			cli_fail(PROG, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_fail(PROG, "unexpected argument '%s'", argv[optind]);
	kaon_addr addr;
	const kaon_engine_ops *engine;
	int user = serve_flags_check(PROG, &f, &addr, &engine);

	sigset_t sigs;
	serve_signals(&sigs);

	struct server *sv = calloc((size_t)f.nvcpus, sizeof(*sv));
	if (!sv) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	struct serve **list = calloc((size_t)f.nvcpus, sizeof(*list));
	if (!list) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	for (int i = 0; i < f.nvcpus; i++) {
		sv[i].srv = (struct serve){ .conn = echo_conn, .conn_name = "echo-conn",
					    .vcpu_name = PROG, .owner = &sv[i] };
		list[i] = &sv[i].srv;
	}
	kaon_sem_init(&udp_bound, 0);
	if (udp_port) {
		sv[0].udp = 1;
		kaon_addr_parse(&sv[0].uaddr, f.host, (uint16_t)udp_port);
	}
	int status;
#ifdef KAON_TOOLS_HAVE_USER
	if (user) {
		sv[0].srv.listening = user_listening;
		if (f.nvcpus > 1)
			status = serve_start_user_cores(PROG, list, (int)f.nvcpus, &addr, f.config,
							cpus, ncpus);
		else
			status = serve_start_user(PROG, &sv[0].srv, &addr, f.config, cpus, ncpus);
	} else
#endif
		status = serve_start(PROG, list, (int)f.nvcpus, &addr, engine, cpus, ncpus);
	if (status == 0 && udp_port)
		status = start_udp(&sv[0]);
	free(list);
	if (status) {
		for (int i = 0; i < f.nvcpus; i++) {
			if (sv[i].srv.v)
				kaon_vcpu_stop(sv[i].srv.v);
			kaon_close(sv[i].srv.ls);
		}
#ifdef KAON_TOOLS_HAVE_USER
		if (user) {
			kaon_user_stop();
			kaon_user_teardown();
		}
#endif
		free(sv);
		return status;
	}
	char a[KAON_ADDR_STRLEN];
	printf("listening on %s (stack %s)\n", kaon_addr_format(&addr, a, sizeof(a)),
	       user ? "user" : engine->name);
	if (udp_port)
		printf("udp echo on %s\n", kaon_addr_format(&sv[0].uaddr, a, sizeof(a)));
	fflush(stdout);

	int sig;
	sigwait(&sigs, &sig);

	struct counters t = { 0 };
	uint64_t accepted = 0, accept_errors = 0;
#ifdef KAON_TOOLS_HAVE_USER
	if (user)
		kaon_user_stop(); /* the cores' vcpus, when there are several */
#endif
	for (int i = 0; i < f.nvcpus; i++) {
		kaon_vcpu_stop(sv[i].srv.v);
		kaon_close(sv[i].srv.ls); /* NULL for the user stack: closed on its vcpu */
		accepted += sv[i].srv.accepted;
		accept_errors += sv[i].srv.accept_errors;
		t.closed += sv[i].c.closed + sv[i].srv.spawn_errors;
		t.bytes += sv[i].c.bytes;
		t.resets += sv[i].c.resets;
		t.conn_errors += sv[i].c.conn_errors + sv[i].srv.spawn_errors;
	}
	printf("%s: connections %llu, bytes echoed %llu, resets by peer %llu, "
	       "connection errors %llu, accept errors %llu\n",
	       strsignal(sig), (unsigned long long)accepted, (unsigned long long)t.bytes,
	       (unsigned long long)t.resets,
	       (unsigned long long)t.conn_errors, (unsigned long long)accept_errors);
	if (udp_port)
		printf("udp: datagrams %llu, bytes %llu, too big to echo %llu, errors %llu\n",
		       (unsigned long long)sv[0].u.datagrams, (unsigned long long)sv[0].u.bytes,
		       (unsigned long long)sv[0].u.too_big, (unsigned long long)sv[0].u.errors);
#ifdef KAON_TOOLS_HAVE_USER
	if (user)
		kaon_user_teardown();
#endif
	free(sv);
	return 0;
}
