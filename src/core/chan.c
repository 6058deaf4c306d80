/* SPDX-License-Identifier: MIT */
/*
 * Bounded channel. Elements are copied in and out of a ring; when a receiver
 * is already waiting, a send copies straight into the receiver's buffer (on
 * its stack, stable while it is claimed), and a rendezvous channel (cap 0)
 * works the same way with the sender's buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/spin.h"
#include "core/waitq.h"

int kaon_chan_init(kaon_chan *ch, size_t elem_size, size_t cap)
{
	memset(ch, 0, sizeof(*ch));
	if (elem_size == 0 || (cap && elem_size > SIZE_MAX / cap))
		return -EINVAL;
	ch->elem_size = elem_size;
	ch->cap = cap;
	if (cap) {
		ch->buf = malloc(elem_size * cap);
		if (!ch->buf)
			return -ENOMEM;
	}
	return 0;
}

int kaon_chan_destroy(kaon_chan *ch)
{
	kaon__spin_lock(&ch->lock);
	int busy = !kaon__waitq_empty(&ch->senders) || !kaon__waitq_empty(&ch->receivers);
	kaon__spin_unlock(&ch->lock);
	if (busy)
		return -EBUSY;
	free(ch->buf);
	ch->buf = NULL;
	return 0;
}

static void *slot(kaon_chan *ch, size_t i)
{
	return ch->buf + ((ch->head + i) % ch->cap) * ch->elem_size;
}

int kaon_chan_send(kaon_chan *ch, const void *elem, int64_t deadline)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	kaon__spin_lock(&ch->lock);
	if (ch->closed) {
		kaon__spin_unlock(&ch->lock);
		return -EPIPE;
	}
	kaon_waiter *r = kaon__waitq_claim(&ch->receivers);
	if (r) {
		memcpy(r->data, elem, ch->elem_size);
		kaon_co *co = r->co;
		kaon__spin_unlock(&ch->lock);
		kaon_wake(co, 0);
		return 0;
	}
	if (ch->count < ch->cap) {
		memcpy(slot(ch, ch->count), elem, ch->elem_size);
		ch->count++;
		kaon__spin_unlock(&ch->lock);
		return 0;
	}
	kaon_waiter w = { .data = (void *)elem };
	/* 0: a receiver took our element; -EPIPE: closed while we waited. */
	return kaon__waitq_wait(&ch->lock, &ch->senders, &w, self, deadline, 1);
}

int kaon_chan_recv(kaon_chan *ch, void *elem, int64_t deadline)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	kaon__spin_lock(&ch->lock);
	if (ch->count > 0) {
		memcpy(elem, slot(ch, 0), ch->elem_size);
		ch->head = (ch->head + 1) % ch->cap;
		ch->count--;
		/* A slot is free: the first waiting sender's element fills it. */
		kaon_waiter *s = kaon__waitq_claim(&ch->senders);
		kaon_co *co = NULL;
		if (s) {
			memcpy(slot(ch, ch->count), s->data, ch->elem_size);
			ch->count++;
			co = s->co;
		}
		kaon__spin_unlock(&ch->lock);
		if (co)
			kaon_wake(co, 0);
		return 0;
	}
	kaon_waiter *s = kaon__waitq_claim(&ch->senders);
	if (s) { /* rendezvous */
		memcpy(elem, s->data, ch->elem_size);
		kaon_co *co = s->co;
		kaon__spin_unlock(&ch->lock);
		kaon_wake(co, 0);
		return 0;
	}
	if (ch->closed) {
		kaon__spin_unlock(&ch->lock);
		return -EPIPE;
	}
	kaon_waiter w = { .data = elem };
	return kaon__waitq_wait(&ch->lock, &ch->receivers, &w, self, deadline, 1);
}

int kaon_chan_close(kaon_chan *ch)
{
	kaon__spin_lock(&ch->lock);
	if (ch->closed) {
		kaon__spin_unlock(&ch->lock);
		return -EPIPE;
	}
	ch->closed = 1;
	kaon_waiter *w;
	while ((w = kaon__waitq_claim(&ch->senders)))
		kaon_wake(w->co, -EPIPE);
	/* Waiting receivers mean the ring is empty. */
	while ((w = kaon__waitq_claim(&ch->receivers)))
		kaon_wake(w->co, -EPIPE);
	kaon__spin_unlock(&ch->lock);
	return 0;
}
