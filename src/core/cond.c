/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "core/spin.h"
#include "core/waitq.h"

int kaon__mutex_lock(kaon_mutex *m, int64_t deadline, int intr);

int kaon_cond_init(kaon_cond *c)
{
	memset(c, 0, sizeof(*c));
	return 0;
}

int kaon_cond_destroy(kaon_cond *c)
{
	kaon__spin_lock(&c->lock);
	int busy = !kaon__waitq_empty(&c->waiters);
	kaon__spin_unlock(&c->lock);
	return busy ? -EBUSY : 0;
}

int kaon_cond_wait(kaon_cond *c, kaon_mutex *m, int64_t deadline)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	if (m->owner != self)
		return -EPERM;
	kaon_waiter w = { 0 };
	kaon__spin_lock(&c->lock);
	/* Park begins under the cond's lock, before the mutex is released:
	 * a signal sent after the unlock finds us already waiting. */
	int rc = kaon__park_begin(self, deadline, 1);
	if (rc < 0) {
		kaon__spin_unlock(&c->lock);
		return rc;
	}
	w.co = self;
	kaon__waitq_push(&c->waiters, &w);
	kaon__spin_unlock(&c->lock);
	kaon_mutex_unlock(m);
	rc = kaon__park_end(self, deadline);
	if (rc < 0) {
		kaon__spin_lock(&c->lock);
		kaon__waitq_remove(&c->waiters, &w);
		kaon__spin_unlock(&c->lock);
	}
	/* The mutex comes back whatever happened; an interrupt stays pending
	 * for the caller's next blocking call rather than leaving it unlocked. */
	kaon__mutex_lock(m, KAON_FOREVER, 0);
	return rc;
}

int kaon_cond_signal(kaon_cond *c)
{
	kaon__spin_lock(&c->lock);
	kaon_waiter *w = kaon__waitq_claim(&c->waiters);
	kaon__spin_unlock(&c->lock);
	if (w)
		kaon_wake(w->co, 0);
	return 0;
}

int kaon_cond_broadcast(kaon_cond *c)
{
	kaon__spin_lock(&c->lock);
	kaon_waiter *w;
	while ((w = kaon__waitq_claim(&c->waiters)))
		kaon_wake(w->co, 0); /* ready only: it cannot run before we unlock */
	kaon__spin_unlock(&c->lock);
	return 0;
}
