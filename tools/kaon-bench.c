/* SPDX-License-Identifier: MIT */
/*
 * kaon-bench: load generator for echo servers, on one vcpu.
 *
 * pingpong: each connection sends SIZE bytes and waits for the same bytes
 * back (checked), then the next request. Large messages are sent in slices
 * while the echo is read, so neither side stalls on full buffers.
 * stream: per connection a writer pipelines SIZE-byte messages (up to a
 * window) while a reader checks the echoed stream; a message's latency runs
 * from the start of its send to its last byte back.
 *
 * Content: request k of a connection carries k in its first bytes and a
 * per-connection pseudo-random pattern after them; the stream is a
 * pseudo-random pattern of prime period. Every byte is compared.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "hist.h"
#include "kaon/co.h"
#include "kaon/io.h"
#include "kaon/sock.h"
#ifdef KAON_TOOLS_HAVE_USER
#include "kaon/user.h"
#endif
#include "kaon/sync.h"

#define PROG "kaon-bench"
#define CONNECT_TIMEOUT_NS (10LL * 1000000000)
#define PP_WINDOW (256 * 1024)   /* pingpong: bytes sent ahead of the echo */
#define STREAM_WINDOW (1 << 20)  /* stream: bytes in flight per connection */
#define STREAM_MAX_DEPTH 256
#define STREAM_RX (64 * 1024)
#define PATTERN_PERIOD 65521     /* prime: never a multiple of a message size */

enum phase { CONNECTING, WARMUP, MEASURE, STOPPING };

struct cfg {
	kaon_addr addr;
	long long conns;
	size_t size;
	int stream;
	double duration, warmup;
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
	int reported;        /* first mismatch already described */
	kaon_sem connected;  /* one post per connection attempt */
	const char *engine;
	int result;          /* exit status */
};

struct conn {
	struct bench *b;
	int id;
	kaon_co *co;
	kaon_sock *s;
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
		"usage: " PROG " --addr A --port P --conns N --size BYTES\n"
		"                  --mode pingpong|stream --duration S [--warmup S]\n"
		"                  [--stack epoll|uring|user] [--config FILE] [--cpu N] [--json]\n"
		"Load an echo server and report requests/s, Gb/s (bytes echoed back),\n"
		"latency p50/p90/p99/p99.9/max and errors. Exit 1 on any mismatch,\n"
		"connection error or zero throughput; 2 on bad flags.\n");
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

static void record(struct bench *b, int64_t t0, size_t bytes)
{
	b->all_requests++;
	if (b->phase != MEASURE)
		return;
	int64_t now = kaon_now();
	b->st.requests++;
	b->st.bytes += bytes;
	hist_record(&b->st.lat, (uint64_t)(now - t0));
}

/* One request: send tx, read the echo into rx, interleaved by PP_WINDOW. */
static int pingpong_once(kaon_sock *s, const unsigned char *tx, unsigned char *rx,
			 size_t size)
{
	size_t sent = 0, got = 0;
	while (got < size) {
		if (sent < size && sent - got < PP_WINDOW) {
			size_t n = size - sent;
			if (n > PP_WINDOW - (sent - got))
				n = PP_WINDOW - (sent - got);
			ssize_t r = kaon_send(s, tx + sent, n, KAON_FOREVER);
			if (r < 0)
				return (int)r;
			sent += (size_t)r;
		} else {
			/* One byte more than expected: a short read tells the engine
			 * the socket is drained (no EAGAIN round trip next time), and
			 * a server sending too much is caught. */
			ssize_t r = kaon_recv(s, rx + got, size - got + 1, KAON_FOREVER);
			if (r < 0)
				return (int)r;
			if (r == 0)
				return -EPIPE;
			got += (size_t)r;
		}
	}
	return got == size ? 0 : -EPROTO;
}

static void run_pingpong(struct conn *c)
{
	struct bench *b = c->b;
	size_t size = b->cfg.size;
	unsigned char *tx = malloc(size), *rx = malloc(size + 1);
	if (!tx || !rx) {
		fail(b, c->id, "buffers", -ENOMEM);
		goto out;
	}
	fill_random(tx, size, (uint64_t)c->id + 1);
	for (uint64_t k = 0; b->phase != STOPPING; k++) {
		for (size_t i = 0; i < size && i < sizeof(k); i++)
			tx[i] = (unsigned char)(k >> (8 * i));
		int64_t t0 = kaon_now();
		int r = pingpong_once(c->s, tx, rx, size);
		if (r < 0) {
			fail(b, c->id, "echo", r);
			break;
		}
		if (memcmp(tx, rx, size)) {
			size_t d = first_diff(rx, tx, size);
			mismatch(b, c->id, k, d, rx[d], tx[d]);
			break;
		}
		record(b, t0, size);
	}
out:
	free(tx);
	free(rx);
}

static void *stream_writer(void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	size_t size = b->cfg.size;
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
	size_t size = b->cfg.size;
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
		for (uint64_t m = pos / size; (m + 1) * size <= end; m++) {
			record(b, c->sent_at[m % depth], size);
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

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	kaon_connect_opts o;
	kaon_connect_opts_init(&o);
	int r = kaon_connect(&c->s, &b->cfg.addr, &o, kaon_deadline_in(CONNECT_TIMEOUT_NS));
	kaon_sem_post(&b->connected);
	if (r < 0) {
		b->conn_failed++;
		fail(b, c->id, "connect", r);
		return NULL;
	}
	if (b->cfg.stream)
		run_stream(c);
	else
		run_pingpong(c);
	kaon_close(c->s);
	return NULL;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void report(struct bench *b, double secs, double cpu)
{
	struct cfg *g = &b->cfg;
	hist *h = &b->st.lat;
	double rps = secs > 0 ? (double)b->st.requests / secs : 0;
	double gbps = secs > 0 ? (double)b->st.bytes * 8 / secs / 1e9 : 0;
	double us[5] = { hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
			 hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
			 h->max / 1e3 };
	double cpu_us = b->st.requests ? cpu * 1e6 / (double)b->st.requests : 0;
	const char *mode = g->stream ? "stream" : "pingpong";
	if (g->json) {
		printf("{\"mode\":\"%s\",\"conns\":%lld,\"size\":%zu,\"client_stack\":\"%s\","
		       "\"duration_s\":%.3f,\"requests\":%llu,\"requests_per_sec\":%.1f,"
		       "\"gbps\":%.4f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
		       "\"p999_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f,\"errors\":%llu,"
		       "\"mismatches\":%llu,\"cpu_us_per_req\":%.3f}\n",
		       mode, g->conns, g->size, b->engine, secs,
		       (unsigned long long)b->st.requests, rps, gbps, us[0], us[1], us[2],
		       us[3], us[4], hist_mean(h) / 1e3, (unsigned long long)b->errors,
		       (unsigned long long)b->mismatches, cpu_us);
	} else {
		printf("%s: %s, %lld connections x %zu bytes, %.1f s (stack %s)\n", PROG, mode,
		       g->conns, g->size, secs, b->engine);
		printf("  requests  %llu (%.0f/s), %.3f Gb/s echoed\n",
		       (unsigned long long)b->st.requests, rps, gbps);
		printf("  latency   p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
		       "max %.1f us\n",
		       us[0], us[1], us[2], us[3], us[4]);
		printf("  errors    %llu (mismatches %llu)\n", (unsigned long long)b->errors,
		       (unsigned long long)b->mismatches);
		printf("  cpu       %.2f us per request\n", cpu_us);
	}
	fflush(stdout);
}

static void *bench_main(void *arg)
{
	struct bench *b = arg;
	struct cfg *g = &b->cfg;
	struct conn *conns = calloc((size_t)g->conns, sizeof(*conns));
	unsigned char *pat = NULL;
	if (!conns)
		goto oom;
	if (g->stream) {
		size_t plen = PATTERN_PERIOD + (g->size > STREAM_RX ? g->size : STREAM_RX);
		pat = malloc(plen);
		if (!pat)
			goto oom;
		fill_random(pat, PATTERN_PERIOD, 7);
		for (size_t i = PATTERN_PERIOD; i < plen; i++)
			pat[i] = pat[i % PATTERN_PERIOD];
	}
	kaon_sem_init(&b->connected, 0);
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.name = "conn";
	long long started = 0;
	for (long long i = 0; i < g->conns; i++) {
		conns[i].b = b;
		conns[i].id = (int)i;
		conns[i].pat = pat;
		int r = kaon_go(&conns[i].co, &co, conn_main, &conns[i]);
		if (r < 0) {
			fail(b, (int)i, "start", r);
			break;
		}
		started++;
	}
	for (long long i = 0; i < started; i++)
		kaon_sem_wait(&b->connected, KAON_FOREVER);
	b->phase = WARMUP;
	if (g->warmup > 0)
		kaon_sleep_until(kaon_deadline_in((int64_t)(g->warmup * 1e9)));

	b->phase = MEASURE;
	hist_init(&b->st.lat);
	int64_t t0 = kaon_now(), end = t0 + (int64_t)(g->duration * 1e9);
	double cpu0 = cpu_seconds();
	int progress = !g->json && isatty(STDERR_FILENO);
	uint64_t last = b->all_requests;
	for (int sec = 1;; sec++) {
		int64_t next = progress ? t0 + (int64_t)sec * 1000000000 : end;
		if (next > end)
			next = end;
		kaon_sleep_until(next);
		if (next >= end)
			break;
		fprintf(stderr, "  %3ds  %10.0f req/s  errors %llu\n", sec,
			(double)(b->all_requests - last), (unsigned long long)b->errors);
		last = b->all_requests;
	}
	double secs = (kaon_now() - t0) / 1e9;
	double cpu = cpu_seconds() - cpu0;
	b->phase = STOPPING;

	for (long long i = 0; i < started; i++)
		kaon_interrupt(conns[i].co, ECANCELED);
	for (long long i = 0; i < started; i++)
		kaon_join(conns[i].co, KAON_FOREVER, NULL);
	kaon_sem_destroy(&b->connected);

	report(b, secs, cpu);
	if (b->errors || b->st.requests == 0) {
		if (b->st.requests == 0)
			fprintf(stderr, PROG ": no request completed\n");
		b->result = 1;
	}
	free(conns);
	free(pat);
	return NULL;
oom:
	fprintf(stderr, PROG ": out of memory\n");
	free(conns);
	b->result = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	static struct bench b; /* the histogram is large: keep it off the stack */
	struct cfg *g = &b.cfg;
	const char *host = NULL, *mode = NULL, *config = NULL;
	long long port = -1, size = -1;
	g->conns = -1;
	g->duration = -1;
	g->cpu = -1;
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
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
		case 's': size = cli_int(PROG, "--size", optarg, 1, 1LL << 30); break;
		case 'm': mode = optarg; break;
		case 'd': g->duration = cli_seconds(PROG, "--duration", optarg, 0.01); break;
		case 'w': g->warmup = cli_seconds(PROG, "--warmup", optarg, 0); break;
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
	if (!host || port < 0 || g->conns < 0 || size < 0 || !mode || g->duration < 0)
		cli_fail(PROG, "--addr, --port, --conns, --size, --mode and --duration are "
			       "required");
	if (!strcmp(mode, "stream"))
		g->stream = 1;
	else if (strcmp(mode, "pingpong"))
		cli_fail(PROG, "--mode: expected pingpong or stream, got '%s'", mode);
	int user = g->stack && cli_stack(PROG, g->stack, config);
	if (config && !user)
		cli_fail(PROG, "--config is for --stack user");
	if (kaon_addr_parse(&g->addr, host, (uint16_t)port) < 0)
		cli_fail(PROG, "--addr: '%s' is not a numeric IPv4 or IPv6 address", host);
	g->size = (size_t)size;
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
