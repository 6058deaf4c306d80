/* SPDX-License-Identifier: MIT */
/*
 * kaon_io_*: find the calling vcpu's engine and let it do the call; where the
 * engine has no native operation, try the syscall and wait for readiness.
 */
#include <errno.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "io/backend.h"
#include "kaon/io.h"

/* Between two polls of an fd on an engine that cannot wait on fds. */
#define FALLBACK_SLICE_NS 200000

/* Engines that can wait on kernel fds: the two here, and any registered. */
#define MAX_BACKENDS 8

static struct {
	const kaon_engine_ops *engine;
	const struct kaon_io_backend *be;
} backends[MAX_BACKENDS] = {
	{ &kaon_engine_epoll, &kaon__io_epoll },
#ifdef KAON_HAVE_URING
	{ &kaon_engine_uring, &kaon__io_uring },
#endif
};

int kaon__io_backend_register(const kaon_engine_ops *engine,
			      const struct kaon_io_backend *be)
{
	if (!engine || !be || !be->wait)
		return -EINVAL;
	for (int i = 0; i < MAX_BACKENDS; i++) {
		if (backends[i].engine == engine)
			return -EEXIST;
		if (!backends[i].engine) {
			backends[i].engine = engine;
			backends[i].be = be;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The backend of the calling thread's vcpu (NULL: none, use the fallback). */
static const struct kaon_io_backend *backend(void **state)
{
	kaon_vcpu *v = kaon_vcpu_self();
	if (!v)
		return NULL;
	const kaon_engine_ops *ops = kaon_vcpu_engine(v);
	*state = kaon_vcpu_engine_state(v);
	for (int i = 0; i < MAX_BACKENDS && backends[i].engine; i++)
		if (backends[i].engine == ops)
			return backends[i].be;
	return NULL;
}

/* Poll the fd, sleeping in short slices: for engines that cannot wait on fds. */
static int fallback_wait(int fd, unsigned events, int64_t deadline)
{
	if (!kaon_self())
		return -EPERM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = (short)events };
		int n = poll(&p, 1, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			return p.revents ? p.revents : 1;
		int64_t now = kaon_now();
		if (now >= deadline)
			return -ETIMEDOUT;
		int64_t until = deadline - now > FALLBACK_SLICE_NS ? now + FALLBACK_SLICE_NS
								   : deadline;
		int r = kaon_sleep_until(until);
		if (r < 0)
			return r;
	}
}

int kaon_io_wait(int fd, unsigned events, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	if (!be)
		return fallback_wait(fd, events, deadline);
	return be->wait(st, fd, events, deadline);
}

/* -errno of a failed syscall, or 0 when it only needs to wait. */
static int retry_err(void)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return -errno;
}

/* After a non-blocking call failed: wait until @p fd is ready for @p events.
 * @return 0 to try the call again, or -errno (the call's own error, the
 * deadline, an interrupt). */
static int wait_again(const struct kaon_io_backend *be, void *st, int fd, unsigned events,
		      int64_t deadline)
{
	int err = retry_err();
	if (err)
		return err;
	err = be ? be->wait(st, fd, events, deadline) : fallback_wait(fd, events, deadline);
	return err < 0 ? err : 0;
}

ssize_t kaon_io_recv(int fd, void *buf, size_t len, int flags, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	if (be && be->recv)
		return be->recv(st, fd, buf, len, flags, deadline);
	for (;;) {
		ssize_t n = recv(fd, buf, len, flags | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		int err = wait_again(be, st, fd, KAON_IO_IN, deadline);
		if (err)
			return err;
	}
}

ssize_t kaon_io_send(int fd, const void *buf, size_t len, int flags, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	flags |= MSG_NOSIGNAL;
	if (be && be->send)
		return be->send(st, fd, buf, len, flags, deadline);
	for (;;) {
		ssize_t n = send(fd, buf, len, flags | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		int err = wait_again(be, st, fd, KAON_IO_OUT, deadline);
		if (err)
			return err;
	}
}

ssize_t kaon_io_recvmsg(int fd, struct msghdr *msg, int flags, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	if (be && be->recvmsg)
		return be->recvmsg(st, fd, msg, flags, deadline);
	for (;;) {
		ssize_t n = recvmsg(fd, msg, flags | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		int err = wait_again(be, st, fd, KAON_IO_IN, deadline);
		if (err)
			return err;
	}
}

ssize_t kaon_io_sendmsg(int fd, const struct msghdr *msg, int flags, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	flags |= MSG_NOSIGNAL;
	if (be && be->sendmsg)
		return be->sendmsg(st, fd, msg, flags, deadline);
	for (;;) {
		ssize_t n = sendmsg(fd, msg, flags | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		int err = wait_again(be, st, fd, KAON_IO_OUT, deadline);
		if (err)
			return err;
	}
}

ssize_t kaon_io_sendfile(int out_fd, int in_fd, off_t *off, size_t len, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	if (be && be->sendfile)
		return be->sendfile(st, out_fd, in_fd, off, len, deadline);
	for (;;) {
		ssize_t n = sendfile(out_fd, in_fd, off, len);
		if (n >= 0)
			return n;
		int err = wait_again(be, st, out_fd, KAON_IO_OUT, deadline);
		if (err)
			return err;
	}
}

int kaon_io_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	if (be && be->accept)
		return be->accept(st, fd, addr, addrlen, deadline);
	for (;;) {
		int c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0)
			return c;
		/* A connection that died in the backlog is not the listener's error. */
		if (errno == ECONNABORTED)
			continue;
		int err = wait_again(be, st, fd, KAON_IO_IN, deadline);
		if (err)
			return err;
	}
}

int kaon_io_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
		    int64_t deadline)
{
	if (connect(fd, addr, addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	for (;;) {
		int r = kaon_io_wait(fd, KAON_IO_OUT, deadline);
		if (r < 0)
			return r;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		if (soerr)
			return -soerr;
		/* Writable with no error means connected, unless still in progress. */
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
			return 0;
		if (errno != ENOTCONN)
			return -errno;
	}
}

int kaon_io_close(int fd)
{
	void *st = NULL;
	const struct kaon_io_backend *be = backend(&st);
	if (be && be->forget)
		be->forget(st, fd);
	return close(fd) < 0 ? -errno : 0;
}
