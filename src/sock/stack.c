/* SPDX-License-Identifier: MIT */
/* The registry of socket stacks and the calls that make sockets. */
#include <errno.h>
#include <string.h>

#include "sock/sock_impl.h"

#define MAX_STACKS 8

#ifdef KAON_HAVE_USER_STACK
extern const struct kaon_sock_stack kaon__sock_user;
static const struct kaon_sock_stack *stacks[MAX_STACKS] = { &kaon__sock_kernel,
							    &kaon__sock_user };
static int nstacks = 2;
#else
static const struct kaon_sock_stack *stacks[MAX_STACKS] = { &kaon__sock_kernel };
static int nstacks = 1;
#endif

int kaon__sock_stack_register(const struct kaon_sock_stack *st)
{
	for (int i = 0; i < nstacks; i++)
		if (!strcmp(stacks[i]->name, st->name))
			return -EEXIST;
	if (nstacks == MAX_STACKS)
		return -ENOSPC;
	stacks[nstacks++] = st;
	return 0;
}

/* The stack called @p name; NULL name: the one for the calling vcpu's engine,
 * or the kernel's. */
static const struct kaon_sock_stack *find_stack(const char *name)
{
	if (name) {
		for (int i = 0; i < nstacks; i++)
			if (!strcmp(stacks[i]->name, name))
				return stacks[i];
		return NULL;
	}
	kaon_vcpu *v = kaon_vcpu_self();
	if (v) {
		const kaon_engine_ops *e = kaon_vcpu_engine(v);
		for (int i = 0; i < nstacks; i++)
			if (stacks[i]->engine && stacks[i]->engine == e)
				return stacks[i];
	}
	return &kaon__sock_kernel;
}

void kaon_listen_opts_init(kaon_listen_opts *o)
{
	memset(o, 0, sizeof(*o));
}

void kaon_connect_opts_init(kaon_connect_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nodelay = true;
}

int kaon_listen(kaon_sock **out, const kaon_addr *addr, const kaon_listen_opts *opts)
{
	kaon_listen_opts def;
	if (!opts) {
		kaon_listen_opts_init(&def);
		opts = &def;
	}
	if (!out || !addr || opts->backlog < 0)
		return -EINVAL;
	const struct kaon_sock_stack *st = find_stack(opts->stack);
	if (!st)
		return -ENOENT;
	return st->listen(out, addr, opts);
}

int kaon_connect(kaon_sock **out, const kaon_addr *addr, const kaon_connect_opts *opts,
		 int64_t deadline)
{
	kaon_connect_opts def;
	if (!opts) {
		kaon_connect_opts_init(&def);
		opts = &def;
	}
	if (!out || !addr)
		return -EINVAL;
	const struct kaon_sock_stack *st = find_stack(opts->stack);
	if (!st)
		return -ENOENT;
	return st->connect(out, addr, opts, deadline);
}

int kaon_udp_bind(kaon_sock **out, const kaon_addr *addr, const char *stack)
{
	if (!out || !addr)
		return -EINVAL;
	const struct kaon_sock_stack *st = find_stack(stack);
	if (!st)
		return -ENOENT;
	if (!st->udp_bind)
		return -EOPNOTSUPP;
	return st->udp_bind(out, addr);
}

const char *kaon_sock_stack_name(const kaon_sock *s)
{
	return s->stack->name;
}
