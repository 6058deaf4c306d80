/* SPDX-License-Identifier: MIT */
/*
 * Many cores on one port: two groups of two kaon cores each (a server and a
 * client), each group on a DPDK ring port with two queue pairs, queue i of
 * one wired to queue i of the other. Ring ports cannot hash, so every core
 * steers in software with the port's key and table, as an RSS NIC would;
 * since both ends hash alike, every flow's frames reach their owning core
 * on both sides and no frame is ever handed over. A second pair of groups
 * gives the server one receive queue only: its core 0 receives every frame
 * and hands core 1's over through its ring (the software hand-off path,
 * forced). Echo with content checked over both, listeners on every core,
 * outgoing connections from every core.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "kaon/dpdk.h"
#include "kaon/net.h"
#include "kaon/sock.h"
#include "kaon/user.h"
#include "sock/user_impl.h"
#include "test_util.h"

#define CORES 2
#define CONNS_PER_CORE 120   /* 240 connections a run */
#define PORT 7000

static kaon_config conf_s, conf_c, conf_s2, conf_c2;
static struct kaon_user_group *gs, *gc, *gs2, *gc2;
static struct rte_ring *rings[16];
static int nrings;

static struct rte_ring *ring(const char *name, int mp)
{
	struct rte_ring *r = rte_ring_create(name, 4096, 0, RING_F_SC_DEQ | (mp ? 0 : RING_F_SP_ENQ));
	assert_non_null(r);
	rings[nrings++] = r;
	return r;
}

static void make_conf(kaon_config *c, const char *addr, unsigned rx_queues)
{
	kaon_config_defaults(c);
	c->port0.addr = inet_addr(addr);
	c->port0.has_addr = 1;
	c->port0.netmask = htonl(0xffffff00u);
	c->dpdk.nb_mbufs = 4095;
	c->dpdk.cores = CORES;
	c->dpdk.rx_queues = rx_queues;
	c->tcp.time_wait_ms = 10;
	c->tcp.delayed_ack_us = 0;
	strcpy(c->path, "cores-test");
}

static int setup(void **s)
{
	(void)s;
	kaon_config eal;
	kaon_config_defaults(&eal);
	eal.dpdk.no_huge = 1;
	eal.dpdk.memory_mb = 512;
	eal.dpdk.log_level = 1;
	snprintf(eal.dpdk.file_prefix, sizeof(eal.dpdk.file_prefix), "kaon-usercores-%d",
		 (int)getpid());
	char err[256];
	if (kaon_dpdk_eal_init(&eal, "test_user_cores", err, sizeof(err)) < 0) {
		print_message("%s\n", err);
		return -1;
	}
	/* Pair 1: queue i to queue i, both ways. */
	struct rte_ring *sc[CORES] = { ring("sc0", 0), ring("sc1", 0) };
	struct rte_ring *cs[CORES] = { ring("cs0", 0), ring("cs1", 0) };
	int ps = rte_eth_from_rings("ringS", cs, CORES, sc, CORES, 0);
	int pc = rte_eth_from_rings("ringC", sc, CORES, cs, CORES, 0);
	/* Pair 2: the server receives on one queue; both client queues feed it. */
	struct rte_ring *one = ring("cs2", 1);
	struct rte_ring *sc2[CORES] = { ring("sc20", 0), ring("sc21", 0) };
	struct rte_ring *cs2[CORES] = { one, one };
	int ps2 = rte_eth_from_rings("ringS2", &one, 1, sc2, CORES, 0);
	int pc2 = rte_eth_from_rings("ringC2", sc2, CORES, cs2, CORES, 0);
	assert_true(ps >= 0 && pc >= 0 && ps2 >= 0 && pc2 >= 0);
	make_conf(&conf_s, "198.18.0.2", 0);
	make_conf(&conf_c, "198.18.0.1", 0);
	make_conf(&conf_s2, "198.18.0.12", 0);
	make_conf(&conf_c2, "198.18.0.11", 0);
	assert_int_equal(kaon_user_group_start(&gs, &conf_s, (uint16_t)ps, NULL, NULL, 0), 0);
	assert_int_equal(kaon_user_group_start(&gc, &conf_c, (uint16_t)pc, NULL, NULL, 0), 0);
	assert_int_equal(kaon_user_group_start(&gs2, &conf_s2, (uint16_t)ps2, NULL, NULL, 0), 0);
	assert_int_equal(kaon_user_group_start(&gc2, &conf_c2, (uint16_t)pc2, NULL, NULL, 0), 0);
	return 0;
}

/* ------------------------------------------------------------- helpers */

/* Run @p fn(arg) on @p v and wait for it, from a plain coroutine. */
struct on_args {
	kaon_vcpu *v;
	kaon_fn fn;
	void *arg;
};

static void *run_on_body(void *p)
{
	struct on_args *a = p;
	kaon_co *co;
	assert_int_equal(kaon_go_on(a->v, &co, NULL, a->fn, a->arg), 0);
	void *r;
	kaon_join(co, KAON_FOREVER, &r);
	return r;
}

static void *run_on(kaon_vcpu *v, kaon_fn fn, void *arg)
{
	struct on_args a = { v, fn, arg };
	return run_main(run_on_body, &a);
}

static void *tcb_count(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)kn_stack_tcb_count(kaon_user_stack());
}

static void *port_stats(void *arg)
{
	kaon_dpdk_stats_get(kaon__user_engine_self()->port, arg);
	return NULL;
}

static struct kaon_dpdk_stats stats_of(struct kaon_user_group *g, unsigned core)
{
	struct kaon_dpdk_stats st;
	run_on(kaon_user_group_vcpu(g, core), port_stats, &st);
	return st;
}

static int quiesce(void)
{
	struct kaon_user_group *all[] = { gs, gc, gs2, gc2 };
	int64_t until = kaon_deadline_in(5000 * MS);
	while (kaon_now() < until) {
		uintptr_t n = 0;
		for (int g = 0; g < 4; g++)
			for (unsigned i = 0; i < CORES; i++)
				n += (uintptr_t)run_on(kaon_user_group_vcpu(all[g], i), tcb_count, NULL);
		for (int i = 0; i < nrings; i++)
			n += rte_ring_count(rings[i]);
		if (n == 0)
			return 0;
		usleep(1000);
	}
	print_message("teardown: connections or frames still in flight after 5 s\n");
	return -1;
}

static int teardown(void **s)
{
	(void)s;
	int rc = quiesce();
	kaon_user_group_stop(gc);
	kaon_user_group_stop(gs);
	kaon_user_group_stop(gc2);
	kaon_user_group_stop(gs2);
	kaon_dpdk_eal_cleanup();
	return rc;
}

/* ---------------------------------------------------------- echo server */

struct server {
	_Atomic int stop;
	_Atomic int accepted[CORES];
	_Atomic int listening;
	int64_t hold_ms[CORES];  /* core i listens only after this long */
	/* Set: what to do with an accepted connection instead of echoing it here. */
	void (*hand)(struct server *sv, kaon_sock *c, unsigned core);
};

static void *echo_conn(void *arg)
{
	kaon_sock *c = arg;
	/* A buffer per connection: a call through a stand-in socket
	 * (kaon_user_forward) parks, and other connections run meanwhile. */
	char *buf = malloc(16384);
	for (;;) {
		ssize_t n = kaon_recv(c, buf, 16384, kaon_deadline_in(10000 * MS));
		if (n <= 0)
			break;
		if (kaon_write_full(c, buf, (size_t)n, kaon_deadline_in(10000 * MS)) != n)
			break;
	}
	free(buf);
	kaon_close(c);
	return NULL;
}

static void *echo_server(void *arg)
{
	struct server *sv = arg;
	unsigned core = kaon_user_core();
	if (sv->hold_ms[core])
		kaon_sleep_until(kaon_deadline_in(sv->hold_ms[core] * MS));
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", PORT);
	kaon_sock *ls;
	int rc = kaon_listen(&ls, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	atomic_fetch_add(&sv->listening, 1);
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	while (!atomic_load(&sv->stop)) {
		kaon_sock *c;
		rc = kaon_accept(ls, &c, NULL, kaon_deadline_in(20 * MS));
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0)
			break;
		atomic_fetch_add(&sv->accepted[core], 1);
		if (sv->hand)
			sv->hand(sv, c, core);
		else
			kaon_go(NULL, &o, echo_conn, c);
	}
	kaon_close(ls);
	return (void *)(intptr_t)(rc == -ETIMEDOUT ? 0 : rc);
}

/* ---------------------------------------------------------- echo client */

struct client_job {
	const char *addr;
	size_t bytes;
	uint32_t seed;
	int result;
	unsigned core;      /* where it ran */
};

static uint8_t pattern(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;
	return (uint8_t)(x >> 13 ^ x);
}

static void *echo_client(void *arg)
{
	struct client_job *j = arg;
	j->core = kaon_user_core();
	kaon_addr a;
	kaon_addr_parse(&a, j->addr, PORT);
	kaon_sock *c;
	int64_t until = kaon_deadline_in(5000 * MS);
	int rc;
	/* The listeners start a moment after the clients: a refusal is "not yet". */
	while ((rc = kaon_connect(&c, &a, NULL, until)) == -ECONNREFUSED && kaon_now() < until)
		kaon_sleep_until(kaon_deadline_in(MS));
	if (rc < 0) {
		j->result = rc;
		return NULL;
	}
	uint8_t *out = malloc(j->bytes), *in = malloc(j->bytes);
	for (size_t i = 0; i < j->bytes; i++)
		out[i] = pattern(j->seed, i);
	size_t sent = 0, got = 0;
	j->result = 0;
	while (got < j->bytes) {
		if (sent < j->bytes) {
			size_t chunk = j->bytes - sent < 4096 ? j->bytes - sent : 4096;
			ssize_t n = kaon_send(c, out + sent, chunk, kaon_deadline_in(5000 * MS));
			if (n < 0) {
				j->result = (int)n;
				break;
			}
			sent += (size_t)n;
		}
		ssize_t n = kaon_recv(c, in + got, j->bytes - got,
				      sent < j->bytes ? kaon_now() : kaon_deadline_in(5000 * MS));
		if (n == -ETIMEDOUT)
			continue;
		if (n <= 0) {
			j->result = n ? (int)n : -EPIPE;
			break;
		}
		got += (size_t)n;
	}
	if (!j->result && memcmp(in, out, j->bytes))
		j->result = -EBADMSG;
	kaon_close(c);
	free(in);
	free(out);
	return NULL;
}

/* On one client core: its share of the jobs, all at once. */
struct batch {
	struct client_job *jobs;
	int n;
};

static void *client_batch(void *arg)
{
	struct batch *b = arg;
	kaon_co *co[CONNS_PER_CORE];
	for (int i = 0; i < b->n; i++)
		kaon_go(&co[i], NULL, echo_client, &b->jobs[i]);
	for (int i = 0; i < b->n; i++)
		kaon_join(co[i], KAON_FOREVER, NULL);
	return NULL;
}

struct run {
	struct kaon_user_group *srv, *cli;
	const char *addr;
	struct server sv;
	struct client_job jobs[CORES][CONNS_PER_CORE];
};

static void *run_body(void *p)
{
	struct run *r = p;
	kaon_co *srv[CORES], *cli[CORES];
	struct batch b[CORES];
	for (unsigned i = 0; i < CORES; i++)
		assert_int_equal(kaon_go_on(kaon_user_group_vcpu(r->srv, i), &srv[i], NULL,
					    echo_server, &r->sv), 0);
	for (unsigned i = 0; i < CORES; i++) {
		for (int k = 0; k < CONNS_PER_CORE; k++)
			r->jobs[i][k] = (struct client_job){ .addr = r->addr,
							     .bytes = 1 + (size_t)(k * 997 + i * 31) % 20000,
							     .seed = i * 1000u + (unsigned)k };
		b[i] = (struct batch){ r->jobs[i], CONNS_PER_CORE };
		assert_int_equal(kaon_go_on(kaon_user_group_vcpu(r->cli, i), &cli[i], NULL,
					    client_batch, &b[i]), 0);
	}
	for (unsigned i = 0; i < CORES; i++)
		kaon_join(cli[i], KAON_FOREVER, NULL);
	atomic_store(&r->sv.stop, 1);
	intptr_t bad = 0;
	for (unsigned i = 0; i < CORES; i++) {
		void *v;
		kaon_join(srv[i], KAON_FOREVER, &v);
		if (v)
			bad = (intptr_t)v;
	}
	return (void *)bad;
}

static void check_run(struct run *r)
{
	int failed = 0;
	for (unsigned i = 0; i < CORES; i++)
		for (int k = 0; k < CONNS_PER_CORE; k++) {
			struct client_job *j = &r->jobs[i][k];
			if (j->result) {
				if (failed++ < 5)
					print_message("client core %u job %d (%zu bytes): %d\n", i, k,
						      j->bytes, j->result);
			}
			assert_int_equal(j->core, i);
		}
	assert_int_equal(failed, 0);
	for (unsigned i = 0; i < CORES; i++) {
		print_message("server core %u accepted %d\n", i, atomic_load(&r->sv.accepted[i]));
		assert_true(atomic_load(&r->sv.accepted[i]) > 0);
	}
	assert_int_equal(atomic_load(&r->sv.accepted[0]) + atomic_load(&r->sv.accepted[1]),
			 CORES * CONNS_PER_CORE);
}

/* ---------------------------------------------------------------- tests */

static void t_toeplitz(void **s)
{
	(void)s;
	/* Microsoft's RSS verification suite, first IPv4/TCP row. */
	static const uint8_t key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
		0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
		0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	uint32_t src = 0x420995bbu, dst = 0xa18e6450u; /* 66.9.149.187 -> 161.142.100.80 */
	assert_int_equal(kaon_rss_hash_tcp4(key, 40, src, dst, 2794, 1766), 0x51ccc178u);
	/* DPDK's own software hash agrees, on other inputs too. */
	uint64_t x = 1;
	for (int i = 0; i < 1000; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t t[3] = { (uint32_t)(x >> 32), (uint32_t)x, (uint32_t)(x >> 16) };
		uint32_t h = rte_softrss(t, 3, key);
		assert_int_equal(kaon_rss_hash_tcp4(key, 40, t[0], t[1], (uint16_t)(t[2] >> 16),
						    (uint16_t)t[2]), h);
		/* The symmetric key: both directions hash alike. */
		assert_int_equal(kaon_rss_hash_tcp4(kaon_rss_key_sym, 40, t[0], t[1],
						    (uint16_t)(t[2] >> 16), (uint16_t)t[2]),
				 kaon_rss_hash_tcp4(kaon_rss_key_sym, 40, t[1], t[0], (uint16_t)t[2],
						    (uint16_t)(t[2] >> 16)));
	}
}

static void t_echo_both_cores(void **s)
{
	(void)s;
	static struct run r;
	memset(&r, 0, sizeof(r));
	r.srv = gs;
	r.cli = gc;
	r.addr = "198.18.0.2";
	/* Core 1's own listen comes late: until then the listener core 0's
	 * listen opened there takes its SYNs, and core 1's listen takes it. */
	r.sv.hold_ms[1] = 100;
	assert_int_equal((intptr_t)run_main(run_body, &r), 0);
	check_run(&r);
	/* Every frame reached its owner on both ends by itself: the RSS
	 * path hands nothing over, for accepted and outgoing connections. */
	uint64_t in = 0, arp = 0;
	for (unsigned i = 0; i < CORES; i++) {
		struct kaon_dpdk_stats a = stats_of(gs, i), b = stats_of(gc, i);
		in += a.handoff_in + b.handoff_in;
		arp += a.handoff_arp + b.handoff_arp;
		print_message("core %u: server rx %llu handed in/out %llu/%llu, client rx %llu "
			      "handed in/out %llu/%llu\n", i, (unsigned long long)a.rx,
			      (unsigned long long)a.handoff_in, (unsigned long long)a.handoff_out,
			      (unsigned long long)b.rx, (unsigned long long)b.handoff_in,
			      (unsigned long long)b.handoff_out);
		assert_true(a.rx > 0 && b.rx > 0);
		/* ARP replies go to every core (handoff_arp); TCP never. */
		assert_int_equal(a.handoff_out, 0);
		assert_int_equal(b.handoff_out, 0);
	}
	assert_true(in <= arp); /* only ARP copies crossed (some maybe still in a ring) */
}

static void t_echo_handoff(void **s)
{
	(void)s;
	static struct run r;
	memset(&r, 0, sizeof(r));
	r.srv = gs2;
	r.cli = gc2;
	r.addr = "198.18.0.12";
	assert_int_equal((intptr_t)run_main(run_body, &r), 0);
	check_run(&r);
	/* Core 1's first: frames still in flight (last ACKs) can only make
	 * core 0's later count larger, never core 1's earlier one. */
	struct kaon_dpdk_stats b = stats_of(gs2, 1);
	struct kaon_dpdk_stats a = stats_of(gs2, 0);
	print_message("server core 0: rx %llu handed out %llu; core 1: rx %llu handed in %llu "
		      "(drops %llu/%llu)\n", (unsigned long long)a.rx,
		      (unsigned long long)a.handoff_out, (unsigned long long)b.rx,
		      (unsigned long long)b.handoff_in, (unsigned long long)a.handoff_drop,
		      (unsigned long long)b.handoff_nomem);
	assert_int_equal(b.rx, 0);             /* core 1 has no receive queue */
	assert_true(b.handoff_in > CONNS_PER_CORE); /* it got its frames from core 0 */
	assert_true(a.handoff_out + a.handoff_arp >= b.handoff_in);
}

/* ---- closing one core's connections leaves the other core's alone: both
 * client cores hold connections open; core 0's are reset (linger 0) and
 * closed; core 1's then still echo, content-checked. */

#define HOLD 20

struct hold {
	kaon_sock *c[HOLD];
	int result;
};

static int echo_once(kaon_sock *c, uint32_t seed)
{
	uint8_t out[3000], in[3000];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = pattern(seed, i);
	if (kaon_write_full(c, out, sizeof(out), kaon_deadline_in(5000 * MS)) != sizeof(out))
		return -EIO;
	if (kaon_read_full(c, in, sizeof(in), kaon_deadline_in(5000 * MS)) != sizeof(in))
		return -EPIPE;
	return memcmp(in, out, sizeof(in)) ? -EBADMSG : 0;
}

static void *hold_open(void *arg)
{
	struct hold *h = arg;
	kaon_addr a;
	kaon_addr_parse(&a, "198.18.0.2", PORT);
	h->result = 0;
	for (int i = 0; i < HOLD && !h->result; i++) {
		int64_t until = kaon_deadline_in(5000 * MS);
		int rc;
		while ((rc = kaon_connect(&h->c[i], &a, NULL, until)) == -ECONNREFUSED &&
		       kaon_now() < until)
			kaon_sleep_until(kaon_deadline_in(MS));
		h->result = rc < 0 ? rc : echo_once(h->c[i], (uint32_t)i);
	}
	return NULL;
}

static void *reset_all(void *arg)
{
	struct hold *h = arg;
	for (int i = 0; i < HOLD; i++) {
		kaon_sock_setopt(h->c[i], KAON_SO_LINGER0, 1);
		kaon_close(h->c[i]);
	}
	return NULL;
}

static void *echo_again_and_close(void *arg)
{
	struct hold *h = arg;
	for (int i = 0; i < HOLD; i++) {
		int rc = echo_once(h->c[i], 100u + (uint32_t)i);
		if (rc && !h->result)
			h->result = rc;
		kaon_close(h->c[i]);
	}
	return NULL;
}

static void *close_body(void *p)
{
	struct run *r = p;
	kaon_co *srv[CORES];
	static struct hold h[CORES];
	for (unsigned i = 0; i < CORES; i++)
		kaon_go_on(kaon_user_group_vcpu(gs, i), &srv[i], NULL, echo_server, &r->sv);
	for (unsigned i = 0; i < CORES; i++) {
		kaon_co *co;
		kaon_go_on(kaon_user_group_vcpu(gc, i), &co, NULL, hold_open, &h[i]);
		kaon_join(co, KAON_FOREVER, NULL);
	}
	intptr_t bad = h[0].result ? h[0].result : h[1].result;
	if (!bad) {
		kaon_co *co;
		kaon_go_on(kaon_user_group_vcpu(gc, 0), &co, NULL, reset_all, &h[0]);
		kaon_join(co, KAON_FOREVER, NULL);
		kaon_sleep_until(kaon_deadline_in(50 * MS)); /* the RSTs reach the server */
		kaon_go_on(kaon_user_group_vcpu(gc, 1), &co, NULL, echo_again_and_close, &h[1]);
		kaon_join(co, KAON_FOREVER, NULL);
		bad = h[1].result;
	}
	atomic_store(&r->sv.stop, 1);
	for (unsigned i = 0; i < CORES; i++)
		kaon_join(srv[i], KAON_FOREVER, NULL);
	return (void *)bad;
}

static void t_close_one_core(void **s)
{
	(void)s;
	static struct run r;
	memset(&r, 0, sizeof(r));
	assert_int_equal((intptr_t)run_main(close_body, &r), 0);
}

/* ---- kaon_user_go_on(core): from a core of a group, work starts on the
 * core named, which runs its own stack; no such core: -ENODEV. */

static void *which_core(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)(kaon_user_core() * 100 + kaon_user_cores());
}

static void *go_on_other(void *arg)
{
	(void)arg;
	kaon_co *co;
	int rc = kaon_user_go_on(1, &co, NULL, which_core, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	void *r;
	kaon_join(co, KAON_FOREVER, &r);
	if (kaon_user_go_on(CORES, &co, NULL, which_core, NULL) != -ENODEV)
		return (void *)(intptr_t)-1;
	return r;
}

static void t_go_on(void **s)
{
	(void)s;
	/* Started on core 0 of the server group: core 1 of the same group. */
	assert_int_equal((uintptr_t)run_on(kaon_user_group_vcpu(gs, 0), go_on_other, NULL),
			 1 * 100 + CORES);
}

/* ---- UDP on every core: a port bound on server core 1 gets the datagrams
 * of both client cores, whichever queue they arrive on; the replies reach
 * each client core's own (picked) port. Core 0 cannot bind it meanwhile. */

#define UDP_PORT 5353
#define DGRAMS 20

struct udp_srv {
	_Atomic int ready, stop, echoed;
	int busy_rc;  /* what core 0's bind of the same port got */
};

static void *udp_echo(void *arg)
{
	struct udp_srv *u = arg;
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", UDP_PORT);
	kaon_sock *s;
	int rc = kaon_udp_bind(&s, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	atomic_store(&u->ready, 1);
	char buf[256];
	while (!atomic_load(&u->stop)) {
		kaon_addr from;
		ssize_t n = kaon_recvfrom(s, buf, sizeof(buf), &from, kaon_deadline_in(20 * MS));
		if (n > 0 && kaon_sendto(s, buf, (size_t)n, &from, KAON_FOREVER) == n)
			atomic_fetch_add(&u->echoed, 1);
	}
	kaon_close(s);
	return NULL;
}

static void *udp_bind_busy(void *arg)
{
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", UDP_PORT);
	kaon_sock *s;
	int rc = kaon_udp_bind(&s, &a, NULL);
	if (rc == 0)
		kaon_close(s);
	((struct udp_srv *)arg)->busy_rc = rc;
	return NULL;
}

/* On a client core: DGRAMS datagrams, each answered intact (resent on a
 * timeout: the first may wait for ARP). @return 0 or what went wrong. */
static void *udp_client(void *arg)
{
	(void)arg;
	kaon_addr me, to;
	kaon_addr_parse(&me, "0.0.0.0", 0);
	kaon_addr_parse(&to, "198.18.0.2", UDP_PORT);
	kaon_sock *s;
	int rc = kaon_udp_bind(&s, &me, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	intptr_t bad = 0;
	for (int i = 0; i < DGRAMS && !bad; i++) {
		char out[64], in[256];
		int len = snprintf(out, sizeof(out), "core %u datagram %d", kaon_user_core(), i);
		int got = 0;
		for (int tries = 0; tries < 20 && !got; tries++) {
			kaon_sendto(s, out, (size_t)len, &to, KAON_FOREVER);
			ssize_t n = kaon_recvfrom(s, in, sizeof(in), NULL, kaon_deadline_in(200 * MS));
			/* A late answer to an earlier datagram sent twice is no
			 * answer to this one: wait on. */
			while (n > 0 && !(n == len && !memcmp(in, out, (size_t)len)))
				n = kaon_recvfrom(s, in, sizeof(in), NULL, kaon_deadline_in(200 * MS));
			got = n > 0;
		}
		if (!got && !bad)
			bad = -ETIMEDOUT;
	}
	kaon_close(s);
	return (void *)bad;
}

static void *udp_body(void *p)
{
	struct udp_srv *u = p;
	kaon_co *srv, *cli[CORES];
	assert_int_equal(kaon_go_on(kaon_user_group_vcpu(gs, 1), &srv, NULL, udp_echo, u), 0);
	while (!atomic_load(&u->ready))
		kaon_sleep_until(kaon_deadline_in(1 * MS));
	kaon_co *busy;
	assert_int_equal(kaon_go_on(kaon_user_group_vcpu(gs, 0), &busy, NULL, udp_bind_busy, u), 0);
	kaon_join(busy, KAON_FOREVER, NULL);
	for (unsigned i = 0; i < CORES; i++)
		assert_int_equal(kaon_go_on(kaon_user_group_vcpu(gc, i), &cli[i], NULL, udp_client,
					    NULL), 0);
	intptr_t bad = 0;
	for (unsigned i = 0; i < CORES; i++) {
		void *r;
		kaon_join(cli[i], KAON_FOREVER, &r);
		if (r && !bad)
			bad = (intptr_t)r;
	}
	atomic_store(&u->stop, 1);
	kaon_join(srv, KAON_FOREVER, NULL);
	return (void *)bad;
}

/* run_main(fn, arg), which must return 0 (else a negative errno, said). */
static void run_checked(kaon_fn fn, void *arg, const char *what)
{
	intptr_t rc = (intptr_t)run_main(fn, arg);
	if (rc)
		print_message("%s: %s\n", what, strerror((int)-rc));
	assert_int_equal(rc, 0);
}

static void t_udp_cores(void **s)
{
	(void)s;
	static struct udp_srv u;
	memset(&u, 0, sizeof(u));
	run_checked(udp_body, &u, "udp");
	print_message("server core 1 echoed %d datagrams\n", atomic_load(&u.echoed));
	assert_true(atomic_load(&u.echoed) >= CORES * DGRAMS);
	assert_int_equal(u.busy_rc, -EADDRINUSE);
}

/* ---- ICMP echo: answered by the core whose queue it arrived on. A ping
 * put straight on the ring of the server's queue 1. */

static void *srv_mac(void *arg)
{
	memcpy(arg, kaon_dpdk_dev(kaon__user_engine_self()->port)->mac, 6);
	return NULL;
}

static void *icmp_counts(void *arg)
{
	const struct kn_stats *st = kn_stack_stats(kaon_user_stack());
	uint64_t *c = arg;
	c[0] = st->icmp_echo_replies;
	c[1] = st->icmp_rx;
	return NULL;
}

static uint16_t cksum16(const uint8_t *b, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* An IPv4 header of @p len bytes in all from @p sa to @p da (host order). */
static void ip_hdr(uint8_t *ip, uint16_t len, uint8_t proto, uint32_t sa, uint32_t da)
{
	ip[0] = 0x45, ip[2] = (uint8_t)(len >> 8), ip[3] = (uint8_t)len, ip[5] = 7, ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, sa);
	put32(ip + 16, da);
	uint16_t c = cksum16(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
}

/* A frame from the client's address to the server's: ICMP @p type, code
 * @p code, the 8-byte header then @p body. */
static struct rte_mbuf *icmp_frame(struct rte_mempool *mp, uint8_t type, uint8_t code,
				   const uint8_t *body, uint16_t blen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	assert_non_null(m);
	uint16_t iplen = (uint16_t)(20 + 8 + blen);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + iplen));
	memset(f, 0, 14u + iplen);
	run_on(kaon_user_group_vcpu(gs, 1), srv_mac, f);
	static const uint8_t src_mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	ip_hdr(f + 14, iplen, 1, ntohl(inet_addr("198.18.0.1")), ntohl(inet_addr("198.18.0.2")));
	uint8_t *ic = f + 34;
	ic[0] = type, ic[1] = code, ic[5] = 1, ic[7] = 1;
	memcpy(ic + 8, body, blen);
	uint16_t c = cksum16(ic, 8u + blen);
	ic[2] = (uint8_t)(c >> 8), ic[3] = (uint8_t)c;
	return m;
}

struct flow_q {
	uint16_t rport;
	unsigned q;
};

static void *flow_queue_of(void *arg)
{
	struct flow_q *f = arg;
	f->q = kaon_dpdk_flow_queue(kaon__user_engine_self()->port, ntohl(inet_addr("198.18.0.1")),
				    f->rport, ntohl(inet_addr("198.18.0.2")), PORT);
	return NULL;
}

/* Enqueue @p m on ring @p r and wait until server core @p core's counter
 * @p which (0: echo replies, 1: ICMP received) moves; @return by how much
 * it and the other core's moved (d[core], d[other]). */
static void icmp_wait(struct rte_ring *r, struct rte_mbuf *m, unsigned core, int which,
		      uint64_t d[CORES])
{
	uint64_t before[CORES][2], now[CORES][2];
	for (unsigned i = 0; i < CORES; i++)
		run_on(kaon_user_group_vcpu(gs, i), icmp_counts, before[i]);
	assert_int_equal(rte_ring_enqueue(r, m), 0);
	memcpy(now, before, sizeof(now));
	for (int i = 0; i < 2000 && now[core][which] == before[core][which]; i++) {
		usleep(1000);
		run_on(kaon_user_group_vcpu(gs, core), icmp_counts, now[core]);
	}
	for (unsigned i = 0; i < CORES; i++) {
		run_on(kaon_user_group_vcpu(gs, i), icmp_counts, now[i]);
		d[i] = now[i][which] - before[i][which];
	}
}

static void t_icmp_echo_core(void **s)
{
	(void)s;
	struct rte_mempool *mp = rte_pktmbuf_pool_create("icmp_test", 63, 0, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	assert_non_null(mp);
	/* A ping on queue 1's ring (rings[3]: client to server, queue 1). */
	uint64_t d[CORES];
	icmp_wait(rings[3], icmp_frame(mp, 8, 0, (const uint8_t *)"pingping", 8), 1, 0, d);
	print_message("echo replies: core 0 %llu, core 1 %llu\n", (unsigned long long)d[0],
		      (unsigned long long)d[1]);
	assert_int_equal(d[1], 1);
	assert_int_equal(d[0], 0);
	/* Port unreachable quoting a TCP segment the server would have sent to
	 * a flow of core 1, arriving on queue 0 (rings[2]): core 1 gets it. */
	struct flow_q fq = { .rport = 40000 };
	for (run_on(kaon_user_group_vcpu(gs, 0), flow_queue_of, &fq); fq.q != 1;
	     run_on(kaon_user_group_vcpu(gs, 0), flow_queue_of, &fq))
		fq.rport++;
	uint8_t quote[28] = { 0 };
	ip_hdr(quote, 40, 6, ntohl(inet_addr("198.18.0.2")), ntohl(inet_addr("198.18.0.1")));
	quote[20] = PORT >> 8, quote[21] = PORT & 0xff;
	quote[22] = (uint8_t)(fq.rport >> 8), quote[23] = (uint8_t)fq.rport;
	icmp_wait(rings[2], icmp_frame(mp, 3, 3, quote, sizeof(quote)), 1, 1, d);
	print_message("ICMP error about a core 1 flow, on queue 0: core 0 got %llu, core 1 %llu\n",
		      (unsigned long long)d[0], (unsigned long long)d[1]);
	assert_int_equal(d[1], 1);
	assert_int_equal(d[0], 0);
	/* The reply went out on core 1's queue; let it drain before the pool goes. */
	quiesce();
	rte_mempool_free(mp);
}

/* ---- A fragmented UDP datagram to a port bound on core 1. A fragment
 * after the first carries no ports, so all of them go to core 0 (software
 * steering does that, and so does an RSS NIC that hashes only unfragmented
 * TCP): core 0 reassembles the datagram and hands it, whole, to core 1,
 * whose socket would never see it otherwise. The fragments arrive out of
 * order on queue 1's ring. */

#define FRAG_PORT 7100
#define FRAG_LEN 3000 /* UDP payload: three fragments on a 1,500-byte MTU */

struct frag_rx {
	_Atomic int ready, stop, got, intact;
};

static uint8_t frag_byte(unsigned k)
{
	return (uint8_t)('a' + (k * 7u) % 26u);
}

static void *frag_receiver(void *arg)
{
	struct frag_rx *r = arg;
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", FRAG_PORT);
	kaon_sock *s;
	int rc = kaon_udp_bind(&s, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	atomic_store(&r->ready, 1);
	uint8_t buf[4096];
	while (!atomic_load(&r->stop)) {
		ssize_t n = kaon_recvfrom(s, buf, sizeof(buf), NULL, kaon_deadline_in(20 * MS));
		if (n <= 0)
			continue;
		atomic_fetch_add(&r->got, 1);
		int ok = n == FRAG_LEN;
		for (unsigned k = 0; ok && k < FRAG_LEN; k++)
			ok = buf[k] == frag_byte(k);
		atomic_fetch_add(&r->intact, ok);
	}
	kaon_close(s);
	return NULL;
}

/* Bytes [off, off + len) of the IP payload @p l4 (@p total bytes) as a
 * fragment from the client to the server (MAC @p mac). */
static struct rte_mbuf *frag_frame(struct rte_mempool *mp, const uint8_t *mac,
				   const uint8_t *l4, unsigned total, unsigned off, unsigned len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	assert_non_null(m);
	uint16_t flen = (uint16_t)(14 + 20 + len);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, flen);
	memset(f, 0, flen);
	memcpy(f, mac, 6);
	static const uint8_t src_mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip_hdr(ip, (uint16_t)(20 + len), 17, ntohl(inet_addr("198.18.0.1")),
	       ntohl(inet_addr("198.18.0.2")));
	uint16_t fr = (uint16_t)(off / 8 | (off + len < total ? 0x2000 : 0));
	ip[6] = (uint8_t)(fr >> 8), ip[7] = (uint8_t)fr, ip[10] = ip[11] = 0;
	uint16_t c = cksum16(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	memcpy(ip + 20, l4 + off, len);
	return m;
}

struct reasm_run {
	struct frag_rx r;
	struct rte_mbuf *frames[3];
};

static void *reasm_body(void *arg)
{
	struct reasm_run *run = arg;
	struct frag_rx *r = &run->r;
	kaon_co *rx;
	assert_int_equal(kaon_go_on(kaon_user_group_vcpu(gs, 1), &rx, NULL, frag_receiver, r), 0);
	while (!atomic_load(&r->ready))
		kaon_sleep_until(kaon_deadline_in(1 * MS));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rte_ring_enqueue(rings[3], run->frames[i]), 0);
	for (int i = 0; i < 2000 && !atomic_load(&r->got); i++)
		kaon_sleep_until(kaon_deadline_in(1 * MS));
	atomic_store(&r->stop, 1);
	kaon_join(rx, KAON_FOREVER, NULL);
	return NULL;
}

static void t_udp_fragments_core1(void **s)
{
	(void)s;
	static struct reasm_run run;
	memset(&run, 0, sizeof(run));
	/* The UDP datagram, its checksum over the pseudo-header. */
	enum { UDP_TOTAL = 8 + FRAG_LEN };
	static uint8_t sum_in[12 + UDP_TOTAL];
	uint8_t *udp = sum_in + 12;
	put32(sum_in, ntohl(inet_addr("198.18.0.1")));
	put32(sum_in + 4, ntohl(inet_addr("198.18.0.2")));
	sum_in[9] = 17, sum_in[10] = UDP_TOTAL >> 8, sum_in[11] = UDP_TOTAL & 0xff;
	udp[0] = 0x9c, udp[1] = 0x40; /* port 40000 */
	udp[2] = FRAG_PORT >> 8, udp[3] = FRAG_PORT & 0xff;
	udp[4] = UDP_TOTAL >> 8, udp[5] = UDP_TOTAL & 0xff;
	for (unsigned k = 0; k < FRAG_LEN; k++)
		udp[8 + k] = frag_byte(k);
	uint16_t c = cksum16(sum_in, sizeof(sum_in));
	udp[6] = (uint8_t)(c >> 8), udp[7] = (uint8_t)c;
	struct rte_mempool *mp = rte_pktmbuf_pool_create("frag_test", 63, 0, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	assert_non_null(mp);
	uint8_t mac[6];
	run_on(kaon_user_group_vcpu(gs, 1), srv_mac, mac);
	/* 1480 + 1480 + 48 bytes, the last first. */
	static const unsigned off[3] = { 2960, 0, 1480 }, len[3] = { 48, 1480, 1480 };
	for (unsigned i = 0; i < 3; i++)
		run.frames[i] = frag_frame(mp, mac, udp, UDP_TOTAL, off[i], len[i]);
	struct kaon_dpdk_stats a0 = stats_of(gs, 0);
	run_main(reasm_body, &run);
	struct kaon_dpdk_stats a1 = stats_of(gs, 0);
	quiesce();
	rte_mempool_free(mp);
	print_message("core 1's socket got %d datagrams (%d intact); core 0 handed %llu "
		      "reassembled datagrams over\n", atomic_load(&run.r.got),
		      atomic_load(&run.r.intact),
		      (unsigned long long)(a1.handoff_reasm - a0.handoff_reasm));
	assert_int_equal(atomic_load(&run.r.got), 1);
	assert_int_equal(atomic_load(&run.r.intact), 1);
	assert_int_equal(a1.handoff_reasm - a0.handoff_reasm, 1);
}

/* ---- a connection handed to the other core (kaon_user_forward): each
 * server core accepts, and a coroutine on the other core serves the
 * connection through a stand-in whose calls run on the accepting core. */

#define FWD_CONNS 16

static _Atomic int served_on[CORES], wrong_core;

struct fwd_job {
	kaon_sock *f;
	unsigned want_core;
};

static void *serve_fwd(void *arg)
{
	struct fwd_job *j = arg;
	unsigned core = kaon_user_core();
	if (core != j->want_core)
		atomic_fetch_add(&wrong_core, 1);
	atomic_fetch_add(&served_on[core], 1);
	kaon_sock *f = j->f;
	free(j);
	return echo_conn(f); /* recv, write, close: all through the stand-in */
}

/* An accepted connection goes to the other core, as a stand-in. */
static void hand_over(struct server *sv, kaon_sock *c, unsigned core)
{
	(void)sv;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	struct fwd_job *j = malloc(sizeof(*j));
	assert_non_null(j);
	j->want_core = (core + 1) % CORES;
	assert_int_equal(kaon_user_forward(c, &j->f), 0);
	assert_int_equal(kaon_user_go_on(j->want_core, NULL, &o, serve_fwd, j), 0);
}

static void *fwd_body(void *p)
{
	struct server *sv = p;
	static struct client_job jobs[FWD_CONNS];
	kaon_co *srv[CORES], *cli;
	for (unsigned i = 0; i < CORES; i++)
		assert_int_equal(kaon_go_on(kaon_user_group_vcpu(gs, i), &srv[i], NULL, echo_server,
					    sv), 0);
	for (int k = 0; k < FWD_CONNS; k++)
		jobs[k] = (struct client_job){ .addr = "198.18.0.2", .bytes = 1000 + (size_t)k * 3001,
					       .seed = 7000u + (unsigned)k };
	struct batch b = { jobs, FWD_CONNS };
	assert_int_equal(kaon_go_on(kaon_user_group_vcpu(gc, 0), &cli, NULL, client_batch, &b), 0);
	kaon_join(cli, KAON_FOREVER, NULL);
	atomic_store(&sv->stop, 1);
	intptr_t bad = 0;
	for (unsigned i = 0; i < CORES; i++) {
		void *v;
		kaon_join(srv[i], KAON_FOREVER, &v);
		if (v)
			bad = (intptr_t)v;
	}
	for (int k = 0; k < FWD_CONNS && !bad; k++)
		bad = jobs[k].result;
	return (void *)bad;
}

static void t_forward(void **s)
{
	(void)s;
	static struct server sv;
	memset(&sv, 0, sizeof(sv));
	sv.hand = hand_over;
	run_checked(fwd_body, &sv, "forward");
	print_message("served through a stand-in: core 0 %d, core 1 %d\n",
		      atomic_load(&served_on[0]), atomic_load(&served_on[1]));
	assert_int_equal(atomic_load(&served_on[0]) + atomic_load(&served_on[1]), FWD_CONNS);
	assert_int_equal(atomic_load(&wrong_core), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_toeplitz),
		cmocka_unit_test(t_echo_both_cores),
		cmocka_unit_test(t_echo_handoff),
		cmocka_unit_test(t_close_one_core),
		cmocka_unit_test(t_go_on),
		cmocka_unit_test(t_udp_cores),
		cmocka_unit_test(t_icmp_echo_core),
		cmocka_unit_test(t_udp_fragments_core1),
		cmocka_unit_test(t_forward),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
