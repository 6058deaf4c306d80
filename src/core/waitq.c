/* SPDX-License-Identifier: MIT */
#include "core/waitq.h"

#include "core/spin.h"

void kaon__waitq_push(kaon_waitq *q, kaon_waiter *w)
{
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
	w->linked = 1;
}

void kaon__waitq_remove(kaon_waitq *q, kaon_waiter *w)
{
	if (!w->linked)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->linked = 0;
}

kaon_waiter *kaon__waitq_claim(kaon_waitq *q)
{
	while (q->head) {
		kaon_waiter *w = q->head;
		kaon__waitq_remove(q, w);
		if (kaon_claim(w->co))
			return w;
	}
	return NULL;
}

kaon_waiter *kaon__waitq_claim_kind(kaon_waitq *q, int kind)
{
	while (q->head) {
		kaon_waiter *w = q->head;
		if (w->kind != kind) {
			/* Drop it only if it already gave up waiting. */
			int s = atomic_load(&w->co->park);
			if (s == CO_PARKED_INTR || s == CO_PARKED_NOINTR)
				return NULL;
			kaon__waitq_remove(q, w);
			continue;
		}
		kaon__waitq_remove(q, w);
		if (kaon_claim(w->co))
			return w;
	}
	return NULL;
}

int kaon__waitq_wait(int *lock, kaon_waitq *q, kaon_waiter *w, kaon_co *self,
		     int64_t deadline, int intr)
{
	int rc = kaon__park_begin(self, deadline, intr);
	if (rc < 0) {
		kaon__spin_unlock(lock);
		return rc;
	}
	w->co = self;
	kaon__waitq_push(q, w);
	kaon__spin_unlock(lock);
	rc = kaon__park_end(self, deadline);
	if (rc < 0) {
		kaon__spin_lock(lock);
		kaon__waitq_remove(q, w);
		kaon__spin_unlock(lock);
	}
	return rc;
}
