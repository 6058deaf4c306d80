/* SPDX-License-Identifier: MIT */
#include "http_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *ext, *type;
} mimes[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "xml", "application/xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "pdf", "application/pdf" },
	{ "wasm", "application/wasm" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "mp4", "video/mp4" },
	{ "gz", "application/gzip" },
	{ "zip", "application/zip" },
};

const char *http_mime(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');
	if (dot)
		for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
			if (!strcasecmp(dot + 1, mimes[i].ext))
				return mimes[i].type;
	return "application/octet-stream";
}

void http_date(time_t t, char *out)
{
	/* The C locale's names, which is what HTTP wants: no setlocale here. */
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, HTTP_DATE_LEN + 1, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int http_parse_date(const char *s, size_t len, time_t *t)
{
	char buf[HTTP_DATE_LEN + 1];
	struct tm tm;
	if (len != HTTP_DATE_LEN)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(&tm, 0, sizeof(tm));
	const char *e = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e || *e)
		return -1;
	*t = timegm(&tm);
	return 0;
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void http_file_put(struct http_file *f)
{
	if (!f || --f->refs > 0)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->data);
	free(f);
}

static int status_of(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return -404;
	case EXDEV: /* a symlink out of the root */
	case ELOOP:
	case EACCES:
	case EPERM:
		return -403;
	default:
		return -500;
	}
}

/* Read the whole small file into memory and let its fd go. */
static int slurp(struct http_file *f)
{
	f->data = malloc(f->size ? (size_t)f->size : 1);
	if (!f->data)
		return -500;
	int64_t got = 0;
	while (got < f->size) {
		ssize_t n = pread(f->fd, f->data + got, (size_t)(f->size - got), got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -500; /* an error, or truncated under us */
		got += n;
	}
	close(f->fd);
	f->fd = -1;
	return 0;
}

static int open_file(const struct http_root *root, const char *rel, int64_t now,
		     struct http_file **out)
{
	int fd = http_open_beneath(root, rel);
	if (fd < 0)
		return status_of(-fd);
	struct stat st;
	const char *typed = rel;
	char index[4096 + 16];
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		size_t n = strlen(rel);
		if (n + sizeof("/index.html") > sizeof(index))
			return -404;
		memcpy(index, rel, n);
		strcpy(index + n, n ? "/index.html" : "index.html");
		typed = index;
		fd = http_open_beneath(root, index);
		if (fd < 0)
			return fd == -ENOENT ? -403 : status_of(-fd); /* no index: no listing */
		if (fstat(fd, &st) < 0)
			st.st_mode = 0;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -403; /* directories, FIFOs, devices: never */
	}
	size_t plen = strlen(rel);
	struct http_file *f = calloc(1, sizeof(*f) + plen + 1);
	if (!f) {
		close(fd);
		return -500;
	}
	f->refs = 1;
	f->fd = fd;
	f->size = st.st_size;
	f->mtime = st.st_mtime;
	http_date(f->mtime, f->last_modified);
	f->type = http_mime(typed);
	f->born = now;
	memcpy(f->path, rel, plen + 1);
	if (f->size <= HTTP_SMALL_FILE) {
		int r = slurp(f);
		if (r < 0) {
			http_file_put(f);
			return r;
		}
	}
	*out = f;
	return 0;
}

int http_fcache_get(struct http_fcache *c, const char *rel, int64_t now, struct http_file **out)
{
	struct http_file **slot = &c->slot[hash(rel) % HTTP_FCACHE_SLOTS];
	struct http_file *f = *slot;
	if (f && now - f->born < HTTP_FILE_TTL_NS && !strcmp(f->path, rel)) {
		f->refs++;
		*out = f;
		return 0;
	}
	int r = open_file(c->root, rel, now, &f);
	if (r < 0)
		return r;
	http_file_put(*slot); /* a connection still sending it keeps its own ref */
	*slot = f;
	f->refs++;
	*out = f;
	return 0;
}

void http_fcache_clear(struct http_fcache *c)
{
	for (int i = 0; i < HTTP_FCACHE_SLOTS; i++) {
		http_file_put(c->slot[i]);
		c->slot[i] = NULL;
	}
}
