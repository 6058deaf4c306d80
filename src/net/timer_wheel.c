/* The hierarchical timing wheel of timer_wheel.h.
 *
 * Invariant: a node at level L, slot s, has the wheel's time in every bit
 * above level L and s > the wheel's digit at level L. So the busy slots of
 * a level lie ahead of the wheel's time within one turn of that level, the
 * lowest busy bit is the earliest, and when the wheel reaches a slot's
 * first tick every node in it is either due or goes to a lower level. */
#include <stddef.h>

#include "timer_wheel.h"

#define MASK ((uint64_t)KN_TW_SLOTS - 1)

static inline void list_init(struct kn_tw_link *h)
{
	h->next = h->prev = h;
}

static inline bool list_empty(const struct kn_tw_link *h)
{
	return h->next == h;
}

static inline void list_append(struct kn_tw_link *h, struct kn_tw_link *l)
{
	l->prev = h->prev;
	l->next = h;
	h->prev->next = l;
	h->prev = l;
}

static inline void list_unlink(struct kn_tw_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l->prev = NULL;
}

/* Move every node of @from to the end of @to. */
static inline void list_splice(struct kn_tw_link *to, struct kn_tw_link *from)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	list_init(from);
}

void kn_tw_init(struct kn_twheel *w, uint64_t now)
{
	w->now = now;
	w->count = 0;
	for (unsigned l = 0; l < KN_TW_LEVELS; l++) {
		w->busy[l] = 0;
		for (unsigned s = 0; s < KN_TW_SLOTS; s++)
			list_init(&w->slot[l][s]);
	}
	list_init(&w->far);
	list_init(&w->due);
}

/* Put @n where its tick belongs relative to the wheel's time. */
static void place(struct kn_twheel *w, struct kn_tw_node *n)
{
	if (n->tick <= w->now) {
		n->where = KN_TW_DUE;
		list_append(&w->due, &n->link);
		return;
	}
	/* The highest bit where the deadline and the wheel's time differ
	 * picks the level. */
	unsigned level = (unsigned)(63 - __builtin_clzll(n->tick ^ w->now)) / KN_TW_BITS;
	if (level >= KN_TW_LEVELS) {
		n->where = KN_TW_FAR;
		list_append(&w->far, &n->link);
		return;
	}
	unsigned s = (unsigned)(n->tick >> (level * KN_TW_BITS)) & MASK;
	n->where = (uint16_t)(level * KN_TW_SLOTS + s);
	list_append(&w->slot[level][s], &n->link);
	w->busy[level] |= (uint64_t)1 << s;
}

void kn_tw_add(struct kn_twheel *w, struct kn_tw_node *n, uint64_t tick)
{
	n->tick = tick > w->now ? tick : w->now + 1;
	place(w, n);
	w->count++;
}

void kn_tw_del(struct kn_twheel *w, struct kn_tw_node *n)
{
	if (!kn_tw_filed(n))
		return;
	list_unlink(&n->link);
	w->count--;
	if (n->where < KN_TW_LEVELS * KN_TW_SLOTS) {
		unsigned level = n->where / KN_TW_SLOTS, s = n->where % KN_TW_SLOTS;
		if (list_empty(&w->slot[level][s]))
			w->busy[level] &= ~((uint64_t)1 << s);
	}
}

/* Set the wheel's time to @to: take every slot it passes at each level and
 * file its nodes again (due, or lower down). */
static void advance(struct kn_twheel *w, uint64_t to)
{
	struct kn_tw_link todo;
	list_init(&todo);
	for (unsigned level = 0; level < KN_TW_LEVELS; level++) {
		unsigned shift = level * KN_TW_BITS;
		uint64_t a = w->now >> shift, b = to >> shift;
		if (a == b)
			break; /* this digit did not move, so no higher one did */
		uint64_t passed;
		if (b - a >= KN_TW_SLOTS) {
			passed = ~(uint64_t)0;
		} else {
			/* Slots a+1 .. b, wrapping round the level. */
			unsigned first = (unsigned)((a + 1) & MASK);
			uint64_t run = ((uint64_t)1 << (b - a)) - 1;
			passed = first ? (run << first) | (run >> (KN_TW_SLOTS - first)) : run;
		}
		uint64_t hit = passed & w->busy[level];
		w->busy[level] &= ~hit;
		while (hit) {
			unsigned s = (unsigned)__builtin_ctzll(hit);
			hit &= hit - 1;
			list_splice(&todo, &w->slot[level][s]);
		}
	}
	unsigned top = KN_TW_LEVELS * KN_TW_BITS;
	if ((w->now >> top) != (to >> top))
		list_splice(&todo, &w->far);
	w->now = to;
	while (!list_empty(&todo)) {
		struct kn_tw_link *l = todo.next;
		list_unlink(l);
		place(w, (struct kn_tw_node *)((char *)l - offsetof(struct kn_tw_node, link)));
	}
}

/* The next tick at which advance() has work, ignoring the due list. */
static uint64_t next_work(const struct kn_twheel *w)
{
	for (unsigned level = 0; level < KN_TW_LEVELS; level++) {
		if (!w->busy[level])
			continue;
		unsigned shift = level * KN_TW_BITS;
		uint64_t base = (w->now >> (shift + KN_TW_BITS)) << (shift + KN_TW_BITS);
		return base | (uint64_t)__builtin_ctzll(w->busy[level]) << shift;
	}
	if (!list_empty(&w->far)) {
		unsigned top = KN_TW_LEVELS * KN_TW_BITS;
		return ((w->now >> top) + 1) << top;
	}
	return UINT64_MAX;
}

void kn_tw_expire(struct kn_twheel *w, uint64_t now)
{
	/* Step from one busy point to the next, so the due list comes out in
	 * deadline order even after a long jump. */
	uint64_t t;
	while ((t = next_work(w)) <= now)
		advance(w, t);
	if (now > w->now)
		advance(w, now);
}

struct kn_tw_node *kn_tw_pop(struct kn_twheel *w)
{
	if (list_empty(&w->due))
		return NULL;
	struct kn_tw_link *l = w->due.next;
	list_unlink(l);
	w->count--;
	return (struct kn_tw_node *)((char *)l - offsetof(struct kn_tw_node, link));
}

uint64_t kn_tw_next(const struct kn_twheel *w)
{
	if (!list_empty(&w->due))
		return w->now;
	return next_work(w);
}
