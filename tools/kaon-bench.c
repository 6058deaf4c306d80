/* SPDX-License-Identifier: MIT */
/*
 * kaon-bench: load generator for echo servers, on one vcpu.
 *
 * pingpong: each connection sends a request and waits for the same bytes
 * back (checked), then the next request. Sizes are fixed (--size N) or drawn
 * uniformly in [MIN, MAX] (--size MIN-MAX) from a per-connection seeded
 * generator. Large messages are sent in slices while the echo is read, so
 * neither side stalls on full buffers.
 * stream: per connection a writer pipelines SIZE-byte messages (up to a
 * window) while a reader checks the echoed stream; a message's latency runs
 * from the start of its send to its last byte back.
 * send: one-way bulk to a sink (bench/wire_bulk.py sink): per connection
 * its number (8 bytes, big-endian), then the pattern stream in SIZE-byte
 * writes for --duration (warm-up included), then a half close and a wait
 * for the sink's end of stream. The JSON gives each connection's byte count
 * after the number, so the caller can check the sink's hash of it.
 *
 * A run lasts --duration, or until every connection has done --requests N
 * (whichever comes first when both are given); --timeout is the hard limit
 * after which an unfinished run fails and says which connections are stuck.
 *
 * Content: request k of a connection carries k in its first bytes and then
 * a window of a shared pseudo-random pattern of prime period, at an offset
 * drawn from (connection, k); the stream is that pattern from offset 0.
 * Every byte is compared, so a request carries its own content without a
 * per-connection copy (1,000 connections of 1 MiB stay cheap).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"
#include "hist.h"
#include "kaon/co.h"
#include "kaon/io.h"
#include "kaon/sock.h"
#ifdef KAON_TOOLS_HAVE_USER
#include "kaon/net.h"
#include "kaon/user.h"
#endif
#include "kaon/sync.h"

#define PROG "kaon-bench"
#define CONNECT_TIMEOUT_NS (10LL * 1000000000)
#define PP_WINDOW (256 * 1024)   /* --stop-reading: bytes per send */
#define PP_RX (64 * 1024)        /* pingpong: echo read and checked in chunks */
#define PP_HDR 8                 /* pingpong: request number in the first bytes */
#define STREAM_WINDOW (1 << 20)  /* stream: bytes in flight per connection */
#define STREAM_MAX_DEPTH 256
#define STREAM_RX (64 * 1024)
#define PATTERN_PERIOD 65521     /* prime: never a multiple of a message size */
#define USER_LINGER_NS (3LL * 1000000000) /* closing handshakes at exit */
#define STUCK_SHOWN 5            /* stuck or late connections described */

enum phase { CONNECTING, WARMUP, MEASURE, STOPPING };

struct cfg {
	kaon_addr addr;
	long long conns;
	size_t size_min, size_max; /* equal unless --size MIN-MAX */
	int stream;
	int send;                  /* one-way to a sink */
	double duration, warmup;   /* duration < 0: none (--requests only) */
	long long requests;        /* per connection; 0: no limit */
	long long reconnect;       /* close and reopen every K requests; 0: never */
	long long stop_reading;    /* connections that stop reading after one request */
	double max_latency;        /* seconds; 0: no limit */
	double max_stall;          /* seconds without an echoed byte; 0: no limit */
	double timeout;            /* seconds; 0: none */
	int json;
	const char *stack;
	int cpu;
};

struct stats {
	uint64_t requests, bytes;
	hist lat;
};

struct bench {
	struct cfg cfg;
	enum phase phase;
	struct stats st;     /* the measured window only */
	uint64_t all_requests; /* progress: every request, warm-up included */
	uint64_t errors, mismatches, conn_failed;
	uint64_t late;       /* requests over --max-latency, in flight ones included */
	uint64_t stalls;     /* waits over --max-stall, in flight ones included */
	int64_t max_gap;     /* longest wait for an echoed byte, ns */
	uint64_t reconnects;
	int reported;        /* first mismatch already described */
	int timed_out;
	long long finished;  /* connections that did all their --requests */
	kaon_sem connected;  /* one post per connection (its first attempt) */
	kaon_sem done;       /* one post per connection that ends (not stop-reading) */
	const unsigned char *pat;
	const char *engine;
	int64_t send_end;    /* send: when the writers stop (0: not known yet) */
	int result;          /* exit status */
};

struct conn {
	struct bench *b;
	int id;
	kaon_co *co;
	kaon_sock *s;
	int stop_reading;    /* sends for ever, reads nothing after its first request */
	int finished;
	/* pingpong progress, for --max-latency and the --timeout report */
	uint64_t done;       /* requests completed */
	size_t cur, sent, got; /* the request in flight */
	int werr;            /* pingpong: the request writer's error */
	int64_t t0;          /* its start; 0 when none is in flight */
	int64_t last_rx;     /* its last echoed byte (or its start) */
	uint64_t rng;        /* sizes */
	unsigned char hdr[PP_HDR];
	size_t off;          /* its pattern offset */
	unsigned char *rx;
	uint64_t sent_total; /* send: bytes after the connection number */
	/* stream */
	kaon_co *writer;
	kaon_sem credits;
	int64_t *sent_at;    /* ring of STREAM depth send times */
	unsigned depth;
	const unsigned char *pat;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --addr A --port P --conns N --size BYTES|MIN-MAX\n"
		"                  --mode pingpong|stream|send (--duration S | --requests N)\n"
		"                  [--warmup S] [--timeout S] [--max-latency S] [--max-stall S]\n"
		"                  [--reconnect K] [--stop-reading N]\n"
		"                  [--stack epoll|uring|user] [--config FILE] [--cpu N] [--json]\n"
		"Load an echo server and report requests/s, Gb/s (bytes echoed back),\n"
		"latency p50/p90/p99/p99.9/max and errors.\n"
		"  --mode send      one-way to a sink (bench/wire_bulk.py sink): the\n"
		"                   connection's number, then the pattern in SIZE writes\n"
		"                   for --duration; JSON \"sent\": bytes per connection\n"
		"  --size MIN-MAX   pingpong: each request's size uniform in [MIN, MAX]\n"
		"  --requests N     pingpong: each connection does N requests; the run ends\n"
		"                   when all have (or at --duration if given first)\n"
		"  --timeout S      fail if the run has not ended after S seconds, naming\n"
		"                   the connections still stuck and their progress\n"
		"  --max-latency S  fail if any request took longer, in flight ones included\n"
		"  --max-stall S    pingpong: fail if a request in flight waited longer than S\n"
		"                   for its next echoed byte (no progress, whatever the load)\n"
		"  --reconnect K    pingpong: close and reopen a connection every K requests\n"
		"  --stop-reading N pingpong: N connections stop reading after one request\n"
		"                   and keep sending; the others must still finish\n"
		"Exit 1 on any mismatch, connection error, late request, timeout or zero\n"
		"throughput; 2 on bad flags.\n");
}

static void fail(struct bench *b, int id, const char *what, int err)
{
	if (b->phase == STOPPING && err == -ECANCELED)
		return;
	b->errors++;
	if (b->errors <= 5)
		fprintf(stderr, PROG ": connection %d: %s: %s\n", id, what,
			err == -EPIPE	 ? "connection closed by the server"
			: err == -EPROTO ? "the server sent more bytes than it got"
					 : strerror(-err));
}

static void mismatch(struct bench *b, int id, uint64_t req, size_t off, unsigned got,
		     unsigned want)
{
	b->errors++;
	b->mismatches++;
	if (!b->reported++)
		fprintf(stderr,
			PROG ": connection %d: request %llu: byte %zu is 0x%02x, sent 0x%02x\n",
			id, (unsigned long long)req, off, got, want);
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* A latency over --max-latency: counted, the first few described. */
static void late(struct bench *b, struct conn *c, uint64_t req, size_t size, int64_t ns,
		 int in_flight)
{
	if (b->late++ >= STUCK_SHOWN)
		return;
	if (in_flight)
		fprintf(stderr,
			PROG ": connection %d: request %llu (%zu bytes) still in flight after "
			     "%.3f s (limit %.3f s): sent %zu, received %zu\n",
			c->id, (unsigned long long)req, size, ns / 1e9, b->cfg.max_latency,
			c->sent, c->got);
	else
		fprintf(stderr,
			PROG ": connection %d: request %llu (%zu bytes) took %.3f s (limit %.3f s)\n",
			c->id, (unsigned long long)req, size, ns / 1e9, b->cfg.max_latency);
}

/* A wait for echoed bytes of @p ns, while a request was in flight: the
 * longest is reported; over --max-stall it fails the run. Unlike latency,
 * which grows with the bytes every connection shares the path with, this
 * is "no progress", whatever the load. */
static void gap(struct bench *b, struct conn *c, int64_t ns, int in_flight)
{
	if (ns > b->max_gap)
		b->max_gap = ns;
	if (b->cfg.max_stall <= 0 || ns <= (int64_t)(b->cfg.max_stall * 1e9))
		return;
	if (b->stalls++ >= STUCK_SHOWN)
		return;
	fprintf(stderr,
		PROG ": connection %d: request %llu (%zu bytes): no byte echoed for %.3f s%s "
		     "(limit %.3f s): sent %zu, received %zu\n",
		c->id, (unsigned long long)c->done, c->cur, ns / 1e9,
		in_flight ? " until the end" : "", b->cfg.max_stall, c->sent, c->got);
}

/* Request @p req of @p c, started at @p t0, ended at @p now. */
static void record(struct bench *b, struct conn *c, uint64_t req, int64_t t0, int64_t now,
		   size_t bytes)
{
	b->all_requests++;
	if (b->cfg.max_latency > 0 && now - t0 > (int64_t)(b->cfg.max_latency * 1e9))
		late(b, c, req, bytes, now - t0, 0);
	if (b->phase != MEASURE)
		return;
	b->st.requests++;
	b->st.bytes += bytes;
	hist_record(&b->st.lat, (uint64_t)(now - t0));
}

/* Pingpong request k of @p c: its size, header and pattern offset. */
static void pp_prepare(struct conn *c, uint64_t k)
{
	const struct cfg *g = &c->b->cfg;
	size_t span = g->size_max - g->size_min + 1;
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	c->cur = g->size_min + (size_t)(c->rng % span);
	for (size_t i = 0; i < PP_HDR; i++)
		c->hdr[i] = (unsigned char)(k >> (8 * i));
	c->off = (size_t)(splitmix(((uint64_t)c->id << 32) ^ k) % PATTERN_PERIOD);
	c->sent = c->got = 0;
}

/* Byte @p i of the request in flight. */
static unsigned char pp_byte(const struct conn *c, size_t i)
{
	return i < PP_HDR ? c->hdr[i] : c->pat[c->off + i];
}

/* Check @p n echoed bytes in c->rx against the request from c->got on;
 * report the first wrong one. @return 0 when all match, 1 otherwise. */
static int pp_check(struct conn *c, uint64_t k, size_t n)
{
	size_t pos = c->got, i = 0;
	if (pos < PP_HDR) {
		size_t h = PP_HDR - pos < n ? PP_HDR - pos : n;
		if (memcmp(c->rx, c->hdr + pos, h))
			goto bad;
		i = h;
	}
	if (i == n || !memcmp(c->rx + i, c->pat + c->off + pos + i, n - i))
		return 0;
bad:
	for (i = 0; c->rx[i] == pp_byte(c, pos + i); i++)
		;
	mismatch(c->b, c->id, k, pos + i, c->rx[i], pp_byte(c, pos + i));
	return 1;
}

/* Send up to @p n bytes of the request in flight from c->sent on. */
static ssize_t pp_send(struct conn *c, size_t n)
{
	struct iovec iov[2];
	int cnt = 0;
	size_t pos = c->sent, hl = c->cur < PP_HDR ? c->cur : PP_HDR;
	if (pos < hl) {
		size_t l = hl - pos < n ? hl - pos : n;
		iov[cnt++] = (struct iovec){ c->hdr + pos, l };
		pos += l;
		n -= l;
	}
	if (n)
		iov[cnt++] = (struct iovec){ (void *)(c->pat + c->off + pos), n };
	return kaon_sendv(c->s, iov, cnt, KAON_FOREVER);
}

/* Sends the rest of a large request while pingpong_once reads the echo. */
static void *pp_writer(void *arg)
{
	struct conn *c = arg;
	while (c->sent < c->cur) {
		ssize_t r = pp_send(c, c->cur - c->sent);
		if (r < 0) {
			c->werr = (int)r;
			break;
		}
		c->sent += (size_t)r;
	}
	return NULL;
}

/* One request: send it, read and check the echo. What the socket does not
 * take at once is written by a coroutine of its own while this one reads: a
 * writer blocked on a full socket must never keep the echo unread, or a
 * server with small buffers and this client wait on each other for good (the
 * echo fills our receive buffer, the server stops reading, our send blocks).
 * No size is safe to write ahead "because the path buffers it": a server
 * under memory pressure shrinks its windows to a segment (kaon's stack
 * does), so requests of 200 KB written ahead of reading stalled 9% of 1,000
 * connections against kaon on the testbed.
 * @return 0, 1 on a mismatch (reported), or a negative errno. */
static int pingpong_once(struct conn *c, uint64_t k)
{
	size_t size = c->cur;
	kaon_co *writer = NULL;
	c->werr = 0;
	/* The socket is empty at a request's start (the last echo is in), so
	 * this waits for nothing the echo needs. */
	ssize_t r = pp_send(c, size);
	if (r < 0)
		return (int)r;
	c->sent += (size_t)r;
	if (c->sent < size) {
		kaon_co_opts co;
		kaon_co_opts_init(&co);
		co.name = "request writer";
		int e = kaon_go(&writer, &co, pp_writer, c);
		if (e < 0)
			return e;
	}
	int rc = 0;
	while (c->got < size) {
		if (c->werr) {
			rc = c->werr;
			break;
		}
		/* One byte more than expected: a short read tells the engine the
		 * socket is drained (no EAGAIN round trip next time), and a server
		 * sending too much is caught. */
		size_t want = size - c->got + 1;
		r = kaon_recv(c->s, c->rx, want < PP_RX ? want : PP_RX, KAON_FOREVER);
		if (r <= 0) {
			rc = r == 0 ? -EPIPE : (int)r;
			break;
		}
		int64_t now = kaon_now();
		gap(c->b, c, now - c->last_rx, 0);
		c->last_rx = now;
		if ((size_t)r > size - c->got) {
			rc = -EPROTO;
			break;
		}
		if (pp_check(c, k, (size_t)r)) {
			rc = 1;
			break;
		}
		c->got += (size_t)r;
	}
	if (writer) {
		if (c->sent < size)
			kaon_interrupt(writer, ECANCELED);
		/* The writer uses this connection: wait until it is really gone
		 * (an interrupt meant for us may cut a join short). */
		while (kaon_join(writer, KAON_FOREVER, NULL) < 0)
			;
	}
	return rc;
}

/* Requests until c->done reaches @p limit or the run stops.
 * @return 0 at the limit, -1 otherwise. */
static int run_pingpong(struct conn *c, uint64_t limit)
{
	struct bench *b = c->b;
	/* One clock read per echoed chunk and none more: a request ends at
	 * its last byte's read, and the next one starts then (at memif's
	 * rate, clock reads were a fifth of this client's time). */
	int64_t now = kaon_now();
	while (c->done < limit && b->phase != STOPPING) {
		uint64_t k = c->done;
		pp_prepare(c, k);
		c->t0 = c->last_rx = now;
		int r = pingpong_once(c, k);
		if (r) {
			if (r < 0)
				fail(b, c->id, "echo", r);
			return -1;
		}
		c->done++;
		now = c->last_rx;
		record(b, c, k, c->t0, now, c->cur);
		c->t0 = 0;
	}
	return c->done < limit ? -1 : 0;
}

/* A peer that stops reading: one checked request, then it only sends,
 * until its buffers and the server's are full and it blocks for good. */
static void run_stop_reading(struct conn *c)
{
	struct bench *b = c->b;
	if (run_pingpong(c, 1) < 0)
		return;
	c->sent = c->got = 0;
	for (;;) {
		ssize_t r = kaon_send(c->s, b->pat, PP_WINDOW, KAON_FOREVER);
		if (r < 0) {
			fail(b, c->id, "send without reading", (int)r);
			return;
		}
		c->sent += (size_t)r;
	}
}

static void *stream_writer(void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	size_t size = b->cfg.size_max;
	for (uint64_t m = 0;; m++) {
		int r = kaon_sem_wait(&c->credits, KAON_FOREVER);
		if (r < 0)
			break;
		c->sent_at[m % c->depth] = kaon_now();
		size_t off = (size_t)((m * size) % PATTERN_PERIOD);
		ssize_t w = kaon_write_full(c->s, c->pat + off, size, KAON_FOREVER);
		if (w < 0) {
			fail(b, c->id, "stream send", (int)w);
			break;
		}
	}
	return NULL;
}

static void run_stream(struct conn *c)
{
	struct bench *b = c->b;
	size_t size = b->cfg.size_max;
	unsigned char *rx = malloc(STREAM_RX);
	unsigned depth = (unsigned)(STREAM_WINDOW / size);
	depth = depth < 2 ? 2 : depth > STREAM_MAX_DEPTH ? STREAM_MAX_DEPTH : depth;
	c->depth = depth;
	c->sent_at = calloc(depth, sizeof(*c->sent_at));
	if (!rx || !c->sent_at) {
		fail(b, c->id, "buffers", -ENOMEM);
		goto out;
	}
	kaon_sem_init(&c->credits, depth);
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.name = "writer";
	int r = kaon_go(&c->writer, &co, stream_writer, c);
	if (r < 0) {
		fail(b, c->id, "writer", r);
		goto out;
	}
	uint64_t pos = 0; /* stream offset of the next byte to read */
	for (;;) {
		ssize_t n = kaon_recv(c->s, rx, STREAM_RX, KAON_FOREVER);
		if (n <= 0) {
			fail(b, c->id, "stream receive", n == 0 ? -EPIPE : (int)n);
			break;
		}
		const unsigned char *want = c->pat + (size_t)(pos % PATTERN_PERIOD);
		if (memcmp(rx, want, (size_t)n)) {
			size_t d = first_diff(rx, want, (size_t)n);
			mismatch(b, c->id, (pos + d) / size, (size_t)((pos + d) % size), rx[d],
				 want[d]);
			break;
		}
		uint64_t end = pos + (uint64_t)n;
		int64_t now = kaon_now();
		for (uint64_t m = pos / size; (m + 1) * size <= end; m++) {
			record(b, c, m, c->sent_at[m % depth], now, size);
			kaon_sem_post(&c->credits);
		}
		pos = end;
	}
	kaon_interrupt(c->writer, ECANCELED);
	/* An interrupt meant for this coroutine may cut the join short: the
	 * writer uses this frame's objects, so wait until it is really gone. */
	while (kaon_join(c->writer, KAON_FOREVER, NULL) < 0)
		;
	kaon_sem_destroy(&c->credits);
out:
	free(rx);
	free(c->sent_at);
}

/* --mode send: the number, the pattern until b->send_end, a half close,
 * then whatever the sink says until its end of stream. */
static void run_send(struct conn *c)
{
	struct bench *b = c->b;
	size_t size = b->cfg.size_max;
	unsigned char hdr[8];
	for (int i = 0; i < 8; i++)
		hdr[i] = (unsigned char)((uint64_t)c->id >> (56 - 8 * i));
	ssize_t w = kaon_write_full(c->s, hdr, sizeof(hdr), KAON_FOREVER);
	if (w < 0) {
		fail(b, c->id, "send", (int)w);
		return;
	}
	for (;;) {
		int64_t now = kaon_now();
		/* Before the run's end is known (warm-up), wake up now and then
		 * to look for it. */
		int64_t end = b->send_end ? b->send_end : now + 100 * 1000000LL;
		if (b->send_end && now >= b->send_end)
			break;
		size_t off = (size_t)(c->sent_total % PATTERN_PERIOD);
		w = kaon_send(c->s, c->pat + off, size, end);
		if (w == -ETIMEDOUT)
			continue;
		if (w < 0) {
			fail(b, c->id, "send", (int)w);
			return;
		}
		c->sent_total += (uint64_t)w;
		if (b->phase == MEASURE) {
			b->st.bytes += (uint64_t)w;
			b->st.requests++;   /* writes: "something was sent" */
		}
	}
	int r = kaon_shutdown(c->s, SHUT_WR);
	if (r < 0) {
		fail(b, c->id, "shutdown", r);
		return;
	}
	/* The sink closes once it has read everything: then all of it is in. */
	unsigned char sink[512];
	int64_t until = kaon_deadline_in(120LL * 1000000000);
	while ((w = kaon_recv(c->s, sink, sizeof(sink), until)) > 0)
		;
	if (w < 0)
		fail(b, c->id, "waiting for the sink's end of stream", (int)w);
	else
		c->done = 1;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	const struct cfg *g = &b->cfg;
	uint64_t total = g->requests ? (uint64_t)g->requests : UINT64_MAX;
	c->rng = splitmix((uint64_t)c->id + 1) | 1;
	for (int first = 1;; first = 0) {
		kaon_connect_opts o;
		kaon_connect_opts_init(&o);
		int r = kaon_connect(&c->s, &g->addr, &o, kaon_deadline_in(CONNECT_TIMEOUT_NS));
		if (first)
			kaon_sem_post(&b->connected);
		if (r < 0) {
			if (b->phase != STOPPING)
				b->conn_failed++;
			fail(b, c->id, "connect", r);
			break;
		}
		if (c->stop_reading) {
			run_stop_reading(c);
		} else if (g->send) {
			run_send(c);
		} else if (g->stream) {
			run_stream(c);
		} else {
			uint64_t limit = total;
			if (g->reconnect && c->done + (uint64_t)g->reconnect < limit)
				limit = c->done + (uint64_t)g->reconnect;
			if (run_pingpong(c, limit) == 0 && c->done < total &&
			    b->phase != STOPPING) {
				kaon_close(c->s);
				c->s = NULL;
				b->reconnects++;
				continue;
			}
		}
		kaon_close(c->s);
		c->s = NULL;
		break;
	}
	c->finished = 1;
	if (!c->stop_reading) {
		b->finished += c->done >= total;
		kaon_sem_post(&b->done);
	}
	return NULL;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void report(struct bench *b, const struct conn *conns, double secs, double cpu)
{
	struct cfg *g = &b->cfg;
	hist *h = &b->st.lat;
	double rps = secs > 0 ? (double)b->st.requests / secs : 0;
	double gbps = secs > 0 ? (double)b->st.bytes * 8 / secs / 1e9 : 0;
	double us[5] = { hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
			 hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
			 h->max / 1e3 };
	double cpu_us = b->st.requests ? cpu * 1e6 / (double)b->st.requests : 0;
	const char *mode = g->send ? "send" : g->stream ? "stream" : "pingpong";
	if (g->json) {
		printf("{\"mode\":\"%s\",\"conns\":%lld,\"size\":%zu,\"client_stack\":\"%s\","
		       "\"duration_s\":%.3f,\"requests\":%llu,\"requests_per_sec\":%.1f,"
		       "\"gbps\":%.4f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
		       "\"p999_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f,\"errors\":%llu,"
		       "\"mismatches\":%llu,\"cpu_us_per_req\":%.3f,"
		       "\"size_min\":%zu,\"size_max\":%zu,\"bytes\":%llu,"
		       "\"requests_per_conn\":%lld,\"conns_finished\":%lld,"
		       "\"stop_reading\":%lld,\"reconnects\":%llu,\"late\":%llu,"
		       "\"timed_out\":%d,\"stalls\":%llu,\"max_stall_us\":%.2f",
		       mode, g->conns, g->size_max, b->engine, secs,
		       (unsigned long long)b->st.requests, rps, gbps, us[0], us[1], us[2],
		       us[3], us[4], hist_mean(h) / 1e3, (unsigned long long)b->errors,
		       (unsigned long long)b->mismatches, cpu_us, g->size_min, g->size_max,
		       (unsigned long long)b->st.bytes, g->requests, b->finished,
		       g->stop_reading, (unsigned long long)b->reconnects,
		       (unsigned long long)b->late, b->timed_out, (unsigned long long)b->stalls,
		       b->max_gap / 1e3);
		if (g->send) {
			printf(",\"sent\":[");
			for (long long i = 0; i < g->conns; i++)
				printf("%s%llu", i ? "," : "", (unsigned long long)conns[i].sent_total);
			printf("]");
		}
		printf("}\n");
	} else {
		if (g->size_min == g->size_max)
			printf("%s: %s, %lld connections x %zu bytes, %.1f s (stack %s)\n", PROG,
			       mode, g->conns, g->size_max, secs, b->engine);
		else
			printf("%s: %s, %lld connections x %zu-%zu bytes, %.1f s (stack %s)\n",
			       PROG, mode, g->conns, g->size_min, g->size_max, secs, b->engine);
		printf("  requests  %llu (%.0f/s), %.3f Gb/s echoed\n",
		       (unsigned long long)b->st.requests, rps, gbps);
		printf("  latency   p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
		       "max %.1f us\n",
		       us[0], us[1], us[2], us[3], us[4]);
		printf("  errors    %llu (mismatches %llu)\n", (unsigned long long)b->errors,
		       (unsigned long long)b->mismatches);
		printf("  cpu       %.2f us per request\n", cpu_us);
		if (g->requests)
			printf("  finished  %lld of %lld connections (%lld requests each)\n",
			       b->finished, g->conns - g->stop_reading, g->requests);
		if (g->reconnect)
			printf("  reconnects %llu\n", (unsigned long long)b->reconnects);
		if (g->max_latency > 0)
			printf("  late      %llu over %.3f s\n", (unsigned long long)b->late,
			       g->max_latency);
		if (g->max_stall > 0)
			printf("  stalls    %llu over %.3f s (longest wait for a byte %.3f s)\n",
			       (unsigned long long)b->stalls, g->max_stall, b->max_gap / 1e9);
		else if (!g->stream)
			printf("  stalls    longest wait for a byte %.3f s\n", b->max_gap / 1e9);
	}
	fflush(stdout);
}

/* At the end of the run: requests still in flight count against
 * --max-latency and --max-stall too (a stuck one is the latest of all). */
static void check_in_flight(struct bench *b, struct conn *conns, long long n)
{
	int64_t now = kaon_now(), lim = (int64_t)(b->cfg.max_latency * 1e9);
	for (long long i = 0; i < n; i++) {
		struct conn *c = &conns[i];
		if (!c->t0 || c->stop_reading)
			continue;
		if (b->cfg.max_latency > 0 && now - c->t0 > lim)
			late(b, c, c->done, c->cur, now - c->t0, 1);
		gap(b, c, now - c->last_rx, 1);
	}
}

/* --timeout: how many connections are stuck, and where the first ones are. */
static void report_stuck(struct bench *b, struct conn *conns, long long n, double secs)
{
	long long stuck = 0, connecting = 0, in_request = 0, shown = 0;
	int64_t now = kaon_now();
	for (long long i = 0; i < n; i++) {
		struct conn *c = &conns[i];
		if (c->finished || c->stop_reading)
			continue;
		stuck++;
		if (!c->s)
			connecting++;
		else if (c->t0)
			in_request++;
	}
	fprintf(stderr,
		PROG ": timeout: after %.1f s, %lld of %lld connections not finished "
		     "(%lld connecting, %lld mid-request)\n",
		secs, stuck, n - b->cfg.stop_reading, connecting, in_request);
	for (long long i = 0; i < n && shown < STUCK_SHOWN; i++) {
		struct conn *c = &conns[i];
		if (c->finished || c->stop_reading)
			continue;
		shown++;
		if (!c->s)
			fprintf(stderr, PROG ": connection %d: connecting, %llu requests done\n",
				c->id, (unsigned long long)c->done);
		else if (c->t0)
			fprintf(stderr,
				PROG ": connection %d: request %llu (%zu bytes): sent %zu, "
				     "received %zu, for %.1f s\n",
				c->id, (unsigned long long)c->done, c->cur, c->sent, c->got,
				(now - c->t0) / 1e9);
		else
			fprintf(stderr, PROG ": connection %d: between requests, %llu done\n",
				c->id, (unsigned long long)c->done);
	}
}

/* On kaon's own stack the connections die with the process: give their
 * closing handshakes (and TIME_WAIT) a moment, so that the server is not
 * left retransmitting FINs to nobody. Not a kernel stack's concern: it
 * finishes them without us. */
static void linger_user_stack(void)
{
#ifdef KAON_TOOLS_HAVE_USER
	struct kn_stack *st = kaon_user_stack();
	int64_t until = kaon_deadline_in(USER_LINGER_NS);
	while (st && kn_stack_tcb_count(st) > 0 && kaon_now() < until)
		kaon_sleep_until(kaon_deadline_in(10 * 1000000));
#endif
}

static void *bench_main(void *arg)
{
	struct bench *b = arg;
	struct cfg *g = &b->cfg;
	struct conn *conns = calloc((size_t)g->conns, sizeof(*conns));
	unsigned char *pat = NULL;
	if (!conns)
		goto oom;
	/* The pattern repeats past its period so that any window of a message
	 * (or of a stream read) is contiguous. */
	size_t plen = PATTERN_PERIOD + (g->size_max > STREAM_RX ? g->size_max : STREAM_RX) +
		      PP_WINDOW;
	pat = malloc(plen);
	if (!pat)
		goto oom;
	fill_random(pat, PATTERN_PERIOD, 7);
	for (size_t i = PATTERN_PERIOD; i < plen; i++)
		pat[i] = pat[i % PATTERN_PERIOD];
	b->pat = pat;
	int64_t start = kaon_now();
	int64_t hard = g->timeout > 0 ? start + (int64_t)(g->timeout * 1e9) : KAON_FOREVER;
	kaon_sem_init(&b->connected, 0);
	kaon_sem_init(&b->done, 0);
	if (g->requests) {
		/* Every request counts: the run is "all of them arrived". */
		b->phase = MEASURE;
		hist_init(&b->st.lat);
	}
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.name = "conn";
	long long started = 0, want_done = 0;
	for (long long i = 0; i < g->conns; i++) {
		struct conn *c = &conns[i];
		c->b = b;
		c->id = (int)i;
		c->pat = pat;
		c->stop_reading = i < g->stop_reading;
		if (!g->stream && !(c->rx = malloc(PP_RX))) {
			fail(b, (int)i, "buffers", -ENOMEM);
			break;
		}
		int r = kaon_go(&c->co, &co, conn_main, c);
		if (r < 0) {
			fail(b, (int)i, "start", r);
			break;
		}
		started++;
		want_done += !c->stop_reading;
	}
	long long attempted = 0;
	while (attempted < started && kaon_sem_wait(&b->connected, hard) == 0)
		attempted++;
	int64_t t0 = start;
	if (!g->requests) {
		b->phase = WARMUP;
		if (g->warmup > 0)
			kaon_sleep_until(kaon_deadline_in((int64_t)(g->warmup * 1e9)));
		b->phase = MEASURE;
		hist_init(&b->st.lat);
		t0 = kaon_now();
	}
	int64_t dur_end = g->duration >= 0 ? t0 + (int64_t)(g->duration * 1e9) : KAON_FOREVER;
	int64_t end = dur_end < hard ? dur_end : hard;
	b->send_end = end;
	double cpu0 = cpu_seconds();
	int progress = !g->json && isatty(STDERR_FILENO);
	uint64_t last = b->all_requests;
	long long ended = 0;
	for (int sec = 1;; sec++) {
		int64_t next = progress ? t0 + (int64_t)sec * 1000000000 : end;
		if (next > end)
			next = end;
		if (g->requests) {
			while (ended < want_done && kaon_sem_wait(&b->done, next) == 0)
				ended++;
			if (ended == want_done)
				break;
		} else {
			kaon_sleep_until(next);
		}
		if (next >= end)
			break;
		fprintf(stderr, "  %3ds  %10.0f req/s  errors %llu\n", sec,
			(double)(b->all_requests - last), (unsigned long long)b->errors);
		last = b->all_requests;
	}
	double secs = (kaon_now() - t0) / 1e9;
	double cpu = cpu_seconds() - cpu0;
	if (g->send) {
		/* The writers stop at the end; their last bytes and the sink's
		 * end of stream are still to come. */
		b->phase = STOPPING;
		int64_t drain = kaon_deadline_in(150LL * 1000000000);
		while (ended < want_done && kaon_sem_wait(&b->done, drain) == 0)
			ended++;
		if (ended < want_done) {
			fprintf(stderr, PROG ": %lld of %lld connections did not finish sending\n",
				want_done - ended, want_done);
			b->errors++;
		}
	}
	/* Ended by --requests or --duration, or else by --timeout. */
	int all_done = g->requests && ended == want_done;
	int by_duration = dur_end <= hard && kaon_now() >= dur_end;
	if (attempted < started || (!all_done && !by_duration)) {
		b->timed_out = 1;
		report_stuck(b, conns, started, (kaon_now() - start) / 1e9);
	}
	check_in_flight(b, conns, started);
	b->phase = STOPPING;

	for (long long i = 0; i < started; i++)
		kaon_interrupt(conns[i].co, ECANCELED);
	for (long long i = 0; i < started; i++)
		kaon_join(conns[i].co, KAON_FOREVER, NULL);
	kaon_sem_destroy(&b->connected);
	kaon_sem_destroy(&b->done);
	linger_user_stack();

	report(b, conns, secs, cpu);
	if (b->errors || b->late || b->stalls || b->timed_out || b->st.requests == 0) {
		if (b->st.requests == 0)
			fprintf(stderr, PROG ": no request completed\n");
		if (b->late > STUCK_SHOWN)
			fprintf(stderr, PROG ": %llu requests over --max-latency in all\n",
				(unsigned long long)b->late);
		if (b->stalls > STUCK_SHOWN)
			fprintf(stderr, PROG ": %llu waits over --max-stall in all\n",
				(unsigned long long)b->stalls);
		b->result = 1;
	}
	for (long long i = 0; i < g->conns; i++)
		free(conns[i].rx);
	free(conns);
	free(pat);
	return NULL;
oom:
	fprintf(stderr, PROG ": out of memory\n");
	free(conns);
	b->result = 1;
	return NULL;
}

/* --size N or MIN-MAX. */
static void parse_size(struct cfg *g, const char *s)
{
	const char *dash = strchr(s, '-');
	if (!dash) {
		g->size_min = g->size_max = (size_t)cli_int(PROG, "--size", s, 1, 1LL << 30);
		return;
	}
	char lo[32];
	size_t n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(lo))
		cli_fail(PROG, "--size: expected BYTES or MIN-MAX, got '%s'", s);
	memcpy(lo, s, n);
	lo[n] = '\0';
	g->size_min = (size_t)cli_int(PROG, "--size", lo, 1, 1LL << 30);
	g->size_max = (size_t)cli_int(PROG, "--size", dash + 1, 1, 1LL << 30);
	if (g->size_min > g->size_max)
		cli_fail(PROG, "--size: MIN %zu is above MAX %zu", g->size_min, g->size_max);
}

int main(int argc, char **argv)
{
	static struct bench b; /* the histogram is large: keep it off the stack */
	struct cfg *g = &b.cfg;
	const char *host = NULL, *mode = NULL, *config = NULL;
	long long port = -1;
	g->conns = -1;
	g->duration = -1;
	g->warmup = -1;
	g->cpu = -1;
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "requests", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-latency", required_argument, NULL, 'L' },
		{ "max-stall", required_argument, NULL, 'G' },
		{ "reconnect", required_argument, NULL, 'R' },
		{ "stop-reading", required_argument, NULL, 'x' },
		{ "stack", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'C' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	opterr = 0;
	for (;;) {
		int o = getopt_long(argc, argv, "", longopts, NULL);
		if (o == -1)
			break;
		switch (o) {
		case 'a': host = optarg; break;
		case 'p': port = cli_int(PROG, "--port", optarg, 1, 65535); break;
		case 'n': g->conns = cli_int(PROG, "--conns", optarg, 1, 100000); break;
		case 's': parse_size(g, optarg); break;
		case 'm': mode = optarg; break;
		case 'd': g->duration = cli_seconds(PROG, "--duration", optarg, 0.01); break;
		case 'w': g->warmup = cli_seconds(PROG, "--warmup", optarg, 0); break;
		case 'r': g->requests = cli_int(PROG, "--requests", optarg, 1, 1LL << 40); break;
		case 'T': g->timeout = cli_seconds(PROG, "--timeout", optarg, 0.01); break;
		case 'L': g->max_latency = cli_seconds(PROG, "--max-latency", optarg, 0.000001); break;
		case 'G': g->max_stall = cli_seconds(PROG, "--max-stall", optarg, 0.000001); break;
		case 'R': g->reconnect = cli_int(PROG, "--reconnect", optarg, 1, 1LL << 40); break;
		case 'x': g->stop_reading = cli_int(PROG, "--stop-reading", optarg, 1, 100000); break;
		case 'S': g->stack = optarg; break;
		case 'C': config = optarg; break;
		case 'c': g->cpu = (int)cli_int(PROG, "--cpu", optarg, 0, 4095); break;
		case 'j': g->json = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			cli_fail(PROG, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_fail(PROG, "unexpected argument '%s'", argv[optind]);
	if (!host || port < 0 || g->conns < 0 || !g->size_max || !mode ||
	    (g->duration < 0 && !g->requests))
		cli_fail(PROG, "--addr, --port, --conns, --size, --mode and --duration (or "
			       "--requests) are required");
	if (!strcmp(mode, "stream"))
		g->stream = 1;
	else if (!strcmp(mode, "send"))
		g->stream = g->send = 1;
	else if (strcmp(mode, "pingpong"))
		cli_fail(PROG, "--mode: expected pingpong, stream or send, got '%s'", mode);
	if (g->send && (g->duration < 0 || g->size_max > STREAM_RX))
		cli_fail(PROG, "--mode send needs --duration and a --size of at most %d", STREAM_RX);
	if (g->stream && (g->size_min != g->size_max || g->requests || g->reconnect ||
			  g->stop_reading || g->max_stall > 0))
		cli_fail(PROG, "--size MIN-MAX, --requests, --reconnect, --stop-reading and "
			       "--max-stall are for --mode pingpong");
	if (g->requests && g->warmup >= 0)
		cli_fail(PROG, "--warmup is for --duration runs: with --requests every request "
			       "counts");
	if (g->stop_reading >= g->conns)
		cli_fail(PROG, "--stop-reading: %lld of %lld connections leaves none to measure",
			 g->stop_reading, g->conns);
	if (g->warmup < 0)
		g->warmup = 0;
	int user = g->stack && cli_stack(PROG, g->stack, config);
	if (config && !user)
		cli_fail(PROG, "--config is for --stack user");
	if (kaon_addr_parse(&g->addr, host, (uint16_t)port) < 0)
		cli_fail(PROG, "--addr: '%s' is not a numeric IPv4 or IPv6 address", host);
	signal(SIGPIPE, SIG_IGN);
	cli_raise_nofile(g->conns + 64);

	kaon_vcpu_opts vo;
	kaon_vcpu_opts_init(&vo);
	vo.name = PROG;
	vo.cpu = g->cpu;
#ifdef KAON_TOOLS_HAVE_USER
	if (user) {
		if (kaon_user_setup(&vo, config) < 0)
			return 2; /* it said why: file, line and key */
	} else
#endif
		vo.engine = kaon_io_engine_pick(g->stack ? g->stack : "epoll");
	b.engine = vo.engine->name;
	int r = kaon_run(&vo, bench_main, &b, NULL);
#ifdef KAON_TOOLS_HAVE_USER
	if (user)
		kaon_user_teardown();
#endif
	if (r < 0) {
		fprintf(stderr, PROG ": cannot start (engine %s, cpu %d): %s\n", b.engine,
			g->cpu, strerror(-r));
		return 1;
	}
	return b.result;
}
