/* kaon — packet device interface under net/.
 *
 * net/ reaches a device only through this table: a burst of received frames,
 * a burst of frames to send, the MAC, the MTU and what the device offloads.
 * The in-memory link (src/dev/loop.c) and the DPDK port both fill it in.
 */
#ifndef KAON_NET_DEV_H
#define KAON_NET_DEV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct kn_dev;

/** Offload flags of a device (kn_dev.offloads). */
enum {
	KN_DEV_TX_IP_CKSUM  = 1u << 0, /**< device fills the IPv4 header checksum */
	KN_DEV_TX_L4_CKSUM  = 1u << 1, /**< device fills TCP/UDP checksums */
	KN_DEV_RX_CKSUM     = 1u << 2, /**< device sets RTE_MBUF_F_RX_*_CKSUM_GOOD/BAD */
	KN_DEV_TX_MULTI_SEG = 1u << 3, /**< device sends chained and indirect mbufs */
};

struct kn_dev_ops {
	/**
	 * Receive up to @n frames.
	 * @return number of frames stored in @pkts (0..n); the caller owns them.
	 */
	uint16_t (*rx_burst)(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n);
	/**
	 * Send up to @n frames.
	 * @return number of frames the device took (0..n); the frames past that
	 *   number stay with the caller.
	 */
	uint16_t (*tx_burst)(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n);
};

struct kn_dev {
	const struct kn_dev_ops *ops;
	uint8_t mac[6];     /**< station address */
	uint16_t mtu;       /**< IP MTU (bytes above the Ethernet header) */
	uint32_t offloads;  /**< KN_DEV_* flags */
	void *priv;         /**< the device's own state */
};

#ifdef __cplusplus
}
#endif
#endif
