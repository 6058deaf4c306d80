/* SPDX-License-Identifier: MIT */
/* Coroutine life: creation, the park/wake protocol, yield, sleep, join,
 * interrupt. The scheduler loop itself is in vcpu.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/sched.h"
#include "core/spin.h"
#include "core/switch.h"

/* Stacks of the vcpu's default size kept for reuse, per vcpu. */
#define POOL_MAX 4096

static _Atomic uint64_t next_id = 1;

void kaon_co_opts_init(kaon_co_opts *o)
{
	memset(o, 0, sizeof(*o));
}

kaon_co *kaon_self(void)
{
	kaon_vcpu *v = kaon__tls_vcpu;
	return v ? v->current : NULL;
}

const char *kaon_co_name(const kaon_co *co)
{
	return co->name ? co->name : "";
}

uint64_t kaon_co_id(const kaon_co *co)
{
	return co->id;
}

static void check_canary(kaon_co *co)
{
	if (__builtin_expect(kaon__stack_smashed(&co->stack), 0))
		kaon__stack_overflow_abort(co->name, co->id,
					   (size_t)(co->stack.hi - co->stack.lo));
}

/* ------------------------------------------------------------- switching */

/* Runs after every switch, on the stack switched to: finish off a coroutine
 * that just left its stack for good. */
static inline void after_switch(kaon_vcpu *v)
{
	kaon_co *x = v->exiting;
	if (__builtin_expect(x != NULL, 0)) {
		v->exiting = NULL;
		if (x->detached)
			kaon__co_free(x);
		else /* a joiner may free it now */
			atomic_store_explicit(&x->reaped, 1, memory_order_release);
	}
}

void kaon__after_switch(kaon_vcpu *v)
{
	after_switch(v);
}

/* Leave the CPU to the next ready coroutine of this batch, or to the
 * scheduler. @p dying: @p self never runs again. */
static inline void switch_away(kaon_vcpu *v, kaon_co *self, kaon_co *next, int dying)
{
	if (next) {
		v->current = next;
		kaon__switch(&self->sp, next, next->sp, dying);
	} else {
		v->current = NULL;
		kaon__switch(&self->sp, NULL, v->sched_sp, dying);
	}
}

static inline kaon_co *batch_next(kaon_vcpu *v)
{
	if (v->budget > 0 && v->runq_head) {
		v->budget--;
		return kaon__runq_pop(v);
	}
	return NULL;
}

void kaon__co_suspend(kaon_vcpu *v, kaon_co *self)
{
	check_canary(self);
	kaon_co *next = batch_next(v);
	if (next == self)
		return; /* only we were ready: keep running */
	switch_away(v, self, next, 0);
	/* Resumed: whoever switched to us already set v->current = self. */
	after_switch(v);
}

static void co_finish(kaon_vcpu *v, kaon_co *co);

static void co_entry(void *p)
{
	kaon_co *co = p;
#ifdef KAON_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	kaon_vcpu *v = co->vcpu;
	after_switch(v);
	co->result = co->fn(co->arg);
	kaon__cls_run_destructors(co);
	check_canary(co);
	co_finish(v, co);
	/* Leave this stack for good; whoever runs next frees it (after_switch). */
	v->exiting = co;
	switch_away(v, co, batch_next(v), 1);
	__builtin_unreachable();
}

void kaon__co_ready(kaon_co *co)
{
	kaon_vcpu *v = co->vcpu;
	if (v == kaon__tls_vcpu) {
		kaon__runq_push(v, co);
		return;
	}
	kaon_co *head = atomic_load_explicit(&v->remote.head, memory_order_relaxed);
	do {
		co->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&v->remote.head, &head, co,
							memory_order_seq_cst,
							memory_order_relaxed));
	/* Pairs with the vcpu's store of sleeping=1 before its last look at
	 * the remote queue: either it sees our push or we see it asleep. */
	if (atomic_load(&v->sleeping) && atomic_exchange(&v->sleeping, 0) && v->engine->wake)
		v->engine->wake(v->engine_state);
}

/* --------------------------------------------------------------- create */

int kaon__co_create(kaon_vcpu *home, kaon_co **out, const kaon_co_opts *opts,
		    kaon_fn fn, void *arg)
{
	kaon_co_opts def;
	if (!opts) {
		kaon_co_opts_init(&def);
		opts = &def;
	}
	if (!fn || (!opts->detached && !out) ||
	    (opts->stack_size && opts->stack_size < KAON_STACK_MIN))
		return -EINVAL;
	size_t size = opts->stack_size ? opts->stack_size : home->stack_size;
	/* Stacks come from the pool of the vcpu we run on (not necessarily
	 * the home): pools are only touched by their own thread. */
	kaon_vcpu *here = kaon__tls_vcpu;
	kaon_co *co = NULL;
	if (here && size == here->stack_size && here->pool) {
		co = here->pool;
		here->pool = co->next;
		here->pool_n--;
	} else {
		kaon_stack s;
		int rc = kaon__stack_alloc(&s, size);
		if (rc < 0)
			return rc;
		uintptr_t top = ((uintptr_t)s.hi - sizeof(kaon_co)) & ~(uintptr_t)63;
		co = (kaon_co *)top;
		co->stack = s;
	}
	/* Field by field: a memset here becomes `rep stos`, whose start-up
	 * cost is a good part of a create. */
	co->next = co->prev_live = co->next_live = NULL;
	atomic_init(&co->park, CO_RUNNING);
	co->park_result = 0;
	atomic_init(&co->pending_intr, 0);
	co->result = NULL;
	atomic_init(&co->join_state, 0);
	atomic_init(&co->reaped, 0);
	co->cancelled = co->free_home = 0;
	co->cls = NULL;
	co->vcpu = home;
	co->fn = fn;
	co->arg = arg;
	co->detached = opts->detached != 0;
	co->name = opts->name;
	/* Ids: vcpu index in the top bits, a per-vcpu count below (no atomic on
	 * the hot path); threads that are no vcpu share an atomic counter. */
	if (here)
		co->id = ((uint64_t)(here->id + 1) << 40) | ++here->next_co_id;
	else
		co->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
	kaon__timer_init(&co->timer, NULL);
	co->sp = kaon__ctx_init((void *)((uintptr_t)co & ~(uintptr_t)15), co_entry, co);
	if (out)
		*out = co;
	return 0;
}

void kaon__co_free(kaon_co *co)
{
	kaon_vcpu *here = kaon__tls_vcpu;
	size_t size = (size_t)(co->stack.hi - co->stack.lo);
	if (here && here->pool_n < POOL_MAX && size >= here->stack_size &&
	    size < here->stack_size + 4096 && !kaon__stack_smashed(&co->stack)) {
		co->next = here->pool;
		here->pool = co;
		here->pool_n++;
		return;
	}
	kaon_stack s = co->stack;
	kaon__stack_free(&s);
}

/* Link into the home vcpu's live list (home thread only). */
static void live_link(kaon_vcpu *v, kaon_co *co)
{
	co->prev_live = NULL;
	co->next_live = v->live_list;
	if (v->live_list)
		v->live_list->prev_live = co;
	v->live_list = co;
}

static void live_unlink(kaon_vcpu *v, kaon_co *co)
{
	if (co->prev_live)
		co->prev_live->next_live = co->next_live;
	else
		v->live_list = co->next_live;
	if (co->next_live)
		co->next_live->prev_live = co->prev_live;
}

void kaon__co_adopt(kaon_vcpu *v, kaon_co *co)
{
	if (co->prev_live == co)
		atomic_fetch_sub(&v->incoming, 1);
	live_link(v, co);
	if (atomic_load_explicit(&v->stop, memory_order_relaxed)) {
		co->cancelled = 1;
		atomic_store(&co->pending_intr, ECANCELED);
	}
}

int kaon_go(kaon_co **out, const kaon_co_opts *opts, kaon_fn fn, void *arg)
{
	kaon_vcpu *v = kaon__tls_vcpu;
	if (!v)
		return -EPERM;
	if (!out && (!opts || !opts->detached))
		return -EINVAL;
	kaon_co *co;
	int rc = kaon__co_create(v, &co, opts, fn, arg);
	if (rc < 0)
		return rc;
	kaon__co_adopt(v, co);
	kaon__runq_push(v, co);
	if (out)
		*out = co;
	return 0;
}

int kaon_go_on(kaon_vcpu *v, kaon_co **out, const kaon_co_opts *opts, kaon_fn fn, void *arg)
{
	if (!v || (!out && (!opts || !opts->detached)))
		return -EINVAL;
	if (v == kaon__tls_vcpu)
		return kaon_go(out, opts, fn, arg);
	if (atomic_load(&v->stop))
		return -ESHUTDOWN;
	kaon_co *co;
	int rc = kaon__co_create(v, &co, opts, fn, arg);
	if (rc < 0)
		return rc;
	/* A fresh coroutine on the remote queue is adopted by its vcpu when
	 * drained (marked by prev_live == co until then); `incoming` keeps the
	 * vcpu from finishing before that. */
	co->prev_live = co;
	atomic_fetch_add(&v->incoming, 1);
	if (out)
		*out = co;
	kaon__co_ready(co);
	return 0;
}

/* The last thing a coroutine does on its own stack: leave the live list,
 * become a zombie (joinable) and wake its joiner. Nothing here frees the
 * stack: that waits until we are off it (after_switch sets `reaped`). */
static void co_finish(kaon_vcpu *v, kaon_co *co)
{
	live_unlink(v, co);
	if (co->detached)
		return;
	/* Zombies stay linked at home until joined, so that a vcpu that stops
	 * can free those never joined. Only the home thread touches the list. */
	co->prev_live = NULL;
	co->next_live = v->zombies;
	if (v->zombies)
		v->zombies->prev_live = co;
	v->zombies = co;
	uintptr_t j = atomic_exchange(&co->join_state, JOIN_DONE);
	if (j)
		kaon_unpark((kaon_co *)j, 0);
}

void kaon__co_bury(kaon_vcpu *v, kaon_co *co)
{
	if (co->prev_live)
		co->prev_live->next_live = co->next_live;
	else
		v->zombies = co->next_live;
	if (co->next_live)
		co->next_live->prev_live = co->prev_live;
	kaon__co_free(co);
}

/* ----------------------------------------------------------- park/wake */

static void park_timeout(kaon_timer *t)
{
	kaon_co *co = (kaon_co *)((char *)t - offsetof(kaon_co, timer));
	int s = atomic_load(&co->park);
	if ((s == CO_PARKED_INTR || s == CO_PARKED_NOINTR) &&
	    atomic_compare_exchange_strong(&co->park, &s, CO_WOKEN)) {
		co->park_result = -ETIMEDOUT;
		kaon__co_ready(co);
	}
}

int kaon__park_begin(kaon_co *self, int64_t deadline, int intr)
{
	int e;
	if (intr && atomic_load_explicit(&self->pending_intr, memory_order_relaxed) &&
	    (e = atomic_exchange(&self->pending_intr, 0)))
		return -e;
	if (deadline != KAON_FOREVER && deadline <= kaon_now())
		return -ETIMEDOUT;
	self->park_result = 0;
	atomic_store(&self->park, intr ? CO_PARKED_INTR : CO_PARKED_NOINTR);
	/* An interrupt that landed between the first check and the store saw
	 * us running and left its errno pending: take it back ourselves. */
	if (intr && atomic_load(&self->pending_intr)) {
		int s = CO_PARKED_INTR;
		if (atomic_compare_exchange_strong(&self->park, &s, CO_RUNNING)) {
			e = atomic_exchange(&self->pending_intr, 0);
			return -(e ? e : ECANCELED);
		}
		/* Someone else woke us already: kaon__park_end collects it. */
	}
	return 0;
}

int kaon__park_end(kaon_co *self, int64_t deadline)
{
	kaon_vcpu *v = self->vcpu;
	if (deadline != KAON_FOREVER) {
		self->timer.fire = park_timeout;
		if (kaon__timer_add(&v->timers, &self->timer, deadline) < 0) {
			int s = atomic_load(&self->park);
			if (s != CO_WOKEN &&
			    atomic_compare_exchange_strong(&self->park, &s, CO_RUNNING))
				return -ENOMEM;
		}
	}
	kaon__co_suspend(v, self);
	atomic_store_explicit(&self->park, CO_RUNNING, memory_order_relaxed);
	if (kaon__timer_armed(&self->timer))
		kaon__timer_cancel(&v->timers, &self->timer);
	return self->park_result;
}

static int park(int64_t deadline, int intr)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	int rc = kaon__park_begin(self, deadline, intr);
	if (rc < 0)
		return rc;
	return kaon__park_end(self, deadline);
}

int kaon_park(int64_t deadline)
{
	return park(deadline, 1);
}

int kaon_park_uninterruptible(int64_t deadline)
{
	return park(deadline, 0);
}

bool kaon_claim(kaon_co *co)
{
	int s = atomic_load(&co->park);
	while (s == CO_PARKED_INTR || s == CO_PARKED_NOINTR) {
		if (atomic_compare_exchange_weak(&co->park, &s, CO_WOKEN))
			return true;
	}
	return false;
}

void kaon_wake(kaon_co *co, int result)
{
	co->park_result = result;
	kaon__co_ready(co);
}

bool kaon_unpark(kaon_co *co, int result)
{
	if (!kaon_claim(co))
		return false;
	kaon_wake(co, result);
	return true;
}

int kaon_interrupt(kaon_co *co, int err)
{
	if (!co || err <= 0)
		return -EINVAL;
	atomic_store(&co->pending_intr, err);
	int s = CO_PARKED_INTR;
	if (atomic_compare_exchange_strong(&co->park, &s, CO_WOKEN)) {
		int e = atomic_exchange(&co->pending_intr, 0);
		kaon_wake(co, -(e ? e : err));
	}
	return 0;
}

/* ------------------------------------------------------ yield and sleep */

int kaon_yield(void)
{
	kaon_vcpu *v = kaon__tls_vcpu;
	kaon_co *self = v ? v->current : NULL;
	if (!self)
		return -EPERM;
	kaon__runq_push(v, self);
	kaon__co_suspend(v, self);
	return 0;
}

int kaon_sleep_until(int64_t deadline)
{
	int rc = kaon_park(deadline);
	return rc == -ETIMEDOUT ? 0 : rc;
}

/* ------------------------------------------------------------------ join */

int kaon_join(kaon_co *co, int64_t deadline, void **result)
{
	kaon_co *self = kaon_self();
	if (!self)
		return -EPERM;
	if (!co || co->detached)
		return -EINVAL;
	if (co == self)
		return -EDEADLK;
	uintptr_t st = atomic_load(&co->join_state);
	if (st != JOIN_DONE) {
		if (st != 0)
			return -EINVAL; /* somebody else is joining it */
		/* Parked before we publish ourselves, so the reaper can claim us. */
		int rc = kaon__park_begin(self, deadline, 1);
		if (rc < 0)
			return rc;
		uintptr_t exp = 0;
		if (atomic_compare_exchange_strong(&co->join_state, &exp, (uintptr_t)self)) {
			rc = kaon__park_end(self, deadline);
			exp = (uintptr_t)self;
			if (rc != 0 && atomic_compare_exchange_strong(&co->join_state, &exp, 0))
				return rc; /* deadline or interrupt; still joinable */
		} else {
			/* It finished (or another joiner came) in between: undo
			 * the park, or take the wake-up that already hit it. */
			int s = CO_PARKED_INTR;
			if (!atomic_compare_exchange_strong(&self->park, &s, CO_RUNNING)) {
				rc = kaon__park_end(self, KAON_FOREVER);
				if (rc < 0) /* an interrupt: keep it for the next call */
					atomic_store(&self->pending_intr, -rc);
			}
			if (exp != JOIN_DONE)
				return -EINVAL;
		}
	}
	while (!atomic_load_explicit(&co->reaped, memory_order_acquire))
		kaon__cpu_relax();
	if (result)
		*result = co->result;
	if (co->vcpu == self->vcpu) {
		kaon__co_bury(self->vcpu, co);
	} else {
		co->free_home = 1; /* its zombie list is its home's to edit */
		kaon__co_ready(co);
	}
	return 0;
}
