/* SPDX-License-Identifier: MIT */
/*
 * The files kaon-httpd serves: a small cache of open files per vcpu (no
 * locks: one vcpu, one cache), their content type and HTTP dates.
 *
 * A cached entry is trusted for HTTP_FILE_TTL_NS, then opened again, so a
 * file replaced on disk (rename) is served within that time. A file changed
 * in place while it is being sent can end a response short: the connection
 * is then closed, never padded.
 *
 * On kaon's own stack larger files are mapped (http_fcache.map) and their
 * pages lent to the stack (kaon_sendv_ref): the mapping lives while any
 * segment still points into it, i.e. until the peer acknowledged it. It
 * covers st_size at open, and the fd stays open. A file truncated while
 * mapped makes reads of its vanished pages fault (SIGBUS): the handler
 * (http_file_sigbus_init) puts zero pages over the rest of the mapping and
 * marks the file torn; the connection sending it is reset (never a FIN
 * after a padded body) and the cache opens the file again. What the stack
 * built from the zero pages before the server noticed has left, so a
 * client can see zeros before the reset; Linux's sendfile(2) would end the
 * response short instead. Either way the response is incomplete.
 *
 * A mapped file also gets a table of prefix sums (kaon_sum_table_fill, made
 * once as it is opened), and its lent pages a sum provider
 * (http_file_sum): kaon's stack without checksum offload then reads a
 * segment's payload once (to copy it, on af_xdp) or not at all, instead of
 * once more to sum it. Bytes changed in place after the table was made
 * leave with the old sum: the client drops those segments, and the
 * response stalls until a deadline ends it, instead of arriving altered.
 */
#ifndef KAON_HTTPD_FILE_H
#define KAON_HTTPD_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "http_path.h"

#define HTTP_FCACHE_SLOTS 64
/* Files up to this size are read once and kept in memory: one send writes
 * head and body together. Larger ones are sent from their fd. */
#define HTTP_SMALL_FILE (64 * 1024)
#define HTTP_FILE_TTL_NS (1000LL * 1000 * 1000)
#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
/* Bytes per entry of a mapped file's table of sums: 2 bytes of table for
 * 64 of file (3%), at most 126 bytes read per range besides. */
#define HTTP_SUM_STRIDE 64
/* Larger files get no table: making one reads the whole file at open, on
 * the vcpu every connection shares (8 MiB: a few ms). A file opened again
 * unchanged (same inode, size, change and modification times) takes its
 * table from the entry it replaces instead. */
#define HTTP_SUM_MAX (8 << 20)

struct http_file {
	int refs;
	int fd;                /* -1 when data holds the content */
	int64_t size;
	time_t mtime;
	char last_modified[HTTP_DATE_LEN + 1];
	const char *type;      /* Content-Type */
	char *data;            /* the whole content, for small files */
	const char *map;       /* or a read-only mapping of size bytes */
	uint16_t *sums;        /* the mapping's prefix sums, or NULL */
	dev_t dev;             /* identity, to reuse the sums on a reopen */
	ino_t ino;
	struct timespec mtim, ctim;
	atomic_int torn;       /* the mapping faulted: the file shrank */
	int map_slot;          /* in the SIGBUS handler's table */
	int64_t born;          /* when it was opened (ns) */
	char path[];           /* the cache key: http_path's result */
};

struct http_fcache {
	const struct http_root *root;
	bool map;              /* map files above HTTP_SMALL_FILE */
	bool sums;             /* and make their tables of sums */
	struct http_file *slot[HTTP_FCACHE_SLOTS];
};

/*
 * The file at @p rel below the root, a directory's index.html, with a
 * reference the caller drops with http_file_put().
 * @return 0 and *out; -404 (missing), -403 (a directory without index.html,
 *         not a regular file, an escape through a symlink, no permission),
 *         -500 (out of descriptors or memory, a read error).
 */
int http_fcache_get(struct http_fcache *c, const char *rel, int64_t now, struct http_file **out);

void http_file_put(struct http_file *f);

/* http_file_put(@p f) as a kaon_ref release. */
void http_file_release(void *f);

/* A kaon_ref sum provider for a range of @p f's mapping (with f->sums). */
uint32_t http_file_sum(void *f, const void *p, size_t len);

/* Catch SIGBUS from the pages of a mapped file that shrank (see above).
 * Call once, before any vcpu starts. @return 0 or -errno. */
int http_file_sigbus_init(void);

/* Drop every cached entry (files still referenced live on until put). */
void http_fcache_clear(struct http_fcache *c);

/* Content-Type by the extension of @p path (application/octet-stream else). */
const char *http_mime(const char *path);

/* IMF-fixdate of @p t into @p out (HTTP_DATE_LEN + 1 bytes). */
void http_date(time_t t, char *out);

/* An IMF-fixdate (the only form kaon-httpd sends) into @p t.
 * @return 0, or -1 for anything else (the condition is then ignored). */
int http_parse_date(const char *s, size_t len, time_t *t);

#endif
