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
	int64_t idle_sleep_ns;
	uint64_t polls, busy_polls;  /* passes, and passes that received frames */
	int64_t busy_last;           /* when a pass last received frames */
	int reclaimed;               /* the port's tx buffers reclaimed since */
	struct kaon_user_group *group; /* several cores on one port; NULL: alone */
	unsigned core;               /* its queue pair in the group */
	struct usock *shares;        /* listeners other cores opened here (user.c) */
};

/* Several cores on one port (user_cores.c). Written before the vcpus run
 * anything but their engines' start, read-only after. */
struct kaon_user_group {
	const kaon_config *conf;
	uint16_t port;
	unsigned n;
	struct kaon_dpdk *q[KAON_DPDK_MAX_QUEUES];   /* until core i's engine takes it */
	struct kaon_user_opts opts[KAON_DPDK_MAX_QUEUES];
	kaon_vcpu *vcpu[KAON_DPDK_MAX_QUEUES];
};

/* Run fn(arg) on every other core of @p g and wait for them all: how a
 * listen reaches every core's stack. 0 or the first -errno. */
int kaon__user_group_each(struct kaon_user_group *g, unsigned self, kaon_fn fn, void *arg);

/* The engine of the calling vcpu, or NULL when it runs another engine. */
struct kaon_user_engine *kaon__user_engine_self(void);

/* kaon_user_setup()'s first half: load @p path into @p c, prepare
 * bifurcation, start EAL. Once per process (-EALREADY). */
int kaon__user_setup_conf(const char *path, kaon_config *c);

/* Free the listener shares other cores opened on @p e (after its stack). */
void kaon__user_shares_free(struct kaon_user_engine *e);

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
