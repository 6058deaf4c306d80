/* SPDX-License-Identifier: MIT */
/*
 * The socket API on the kernel stack, once per engine (argv[1]): echo
 * integrity from 1 B to 16 MiB, 1000 concurrent connections, accept under
 * load, deadlines, interrupts, peer reset, half-close, bad addresses, fd
 * exhaustion, UDP, options.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "io/io_test.h"
#include "kaon/sock.h"
#include "kaon/sync.h"

#define SEC (1000 * MS)

/* --------------------------------------------------------------- helpers */

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(next_rand() >> 32);
}

static kaon_sock *listen_any(kaon_addr *where)
{
	kaon_addr a;
	assert_int_equal(kaon_addr_parse(&a, "127.0.0.1", 0), 0);
	kaon_sock *ls;
	assert_int_equal(kaon_listen(&ls, &a, NULL), 0);
	assert_int_equal(kaon_sock_local(ls, where), 0);
	assert_true(kaon_addr_port(where) != 0);
	return ls;
}

static kaon_sock *dial(const kaon_addr *a)
{
	kaon_sock *s;
	assert_int_equal(kaon_connect(&s, a, NULL, kaon_deadline_in(10 * SEC)), 0);
	return s;
}

/* Echo server: an acceptor per listener, a detached handler per connection. */
static void *echo_handler(void *arg)
{
	kaon_sock *s = arg;
	char buf[8192];
	for (;;) {
		ssize_t n = kaon_recv(s, buf, sizeof(buf), KAON_FOREVER);
		if (n <= 0 || kaon_write_full(s, buf, (size_t)n, KAON_FOREVER) < 0)
			break;
	}
	kaon_close(s);
	return NULL;
}

static int accepted;

static void *echo_acceptor(void *arg)
{
	kaon_sock *ls = arg;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.detached = 1;
	for (;;) {
		kaon_sock *s;
		int r = kaon_accept(ls, &s, NULL, KAON_FOREVER);
		if (r < 0)
			break;
		accepted++;
		assert_int_equal(kaon_go(NULL, &o, echo_handler, s), 0);
	}
	return NULL;
}

static kaon_co *start_acceptor(kaon_sock *ls)
{
	kaon_co *co;
	assert_int_equal(kaon_go(&co, NULL, echo_acceptor, ls), 0);
	return co;
}

static void stop_acceptor(kaon_co *co, kaon_sock *ls)
{
	kaon_interrupt(co, ECANCELED);
	assert_int_equal(kaon_join(co, KAON_FOREVER, NULL), 0);
	kaon_close(ls);
}

/* ------------------------------------------------------- echo integrity */

struct xfer {
	kaon_sock *s;
	const unsigned char *buf;
	size_t len;
};

/* Send in random slices, some through the iovec call. */
static void *sender(void *arg)
{
	struct xfer *x = arg;
	size_t off = 0;
	while (off < x->len) {
		size_t n = 1 + (size_t)(next_rand() % (256 * 1024));
		if (n > x->len - off)
			n = x->len - off;
		if (next_rand() & 1) {
			assert_int_equal(kaon_write_full(x->s, x->buf + off, n, kaon_deadline_in(30 * SEC)),
					 (ssize_t)n);
		} else {
			size_t h = n / 2;
			struct iovec iov[3] = { { (void *)(x->buf + off), h },
						{ NULL, 0 },
						{ (void *)(x->buf + off + h), n - h } };
			assert_int_equal(kaon_writev_full(x->s, iov, 3, kaon_deadline_in(30 * SEC)),
					 (ssize_t)n);
		}
		off += n;
	}
	return NULL;
}

static void echo_one(const kaon_addr *a, size_t len)
{
	unsigned char *out = malloc(len), *in = malloc(len);
	assert_non_null(out);
	assert_non_null(in);
	fill(out, len);
	kaon_sock *c = dial(a);
	struct xfer x = { c, out, len };
	kaon_co *w;
	assert_int_equal(kaon_go(&w, NULL, sender, &x), 0);
	if (len > 2 && (len & 1)) {
		size_t h = len / 3;
		struct iovec iov[2] = { { in, h }, { in + h, len - h } };
		assert_int_equal(kaon_readv_full(c, iov, 2, kaon_deadline_in(30 * SEC)), (ssize_t)len);
	} else {
		assert_int_equal(kaon_read_full(c, in, len, kaon_deadline_in(30 * SEC)), (ssize_t)len);
	}
	assert_int_equal(kaon_join(w, KAON_FOREVER, NULL), 0);
	assert_memory_equal(in, out, len);
	kaon_close(c);
	free(out);
	free(in);
}

static void *integrity_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a);
	kaon_co *acc = start_acceptor(ls);
	static const size_t sizes[] = { 1, 2, 3, 100, 4095, 65536, 65537, 1 << 20,
					3 * (1 << 20) + 5, 16 << 20 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		echo_one(&a, sizes[i]);
	/* A few random sizes too. */
	for (int i = 0; i < 8; i++)
		echo_one(&a, 1 + (size_t)(next_rand() % (2 << 20)));
	stop_acceptor(acc, ls);
	return NULL;
}

static void t_integrity(void **s)
{
	(void)s;
	run_engine(integrity_body, NULL);
}

/* ------------------------------------------- many connections, accept load */

enum { MANY = 1000 };

struct many {
	const kaon_addr *a;
	int id;
	kaon_sem *all_open;
	kaon_sem *go_close;
	int ok;
};

static void *many_client(void *arg)
{
	struct many *m = arg;
	kaon_sock *c;
	int r = kaon_connect(&c, m->a, NULL, kaon_deadline_in(20 * SEC));
	if (r < 0) {
		fprintf(stderr, "client %d: connect: %s\n", m->id, strerror(-r));
		kaon_sem_post(m->all_open);
		return NULL;
	}
	char msg[100], back[100];
	memset(msg, 'a' + m->id % 26, sizeof(msg));
	memcpy(msg, &m->id, sizeof(m->id));
	if (kaon_write_full(c, msg, sizeof(msg), kaon_deadline_in(20 * SEC)) == sizeof(msg) &&
	    kaon_read_full(c, back, sizeof(back), kaon_deadline_in(20 * SEC)) == sizeof(back) &&
	    !memcmp(msg, back, sizeof(msg)))
		m->ok = 1;
	kaon_sem_post(m->all_open);
	/* Stay open until every client is connected and served. */
	kaon_sem_wait(m->go_close, kaon_deadline_in(30 * SEC));
	kaon_close(c);
	return NULL;
}

static void *many_body(void *arg)
{
	int nacceptors = (int)(intptr_t)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a);
	kaon_co *acc[4];
	accepted = 0;
	for (int i = 0; i < nacceptors; i++)
		acc[i] = start_acceptor(ls);
	static struct many m[MANY];
	kaon_co *cl[MANY];
	kaon_sem all_open, go_close;
	kaon_sem_init(&all_open, 0);
	kaon_sem_init(&go_close, 0);
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.stack_size = 32 * 1024;
	for (int i = 0; i < MANY; i++) {
		m[i] = (struct many){ .a = &a, .id = i, .all_open = &all_open,
				      .go_close = &go_close };
		assert_int_equal(kaon_go(&cl[i], &o, many_client, &m[i]), 0);
	}
	for (int i = 0; i < MANY; i++)
		assert_int_equal(kaon_sem_wait(&all_open, kaon_deadline_in(60 * SEC)), 0);
	int ok = 0;
	for (int i = 0; i < MANY; i++)
		ok += m[i].ok;
	assert_int_equal(ok, MANY);
	assert_int_equal(accepted, MANY);
	for (int i = 0; i < MANY; i++)
		kaon_sem_post(&go_close);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(kaon_join(cl[i], KAON_FOREVER, NULL), 0);
	for (int i = 0; i < nacceptors; i++) {
		kaon_interrupt(acc[i], ECANCELED);
		kaon_join(acc[i], KAON_FOREVER, NULL);
	}
	kaon_close(ls);
	kaon_sem_destroy(&all_open);
	kaon_sem_destroy(&go_close);
	return NULL;
}

static void t_many_connections(void **s)
{
	(void)s;
	if (raise_nofile(2 * MANY + 100) < 2 * MANY + 100)
		skip();
	run_engine(many_body, (void *)(intptr_t)1);
}

static void t_accept_under_load(void **s)
{
	(void)s;
	if (raise_nofile(2 * MANY + 100) < 2 * MANY + 100)
		skip();
	run_engine(many_body, (void *)(intptr_t)4);
}

/* ------------------------------------------------- deadlines and interrupts */

static void *recv_forever(void *arg)
{
	char c;
	return (void *)(intptr_t)kaon_recv(arg, &c, 1, KAON_FOREVER);
}

static void *accept_forever(void *arg)
{
	kaon_sock *s;
	return (void *)(intptr_t)kaon_accept(arg, &s, NULL, KAON_FOREVER);
}

static void *deadline_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a), *s, *c = dial(&a);
	char buf[16];
	assert_int_equal(kaon_accept(ls, &s, NULL, kaon_deadline_in(5 * SEC)), 0);

	int64_t t0 = kaon_now();
	assert_int_equal(kaon_recv(s, buf, sizeof(buf), kaon_deadline_in(20 * MS)), -ETIMEDOUT);
	assert_true(kaon_now() - t0 >= 20 * MS);
	assert_int_equal(kaon_recv(s, buf, sizeof(buf), 0), -ETIMEDOUT);
	kaon_sock *none;
	assert_int_equal(kaon_accept(ls, &none, NULL, kaon_deadline_in(10 * MS)), -ETIMEDOUT);

	/* read_full with part of the bytes: the deadline still ends it. */
	assert_int_equal(kaon_write_full(c, "abc", 3, KAON_FOREVER), 3);
	assert_int_equal(kaon_read_full(s, buf, 10, kaon_deadline_in(20 * MS)), -ETIMEDOUT);

	/* Interrupts end blocked receive and accept calls. */
	kaon_co *r;
	void *res;
	assert_int_equal(kaon_go(&r, NULL, recv_forever, s), 0);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_interrupt(r, ECANCELED);
	assert_int_equal(kaon_join(r, KAON_FOREVER, &res), 0);
	assert_int_equal((intptr_t)res, -ECANCELED);
	assert_int_equal(kaon_go(&r, NULL, accept_forever, ls), 0);
	kaon_sleep_until(kaon_deadline_in(5 * MS));
	kaon_interrupt(r, ECANCELED);
	assert_int_equal(kaon_join(r, KAON_FOREVER, &res), 0);
	assert_int_equal((intptr_t)res, -ECANCELED);

	/* The connection is still good. */
	assert_int_equal(kaon_write_full(c, "d", 1, KAON_FOREVER), 1);
	assert_int_equal(kaon_read_full(s, buf, 1, kaon_deadline_in(5 * SEC)), 1);
	assert_int_equal(buf[0], 'd');

	/* A full send buffer: send blocks until the deadline. */
	kaon_sock_setopt(s, KAON_SO_SNDBUF, 4096);
	static char big[1 << 16];
	ssize_t n;
	do {
		n = kaon_send(s, big, sizeof(big), kaon_deadline_in(20 * MS));
	} while (n > 0);
	assert_int_equal(n, -ETIMEDOUT);
	kaon_close(c);
	kaon_close(s);
	kaon_close(ls);
	return NULL;
}

static void t_deadlines(void **s)
{
	(void)s;
	run_engine(deadline_body, NULL);
}

/* ------------------------------------------------ peer reset, half-close */

static void *reset_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a), *s, *c = dial(&a);
	char buf[16];
	assert_int_equal(kaon_accept(ls, &s, NULL, kaon_deadline_in(5 * SEC)), 0);
	assert_int_equal(kaon_sock_setopt(c, KAON_SO_LINGER0, 1), 0);
	int v = 0;
	assert_int_equal(kaon_sock_getopt(c, KAON_SO_LINGER0, &v), 0);
	assert_int_equal(v, 1);
	kaon_close(c); /* sends RST */
	assert_int_equal(kaon_recv(s, buf, sizeof(buf), kaon_deadline_in(5 * SEC)), -ECONNRESET);
	ssize_t w = kaon_send(s, "x", 1, kaon_deadline_in(5 * SEC));
	assert_true(w == -EPIPE || w == -ECONNRESET);
	kaon_close(s);

	/* Writing to a peer that closed: the first send may pass, then EPIPE. */
	c = dial(&a);
	assert_int_equal(kaon_accept(ls, &s, NULL, kaon_deadline_in(5 * SEC)), 0);
	kaon_close(c);
	for (int i = 0; i < 100; i++) {
		w = kaon_send(s, "x", 1, kaon_deadline_in(5 * SEC));
		if (w < 0)
			break;
		kaon_sleep_until(kaon_deadline_in(1 * MS));
	}
	assert_true(w == -EPIPE || w == -ECONNRESET);
	kaon_close(s);

	/* read_full cut short by the end of the stream. */
	c = dial(&a);
	assert_int_equal(kaon_accept(ls, &s, NULL, kaon_deadline_in(5 * SEC)), 0);
	assert_int_equal(kaon_write_full(c, "abc", 3, KAON_FOREVER), 3);
	kaon_close(c);
	assert_int_equal(kaon_read_full(s, buf, 10, kaon_deadline_in(5 * SEC)), -EPIPE);
	kaon_close(s);
	kaon_close(ls);
	return NULL;
}

static void t_peer_reset(void **s)
{
	(void)s;
	run_engine(reset_body, NULL);
}

static void *half_close_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a), *s, *c = dial(&a);
	char buf[16];
	assert_int_equal(kaon_accept(ls, &s, NULL, kaon_deadline_in(5 * SEC)), 0);
	assert_int_equal(kaon_write_full(c, "hello", 5, KAON_FOREVER), 5);
	assert_int_equal(kaon_shutdown(c, SHUT_WR), 0);
	assert_int_equal(kaon_shutdown(c, 42), -EINVAL);
	/* The server reads everything, then the end of the stream... */
	assert_int_equal(kaon_read_full(s, buf, 5, kaon_deadline_in(5 * SEC)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(kaon_recv(s, buf, sizeof(buf), kaon_deadline_in(5 * SEC)), 0);
	/* ...and can still answer on its open half. */
	assert_int_equal(kaon_write_full(s, "world", 5, KAON_FOREVER), 5);
	assert_int_equal(kaon_shutdown(s, SHUT_WR), 0);
	assert_int_equal(kaon_read_full(c, buf, 5, kaon_deadline_in(5 * SEC)), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(kaon_recv(c, buf, sizeof(buf), kaon_deadline_in(5 * SEC)), 0);
	kaon_close(c);
	kaon_close(s);
	kaon_close(ls);
	return NULL;
}

static void t_half_close(void **s)
{
	(void)s;
	run_engine(half_close_body, NULL);
}

/* kaon_sendv_ref on a kernel socket: the lent piece is copied and released
 * exactly once before the call returns, an error included. */
static int ref_released;

static void ref_release(void *arg)
{
	(void)arg;
	ref_released++;
}

static void *sendv_ref_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a), *s, *c = dial(&a);
	assert_int_equal(kaon_accept(ls, &s, NULL, kaon_deadline_in(5 * SEC)), 0);
	static unsigned char body[100000], got[100005];
	fill(body, sizeof(body));
	struct iovec iov[2] = { { "head:", 5 }, { body, sizeof(body) } };
	kaon_ref ref[2] = { { NULL, NULL, NULL }, { ref_release, body, NULL } };
	ref_released = 0;
	ssize_t n = kaon_sendv_ref(c, iov, ref, 2, kaon_deadline_in(5 * SEC));
	assert_true(n > 5);
	assert_int_equal(ref_released, 1);
	if ((size_t)n < sizeof(got))
		assert_int_equal(kaon_write_full(c, body + n - 5, sizeof(got) - (size_t)n,
						 KAON_FOREVER), (ssize_t)(sizeof(got) - (size_t)n));
	assert_int_equal(kaon_read_full(s, got, sizeof(got), kaon_deadline_in(5 * SEC)),
			 (ssize_t)sizeof(got));
	assert_memory_equal(got, "head:", 5);
	assert_memory_equal(got + 5, body, sizeof(body));
	/* Shut for writing: an error, and still one release. */
	assert_int_equal(kaon_shutdown(c, SHUT_WR), 0);
	assert_true(kaon_sendv_ref(c, iov, ref, 2, kaon_deadline_in(5 * SEC)) < 0);
	assert_int_equal(ref_released, 2);
	kaon_close(c);
	kaon_close(s);
	kaon_close(ls);
	return NULL;
}

static void t_sendv_ref(void **s)
{
	(void)s;
	run_engine(sendv_ref_body, NULL);
}

/* ------------------------------------------------------ addresses, errors */

static void *errors_body(void *arg)
{
	(void)arg;
	kaon_addr a, b;
	assert_int_equal(kaon_addr_parse(&a, "999.1.1.1", 80), -EINVAL);
	assert_int_equal(kaon_addr_parse(&a, "example.com", 80), -EINVAL);
	assert_int_equal(kaon_addr_parse(&a, "::1", 80), 0);
	char txt[KAON_ADDR_STRLEN];
	assert_string_equal(kaon_addr_format(&a, txt, sizeof(txt)), "[::1]:80");
	assert_int_equal(kaon_addr_parse(&a, "[::1]", 81), 0);
	assert_int_equal(kaon_addr_port(&a), 81);
	assert_int_equal(kaon_addr_parse(&a, "localhost", 7), 0);
	assert_string_equal(kaon_addr_format(&a, txt, sizeof(txt)), "127.0.0.1:7");

	/* Address in use, address not ours, unknown stack. */
	kaon_sock *ls = listen_any(&a), *x;
	assert_int_equal(kaon_listen(&x, &a, NULL), -EADDRINUSE);
	assert_int_equal(kaon_addr_parse(&b, "192.0.2.1", 0), 0);
	assert_int_equal(kaon_listen(&x, &b, NULL), -EADDRNOTAVAIL);
	kaon_listen_opts lo;
	kaon_listen_opts_init(&lo);
	lo.stack = "no-such-stack";
	assert_int_equal(kaon_listen(&x, &a, &lo), -ENOENT);
	lo.stack = "kernel";
	lo.reuseport = true;
	assert_int_equal(kaon_listen(&x, &a, &lo), -EADDRINUSE); /* first had no reuseport */

	/* Nobody listening: refused. */
	kaon_close(ls);
	assert_int_equal(kaon_connect(&x, &a, NULL, kaon_deadline_in(5 * SEC)), -ECONNREFUSED);

	/* Reuseport listeners share a port. */
	kaon_sock *l1, *l2;
	assert_int_equal(kaon_addr_parse(&b, "127.0.0.1", 0), 0);
	assert_int_equal(kaon_listen(&l1, &b, &lo), 0);
	assert_int_equal(kaon_sock_local(l1, &b), 0);
	assert_int_equal(kaon_listen(&l2, &b, &lo), 0);
	assert_string_equal(kaon_sock_stack_name(l2), "kernel");
	kaon_close(l1);
	kaon_close(l2);
	return NULL;
}

static void t_errors(void **s)
{
	(void)s;
	run_engine(errors_body, NULL);
}

static int ipv6_missing;

static void *ipv6_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls, *s, *c;
	assert_int_equal(kaon_addr_parse(&a, "::1", 0), 0);
	int r = kaon_listen(&ls, &a, NULL);
	if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
		ipv6_missing = 1;
		return NULL;
	}
	assert_int_equal(r, 0);
	assert_int_equal(kaon_sock_local(ls, &a), 0);
	assert_int_equal(kaon_connect(&c, &a, NULL, kaon_deadline_in(5 * SEC)), 0);
	kaon_addr peer;
	assert_int_equal(kaon_accept(ls, &s, &peer, kaon_deadline_in(5 * SEC)), 0);
	char txt[KAON_ADDR_STRLEN];
	assert_non_null(strstr(kaon_addr_format(&peer, txt, sizeof(txt)), "[::1]:"));
	char b;
	assert_int_equal(kaon_write_full(c, "6", 1, KAON_FOREVER), 1);
	assert_int_equal(kaon_read_full(s, &b, 1, kaon_deadline_in(5 * SEC)), 1);
	assert_int_equal(b, '6');
	kaon_close(c);
	kaon_close(s);
	kaon_close(ls);
	return NULL;
}

static void t_ipv6(void **s)
{
	(void)s;
	run_engine(ipv6_body, NULL);
	if (ipv6_missing)
		skip();
}

/* ------------------------------------------------------ fd exhaustion */

static void *emfile_body(void *arg)
{
	(void)arg;
	kaon_addr a;
	kaon_sock *ls = listen_any(&a), *s1, *s2, *c1 = dial(&a), *c2 = dial(&a);
	assert_int_equal(kaon_accept(ls, &s1, NULL, kaon_deadline_in(5 * SEC)), 0);
	/* c2 waits in the backlog. No descriptor left below the limit: */
	struct rlimit old, rl;
	getrlimit(RLIMIT_NOFILE, &old);
	int lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	rl = old;
	rl.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

	int r = kaon_accept(ls, &s2, NULL, kaon_deadline_in(5 * SEC));
	assert_true(r == -EMFILE || r == -ENFILE);
	/* The established connection is still served. */
	char buf[4];
	assert_int_equal(kaon_write_full(c1, "ping", 4, KAON_FOREVER), 4);
	assert_int_equal(kaon_read_full(s1, buf, 4, kaon_deadline_in(5 * SEC)), 4);
	assert_int_equal(kaon_write_full(s1, buf, 4, KAON_FOREVER), 4);
	assert_int_equal(kaon_read_full(c1, buf, 4, kaon_deadline_in(5 * SEC)), 4);
	/* A descriptor freed: the waiting connection is accepted. */
	kaon_close(s1);
	assert_int_equal(kaon_accept(ls, &s2, NULL, kaon_deadline_in(5 * SEC)), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(kaon_write_full(c2, "pong", 4, KAON_FOREVER), 4);
	assert_int_equal(kaon_read_full(s2, buf, 4, kaon_deadline_in(5 * SEC)), 4);
	assert_memory_equal(buf, "pong", 4);
	kaon_close(c1);
	kaon_close(c2);
	kaon_close(s2);
	kaon_close(ls);
	return NULL;
}

static void t_emfile(void **s)
{
	(void)s;
	run_engine(emfile_body, NULL);
}

/* ------------------------------------------------------ UDP and options */

static void *udp_opts_body(void *arg)
{
	(void)arg;
	kaon_addr a, b, from;
	assert_int_equal(kaon_addr_parse(&a, "127.0.0.1", 0), 0);
	kaon_sock *u1, *u2;
	assert_int_equal(kaon_udp_bind(&u1, &a, NULL), 0);
	assert_int_equal(kaon_udp_bind(&u2, &a, NULL), 0);
	assert_int_equal(kaon_sock_local(u1, &a), 0);
	assert_int_equal(kaon_sock_local(u2, &b), 0);
	char buf[32];
	assert_int_equal(kaon_recvfrom(u1, buf, sizeof(buf), &from, kaon_deadline_in(10 * MS)),
			 -ETIMEDOUT);
	assert_int_equal(kaon_sendto(u2, "datagram", 8, &a, kaon_deadline_in(5 * SEC)), 8);
	assert_int_equal(kaon_recvfrom(u1, buf, sizeof(buf), &from, kaon_deadline_in(5 * SEC)), 8);
	assert_memory_equal(buf, "datagram", 8);
	assert_int_equal(kaon_addr_port(&from), kaon_addr_port(&b));
	/* Two datagrams queued: a short read does not mean drained. */
	assert_int_equal(kaon_sendto(u2, "one", 3, &a, kaon_deadline_in(5 * SEC)), 3);
	assert_int_equal(kaon_sendto(u2, "two", 3, &a, kaon_deadline_in(5 * SEC)), 3);
	assert_int_equal(kaon_recv(u1, buf, sizeof(buf), kaon_deadline_in(5 * SEC)), 3);
	assert_int_equal(kaon_recv(u1, buf, sizeof(buf), kaon_deadline_in(5 * SEC)), 3);
	assert_memory_equal(buf, "two", 3);
	kaon_close(u1);
	kaon_close(u2);

	/* TCP options and names. */
	kaon_sock *ls = listen_any(&a), *s, *c = dial(&a);
	kaon_addr peer;
	assert_int_equal(kaon_accept(ls, &s, &peer, kaon_deadline_in(5 * SEC)), 0);
	kaon_addr cl;
	assert_int_equal(kaon_sock_local(c, &cl), 0);
	assert_int_equal(kaon_addr_port(&peer), kaon_addr_port(&cl));
	assert_int_equal(kaon_sock_peer(c, &b), 0);
	assert_int_equal(kaon_addr_port(&b), kaon_addr_port(&a));
	assert_int_equal(kaon_sock_peer(ls, &b), -ENOTCONN);
	int v = -1;
	assert_int_equal(kaon_sock_getopt(c, KAON_SO_NODELAY, &v), 0);
	assert_int_equal(v, 1); /* connect's default */
	assert_int_equal(kaon_sock_setopt(s, KAON_SO_NODELAY, 1), 0);
	assert_int_equal(kaon_sock_setopt(s, KAON_SO_RCVBUF, 65536), 0);
	assert_int_equal(kaon_sock_getopt(s, KAON_SO_RCVBUF, &v), 0);
	assert_true(v >= 65536);
	assert_int_equal(kaon_sock_setopt(s, KAON_SO_KEEPALIVE, 1), 0);
	assert_int_equal(kaon_sock_setopt(s, (kaon_sockopt)99, 1), -EINVAL);
	assert_true(kaon_sock_fd(s) >= 0);
	kaon_close(c);
	kaon_close(s);
	kaon_close(ls);
	return NULL;
}

static void t_udp_opts(void **s)
{
	(void)s;
	run_engine(udp_opts_body, NULL);
}

int main(int argc, char **argv)
{
	test_engine_setup(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_errors),
		cmocka_unit_test(t_udp_opts),
		cmocka_unit_test(t_ipv6),
		cmocka_unit_test(t_deadlines),
		cmocka_unit_test(t_peer_reset),
		cmocka_unit_test(t_half_close),
		cmocka_unit_test(t_sendv_ref),
		cmocka_unit_test(t_emfile),
		cmocka_unit_test(t_integrity),
		cmocka_unit_test(t_many_connections),
		cmocka_unit_test(t_accept_under_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
