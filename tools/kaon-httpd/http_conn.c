/* SPDX-License-Identifier: MIT */
#include "http_conn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_parse.h"
#include "kaon/io.h"

/* Answers gathered before one write: pipelined heads already read are all
 * answered before the next send; a response that does not fit is written
 * with the gathered ones in one gather-send, never copied. */
#define OUT_CAP (16 * 1024)
#define HEAD_MAX 512
/* After an error or "Connection: close": read and drop what the client still
 * sends, for this long at most, so that closing with unread bytes (a reset)
 * does not destroy the answer on its way. */
#define LINGER_NS (1000LL * 1000 * 1000)
#define LINGER_BYTES (256 * 1024)
#define SENDFILE_CHUNK (1 << 20)
/* While its vcpu serves other connections too, a kernel socket sending a
 * file holds at most cf->notsent_lowat unsent bytes (TCP_NOTSENT_LOWAT,
 * --notsent-lowat, default 128 KiB): sendfile returns after queueing about
 * that much, and the socket is writable again once the unsent part falls
 * under it. Without it one sendfile queues the whole 1 MiB file, and the
 * client's ACKs transmit the queued rest from the client's core (the ACK's
 * softirq runs the sender's TCP output), the core that many streams into one
 * wrk saturate. bench/run http on veth, 1 MiB, 64 connections, shared
 * machine: wrk's CPU per request 3.5 ms -> 1.6 ms, MiB/s 1.42x -> 1.84x nginx
 * (epoll), 0.98x -> 2.07x (io_uring). The price: every refill waits for
 * the server's thread to be scheduled. A lone stream does without it (there
 * the client's core has room: 0.81x nginx with it, 0.98x-1.38x without), and
 * on a machine loaded to 9-10 runnable tasks 256 streams moved 0.89x the
 * bytes they moved without it (README). */

struct conn {
	struct http_server *sv;
	const struct http_conf *cf;
	kaon_sock *s;
	int fd;                /* the kernel socket for sendfile, or -1 */
	bool lowat;            /* cf->notsent_lowat set on fd */
	char *in;              /* unparsed bytes are in[start, end) */
	size_t cap, start, end, scanned;
	char *out;
	size_t olen;
	int64_t head_deadline; /* the current head must be complete by then */
};

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static void count_error(struct http_server *sv, long err)
{
	if (err == 0 || err == -ECANCELED)
		return;
	if (err == -ECONNRESET || err == -EPIPE)
		sv->c.resets++;
	else if (err == -ETIMEDOUT)
		sv->c.timeouts++;
	else
		sv->c.conn_errors++;
}

/* Past @w bytes written from the front of the vector *@iov of *@n pieces. */
static void iov_advance(struct iovec **iov, int *n, size_t w)
{
	while (w > 0) {
		struct iovec *v = *iov;
		if (w >= v->iov_len) {
			w -= v->iov_len;
			(*iov)++, (*n)--;
		} else {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= w;
			w = 0;
		}
	}
}

/* Send every iovec; each wait for progress may last idle_ns. */
static int sendv_all(struct conn *c, struct iovec *iov, int n)
{
	while (n > 0) {
		if (iov->iov_len == 0) {
			iov++, n--;
			continue;
		}
		ssize_t w = kaon_sendv(c->s, iov, n, kaon_deadline_in(c->cf->idle_ns));
		if (w < 0)
			return (int)w;
		c->sv->c.bytes += (uint64_t)w;
		iov_advance(&iov, &n, (size_t)w);
	}
	return 0;
}

/* sendv_all where the last iovec is @p f's content, lent to the stack
 * (kaon_sendv_ref: no copy on kaon's stack) with a reference on @p f for
 * each call. @return 0, or -errno (-EIO: the file shrank under its
 * mapping; the caller resets the connection). */
static int sendv_file(struct conn *c, struct iovec *iov, int n, struct http_file *f)
{
	kaon_ref ref[3] = { { 0 } };
	while (n > 0) {
		if (iov->iov_len == 0) {
			iov++, n--;
			continue;
		}
		if (atomic_load(&f->torn))
			return -EIO;
		ref[n - 1] = (kaon_ref){ http_file_release, f, f->sums ? http_file_sum : NULL };
		f->refs++; /* dropped by the release, once per call */
		ssize_t w = kaon_sendv_ref(c->s, iov, ref, n, kaon_deadline_in(c->cf->idle_ns));
		ref[n - 1] = (kaon_ref){ 0 };
		if (w < 0)
			return (int)w;
		c->sv->c.bytes += (uint64_t)w;
		/* The file is the last piece, whatever the call took of the head. */
		size_t file_left = iov[n - 1].iov_len;
		iov_advance(&iov, &n, (size_t)w);
		c->sv->c.zero_copy_bytes += file_left - (n > 0 ? iov[n - 1].iov_len : 0);
	}
	return atomic_load(&f->torn) ? -EIO : 0;
}

static int flush(struct conn *c)
{
	struct iovec iov = { c->out, c->olen };
	c->olen = 0;
	return sendv_all(c, &iov, 1);
}

/* Queue a response: copied behind the gathered ones if it fits, else
 * written now together with them. */
static int emit(struct conn *c, const char *head, size_t hlen, const void *body, size_t blen)
{
	if (c->olen + hlen + blen <= OUT_CAP) {
		memcpy(c->out + c->olen, head, hlen);
		if (blen)
			memcpy(c->out + c->olen + hlen, body, blen);
		c->olen += hlen + blen;
		return 0;
	}
	struct iovec iov[3] = { { c->out, c->olen }, { (void *)head, hlen }, { (void *)body, blen } };
	c->olen = 0;
	return sendv_all(c, iov, 3);
}

static const char *date_now(struct http_server *sv)
{
	time_t t = time(NULL);
	if (t != sv->date_sec) {
		sv->date_sec = t;
		http_date(t, sv->date);
	}
	return sv->date;
}

/* The status line and the fields every response has. */
static int head_start(struct conn *c, char *h, int status)
{
	c->sv->c.status[status / 100 % 6]++;
	return snprintf(h, HEAD_MAX, "HTTP/1.1 %d %s\r\nServer: kaon-httpd\r\nDate: %s\r\n", status,
			reason(status), date_now(c->sv));
}

/* "Connection" as the response needs it, then the empty line. */
static int head_end(char *h, int n, const struct http_req *r, int keep)
{
	const char *conn = !keep ? "Connection: close\r\n"
		       : r->minor == 0 ? "Connection: keep-alive\r\n" : "";
	return n + snprintf(h + n, (size_t)(HEAD_MAX - n), "%s\r\n", conn);
}

/* Read and drop what the client still sends, then close: see LINGER_NS. */
static void linger(struct conn *c)
{
	if (kaon_shutdown(c->s, SHUT_WR) < 0)
		return;
	int64_t until = kaon_deadline_in(LINGER_NS);
	size_t dropped = 0;
	while (dropped < LINGER_BYTES) {
		ssize_t n = kaon_recv(c->s, c->in, c->cap, until);
		if (n <= 0)
			break;
		dropped += (size_t)n;
	}
}

/* An error answer; the connection ends after it. @p r: NULL when the head
 * could not be parsed. */
static void fail(struct conn *c, int status, const struct http_req *r)
{
	char h[HEAD_MAX], body[64];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	int n = head_start(c, h, status);
	n += snprintf(h + n, (size_t)(HEAD_MAX - n),
		      "%sContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n",
		      status == 405 ? "Allow: GET, HEAD\r\n" : "", blen);
	struct http_req none = { .minor = 1 };
	n = head_end(h, n, r ? r : &none, 0);
	int head_only = r && r->method == HTTP_HEAD;
	if (emit(c, h, (size_t)n, body, head_only ? 0 : (size_t)blen) == 0 && flush(c) == 0)
		linger(c);
}

/* The head of a file sent by sendfile: held back (MSG_MORE) so that it
 * leaves in one segment with the first file bytes, as nginx's tcp_nopush. */
static int send_more(struct conn *c, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->sv->c.bytes += (uint64_t)n;
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		int w = kaon_io_wait(c->fd, KAON_IO_OUT, kaon_deadline_in(c->cf->idle_ns));
		if (w < 0)
			return w;
	}
	return 0;
}

/* The body of a large file from its fd: kaon_io_sendfile on a kernel
 * socket, else through the output buffer. @return 0 or -errno (-EIO: the file shrank). */
static int send_fd(struct conn *c, struct http_file *f)
{
	off_t off = 0;
	while (off < f->size) {
		size_t want = (size_t)(f->size - off);
		if (c->fd >= 0) {
			bool many = c->sv->open > 1 && c->cf->notsent_lowat > 0;
			if (many != c->lowat) {
				/* 0: the system's default (no limit unless set) */
				int v = many ? c->cf->notsent_lowat : 0;
				if (setsockopt(c->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v,
					       sizeof(v)) == 0)
					c->lowat = many;
			}
			/* sendfile(2); ring splices with KAON_URING_SPLICE=1 */
			ssize_t n = kaon_io_sendfile(c->fd, f->fd, &off,
						     want < SENDFILE_CHUNK ? want : SENDFILE_CHUNK,
						     kaon_deadline_in(c->cf->idle_ns));
			if (n < 0)
				return (int)n;
			if (n == 0)
				return -EIO;
			c->sv->c.bytes += (uint64_t)n;
			c->sv->c.sendfile_bytes += (uint64_t)n;
			continue;
		}
		ssize_t n = pread(f->fd, c->out, want < OUT_CAP ? want : OUT_CAP, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		c->olen = (size_t)n;
		int r = flush(c);
		if (r < 0)
			return r;
		off += n;
	}
	return 0;
}


/* A request that passed every check. @return 0 to go on, < 0 to close
 * (an I/O error, or an answer that ends the connection). */
static int serve(struct conn *c, const struct http_req *r)
{
	char h[HEAD_MAX];
	int head_only = r->method == HTTP_HEAD;
	const struct http_conf *cf = c->cf;
	if (cf->fixed >= 0) {
		int n = head_start(c, h, 200);
		n += snprintf(h + n, (size_t)(HEAD_MAX - n),
			      "Content-Type: application/octet-stream\r\nContent-Length: %lld\r\n",
			      cf->fixed);
		n = head_end(h, n, r, r->keep_alive);
		return emit(c, h, (size_t)n, c->sv->fixed_body, head_only ? 0 : (size_t)cf->fixed);
	}
	char path[8192 + 1];
	long pl = r->target_len < sizeof(path) ? http_path(r->target, r->target_len, path, sizeof(path))
					       : -400;
	struct http_file *f = NULL;
	int st = pl < 0 ? (int)pl : http_fcache_get(&c->sv->cache, path, kaon_now(), &f);
	if (st == -404 || st == -403) {
		/* The connection stays: a missing file is no protocol error. */
		char body[64];
		int blen = snprintf(body, sizeof(body), "%d %s\n", -st, reason(-st));
		int n = head_start(c, h, -st);
		n += snprintf(h + n, (size_t)(HEAD_MAX - n),
			      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n", blen);
		n = head_end(h, n, r, r->keep_alive);
		return emit(c, h, (size_t)n, body, head_only ? 0 : (size_t)blen);
	}
	if (st < 0) {
		fail(c, -st, r);
		return -ECANCELED; /* answered and closed: nothing to count */
	}
	time_t since;
	if (r->ims && http_parse_date(r->ims, r->ims_len, &since) == 0 && f->mtime <= since) {
		int n = head_start(c, h, 304);
		n += snprintf(h + n, (size_t)(HEAD_MAX - n), "Last-Modified: %s\r\n", f->last_modified);
		n = head_end(h, n, r, r->keep_alive);
		http_file_put(f);
		return emit(c, h, (size_t)n, NULL, 0);
	}
	int n = head_start(c, h, 200);
	n += snprintf(h + n, (size_t)(HEAD_MAX - n),
		      "Content-Type: %s\r\nContent-Length: %lld\r\nLast-Modified: %s\r\n", f->type,
		      (long long)f->size, f->last_modified);
	n = head_end(h, n, r, r->keep_alive);
	int rc;
	const char *body = f->data ? f->data : f->map;
	if (!head_only && body && c->fd < 0 && cf->zero_copy &&
	    c->olen + (size_t)n + (size_t)f->size > OUT_CAP) {
		/* Too big to gather: the body goes to the stack without a copy. */
		struct iovec iov[3] = { { c->out, c->olen }, { h, (size_t)n },
					{ (void *)body, (size_t)f->size } };
		c->olen = 0;
		rc = sendv_file(c, iov, 3, f);
		if (rc == -EIO)
			kaon_sock_setopt(c->s, KAON_SO_LINGER0, 1); /* see http_file.h */
	} else if (head_only || f->data) {
		rc = emit(c, h, (size_t)n, f->data, head_only ? 0 : (size_t)f->size);
	} else if (c->fd >= 0) {
		rc = flush(c);
		if (rc == 0)
			rc = send_more(c, h, (size_t)n);
		if (rc == 0)
			rc = send_fd(c, f);
	} else {
		struct iovec iov[2] = { { c->out, c->olen }, { h, (size_t)n } };
		c->olen = 0;
		rc = sendv_all(c, iov, 2);
		if (rc == 0)
			rc = send_fd(c, f);
	}
	http_file_put(f);
	return rc;
}

/* Drop a request body of @p len bytes (bounded by max_body). */
static int discard_body(struct conn *c, int64_t len)
{
	size_t have = c->end - c->start;
	size_t take = (int64_t)have < len ? have : (size_t)len;
	c->start += take;
	len -= (int64_t)take;
	while (len > 0) {
		ssize_t n = kaon_recv(c->s, c->in, c->cap < (size_t)len ? c->cap : (size_t)len,
				      kaon_deadline_in(c->cf->idle_ns));
		if (n <= 0)
			return n < 0 ? (int)n : -EPIPE;
		len -= n;
	}
	return 0;
}

/* The checks after parsing that decide the status of a well-formed head. */
static int refuse(const struct conn *c, const struct http_req *r)
{
	if (r->method == HTTP_UNKNOWN)
		return 501;
	if (r->method == HTTP_KNOWN)
		return 405;
	if (r->has_te)
		return r->minor == 0 ? 400 : 501; /* no chunked request bodies here */
	if (r->content_length > c->cf->max_body)
		return 413;
	return 0;
}

/* @return 0 when a head is in[start, start + *len); < 0 to close (it said
 * why or the peer left). */
static int next_head(struct conn *c, long *len)
{
	for (;;) {
		/* Empty lines before a request line are allowed (RFC 9112 2.2). */
		while (c->end - c->start >= 2 && c->in[c->start] == '\r' && c->in[c->start + 1] == '\n') {
			c->start += 2;
			c->scanned = 0;
		}
		long h = c->end > c->start ? http_head_end(c->in + c->start, c->end - c->start, &c->scanned) : 0;
		if (h < 0) {
			fail(c, 400, NULL);
			return -1;
		}
		if (h > 0) {
			*len = h;
			return 0;
		}
		if (c->end - c->start >= c->cf->max_head) {
			fail(c, 431, NULL);
			return -1;
		}
		int r = flush(c); /* nothing more to answer before the client sends */
		if (r < 0) {
			count_error(c->sv, r);
			return r;
		}
		if (c->start > 0) {
			memmove(c->in, c->in + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		int idle = c->end == 0;
		int64_t deadline = idle ? kaon_deadline_in(c->cf->idle_ns) : c->head_deadline;
		ssize_t n = kaon_recv(c->s, c->in + c->end, c->cap - c->end, deadline);
		if (n == -ETIMEDOUT && !idle) {
			c->sv->c.timeouts++;
			fail(c, 408, NULL); /* slow headers: the slowloris shape */
			return -1;
		}
		if (n <= 0) {
			if (n != -ETIMEDOUT) /* an idle connection just ends */
				count_error(c->sv, n);
			return n < 0 ? (int)n : -EPIPE;
		}
		if (idle)
			c->head_deadline = kaon_deadline_in(c->cf->header_ns);
		c->end += (size_t)n;
	}
}

void *http_conn(void *arg)
{
	struct serve_conn *a = arg;
	struct http_server *sv = a->owner;
	struct conn c = { .sv = sv, .cf = sv->conf, .s = a->s, .fd = -1 };
	free(a);
	sv->open++;
	kaon_sock_setopt(c.s, KAON_SO_NODELAY, 1);
	if (c.cf->zero_copy)
		c.fd = kaon_sock_fd(c.s); /* -ENOTSUP on kaon's own stack */
	if (c.fd < 0)
		c.fd = -1;
	c.cap = c.cf->max_head;
	c.in = malloc(c.cap + OUT_CAP);
	c.out = c.in + c.cap;
	c.head_deadline = kaon_deadline_in(c.cf->header_ns);
	while (c.in) {
		long hl = 0;
		if (next_head(&c, &hl) < 0)
			break;
		struct http_req r;
		int st = http_parse(c.in + c.start, (size_t)hl, &r);
		c.sv->c.requests++;
		if (st == 0)
			st = -refuse(&c, &r);
		if (st < 0) {
			fail(&c, -st, st == -400 || st == -431 || st == -505 ? NULL : &r);
			break;
		}
		c.start += (size_t)hl;
		c.scanned = 0;
		if (r.content_length > 0 && (st = discard_body(&c, r.content_length)) < 0) {
			count_error(c.sv, st);
			break;
		}
		if ((st = serve(&c, &r)) < 0) {
			count_error(c.sv, st);
			break;
		}
		if (!r.keep_alive) {
			if ((st = flush(&c)) < 0)
				count_error(c.sv, st);
			else
				linger(&c);
			break;
		}
		c.head_deadline = kaon_deadline_in(c.cf->header_ns); /* the next head starts now */
	}
	free(c.in);
	kaon_close(c.s);
	c.sv->c.closed++;
	c.sv->open--;
	return NULL;
}
