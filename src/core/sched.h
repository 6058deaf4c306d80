/* SPDX-License-Identifier: MIT */
/* Internals shared by the core: the coroutine and vcpu structures. */
#ifndef KAON_CORE_SCHED_H
#define KAON_CORE_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/stack.h"
#include "core/timer.h"
#include "kaon/co.h"
#include "kaon/engine.h"

/* Park states (kaon_co.park). A waker moves PARKED_* to WOKEN with one CAS,
 * so exactly one of {waker, timer, interrupt} delivers the result. */
enum {
	CO_RUNNING = 0,       /* running, ready, or not blocked */
	CO_PARKED_INTR,       /* blocked, kaon_interrupt() may wake it */
	CO_PARKED_NOINTR,     /* blocked, interrupts stay pending */
	CO_WOKEN,             /* claimed by a waker, result on its way */
};

/* kaon_co.join_state: 0 while alive and not joined, the joiner's kaon_co *
 * while one waits, JOIN_DONE once finished. */
#define JOIN_DONE ((uintptr_t)1)

struct kaon_co {
	void *sp;                    /* saved stack pointer while switched out */
	kaon_vcpu *vcpu;             /* owner: the coroutine only runs there */
	struct kaon_co *next;        /* run queue / remote queue / pool link */
	struct kaon_co *prev_live, *next_live; /* vcpu's list of live coroutines */
	_Atomic int park;
	int park_result;
	_Atomic int pending_intr;    /* errno of an interrupt not yet delivered */
	kaon_timer timer;            /* park deadline */
	kaon_fn fn;
	void *arg, *result;
	_Atomic uintptr_t join_state;
	_Atomic int reaped;          /* the home vcpu is done with it */
	uint8_t detached, cancelled;
	uint8_t free_home;           /* on the remote queue to be freed at home */
	void **cls;                  /* coroutine-local values, lazily allocated */
	const char *name;
	uint64_t id;
	kaon_stack stack;
};

/* Treiber stack of coroutines made ready by other threads. The consumer
 * takes the whole list at once, so there is no ABA problem. */
typedef struct kaon_remoteq {
	_Atomic(kaon_co *) head;
} kaon_remoteq;

struct kaon_vcpu {
	/* Hot: touched on every switch. */
	kaon_co *current;            /* running coroutine, NULL in the scheduler */
	void *sched_sp;              /* the scheduler context's saved sp */
	kaon_co *runq_head, *runq_tail;
	int budget;                  /* direct switches left in this batch */
	kaon_co *exiting;            /* finished coroutine, being switched off its stack */
	kaon_co *pool;               /* stacks of stack_size, ready for reuse */
	size_t pool_n;
	size_t stack_size;
	kaon_timer_heap timers;

	/* Cross-thread. */
	kaon_remoteq remote;
	_Atomic int sleeping;        /* the engine may be blocked in poll() */
	_Atomic int stop;            /* stop requested */
	_Atomic int64_t incoming;    /* started by other threads, not adopted yet */
	uint64_t next_co_id;

	const kaon_engine_ops *engine;
	void *engine_state;
	kaon_co *live_list;          /* for cancelling at stop */
	kaon_co *zombies;            /* finished, joinable, not yet joined
				      * (linked through next_live/prev_live) */
	int id;
	int cpu;
	const char *name;
	pthread_t thread;
	int own_thread;              /* made by kaon_vcpu_start */
	int start_status;            /* engine init result for the starter */
	int wake_lock;               /* kaon_vcpu_stop's wake vs engine fini */
};

extern __thread kaon_vcpu *kaon__tls_vcpu __attribute__((tls_model("initial-exec")));

/* Make @p co ready on its vcpu (local run queue or remote queue + kick). */
void kaon__co_ready(kaon_co *co);
/* Take a coroutine off the CPU: switch to the next ready one in this batch or
 * back to the scheduler. Returns when @p self runs again. */
void kaon__co_suspend(kaon_vcpu *v, kaon_co *self);
/* Allocate and prepare a coroutine whose home is @p v. */
int kaon__co_create(kaon_vcpu *v, kaon_co **out, const kaon_co_opts *opts,
		    kaon_fn fn, void *arg);
/* Unlink a zombie from its (the calling) vcpu and free it. */
void kaon__co_bury(kaon_vcpu *v, kaon_co *co);
/* First time a coroutine is seen by its home vcpu (local or remote start). */
void kaon__co_adopt(kaon_vcpu *v, kaon_co *co);
/* Free a finished coroutine's stack (to the pool of the calling vcpu). */
void kaon__co_free(kaon_co *co);
/* Finish off a coroutine that left its stack for good (v->exiting). Every
 * place a switch returns to calls it. */
void kaon__after_switch(kaon_vcpu *v);
/* Parking in two steps, for waiters that register under a lock: begin marks
 * the coroutine parked (so a waker that finds it can claim it at once), the
 * caller drops its lock, end arms the deadline and switches away.
 * begin: 0, or -err (pending interrupt, deadline already past) and not
 * parked. end: the wake-up result. */
int kaon__park_begin(kaon_co *self, int64_t deadline, int intr);
int kaon__park_end(kaon_co *self, int64_t deadline);
/* Run CLS destructors of a finishing coroutine. */
void kaon__cls_run_destructors(kaon_co *co);

static inline void kaon__runq_push(kaon_vcpu *v, kaon_co *co)
{
	co->next = NULL;
	if (v->runq_tail)
		v->runq_tail->next = co;
	else
		v->runq_head = co;
	v->runq_tail = co;
}

static inline kaon_co *kaon__runq_pop(kaon_vcpu *v)
{
	kaon_co *co = v->runq_head;
	if (co) {
		v->runq_head = co->next;
		if (!v->runq_head)
			v->runq_tail = NULL;
	}
	return co;
}

#endif
