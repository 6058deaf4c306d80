/* stack-loop: two kaon stacks over the in-memory link on one core.
 *
 *   - 64-byte ping-pong over 64 connections: requests per second, both ends
 *     included (every request is one client send, one server receive and
 *     reply, one client receive);
 *   - bulk transfer over one connection: Gb/s of payload;
 *   - instructions per request per side, counted by callgrind over a fixed
 *     number of requests (repeatable, unlike time): the program runs itself
 *     under `valgrind --tool=callgrind` with collection switched on only
 *     around the measured requests, and halves the per-request total.
 *   - with --idle N: timer cost against idle connections. The same ping-pong
 *     under callgrind on a simulated clock (1 ms per pass of both stacks),
 *     once with no other connection and once beside N idle ESTABLISHED
 *     connections and N/10 in TIME_WAIT: instructions per request per side
 *     and per timer pass (a kn_stack_timers() call with a timer due; only
 *     those calls are counted), side by side. An O(1) timer structure keeps
 *     both rows alike; a scan of every TCB per pass does not.
 *   - with --profile: the per-request budget by stage (rx burst, eth/ip,
 *     TCP input, socket wake, application, TCP output, tx, ...): the same
 *     callgrind run as the guard's, its output split by bench/cg_stages.py
 *     (which says why callgrind and how a function finds its stage).
 *
 *   - with --shards N: scaling over cores, one stack pair per core
 *     (stack_shards.c): one shard alone, then N at once, --rounds times.
 *
 * Usage: stack-loop [--json] [--seconds S] [--conns N] [--size B]
 *                   [--no-callgrind] [--no-offload] [--idle N]
 *                   [--profile [--requests N]] [--shards N [--rounds R]]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include <kaon/net.h>
#include <kaon/net_loop.h>

#include "stack_shards.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#define HAVE_CALLGRIND 0
#endif

#define SERVER_IP 0xc6120002u
#define CLIENT_IP 0xc6120001u
#define PORT 7

static struct {
	bool json, callgrind, offload, child, profile;
	double seconds;
	unsigned conns, size;
	uint64_t requests;  /* child mode: fixed request count */
	unsigned idle;      /* idle connections beside the ping-pong */
	bool sim_clock;     /* child mode: simulated clock */
	bool count_passes;  /* child mode: count timer passes only */
	const char *report; /* child mode: where to write the pass count */
	unsigned shards, rounds; /* --shards N: scaling over cores (stack_shards.c) */
} opt = {.callgrind = true, .offload = true, .seconds = 2.0, .conns = 64, .size = 64};

#define SIM_STEP_NS 1000000LL /* simulated time per pass of both stacks */

struct conn {
	struct kn_tcb *t;
	bool server;
	unsigned got;
};

static struct rte_mempool *pool;
static struct kn_loop *link_;
static struct kn_stack *cli, *srv;
static struct kn_tcb *listener;
static struct conn *cconns, *sconns;
static unsigned nsconns;
static uint64_t done_requests;
static bool pingpong_on;
static uint8_t msg[65536];
static int64_t sim_now = 1000LL * 1000000000LL, sim_step;
static bool measuring;
static uint64_t timer_passes;

static int64_t now_ns(void)
{
	if (opt.sim_clock)
		return sim_now;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define IDLE_PORTS 16
#define IDLE_PER_PORT 12500
static struct kn_tcb *idle_l[IDLE_PORTS], *tw_l;
static unsigned idle_up;

static void on_event(void *user, unsigned ev, int err)
{
	(void)err;
	/* Idle connections only with --idle: the ping-pong path stays as
	 * cheap as before that option, so that its count is the stack's. */
	if (opt.idle && (!user || user == &idle_l || user == &tw_l)) {
		if (!user)
			return; /* an idle connection */
		struct kn_tcb *t;
		for (unsigned i = 0; i < IDLE_PORTS; i++)
			while (idle_l[i] && (t = kn_tcp_accept(idle_l[i], NULL)) != NULL)
				idle_up++;
		/* TIME_WAIT-to-be: the server closes first. */
		while (tw_l && (t = kn_tcp_accept(tw_l, NULL)) != NULL) {
			idle_up++;
			kn_tcp_close(t);
		}
		return;
	}
	if (user == &listener) {
		struct kn_tcb *t;
		while ((t = kn_tcp_accept(listener, &sconns[nsconns])) != NULL) {
			sconns[nsconns].t = t;
			sconns[nsconns].server = true;
			nsconns++;
		}
		return;
	}
	struct conn *c = user;
	if (!(ev & KN_EV_READABLE) || !pingpong_on)
		return;
	uint8_t buf[4096];
	ssize_t n;
	while (kn_tcp_readable(c->t) && (n = kn_tcp_recv(c->t, buf, sizeof(buf))) > 0) {
		c->got += (unsigned)n;
		while (c->got >= opt.size) {
			c->got -= opt.size;
			if (!c->server)
				done_requests++;
			kn_tcp_send(c->t, msg, opt.size);
		}
	}
}

static void timers_counted(struct kn_stack *s, int64_t now)
{
	if (kn_stack_next_timer(s) > now)
		return;
	timer_passes++;
	CALLGRIND_TOGGLE_COLLECT;
	kn_stack_timers(s, now);
	CALLGRIND_TOGGLE_COLLECT;
}

static void poll_both(int64_t now)
{
	if (opt.sim_clock) {
		sim_now += sim_step;
		now = sim_now;
	}
	kn_loop_set_now(link_, now);
	if (measuring && opt.count_passes) {
		/* The timers here, counted; the poll's own call finds none due. */
		timers_counted(cli, now);
		timers_counted(srv, now);
	}
	kn_stack_poll(cli, now);
	kn_stack_poll(srv, now);
}

/* Open @n connections to @l's port (@lport): @n / 10 of them left in
 * TIME_WAIT on the server, the rest idle. The clock stands still meanwhile;
 * it then jumps past the handshakes' retransmission timeouts. */
static int idle_setup(unsigned n)
{
	int err;
	unsigned ntw = n / 10, nports = (n + IDLE_PER_PORT - 1) / IDLE_PER_PORT;
	if (nports > IDLE_PORTS)
		return -1;
	for (unsigned i = 0; i < nports; i++)
		if (!(idle_l[i] = kn_tcp_listen(srv, (uint16_t)(PORT + 1 + i), 4096, &idle_l, &err)))
			return -1;
	if (ntw && !(tw_l = kn_tcp_listen(srv, PORT + 100, 4096, &tw_l, &err)))
		return -1;
	struct kn_tcb **tw = calloc(ntw + 1, sizeof(*tw));
	int64_t step = sim_step;
	sim_step = 0;
	for (unsigned i = 0; i < n + ntw;) {
		unsigned batch = 0;
		for (; i < n + ntw && batch < 512; i++, batch++) {
			uint16_t port = i < n ? (uint16_t)(PORT + 1 + i / IDLE_PER_PORT) : PORT + 100;
			struct kn_tcb *t = kn_tcp_connect(cli, SERVER_IP, port, 0, NULL, &err);
			if (!t) {
				fprintf(stderr, "stack-loop: connect %u: %d\n", i, err);
				return -1;
			}
			if (i >= n)
				tw[i - n] = t;
		}
		for (int k = 0; k < 100 && idle_up < i; k++)
			poll_both(now_ns());
		if (idle_up < i) {
			fprintf(stderr, "stack-loop: only %u of %u idle connections up\n", idle_up, i);
			return -1;
		}
	}
	/* The server closed the TIME_WAIT ones; the client closes them too. */
	for (int k = 0; k < 10; k++)
		poll_both(now_ns());
	for (unsigned i = 0; i < ntw; i++)
		kn_tcp_close(tw[i]);
	free(tw);
	for (int k = 0; k < 10; k++)
		poll_both(now_ns());
	sim_step = step;
	sim_now += 2000000000LL;
	poll_both(now_ns());
	return 0;
}

static int eal_start(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-stackloop-%d", (int)getpid());
	char *eal[] = {"stack-loop", "--no-huge", "--no-shconf", "-m", "512", "--no-pci", prefix,
		       "--log-level=error", "--no-telemetry", "-l", "0", NULL};
	if (rte_eal_init(11, eal) < 0) {
		fprintf(stderr, "stack-loop: EAL init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	/* Without shared config DPDK keeps no file in its runtime directory,
	 * yet makes it: gone now, or every run leaves one behind. */
	rmdir(rte_eal_get_runtime_dir());
	return 0;
}

static int setup(void)
{
	if (eal_start() != 0)
		return -1;
	pool = rte_pktmbuf_pool_create("sl", 65535, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool)
		return -1;
	struct kn_loop_conf lc = {.seed = 1, .offload = opt.offload, .queue_max = 65536};
	link_ = kn_loop_create(&lc, pool);
	struct kn_stack_conf c;
	kn_stack_conf_default(&c);
	c.event = on_event;
	c.tcp.sndbuf = c.tcp.rcvbuf = 1024 * 1024;
	c.tcp.timestamps = false;  /* fewer option bytes: the loop has no loss */
	if (opt.idle) {
		c.tcp.max_tcbs = opt.idle + opt.idle / 10 + opt.conns + 64;
		c.tcp.syn_backlog = 4096;
	}
	int err;
	/* Static ARP entries (as from the config file): no resolution wait. */
	struct kn_static_arp to_srv = {.ip = SERVER_IP}, to_cli = {.ip = CLIENT_IP};
	memcpy(to_srv.mac, kn_loop_dev(link_, 1)->mac, 6);
	memcpy(to_cli.mac, kn_loop_dev(link_, 0)->mac, 6);
	c.n_static_arp = 1;
	c.ip = CLIENT_IP;
	c.netmask = 0xffffff00u;
	c.static_arp = &to_srv;
	cli = kn_stack_create(&c, kn_loop_dev(link_, 0), pool, now_ns(), &err);
	c.ip = SERVER_IP;
	c.static_arp = &to_cli;
	srv = kn_stack_create(&c, kn_loop_dev(link_, 1), pool, now_ns(), &err);
	if (!cli || !srv)
		return -1;
	listener = kn_tcp_listen(srv, PORT, 1024, &listener, &err);
	cconns = calloc(opt.conns + 1, sizeof(*cconns));
	sconns = calloc(opt.conns + 1, sizeof(*sconns));
	for (unsigned i = 0; i < opt.conns + 1; i++) {
		cconns[i].t = kn_tcp_connect(cli, SERVER_IP, PORT, 0, &cconns[i], &err);
		if (!cconns[i].t)
			return -1;
	}
	/* ARP, handshakes. */
	for (int i = 0; i < 1000 && nsconns < opt.conns + 1; i++)
		poll_both(now_ns());
	if (nsconns < opt.conns + 1) {
		fprintf(stderr, "stack-loop: only %u of %u connections up\n", nsconns, opt.conns + 1);
		return -1;
	}
	if (opt.idle && idle_setup(opt.idle) != 0)
		return -1;
	return 0;
}

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time of the last pingpong() (s): on a shared machine requests per
 * CPU-second move less with the load than requests per second do. */
static double pingpong_cpu;

/* Run ping-pong until @limit requests or @secs seconds. */
static double pingpong(uint64_t limit, double secs, uint64_t *reqs)
{
	pingpong_on = true;
	uint64_t start = done_requests;
	for (unsigned i = 0; i < opt.conns; i++)
		kn_tcp_send(cconns[i].t, msg, opt.size);
	int64_t c0 = cpu_ns();
	int64_t t0 = now_ns(), end = t0 + (int64_t)(secs * 1e9);
	int64_t now = t0;
	unsigned k = 0;
	while (done_requests - start < limit) {
		if ((++k & 63) == 0) {
			now = now_ns();
			if (now >= end)
				break;
		}
		poll_both(now);
	}
	double el = (double)(now_ns() - t0) / 1e9;
	pingpong_cpu = (double)(cpu_ns() - c0) / 1e9;
	/* Drain what is in flight so the connections are idle again. */
	pingpong_on = false;
	for (int i = 0; i < 100; i++)
		poll_both(now_ns());
	for (unsigned i = 0; i < opt.conns; i++) {
		uint8_t b[4096];
		while (kn_tcp_recv(cconns[i].t, b, sizeof(b)) > 0)
			;
		cconns[i].got = 0;
	}
	for (unsigned i = 0; i < nsconns; i++) {
		uint8_t b[4096];
		while (kn_tcp_recv(sconns[i].t, b, sizeof(b)) > 0)
			;
		sconns[i].got = 0;
	}
	for (int i = 0; i < 100; i++)
		poll_both(now_ns());
	*reqs = done_requests - start;
	return el;
}

/* Bulk transfer on the spare connection. @return Gb/s. */
static double bulk(double secs)
{
	struct kn_tcb *tx = cconns[opt.conns].t;
	struct kn_tcb *rx = NULL;
	uint32_t lport;
	uint16_t lp;
	kn_tcp_endpoints(tx, &lport, &lp, NULL, NULL);
	for (unsigned i = 0; i < nsconns; i++) {
		uint16_t rp;
		kn_tcp_endpoints(sconns[i].t, NULL, NULL, NULL, &rp);
		if (rp == lp)
			rx = sconns[i].t;
	}
	if (!rx)
		return 0;
	uint64_t bytes = 0;
	int64_t t0 = now_ns(), end = t0 + (int64_t)(secs * 1e9), now = t0;
	unsigned k = 0;
	while (now < end) {
		while (kn_tcp_send(tx, msg, sizeof(msg)) > 0)
			;
		poll_both(now);
		int e;
		struct rte_mbuf *m;
		while ((m = kn_tcp_recv_mbuf(rx, &e)) != NULL) {
			bytes += m->pkt_len;
			rte_pktmbuf_free(m);
		}
		if ((++k & 15) == 0)
			now = now_ns();
	}
	double el = (double)(now_ns() - t0) / 1e9;
	return (double)bytes * 8 / el / 1e9;
}

/* Run ourselves under callgrind over @n requests (beside @idle idle
 * connections, on the simulated clock if @sim; counting only timer passes
 * if @passes, whose number goes to *@npasses). @return the instruction
 * total, or 0. */
static unsigned long long callgrind_run(const char *self, uint64_t n, unsigned idle, bool sim,
					bool passes, unsigned long long *npasses, const char *keep)
{
	char out[256], rep[64];
	snprintf(out, sizeof(out), "%s", keep ? keep : "");
	if (!keep)
		snprintf(out, sizeof(out), "/tmp/kaon-stackloop-cg.%d", (int)getpid());
	snprintf(rep, sizeof(rep), "/tmp/kaon-stackloop-passes.%d", (int)getpid());
	char nbuf[32], cbuf[32], sbuf[32], ibuf[32];
	snprintf(nbuf, sizeof(nbuf), "%llu", (unsigned long long)n);
	snprintf(cbuf, sizeof(cbuf), "%u", opt.conns);
	snprintf(sbuf, sizeof(sbuf), "%u", opt.size);
	snprintf(ibuf, sizeof(ibuf), "%u", idle);
	char outarg[300];
	snprintf(outarg, sizeof(outarg), "--callgrind-out-file=%s", out);
	unlink(rep);
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		/* Keep valgrind's chatter off our output. */
		if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("valgrind", "valgrind", "--tool=callgrind", "--collect-atstart=no",
		       "--instr-atstart=no", outarg, self, "--callgrind-child", "--requests", nbuf,
		       "--conns", cbuf, "--size", sbuf, opt.offload ? "--offload" : "--no-offload",
		       "--idle", ibuf, sim ? "--sim-clock" : "--real-clock",
		       passes ? "--count-passes" : "--count-all", "--report", rep, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 0;
	FILE *f = fopen(out, "r");
	if (!f)
		return 0;
	char line[512];
	unsigned long long total = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "summary: %llu", &total) == 1 || sscanf(line, "totals: %llu", &total) == 1)
			continue;
	}
	fclose(f);
	if (!keep)
		unlink(out);
	if (npasses) {
		*npasses = 0;
		f = fopen(rep, "r");
		if (f) {
			if (fscanf(f, "%llu", npasses) != 1)
				*npasses = 0;
			fclose(f);
		}
	}
	unlink(rep);
	return total;
}

/* @return instructions per request per side, or -1. */
static double callgrind_measure(const char *self)
{
	uint64_t n = 20000;
	unsigned long long total = callgrind_run(self, n, 0, false, false, NULL, NULL);
	return total ? (double)total / (double)n / 2.0 : -1;
}

/* The per-request budget by stage: the guard's callgrind run, split by
 * bench/cg_stages.py. */
static int profile(const char *self)
{
	uint64_t n = opt.requests ? opt.requests : 40000;
	char out[128];
	snprintf(out, sizeof(out), "/tmp/kaon-stackloop-profile.%d", (int)getpid());
	unsigned long long total = callgrind_run(self, n, 0, false, false, NULL, out);
	if (!total) {
		fprintf(stderr, "stack-loop: callgrind run failed\n");
		unlink(out);
		return 1;
	}
	char nbuf[32];
	snprintf(nbuf, sizeof(nbuf), "%llu", (unsigned long long)n);
	pid_t pid = fork();
	if (pid == 0) {
		const char *script = KAON_BENCH_DIR "/cg_stages.py";
		if (opt.json)
			execlp("python3", "python3", script, out, "--requests", nbuf, "--json",
			       (char *)NULL);
		else
			execlp("python3", "python3", script, out, "--requests", nbuf, "--top", "25",
			       (char *)NULL);
		_exit(127);
	}
	int st = 1;
	if (pid > 0)
		waitpid(pid, &st, 0);
	unlink(out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* Timer cost with 0 and opt.idle idle connections, on the simulated clock. */
static int idle_compare(const char *self)
{
	uint64_t n = 20000;
	unsigned rows[2] = {0, opt.idle};
	double ipr[2], ipp[2];
	unsigned long long np[2];
	for (int r = 0; r < 2; r++) {
		unsigned long long all = callgrind_run(self, n, rows[r], true, false, NULL, NULL);
		unsigned long long tim = callgrind_run(self, n, rows[r], true, true, &np[r], NULL);
		if (!all || !tim || !np[r]) {
			fprintf(stderr, "stack-loop: callgrind run failed (idle %u)\n", rows[r]);
			return 1;
		}
		ipr[r] = (double)all / (double)n / 2.0;
		ipp[r] = (double)tim / (double)np[r];
	}
	if (opt.json) {
		printf("{\"conns\": %u, \"size\": %u, \"requests\": %llu, \"rows\": [", opt.conns,
		       opt.size, (unsigned long long)n);
		for (int r = 0; r < 2; r++)
			printf("%s{\"idle\": %u, \"time_wait\": %u, "
			       "\"instructions_per_request_per_side\": %.0f, \"timer_passes\": %llu, "
			       "\"instructions_per_timer_pass\": %.0f}",
			       r ? ", " : "", rows[r], rows[r] / 10, ipr[r], np[r], ipp[r]);
		printf("]}\n");
	} else {
		printf("ping-pong %u B x %u conns, %llu requests, simulated clock (1 ms per pass), "
		       "callgrind:\n", opt.size, opt.conns, (unsigned long long)n);
		printf("%10s %10s %14s %14s %14s\n", "idle", "time_wait", "instr/req/side",
		       "timer passes", "instr/pass");
		for (int r = 0; r < 2; r++)
			printf("%10u %10u %14.0f %14llu %14.0f\n", rows[r], rows[r] / 10, ipr[r], np[r],
			       ipp[r]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			opt.json = true;
		else if (!strcmp(argv[i], "--no-callgrind"))
			opt.callgrind = false;
		else if (!strcmp(argv[i], "--no-offload"))
			opt.offload = false;
		else if (!strcmp(argv[i], "--offload"))
			opt.offload = true;
		else if (!strcmp(argv[i], "--callgrind-child"))
			opt.child = true;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			opt.seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			opt.conns = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			opt.size = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
			opt.requests = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
			opt.idle = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sim-clock"))
			opt.sim_clock = true;
		else if (!strcmp(argv[i], "--real-clock"))
			opt.sim_clock = false;
		else if (!strcmp(argv[i], "--count-passes"))
			opt.count_passes = true;
		else if (!strcmp(argv[i], "--count-all"))
			opt.count_passes = false;
		else if (!strcmp(argv[i], "--profile"))
			opt.profile = true;
		else if (!strcmp(argv[i], "--report") && i + 1 < argc)
			opt.report = argv[++i];
		else if (!strcmp(argv[i], "--shards") && i + 1 < argc)
			opt.shards = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			opt.rounds = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--json] [--seconds S] [--conns N] [--size B] "
					"[--no-callgrind] [--no-offload] [--idle N] "
					"[--profile [--requests N]] [--shards N [--rounds R]]\n", argv[0]);
			return 2;
		}
	}
	if (opt.conns == 0 || opt.size == 0 || opt.size > sizeof(msg))
		return 2;
	if (opt.profile && !opt.child) {
		if (!HAVE_CALLGRIND) {
			fprintf(stderr, "stack-loop: --profile needs valgrind/callgrind.h\n");
			return 1;
		}
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return 1;
		self[n] = 0;
		return profile(self);
	}
	if (opt.idle && !opt.child) {
		/* The comparison runs only under callgrind, in children. */
		if (!HAVE_CALLGRIND) {
			fprintf(stderr, "stack-loop: --idle needs valgrind/callgrind.h\n");
			return 1;
		}
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return 1;
		self[n] = 0;
		return idle_compare(self);
	}
	if (opt.shards) {
		/* The EAL only: each shard makes its own pool and stacks. */
		if (eal_start() != 0)
			return 1;
		return stack_loop_shards(opt.shards, opt.rounds ? opt.rounds : 5, opt.seconds,
					 opt.conns, opt.size, opt.offload, opt.json);
	}
	sim_step = SIM_STEP_NS;
	if (setup() != 0)
		return 1;
	uint64_t reqs;
	if (opt.child) {
		/* Warm up, then count exactly opt.requests requests. */
		pingpong(opt.requests, 1e9, &reqs);
		CALLGRIND_START_INSTRUMENTATION;
		if (!opt.count_passes)
			CALLGRIND_TOGGLE_COLLECT;
		measuring = true;
		pingpong(opt.requests, 1e9, &reqs);
		measuring = false;
		if (!opt.count_passes)
			CALLGRIND_TOGGLE_COLLECT;
		if (opt.report) {
			FILE *f = fopen(opt.report, "w");
			if (f) {
				fprintf(f, "%llu\n", (unsigned long long)timer_passes);
				fclose(f);
			}
		}
		return reqs == opt.requests ? 0 : 1;
	}
	pingpong(UINT64_MAX, 0.2, &reqs);  /* warm-up */
	double el = pingpong(UINT64_MAX, opt.seconds, &reqs);
	double rps = (double)reqs / el;
	double rpcpu = pingpong_cpu > 0 ? (double)reqs / pingpong_cpu : 0;
	double gbps = bulk(opt.seconds);
	double ipr = -1;
	if (opt.callgrind && HAVE_CALLGRIND) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			ipr = callgrind_measure(self);
		}
	}
	if (opt.json) {
		char ibuf[32] = "null";
		if (ipr >= 0)
			snprintf(ibuf, sizeof(ibuf), "%.0f", ipr);
		printf("{\"requests_per_sec\": %.0f, \"requests_per_cpu_sec\": %.0f, "
		       "\"gbps\": %.2f, \"instructions_per_request_per_side\": %s, "
		       "\"conns\": %u, \"size\": %u, \"offload\": %s}\n",
		       rps, rpcpu, gbps, ibuf, opt.conns, opt.size, opt.offload ? "true" : "false");
	} else {
		printf("ping-pong %u B x %u conns: %.0f requests/s, %.0f per CPU-second\n", opt.size,
		       opt.conns, rps, rpcpu);
		printf("bulk: %.2f Gb/s\n", gbps);
		if (ipr >= 0)
			printf("instructions per request per side (callgrind): %.0f\n", ipr);
		else
			printf("instructions per request per side: n/a (valgrind not available)\n");
	}
	return 0;
}
