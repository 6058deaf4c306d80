/* SPDX-License-Identifier: MIT */
/* The kernel socket back end: a non-blocking fd driven by kaon_io_*. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kaon/io.h"
#include "sock/sock_impl.h"

struct ksock {
	struct kaon_sock base;
	int fd;
};

static const struct kaon_sock_ops kops;

static int kfd(const kaon_sock *s)
{
	return ((const struct ksock *)s)->fd;
}

/* Wrap @p fd (closed on failure). */
static int kwrap(kaon_sock **out, int fd)
{
	struct ksock *k = malloc(sizeof(*k));
	if (!k) {
		kaon_io_close(fd);
		return -ENOMEM;
	}
	k->base.ops = &kops;
	k->base.stack = &kaon__sock_kernel;
	k->fd = fd;
	*out = &k->base;
	return 0;
}

static int ksocket(int family, int type)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

static int setint(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int klisten(kaon_sock **out, const kaon_addr *addr, const kaon_listen_opts *o)
{
	int fd = ksocket(addr->u.sa.sa_family, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int r = setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!r && o->reuseport)
		r = setint(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!r && addr->u.sa.sa_family == AF_INET6)
		r = setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->v6only);
	if (!r && bind(fd, &addr->u.sa, addr->len) < 0)
		r = -errno;
	if (!r && listen(fd, o->backlog ? o->backlog : SOMAXCONN) < 0)
		r = -errno;
	if (r) {
		close(fd);
		return r;
	}
	return kwrap(out, fd);
}

static int kconnect(kaon_sock **out, const kaon_addr *addr, const kaon_connect_opts *o,
		    int64_t deadline)
{
	int fd = ksocket(addr->u.sa.sa_family, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int r = 0;
	if (o->nodelay)
		r = setint(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!r && o->local && bind(fd, &o->local->u.sa, o->local->len) < 0)
		r = -errno;
	if (!r)
		r = kaon_io_connect(fd, &addr->u.sa, addr->len, deadline);
	if (r) {
		kaon_io_close(fd);
		return r;
	}
	return kwrap(out, fd);
}

static int kudp_bind(kaon_sock **out, const kaon_addr *addr)
{
	int fd = ksocket(addr->u.sa.sa_family, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	if (bind(fd, &addr->u.sa, addr->len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return kwrap(out, fd);
}

static int kaccept(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline)
{
	kaon_addr tmp;
	kaon_addr *a = peer ? peer : &tmp;
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->u);
	int fd = kaon_io_accept(kfd(ls), &a->u.sa, &a->len, deadline);
	if (fd < 0)
		return fd;
	return kwrap(out, fd);
}

static ssize_t krecv(kaon_sock *s, void *buf, size_t len, int64_t deadline)
{
	return kaon_io_recv(kfd(s), buf, len, 0, deadline);
}

static ssize_t ksend(kaon_sock *s, const void *buf, size_t len, int64_t deadline)
{
	return kaon_io_send(kfd(s), buf, len, 0, deadline);
}

static ssize_t krecvv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	return kaon_io_recvmsg(kfd(s), &m, 0, deadline);
}

static ssize_t ksendv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	return kaon_io_sendmsg(kfd(s), &m, 0, deadline);
}

static ssize_t ksendto(kaon_sock *s, const void *buf, size_t len, const kaon_addr *to,
		       int64_t deadline)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (to) {
		m.msg_name = (void *)&to->u.sa;
		m.msg_namelen = to->len;
	}
	return kaon_io_sendmsg(kfd(s), &m, 0, deadline);
}

static ssize_t krecvfrom(kaon_sock *s, void *buf, size_t len, kaon_addr *from,
			 int64_t deadline)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	kaon_addr tmp;
	kaon_addr *a = from ? from : &tmp;
	memset(a, 0, sizeof(*a));
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_name = &a->u.ss, .msg_namelen = sizeof(a->u) };
	ssize_t n = kaon_io_recvmsg(kfd(s), &m, 0, deadline);
	a->len = m.msg_namelen;
	return n;
}

static int kshutdown(kaon_sock *s, int how)
{
	return shutdown(kfd(s), how) < 0 ? -errno : 0;
}

static int kclose(kaon_sock *s)
{
	int r = kaon_io_close(kfd(s));
	free(s);
	return r;
}

/* Level and name of a plain int option; 0 when it is not one. */
static int kopt(kaon_sockopt opt, int *level, int *name)
{
	switch (opt) {
	case KAON_SO_NODELAY: *level = IPPROTO_TCP; *name = TCP_NODELAY; return 1;
	case KAON_SO_RCVBUF: *level = SOL_SOCKET; *name = SO_RCVBUF; return 1;
	case KAON_SO_SNDBUF: *level = SOL_SOCKET; *name = SO_SNDBUF; return 1;
	case KAON_SO_KEEPALIVE: *level = SOL_SOCKET; *name = SO_KEEPALIVE; return 1;
	default: return 0;
	}
}

static int ksetopt(kaon_sock *s, kaon_sockopt opt, int value)
{
	int level, name;
	if (opt == KAON_SO_LINGER0) {
		struct linger l = { .l_onoff = !!value, .l_linger = 0 };
		return setsockopt(kfd(s), SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0 ? -errno : 0;
	}
	if (!kopt(opt, &level, &name))
		return -EINVAL;
	if (value < 0)
		return -EINVAL;
	return setint(kfd(s), level, name, value);
}

static int kgetopt(kaon_sock *s, kaon_sockopt opt, int *value)
{
	int level, name;
	if (opt == KAON_SO_LINGER0) {
		struct linger l;
		socklen_t len = sizeof(l);
		if (getsockopt(kfd(s), SOL_SOCKET, SO_LINGER, &l, &len) < 0)
			return -errno;
		*value = l.l_onoff && l.l_linger == 0;
		return 0;
	}
	if (!kopt(opt, &level, &name))
		return -EINVAL;
	socklen_t len = sizeof(*value);
	return getsockopt(kfd(s), level, name, value, &len) < 0 ? -errno : 0;
}

static int kname(kaon_sock *s, kaon_addr *out, bool peer)
{
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->u);
	int r = peer ? getpeername(kfd(s), &out->u.sa, &out->len)
		     : getsockname(kfd(s), &out->u.sa, &out->len);
	return r < 0 ? -errno : 0;
}

static const struct kaon_sock_ops kops = {
	.accept = kaccept,
	.recvv = krecvv,
	.sendv = ksendv,
	.shutdown = kshutdown,
	.close = kclose,
	.setopt = ksetopt,
	.getopt = kgetopt,
	.name = kname,
	.recv = krecv,
	.send = ksend,
	.sendto = ksendto,
	.recvfrom = krecvfrom,
	.fd = kfd,
};

const struct kaon_sock_stack kaon__sock_kernel = {
	.name = "kernel",
	.engine = NULL,
	.listen = klisten,
	.connect = kconnect,
	.udp_bind = kudp_bind,
};
