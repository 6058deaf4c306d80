/* SPDX-License-Identifier: MIT */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

int http_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

long http_head_end(const char *buf, size_t len, size_t *scanned)
{
	/* Resume one byte early: a CR seen last time waits for its LF. */
	size_t i = *scanned > 0 ? *scanned - 1 : 0;
	for (; i < len; i++) {
		char c = buf[i];
		if (c == '\n') {
			if (i == 0 || buf[i - 1] != '\r')
				return -400;
			/* CRLF CRLF, or a head that is only CRLF (caller skips those) */
			if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
				return (long)(i + 1);
		} else if (i > 0 && buf[i - 1] == '\r') {
			return -400; /* CR not followed by LF */
		}
	}
	*scanned = len;
	return 0;
}

static int name_is(const char *n, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(n, want, len) == 0;
}

static const char *const known[] = { "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
				     "TRACE", "PATCH" };

static enum http_method classify(const char *m, size_t len)
{
	/* Methods are case-sensitive: "get" is an unknown method. */
	if (len == 3 && !memcmp(m, "GET", 3))
		return HTTP_GET;
	if (len == 4 && !memcmp(m, "HEAD", 4))
		return HTTP_HEAD;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == len && !memcmp(m, known[i], len))
			return HTTP_KNOWN;
	return HTTP_UNKNOWN;
}

/* "method SP target SP HTTP/d.d" in [p, e). */
static int request_line(const char *p, const char *e, struct http_req *r)
{
	const char *m = p;
	while (p < e && http_tchar((unsigned char)*p))
		p++;
	if (p == m || p == e || *p != ' ')
		return -400;
	r->method = classify(m, (size_t)(p - m));
	const char *t = ++p;
	/* Visible ASCII only: no controls, DEL, spaces or raw 8-bit bytes. */
	while (p < e && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
		p++;
	if (p == t || p == e || *p != ' ')
		return -400;
	r->target = t;
	r->target_len = (size_t)(p - t);
	p++;
	if (e - p != 8 || memcmp(p, "HTTP/", 5) || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
	    p[7] < '0' || p[7] > '9')
		return -400;
	if (p[5] != '1')
		return -505; /* 0.9, 2.0, 3.0...: not on this connection */
	r->minor = p[7] == '0' ? 0 : 1; /* 1.2 and up: answered as 1.1 */
	return 0;
}

/* Comma-separated tokens of a Connection field. */
static void connection_tokens(const char *v, const char *e, int *close, int *keep)
{
	while (v < e) {
		while (v < e && (*v == ',' || *v == ' ' || *v == '\t'))
			v++;
		const char *t = v;
		while (v < e && *v != ',' && *v != ' ' && *v != '\t')
			v++;
		if (name_is(t, (size_t)(v - t), "close"))
			*close = 1;
		else if (name_is(t, (size_t)(v - t), "keep-alive"))
			*keep = 1;
	}
}

/* Content-Length: 1*DIGIT; past 18 digits it only counts as "too large". */
static int64_t content_length(const char *v, const char *e)
{
	if (v == e)
		return -1;
	int64_t n = 0;
	for (const char *p = v; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (n < (int64_t)1e17)
			n = n * 10 + (*p - '0');
		else
			n = INT64_MAX;
	}
	return n;
}

int http_parse(const char *buf, size_t len, struct http_req *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->head_len = len;
	const char *p = buf, *end = buf + len - 2; /* the final empty line's CRLF */
	const char *eol = memchr(p, '\r', (size_t)(end - p));
	if (!eol)
		return -400;
	int st = request_line(p, eol, r);
	if (st < 0)
		return st;
	int hosts = 0, conn_close = 0, conn_keep = 0, fields = 0, cls = 0;
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memchr(p, '\r', (size_t)(end - p));
		if (!eol)
			return -400;
		if (++fields > HTTP_MAX_FIELDS)
			return -431;
		if (*p == ' ' || *p == '\t')
			return -400; /* obs-fold */
		const char *n = p;
		while (p < eol && http_tchar((unsigned char)*p))
			p++;
		if (p == n || p == eol || *p != ':')
			return -400; /* empty name, or whitespace before the colon */
		size_t nlen = (size_t)(p - n);
		const char *v = p + 1, *ve = eol;
		for (const char *q = v; q < ve; q++) {
			unsigned char c = (unsigned char)*q;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -400; /* NUL, a stray CR, other controls */
		}
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (name_is(n, nlen, "Host")) {
			hosts++;
		} else if (name_is(n, nlen, "Content-Length")) {
			int64_t cl = content_length(v, ve);
			if (cl < 0 || (cls && cl != r->content_length))
				return -400;
			r->content_length = cl;
			cls++;
		} else if (name_is(n, nlen, "Transfer-Encoding")) {
			r->has_te = 1;
		} else if (name_is(n, nlen, "Connection")) {
			connection_tokens(v, ve, &conn_close, &conn_keep);
		} else if (name_is(n, nlen, "If-Modified-Since")) {
			r->ims = v;
			r->ims_len = (size_t)(ve - v);
		}
	}
	if (r->has_te && cls)
		return -400; /* the smuggling shape: never guess which one wins */
	if (r->minor == 1 && hosts != 1)
		return -400;
	if (hosts > 1)
		return -400;
	r->keep_alive = r->minor == 1 ? !conn_close : (conn_keep && !conn_close);
	return 0;
}
