/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/dpdk.h
 * A DPDK ethdev port as a kn_dev (kaon/net_dev.h): EAL start from the config
 * file, port and mempool set-up, offloads used where the port has them, and
 * frames made single-segment and direct for ports that cannot send chains
 * (DPDK 22.11's af_xdp PMD silently drops indirect mbufs).
 *
 * For tests on this kernel, which has no netem: KAON_DEV_LOSS="RX,TX[,SEED]"
 * in the environment drops RX and TX frames per million on the port,
 * deterministically from SEED.
 */
#ifndef KAON_DPDK_H
#define KAON_DPDK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kaon/config.h"
#include "kaon/net_dev.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mempool;
struct kaon_dpdk;

/**
 * Start DPDK's EAL with the arguments the [dpdk] section stands for. Once
 * per process; a second call returns -EALREADY.
 * @return 0; -EALREADY; -EINVAL (EAL refused the arguments; @p err says why).
 */
int kaon_dpdk_eal_init(const kaon_config *c, const char *prog, char *err, size_t errlen);

/** Release EAL resources (after every port is closed). */
void kaon_dpdk_eal_cleanup(void);

/**
 * Configure and start ethdev port @p port_id (one rx and one tx queue),
 * with its own mempool of c->dpdk.nb_mbufs mbufs, and wait up to
 * @p link_wait_ms for the link to come up.
 * @return 0 and *out; -ENODEV (no such port); -ENOMEM (mempool); -EIO with
 *         @p err naming the DPDK call that failed.
 */
int kaon_dpdk_port_open(struct kaon_dpdk **out, const kaon_config *c, uint16_t port_id,
			unsigned link_wait_ms, char *err, size_t errlen);

/** The port as a packet device for net/. */
struct kn_dev *kaon_dpdk_dev(struct kaon_dpdk *p);

/** The port's mempool (for the stack's own allocations). */
struct rte_mempool *kaon_dpdk_pool(struct kaon_dpdk *p);

/** Non-zero if the link is up now. */
int kaon_dpdk_link_up(struct kaon_dpdk *p);

/** mbufs of the port's pool out of the stack's reach (kn_stack_conf.mem_reserve). */
struct kaon_dpdk_reserve {
	unsigned pool;    /**< the pool's size */
	unsigned rx;      /**< held by the receive side (RX or fill ring), measured at start */
	unsigned tx;      /**< the transmit side at most (TX and completion rings) */
	unsigned cache;   /**< stranded in per-lcore mempool caches at most */
	unsigned rx_frames; /**< frames the port buffers between two polls (its burst room) */
};
void kaon_dpdk_reserve(const struct kaon_dpdk *p, struct kaon_dpdk_reserve *r);

/**
 * Force (on != 0) or stop forcing single-segment direct frames, whatever the
 * port advertises: for PMDs that claim multi-segment support and get it
 * wrong, and for tests.
 */
void kaon_dpdk_set_linearize(struct kaon_dpdk *p, int on);

/** Counters kept by kaon's side of the port. */
struct kaon_dpdk_stats {
	uint64_t rx, tx, tx_linearized;
	uint64_t tx_linearize_fail; /**< no mbuf for the copy: the frame waits */
	uint64_t tx_too_big;        /**< frame larger than one mbuf: dropped */
	uint64_t injected_drops;   /**< frames dropped on purpose (KAON_DEV_LOSS) */
};
void kaon_dpdk_stats_get(const struct kaon_dpdk *p, struct kaon_dpdk_stats *s);

/** Print kaon's and the PMD's counters of the port, one per line. */
void kaon_dpdk_stats_print(FILE *f, const struct kaon_dpdk *p, const char *prefix);

/** Stop and close the port, free its mempool. Frames in flight are dropped. */
void kaon_dpdk_port_close(struct kaon_dpdk *p);

#ifdef __cplusplus
}
#endif
#endif
