/* SPDX-License-Identifier: MIT */
#include "http_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* End one segment at out[seg..o): drop "" and ".", pop on "..".
 * @return the new output length, or -1 for ".." above the root. */
static long end_segment(char *out, long seg, long o)
{
	long n = o - seg;
	if (n == 0 || (n == 1 && out[seg] == '.'))
		return seg; /* nothing, or "." */
	if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
		if (seg == 0)
			return -1;
		long p = seg - 1; /* the '/' before this segment */
		while (p > 0 && out[p - 1] != '/')
			p--;
		return p; /* the start of the parent segment */
	}
	out[o] = '/';
	return o + 1;
}

long http_path(const char *target, size_t len, char *out, size_t cap)
{
	const char *p = target, *e = target + len;
	if (len >= 7 && (!strncasecmp(p, "http://", 7) || (len >= 8 && !strncasecmp(p, "https://", 8)))) {
		p = (const char *)memchr(p, ':', len) + 3; /* absolute-form: path after authority */
		while (p < e && *p != '/' && *p != '?')
			p++;
		if (p == e || *p == '?')
			p = "/", e = p + 1; /* no path: the root */
	}
	if (p == e || *p != '/' || cap < (size_t)(e - p) + 1)
		return -400;
	const char *q = memchr(p, '?', (size_t)(e - p));
	if (q)
		e = q;
	/* Decode first: "%2e%2e" and "%2f" are ".." and "/" like their plain
	 * spellings, so the segment rules below see what the file system sees. */
	long o = 0, seg = 0;
	for (p++; p <= e; p++) {
		char c;
		if (p == e) {
			c = '/';
		} else if (*p == '%') {
			int h, l;
			if (e - p < 3 || (h = hexval(p[1])) < 0 || (l = hexval(p[2])) < 0)
				return -400;
			c = (char)(h << 4 | l);
			p += 2;
		} else {
			c = *p;
		}
		if (c == '\0')
			return -400; /* decoded or raw: it would cut the path short */
		if (c != '/') {
			out[o++] = c;
			continue;
		}
		o = end_segment(out, seg, o);
		if (o < 0)
			return -400;
		seg = o;
	}
	if (o > 0)
		o--; /* the separator after the last segment */
	out[o] = '\0';
	return o;
}

int http_root_open(struct http_root *root, const char *dir)
{
	root->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0)
		return -errno;
	if (!realpath(dir, root->real)) {
		int e = -errno;
		close(root->fd);
		root->fd = -1;
		return e;
	}
	root->real_len = strlen(root->real);
	/* "/" as a root: every real path is beneath it; compare with "" then. */
	if (root->real_len == 1)
		root->real_len = 0;
	return 0;
}

void http_root_close(struct http_root *root)
{
	if (root->fd >= 0)
		close(root->fd);
	root->fd = -1;
}

/* 0 unknown, 1 works, -1 refused: use the fallback. Shared by the vcpus. */
static _Atomic int openat2_state;

/* The fallback: open normally, then check where the fd really is. */
static int open_checked(const struct http_root *root, const char *rel)
{
	int fd = openat(root->fd, *rel ? rel : ".", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char link[64], real[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	if (n < 0 || (size_t)n < root->real_len ||
	    memcmp(real, root->real, root->real_len) ||
	    (real[root->real_len] != '/' && (size_t)n != root->real_len)) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

int http_open_beneath(const struct http_root *root, const char *rel)
{
	if (openat2_state >= 0) {
		struct open_how how = {
			.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, root->fd, *rel ? rel : ".", &how, sizeof(how));
		if (fd >= 0) {
			openat2_state = 1;
			return (int)fd;
		}
		/* ENOSYS: an old kernel; EPERM: a seccomp filter that does not
		 * know the call. Anything else is the answer. */
		if (openat2_state == 1 || (errno != ENOSYS && errno != EPERM))
			return -errno;
		openat2_state = -1;
	}
	return open_checked(root, rel);
}
