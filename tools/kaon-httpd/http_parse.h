/* SPDX-License-Identifier: MIT */
/*
 * kaon-httpd's request parser: HTTP/1.1 request heads (RFC 9112), strict.
 * Pure functions on a byte buffer, no I/O, so that it can be fuzzed alone
 * (fuzz/fuzz_http_parse.c) and tested without a socket.
 *
 * Strict where leniency lets two parsers disagree (request smuggling): every
 * line ends in CRLF (a bare LF or CR is 400), obs-fold is 400, whitespace
 * between a field name and its colon is 400, Content-Length is digits only
 * and every copy must agree, Content-Length with Transfer-Encoding is 400.
 */
#ifndef KAON_HTTPD_PARSE_H
#define KAON_HTTPD_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Methods kaon-httpd serves, knows but refuses (405), or does not know (501). */
enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_KNOWN, /* POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH */
	HTTP_UNKNOWN,
};

/* More header fields than this is 431, like a head longer than the limit. */
#define HTTP_MAX_FIELDS 100

struct http_req {
	enum http_method method;
	const char *target; /* request-target as sent, not NUL-terminated */
	size_t target_len;
	int minor;          /* HTTP/1.0: 0; HTTP/1.1 and later 1.x: 1 */
	int keep_alive;     /* what the client asked for, version included */
	int64_t content_length; /* -1: none */
	int has_te;         /* a Transfer-Encoding field was sent */
	const char *ims;    /* If-Modified-Since value, or NULL */
	size_t ims_len;
	size_t head_len;    /* bytes of the head, final CRLF included */
};

/*
 * Where does the head starting at @p buf end?
 * @p scanned: bytes already scanned by an earlier call on the same buffer
 * (0 the first time); updated so that feeding a slow sender byte by byte
 * costs linear time.
 * @return the head length (> 0, the empty line included); 0 when more bytes
 *         are needed; -400 for a bare CR or LF.
 */
long http_head_end(const char *buf, size_t len, size_t *scanned);

/*
 * Parse a complete head of @p len bytes (http_head_end's result) into @p r.
 * @return 0, or -status: 400 malformed (also a missing or repeated Host in
 *         HTTP/1.1, conflicting Content-Lengths, Content-Length with
 *         Transfer-Encoding), 431 too many fields, 505 a version other than
 *         1.x. The method is classified, not refused: the caller answers
 *         405/501 (it may want the head's other checks first).
 */
int http_parse(const char *buf, size_t len, struct http_req *r);

/* Is @p c a tchar (RFC 9110 5.6.2)? */
int http_tchar(unsigned char c);

#endif
