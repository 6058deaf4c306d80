/* SPDX-License-Identifier: MIT */
/*
 * An lcore id for a vcpu thread DPDK did not create. DPDK 22.11's af_xdp PMD
 * stalls without one, and per-lcore mempool caches want one. The documented
 * way, rte_thread_register(), also switches DPDK's multi-process support off
 * for good (rte_mp_disable()), and with it every secondary process:
 * dpdk-dumpcap could no longer attach to capture kaon's traffic. So a vcpu
 * first takes the id of a worker lcore of [dpdk] lcores that nobody launched:
 * EAL's thread for it only waits for an rte_eal_remote_launch() kaon never
 * makes, so the id's per-lcore state (mempool caches) is the vcpu's alone.
 * Only when every worker lcore is taken (lcores = one core, the default) does
 * it register, and capture becomes unavailable; kaon says so once.
 */
#include "sock/user_impl.h"

#include <pthread.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char taken[RTE_MAX_LCORE];
static int said;

int kaon__user_lcore_take(int *how)
{
	*how = KAON_LCORE_OWN;
	if (rte_lcore_id() != LCORE_ID_ANY)
		return 0;
	pthread_mutex_lock(&lock);
	unsigned id;
	RTE_LCORE_FOREACH_WORKER(id) {
		if (!taken[id] && rte_eal_get_lcore_state(id) == WAIT) {
			taken[id] = 1;
			pthread_mutex_unlock(&lock);
			RTE_PER_LCORE(_lcore_id) = id;
			*how = KAON_LCORE_ADOPTED;
			return 0;
		}
	}
	int first = !said;
	said = 1;
	pthread_mutex_unlock(&lock);
	if (rte_thread_register() < 0)
		return -rte_errno;
	*how = KAON_LCORE_REGISTERED;
	if (first)
		fprintf(stderr, "kaon: note: no spare core in [dpdk] lcores for the vcpu thread, "
				"so it registered with DPDK and dpdk-dumpcap cannot attach (list one "
				"more core in lcores to capture)\n");
	return 0;
}

void kaon__user_lcore_give(int how)
{
	if (how == KAON_LCORE_REGISTERED) {
		rte_thread_unregister();
	} else if (how == KAON_LCORE_ADOPTED) {
		unsigned id = rte_lcore_id();
		RTE_PER_LCORE(_lcore_id) = LCORE_ID_ANY;
		pthread_mutex_lock(&lock);
		if (id < RTE_MAX_LCORE)
			taken[id] = 0;
		pthread_mutex_unlock(&lock);
	}
}
