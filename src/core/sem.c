/* SPDX-License-Identifier: MIT */
/* Counting semaphore: a post hands its unit straight to the first waiter. */
#include <errno.h>
#include <string.h>

#include "core/spin.h"
#include "core/waitq.h"

int kaon_sem_init(kaon_sem *s, uint64_t count)
{
	memset(s, 0, sizeof(*s));
	s->count = count;
	return 0;
}

int kaon_sem_destroy(kaon_sem *s)
{
	kaon__spin_lock(&s->lock);
	int busy = !kaon__waitq_empty(&s->waiters);
	kaon__spin_unlock(&s->lock);
	return busy ? -EBUSY : 0;
}

int kaon_sem_wait(kaon_sem *s, int64_t deadline)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	kaon__spin_lock(&s->lock);
	if (s->count > 0) {
		s->count--;
		kaon__spin_unlock(&s->lock);
		return 0;
	}
	kaon_waiter w = { 0 };
	return kaon__waitq_wait(&s->lock, &s->waiters, &w, self, deadline, 1);
}

int kaon_sem_trywait(kaon_sem *s)
{
	int rc = -EAGAIN;
	kaon__spin_lock(&s->lock);
	if (s->count > 0) {
		s->count--;
		rc = 0;
	}
	kaon__spin_unlock(&s->lock);
	return rc;
}

int kaon_sem_post(kaon_sem *s)
{
	kaon__spin_lock(&s->lock);
	kaon_waiter *w = kaon__waitq_claim(&s->waiters);
	if (w) {
		kaon_co *co = w->co;
		kaon__spin_unlock(&s->lock);
		kaon_wake(co, 0);
		return 0;
	}
	if (s->count == UINT64_MAX) {
		kaon__spin_unlock(&s->lock);
		return -EOVERFLOW;
	}
	s->count++;
	kaon__spin_unlock(&s->lock);
	return 0;
}
