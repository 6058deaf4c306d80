/* SPDX-License-Identifier: MIT */
/*
 * The impairment model of kaon-wire (bench/wire.c), with no sockets in it so
 * that tests/tools/test_wire_imp.c can drive it with made-up clocks.
 *
 * One `struct wire_dir` per direction. A frame handed to wire_in() goes,
 * in this order, through:
 *   loss       random (Bernoulli) and bursty (Gilbert-Elliott, two states);
 *   duplication  a second copy follows the first through what comes next;
 *   corruption   one bit flipped after the Ethernet header;
 *   bottleneck   serialised at `rate` behind the frames before it; the
 *                bytes waiting for the bottleneck are bounded by `queue`
 *                (tail drop);
 *   delay      `delay` plus a uniform jitter in [-jitter, +jitter], never
 *              earlier than the frame before it (jitter alone does not
 *              reorder, as on a real path);
 *   reordering   a chosen frame is held `reorder_delay` longer, so the
 *                frames behind it overtake it.
 * Frames wait in a delay line: fixed-size slots and a min-heap by due time.
 * wire_peek()/wire_pop() hand them out when due. Every random choice comes
 * from a per-direction xoshiro256** seeded from the spec's seed: a run is
 * repeatable frame for frame.
 *
 * Spec: space-separated key=value, e.g. "delay=20ms loss=1% rate=500mbit".
 * A key prefixed with "c2s." or "s2c." applies to that direction only
 * (c2s is from interface A to B, s2c from B to A); otherwise to both.
 *   delay=T jitter=T          T: 20ms, 500us, 1s, 100ns (bare number: ms)
 *   loss=P                    P: 1%, 0.5% (bare number: percent)
 *   burst=P,R[,BAD[,GOOD]]    Gilbert-Elliott: P(good->bad), P(bad->good)
 *                             per frame; loss in the bad state (100%) and
 *                             in the good state (0%)
 *   reorder=P reorder_delay=T (1ms)
 *   dup=P corrupt=P
 *   rate=R                    R: 500mbit, 1gbit, 64kbit, 1000000bit (bits/s
 *                             of Ethernet frames; no rate: no bottleneck)
 *   queue=S                   bytes before the bottleneck: 150000, 64k,
 *                             1m, 100pkt (x1514); default one round trip
 *                             (2 x delay) at rate, at least 64 KiB
 *   limit=N                   frames held by the delay line (32768)
 *   seed=N                    (1)
 */
#ifndef KAON_BENCH_WIRE_IMP_H
#define KAON_BENCH_WIRE_IMP_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_C2S 0
#define WIRE_S2C 1
#define WIRE_PROB_ONE (1ULL << 32) /* probabilities are fractions of 2^32 */
#define WIRE_PKT_BYTES 1514        /* what "pkt" means in queue=Npkt */

enum wire_drop {
	WIRE_DROP_LOSS,     /* random loss */
	WIRE_DROP_BURST,    /* Gilbert-Elliott loss */
	WIRE_DROP_QUEUE,    /* bottleneck queue full */
	WIRE_DROP_FULL,     /* delay line out of slots (limit) */
	WIRE_DROP_OVERSIZE, /* longer than a slot (or than the ring's frames) */
	WIRE_DROP_TX,       /* the kernel refused to send it */
	WIRE_DROP_N
};

extern const char *const wire_drop_name[WIRE_DROP_N];

struct wire_params {
	int64_t delay_ns, jitter_ns, reorder_ns;
	uint64_t loss, reorder, dup, corrupt; /* out of WIRE_PROB_ONE */
	int ge;                               /* Gilbert-Elliott on */
	uint64_t ge_p, ge_r, ge_bad, ge_good;
	uint64_t rate_bps;                    /* 0: no bottleneck */
	uint64_t queue_bytes;                 /* 0: the default */
	uint32_t limit;
};

struct wire_stats {
	uint64_t rx, rx_bytes;     /* frames offered */
	uint64_t tx, tx_bytes;     /* frames handed out (copies included) */
	uint64_t delayed;          /* copies due later than they came */
	uint64_t reorder_held;     /* copies chosen for reordering */
	uint64_t reordered;        /* copies handed out after a later frame */
	uint64_t duplicated, corrupted;
	uint64_t drop[WIRE_DROP_N];
	uint64_t queue_max_bytes;  /* deepest bottleneck queue seen */
	uint64_t held_max;         /* most frames in the delay line at once */
};

struct wire_ent {
	int64_t due;
	uint64_t ord; /* enqueue order: ties in due time keep it */
	uint64_t seq; /* arrival number of the frame (copies share it) */
	uint32_t slot, len;
};

struct wire_dir {
	struct wire_params p;
	uint64_t rng[4];
	int ge_bad_state;
	int64_t link_free; /* when the bottleneck finishes what it holds */
	int64_t last_due;  /* due time of the last frame not reordered */
	uint64_t seq, ord;
	uint64_t out_seq_max; /* highest arrival number handed out, +1 */
	uint32_t slot_size, nslots, nfree, nheap;
	uint8_t *data;
	uint32_t *free_slots;
	struct wire_ent *heap;
	struct wire_stats st;
};

/* Parse @spec into both directions' parameters and the seed. 0, or -1 with
 * a message in @err. */
int wire_parse(const char *spec, struct wire_params p[2], uint64_t *seed, char *err,
	       size_t errlen);

/* @slot_size: the longest frame it will hold. 0, or -1 (out of memory). */
int wire_dir_init(struct wire_dir *d, const struct wire_params *p, uint64_t seed, int dir,
		  uint32_t slot_size);
void wire_dir_free(struct wire_dir *d);

/* Offer a frame that arrived at @now (ns, any monotonic origin). Returns the
 * number of copies it put in the delay line (0: dropped, counted). */
int wire_in(struct wire_dir *d, const uint8_t *frame, uint32_t len, int64_t now);

/* Due time of the next frame out, or INT64_MAX when none is held. */
int64_t wire_next_due(const struct wire_dir *d);

/* The next frame if it is due at @now (else NULL); it stays held until
 * wire_pop(). */
const uint8_t *wire_peek(const struct wire_dir *d, int64_t now, uint32_t *len);
void wire_pop(struct wire_dir *d);

/* Uniform in [0, 2^32). Exposed for the tests. */
uint32_t wire_rand32(struct wire_dir *d);

#endif
