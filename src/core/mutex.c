/* SPDX-License-Identifier: MIT */
/* Mutex: FIFO waiters, ownership handed directly to the first waiter. */
#include <errno.h>
#include <string.h>

#include "core/spin.h"
#include "core/waitq.h"

int kaon_mutex_init(kaon_mutex *m)
{
	memset(m, 0, sizeof(*m));
	return 0;
}

int kaon_mutex_destroy(kaon_mutex *m)
{
	kaon__spin_lock(&m->lock);
	int busy = m->locked || !kaon__waitq_empty(&m->waiters);
	kaon__spin_unlock(&m->lock);
	return busy ? -EBUSY : 0;
}

int kaon__mutex_lock(kaon_mutex *m, int64_t deadline, int intr);
int kaon__mutex_lock(kaon_mutex *m, int64_t deadline, int intr)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	kaon__spin_lock(&m->lock);
	if (!m->locked) {
		m->locked = 1;
		m->owner = self;
		kaon__spin_unlock(&m->lock);
		return 0;
	}
	if (m->owner == self) {
		kaon__spin_unlock(&m->lock);
		return -EDEADLK;
	}
	kaon_waiter w = { 0 };
	/* 0 means the unlocker made us the owner. */
	return kaon__waitq_wait(&m->lock, &m->waiters, &w, self, deadline, intr);
}

int kaon_mutex_lock(kaon_mutex *m, int64_t deadline)
{
	return kaon__mutex_lock(m, deadline, 1);
}

int kaon_mutex_trylock(kaon_mutex *m)
{
	int rc = -EBUSY;
	kaon__spin_lock(&m->lock);
	if (!m->locked) {
		m->locked = 1;
		m->owner = kaon_self();
		rc = 0;
	}
	kaon__spin_unlock(&m->lock);
	return rc;
}

int kaon_mutex_unlock(kaon_mutex *m)
{
	kaon_co *self = kaon_self();
	kaon__spin_lock(&m->lock);
	if (!m->locked || m->owner != self) {
		kaon__spin_unlock(&m->lock);
		return -EPERM;
	}
	kaon_waiter *w = kaon__waitq_claim(&m->waiters);
	if (w) {
		kaon_co *next = w->co;
		m->owner = next;
		kaon__spin_unlock(&m->lock);
		kaon_wake(next, 0);
		return 0;
	}
	m->locked = 0;
	m->owner = NULL;
	kaon__spin_unlock(&m->lock);
	return 0;
}
