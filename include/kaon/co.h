/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/co.h
 * Stackful coroutines and the per-thread scheduler (vcpu).
 *
 * A vcpu is one OS thread with its own run queue, timers and engine. A
 * coroutine belongs to the vcpu it was started on and only ever runs there.
 * Blocking calls take an absolute deadline in nanoseconds of kaon_now()
 * (KAON_FOREVER: no deadline; a deadline already past: do not block).
 *
 * Error contract: functions return 0 or a non-negative value on success and a
 * negative errno on failure. A blocking call that reaches its deadline returns
 * -ETIMEDOUT; one woken by kaon_interrupt(co, err) returns -err (-ECANCELED by
 * convention).
 */
#ifndef KAON_CO_H
#define KAON_CO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "No deadline". */
#define KAON_FOREVER INT64_MAX

typedef struct kaon_co kaon_co;
typedef struct kaon_vcpu kaon_vcpu;
typedef struct kaon_engine_ops kaon_engine_ops;

/** Body of a coroutine; its return value is handed to kaon_join(). */
typedef void *(*kaon_fn)(void *arg);

/** Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
int64_t kaon_now(void);

/** kaon_now() + ns, saturating at KAON_FOREVER. */
int64_t kaon_deadline_in(int64_t ns);

/* ------------------------------------------------------------------ vcpu */

typedef struct kaon_vcpu_opts {
	const char *name;               /**< thread name (debugging), may be NULL */
	int cpu;                        /**< pin the thread to this CPU; -1: no pinning */
	size_t stack_size;              /**< default coroutine stack; 0: KAON_STACK_DEFAULT */
	const kaon_engine_ops *engine;  /**< NULL: the sleep-only engine */
	void *engine_arg;               /**< passed to engine->init */
} kaon_vcpu_opts;

/** Default coroutine stack size (usable bytes, guard page not included). */
#define KAON_STACK_DEFAULT (64 * 1024)
/** Smallest accepted stack size. */
#define KAON_STACK_MIN (8 * 1024)

/** Fill @p o with defaults: no name, no pinning, default stack, sleep engine. */
void kaon_vcpu_opts_init(kaon_vcpu_opts *o);

/**
 * Turn the calling thread into a vcpu and run @p main(arg) as its first
 * coroutine. When @p main returns, every coroutine still alive on this vcpu is
 * interrupted with ECANCELED and waited for; then the vcpu is torn down.
 *
 * @param opts    vcpu options, NULL for defaults.
 * @param result  if not NULL, receives main's return value.
 * @return 0; -EINVAL for bad options; -EBUSY if this thread already is a vcpu;
 *         -ENOMEM; or the engine's init error.
 */
int kaon_run(const kaon_vcpu_opts *opts, kaon_fn main, void *arg, void **result);

/**
 * Start a vcpu on a new thread. It idles until coroutines are started on it
 * with kaon_go_on(). Callable from any thread.
 *
 * @return 0 and *out set; -EINVAL, -ENOMEM, -EAGAIN (no thread), or the
 *         engine's init error (reported from the new thread).
 */
int kaon_vcpu_start(kaon_vcpu **out, const kaon_vcpu_opts *opts);

/**
 * Stop a vcpu made by kaon_vcpu_start(): interrupt its coroutines with
 * ECANCELED, wait for them to finish, join the thread and free the vcpu.
 * Must not be called from the vcpu itself. Coroutines that finished but were
 * never joined are freed with it.
 *
 * @return 0, or -EDEADLK when called on the vcpu being stopped.
 */
int kaon_vcpu_stop(kaon_vcpu *v);

/** The vcpu of the calling thread, or NULL if it is not a vcpu. */
kaon_vcpu *kaon_vcpu_self(void);

/** Index of the vcpu (0, 1, ...; in creation order). */
int kaon_vcpu_id(const kaon_vcpu *v);

/* ------------------------------------------------------------ coroutines */

typedef struct kaon_co_opts {
	const char *name;    /**< shown in diagnostics (stack overflow); not copied */
	size_t stack_size;   /**< 0: the vcpu's default */
	int detached;        /**< non-zero: freed on exit, must not be joined */
} kaon_co_opts;

/** Fill @p o with defaults: no name, default stack, joinable. */
void kaon_co_opts_init(kaon_co_opts *o);

/**
 * Start fn(arg) as a coroutine on the calling vcpu. It runs after the caller
 * next blocks or yields.
 *
 * @param out  receives the handle (may be NULL only for detached coroutines).
 * @return 0; -EINVAL (bad options, or joinable without @p out); -ENOMEM (no
 *         stack); -EPERM when the calling thread is not a vcpu.
 */
int kaon_go(kaon_co **out, const kaon_co_opts *opts, kaon_fn fn, void *arg);

/**
 * Like kaon_go() but on vcpu @p v. Callable from any thread, vcpu or not.
 * @return as kaon_go(); -ESHUTDOWN when @p v is stopping.
 */
int kaon_go_on(kaon_vcpu *v, kaon_co **out, const kaon_co_opts *opts, kaon_fn fn,
	       void *arg);

/**
 * Wait until @p co has finished, then free it. Callable from a coroutine on
 * any vcpu. On -ETIMEDOUT or an interrupt the coroutine stays joinable.
 *
 * @param result  if not NULL, receives fn's return value.
 * @return 0; -ETIMEDOUT; -err if interrupted; -EDEADLK when joining itself;
 *         -EINVAL for a detached coroutine; -EPERM outside a coroutine.
 */
int kaon_join(kaon_co *co, int64_t deadline, void **result);

/**
 * Let the other ready coroutines of this vcpu run; return when this one is
 * scheduled again. Also lets the vcpu poll its engine and timers now and then.
 * @return 0; -EPERM outside a coroutine.
 */
int kaon_yield(void);

/**
 * Sleep until @p deadline.
 * @return 0 when the deadline was reached; -err if interrupted first.
 */
int kaon_sleep_until(int64_t deadline);

/**
 * Wake @p co from the blocking call it is in (or the next one it makes), which
 * then returns -err. Callable from any thread. One interrupt wakes one
 * blocking call: it is consumed when it is delivered.
 *
 * @param err  a positive errno value, usually ECANCELED.
 * @return 0; -EINVAL if err <= 0.
 */
int kaon_interrupt(kaon_co *co, int err);

/** The running coroutine, or NULL outside coroutines. */
kaon_co *kaon_self(void);

/** Name given at creation, or "" . */
const char *kaon_co_name(const kaon_co *co);

/** Unique id of the coroutine within the process (never 0). */
uint64_t kaon_co_id(const kaon_co *co);

/* ------------------------------------------------- coroutine-local storage */

/** Number of coroutine-local keys a process can create. */
#define KAON_CLS_KEYS 64

typedef int kaon_cls_key;

/**
 * Create a key. @p destructor (may be NULL) is called with the value when a
 * coroutine that set a non-NULL value finishes.
 * @return the key (>= 0), or -EAGAIN when all KAON_CLS_KEYS are used.
 */
int kaon_cls_key_create(void (*destructor)(void *));

/** Value of @p key for the running coroutine (NULL if unset or no coroutine). */
void *kaon_cls_get(kaon_cls_key key);

/**
 * Set the running coroutine's value for @p key.
 * @return 0; -EINVAL for a bad key; -EPERM outside a coroutine; -ENOMEM.
 */
int kaon_cls_set(kaon_cls_key key, void *value);

/* ------------------------------------------------------------- statistics */

typedef struct kaon_stack_stats {
	uint64_t guarded;     /**< stacks with a guard page (each costs mappings) */
	uint64_t unguarded;   /**< stacks from unguarded arenas (canary checked) */
	uint64_t pooled;      /**< stacks waiting for reuse in the calling vcpu's pool */
} kaon_stack_stats;

/** Stack counters: guarded and unguarded for the process, pooled for the
 *  calling vcpu (0 on other threads). */
void kaon_stack_stats_get(kaon_stack_stats *s);

#ifdef __cplusplus
}
#endif
#endif /* KAON_CO_H */
