/* SPDX-License-Identifier: MIT */
/*
 * kaon's socket API on kaon's own stack, end to end: two vcpus, each running
 * the busy-poll engine over one of two DPDK ring ports wired back to back
 * (A's tx ring is B's rx ring and the other way round). TCP echo with
 * content checked, refused connects, deadlines, UDP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ring.h>

#include "kaon/dpdk.h"
#include "kaon/net.h"
#include "kaon/sock.h"
#include "kaon/user.h"
#include "sock/sock_impl.h"
#include "sock/user_impl.h"
#include "test_util.h"

static kaon_config conf_a, conf_b;
static struct rte_ring *ring_ab, *ring_ba;
static struct kaon_user_opts opts_a, opts_b;
static kaon_vcpu *va, *vb;

static void make_conf(kaon_config *c, const char *addr)
{
	kaon_config_defaults(c);
	c->port0.addr = inet_addr(addr);
	c->port0.has_addr = 1;
	c->port0.netmask = htonl(0xffffff00u);
	c->dpdk.nb_mbufs = 4095;
	c->tcp.time_wait_ms = 10;
	c->tcp.delayed_ack_us = 0;
	strcpy(c->path, "ring-test");
}

static int setup(void **s)
{
	(void)s;
	kaon_config eal;
	kaon_config_defaults(&eal);
	eal.dpdk.no_huge = 1;
	eal.dpdk.memory_mb = 256;
	eal.dpdk.log_level = 1;
	snprintf(eal.dpdk.file_prefix, sizeof(eal.dpdk.file_prefix), "kaon-userring-%d",
		 (int)getpid());
	char err[256];
	if (kaon_dpdk_eal_init(&eal, "test_user_ring", err, sizeof(err)) < 0) {
		print_message("%s\n", err);
		return -1;
	}
	/* "user" is registered already: a second time is refused. */
	assert_int_equal(kaon__sock_stack_register(&kaon__sock_user), -EEXIST);
	struct rte_ring *ab = rte_ring_create("ab", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	struct rte_ring *ba = rte_ring_create("ba", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	ring_ab = ab;
	ring_ba = ba;
	assert_non_null(ab);
	assert_non_null(ba);
	int pa = rte_eth_from_rings("ringA", &ba, 1, &ab, 1, 0);
	int pb = rte_eth_from_rings("ringB", &ab, 1, &ba, 1, 0);
	assert_true(pa >= 0 && pb >= 0);
	make_conf(&conf_a, "198.18.0.2");
	make_conf(&conf_b, "198.18.0.1");
	opts_a = (struct kaon_user_opts){ .conf = &conf_a, .port = (uint16_t)pa };
	opts_b = (struct kaon_user_opts){ .conf = &conf_b, .port = (uint16_t)pb };
	kaon_vcpu_opts vo;
	kaon_vcpu_opts_init(&vo);
	vo.engine = &kaon_engine_user;
	vo.engine_arg = &opts_a;
	vo.name = "kaon-a";
	assert_int_equal(kaon_vcpu_start(&va, &vo), 0);
	vo.engine_arg = &opts_b;
	vo.name = "kaon-b";
	assert_int_equal(kaon_vcpu_start(&vb, &vo), 0);
	return 0;
}

static void *tcb_count(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)kn_stack_tcb_count(kaon_user_stack());
}

static void *run_on(kaon_vcpu *v, kaon_fn fn, void *arg);

/* The ring PMD hands the peer the sender's own mbufs: a frame still in a
 * ring when its sender's pool is freed would be read from freed memory.
 * So stop only when both stacks hold no connection and both rings are
 * empty: nothing is in flight and nothing more will be sent. */
static int quiesce(void)
{
	int64_t until = kaon_deadline_in(5000 * MS);
	while (kaon_now() < until) {
		uintptr_t a = (uintptr_t)run_on(va, tcb_count, NULL);
		uintptr_t b = (uintptr_t)run_on(vb, tcb_count, NULL);
		if (a == 0 && b == 0 && rte_ring_count(ring_ab) == 0 &&
		    rte_ring_count(ring_ba) == 0)
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
	kaon_vcpu_stop(va);
	kaon_vcpu_stop(vb);
	kaon_dpdk_eal_cleanup();
	return rc;
}

/* ------------------------------------------------------------- helpers */

struct echo_srv {
	uint16_t port;
	int conns;       /* serve this many connections, then return */
};

static void *echo_conn(void *arg)
{
	kaon_sock *c = arg;
	char buf[16384];
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
	struct echo_srv *e = arg;
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", e->port);
	kaon_sock *ls;
	int rc = kaon_listen(&ls, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	for (int i = 0; i < e->conns; i++) {
		kaon_sock *c;
		rc = kaon_accept(ls, &c, NULL, kaon_deadline_in(20000 * MS));
		if (rc < 0)
			break;
		kaon_go(NULL, &o, echo_conn, c);
	}
	kaon_close(ls);
	return (void *)(intptr_t)rc;
}

/* Connect to @p port on A, 198.18.0.2. The server coroutine listens on
 * another vcpu a moment after it starts: a refusal within @p ms means "not
 * yet", so try again until then (a loaded machine made 5 ms too short). */
static int connect_a(kaon_sock **c, uint16_t port, int64_t ms)
{
	kaon_addr a;
	kaon_addr_parse(&a, "198.18.0.2", port);
	int64_t until = kaon_deadline_in(ms * MS);
	for (;;) {
		int rc = kaon_connect(c, &a, NULL, until);
		if (rc != -ECONNREFUSED || kaon_now() >= until)
			return rc;
		kaon_sleep_until(kaon_deadline_in(MS));
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint8_t rnd8(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint8_t)rng_state;
}

struct client_job {
	uint16_t port;
	size_t bytes;
	int result;
};

static void *echo_client(void *arg)
{
	struct client_job *j = arg;
	kaon_sock *c;
	int rc = connect_a(&c, j->port, 5000);
	if (rc < 0) {
		j->result = rc;
		return NULL;
	}
	uint8_t *out = malloc(j->bytes), *in = malloc(j->bytes);
	for (size_t i = 0; i < j->bytes; i++)
		out[i] = rnd8();
	size_t sent = 0, got = 0;
	/* Interleave writes and reads so neither side's buffers fill up. */
	while (got < j->bytes) {
		if (sent < j->bytes) {
			size_t chunk = j->bytes - sent < 8192 ? j->bytes - sent : 8192;
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
	if (got == j->bytes)
		j->result = memcmp(in, out, j->bytes) ? -EBADMSG : 0;
	kaon_close(c);
	free(in);
	free(out);
	return NULL;
}

/* Run @p fn(arg) on vcpu @p v and wait for it from a plain coroutine. */
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

/* ---------------------------------------------------------------- tests */

struct pair {
	struct echo_srv srv;
	struct client_job *jobs;
	int njobs;
};

static void *pair_body(void *p)
{
	struct pair *pr = p;
	kaon_co *srv, *cli[16];
	kaon_go_on(va, &srv, NULL, echo_server, &pr->srv);
	kaon_sleep_until(kaon_deadline_in(5 * MS)); /* let it listen */
	for (int i = 0; i < pr->njobs; i++)
		kaon_go_on(vb, &cli[i], NULL, echo_client, &pr->jobs[i]);
	for (int i = 0; i < pr->njobs; i++)
		kaon_join(cli[i], KAON_FOREVER, NULL);
	void *r;
	kaon_join(srv, KAON_FOREVER, &r);
	return r;
}

static void t_tcp_echo(void **s)
{
	(void)s;
	struct client_job jobs[4] = {
		{ 7000, 1, 1 }, { 7000, 1000, 1 }, { 7000, 100000, 1 }, { 7000, 2 << 20, 1 },
	};
	struct pair pr = { { 7000, 4 }, jobs, 4 };
	void *r = run_main(pair_body, &pr);
	for (int i = 0; i < 4; i++) {
		if (jobs[i].result != 0)
			print_message("job %d (%zu bytes): %d\n", i, jobs[i].bytes, jobs[i].result);
		assert_int_equal(jobs[i].result, 0);
	}
	assert_int_equal((intptr_t)r, 0);
}

static void *refused_client(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_addr_parse(&a, "198.18.0.2", 9); /* nobody listens */
	kaon_sock *c;
	return (void *)(intptr_t)kaon_connect(&c, &a, NULL, kaon_deadline_in(3000 * MS));
}

static void t_refused(void **s)
{
	(void)s;
	assert_int_equal((intptr_t)run_on(vb, refused_client, NULL), -ECONNREFUSED);
}

static void *deadline_client(void *arg)
{
	(void)arg;
	kaon_sock *c;
	int rc = connect_a(&c, 7001, 3000);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	char b;
	int64_t t0 = kaon_now();
	ssize_t n = kaon_recv(c, &b, 1, kaon_deadline_in(20 * MS)); /* echo: nothing sent */
	int64_t took = kaon_now() - t0;
	kaon_close(c);
	if (n != -ETIMEDOUT)
		return (void *)(intptr_t)(n ? n : -1000);
	return (void *)(intptr_t)(took >= 20 * MS && took < 500 * MS ? 0 : -2000);
}

static void *deadline_body(void *p)
{
	(void)p;
	struct echo_srv srv = { 7001, 1 };
	kaon_co *sc, *cc;
	kaon_go_on(va, &sc, NULL, echo_server, &srv);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_go_on(vb, &cc, NULL, deadline_client, NULL);
	void *r;
	kaon_join(cc, KAON_FOREVER, &r);
	kaon_join(sc, KAON_FOREVER, NULL);
	return r;
}

static void t_deadline(void **s)
{
	(void)s;
	assert_int_equal((intptr_t)run_main(deadline_body, NULL), 0);
}

static void *udp_server(void *arg)
{
	(void)arg;
	kaon_addr a, from;
	kaon_addr_parse(&a, "0.0.0.0", 5353);
	kaon_sock *u;
	int rc = kaon_udp_bind(&u, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	char buf[2048];
	ssize_t n = kaon_recvfrom(u, buf, sizeof(buf), &from, kaon_deadline_in(3000 * MS));
	if (n > 0)
		n = kaon_sendto(u, buf, (size_t)n, &from, KAON_FOREVER);
	kaon_close(u);
	return (void *)(intptr_t)(n > 0 ? 0 : n);
}

static void *udp_client(void *arg)
{
	(void)arg;
	kaon_addr me, srv;
	kaon_addr_parse(&me, "0.0.0.0", 5454);
	kaon_addr_parse(&srv, "198.18.0.2", 5353);
	kaon_sock *u;
	int rc = kaon_udp_bind(&u, &me, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	const char msg[] = "kaon udp";
	char buf[64];
	ssize_t n = -1;
	/* The first datagram may wait on ARP; retry a few times. */
	for (int i = 0; i < 20 && n <= 0; i++) {
		kaon_sendto(u, msg, sizeof(msg), &srv, KAON_FOREVER);
		n = kaon_recvfrom(u, buf, sizeof(buf), NULL, kaon_deadline_in(100 * MS));
	}
	kaon_close(u);
	return (void *)(intptr_t)(n == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)) ? 0 : -1);
}

static void *udp_body(void *p)
{
	(void)p;
	kaon_co *sc, *cc;
	kaon_go_on(va, &sc, NULL, udp_server, NULL);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_go_on(vb, &cc, NULL, udp_client, NULL);
	void *r1, *r2;
	kaon_join(cc, KAON_FOREVER, &r1);
	kaon_join(sc, KAON_FOREVER, &r2);
	return (void *)((intptr_t)r1 | (intptr_t)r2);
}

static void t_udp(void **s)
{
	(void)s;
	assert_int_equal((intptr_t)run_main(udp_body, NULL), 0);
}

/* ---- senders wait for memory: many connections into readers that start
 * late. Their send buffers and the peer's receive queues together would
 * take the whole pool (the ring ports pass mbufs across, so B's pool holds
 * both): the budget makes kaon_send wait for ACKs instead of failing with
 * -ENOMEM, and everything arrives. */

#define WAIT_CONNS 16
#define WAIT_BYTES (512u * 1024u)

static uint8_t wait_byte(size_t off, int conn)
{
	return (uint8_t)(off * 7 + (size_t)conn);
}

static void *late_reader(void *arg)
{
	kaon_sock *c = arg;
	kaon_sleep_until(kaon_deadline_in(300 * MS));
	static __thread uint8_t buf[16384];
	size_t got = 0;
	int conn = -1;
	intptr_t bad = 0;
	for (;;) {
		ssize_t n = kaon_recv(c, buf, sizeof(buf), kaon_deadline_in(10000 * MS));
		if (n <= 0) {
			if (n < 0)
				bad = n;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (conn < 0)
				conn = buf[0]; /* the first byte names the connection */
			if (buf[i] != wait_byte(got + (size_t)i, conn))
				bad = -EBADMSG;
		}
		got += (size_t)n;
	}
	kaon_close(c);
	if (!bad && got != WAIT_BYTES)
		bad = -EPIPE;
	return (void *)bad;
}

static void *late_server(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", 7200);
	kaon_sock *ls;
	int rc = kaon_listen(&ls, &a, NULL);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	kaon_co *r[WAIT_CONNS];
	int n = 0;
	for (; n < WAIT_CONNS; n++) {
		kaon_sock *c;
		rc = kaon_accept(ls, &c, NULL, kaon_deadline_in(20000 * MS));
		if (rc < 0)
			break;
		kaon_go(&r[n], NULL, late_reader, c);
	}
	kaon_close(ls);
	intptr_t bad = rc < 0 ? rc : 0;
	for (int i = 0; i < n; i++) {
		void *v;
		kaon_join(r[i], KAON_FOREVER, &v);
		if (v)
			bad = (intptr_t)v;
	}
	return (void *)bad;
}

static void *eager_writer(void *arg)
{
	intptr_t conn = (intptr_t)arg;
	kaon_sock *c;
	int rc = connect_a(&c, 7200, 5000);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	uint8_t *out = malloc(WAIT_BYTES);
	for (size_t i = 0; i < WAIT_BYTES; i++)
		out[i] = wait_byte(i, (int)conn);
	ssize_t n = kaon_write_full(c, out, WAIT_BYTES, kaon_deadline_in(20000 * MS));
	free(out);
	kaon_close(c);
	return (void *)(intptr_t)(n == (ssize_t)WAIT_BYTES ? 0 : (n < 0 ? n : -EPIPE));
}

static void *wait_body(void *p)
{
	(void)p;
	kaon_co *sc, *cc[WAIT_CONNS];
	kaon_go_on(va, &sc, NULL, late_server, NULL);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	for (intptr_t i = 0; i < WAIT_CONNS; i++)
		kaon_go_on(vb, &cc[i], NULL, eager_writer, (void *)i);
	intptr_t bad = 0;
	for (int i = 0; i < WAIT_CONNS; i++) {
		void *v;
		kaon_join(cc[i], KAON_FOREVER, &v);
		if (v) {
			print_message("writer %d: %d\n", i, (int)(intptr_t)v);
			bad = (intptr_t)v;
		}
	}
	void *v;
	kaon_join(sc, KAON_FOREVER, &v);
	if (v) {
		print_message("server: %d\n", (int)(intptr_t)v);
		bad = (intptr_t)v;
	}
	return (void *)bad;
}

static void t_send_waits_for_memory(void **s)
{
	(void)s;
	assert_int_equal((intptr_t)run_main(wait_body, NULL), 0);
}

/* A vector write leaves as one segment, as writev(2) on Linux, not one
 * segment per piece: kaon-bench's 8-byte header and its body went out as
 * two segments each, halving a ping-pong's rate on kaon's stack. */
static void *sendv_client(void *arg)
{
	(void)arg;
	kaon_sock *c;
	int rc = connect_a(&c, 7003, 3000);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	kaon_sock_setopt(c, KAON_SO_NODELAY, 1);
	char hdr[8] = "header!", body[40], tail[16];
	memset(body, 'b', sizeof(body));
	memset(tail, 't', sizeof(tail));
	struct iovec iov[4] = { { hdr, 8 }, { NULL, 0 }, { body, 40 }, { tail, 16 } };
	const struct kn_stats *st = kn_stack_stats(kaon_user_stack());
	/* No poll can run inside the call: what tcp_tx counts is its output. */
	uint64_t tx0 = st->tcp_tx;
	ssize_t n = kaon_sendv(c, iov, 4, kaon_deadline_in(1000 * MS));
	uint64_t segs = st->tcp_tx - tx0;
	char back[64];
	ssize_t got = n == 64 ? kaon_read_full(c, back, 64, kaon_deadline_in(3000 * MS)) : -1;
	kaon_close(c);
	if (n != 64 || got != 64)
		return (void *)(intptr_t)-1000;
	if (memcmp(back, hdr, 8) || memcmp(back + 8, body, 40) || memcmp(back + 48, tail, 16))
		return (void *)(intptr_t)-EBADMSG;
	if (segs != 1)
		print_message("4 pieces, 64 bytes: %llu segments\n", (unsigned long long)segs);
	return (void *)(intptr_t)(segs == 1 ? 0 : -2000);
}

static void *sendv_body(void *p)
{
	(void)p;
	struct echo_srv srv = { 7003, 1 };
	kaon_co *sc, *cc;
	kaon_go_on(va, &sc, NULL, echo_server, &srv);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_go_on(vb, &cc, NULL, sendv_client, NULL);
	void *r;
	kaon_join(cc, KAON_FOREVER, &r);
	kaon_join(sc, KAON_FOREVER, NULL);
	return r;
}

static void t_sendv_one_segment(void **s)
{
	(void)s;
	assert_int_equal((intptr_t)run_main(sendv_body, NULL), 0);
}

static void *not_on_user_vcpu(void *p)
{
	(void)p;
	kaon_addr a;
	kaon_addr_parse(&a, "0.0.0.0", 7100);
	kaon_listen_opts o;
	kaon_listen_opts_init(&o);
	o.stack = "user";
	kaon_sock *ls;
	return (void *)(intptr_t)kaon_listen(&ls, &a, &o);
}

static void t_wrong_vcpu(void **s)
{
	(void)s;
	/* The user stack lives on its vcpus: elsewhere it says so. */
	assert_int_equal((intptr_t)run_main(not_on_user_vcpu, NULL), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_tcp_echo),
		cmocka_unit_test(t_refused),
		cmocka_unit_test(t_deadline),
		cmocka_unit_test(t_udp),
		cmocka_unit_test(t_send_waits_for_memory),
		cmocka_unit_test(t_wrong_vcpu),
		cmocka_unit_test(t_sendv_one_segment),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
