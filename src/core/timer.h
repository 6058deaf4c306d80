/* SPDX-License-Identifier: MIT */
/* Per-vcpu timers: a 4-ary min-heap of intrusive nodes. Insert, cancel and
 * pop are O(log n); the node remembers its heap slot so cancel needs no
 * search. Only the owning vcpu's thread touches its heap. */
#ifndef KAON_CORE_TIMER_H
#define KAON_CORE_TIMER_H

#include <stddef.h>
#include <stdint.h>

#define KAON_TIMER_IDLE UINT32_MAX

typedef struct kaon_timer {
	int64_t when;          /* absolute deadline, kaon_now() ns */
	uint64_t seq;          /* insertion order: equal deadlines fire FIFO */
	uint32_t slot;         /* index in the heap, KAON_TIMER_IDLE if not armed */
	void (*fire)(struct kaon_timer *t);
} kaon_timer;

typedef struct kaon_timer_heap {
	kaon_timer **v;
	size_t n, cap;
	uint64_t seq;
} kaon_timer_heap;

static inline void kaon__timer_init(kaon_timer *t, void (*fire)(kaon_timer *))
{
	t->slot = KAON_TIMER_IDLE;
	t->fire = fire;
}

static inline int kaon__timer_armed(const kaon_timer *t)
{
	return t->slot != KAON_TIMER_IDLE;
}

void kaon__timer_heap_fini(kaon_timer_heap *h);
/** Arm @p t at @p when (re-arms if armed). @return 0 or -ENOMEM. */
int kaon__timer_add(kaon_timer_heap *h, kaon_timer *t, int64_t when);
/** Disarm @p t if armed. */
void kaon__timer_cancel(kaon_timer_heap *h, kaon_timer *t);
/** Earliest deadline, or INT64_MAX when empty. */
static inline int64_t kaon__timer_next(const kaon_timer_heap *h)
{
	return h->n ? h->v[0]->when : INT64_MAX;
}
/** Fire every timer due at @p now (each disarmed before its callback).
 *  @return how many fired. */
size_t kaon__timer_run(kaon_timer_heap *h, int64_t now);

#endif
