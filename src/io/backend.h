/* SPDX-License-Identifier: MIT */
/*
 * Internal: what an engine that can wait on kernel fds offers to kaon_io_*.
 * NULL operations fall back to "try the syscall, wait for readiness, retry".
 */
#ifndef KAON_IO_BACKEND_H
#define KAON_IO_BACKEND_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "kaon/engine.h"

struct kaon_io_backend {
	int (*wait)(void *st, int fd, unsigned events, int64_t deadline);
	ssize_t (*recv)(void *st, int fd, void *buf, size_t len, int flags,
			int64_t deadline);
	ssize_t (*send)(void *st, int fd, const void *buf, size_t len, int flags,
			int64_t deadline);
	ssize_t (*recvmsg)(void *st, int fd, struct msghdr *msg, int flags,
			   int64_t deadline);
	ssize_t (*sendmsg)(void *st, int fd, const struct msghdr *msg, int flags,
			   int64_t deadline);
	int (*accept)(void *st, int fd, struct sockaddr *addr, socklen_t *addrlen,
		      int64_t deadline);
	ssize_t (*sendfile)(void *st, int out_fd, int in_fd, off_t *off, size_t len,
			    int64_t deadline);
	/* The fd is about to be closed: wake its waiters with -ECANCELED. */
	void (*forget)(void *st, int fd);
};

extern const struct kaon_io_backend kaon__io_epoll;

/*
 * Let kaon_io_* wait on fds on vcpus running @p engine (say, a busy-polling
 * engine that also polls an epoll set now and then). Call before starting
 * vcpus. @return 0, -EINVAL, -EEXIST, -ENOSPC.
 */
int kaon__io_backend_register(const kaon_engine_ops *engine,
			      const struct kaon_io_backend *be);
#ifdef KAON_HAVE_URING
extern const struct kaon_io_backend kaon__io_uring;
/* Set up and tear down a ring as the engine would: 0 or the kernel's -errno. */
int kaon__uring_probe(void);
#endif

#endif
