/* SPDX-License-Identifier: MIT */
/*
 * stack-loop --shards N: how kaon's stack scales over cores when nothing is
 * shared. N shards, each a pair of stacks over its own in-memory link with
 * its own mempool, each run by its own thread pinned to its own CPU: the
 * shape of one stack per core in one process, without a NIC. Each round
 * runs one shard alone, then all N at once, for the same time; the ratio of
 * the N-shard total to the lone shard is the scaling, measured side by side
 * so that the load of the machine moves both alike. The lone shard is each
 * shard alone on its own CPU in turn (averaged): on a shared machine one CPU
 * is often busier than another.
 *
 * Two figures separate what kaon does from what the machine does. The CPU
 * share (thread CPU time over wall time) says how much of its CPU each
 * shard got: on a machine other work loads, the N-shard ratio falls with
 * it, whatever the stack does. The control runs shard 0 beside N-1
 * threads that only spin on registers (no memory, nothing shared): what a
 * busy neighbour core costs on this machine (clock, SMT siblings of the
 * host, the hypervisor), against which "per CPU-second together/alone"
 * is read; a shard that slowed its neighbours through a shared cache line
 * would fall below the control, not only below 1.
 */
#include "stack_shards.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <kaon/net.h>
#include <kaon/net_loop.h>

#define SERVER_IP 0xc6120002u
#define CLIENT_IP 0xc6120001u
#define PORT 7
#define MAX_SHARDS 64
#define MAX_ROUNDS 64

struct shard;

/* Every event's user pointer: a connection, or the shard (its listener). */
struct sconn {
	struct shard *sh;
	struct kn_tcb *t;
	bool server;
	unsigned got;
};

struct shard {
	struct sconn self;           /* first: the listener's user pointer */
	unsigned id, size, conns;
	struct rte_mempool *pool;
	struct kn_loop *link;
	struct kn_stack *cli, *srv;
	struct kn_tcb *listener;
	struct sconn *cc, *sc;
	unsigned nsc;
	uint64_t done;
	double secs, rps;
	double cpu_rps;              /* requests per second of this thread's own CPU time */
	int cpu;
	bool spin;                   /* the control: spin on registers instead */
	double share;                /* CPU time over wall time of the last run */
	pthread_t thread;
	uint8_t msg[4096];
} __attribute__((aligned(64)));

static _Atomic int go;

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_event(void *user, unsigned ev, int err)
{
	(void)err;
	struct sconn *c = user;
	if (!c)
		return;
	struct shard *sh = c->sh;
	if (c == &sh->self) {
		struct kn_tcb *t;
		while ((t = kn_tcp_accept(sh->listener, &sh->sc[sh->nsc])) != NULL) {
			sh->sc[sh->nsc] = (struct sconn){ .sh = sh, .t = t, .server = true };
			sh->nsc++;
		}
		return;
	}
	if (!(ev & KN_EV_READABLE))
		return;
	uint8_t buf[4096];
	ssize_t n;
	while (kn_tcp_readable(c->t) && (n = kn_tcp_recv(c->t, buf, sizeof(buf))) > 0) {
		c->got += (unsigned)n;
		while (c->got >= sh->size) {
			c->got -= sh->size;
			if (!c->server)
				sh->done++;
			kn_tcp_send(c->t, sh->msg, sh->size);
		}
	}
}

static void poll_pair(struct shard *sh, int64_t now)
{
	kn_loop_set_now(sh->link, now);
	kn_stack_poll(sh->cli, now);
	kn_stack_poll(sh->srv, now);
}

static int shard_setup(struct shard *sh, int offload)
{
	char name[32];
	snprintf(name, sizeof(name), "shard%u", sh->id);
	sh->pool = rte_pktmbuf_pool_create(name, 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	if (!sh->pool)
		return -1;
	struct kn_loop_conf lc = { .seed = 1 + sh->id, .offload = offload, .queue_max = 16384 };
	sh->link = kn_loop_create(&lc, sh->pool);
	if (!sh->link)
		return -1;
	struct kn_stack_conf c;
	kn_stack_conf_default(&c);
	c.event = on_event;
	c.tcp.timestamps = false;
	struct kn_static_arp to_srv = { .ip = SERVER_IP }, to_cli = { .ip = CLIENT_IP };
	memcpy(to_srv.mac, kn_loop_dev(sh->link, 1)->mac, 6);
	memcpy(to_cli.mac, kn_loop_dev(sh->link, 0)->mac, 6);
	c.n_static_arp = 1;
	c.netmask = 0xffffff00u;
	int err;
	c.ip = CLIENT_IP;
	c.static_arp = &to_srv;
	sh->cli = kn_stack_create(&c, kn_loop_dev(sh->link, 0), sh->pool, now_ns(), &err);
	c.ip = SERVER_IP;
	c.static_arp = &to_cli;
	sh->srv = kn_stack_create(&c, kn_loop_dev(sh->link, 1), sh->pool, now_ns(), &err);
	if (!sh->cli || !sh->srv)
		return -1;
	sh->self.sh = sh;
	sh->listener = kn_tcp_listen(sh->srv, PORT, 1024, &sh->self, &err);
	sh->cc = calloc(sh->conns, sizeof(*sh->cc));
	sh->sc = calloc(sh->conns, sizeof(*sh->sc));
	if (!sh->listener || !sh->cc || !sh->sc)
		return -1;
	for (unsigned i = 0; i < sh->conns; i++) {
		sh->cc[i].sh = sh;
		sh->cc[i].t = kn_tcp_connect(sh->cli, SERVER_IP, PORT, 0, &sh->cc[i], &err);
		if (!sh->cc[i].t)
			return -1;
	}
	for (int i = 0; i < 1000 && sh->nsc < sh->conns; i++)
		poll_pair(sh, now_ns());
	if (sh->nsc < sh->conns)
		return -1;
	/* One message in flight per connection, from now on for good: a
	 * round picks the ping-pong up where the last one left it. */
	for (unsigned i = 0; i < sh->conns; i++)
		kn_tcp_send(sh->cc[i].t, sh->msg, sh->size);
	return 0;
}

/* The control's neighbour: busy on registers only, touching no memory
 * another core reads or writes. */
static void spin_until(int64_t end)
{
	uint64_t x = 1;
	while (now_ns() < end)
		for (int k = 0; k < 1024; k++)
			x = (x * 6364136223846793005ULL + 1442695040888963407ULL) ^ (x >> 29);
	__asm__ volatile("" : : "r"(x));
}

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *shard_run(void *p)
{
	struct shard *sh = p;
	/* An lcore id of its own: the pool's per-lcore cache. */
	int reg = rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() == 0;
	pin(sh->cpu);
	while (!atomic_load(&go))
		;
	uint64_t start = sh->done;
	int64_t c0 = thread_cpu_ns();
	int64_t t0 = now_ns(), end = t0 + (int64_t)(sh->secs * 1e9), now = t0;
	if (sh->spin)
		spin_until(end);
	for (unsigned k = 0; !sh->spin; k++) {
		if ((k & 63) == 0 && (now = now_ns()) >= end)
			break;
		poll_pair(sh, now);
	}
	now = now_ns();
	int64_t cpu = thread_cpu_ns() - c0;
	sh->rps = (double)(sh->done - start) / ((double)(now - t0) / 1e9);
	sh->cpu_rps = (double)(sh->done - start) / ((double)cpu / 1e9);
	sh->share = (double)cpu / (double)(now - t0);
	if (reg)
		rte_thread_unregister();
	return NULL;
}

/* Run shards [0, n) of @p sh at once for @p secs; @return their total req/s. */
static double round_of(struct shard *sh, unsigned n, double secs)
{
	atomic_store(&go, 0);
	for (unsigned i = 0; i < n; i++) {
		sh[i].secs = secs;
		pthread_create(&sh[i].thread, NULL, shard_run, &sh[i]);
	}
	atomic_store(&go, 1);
	double total = 0;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(sh[i].thread, NULL);
		total += sh[i].rps;
	}
	return total;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median, min and max of v[0..n) (sorted in place). */
struct mmm {
	double min, median, max;
};

static struct mmm mmm_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return (struct mmm){ v[0], v[n / 2], v[n - 1] };
}

struct setup_arg {
	struct shard *sh;
	int offload, rc;
	pthread_barrier_t *all_set;
};

/* Each shard is built by a thread on its own CPU, as each kaon core
 * builds its own stack: its memory is first touched there and comes from
 * that thread's malloc arena, not from one arena where the last block of
 * one shard's and the first of the next share a cache line. The threads
 * stay until all are built, so that no two share an arena. */
static void *setup_run(void *p)
{
	struct setup_arg *a = p;
	int reg = rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() == 0;
	pin(a->sh->cpu);
	a->rc = shard_setup(a->sh, a->offload);
	if (reg)
		rte_thread_unregister();
	pthread_barrier_wait(a->all_set);
	return NULL;
}

int stack_loop_shards(unsigned n, unsigned rounds, double secs, unsigned conns, unsigned size,
		      int offload, int json)
{
	if (n < 1 || n > MAX_SHARDS || rounds < 1 || rounds > MAX_ROUNDS || size > 4096)
		return 2;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct shard *sh = aligned_alloc(64, sizeof(*sh) * n);
	struct setup_arg *sa = calloc(n, sizeof(*sa));
	if (!sh || !sa)
		return 1;
	memset(sh, 0, sizeof(*sh) * n);
	pthread_barrier_t all_set;
	pthread_barrier_init(&all_set, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		sh[i].id = i;
		sh[i].size = size;
		sh[i].conns = conns;
		sh[i].cpu = ncpu > 0 ? (int)(i % (unsigned)ncpu) : -1;
		memset(sh[i].msg, 'x', sizeof(sh[i].msg));
		sa[i] = (struct setup_arg){ .sh = &sh[i], .offload = offload, .all_set = &all_set };
		pthread_create(&sh[i].thread, NULL, setup_run, &sa[i]);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(sh[i].thread, NULL);
	pthread_barrier_destroy(&all_set);
	for (unsigned i = 0; i < n; i++)
		if (sa[i].rc != 0) {
			fprintf(stderr, "stack-loop: shard %u: set-up failed\n", i);
			return 1;
		}
	free(sa);
	if (ncpu > 0 && (long)n > ncpu)
		fprintf(stderr, "stack-loop: %u shards on %ld CPUs: oversubscribed\n", n, ncpu);
	round_of(sh, n, 0.2); /* warm-up */
	double one[MAX_ROUNDS], all[MAX_ROUNDS], ratio[MAX_ROUNDS], eff[MAX_ROUNDS];
	double ctl[MAX_ROUNDS], sh1[MAX_ROUNDS], shn[MAX_ROUNDS];
	for (unsigned r = 0; r < rounds; r++) {
		/* "One shard": each alone on its own CPU in turn, averaged, so
		 * that a CPU busier than the others weighs on both sides. */
		one[r] = 0;
		sh1[r] = shn[r] = 0;
		double alone[MAX_SHARDS], each[MAX_SHARDS], cpu_one = 0, cpu_all = 0, cpu0 = 0;
		for (unsigned i = 0; i < n; i++) {
			alone[i] = round_of(&sh[i], 1, secs / n);
			one[r] += alone[i] / n;
			cpu_one += sh[i].cpu_rps / n;
			sh1[r] += sh[i].share / n;
		}
		cpu0 = sh[0].cpu_rps;
		all[r] = round_of(sh, n, secs);
		ratio[r] = all[r] / one[r];
		/* What load does not move much: requests per second of the
		 * shard's own CPU time, together against alone. Equal means
		 * the shards slow each other in nothing (no shared line, no
		 * lock): with a core each, N shards do N times one. */
		for (unsigned i = 0; i < n; i++) {
			cpu_all += sh[i].cpu_rps / n;
			shn[r] += sh[i].share / n;
			each[i] = sh[i].rps;
		}
		eff[r] = cpu_all / cpu_one;
		/* The control: shard 0 beside spinning neighbours. */
		ctl[r] = 1;
		if (n > 1) {
			for (unsigned i = 1; i < n; i++)
				sh[i].spin = true;
			round_of(sh, n, secs / n);
			for (unsigned i = 1; i < n; i++)
				sh[i].spin = false;
			ctl[r] = sh[0].cpu_rps / cpu0;
		}
		if (!json) {
			printf("round %u: 1 shard %.0f req/s (", r + 1, one[r]);
			for (unsigned i = 0; i < n; i++)
				printf("%s%.0f", i ? " " : "", alone[i]);
			printf(" alone); %u shards:", n);
			for (unsigned i = 0; i < n; i++)
				printf(" %.0f", each[i]);
			printf(" = %.0f req/s (x%.2f); CPU share alone %.2f, together %.2f; per "
			       "CPU-second together/alone %.2f, beside spinners %.2f\n", all[r],
			       ratio[r], sh1[r], shn[r], eff[r], ctl[r]);
		}
	}
	struct mmm o = mmm_of(one, rounds), a = mmm_of(all, rounds), x = mmm_of(ratio, rounds);
	struct mmm e = mmm_of(eff, rounds), c = mmm_of(ctl, rounds);
	struct mmm s1 = mmm_of(sh1, rounds), sn = mmm_of(shn, rounds);
	if (json)
		printf("{\"shards\": %u, \"rounds\": %u, \"conns\": %u, \"size\": %u, "
		       "\"one_rps\": {\"min\": %.0f, \"median\": %.0f, \"max\": %.0f}, "
		       "\"all_rps\": {\"min\": %.0f, \"median\": %.0f, \"max\": %.0f}, "
		       "\"ratio\": {\"min\": %.2f, \"median\": %.2f, \"max\": %.2f}, "
		       "\"cpu_efficiency\": {\"min\": %.2f, \"median\": %.2f, \"max\": %.2f}, "
		       "\"control_efficiency\": {\"min\": %.2f, \"median\": %.2f, \"max\": %.2f}, "
		       "\"cpu_share_alone\": {\"min\": %.2f, \"median\": %.2f, \"max\": %.2f}, "
		       "\"cpu_share_together\": {\"min\": %.2f, \"median\": %.2f, \"max\": %.2f}}\n",
		       n, rounds, conns, size, o.min, o.median, o.max, a.min, a.median, a.max, x.min,
		       x.median, x.max, e.min, e.median, e.max, c.min, c.median, c.max, s1.min,
		       s1.median, s1.max, sn.min, sn.median, sn.max);
	else
		printf("%u shards over 1, %u rounds: x%.2f median (min %.2f, max %.2f); "
		       "1 shard median %.0f req/s, %u shards median %.0f req/s; CPU share alone "
		       "%.2f, together %.2f (medians); per CPU-second together/alone %.2f median "
		       "(min %.2f, max %.2f), beside spinners (control) %.2f median (min %.2f, "
		       "max %.2f)\n",
		       n, rounds, x.median, x.min, x.max, o.median, n, a.median, s1.median,
		       sn.median, e.median, e.min, e.max, c.median, c.min, c.max);
	return 0;
}
