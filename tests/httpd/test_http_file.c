/* SPDX-License-Identifier: MIT */
/*
 * kaon-httpd's file cache and the tables of sums it keeps for mapped files
 * (http_file.h): the sums a lent range reports are the plain sums of its
 * bytes; a file opened again unchanged takes the table of the entry it
 * replaces, a changed one gets a new table; files past HTTP_SUM_MAX and
 * caches without sums get none.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_file.h"
#include "http_path.h"
#include "kaon/ref.h"
#include "test_util.h"

#define SEC 1000000000LL

static char dir[] = "/tmp/kaon-test-http-file-XXXXXX";
static struct http_root root;

/* RFC 1071's sum in the sum provider's form (host-order words), mod 0xffff. */
static uint32_t plain_sum(const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	for (size_t i = 0; i < len; i += 2) {
		uint16_t w = 0;
		memcpy(&w, p + i, len - i > 1 ? 2 : 1);
		s += w;
	}
	return (uint32_t)(s % 0xffff);
}

static void put_file(const char *name, size_t size, unsigned seed)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	uint8_t *b = malloc(size);
	assert_non_null(b);
	for (size_t i = 0; i < size; i++)
		b[i] = (uint8_t)((i * 2654435761u + seed) >> 9);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, size), (ssize_t)size);
	close(fd);
	free(b);
}

/* Ranges of every parity, page-crossing ones too, against the bytes. */
static void check_sums(struct http_file *f)
{
	assert_non_null(f->sums);
	const uint8_t *m = (const uint8_t *)f->map;
	size_t size = (size_t)f->size;
	for (size_t off = 0; off + 1 < size; off += 4093) {
		for (size_t len = 0; len < 3000 && off + len <= size; len += 331) {
			uint32_t got = http_file_sum(f, m + off, len);
			if (got % 0xffff != plain_sum(m + off, len))
				fail_msg("off %zu len %zu: %#x", off, len, got);
		}
	}
}

static void t_sums(void **st)
{
	(void)st;
	put_file("a.bin", 1 << 20, 1);
	struct http_fcache c = { .root = &root, .map = true, .sums = true };
	struct http_file *f, *g, *h;
	int64_t now = 10 * SEC;
	assert_int_equal(http_fcache_get(&c, "a.bin", now, &f), 0);
	assert_non_null(f->map);
	check_sums(f);
	/* Opened again unchanged (past the cache's time to live): the table
	 * is the old entry's. Marked, to tell a copy from a new table. */
	f->sums[1] ^= 0x5a5a;
	uint16_t marked = f->sums[1];
	now += 2 * HTTP_FILE_TTL_NS;
	assert_int_equal(http_fcache_get(&c, "a.bin", now, &g), 0);
	assert_ptr_not_equal(g, f);
	assert_int_equal(g->sums[1], marked);
	f->sums[1] ^= 0x5a5a;
	http_file_put(f);
	/* Changed (new content, new times): a table of its own. */
	usleep(20000);
	put_file("a.bin", 1 << 20, 2);
	now += 2 * HTTP_FILE_TTL_NS;
	assert_int_equal(http_fcache_get(&c, "a.bin", now, &h), 0);
	assert_ptr_not_equal(h, g);
	check_sums(h);
	http_file_put(g);
	http_file_put(h);
	http_fcache_clear(&c);
}

static void t_no_sums(void **st)
{
	(void)st;
	put_file("big.bin", HTTP_SUM_MAX + 1, 3);
	put_file("b.bin", 100000, 4);
	struct http_fcache c = { .root = &root, .map = true, .sums = true };
	struct http_file *f;
	assert_int_equal(http_fcache_get(&c, "big.bin", SEC, &f), 0);
	assert_non_null(f->map);
	assert_null(f->sums); /* too big: made at open, it would stall the vcpu */
	http_file_put(f);
	http_fcache_clear(&c);
	struct http_fcache nc = { .root = &root, .map = true, .sums = false };
	assert_int_equal(http_fcache_get(&nc, "b.bin", SEC, &f), 0);
	assert_non_null(f->map);
	assert_null(f->sums);
	http_file_put(f);
	http_fcache_clear(&nc);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	if (http_root_open(&root, dir) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sums),
		cmocka_unit_test(t_no_sums),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	http_root_close(&root);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
