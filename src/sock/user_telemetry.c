/* SPDX-License-Identifier: MIT */
/*
 * A running kaon's counters through DPDK telemetry, so that
 * dpdk-telemetry.py and kaon-stat read them live: /kaon/stats (the stack's
 * counters and gauges), /kaon/tcp (how many TCBs are in each TCP state),
 * /kaon/drops (every drop reason), /kaon/engine (passes, and passes that
 * found frames), /kaon/port (kaon's and the PMD's counters of every port,
 * summed) and /kaon/port,N (DPDK port N: packets, bytes, errors, misses
 * and its PMD's non-zero xstats by name).
 *
 * How the reads stay safe without a lock on the packet path: the callbacks
 * run on DPDK's telemetry thread while each vcpu keeps counting. Every
 * counter and gauge is an aligned uint64_t written only by its own vcpu
 * (plain increments and decrements); the reader loads each through a
 * volatile pointer, one aligned 64-bit load, which x86-64 and AArch64 make
 * single-copy atomic: it sees the old value or the new one, never a torn
 * mix. A snapshot is therefore stale by at most a pass and consistent word
 * by word, not across words: a TCB changing state may be counted in
 * neither gauge or, read across two engines, twice (the per-state gauges
 * may not add up to "tcbs" exactly while connections come and go). The
 * PMD's counters are read with rte_eth_stats_get and rte_eth_xstats_get,
 * which DPDK's own /ethdev/stats calls from this thread in the same way.
 * The mutex here only keeps an engine alive while a callback reads it.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Sum of every engine's stack counters, under the engines' lock;
 * @return how many engines. */
static int stack_totals(struct kn_stats *sum, uint64_t *tcbs)
{
	int n = 0;
	memset(sum, 0, sizeof(*sum));
	*tcbs = 0;
	pthread_mutex_lock(&lock);
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
	pthread_mutex_unlock(&lock);
	return n;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct kn_stats st;
	uint64_t tcbs;
	rte_tel_data_start_dict(d);
	int n = stack_totals(&st, &tcbs);
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
	stack_totals(&st, &tcbs);
	for (int r = 1; r < KN_DROP_MAX; r++)
		rte_tel_data_add_dict_u64(d, kn_drop_name((enum kn_drop_reason)r), st.drops[r]);
	return 0;
}

/* "SYN-RECEIVED" -> "syn_received": telemetry names are [A-Za-z0-9_/]. */
static void state_key(enum kn_tcp_state st, char *buf, size_t len)
{
	const char *n = kn_tcp_state_name(st);
	size_t i = 0;
	for (; n[i] && i + 1 < len; i++)
		buf[i] = n[i] == '-' ? '_' : (char)tolower((unsigned char)n[i]);
	buf[i] = 0;
}

static int cmd_tcp(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct kn_stats st;
	uint64_t tcbs;
	rte_tel_data_start_dict(d);
	stack_totals(&st, &tcbs);
	rte_tel_data_add_dict_u64(d, "tcbs", tcbs);
	for (int i = 0; i < KN_TCP_NSTATES; i++) {
		char key[32];
		state_key((enum kn_tcp_state)i, key, sizeof(key));
		rte_tel_data_add_dict_u64(d, key, st.tcp_states[i]);
	}
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

/* The PMD's counters of DPDK port @p pid, then its non-zero xstats by name
 * (all of them could pass the reply's 16 KiB; zeros say little). */
static int port_one(uint16_t pid, struct rte_tel_data *d)
{
	struct rte_eth_stats es;
	char name[RTE_ETH_NAME_MAX_LEN];
	if (rte_eth_stats_get(pid, &es) != 0)
		return -EINVAL;
	if (rte_eth_dev_get_name_by_port(pid, name) != 0)
		name[0] = 0;
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	rte_eth_link_get_nowait(pid, &link);
	rte_tel_data_add_dict_u64(d, "port", pid);
	rte_tel_data_add_dict_string(d, "name", name);
	rte_tel_data_add_dict_u64(d, "link_up", link.link_status);
	rte_tel_data_add_dict_u64(d, "link_speed_mbps", link.link_status ? link.link_speed : 0);
	const struct {
		const char *name;
		uint64_t v;
	} basic[] = {
		{ "ipackets", es.ipackets }, { "opackets", es.opackets }, { "ibytes", es.ibytes },
		{ "obytes", es.obytes },     { "imissed", es.imissed },   { "ierrors", es.ierrors },
		{ "oerrors", es.oerrors },   { "rx_nombuf", es.rx_nombuf },
	};
	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		rte_tel_data_add_dict_u64(d, basic[i].name, basic[i].v);
	int n = rte_eth_xstats_get(pid, NULL, 0);
	if (n <= 0)
		return 0;
	struct rte_eth_xstat *xs = calloc((size_t)n, sizeof(*xs));
	struct rte_eth_xstat_name *xn = calloc((size_t)n, sizeof(*xn));
	if (xs && xn && rte_eth_xstats_get_names(pid, xn, (unsigned)n) == n &&
	    rte_eth_xstats_get(pid, xs, (unsigned)n) == n) {
		for (int i = 0; i < n; i++)
			/* A name telemetry refuses (a character outside
			 * [A-Za-z0-9_/]) is left out, as is what no longer
			 * fits the dictionary. */
			if (xs[i].value && xs[i].id < (uint64_t)n)
				rte_tel_data_add_dict_u64(d, xn[xs[i].id].name, xs[i].value);
	}
	free(xs);
	free(xn);
	return 0;
}

static int cmd_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	if (params && *params) {
		char *end;
		unsigned long pid = strtoul(params, &end, 10);
		if (*end || end == params || pid >= RTE_MAX_ETHPORTS ||
		    !rte_eth_dev_is_valid_port((uint16_t)pid))
			return -EINVAL;
		rte_tel_data_start_dict(d);
		return port_one((uint16_t)pid, d);
	}
	struct kaon_dpdk_stats ks;
	struct rte_eth_stats es;
	uint64_t sum[6] = { 0 }, pmd[8] = { 0 }, avail = 0, size = 0;
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
			pmd[6] += es.ibytes;
			pmd[7] += es.obytes;
		}
	}
	static const char *const kname[6] = { "rx", "tx", "tx_linearized", "tx_linearize_fail",
					      "tx_too_big", "injected_drops" };
	static const char *const pname[8] = { "ipackets", "opackets", "imissed", "ierrors",
					      "oerrors", "rx_nombuf", "ibytes", "obytes" };
	for (int i = 0; i < 6; i++)
		rte_tel_data_add_dict_u64(d, kname[i], sum[i]);
	for (int i = 0; i < 8; i++)
		rte_tel_data_add_dict_u64(d, pname[i], pmd[i]);
	rte_tel_data_add_dict_u64(d, "mempool_free", avail);
	rte_tel_data_add_dict_u64(d, "mempool_size", size);
	return 0;
}

/* Help texts must be shorter than RTE_TEL_MAX_STRING_LEN (128), or DPDK
 * refuses the command: say so rather than lose it quietly. */
static void reg(const char *cmd, telemetry_cb fn, const char *help)
{
	int rc = rte_telemetry_register_cmd(cmd, fn, help);
	if (rc < 0)
		fprintf(stderr, "kaon: telemetry command %s not registered: %s\n", cmd,
			strerror(-rc));
}

static void register_cmds(void)
{
	reg("/kaon/stats", cmd_stats,
	    "kaon's stack counters and buffer gauges (netstat -s). No parameters");
	reg("/kaon/tcp", cmd_tcp, "TCBs in each TCP state now (ss -s), and in all. No parameters");
	reg("/kaon/drops", cmd_drops, "Packets kaon's stack dropped, by reason. No parameters");
	reg("/kaon/engine", cmd_engine,
	    "Busy-poll engine passes, and those that found frames. No parameters");
	reg("/kaon/port", cmd_port,
	    "Counters of kaon's ports, summed; of port N, with its non-zero xstats. "
	    "Parameters: [int port_id]");
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
