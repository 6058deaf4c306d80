/* SPDX-License-Identifier: MIT */
/*
 * Internal: what a socket back end implements. A back end is one file: a
 * kaon_sock_stack (how to make sockets) and a kaon_sock_ops table (what a
 * socket does). Its sockets start with struct kaon_sock. kernel.c is the
 * kernel's; kaon's own TCP/IP stack registers another at start-up.
 */
#ifndef KAON_SOCK_IMPL_H
#define KAON_SOCK_IMPL_H

#include "kaon/engine.h"
#include "kaon/sock.h"

struct kaon_sock_ops {
	/* Required. */
	int (*accept)(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline);
	ssize_t (*recvv)(kaon_sock *s, const struct iovec *iov, int iovcnt,
			 int64_t deadline);
	ssize_t (*sendv)(kaon_sock *s, const struct iovec *iov, int iovcnt,
			 int64_t deadline);
	int (*shutdown)(kaon_sock *s, int how);
	int (*close)(kaon_sock *s); /* also frees s */
	int (*setopt)(kaon_sock *s, kaon_sockopt opt, int value);
	int (*getopt)(kaon_sock *s, kaon_sockopt opt, int *value);
	int (*name)(kaon_sock *s, kaon_addr *out, bool peer);
	/* Optional: NULL means "not supported" (-EOPNOTSUPP) or, for recv and
	 * send, "use recvv/sendv with one iovec". */
	ssize_t (*recv)(kaon_sock *s, void *buf, size_t len, int64_t deadline);
	ssize_t (*send)(kaon_sock *s, const void *buf, size_t len, int64_t deadline);
	ssize_t (*sendto)(kaon_sock *s, const void *buf, size_t len, const kaon_addr *to,
			  int64_t deadline);
	ssize_t (*recvfrom)(kaon_sock *s, void *buf, size_t len, kaon_addr *from,
			    int64_t deadline);
	int (*fd)(const kaon_sock *s);
	/* kaon_sendv_ref; NULL: sendv, then every piece released. Releases
	 * what it holds by the rule of kn_tcp_sendv_ref (nothing when it
	 * returns <= 0: the caller releases). */
	ssize_t (*sendv_ref)(kaon_sock *s, const struct iovec *iov, const kaon_ref *ref,
			     int iovcnt, int64_t deadline);
};

struct kaon_sock {
	const struct kaon_sock_ops *ops;
	const struct kaon_sock_stack *stack;
};

struct kaon_sock_stack {
	const char *name;
	/* Vcpus running this engine make sockets on this stack by default. */
	const kaon_engine_ops *engine;
	int (*listen)(kaon_sock **out, const kaon_addr *addr, const kaon_listen_opts *o);
	int (*connect)(kaon_sock **out, const kaon_addr *addr,
		       const kaon_connect_opts *o, int64_t deadline);
	int (*udp_bind)(kaon_sock **out, const kaon_addr *addr);
};

/* Make @p st known by name. @return 0, -EEXIST, -ENOSPC. Not thread-safe:
 * call before starting vcpus. */
int kaon__sock_stack_register(const struct kaon_sock_stack *st);

extern const struct kaon_sock_stack kaon__sock_kernel;

#endif
