/* SPDX-License-Identifier: MIT */
/* Internal: the user-space stack back end, shared by its engine
 * (user_engine.c) and its sockets (user.c). */
#ifndef KAON_SOCK_USER_IMPL_H
#define KAON_SOCK_USER_IMPL_H

#include "kaon/dpdk.h"
#include "kaon/net.h"
#include "kaon/user.h"

struct kaon_user_engine {
	char ifname[32];             /* xdp bifurcation: the shared interface */
	int bif_xdp;
	struct kaon_bif_neigh_cache *neigh; /* xdp bifurcation: the kernel's neighbours */
	int64_t neigh_next;          /* when to read its notifications next */
	int lcore_how;               /* how the vcpu thread got its DPDK lcore id */
	struct kaon_dpdk *port;
	struct kn_stack *stack;
	const kaon_config *conf;
	void *kernel;                /* the epoll engine's state, for kernel fds */
	int64_t kernel_every_ns, kernel_next;
	int64_t idle_sleep_ns;
	uint64_t polls, busy_polls;  /* passes, and passes that received frames */
};

/* The engine of the calling vcpu, or NULL when it runs another engine. */
struct kaon_user_engine *kaon__user_engine_self(void);

/* The stack's event callback: wakes the coroutines waiting on a socket. */
void kaon__user_sock_event(void *user, unsigned events, int err);

extern const struct kaon_sock_stack kaon__sock_user;

/* DPDK telemetry (/kaon/...) reads the counters of the engines added here,
 * from its own thread; an engine is removed before it is freed. */
void kaon__user_telemetry_add(struct kaon_user_engine *e);
void kaon__user_telemetry_remove(struct kaon_user_engine *e);

/* The calling vcpu thread's DPDK lcore id (user_lcore.c): its own, a spare
 * worker lcore's, or registered. 0 or -errno; kaon__user_lcore_give(*how)
 * on the same thread undoes it. */
enum { KAON_LCORE_OWN, KAON_LCORE_ADOPTED, KAON_LCORE_REGISTERED };
int kaon__user_lcore_take(int *how);
void kaon__user_lcore_give(int how);

#endif
