/* SPDX-License-Identifier: MIT */
/* Wait queues for the sync primitives. A waiter lives on the waiting
 * coroutine's stack; the queue is guarded by the primitive's spinlock. */
#ifndef KAON_CORE_WAITQ_H
#define KAON_CORE_WAITQ_H

#include "core/sched.h"
#include "kaon/sync.h"

typedef struct kaon_waiter {
	struct kaon_waiter *next, *prev;
	kaon_co *co;
	int linked;
	int kind;     /* primitive-specific (rwlock: reader or writer) */
	void *data;   /* primitive-specific (channel: element buffer) */
} kaon_waiter;

static inline int kaon__waitq_empty(const kaon_waitq *q)
{
	return q->head == NULL;
}

void kaon__waitq_push(kaon_waitq *q, kaon_waiter *w);
void kaon__waitq_remove(kaon_waitq *q, kaon_waiter *w);

/*
 * Pop waiters from the front until one can be claimed (see kaon_claim) and
 * return it, unlinked and claimed; the caller finishes the hand-over and then
 * calls kaon_wake(w->co, result) -- after which @p w must not be touched.
 * Waiters whose claim fails were already woken (deadline, interrupt) and
 * are dropped. @return NULL when none is left. Call with the lock held.
 */
kaon_waiter *kaon__waitq_claim(kaon_waitq *q);

/* Like kaon__waitq_claim, but only if the first claimable waiter has
 * w->kind == kind; otherwise NULL and it stays first. */
kaon_waiter *kaon__waitq_claim_kind(kaon_waitq *q, int kind);

/*
 * Block the running coroutine @p self on @p q. Call with *lock held; returns
 * with it released. @return the waker's result (0 when handed over),
 * -ETIMEDOUT, or -err from an interrupt (then @p w is off the queue).
 */
int kaon__waitq_wait(int *lock, kaon_waitq *q, kaon_waiter *w, kaon_co *self,
		     int64_t deadline, int intr);

#endif
