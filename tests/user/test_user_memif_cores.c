/* SPDX-License-Identifier: MIT */
/*
 * Many cores over a real PMD: two processes joined by a memif port with two
 * queue pairs, each running two kaon cores (kaon_user_group_start). memif
 * cannot hash, so both ends steer in software with the same key and table:
 * a flow's frames reach the owning core on each side, and no frame is
 * handed over. The client's coroutines on both cores open 240 connections
 * (outgoing connections from every core), each echoed content-checked by
 * the server, whose listen on core 0 opened the listener on core 1 too.
 * No root: memif's socket is abstract; exit 77 if the PMD is missing.
 *
 * The end: DPDK 22.11's memif PMD tears a link down (unmapping its rings)
 * on its interrupt thread while the port's queues may still be polled, so
 * a peer that disconnects under a polling core can crash the process in
 * the PMD's receive (2 runs in 10 did, the server core 1 in rx_burst).
 * Neither end may be polling when the other closes: the client holds its
 * cores (a coroutine on each blocks its vcpu's thread), tells the server,
 * which stops its group (cores first, then the port) and answers; the
 * client then exits without polling again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "kaon/dpdk.h"
#include "kaon/sock.h"
#include "kaon/user.h"
#include "sock/user_impl.h"

#define CORES 2
#define CONNS_PER_CORE 120
#define PORT 7000
#define MS (1000000LL)

static char sock_path[108];

static int eal_up(const char *role, kaon_config *c, const char *addr)
{
	kaon_config_defaults(c);
	c->dpdk.no_huge = 1;
	c->dpdk.memory_mb = 256;
	c->dpdk.log_level = 1;
	snprintf(c->dpdk.file_prefix, sizeof(c->dpdk.file_prefix), "kaon-mcmemif-%s-%d", role,
		 (int)getpid());
	snprintf(c->dpdk.vdev[0], sizeof(c->dpdk.vdev[0]), "net_memif0,role=%s,socket=%s,id=0",
		 role, sock_path);
	c->dpdk.n_vdev = 1;
	c->port0.addr = inet_addr(addr);
	c->port0.has_addr = 1;
	c->port0.netmask = htonl(0xffffff00u);
	c->dpdk.nb_mbufs = 4095;
	c->dpdk.cores = CORES;
	c->tcp.time_wait_ms = 10;
	c->tcp.delayed_ack_us = 0;
	snprintf(c->path, sizeof(c->path), "memif-%s", role);
	char err[256];
	if (kaon_dpdk_eal_init(c, role, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", role, err);
		return -1;
	}
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "%s: no memif port (PMD missing?)\n", role);
		return 77;
	}
	return 0;
}

static void *port_stats(void *arg)
{
	kaon_dpdk_stats_get(kaon__user_engine_self()->port, arg);
	return NULL;
}

struct on_args {
	kaon_vcpu *v;
	kaon_fn fn;
	void *arg;
	void *res;
};

static void *run_on_body(void *p)
{
	struct on_args *a = p;
	kaon_co *co;
	if (kaon_go_on(a->v, &co, NULL, a->fn, a->arg) < 0)
		return (void *)(intptr_t)-1;
	kaon_join(co, KAON_FOREVER, &a->res);
	return NULL;
}

static void *run_on(kaon_vcpu *v, kaon_fn fn, void *arg)
{
	struct on_args a = { v, fn, arg, NULL };
	kaon_run(NULL, run_on_body, &a, NULL);
	return a.res;
}

/* ---------------------------------------------------------------- server */

static _Atomic int stop_servers;
static _Atomic int accepted[CORES];

static void *echo_conn(void *arg)
{
	kaon_sock *c = arg;
	static __thread char buf[16384];
	for (;;) {
		ssize_t n = kaon_recv(c, buf, sizeof(buf), kaon_deadline_in(10000 * MS));
		if (n <= 0)
			break;
		if (kaon_write_full(c, buf, (size_t)n, kaon_deadline_in(10000 * MS)) != n)
			break;
	}
	kaon_close(c);
	return NULL;
}

static void *echo_server(void *arg)
{
	(void)arg;
	unsigned core = kaon_user_core();
	if (core == 1) /* core 0's listen opens core 1's listener first */
		kaon_sleep_until(kaon_deadline_in(200 * MS));
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", PORT);
	kaon_sock *ls;
	int rc = kaon_listen(&ls, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	while (!atomic_load(&stop_servers)) {
		kaon_sock *c;
		rc = kaon_accept(ls, &c, NULL, kaon_deadline_in(20 * MS));
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0)
			break;
		atomic_fetch_add(&accepted[core], 1);
		kaon_go(NULL, &o, echo_conn, c);
	}
	kaon_close(ls);
	return (void *)(intptr_t)(rc == -ETIMEDOUT ? 0 : rc);
}

/* ---------------------------------------------------------------- client */

static uint8_t pattern(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;
	return (uint8_t)(x >> 13 ^ x);
}

struct job {
	size_t bytes;
	uint32_t seed;
	int result;
};

static void *echo_client(void *arg)
{
	struct job *j = arg;
	kaon_addr a;
	kaon_addr_parse(&a, "198.18.0.2", PORT);
	kaon_sock *c;
	int64_t until = kaon_deadline_in(10000 * MS);
	int rc;
	while ((rc = kaon_connect(&c, &a, NULL, until)) == -ECONNREFUSED && kaon_now() < until)
		kaon_sleep_until(kaon_deadline_in(5 * MS));
	if (rc < 0) {
		j->result = rc;
		return NULL;
	}
	uint8_t *out = malloc(j->bytes), *in = malloc(j->bytes);
	for (size_t i = 0; i < j->bytes; i++)
		out[i] = pattern(j->seed, i);
	ssize_t n = kaon_write_full(c, out, j->bytes, kaon_deadline_in(10000 * MS));
	ssize_t m = n == (ssize_t)j->bytes ? kaon_read_full(c, in, j->bytes,
							     kaon_deadline_in(10000 * MS)) : -1;
	j->result = m != (ssize_t)j->bytes ? (m < 0 ? (int)m : -EPIPE)
					   : memcmp(in, out, j->bytes) ? -EBADMSG : 0;
	kaon_close(c);
	free(in);
	free(out);
	return NULL;
}

static void *client_batch(void *arg)
{
	struct job *jobs = arg;
	kaon_co *co[CONNS_PER_CORE];
	for (int i = 0; i < CONNS_PER_CORE; i++)
		kaon_go(&co[i], NULL, echo_client, &jobs[i]);
	int bad = 0;
	for (int i = 0; i < CONNS_PER_CORE; i++) {
		kaon_join(co[i], KAON_FOREVER, NULL);
		if (jobs[i].result && bad++ < 3)
			fprintf(stderr, "client core %u conn %d (%zu bytes): %s\n", kaon_user_core(), i,
				jobs[i].bytes, strerror(-jobs[i].result));
	}
	return (void *)(intptr_t)bad;
}

struct batch_run {
	struct kaon_user_group *g;
	struct job (*jobs)[CONNS_PER_CORE];
	int bad;
};

/* From a plain vcpu: each core's batch on that core, all at once. */
/* Keeps its vcpu's thread blocked for good: the core polls no more. */
static _Atomic int held;
static void *hold_core(void *arg)
{
	(void)arg;
	atomic_fetch_add(&held, 1);
	for (;;)
		pause();
	return NULL;
}

static void *batches(void *p)
{
	struct batch_run *b = p;
	kaon_co *co[CORES];
	for (unsigned i = 0; i < CORES; i++)
		if (kaon_go_on(kaon_user_group_vcpu(b->g, i), &co[i], NULL, client_batch,
			       b->jobs[i]) < 0)
			co[i] = NULL, b->bad++;
	for (unsigned i = 0; i < CORES; i++) {
		void *r = NULL;
		if (co[i] && kaon_join(co[i], KAON_FOREVER, &r) == 0)
			b->bad += (int)(intptr_t)r;
	}
	return NULL;
}

/* One byte from @fd within @ms, or 0. */
static char read_byte(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b = 0;
	if (poll(&p, 1, ms) != 1 || read(fd, &b, 1) != 1)
		return 0;
	return b;
}

static int client(int ready_fd, int done_fd)
{
	char b;
	if (read(ready_fd, &b, 1) != 1)
		return 1;
	if (b != 'y')
		return 77;
	static kaon_config c;
	int rc = eal_up("client", &c, "198.18.0.1");
	if (rc)
		return rc < 0 ? 1 : rc;
	struct kaon_user_group *g;
	if (kaon_user_group_start(&g, &c, 0, NULL, NULL, 0) < 0)
		return 1;
	static struct job jobs[CORES][CONNS_PER_CORE];
	for (unsigned i = 0; i < CORES; i++)
		for (int k = 0; k < CONNS_PER_CORE; k++)
			jobs[i][k] = (struct job){ 1 + (size_t)(k * 997 + i * 31) % 30000,
						   i * 1000u + (unsigned)k, 1 };
	struct batch_run br = { g, jobs, 0 };
	kaon_run(NULL, batches, &br, NULL);
	/* Every flow's replies came back to the core that opened it. */
	for (unsigned i = 0; i < CORES; i++) {
		struct kaon_dpdk_stats st;
		run_on(kaon_user_group_vcpu(g, i), port_stats, &st);
		fprintf(stderr, "client core %u: rx %llu tx %llu handed out %llu in %llu arp %llu\n",
			i, (unsigned long long)st.rx, (unsigned long long)st.tx,
			(unsigned long long)st.handoff_out, (unsigned long long)st.handoff_in,
			(unsigned long long)st.handoff_arp);
		if (st.handoff_out || st.rx == 0)
			br.bad++;
	}
	/* Let the closes finish, then hold every core and let the server go
	 * first (see the top). The process exits with its cores held: the
	 * server's disconnect is taken down by the PMD while nothing polls. */
	usleep(300 * 1000);
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	for (unsigned i = 0; i < CORES; i++)
		if (kaon_go_on(kaon_user_group_vcpu(g, i), NULL, &o, hold_core, NULL) < 0)
			return 1;
	for (int t = 0; atomic_load(&held) < CORES; t++) {
		if (t > 10000)
			return 1;
		usleep(1000);
	}
	if (write(done_fd, br.bad ? "b" : "d", 1) != 1)
		return 1;
	return read_byte(ready_fd, 30000) == 'c' && !br.bad ? 0 : 1;
}

/*
 * --unequal: a server port of CORES queue pairs, a client of one. The
 * client's one ring is accepted and the link comes up; the server must
 * refuse to start, saying why, rather than lose the frames it would send
 * on its second queue. Ports are opened directly, with a long link wait, so
 * that the server is still opening when the client connects.
 */
static void rm_runtime_dirs(pid_t client_pid)
{
	char dir[512];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *run = geteuid() == 0 ? "/var/run" : xdg ? xdg : "/tmp";
	snprintf(dir, sizeof(dir), "rm -rf %s/dpdk/kaon-mcmemif-client-%d %s/dpdk/kaon-mcmemif-server-%d",
		 run, (int)client_pid, run, (int)getpid());
	if (system(dir) != 0)
		fprintf(stderr, "could not remove the DPDK runtime directories\n");
}

static int unequal_client(int done_fd)
{
	/* A memif server that has not started its port yet turns a client
	 * away for good (DPDK 22.11's client does not try again): start when
	 * the server says its port is starting. */
	if (read_byte(done_fd, 30000) != 'g')
		return 1;
	static kaon_config c;
	int rc = eal_up("client", &c, "198.18.0.1");
	if (rc)
		return rc < 0 ? 1 : rc;
	struct kaon_dpdk *q[1];
	char err[512] = "";
	rc = kaon_dpdk_port_open_mq(q, 1, &c, 0, 20000, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "client: %s\n", err);
		return 1;
	}
	fprintf(stderr, "client with 1 queue pair: link %s\n", kaon_dpdk_link_up(q[0]) ? "up" : "down");
	/* Stay, not polling, until the server has its answer (the PMD may not
	 * see its peer go while it reads). */
	return read_byte(done_fd, 30000) == 'x' ? 0 : 1;
}

struct server_open {
	kaon_config *c;
	struct kaon_dpdk *q[CORES];
	char err[512];
	int rc;
};

static void *server_open(void *arg)
{
	struct server_open *so = arg;
	so->rc = kaon_dpdk_port_open_mq(so->q, CORES, so->c, 0, 20000, so->err, sizeof(so->err));
	return NULL;
}

static int unequal_main(void)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[1]);
		_exit(unequal_client(pfd[0]));
	}
	close(pfd[0]);
	static kaon_config c;
	int rc = eal_up("server", &c, "198.18.0.2");
	if (rc) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return rc < 0 ? 1 : rc;
	}
	struct server_open so = { .c = &c };
	pthread_t th;
	if (pthread_create(&th, NULL, server_open, &so) != 0)
		return 1;
	/* The last pool is made just before the port starts: a moment
	 * later the client may come. */
	for (int t = 0; t < 20000 && !rte_mempool_lookup("kaon_pool_0_1"); t++)
		usleep(1000);
	usleep(100000);
	if (write(pfd[1], "g", 1) != 1)
		return 1;
	pthread_join(th, NULL);
	rc = so.rc;
	struct kaon_dpdk **q = so.q;
	const char *err = so.err;
	fprintf(stderr, "server with %d queue pairs, client with 1: %s (%s)\n", CORES,
		rc == -EINVAL ? "refused" : "not refused", err);
	int bad = rc != -EINVAL || !strstr(err, "the peer has 1 queue pair, this end 2");
	if (rc == 0)
		for (unsigned i = 0; i < CORES; i++)
			kaon_dpdk_port_close(q[i]);
	if (write(pfd[1], "x", 1) != 1)
		bad = 1;
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		bad = 77;
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad = 1;
	kaon_dpdk_eal_cleanup();
	unlink(sock_path);
	rm_runtime_dirs(pid);
	return bad;
}

int main(int argc, char **argv)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/kaon-mc-memif-%d.sock", (int)getpid());
	if (argc > 1 && !strcmp(argv[1], "--unequal"))
		return unequal_main();
	int pfd[2], qfd[2]; /* server -> client, client -> server */
	if (pipe(pfd) < 0 || pipe(qfd) < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[1]);
		close(qfd[0]);
		_exit(client(pfd[0], qfd[1]));
	}
	close(pfd[0]);
	close(qfd[1]);
	static kaon_config c;
	int rc = eal_up("server", &c, "198.18.0.2");
	if (rc) {
		if (write(pfd[1], "n", 1) != 1)
			perror("write");
		waitpid(pid, NULL, 0);
		return rc < 0 ? 1 : rc;
	}
	struct kaon_user_group *g;
	/* The link comes up only when the client connects: no wait for it. */
	if (kaon_user_group_start(&g, &c, 0, NULL, NULL, 0) < 0) {
		if (write(pfd[1], "n", 1) != 1)
			perror("write");
		waitpid(pid, NULL, 0);
		return 1;
	}
	kaon_co *srv[CORES];
	for (unsigned i = 0; i < CORES; i++)
		kaon_go_on(kaon_user_group_vcpu(g, i), &srv[i], NULL, echo_server, NULL);
	if (write(pfd[1], "y", 1) != 1)
		return 1;
	/* The client's word that it is done and holds its cores ('d', or 'b'
	 * when something failed); nothing (EOF) if it exited first. */
	char done = read_byte(qfd[0], 90000);
	atomic_store(&stop_servers, 1);
	int bad = done != 'd';
	for (unsigned i = 0; i < CORES; i++) {
		struct kaon_dpdk_stats st;
		run_on(kaon_user_group_vcpu(g, i), port_stats, &st);
		fprintf(stderr, "server core %u: accepted %d, rx %llu handed out %llu in %llu arp %llu\n",
			i, atomic_load(&accepted[i]), (unsigned long long)st.rx,
			(unsigned long long)st.handoff_out, (unsigned long long)st.handoff_in,
			(unsigned long long)st.handoff_arp);
		if (atomic_load(&accepted[i]) == 0 || st.handoff_out)
			bad = 1;
	}
	if (atomic_load(&accepted[0]) + atomic_load(&accepted[1]) != CORES * CONNS_PER_CORE)
		bad = 1;
	kaon_user_group_stop(g);
	if (done && write(pfd[1], "c", 1) != 1)
		bad = 1;
	int status = 0;
	int64_t until = kaon_now() + 30000 * MS;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (kaon_now() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(10000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		fprintf(stderr, "skipped: the client's memif port did not come up\n");
		bad = 77;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !done) {
		if (!done)
			fprintf(stderr, "the client did not finish and hold its cores in 90 s\n");
		bad = 1;
	}
	kaon_dpdk_eal_cleanup();
	unlink(sock_path);
	/* DPDK leaves its runtime directories behind (the client's exited
	 * with its cores held, without even DPDK's cleanup). */
	rm_runtime_dirs(pid);
	if (!bad)
		fprintf(stderr, "ok: %d connections echoed over memif, both cores, no hand-off\n",
			CORES * CONNS_PER_CORE);
	return bad;
}
