/* SPDX-License-Identifier: MIT */
#include "core/timer.h"

#include <errno.h>
#include <stdlib.h>

/* 4-ary heap: shallower than binary, children of a node share a cache line. */
#define ARITY 4

static inline int before(const kaon_timer *a, const kaon_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(kaon_timer_heap *h, size_t i, kaon_timer *t)
{
	h->v[i] = t;
	t->slot = (uint32_t)i;
}

static void sift_up(kaon_timer_heap *h, size_t i, kaon_timer *t)
{
	while (i > 0) {
		size_t p = (i - 1) / ARITY;
		if (!before(t, h->v[p]))
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(kaon_timer_heap *h, size_t i, kaon_timer *t)
{
	for (;;) {
		size_t c = i * ARITY + 1, best = 0, end;
		if (c >= h->n)
			break;
		end = c + ARITY < h->n ? c + ARITY : h->n;
		best = c;
		for (size_t k = c + 1; k < end; k++)
			if (before(h->v[k], h->v[best]))
				best = k;
		if (!before(h->v[best], t))
			break;
		place(h, i, h->v[best]);
		i = best;
	}
	place(h, i, t);
}

void kaon__timer_heap_fini(kaon_timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

int kaon__timer_add(kaon_timer_heap *h, kaon_timer *t, int64_t when)
{
	if (kaon__timer_armed(t))
		kaon__timer_cancel(h, t);
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		if (cap >= KAON_TIMER_IDLE)
			return -ENOMEM;
		kaon_timer **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	t->when = when;
	t->seq = h->seq++;
	sift_up(h, h->n++, t);
	return 0;
}

void kaon__timer_cancel(kaon_timer_heap *h, kaon_timer *t)
{
	size_t i = t->slot;
	if (i == KAON_TIMER_IDLE)
		return;
	t->slot = KAON_TIMER_IDLE;
	kaon_timer *last = h->v[--h->n];
	if (i == h->n)
		return;
	/* The last node takes the hole; it may have to move either way. */
	if (i > 0 && before(last, h->v[(i - 1) / ARITY]))
		sift_up(h, i, last);
	else
		sift_down(h, i, last);
}

size_t kaon__timer_run(kaon_timer_heap *h, int64_t now)
{
	size_t fired = 0;
	while (h->n && h->v[0]->when <= now) {
		kaon_timer *t = h->v[0];
		kaon__timer_cancel(h, t);
		t->fire(t);
		fired++;
	}
	return fired;
}
