/* SPDX-License-Identifier: MIT */
/* The socket calls: dispatch through the socket's ops, and the "full" loops. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "sock/sock_impl.h"

int kaon_accept(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline)
{
	if (!ls || !out)
		return -EINVAL;
	return ls->ops->accept(ls, out, peer, deadline);
}

ssize_t kaon_recv(kaon_sock *s, void *buf, size_t len, int64_t deadline)
{
	if (s->ops->recv)
		return s->ops->recv(s, buf, len, deadline);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	return s->ops->recvv(s, &iov, 1, deadline);
}

ssize_t kaon_send(kaon_sock *s, const void *buf, size_t len, int64_t deadline)
{
	if (s->ops->send)
		return s->ops->send(s, buf, len, deadline);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	return s->ops->sendv(s, &iov, 1, deadline);
}

ssize_t kaon_recvv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	return s->ops->recvv(s, iov, iovcnt, deadline);
}

ssize_t kaon_sendv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	return s->ops->sendv(s, iov, iovcnt, deadline);
}

ssize_t kaon_sendv_ref(kaon_sock *s, const struct iovec *iov, const kaon_ref *ref, int iovcnt,
		       int64_t deadline)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	ssize_t n = ref && s->ops->sendv_ref ? s->ops->sendv_ref(s, iov, ref, iovcnt, deadline)
					     : s->ops->sendv(s, iov, iovcnt, deadline);
	/* Copied (kernel), or nothing taken: the pieces are the caller's again. */
	if (ref && (!s->ops->sendv_ref || n <= 0))
		for (int i = 0; i < iovcnt; i++)
			if (ref[i].release)
				ref[i].release(ref[i].arg);
	return n;
}

ssize_t kaon_read_full(kaon_sock *s, void *buf, size_t len, int64_t deadline)
{
	if (len > SSIZE_MAX)
		return -EINVAL;
	size_t done = 0;
	while (done < len) {
		ssize_t n = kaon_recv(s, (char *)buf + done, len - done, deadline);
		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE;
		done += (size_t)n;
	}
	return (ssize_t)len;
}

ssize_t kaon_write_full(kaon_sock *s, const void *buf, size_t len, int64_t deadline)
{
	if (len > SSIZE_MAX)
		return -EINVAL;
	size_t done = 0;
	while (done < len) {
		ssize_t n = kaon_send(s, (const char *)buf + done, len - done, deadline);
		if (n < 0)
			return n;
		done += (size_t)n;
	}
	return (ssize_t)len;
}

/* Copy of @p iov in a small local array, advanced as bytes move. */
#define FULL_IOV 64

typedef ssize_t (*vec_fn)(kaon_sock *, const struct iovec *, int, int64_t);

static ssize_t vec_full(kaon_sock *s, const struct iovec *iov, int iovcnt,
			int64_t deadline, vec_fn fn, bool reading)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	struct iovec cur[FULL_IOV];
	int idx = 0;    /* first entry of iov not done */
	size_t off = 0; /* bytes done in iov[idx] */
	size_t done = 0;
	while (done < total) {
		while (idx < iovcnt && off == iov[idx].iov_len) {
			idx++;
			off = 0;
		}
		int n = 0;
		for (int i = idx; i < iovcnt && n < FULL_IOV; i++) {
			size_t skip = i == idx ? off : 0;
			if (iov[i].iov_len == skip)
				continue; /* empty: its base may be NULL */
			cur[n].iov_base = (char *)iov[i].iov_base + skip;
			cur[n].iov_len = iov[i].iov_len - skip;
			n++;
		}
		ssize_t r = fn(s, cur, n, deadline);
		if (r < 0)
			return r;
		if (r == 0 && reading)
			return -EPIPE;
		done += (size_t)r;
		size_t left = (size_t)r;
		while (left) {
			size_t room = iov[idx].iov_len - off;
			if (left < room) {
				off += left;
				left = 0;
			} else {
				left -= room;
				idx++;
				off = 0;
			}
		}
	}
	return (ssize_t)total;
}

ssize_t kaon_readv_full(kaon_sock *s, const struct iovec *iov, int iovcnt,
			int64_t deadline)
{
	return vec_full(s, iov, iovcnt, deadline, kaon_recvv, true);
}

ssize_t kaon_writev_full(kaon_sock *s, const struct iovec *iov, int iovcnt,
			 int64_t deadline)
{
	return vec_full(s, iov, iovcnt, deadline, kaon_sendv, false);
}

ssize_t kaon_sendto(kaon_sock *s, const void *buf, size_t len, const kaon_addr *to,
		    int64_t deadline)
{
	if (!s->ops->sendto)
		return -EOPNOTSUPP;
	return s->ops->sendto(s, buf, len, to, deadline);
}

ssize_t kaon_recvfrom(kaon_sock *s, void *buf, size_t len, kaon_addr *from,
		      int64_t deadline)
{
	if (!s->ops->recvfrom)
		return -EOPNOTSUPP;
	return s->ops->recvfrom(s, buf, len, from, deadline);
}

int kaon_shutdown(kaon_sock *s, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	return s->ops->shutdown(s, how);
}

int kaon_close(kaon_sock *s)
{
	return s ? s->ops->close(s) : 0;
}

int kaon_sock_setopt(kaon_sock *s, kaon_sockopt opt, int value)
{
	return s->ops->setopt(s, opt, value);
}

int kaon_sock_getopt(kaon_sock *s, kaon_sockopt opt, int *value)
{
	return s->ops->getopt(s, opt, value);
}

int kaon_sock_local(kaon_sock *s, kaon_addr *out)
{
	return s->ops->name(s, out, false);
}

int kaon_sock_peer(kaon_sock *s, kaon_addr *out)
{
	return s->ops->name(s, out, true);
}

int kaon_sock_fd(const kaon_sock *s)
{
	return s->ops->fd ? s->ops->fd(s) : -ENOTSUP;
}
