/* libFuzzer target: kaon-httpd's request parser and path rules
 * (tools/kaon-httpd/http_parse.c, http_path.c). Build: see fuzz/CMakeLists.txt.
 *
 * The input is the bytes a client sends. Checked (abort() on a violation):
 *   - the head end found in one call equals the one found feeding the bytes
 *     one at a time through the resumable scan, and lies inside the input
 *     just after a CRLF CRLF;
 *   - a parsed head's target lies inside the head and is visible ASCII, its
 *     version is 1.0 or 1.1, a status is one of 400, 431, 505;
 *   - a path from http_path (on the target, and on the raw input) never
 *     holds a NUL, a leading '/', an empty, "." or ".." segment, and is no
 *     longer than what it came from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "http_path.h"

#define MAX_HEAD 8192

static void check_path(const char *t, size_t len)
{
	static char out[MAX_HEAD + 2];
	if (len > MAX_HEAD)
		return;
	long n = http_path(t, len, out, sizeof(out));
	if (n == -400)
		return;
	if (n < 0 || (size_t)n > len || strlen(out) != (size_t)n)
		abort();
	if (n == 0)
		return;
	if (out[0] == '/' || out[n - 1] == '/')
		abort();
	const char *seg = out;
	for (;;) {
		const char *e = strchr(seg, '/');
		size_t sl = e ? (size_t)(e - seg) : strlen(seg);
		if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			abort();
		if (!e)
			break;
		seg = e + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t len = size < MAX_HEAD ? size : MAX_HEAD;
	size_t scanned = 0;
	long whole = http_head_end(buf, len, &scanned);
	long step = 0;
	scanned = 0;
	for (size_t end = 1; end <= len; end++) {
		step = http_head_end(buf, end, &scanned);
		if (step != 0)
			break;
	}
	if (whole != step)
		abort();
	if (whole > 0) {
		if ((size_t)whole > len || whole < 4 || memcmp(buf + whole - 4, "\r\n\r\n", 4))
			abort();
		struct http_req r;
		int st = http_parse(buf, (size_t)whole, &r);
		if (st == 0) {
			if (r.target < buf || r.target_len == 0 ||
			    r.target + r.target_len > buf + whole || (r.minor != 0 && r.minor != 1) ||
			    r.head_len != (size_t)whole)
				abort();
			for (size_t i = 0; i < r.target_len; i++)
				if ((unsigned char)r.target[i] <= 0x20 || (unsigned char)r.target[i] >= 0x7f)
					abort();
			if (r.ims && (r.ims < buf || r.ims + r.ims_len > buf + whole))
				abort();
			check_path(r.target, r.target_len);
		} else if (st != -400 && st != -431 && st != -505) {
			abort();
		}
	} else if (whole != 0 && whole != -400) {
		abort();
	}
	check_path(buf, len);
	return 0;
}
