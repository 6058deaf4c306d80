/* SPDX-License-Identifier: MIT */
/* The vcpu: one thread, its run queue, timers and engine, and the loop that
 * ties them together. */
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "core/sched.h"
#include "core/spin.h"
#include "core/switch.h"

/* Coroutines run back to back before the loop looks at timers, the remote
 * queue and the engine again. */
#define BATCH 64

__thread kaon_vcpu *kaon__tls_vcpu __attribute__((tls_model("initial-exec")));
#ifdef KAON_ASAN
__thread const void *kaon__asan_sched_bottom;
__thread size_t kaon__asan_sched_size;
#endif

static _Atomic int next_vcpu_id;

void kaon_vcpu_opts_init(kaon_vcpu_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cpu = -1;
}

kaon_vcpu *kaon_vcpu_self(void)
{
	return kaon__tls_vcpu;
}

int kaon_vcpu_id(const kaon_vcpu *v)
{
	return v->id;
}

void *kaon_vcpu_engine_state(kaon_vcpu *v)
{
	return v->engine_state;
}

const kaon_engine_ops *kaon_vcpu_engine(kaon_vcpu *v)
{
	return v->engine;
}

static int vcpu_new(kaon_vcpu **out, const kaon_vcpu_opts *opts)
{
	kaon_vcpu_opts def;
	if (!opts) {
		kaon_vcpu_opts_init(&def);
		opts = &def;
	}
	if (opts->stack_size && opts->stack_size < KAON_STACK_MIN)
		return -EINVAL;
	if (opts->cpu >= CPU_SETSIZE || opts->cpu < -1)
		return -EINVAL;
	const kaon_engine_ops *e = opts->engine ? opts->engine : &kaon_engine_sleep;
	if (!e->poll || !e->init)
		return -EINVAL;
	kaon_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->stack_size = opts->stack_size ? opts->stack_size : KAON_STACK_DEFAULT;
#ifdef KAON_ASAN
	/* AddressSanitizer's redzones make frames several times larger. */
	v->stack_size *= 4;
#endif
	v->engine = e;
	v->cpu = opts->cpu;
	v->name = opts->name;
	v->id = atomic_fetch_add(&next_vcpu_id, 1);
	*out = v;
	return 0;
}

/* On the vcpu's own thread: pin, name, engine init. */
static int vcpu_enter(kaon_vcpu *v, void *engine_arg)
{
	if (v->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(v->cpu, &set);
		int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (rc)
			return -rc;
	}
	if (v->name)
		prctl(PR_SET_NAME, v->name, 0, 0, 0);
	/* Timers are meant to be precise to microseconds: no 50 us slack. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	int rc = kaon__stack_thread_init();
	if (rc < 0)
		return rc;
#ifdef KAON_ASAN
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		void *addr;
		size_t size;
		pthread_attr_getstack(&a, &addr, &size);
		kaon__asan_sched_bottom = addr;
		kaon__asan_sched_size = size;
		pthread_attr_destroy(&a);
	}
#endif
	kaon__tls_vcpu = v;
	rc = v->engine->init(&v->engine_state, v, engine_arg);
	if (rc < 0) {
		kaon__tls_vcpu = NULL;
		kaon__stack_thread_fini();
		return rc;
	}
	return 0;
}

static void vcpu_leave(kaon_vcpu *v)
{
	kaon__spin_lock(&v->wake_lock);
	kaon__spin_unlock(&v->wake_lock);
	if (v->engine->fini)
		v->engine->fini(v->engine_state);
	/* Joinable coroutines nobody joined, and the stack pool. */
	while (v->zombies) {
		kaon_co *co = v->zombies;
		v->zombies = co->next_live;
		kaon_stack s = co->stack;
		kaon__stack_free(&s);
	}
	while (v->pool) {
		kaon_co *co = v->pool;
		v->pool = co->next;
		kaon_stack s = co->stack;
		kaon__stack_free(&s);
	}
	v->pool_n = 0;
	kaon__timer_heap_fini(&v->timers);
	kaon__stack_thread_fini();
	kaon__tls_vcpu = NULL;
}

static void drain_remote(kaon_vcpu *v)
{
	if (!atomic_load_explicit(&v->remote.head, memory_order_relaxed))
		return;
	kaon_co *list = atomic_exchange_explicit(&v->remote.head, NULL, memory_order_acquire);
	/* The stack gives newest first: reverse to keep wake-up order. */
	kaon_co *rev = NULL;
	while (list) {
		kaon_co *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		kaon_co *n = rev->next;
		if (rev->free_home) { /* joined on another vcpu */
			kaon__co_bury(v, rev);
			rev = n;
			continue;
		}
		if (rev->prev_live == rev) /* started from another thread */
			kaon__co_adopt(v, rev);
		kaon__runq_push(v, rev);
		rev = n;
	}
}

/* Interrupt every live coroutine not interrupted yet (once each). */
static void cancel_all(kaon_vcpu *v)
{
	for (kaon_co *co = v->live_list; co; co = co->next_live) {
		if (!co->cancelled) {
			co->cancelled = 1;
			kaon_interrupt(co, ECANCELED);
		}
	}
}

static int vcpu_loop(kaon_vcpu *v)
{
	const kaon_engine_ops *e = v->engine;
	for (;;) {
		drain_remote(v);
		/* The clock is read only when someone needs it. */
		int64_t now = 0;
		if (v->timers.n || e->busy_poll) {
			now = kaon_now();
			kaon__timer_run(&v->timers, now);
		}

		if (v->runq_head) {
			v->budget = BATCH;
			kaon_co *co = kaon__runq_pop(v);
			v->current = co;
			kaon__switch(&v->sched_sp, co, co->sp, 0);
			kaon__after_switch(v);
			if (e->busy_poll || v->runq_head) {
				if (!now)
					now = kaon_now(); /* engines may use it as a clock */
				int rc = e->poll(v->engine_state, now, now);
				if (rc < 0)
					return rc;
			}
			continue;
		}

		if (atomic_load(&v->stop)) {
			if (!v->live_list && atomic_load(&v->incoming) == 0 &&
			    !atomic_load_explicit(&v->remote.head, memory_order_relaxed))
				return 0;
			cancel_all(v);
			if (v->runq_head)
				continue;
		}

		int64_t deadline = kaon__timer_next(&v->timers);
		if (!now)
			now = kaon_now();
		if (e->busy_poll) {
			/* Nothing ready: a busy engine may nap until the next
			 * timer (its idle_sleep), but has no wake() to cut it. */
			int rc = e->poll(v->engine_state, now, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		atomic_store(&v->sleeping, 1);
		/* The store above must be visible before the load below (a
		 * Dekker pair with kaon__co_ready's push, then its look at
		 * `sleeping`). seq_cst store and load already say so in C11,
		 * and aarch64's stlr/ldar honour it, but qemu-user on an x86
		 * host translates stlr;ldar without a barrier between them:
		 * both vcpus of test_core_sync went to sleep for ever there
		 * (1 run in 10-30). A full fence on the idle path, right before
		 * a poll syscall, costs nothing that matters. */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load(&v->remote.head)) {
			atomic_store(&v->sleeping, 0);
			continue;
		}
		int rc = e->poll(v->engine_state, now, deadline);
		atomic_store(&v->sleeping, 0);
		if (rc < 0)
			return rc;
	}
}

static void report_engine_error(kaon_vcpu *v, int rc)
{
	fprintf(stderr, "kaon: vcpu %d: engine %s failed: %s; stopping\n", v->id,
		v->engine->name ? v->engine->name : "?", strerror(-rc));
}

/* ------------------------------------------------------ kaon_run (caller) */

struct run_main {
	kaon_fn fn;
	void *arg;
};

static void *run_main(void *p)
{
	struct run_main *m = p;
	void *r = m->fn(m->arg);
	kaon_vcpu *v = kaon__tls_vcpu;
	atomic_store(&v->stop, 1);
	return r;
}

int kaon_run(const kaon_vcpu_opts *opts, kaon_fn main, void *arg, void **result)
{
	if (!main)
		return -EINVAL;
	if (kaon__tls_vcpu)
		return -EBUSY;
	kaon_vcpu *v;
	int rc = vcpu_new(&v, opts);
	if (rc < 0)
		return rc;
	v->thread = pthread_self();
	rc = vcpu_enter(v, opts ? opts->engine_arg : NULL);
	if (rc < 0) {
		free(v);
		return rc;
	}
	struct run_main m = { main, arg };
	kaon_co *co;
	kaon_co_opts co_opts;
	kaon_co_opts_init(&co_opts);
	co_opts.name = "main";
	rc = kaon_go(&co, &co_opts, run_main, &m);
	if (rc == 0) {
		int lr = vcpu_loop(v);
		if (lr < 0) {
			report_engine_error(v, lr);
			rc = lr;
		} else if (result) {
			*result = co->result;
		}
	}
	vcpu_leave(v);
	free(v);
	return rc;
}

/* ---------------------------------------------- vcpus on their own thread */

struct start_args {
	kaon_vcpu *v;
	void *engine_arg;
	sem_t ready;
};

static void *vcpu_thread(void *p)
{
	struct start_args *a = p;
	kaon_vcpu *v = a->v;
	int rc = vcpu_enter(v, a->engine_arg);
	v->start_status = rc;
	sem_post(&a->ready); /* a is gone after this */
	if (rc < 0)
		return NULL;
	rc = vcpu_loop(v);
	if (rc < 0) {
		report_engine_error(v, rc);
		/* Keep the vcpu joinable: remote starts now fail with ESHUTDOWN. */
		atomic_store(&v->stop, 1);
	}
	vcpu_leave(v);
	return NULL;
}

int kaon_vcpu_start(kaon_vcpu **out, const kaon_vcpu_opts *opts)
{
	if (!out)
		return -EINVAL;
	kaon_vcpu *v;
	int rc = vcpu_new(&v, opts);
	if (rc < 0)
		return rc;
	v->own_thread = 1;
	struct start_args a = { .v = v, .engine_arg = opts ? opts->engine_arg : NULL };
	sem_init(&a.ready, 0, 0);
	rc = pthread_create(&v->thread, NULL, vcpu_thread, &a);
	if (rc) {
		sem_destroy(&a.ready);
		free(v);
		return -rc;
	}
	while (sem_wait(&a.ready) != 0)
		;
	sem_destroy(&a.ready);
	if (v->start_status < 0) {
		rc = v->start_status;
		pthread_join(v->thread, NULL);
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

int kaon_vcpu_stop(kaon_vcpu *v)
{
	if (!v || !v->own_thread)
		return -EINVAL;
	if (v == kaon__tls_vcpu)
		return -EDEADLK;
	/* Under wake_lock so the vcpu cannot tear its engine down between our
	 * store and our wake-up (it takes the lock before engine fini). */
	kaon__spin_lock(&v->wake_lock);
	atomic_store(&v->stop, 1);
	if (v->engine->wake)
		v->engine->wake(v->engine_state);
	kaon__spin_unlock(&v->wake_lock);
	pthread_join(v->thread, NULL);
	free(v);
	return 0;
}
