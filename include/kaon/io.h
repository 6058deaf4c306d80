/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/io.h
 * Kernel I/O for coroutines: the epoll and io_uring engines, and blocking
 * calls on kernel file descriptors that park the calling coroutine instead
 * of the thread.
 *
 * A vcpu runs one engine (kaon_vcpu_opts.engine). The calls below work on a
 * vcpu running kaon_engine_epoll or kaon_engine_uring; on any other engine
 * they fall back to polling the fd between short sleeps (correct, slow).
 * Descriptors must be non-blocking (O_NONBLOCK). A descriptor is used by one
 * vcpu at a time, and closed with kaon_io_close() on the vcpu that used it
 * last, so that engine forgets it (epoll keeps a registration per fd number;
 * one left behind by a close elsewhere could miss the events of a new fd
 * that reuses the number on that vcpu).
 *
 * Every call takes an absolute deadline (kaon_now() nanoseconds or
 * KAON_FOREVER) and returns a non-negative value or a negative errno:
 * -ETIMEDOUT at the deadline, -ECANCELED (or the interrupt's error) when the
 * coroutine is interrupted, -EPERM outside a coroutine.
 */
#ifndef KAON_IO_H
#define KAON_IO_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "kaon/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Edge-triggered epoll engine; wake() is an eventfd. */
extern const kaon_engine_ops kaon_engine_epoll;

/**
 * io_uring engine: blocking calls become SQEs, submitted and reaped in one
 * io_uring_enter per loop pass. Always defined; its init fails with -ENOSYS
 * when kaon was built without liburing, and with the kernel's error when the
 * kernel refuses a ring. kaon_io_engine_pick() falls back to epoll instead.
 */
extern const kaon_engine_ops kaon_engine_uring;

/**
 * The engine called @p name: "epoll" or "uring" (also "io_uring").
 * NULL or "" means $KAON_ENGINE, or epoll when that is unset.
 * "uring" falls back to epoll, printing a one-line notice on stderr, when
 * kaon has no io_uring support or the kernel refuses to set up a ring.
 *
 * @return the engine, or NULL for an unknown name.
 */
const kaon_engine_ops *kaon_io_engine_pick(const char *name);

/** Readiness bits for kaon_io_wait() (the poll(2) values). */
#define KAON_IO_IN  0x001u
#define KAON_IO_OUT 0x004u

/**
 * Wait until @p fd is ready for @p events (KAON_IO_IN and/or KAON_IO_OUT).
 * Wake-ups may be spurious: retry the operation and wait again on EAGAIN.
 * @return a positive set of ready bits (errors and hang-up report as ready);
 *         -ETIMEDOUT; -err when interrupted; -EPERM; -ENOMEM.
 */
int kaon_io_wait(int fd, unsigned events, int64_t deadline);

/** recv(2) that parks. @return bytes (0: end of stream) or -errno. */
ssize_t kaon_io_recv(int fd, void *buf, size_t len, int flags, int64_t deadline);

/** send(2) that parks; MSG_NOSIGNAL is always added. @return bytes or -errno. */
ssize_t kaon_io_send(int fd, const void *buf, size_t len, int flags, int64_t deadline);

/** recvmsg(2) that parks. @return bytes or -errno. */
ssize_t kaon_io_recvmsg(int fd, struct msghdr *msg, int flags, int64_t deadline);

/** sendmsg(2) that parks; MSG_NOSIGNAL is always added. @return bytes or -errno. */
ssize_t kaon_io_sendmsg(int fd, const struct msghdr *msg, int flags, int64_t deadline);

/**
 * Send up to @p len bytes of the file @p in_fd, from *@p off, to the socket
 * @p out_fd without copying them through user space; parks while the
 * socket is full: sendfile(2) and a readiness wait. With
 * KAON_URING_SPLICE=1 in the environment, io_uring vcpus splice on the ring
 * instead (file to a pipe, pipe to the socket), so the thread never waits
 * in the kernel for an uncached file; slower on cached files (see
 * src/io/uring.c). *@p off moves past the bytes sent.
 * @return bytes sent (> 0; possibly fewer than len), 0 when the file ends
 *         at *@p off, or -errno.
 */
ssize_t kaon_io_sendfile(int out_fd, int in_fd, off_t *off, size_t len, int64_t deadline);

/**
 * accept4(2) that parks; the new fd is always SOCK_NONBLOCK|SOCK_CLOEXEC.
 * @return the new fd or -errno (-EMFILE/-ENFILE when out of descriptors).
 */
int kaon_io_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline);

/**
 * connect(2) on a non-blocking socket, parking until the connection is
 * established or fails. @return 0 or -errno (-ECONNREFUSED, -ETIMEDOUT...).
 */
int kaon_io_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
		    int64_t deadline);

/**
 * Forget @p fd in the calling vcpu's engine (waking its waiters with
 * -ECANCELED) and close it. Callable outside a vcpu too.
 * @return 0 or -errno from close(2).
 */
int kaon_io_close(int fd);

#ifdef __cplusplus
}
#endif
#endif /* KAON_IO_H */
