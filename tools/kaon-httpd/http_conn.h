/* SPDX-License-Identifier: MIT */
/*
 * One HTTP/1.1 connection, one coroutine: read heads, answer them in order
 * (pipelined answers are gathered and written together), until the client
 * or a limit ends it.
 */
#ifndef KAON_HTTPD_CONN_H
#define KAON_HTTPD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http_file.h"
#include "kaon/sock.h"
#include "serve.h"

/* What every vcpu serves, set once by main before any vcpu starts. */
struct http_conf {
	const struct http_root *root; /* NULL in --fixed mode */
	long long fixed;              /* --fixed BYTES, or -1 */
	size_t max_head;              /* request line + fields: past it 431 */
	int64_t max_body;             /* a Content-Length past it: 413 */
	int64_t idle_ns;              /* between requests, and per write progress */
	int64_t header_ns;            /* from a head's first byte to its end: 408 */
	int zero_copy;                /* sendfile(2) on kernel sockets, lent pages on kaon's */
	int sum_tables;               /* lent pages come with their sums (http_file.h) */
	int notsent_lowat;            /* TCP_NOTSENT_LOWAT under sendfile with company, 0: off */
};

/* Per connection (accepts are counted in struct serve). */
struct http_counters {
	uint64_t closed, requests, status[6]; /* status[1..5]: 1xx..5xx */
	uint64_t bytes, timeouts, resets, conn_errors, sendfile_bytes, zero_copy_bytes;
};

/* One per vcpu; touched only by that vcpu. */
struct http_server {
	struct serve srv;      /* listener, vcpu, acceptor */
	const struct http_conf *conf;
	struct http_fcache cache;
	char *fixed_body;      /* --fixed: the body, made once */
	time_t date_sec;       /* the Date field, formatted once a second */
	char date[HTTP_DATE_LEN + 1];
	struct http_counters c;
	unsigned open;         /* connections being served now */
};

/* The coroutine: serves @p arg (a malloc'd serve_conn whose owner is the
 * http_server; it frees it). */
void *http_conn(void *arg);

#endif
