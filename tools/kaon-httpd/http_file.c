/* SPDX-License-Identifier: MIT */
#include "http_file.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kaon/ref.h"

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

/* The live mappings, for the SIGBUS handler: a slot is taken by a CAS on
 * owner and published by storing start last; the handler only loads. */
#define MAP_SLOTS 1024
static struct {
	atomic_uintptr_t start;
	atomic_size_t len;
	_Atomic(struct http_file *) owner;
} maps[MAP_SLOTS];
static struct sigaction old_bus;

static int map_register(struct http_file *f)
{
	for (int i = 0; i < MAP_SLOTS; i++) {
		struct http_file *none = NULL;
		if (atomic_compare_exchange_strong(&maps[i].owner, &none, f)) {
			atomic_store(&maps[i].len, (size_t)f->size);
			atomic_store(&maps[i].start, (uintptr_t)f->map);
			return i;
		}
	}
	return -1;
}

static void map_unregister(int i)
{
	atomic_store(&maps[i].start, 0);
	atomic_store(&maps[i].owner, NULL);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	for (int i = 0; i < MAP_SLOTS; i++) {
		uintptr_t start = atomic_load(&maps[i].start);
		size_t len = atomic_load(&maps[i].len);
		if (!start || a < start || a - start >= len)
			continue;
		struct http_file *f = atomic_load(&maps[i].owner);
		/* Zero pages from the faulting one to the end: the access is
		 * retried and reads zeros; the file's fd and cache entry are
		 * left to the vcpu (nothing here but async-signal-safe calls). */
		uintptr_t page = a & ~(uintptr_t)4095;
		size_t rest = start + len - page;
		if (mmap((void *)page, rest, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			break;
		if (f)
			atomic_store(&f->torn, 1);
		return;
	}
	/* Not ours: whatever was there before (by default, the end). */
	if (old_bus.sa_flags & SA_SIGINFO) {
		old_bus.sa_sigaction(sig, si, uc);
		return;
	}
	sigaction(SIGBUS, &old_bus, NULL);
}

int http_file_sigbus_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, &old_bus) < 0 ? -errno : 0;
}

void http_file_put(struct http_file *f)
{
	if (!f || --f->refs > 0)
		return;
	if (f->map) {
		map_unregister(f->map_slot);
		munmap((void *)f->map, (size_t)f->size);
	}
	if (f->fd >= 0)
		close(f->fd);
	free(f->sums);
	free(f->data);
	free(f);
}

void http_file_release(void *f)
{
	http_file_put(f);
}

uint32_t http_file_sum(void *arg, const void *p, size_t len)
{
	struct http_file *f = arg;
	return kaon_sum_range(f->sums, HTTP_SUM_STRIDE, f->map, (size_t)((const char *)p - f->map),
			      len);
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The mapping's table of sums, made or taken from @p old (the entry this
 * one replaces) if that is the same file unchanged; without one (too big,
 * no memory, or the file shrank while it was read: the handler zeroed
 * pages) the stack sums the bytes. */
static void sum_file(struct http_file *f, const struct http_file *old)
{
	if (f->size > HTTP_SUM_MAX)
		return;
	size_t n = kaon_sum_table_len((size_t)f->size, HTTP_SUM_STRIDE);
	f->sums = malloc(n * sizeof(*f->sums));
	if (!f->sums)
		return;
	if (old && old->sums && !strcmp(old->path, f->path) && old->dev == f->dev &&
	    old->ino == f->ino && old->size == f->size && same_time(old->mtim, f->mtim) &&
	    same_time(old->ctim, f->ctim)) {
		memcpy(f->sums, old->sums, n * sizeof(*f->sums));
		return;
	}
	kaon_sum_table_fill(f->sums, f->map, (size_t)f->size, HTTP_SUM_STRIDE);
	if (atomic_load(&f->torn)) {
		free(f->sums);
		f->sums = NULL;
	}
}

/* Map a large file for kaon_sendv_ref; without a mapping (no slot, mmap
 * failed) it is sent from its fd. */
static void map_file(struct http_file *f)
{
	void *p = mmap(NULL, (size_t)f->size, PROT_READ, MAP_SHARED, f->fd, 0);
	if (p == MAP_FAILED)
		return;
	f->map = p;
	f->map_slot = map_register(f);
	if (f->map_slot < 0) {
		munmap(p, (size_t)f->size);
		f->map = NULL;
	}
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

static int open_file(const struct http_fcache *c, const struct http_file *old, const char *rel,
		     int64_t now, struct http_file **out)
{
	const struct http_root *root = c->root;
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
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mtim = st.st_mtim;
	f->ctim = st.st_ctim;
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
	} else if (c->map) {
		map_file(f);
		if (f->map && c->sums)
			sum_file(f, old);
	}
	*out = f;
	return 0;
}

int http_fcache_get(struct http_fcache *c, const char *rel, int64_t now, struct http_file **out)
{
	struct http_file **slot = &c->slot[hash(rel) % HTTP_FCACHE_SLOTS];
	struct http_file *f = *slot;
	if (f && now - f->born < HTTP_FILE_TTL_NS && !atomic_load(&f->torn) && !strcmp(f->path, rel)) {
		f->refs++;
		*out = f;
		return 0;
	}
	int r = open_file(c, *slot, rel, now, &f);
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
