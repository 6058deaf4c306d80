/* SPDX-License-Identifier: MIT */
/*
 * Sockets on kaon's own TCP/IP stack. A socket is a stack handle (TCP or
 * UDP) plus the coroutines waiting on it; the stack's events wake them. The
 * stack, its events and the coroutines all live on one vcpu, so nothing here
 * locks: a socket must be used on the vcpu that made it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sock/sock_impl.h"
#include "sock/user_impl.h"

#define BACKLOG_DEFAULT 4096

struct usock {
	struct kaon_sock base;
	struct kaon_user_engine *eng;
	struct kn_tcb *tcb;
	struct kn_udp *udp;
	kaon_co *rd, *wr;      /* parked readers/acceptors and writers */
	bool listener, linger0, nodelay, keepalive, shut_rd;
	bool share;            /* a listener another core opened here, not taken yet */
	bool opener;           /* a listener that opened shares on the other cores */
	uint16_t lport;        /* UDP: bound port; listeners: the port */
	struct usock *share_next; /* the engine's list of shares */
};

static const struct kaon_sock_ops user_tcp_ops, user_udp_ops;

static void wake(kaon_co **slot)
{
	kaon_co *co = *slot;
	if (co) {
		*slot = NULL;
		kaon_unpark(co, 0);
	}
}

void kaon__user_sock_event(void *user, unsigned events, int err)
{
	struct usock *u = user;
	(void)err;
	if (!u)
		return;
	if (events & (KN_EV_READABLE | KN_EV_ACCEPT | KN_EV_CLOSED | KN_EV_CONNECTED))
		wake(&u->rd);
	if (events & (KN_EV_WRITABLE | KN_EV_CONNECTED | KN_EV_CLOSED))
		wake(&u->wr);
}

/* Park on @p slot until an event (0), the deadline or an interrupt. */
static int wait_on(kaon_co **slot, int64_t deadline)
{
	if (*slot)
		return -EBUSY; /* another coroutine already waits here */
	kaon_co *self = kaon_self();
	*slot = self;
	int rc = kaon_park(deadline);
	if (*slot == self)
		*slot = NULL;
	return rc;
}

static struct usock *usock_new(struct kaon_user_engine *e, const struct kaon_sock_ops *ops)
{
	struct usock *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->base.ops = ops;
	u->base.stack = &kaon__sock_user;
	u->eng = e;
	u->nodelay = e->conf->tcp.nodelay;
	return u;
}

/* Our side must be IPv4, on our address or the wildcard. */
static int check_local(struct kaon_user_engine *e, const kaon_addr *a)
{
	if (a->u.sa.sa_family != AF_INET)
		return -EAFNOSUPPORT;
	uint32_t ip = a->u.in4.sin_addr.s_addr;
	if (ip != htonl(INADDR_ANY) && ip != e->conf->port0.addr)
		return -EADDRNOTAVAIL;
	return 0;
}

static void to_addr(kaon_addr *out, uint32_t ip, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	out->u.in4.sin_family = AF_INET;
	out->u.in4.sin_addr.s_addr = htonl(ip);
	out->u.in4.sin_port = htons(port);
	out->len = sizeof(struct sockaddr_in);
}

/* ------------------------------------------------------------------ TCP */

static struct usock *listener_new(struct kaon_user_engine *e, uint16_t port, uint32_t backlog,
				  int *rc)
{
	struct usock *u = usock_new(e, &user_tcp_ops);
	if (!u) {
		*rc = -ENOMEM;
		return NULL;
	}
	u->listener = true;
	u->lport = port;
	u->tcb = kn_tcp_listen(e->stack, port, backlog, u, rc);
	if (!u->tcb) {
		free(u);
		if (*rc >= 0)
			*rc = -ENOMEM;
		return NULL;
	}
	return u;
}

/* ---- listeners on every core: a listen on one core of a group opens a
 * "share" of it on every other core, so that a SYN that core's NIC queue
 * receives finds a listener at once; the same listen made there later
 * takes the share (SO_REUSEPORT semantics, per core). Shares live on their
 * own core's list and are touched only by that core. */

static struct usock **share_find(struct kaon_user_engine *e, uint16_t port)
{
	for (struct usock **p = &e->shares; *p; p = &(*p)->share_next)
		if ((*p)->lport == port)
			return p;
	return NULL;
}

struct share_args {
	uint16_t port;
	uint32_t backlog;
};

/* On another core: open a share, unless something listens there already
 * (its own listen came first). */
static void *share_open(void *arg)
{
	struct share_args *a = arg;
	struct kaon_user_engine *e = kaon__user_engine_self();
	int rc = 0;
	struct usock *u = listener_new(e, a->port, a->backlog, &rc);
	if (!u)
		return (void *)(intptr_t)(rc == -EADDRINUSE ? 0 : rc);
	u->share = true;
	u->share_next = e->shares;
	e->shares = u;
	return NULL;
}

/* On another core: the listen that opened the shares was closed; close the
 * share there unless someone took it. */
static void *share_close(void *arg)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	struct usock **p = share_find(e, (uint16_t)(uintptr_t)arg);
	if (p) {
		struct usock *u = *p;
		*p = u->share_next;
		kn_tcp_close(u->tcb);
		free(u);
	}
	return NULL;
}

void kaon__user_shares_free(struct kaon_user_engine *e)
{
	/* Their TCBs went with the stack. */
	while (e->shares) {
		struct usock *u = e->shares;
		e->shares = u->share_next;
		free(u);
	}
}

static int user_listen(kaon_sock **out, const kaon_addr *addr, const kaon_listen_opts *o)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	if (!e)
		return -EPERM;
	int rc = check_local(e, addr);
	if (rc < 0)
		return rc;
	uint16_t port = ntohs(addr->u.in4.sin_port);
	if (port == 0)
		return -EINVAL; /* the stack does not pick listening ports */
	struct usock **sp = e->shares ? share_find(e, port) : NULL;
	if (sp) {
		/* Another core's listen opened this core's listener: take it. */
		struct usock *u = *sp;
		*sp = u->share_next;
		u->share = false;
		u->share_next = NULL;
		*out = &u->base;
		return 0;
	}
	uint32_t backlog = o->backlog > 0 ? (uint32_t)o->backlog : BACKLOG_DEFAULT;
	struct usock *u = listener_new(e, port, backlog, &rc);
	if (!u)
		return rc;
	if (e->group && e->group->n > 1) {
		struct share_args a = { port, backlog };
		rc = kaon__user_group_each(e->group, e->core, share_open, &a);
		u->opener = true;
		if (rc < 0) {
			kaon__user_group_each(e->group, e->core, share_close,
					      (void *)(uintptr_t)port);
			kn_tcp_close(u->tcb);
			free(u);
			return rc;
		}
	}
	*out = &u->base;
	return 0;
}

static int user_accept(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline)
{
	struct usock *l = (struct usock *)ls;
	if (!l->listener)
		return -EINVAL;
	struct usock *u = usock_new(l->eng, &user_tcp_ops);
	if (!u)
		return -ENOMEM;
	for (;;) {
		struct kn_tcb *t = kn_tcp_accept(l->tcb, u);
		if (t) {
			u->tcb = t;
			kn_tcp_nagle(t, !u->nodelay);
			if (peer) {
				uint32_t lip, rip;
				uint16_t lp, rp;
				kn_tcp_endpoints(t, &lip, &lp, &rip, &rp);
				to_addr(peer, rip, rp);
			}
			*out = &u->base;
			return 0;
		}
		int rc = wait_on(&l->rd, deadline);
		if (rc < 0) {
			free(u);
			return rc;
		}
	}
}

static int user_connect(kaon_sock **out, const kaon_addr *addr, const kaon_connect_opts *o,
			int64_t deadline)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	if (!e)
		return -EPERM;
	if (addr->u.sa.sa_family != AF_INET)
		return -EAFNOSUPPORT;
	uint16_t lport = 0;
	if (o->local) {
		int rc = check_local(e, o->local);
		if (rc < 0)
			return rc;
		lport = ntohs(o->local->u.in4.sin_port);
	}
	struct usock *u = usock_new(e, &user_tcp_ops);
	if (!u)
		return -ENOMEM;
	u->nodelay = o->nodelay;
	int rc = 0;
	u->tcb = kn_tcp_connect(e->stack, ntohl(addr->u.in4.sin_addr.s_addr),
				ntohs(addr->u.in4.sin_port), lport, u, &rc);
	if (!u->tcb) {
		free(u);
		return rc < 0 ? rc : -ENOMEM;
	}
	kn_tcp_nagle(u->tcb, !u->nodelay);
	for (;;) {
		enum kn_tcp_state st = kn_tcp_get_state(u->tcb);
		if (st >= KN_TCP_ESTABLISHED && st != KN_TCP_CLOSED)
			break;
		int err = kn_tcp_error(u->tcb);
		if (err || st == KN_TCP_CLOSED) {
			kn_tcp_abort(u->tcb);
			free(u);
			return err ? err : -ECONNREFUSED;
		}
		rc = wait_on(&u->wr, deadline);
		if (rc < 0) {
			kn_tcp_abort(u->tcb);
			free(u);
			return rc;
		}
	}
	*out = &u->base;
	return 0;
}

/* Copy received bytes into the iovecs until one call moves something;
 * wait while it would block. */
static ssize_t user_recvv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct usock *u = (struct usock *)s;
	if (u->listener)
		return -ENOTCONN;
	if (u->shut_rd)
		return 0;
	for (;;) {
		size_t total = 0;
		ssize_t n = 0;
		for (int i = 0; i < iovcnt; i++) {
			if (!iov[i].iov_len)
				continue;
			n = kn_tcp_recv(u->tcb, iov[i].iov_base, iov[i].iov_len);
			if (n <= 0)
				break;
			total += (size_t)n;
			if ((size_t)n < iov[i].iov_len)
				break;
		}
		if (total)
			return (ssize_t)total;
		if (n != -EAGAIN)
			return n; /* 0 at end of stream, or the connection's error */
		int rc = wait_on(&u->rd, deadline);
		if (rc < 0)
			return rc;
	}
}

/* Queue the whole vector as one write (see kn_tcp_sendv); wait while
 * nothing of it fits. */
static ssize_t user_sendv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct usock *u = (struct usock *)s;
	if (u->listener)
		return -ENOTCONN;
	for (;;) {
		ssize_t n = kn_tcp_sendv(u->tcb, iov, iovcnt);
		if (n != -EAGAIN)
			return n;
		int rc = wait_on(&u->wr, deadline);
		if (rc < 0)
			return rc;
	}
}

/* user_sendv with pieces the stack may hold instead of copying. */
static ssize_t user_sendv_ref(kaon_sock *s, const struct iovec *iov, const kaon_ref *ref,
			      int iovcnt, int64_t deadline)
{
	struct usock *u = (struct usock *)s;
	if (u->listener)
		return -ENOTCONN;
	for (;;) {
		ssize_t n = kn_tcp_sendv_ref(u->tcb, iov, ref, iovcnt);
		if (n != -EAGAIN)
			return n;
		int rc = wait_on(&u->wr, deadline);
		if (rc < 0)
			return rc;
	}
}

static int user_shutdown(kaon_sock *s, int how)
{
	struct usock *u = (struct usock *)s;
	if (u->listener)
		return -ENOTCONN;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	if (how != SHUT_WR) {
		u->shut_rd = true;
		wake(&u->rd);
	}
	if (how != SHUT_RD)
		return kn_tcp_shutdown(u->tcb);
	return 0;
}

static int user_close(kaon_sock *s)
{
	struct usock *u = (struct usock *)s;
	if (u->opener) {
		/* The shares nobody took go with the listen that opened them. */
		kaon__user_group_each(u->eng->group, u->eng->core, share_close,
				      (void *)(uintptr_t)u->lport);
	}
	if (u->tcb) {
		if (u->linger0)
			kn_tcp_abort(u->tcb);
		else
			kn_tcp_close(u->tcb);
	}
	if (u->udp) {
		kaon_dpdk_udp_release(u->eng->port, u->lport);
		kn_udp_close(u->udp);
	}
	free(u);
	return 0;
}

static int user_setopt(kaon_sock *s, kaon_sockopt opt, int value)
{
	struct usock *u = (struct usock *)s;
	switch (opt) {
	case KAON_SO_NODELAY:
		u->nodelay = value != 0;
		if (u->tcb && !u->listener)
			kn_tcp_nagle(u->tcb, !u->nodelay);
		return 0;
	case KAON_SO_KEEPALIVE:
		u->keepalive = value != 0;
		if (u->tcb && !u->listener)
			kn_tcp_keepalive(u->tcb, u->keepalive);
		return 0;
	case KAON_SO_LINGER0:
		u->linger0 = value != 0;
		return 0;
	case KAON_SO_RCVBUF:
	case KAON_SO_SNDBUF:
		/* Buffer sizes are the stack's, from [tcp] in the config file. */
		return -ENOPROTOOPT;
	}
	return -EINVAL;
}

static int user_getopt(kaon_sock *s, kaon_sockopt opt, int *value)
{
	struct usock *u = (struct usock *)s;
	switch (opt) {
	case KAON_SO_NODELAY:
		*value = u->nodelay;
		return 0;
	case KAON_SO_KEEPALIVE:
		*value = u->keepalive;
		return 0;
	case KAON_SO_LINGER0:
		*value = u->linger0;
		return 0;
	case KAON_SO_RCVBUF:
		*value = (int)u->eng->conf->tcp.rcvbuf;
		return 0;
	case KAON_SO_SNDBUF:
		*value = (int)u->eng->conf->tcp.sndbuf;
		return 0;
	}
	return -EINVAL;
}

static int user_name(kaon_sock *s, kaon_addr *out, bool peer)
{
	struct usock *u = (struct usock *)s;
	if (u->udp) {
		if (peer)
			return -ENOTCONN;
		to_addr(out, ntohl(u->eng->conf->port0.addr), u->lport);
		return 0;
	}
	uint32_t lip, rip;
	uint16_t lp, rp;
	kn_tcp_endpoints(u->tcb, &lip, &lp, &rip, &rp);
	if (peer) {
		if (u->listener)
			return -ENOTCONN;
		to_addr(out, rip, rp);
	} else {
		to_addr(out, lip ? lip : ntohl(u->eng->conf->port0.addr), lp);
	}
	return 0;
}

static const struct kaon_sock_ops user_tcp_ops = {
	.accept = user_accept,
	.recvv = user_recvv,
	.sendv = user_sendv,
	.sendv_ref = user_sendv_ref,
	.shutdown = user_shutdown,
	.close = user_close,
	.setopt = user_setopt,
	.getopt = user_getopt,
	.name = user_name,
};

/* ------------------------------------------------------------------ UDP */

static int user_udp_bind(kaon_sock **out, const kaon_addr *addr)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	if (!e)
		return -EPERM;
	int rc = check_local(e, addr);
	if (rc < 0)
		return rc;
	struct usock *u = usock_new(e, &user_udp_ops);
	if (!u)
		return -ENOMEM;
	/* Several cores: the port must be this core's on the whole port, so
	 * that its datagrams are steered here (a picked port another core
	 * holds is given back and another one picked). */
	uint16_t want = ntohs(addr->u.in4.sin_port);
	for (int tries = 0;; tries++) {
		u->udp = kn_udp_bind(e->stack, want, u, &rc);
		if (!u->udp) {
			free(u);
			return rc < 0 ? rc : -ENOMEM;
		}
		rc = kaon_dpdk_udp_claim(e->port, kn_udp_port(u->udp));
		if (rc == 0)
			break;
		kn_udp_close(u->udp);
		if (want || tries == 64) {
			free(u);
			return rc;
		}
	}
	u->lport = kn_udp_port(u->udp);
	*out = &u->base;
	return 0;
}

static ssize_t user_sendto(kaon_sock *s, const void *buf, size_t len, const kaon_addr *to,
			   int64_t deadline)
{
	struct usock *u = (struct usock *)s;
	(void)deadline; /* a datagram is sent or refused at once */
	if (!to)
		return -EDESTADDRREQ;
	if (to->u.sa.sa_family != AF_INET)
		return -EAFNOSUPPORT;
	return kn_udp_sendto(u->udp, buf, len, ntohl(to->u.in4.sin_addr.s_addr),
			     ntohs(to->u.in4.sin_port));
}

static ssize_t user_recvfrom(kaon_sock *s, void *buf, size_t len, kaon_addr *from,
			     int64_t deadline)
{
	struct usock *u = (struct usock *)s;
	for (;;) {
		uint32_t ip;
		uint16_t port;
		ssize_t n = kn_udp_recvfrom(u->udp, buf, len, &ip, &port);
		if (n != -EAGAIN) {
			if (n >= 0 && from)
				to_addr(from, ip, port);
			return n;
		}
		int rc = wait_on(&u->rd, deadline);
		if (rc < 0)
			return rc;
	}
}

static ssize_t udp_recvv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	if (iovcnt != 1)
		return -EINVAL;
	return user_recvfrom(s, iov[0].iov_base, iov[0].iov_len, NULL, deadline);
}

static ssize_t udp_sendv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	(void)s;
	(void)iov;
	(void)iovcnt;
	(void)deadline;
	return -EDESTADDRREQ; /* unconnected: use kaon_sendto */
}

static int udp_accept(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline)
{
	(void)ls;
	(void)out;
	(void)peer;
	(void)deadline;
	return -EOPNOTSUPP;
}

static int udp_shutdown(kaon_sock *s, int how)
{
	(void)s;
	(void)how;
	return -ENOTCONN;
}

static const struct kaon_sock_ops user_udp_ops = {
	.accept = udp_accept,
	.recvv = udp_recvv,
	.sendv = udp_sendv,
	.shutdown = udp_shutdown,
	.close = user_close,
	.setopt = user_setopt,
	.getopt = user_getopt,
	.name = user_name,
	.sendto = user_sendto,
	.recvfrom = user_recvfrom,
};

const struct kaon_sock_stack kaon__sock_user = {
	.name = "user",
	.engine = &kaon_engine_user,
	.listen = user_listen,
	.connect = user_connect,
	.udp_bind = user_udp_bind,
};
