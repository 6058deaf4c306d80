/* SPDX-License-Identifier: MIT */
/*
 * kaon-httpd's parser and path rules without a socket: the statuses of
 * malformed heads, the smuggling shapes, a head fed one byte at a time,
 * and the targets that try to leave the root.
 */
#include <stdio.h>
#include <string.h>

#include "http_parse.h"
#include "http_path.h"
#include "test_util.h"

/* Parse a whole head; @return 0 or -status, like http_parse. */
static int parse(const char *s, struct http_req *r)
{
	size_t scanned = 0;
	long h = http_head_end(s, strlen(s), &scanned);
	if (h <= 0)
		return h == 0 ? -1 : (int)h;
	assert_int_equal(h, (long)strlen(s));
	return http_parse(s, (size_t)h, r);
}

static void t_good(void **st)
{
	(void)st;
	struct http_req r;
	assert_int_equal(parse("GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_GET);
	assert_int_equal(r.minor, 1);
	assert_true(r.keep_alive);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(r.target_len, 8);
	assert_memory_equal(r.target, "/a/b?x=1", 8);

	assert_int_equal(parse("HEAD / HTTP/1.1\r\nhost:h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_HEAD);
	assert_false(r.keep_alive);

	/* 1.0: keep-alive only when asked; no Host needed. */
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);
	assert_false(r.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r), 0);
	assert_true(r.keep_alive);
	assert_int_equal(r.minor, 0);

	/* A higher 1.x minor is answered as 1.1. */
	assert_int_equal(parse("GET / HTTP/1.7\r\nHost: h\r\n\r\n", &r), 0);
	assert_int_equal(r.minor, 1);

	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n"
			       "content-length: 12\r\nIf-Modified-Since:  Sun, 06 Nov 1994 08:49:37 GMT \r\n\r\n",
			       &r), 0);
	assert_int_equal(r.content_length, 12);
	assert_int_equal(r.ims_len, 29);
	assert_memory_equal(r.ims, "Sun, 06 Nov 1994 08:49:37 GMT", 29);

	/* Methods are classified, not refused. */
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_KNOWN);
	assert_int_equal(parse("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_UNKNOWN);
	assert_int_equal(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_UNKNOWN);
}

static void t_bad(void **st)
{
	(void)st;
	struct http_req r;
	static const struct {
		const char *head;
		int status;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", -400 },                          /* no Host */
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400 },    /* two */
		{ "GET / HTTP/1.1\nHost: h\r\n\r\n", -400 },                 /* bare LF */
		{ "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", -400 },         /* bare CR */
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", -400 }, /* obs-fold */
		{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", -400 },              /* space before : */
		{ "GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n", -400 },        /* empty name */
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", -400 },   /* control */
		{ "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", -400 },              /* two spaces */
		{ "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", -400 },
		{ "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
		{ "GET / http/1.1\r\nHost: h\r\n\r\n", -400 },
		{ "GET / HTTP/1.10\r\nHost: h\r\n\r\n", -400 },
		{ "GET /\r\n\r\n", -400 },                                   /* HTTP/0.9 shape */
		{ "GET / HTTP/2.0\r\nHost: h\r\n\r\n", -505 },
		{ "GET / HTTP/0.9\r\nHost: h\r\n\r\n", -505 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -400 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = parse(cases[i].head, &r);
		if (got != cases[i].status)
			fail_msg("case %zu: got %d, want %d", i, got, cases[i].status);
	}
	/* Too many fields. */
	char big[HTTP_MAX_FIELDS * 8 + 64];
	size_t n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < HTTP_MAX_FIELDS; i++)
		n += (size_t)sprintf(big + n, "X: %d\r\n", i % 10);
	strcpy(big + n, "\r\n");
	assert_int_equal(parse(big, &r), -431);
	/* A huge Content-Length is a number, just too large. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", &r), 0);
	assert_true(r.content_length > (int64_t)1e15);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 0);
	assert_true(r.has_te);
}

/* Fed one byte at a time (the resumable scan), a pipelined stream gives the
 * same heads as fed whole, and never reports an end early. */
static void t_bytewise(void **st)
{
	(void)st;
	const char *s = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n";
	size_t len = strlen(s), start = 0, scanned = 0, heads = 0;
	for (size_t end = 1; end <= len; end++) {
		long h = http_head_end(s + start, end - start, &scanned);
		assert_true(h >= 0);
		if (h == 0)
			continue;
		assert_int_equal(start + (size_t)h, end);
		assert_memory_equal(s + end - 4, "\r\n\r\n", 4);
		struct http_req r;
		assert_int_equal(http_parse(s + start, (size_t)h, &r), 0);
		heads++;
		start = end;
		scanned = 0;
	}
	assert_int_equal(heads, 2);
}

static void t_path(void **st)
{
	(void)st;
	static const struct {
		const char *target, *want; /* want NULL: -400 */
	} cases[] = {
		{ "/", "" },
		{ "/index.html", "index.html" },
		{ "/a/b/", "a/b" },
		{ "//a///b", "a/b" },
		{ "/a/./b/../c?x=../../..", "a/c" },
		{ "/a/%2e%2e/b", "b" },
		{ "/a%2fb", "a/b" },
		{ "/%41%62", "Ab" },
		{ "/...", "..." },
		{ "/a/..", "" },
		{ "http://example.com/x/y", "x/y" },
		{ "HTTP://example.com", "" },
		{ "http://example.com?q", "" },
		{ "/..", NULL },
		{ "/a/../..", NULL },
		{ "/%2e%2e/etc/passwd", NULL },
		{ "/%2E%2e%2fetc", NULL },
		{ "/a/%2e%2e%2f%2e%2e/b", NULL },
		{ "/a%00.html", NULL },
		{ "/a%0", NULL },
		{ "/a%zz", NULL },
		{ "*", NULL },
		{ "a/b", NULL },
		{ "", NULL },
	};
	/* A raw NUL (the parser never passes one, the function refuses it
	 * anyway: found by fuzz_http_parse). */
	char out[64];
	assert_int_equal(http_path("/a\0b", 4, out, sizeof(out)), -400);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		long n = http_path(cases[i].target, strlen(cases[i].target), out, sizeof(out));
		if (!cases[i].want) {
			if (n != -400)
				fail_msg("%s: got %ld, want -400", cases[i].target, n);
			continue;
		}
		if (n < 0 || strcmp(out, cases[i].want))
			fail_msg("%s: got %ld '%s', want '%s'", cases[i].target, n, n < 0 ? "" : out,
				 cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_good),
		cmocka_unit_test(t_bad),
		cmocka_unit_test(t_bytewise),
		cmocka_unit_test(t_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
