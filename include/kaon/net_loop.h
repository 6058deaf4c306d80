/* kaon — the in-memory link: two kn_dev ends wired back to back, with loss,
 * reordering, duplication, delay and bit corruption drawn from a seed, so a
 * run can be repeated exactly. Time is whatever the caller says it is. */
#ifndef KAON_NET_LOOP_H
#define KAON_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <kaon/net_dev.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mempool;
struct kn_loop;

struct kn_loop_conf {
	uint64_t seed;
	uint32_t loss_ppm;      /**< frames lost, per million */
	uint32_t dup_ppm;       /**< frames delivered twice */
	uint32_t reorder_ppm;   /**< frames held back by reorder_ns */
	uint32_t corrupt_ppm;   /**< frames with one bit flipped */
	int64_t delay_ns;       /**< one-way delay */
	int64_t jitter_ns;      /**< uniform extra delay 0..jitter_ns */
	int64_t reorder_ns;     /**< extra delay of a reordered frame */
	uint16_t mtu;           /**< 0 = 1500 */
	uint32_t queue_max;     /**< frames in flight per direction, 0 = 4096 */
	bool offload;           /**< pretend to be a NIC with checksum offload */
};

struct kn_loop_stats {
	uint64_t tx, delivered, lost, duplicated, reordered, corrupted, overflow;
};

/**
 * Create a link. @pool supplies the copies made for duplicates and
 * corrupted frames.
 * @return the link, or NULL (out of memory).
 */
struct kn_loop *kn_loop_create(const struct kn_loop_conf *c, struct rte_mempool *pool);
/** Free the link and every frame still in flight. */
void kn_loop_destroy(struct kn_loop *l);
/** @return end 0 or 1 of the link. */
struct kn_dev *kn_loop_dev(struct kn_loop *l, int side);
/** Set the link's clock: frames due by @now become receivable. */
void kn_loop_set_now(struct kn_loop *l, int64_t now);
/** @return the earliest time a queued frame becomes due, INT64_MAX if none. */
int64_t kn_loop_next_delivery(const struct kn_loop *l);
/** @return frames in flight, both directions. */
unsigned kn_loop_in_flight(const struct kn_loop *l);
/** @return the counters of one direction (frames sent by @side). */
const struct kn_loop_stats *kn_loop_stats(const struct kn_loop *l, int side);

#ifdef __cplusplus
}
#endif
#endif
