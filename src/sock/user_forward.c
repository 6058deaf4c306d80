/* SPDX-License-Identifier: MIT */
/*
 * Handing a connection to another core by forwarding its calls: the socket
 * (its TCB, its buffers, its timers) stays in the stack of the core that
 * made it, and a stand-in socket, usable from any vcpu, runs each call
 * there: a coroutine started on the home core (kaon_go_on) that the caller
 * joins. Moving the state instead would have to take a live TCB out of one
 * stack's tables, timer wheel and buffer budget and into another's, and
 * re-steer its frames, which the NIC (RSS) sends to the home core anyway:
 * every frame would cross cores from then on. Forwarding keeps the packet
 * path as it is and costs only the calls made from elsewhere: a remote
 * push, a coroutine on the home core, and the wake-up of the caller.
 * Sockets used on their own core never come here (no cost).
 */
#include <errno.h>
#include <stdlib.h>

#include "kaon/user.h"
#include "sock/sock_impl.h"

struct fwd_sock {
	kaon_sock base;          /* first */
	kaon_sock *s;            /* the real socket, on its home core */
	kaon_vcpu *home;
};

enum op { ACCEPT, RECVV, SENDV, SHUTDOWN, CLOSE, SETOPT, GETOPT, NAME, SENDTO, RECVFROM };

struct call {
	enum op op;
	kaon_sock *s;
	const struct iovec *iov;
	int iovcnt, how, value, *pvalue;
	int64_t deadline;
	kaon_addr *addr;
	const kaon_addr *to;
	void *buf;
	size_t len;
	kaon_sock **out;
	bool peer;
	ssize_t rc;
};

static const struct kaon_sock_ops fwd_ops;

static void *run(void *arg)
{
	struct call *c = arg;
	switch (c->op) {
	case ACCEPT:
		c->rc = kaon_accept(c->s, c->out, c->addr, c->deadline);
		break;
	case RECVV:
		c->rc = kaon_recvv(c->s, c->iov, c->iovcnt, c->deadline);
		break;
	case SENDV:
		c->rc = kaon_sendv(c->s, c->iov, c->iovcnt, c->deadline);
		break;
	case SHUTDOWN:
		c->rc = kaon_shutdown(c->s, c->how);
		break;
	case CLOSE:
		c->rc = kaon_close(c->s);
		break;
	case SETOPT:
		c->rc = kaon_sock_setopt(c->s, (kaon_sockopt)c->how, c->value);
		break;
	case GETOPT:
		c->rc = kaon_sock_getopt(c->s, (kaon_sockopt)c->how, c->pvalue);
		break;
	case NAME:
		c->rc = c->peer ? kaon_sock_peer(c->s, c->addr) : kaon_sock_local(c->s, c->addr);
		break;
	case SENDTO:
		c->rc = kaon_sendto(c->s, c->buf, c->len, c->to, c->deadline);
		break;
	case RECVFROM:
		c->rc = kaon_recvfrom(c->s, c->buf, c->len, c->addr, c->deadline);
		break;
	}
	return NULL;
}

/* Run @p c on the socket's home core; on it already, right here. */
static ssize_t call(kaon_sock *fs, struct call *c)
{
	struct fwd_sock *f = (struct fwd_sock *)fs;
	c->s = f->s;
	if (kaon_vcpu_self() == f->home) {
		run(c);
		return c->rc;
	}
	kaon_co *co;
	int rc = kaon_go_on(f->home, &co, NULL, run, c);
	if (rc < 0)
		return rc;
	kaon_join(co, KAON_FOREVER, NULL);
	return c->rc;
}

static int wrap(kaon_sock *s, kaon_vcpu *home, kaon_sock **out)
{
	struct fwd_sock *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base.ops = &fwd_ops;
	f->base.stack = s->stack;
	f->s = s;
	f->home = home;
	*out = &f->base;
	return 0;
}

int kaon_user_forward(kaon_sock *s, kaon_sock **out)
{
	if (!s || !out || !kaon_vcpu_self())
		return -EINVAL;
	return wrap(s, kaon_vcpu_self(), out);
}

static int f_accept(kaon_sock *ls, kaon_sock **out, kaon_addr *peer, int64_t deadline)
{
	kaon_sock *c;
	struct call k = { .op = ACCEPT, .out = &c, .addr = peer, .deadline = deadline };
	int rc = (int)call(ls, &k);
	if (rc < 0)
		return rc;
	/* The connection lives where the listener does: forwarded too. */
	rc = wrap(c, ((struct fwd_sock *)ls)->home, out);
	if (rc < 0) {
		struct call cl = { .op = CLOSE };
		struct fwd_sock tmp = { .s = c, .home = ((struct fwd_sock *)ls)->home };
		call(&tmp.base, &cl);
	}
	return rc;
}

static ssize_t f_recvv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct call k = { .op = RECVV, .iov = iov, .iovcnt = iovcnt, .deadline = deadline };
	return call(s, &k);
}

static ssize_t f_sendv(kaon_sock *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct call k = { .op = SENDV, .iov = iov, .iovcnt = iovcnt, .deadline = deadline };
	return call(s, &k);
}

static int f_shutdown(kaon_sock *s, int how)
{
	struct call k = { .op = SHUTDOWN, .how = how };
	return (int)call(s, &k);
}

static int f_close(kaon_sock *s)
{
	struct call k = { .op = CLOSE };
	int rc = (int)call(s, &k);
	free(s);
	return rc;
}

static int f_setopt(kaon_sock *s, kaon_sockopt opt, int value)
{
	struct call k = { .op = SETOPT, .how = (int)opt, .value = value };
	return (int)call(s, &k);
}

static int f_getopt(kaon_sock *s, kaon_sockopt opt, int *value)
{
	struct call k = { .op = GETOPT, .how = (int)opt, .pvalue = value };
	return (int)call(s, &k);
}

static int f_name(kaon_sock *s, kaon_addr *out, bool peer)
{
	struct call k = { .op = NAME, .addr = out, .peer = peer };
	return (int)call(s, &k);
}

static ssize_t f_sendto(kaon_sock *s, const void *buf, size_t len, const kaon_addr *to,
			int64_t deadline)
{
	struct call k = { .op = SENDTO, .buf = (void *)buf, .len = len, .to = to,
			  .deadline = deadline };
	return call(s, &k);
}

static ssize_t f_recvfrom(kaon_sock *s, void *buf, size_t len, kaon_addr *from, int64_t deadline)
{
	struct call k = { .op = RECVFROM, .buf = buf, .len = len, .addr = from,
			  .deadline = deadline };
	return call(s, &k);
}

static const struct kaon_sock_ops fwd_ops = {
	.accept = f_accept,
	.recvv = f_recvv,
	.sendv = f_sendv,
	.shutdown = f_shutdown,
	.close = f_close,
	.setopt = f_setopt,
	.getopt = f_getopt,
	.name = f_name,
	.sendto = f_sendto,
	.recvfrom = f_recvfrom,
};
