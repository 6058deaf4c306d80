/* A hierarchical timing wheel: add, remove and expire a timer in O(1),
 * whatever the number of timers and however far their deadlines.
 *
 * Time is counted in ticks (the user picks the tick; TCP uses 1 ms). Level
 * L has KN_TW_SLOTS slots of KN_TW_SLOTS^L ticks each; a node sits at the
 * lowest level whose slot tells its deadline apart from the wheel's time,
 * and moves down a level each time the wheel reaches its slot, so it is
 * expired exactly at its tick, never earlier. Deadlines beyond the last
 * level wait on a list that is looked at once per turn of the last level.
 * One bitmap word per level finds the next busy slot without a scan.
 *
 * Nodes are embedded in their owner (no allocation). The wheel does not
 * call anyone: kn_tw_expire() moves what is due to a list that the user
 * drains with kn_tw_pop(), in deadline order. */
#ifndef KN_TIMER_WHEEL_H
#define KN_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define KN_TW_BITS 6
#define KN_TW_SLOTS (1u << KN_TW_BITS)
#define KN_TW_LEVELS 6 /* 2^36 ticks: over two years of 1 ms ticks */
#define KN_TW_FAR 0xfffe
#define KN_TW_DUE 0xffff

struct kn_tw_link {
	struct kn_tw_link *next, *prev;
};

struct kn_tw_node {
	struct kn_tw_link link;  /* next == NULL: not filed */
	uint64_t tick;           /* when it is due */
	uint16_t where;          /* level * KN_TW_SLOTS + slot, or one of KN_TW_DUE/FAR */
};

struct kn_twheel {
	uint64_t now;                 /* every tick up to this one has been expired */
	uint64_t busy[KN_TW_LEVELS];  /* bit s: slot s of that level is not empty */
	struct kn_tw_link slot[KN_TW_LEVELS][KN_TW_SLOTS];
	struct kn_tw_link far;        /* beyond the last level */
	struct kn_tw_link due;        /* expired, waiting for kn_tw_pop() */
	uint32_t count;               /* nodes filed, due ones included */
};

void kn_tw_init(struct kn_twheel *w, uint64_t now);

static inline bool kn_tw_filed(const struct kn_tw_node *n)
{
	return n->link.next != 0;
}

/* File @n (not filed) to expire at @tick. A tick the wheel has already
 * passed means the next one: nothing is ever due at a tick gone by, so a
 * user that re-files what it pops cannot loop. */
void kn_tw_add(struct kn_twheel *w, struct kn_tw_node *n, uint64_t tick);
/* Unfile @n; nothing if it is not filed. */
void kn_tw_del(struct kn_twheel *w, struct kn_tw_node *n);
/* Advance the wheel to @now (never backwards): every node due by then goes
 * to the due list. Cost: the nodes that expire or move down a level, plus a
 * constant per busy slot passed. */
void kn_tw_expire(struct kn_twheel *w, uint64_t now);
/* The first due node, unfiled, or NULL. */
struct kn_tw_node *kn_tw_pop(struct kn_twheel *w);
/* When kn_tw_expire() has something to do next: the tick of the earliest
 * node if it is on the lowest level, else the earlier tick at which nodes
 * move down a level (a lower bound on every deadline); the wheel's time if
 * nodes are already due; UINT64_MAX when the wheel is empty. */
uint64_t kn_tw_next(const struct kn_twheel *w);

#endif
