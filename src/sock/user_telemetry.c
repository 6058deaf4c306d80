/* SPDX-License-Identifier: MIT */
/*
 * A running kaon's counters through DPDK telemetry, so that
 * dpdk-telemetry.py and kaon-stat read them live: /kaon/stats (the stack's
 * counters and gauges), /kaon/drops (every drop reason), /kaon/engine
 * (passes, and passes that found frames), /kaon/port (kaon's and the PMD's
 * counters of the port).
 *
 * The callbacks run on DPDK's telemetry thread while the vcpu keeps
 * counting. The counters are aligned 64-bit words written only by their
 * vcpu, so a reader sees each one whole, possibly a pass old; no lock on the
 * hot path for that. The lock here only keeps an engine alive while a
 * callback reads it.
 */
#include <pthread.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "sock/user_impl.h"

#define MAX_ENGINES 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kaon_user_engine *engines[MAX_ENGINES];
static pthread_once_t registered = PTHREAD_ONCE_INIT;

/* A snapshot of counters another thread keeps writing (see the top). */
static void snapshot(void *dst, const volatile void *src, size_t n)
{
	const volatile uint64_t *s = src;
	uint64_t *d = dst;
	for (size_t i = 0; i < n / sizeof(uint64_t); i++)
		d[i] = s[i];
}

/* Sum of every engine's stack counters; @return how many engines. */
static int stack_totals(struct kn_stats *sum, uint64_t *tcbs)
{
	int n = 0;
	memset(sum, 0, sizeof(*sum));
	*tcbs = 0;
	for (int i = 0; i < MAX_ENGINES; i++) {
		if (!engines[i])
			continue;
		struct kn_stats st;
		snapshot(&st, kn_stack_stats(engines[i]->stack), sizeof(st));
		uint64_t *a = (uint64_t *)sum, *b = (uint64_t *)&st;
		for (size_t k = 0; k < sizeof(st) / sizeof(uint64_t); k++)
			a[k] += b[k];
		*tcbs += kn_stack_tcb_count(engines[i]->stack);
		n++;
	}
	return n;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct kn_stats st;
	uint64_t tcbs;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&lock);
	int n = stack_totals(&st, &tcbs);
	pthread_mutex_unlock(&lock);
	rte_tel_data_add_dict_u64(d, "stacks", (uint64_t)n);
	rte_tel_data_add_dict_u64(d, "tcbs", tcbs);
#define ADD_STAT(f) rte_tel_data_add_dict_u64(d, #f, st.f);
	KN_STATS(ADD_STAT)
#undef ADD_STAT
	return 0;
}

static int cmd_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct kn_stats st;
	uint64_t tcbs;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&lock);
	stack_totals(&st, &tcbs);
	pthread_mutex_unlock(&lock);
	for (int r = 1; r < KN_DROP_MAX; r++)
		rte_tel_data_add_dict_u64(d, kn_drop_name((enum kn_drop_reason)r), st.drops[r]);
	return 0;
}

static int cmd_engine(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	uint64_t polls = 0, busy = 0;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_ENGINES; i++) {
		if (engines[i]) {
			polls += *(volatile uint64_t *)&engines[i]->polls;
			busy += *(volatile uint64_t *)&engines[i]->busy_polls;
		}
	}
	pthread_mutex_unlock(&lock);
	rte_tel_data_add_dict_u64(d, "passes", polls);
	rte_tel_data_add_dict_u64(d, "passes_with_frames", busy);
	rte_tel_data_add_dict_u64(d, "idle_passes", polls - busy);
	return 0;
}

static int cmd_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct kaon_dpdk_stats ks;
	struct rte_eth_stats es;
	uint64_t sum[6] = { 0 }, pmd[6] = { 0 }, avail = 0, size = 0;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_ENGINES; i++) {
		struct kaon_user_engine *e = engines[i];
		if (!e)
			continue;
		kaon_dpdk_stats_get(e->port, &ks);
		sum[0] += ks.rx;
		sum[1] += ks.tx;
		sum[2] += ks.tx_linearized;
		sum[3] += ks.tx_linearize_fail;
		sum[4] += ks.tx_too_big;
		sum[5] += ks.injected_drops;
		struct rte_mempool *mp = kaon_dpdk_pool(e->port);
		avail += rte_mempool_avail_count(mp);
		size += mp->size;
	}
	pthread_mutex_unlock(&lock);
	/* The PMD's own counters, for every port DPDK knows. */
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		if (rte_eth_stats_get(pid, &es) == 0) {
			pmd[0] += es.ipackets;
			pmd[1] += es.opackets;
			pmd[2] += es.imissed;
			pmd[3] += es.ierrors;
			pmd[4] += es.oerrors;
			pmd[5] += es.rx_nombuf;
		}
	}
	static const char *const kname[6] = { "rx", "tx", "tx_linearized", "tx_linearize_fail",
					      "tx_too_big", "injected_drops" };
	static const char *const pname[6] = { "ipackets", "opackets", "imissed", "ierrors",
					      "oerrors", "rx_nombuf" };
	for (int i = 0; i < 6; i++)
		rte_tel_data_add_dict_u64(d, kname[i], sum[i]);
	for (int i = 0; i < 6; i++)
		rte_tel_data_add_dict_u64(d, pname[i], pmd[i]);
	rte_tel_data_add_dict_u64(d, "mempool_free", avail);
	rte_tel_data_add_dict_u64(d, "mempool_size", size);
	return 0;
}

static void register_cmds(void)
{
	rte_telemetry_register_cmd("/kaon/stats", cmd_stats,
				   "kaon's stack counters and buffer gauges (netstat -s). No parameters");
	rte_telemetry_register_cmd("/kaon/drops", cmd_drops,
				   "Packets kaon's stack dropped, by reason. No parameters");
	rte_telemetry_register_cmd("/kaon/engine", cmd_engine,
				   "Busy-poll engine passes, and those that found frames. No parameters");
	rte_telemetry_register_cmd("/kaon/port", cmd_port,
				   "kaon's and the PMD's counters of its ports. No parameters");
}

void kaon__user_telemetry_add(struct kaon_user_engine *e)
{
	pthread_once(&registered, register_cmds);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_ENGINES; i++) {
		if (!engines[i]) {
			engines[i] = e;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void kaon__user_telemetry_remove(struct kaon_user_engine *e)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_ENGINES; i++)
		if (engines[i] == e)
			engines[i] = NULL;
	pthread_mutex_unlock(&lock);
}
