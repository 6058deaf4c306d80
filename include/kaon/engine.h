/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/engine.h
 * The engine interface: what a vcpu calls at its idle point, and the
 * park/unpark calls an engine (or a sync primitive) uses to block and wake
 * coroutines.
 *
 * A vcpu loop pass is: take wake-ups posted by other threads, fire due
 * timers, run ready coroutines (a bounded batch), then call the engine's
 * poll(). When coroutines are ready, poll() gets deadline <= now and must not
 * block. When none is, it gets the next timer's deadline (or KAON_FOREVER) and
 * may block until then, or until another thread calls wake(). A busy-polling
 * engine (the user-space stack) does one pass over its device and returns,
 * and the vcpu calls it again; it gets the same deadlines, and may nap when
 * idle (never past the deadline), knowing that wake-ups from other threads
 * wait until it returns.
 */
#ifndef KAON_ENGINE_H
#define KAON_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "kaon/co.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kaon_engine_ops {
	/** Short name for messages ("sleep", "epoll", "uring", "dpdk"). */
	const char *name;

	/** Never blocks: the vcpu keeps calling poll() with deadline = now. */
	bool busy_poll;

	/**
	 * Set up the engine for vcpu @p v, on v's thread.
	 * @param state  receives the engine's private state.
	 * @param arg    kaon_vcpu_opts.engine_arg.
	 * @return 0 or -errno (the vcpu does not start).
	 */
	int (*init)(void **state, kaon_vcpu *v, void *arg);

	/**
	 * Handle pending events, waking the coroutines they concern with
	 * kaon_unpark(). Blocks at most until @p deadline (absolute, kaon_now()
	 * time): not at all when deadline <= now; until something happens or
	 * wake() is called when deadline is KAON_FOREVER.
	 * @return number of coroutines woken (>= 0), or -errno on a fatal
	 *         engine error (the vcpu prints it and stops).
	 */
	int (*poll)(void *state, int64_t now, int64_t deadline);

	/**
	 * Make a poll() blocked on the vcpu's thread return soon. Called from
	 * other threads; must be async-signal-safe in spirit: no locks held by
	 * poll(). May be NULL for busy-polling engines.
	 */
	void (*wake)(void *state);

	/** Release everything; called on the vcpu's thread after the last coroutine. */
	void (*fini)(void *state);
};

/** The engine that only sleeps until the next timer (or a wake-up). */
extern const kaon_engine_ops kaon_engine_sleep;

/** State returned by the vcpu's engine init (for engine-specific calls). */
void *kaon_vcpu_engine_state(kaon_vcpu *v);

/** The engine ops of vcpu @p v. */
const kaon_engine_ops *kaon_vcpu_engine(kaon_vcpu *v);

/* ------------------------------------------------------- park and unpark */

/**
 * Block the running coroutine until someone calls kaon_unpark() (or
 * kaon_claim() + kaon_wake()) on it, @p deadline passes, or it is
 * interrupted. Before calling, publish the coroutine (kaon_self()) wherever
 * the waker will find it.
 *
 * @return the result given to kaon_unpark()/kaon_wake(); -ETIMEDOUT; or -err
 *         from kaon_interrupt(). -EPERM outside a coroutine.
 */
int kaon_park(int64_t deadline);

/** As kaon_park(), but kaon_interrupt() does not wake it (kept pending). */
int kaon_park_uninterruptible(int64_t deadline);

/**
 * Wake a parked coroutine with @p result. Callable from any thread.
 * @return true if this call woke it; false if it was not parked or another
 *         wake-up (timer, interrupt, other waker) won.
 */
bool kaon_unpark(kaon_co *co, int result);

/**
 * First half of kaon_unpark(): take the right to wake @p co. While claimed,
 * the coroutine stays parked (its stack is stable: the waker may still write
 * into objects on it) until kaon_wake() is called. Any thread.
 * @return true if claimed; false as for kaon_unpark().
 */
bool kaon_claim(kaon_co *co);

/** Second half: make a claimed coroutine ready with @p result. Any thread. */
void kaon_wake(kaon_co *co, int result);

#ifdef __cplusplus
}
#endif
#endif /* KAON_ENGINE_H */
