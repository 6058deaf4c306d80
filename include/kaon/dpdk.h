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

/** Most queue pairs (cores) on one port. */
#define KAON_DPDK_MAX_QUEUES 64
/** Longest RSS key kaon handles, and the largest redirection table. */
#define KAON_RSS_KEY_MAX 52
#define KAON_RETA_MAX 512

/** How received frames reach the core that owns their flow. */
enum kaon_dpdk_steer {
	KAON_STEER_ONE,   /**< one core: every frame is its own */
	KAON_STEER_RSS,   /**< the NIC hashes TCP (symmetric Toeplitz) onto the cores' queues */
	KAON_STEER_SOFT,  /**< each core hashes what it received and hands the rest over */
};

/**
 * Configure and start port @p port_id with @p nq queue pairs, one per core,
 * each with its own mempool of c->dpdk.nb_mbufs mbufs; out[i] is queue i's
 * view, to be used by one core only. With RSS (the device hashes TCP over
 * IPv4 and every core has a receive queue) the port gets the symmetric key
 * and an even redirection table; otherwise (or with [dpdk] soft_rss) each
 * core hashes in software what it receives and hands other cores' frames
 * to them through rings. [dpdk] rx_queues below @p nq gives only the first
 * cores a receive queue (forcing hand-offs). Each queue view is closed with
 * kaon_dpdk_port_close(); the last one stops the port.
 * @return as kaon_dpdk_port_open(); -EINVAL when the port has too few
 *         transmit queues.
 */
int kaon_dpdk_port_open_mq(struct kaon_dpdk **out, unsigned nq, const kaon_config *c,
			   uint16_t port_id, unsigned link_wait_ms, char *err, size_t errlen);

/** Queue index of @p p (its core), and the port's number of queue pairs. */
unsigned kaon_dpdk_queue(const struct kaon_dpdk *p);
unsigned kaon_dpdk_nqueues(const struct kaon_dpdk *p);
enum kaon_dpdk_steer kaon_dpdk_steering(const struct kaon_dpdk *p);

/**
 * The queue (core) the port delivers a TCP flow's incoming frames to:
 * remote @p rip:@p rport, local @p lip:@p lport, host byte order. What an
 * outgoing connection's source port is chosen by.
 */
unsigned kaon_dpdk_flow_queue(const struct kaon_dpdk *p, uint32_t rip, uint16_t rport,
			      uint32_t lip, uint16_t lport);

/**
 * UDP port @p port is bound on @p p's core: datagrams to it reach that core,
 * whichever queue they arrive on (one owner core per port, the others hand
 * them over). One core alone: nothing to do.
 * @return 0; -EADDRINUSE: another core of the port has it bound.
 */
int kaon_dpdk_udp_claim(struct kaon_dpdk *p, uint16_t port);
/**
 * A datagram @p p's core reassembled (@p m at its IP header): hand it to
 * the core its ports say owns it (fragments are all received by one core).
 * @return 1: taken (handed over, or dropped and counted); 0: @p p's own.
 */
int kaon_dpdk_hand_datagram(struct kaon_dpdk *p, struct rte_mbuf *m);
/** Undo kaon_dpdk_udp_claim() (no-op unless @p p's core holds @p port). */
void kaon_dpdk_udp_release(struct kaon_dpdk *p, uint16_t port);

/** 0x6d5a repeated: the symmetric Toeplitz key (both directions hash alike). */
extern const uint8_t kaon_rss_key_sym[KAON_RSS_KEY_MAX];

/** The Toeplitz hash of @p len bytes of @p data under @p key (Microsoft RSS). */
uint32_t kaon_toeplitz(const uint8_t *key, unsigned keylen, const uint8_t *data, unsigned len);

/** The RSS hash of a TCP/IPv4 frame from @p sip:@p sport to @p dip:@p dport
 * (host byte order), as a NIC computes it. */
uint32_t kaon_rss_hash_tcp4(const uint8_t *key, unsigned keylen, uint32_t sip, uint32_t dip,
			    uint16_t sport, uint16_t dport);

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

/* An empty transmit burst on the port's queue: a PMD frees the buffers of
 * frames the device has finished sending only when it is next called to
 * send (af_xdp pulls its completion ring then), so an idle port would hold
 * the last burst's buffers for ever. The engine calls this once per idle
 * spell. */
void kaon_dpdk_tx_reclaim(struct kaon_dpdk *p);

/** Counters kept by kaon's side of the port. */
struct kaon_dpdk_stats {
	uint64_t rx, tx, tx_linearized;
	uint64_t tx_linearize_fail; /**< no mbuf for the copy: the frame waits */
	uint64_t tx_too_big;        /**< frame larger than one mbuf: dropped */
	uint64_t injected_drops;   /**< frames dropped on purpose (KAON_DEV_LOSS) */
	uint64_t handoff_in;       /**< frames other cores handed to this one */
	uint64_t handoff_out;      /**< frames this core received for others and handed over */
	uint64_t handoff_drop;     /**< the owner's ring was full: dropped */
	uint64_t handoff_nomem;    /**< no mbuf to copy a handed frame into: dropped */
	uint64_t handoff_arp;      /**< ARP replies copied to the other cores (not in handoff_out) */
	uint64_t handoff_reasm;    /**< datagrams reassembled here, handed to their owner (not in handoff_out) */
};
void kaon_dpdk_stats_get(const struct kaon_dpdk *p, struct kaon_dpdk_stats *s);

/** Print kaon's and the PMD's counters of the port, one per line. */
void kaon_dpdk_stats_print(FILE *f, const struct kaon_dpdk *p, const char *prefix);

/** Let go of a queue; the last one stops and closes the port and frees the
 * mempools. Frames in flight are dropped. */
void kaon_dpdk_port_close(struct kaon_dpdk *p);

#ifdef __cplusplus
}
#endif
#endif
