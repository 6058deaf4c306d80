/* SPDX-License-Identifier: MIT */
/*
 * From a request-target to a file below the root, without ever leaving it.
 *
 * Two fences: http_path() works on the text (percent-decoding, dot-segments,
 * NUL), and http_open_beneath() on the file system (symlinks), where the
 * kernel resolves the path with RESOLVE_BENEATH (openat2, Linux 5.6+) or,
 * when openat2 is refused, the opened file's real path is compared with the
 * root's.
 */
#ifndef KAON_HTTPD_PATH_H
#define KAON_HTTPD_PATH_H

#include <stddef.h>

/*
 * The path of @p target (origin-form "/a/b?q" or absolute-form
 * "http://host/a/b") relative to the root: query dropped, %XX decoded,
 * empty and "." segments dropped, ".." resolved. "" is the root itself.
 * @p out gets at least @p len + 1 bytes. @return the length of @p out
 * (NUL-terminated), or -400: not origin- or absolute-form, a bad %
 * escape, a NUL byte, or ".." above the root.
 */
long http_path(const char *target, size_t len, char *out, size_t cap);

/* A directory fd for the root, and its real path for the fallback check.
 * @return 0 or -errno. */
struct http_root {
	int fd;
	char real[4096];
	size_t real_len;
};
int http_root_open(struct http_root *root, const char *dir);
void http_root_close(struct http_root *root);

/*
 * Open @p rel (http_path's result; "" is the root) read-only, non-blocking,
 * resolving every component beneath the root: a symlink pointing out
 * fails. @return the fd, or -errno (-EXDEV or -ELOOP for an escape, -ENOENT...).
 */
int http_open_beneath(const struct http_root *root, const char *rel);

#endif
