/* SPDX-License-Identifier: MIT */
/*
 * Reader-writer lock, FIFO: a reader that arrives while anyone waits queues
 * behind them, so a waiting writer is never starved. An unlock hands the lock
 * to the first waiter and, if that is a reader, to every reader right behind
 * it.
 */
#include <errno.h>
#include <string.h>

#include "core/spin.h"
#include "core/waitq.h"

enum { READER = 1, WRITER = 2 };

int kaon_rwlock_init(kaon_rwlock *l)
{
	memset(l, 0, sizeof(*l));
	return 0;
}

int kaon_rwlock_destroy(kaon_rwlock *l)
{
	kaon__spin_lock(&l->lock);
	int busy = l->readers != 0 || !kaon__waitq_empty(&l->waiters);
	kaon__spin_unlock(&l->lock);
	return busy ? -EBUSY : 0;
}

/* Hand the lock to whoever can have it now: the first writer if it is free,
 * or the run of readers at the head while readers hold it. Lock held;
 * wakes are only "ready" here, nobody runs before we unlock. */
static void dispatch(kaon_rwlock *l)
{
	kaon_waiter *w;
	if (l->readers == 0 && (w = kaon__waitq_claim(&l->waiters))) {
		if (w->kind == WRITER) {
			l->readers = -1;
			kaon_wake(w->co, 0);
			return;
		}
		l->readers = 1;
		kaon_wake(w->co, 0);
	}
	if (l->readers > 0) {
		while ((w = kaon__waitq_claim_kind(&l->waiters, READER))) {
			l->readers++;
			kaon_wake(w->co, 0);
		}
	}
}

/* A waiter that gives up (deadline, interrupt) may have been what held the
 * others back: let them through. */
static int wait_turn(kaon_rwlock *l, kaon_co *self, int kind, int64_t deadline)
{
	kaon_waiter w = { .kind = kind };
	int rc = kaon__park_begin(self, deadline, 1);
	if (rc < 0) {
		kaon__spin_unlock(&l->lock);
		return rc;
	}
	w.co = self;
	kaon__waitq_push(&l->waiters, &w);
	kaon__spin_unlock(&l->lock);
	rc = kaon__park_end(self, deadline);
	if (rc < 0) {
		kaon__spin_lock(&l->lock);
		kaon__waitq_remove(&l->waiters, &w);
		dispatch(l);
		kaon__spin_unlock(&l->lock);
	}
	return rc;
}

int kaon_rwlock_rdlock(kaon_rwlock *l, int64_t deadline)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	kaon__spin_lock(&l->lock);
	if (l->readers >= 0 && kaon__waitq_empty(&l->waiters)) {
		l->readers++;
		kaon__spin_unlock(&l->lock);
		return 0;
	}
	return wait_turn(l, self, READER, deadline);
}

int kaon_rwlock_wrlock(kaon_rwlock *l, int64_t deadline)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	kaon__spin_lock(&l->lock);
	if (l->readers == 0 && kaon__waitq_empty(&l->waiters)) {
		l->readers = -1;
		kaon__spin_unlock(&l->lock);
		return 0;
	}
	return wait_turn(l, self, WRITER, deadline);
}

int kaon_rwlock_unlock(kaon_rwlock *l)
{
	kaon__spin_lock(&l->lock);
	if (l->readers == 0) {
		kaon__spin_unlock(&l->lock);
		return -EPERM;
	}
	if (l->readers > 0)
		l->readers--;
	else
		l->readers = 0;
	if (l->readers > 0) {
		kaon__spin_unlock(&l->lock);
		return 0;
	}
	dispatch(l);
	kaon__spin_unlock(&l->lock);
	return 0;
}
