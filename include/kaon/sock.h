/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/sock.h
 * One socket API for coroutines, whatever carries the bytes: the kernel
 * (through the vcpu's epoll or io_uring engine) or kaon's own TCP/IP stack.
 *
 * A socket is created by a stack (a named back end, see kaon_sock_stack) and
 * carries that stack's small operations table, so the calls below never care
 * which one it is. Which stack: the one named in the options, else the stack
 * registered for the calling vcpu's engine, else "kernel".
 *
 * A socket belongs to one vcpu at a time; two coroutines of that vcpu may use
 * it at once (one receiving, one sending). Close it on the vcpu that used it
 * last (or, if no vcpu ever waited on it, anywhere). Closing a socket another
 * coroutine is blocked on is not allowed (as with close(2)).
 *
 * Every blocking call takes an absolute deadline (kaon_now() nanoseconds,
 * KAON_FOREVER: none; a deadline already past: do not block) and returns a
 * non-negative value or a negative errno: -ETIMEDOUT at the deadline,
 * -ECANCELED (the interrupt's error) when the coroutine is interrupted,
 * -ECONNRESET, -EPIPE (writing after the peer left, or reading short with
 * read_full), -ECONNREFUSED, -EADDRINUSE, -EMFILE...
 */
#ifndef KAON_SOCK_H
#define KAON_SOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "kaon/co.h"
#include "kaon/ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- addresses */

/** An IPv4 or IPv6 socket address. */
typedef struct kaon_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
} kaon_addr;

/**
 * Fill @p a from a numeric address ("127.0.0.1", "::1"; "" or "*" is
 * 0.0.0.0; "localhost" is 127.0.0.1) and a port. No name lookups.
 * @return 0, or -EINVAL for anything else.
 */
int kaon_addr_parse(kaon_addr *a, const char *host, uint16_t port);

/** The port of @p a (host byte order), 0 for an unknown family. */
uint16_t kaon_addr_port(const kaon_addr *a);

/** Maximum length of kaon_addr_format()'s text, NUL included. */
#define KAON_ADDR_STRLEN 64

/**
 * Write "A:P" ("[A]:P" for IPv6) into @p buf.
 * @return @p buf (truncated text if @p len is short).
 */
char *kaon_addr_format(const kaon_addr *a, char *buf, size_t len);

/* ----------------------------------------------------------------- sockets */

typedef struct kaon_sock kaon_sock;

/** Options of kaon_sock_setopt() / kaon_sock_getopt(); values are ints. */
typedef enum kaon_sockopt {
	KAON_SO_NODELAY,   /**< TCP: disable Nagle (bool) */
	KAON_SO_RCVBUF,    /**< receive buffer size in bytes */
	KAON_SO_SNDBUF,    /**< send buffer size in bytes */
	KAON_SO_KEEPALIVE, /**< TCP keep-alive (bool) */
	KAON_SO_LINGER0,   /**< close resets the connection (bool) */
} kaon_sockopt;

typedef struct kaon_listen_opts {
	int backlog;       /**< 0: the system maximum (SOMAXCONN) */
	bool reuseport;    /**< share the port with other listeners (one per vcpu) */
	bool v6only;       /**< IPv6 address: refuse IPv4-mapped peers */
	const char *stack; /**< NULL: the calling vcpu's default stack */
} kaon_listen_opts;

typedef struct kaon_connect_opts {
	bool nodelay;        /**< set KAON_SO_NODELAY on the new connection */
	const kaon_addr *local; /**< bind to this address first; NULL: any */
	const char *stack;   /**< NULL: the calling vcpu's default stack */
} kaon_connect_opts;

/** Defaults: backlog 0 (SOMAXCONN), no reuseport, default stack. */
void kaon_listen_opts_init(kaon_listen_opts *o);
/** Defaults: nodelay on, no local address, default stack. */
void kaon_connect_opts_init(kaon_connect_opts *o);

/**
 * A TCP listener bound to @p addr (SO_REUSEADDR always; port 0 picks one:
 * see kaon_sock_local). Does not block; callable outside a vcpu when the
 * stack is named or is "kernel".
 * @return 0 and *out; -EADDRINUSE; -EACCES; -EADDRNOTAVAIL; -EINVAL;
 *         -ENOENT for an unknown stack; -EMFILE; -ENOMEM.
 */
int kaon_listen(kaon_sock **out, const kaon_addr *addr, const kaon_listen_opts *opts);

/**
 * Wait for a connection on listener @p ls.
 * @param peer  if not NULL, receives the peer's address.
 * @return 0 and *out; -ETIMEDOUT; -ECANCELED; -EMFILE/-ENFILE when out of
 *         descriptors (the listener stays usable); -ENOMEM; -EINVAL when
 *         @p ls is not a listener.
 */
int kaon_accept(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline);

/**
 * Open a TCP connection to @p addr.
 * @param opts  NULL for defaults.
 * @return 0 and *out; -ECONNREFUSED; -ETIMEDOUT; -ENETUNREACH; -ECANCELED...
 */
int kaon_connect(kaon_sock **out, const kaon_addr *addr, const kaon_connect_opts *opts,
		 int64_t deadline);

/**
 * A UDP socket bound to @p addr (port 0: any).
 * @param stack  NULL: the calling vcpu's default stack.
 * @return 0 and *out, or -errno as kaon_listen().
 */
int kaon_udp_bind(kaon_sock **out, const kaon_addr *addr, const char *stack);

/**
 * Receive up to @p len bytes; waits only while nothing is there.
 * @return bytes received (> 0); 0 at end of stream (peer shut down its
 *         writing side), or for len 0; -errno.
 */
ssize_t kaon_recv(kaon_sock *s, void *buf, size_t len, int64_t deadline);

/**
 * Send up to @p len bytes; waits only while no byte can be queued.
 * @return bytes queued (> 0, possibly fewer than len); -EPIPE or -ECONNRESET
 *         when the connection is gone; -errno.
 */
ssize_t kaon_send(kaon_sock *s, const void *buf, size_t len, int64_t deadline);

/** Scatter variant of kaon_recv() (at most IOV_MAX entries). */
ssize_t kaon_recvv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline);

/** Gather variant of kaon_send() (at most IOV_MAX entries). */
ssize_t kaon_sendv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline);

/**
 * kaon_sendv() where a piece with @p ref[i].release may be sent without a
 * copy: kaon's own stack keeps pointers into it until the peer acknowledges
 * its bytes (retransmissions are built from it); the kernel stacks copy it
 * at once. The caller must not change those bytes until
 * @p ref[i].release(@p ref[i].arg), which is called exactly once for each
 * such piece, whatever this returns (a piece not taken, or taken only in
 * part, is released too: send the rest with a new reference): before this
 * returns, or later on the socket's vcpu (from its stack's polling, after
 * kaon_close() too). The buffer must stay readable until then (a file
 * mapping that shrinks faults: see tools/kaon-httpd/http_file.h).
 * @p ref NULL is kaon_sendv().
 * @return as kaon_sendv().
 */
ssize_t kaon_sendv_ref(kaon_sock *s, const struct iovec *iov, const kaon_ref *ref, int iovcnt,
		       int64_t deadline);

/**
 * Receive exactly @p len bytes.
 * @return len; -EPIPE if the stream ended first; -ETIMEDOUT or another
 *         -errno (bytes received until then are lost to the caller).
 */
ssize_t kaon_read_full(kaon_sock *s, void *buf, size_t len, int64_t deadline);

/** Send all @p len bytes. @return len, or -errno as kaon_send(). */
ssize_t kaon_write_full(kaon_sock *s, const void *buf, size_t len, int64_t deadline);

/** Receive until every iovec is full. @return the total, or as read_full. */
ssize_t kaon_readv_full(kaon_sock *s, const struct iovec *iov, int iovcnt,
			int64_t deadline);

/** Send every iovec entirely. @return the total, or as write_full. */
ssize_t kaon_writev_full(kaon_sock *s, const struct iovec *iov, int iovcnt,
			 int64_t deadline);

/**
 * UDP: send one datagram to @p to (NULL: the connected peer).
 * @return bytes sent or -errno (-EMSGSIZE...).
 */
ssize_t kaon_sendto(kaon_sock *s, const void *buf, size_t len, const kaon_addr *to,
		    int64_t deadline);

/**
 * UDP: receive one datagram (truncated to @p len).
 * @param from  if not NULL, receives the sender's address.
 * @return its length (before truncation is not reported) or -errno.
 */
ssize_t kaon_recvfrom(kaon_sock *s, void *buf, size_t len, kaon_addr *from,
		      int64_t deadline);

/**
 * Shut down one or both directions (SHUT_RD, SHUT_WR, SHUT_RDWR). After
 * SHUT_WR the peer reads end of stream and may keep sending.
 * @return 0, -ENOTCONN, -EINVAL.
 */
int kaon_shutdown(kaon_sock *s, int how);

/**
 * Close the socket and free it. Never blocks. @p s may be NULL.
 * @return 0, or -errno reported by the back end (the socket is freed anyway).
 */
int kaon_close(kaon_sock *s);

/** @return 0, -EINVAL (bad option or value), -ENOPROTOOPT, or -errno. */
int kaon_sock_setopt(kaon_sock *s, kaon_sockopt opt, int value);

/** @return 0 and *value, or -errno as kaon_sock_setopt(). */
int kaon_sock_getopt(kaon_sock *s, kaon_sockopt opt, int *value);

/** The local address. @return 0 or -errno. */
int kaon_sock_local(kaon_sock *s, kaon_addr *out);

/** The peer's address. @return 0, -ENOTCONN, or -errno. */
int kaon_sock_peer(kaon_sock *s, kaon_addr *out);

/** Name of the stack behind @p s ("kernel", "kaon"). */
const char *kaon_sock_stack_name(const kaon_sock *s);

/**
 * The kernel descriptor behind @p s, or -ENOTSUP for a socket of a
 * user-space stack. For polling with other tools; do not close it.
 */
int kaon_sock_fd(const kaon_sock *s);

#ifdef __cplusplus
}
#endif
#endif /* KAON_SOCK_H */
