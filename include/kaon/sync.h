/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/sync.h
 * Coroutine synchronisation: mutex, condition variable, semaphore, rwlock and
 * a bounded channel. All of them work between coroutines of the same vcpu
 * and of different vcpus, and every blocking call takes an absolute deadline.
 *
 * Objects are plain structs: initialise with the *_init call, release with
 * *_destroy once nobody waits on them. Waiters are served in FIFO order and
 * ownership is handed over directly, so a waiter cannot be starved by
 * newcomers.
 */
#ifndef KAON_SYNC_H
#define KAON_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "kaon/co.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Internal: an intrusive list of waiters guarded by a spinlock. */
struct kaon_waiter;
typedef struct kaon_waitq {
	struct kaon_waiter *head, *tail;
} kaon_waitq;

typedef struct kaon_mutex {
	int lock;         /* spinlock guarding the fields below */
	int locked;
	kaon_co *owner;
	kaon_waitq waiters;
} kaon_mutex;

/** @return 0. */
int kaon_mutex_init(kaon_mutex *m);
/** @return 0, or -EBUSY while locked or waited on. */
int kaon_mutex_destroy(kaon_mutex *m);
/**
 * Lock, waiting until @p deadline.
 * @return 0; -ETIMEDOUT; -err if interrupted; -EDEADLK if the caller holds it;
 *         -EPERM outside a coroutine.
 */
int kaon_mutex_lock(kaon_mutex *m, int64_t deadline);
/** @return 0, or -EBUSY if locked. Never blocks. */
int kaon_mutex_trylock(kaon_mutex *m);
/** @return 0, or -EPERM if the caller does not hold it. */
int kaon_mutex_unlock(kaon_mutex *m);

typedef struct kaon_cond {
	int lock;
	kaon_waitq waiters;
} kaon_cond;

/** @return 0. */
int kaon_cond_init(kaon_cond *c);
/** @return 0, or -EBUSY while waited on. */
int kaon_cond_destroy(kaon_cond *c);
/**
 * Atomically unlock @p m and wait for a signal; @p m is locked again before
 * returning, whatever the result.
 * @return 0 when signalled; -ETIMEDOUT; -err if interrupted; -EPERM if the
 *         caller does not hold @p m.
 */
int kaon_cond_wait(kaon_cond *c, kaon_mutex *m, int64_t deadline);
/** Wake one waiter. @return 0. */
int kaon_cond_signal(kaon_cond *c);
/** Wake all waiters. @return 0. */
int kaon_cond_broadcast(kaon_cond *c);

typedef struct kaon_sem {
	int lock;
	uint64_t count;
	kaon_waitq waiters;
} kaon_sem;

/** @return 0. */
int kaon_sem_init(kaon_sem *s, uint64_t count);
/** @return 0, or -EBUSY while waited on. */
int kaon_sem_destroy(kaon_sem *s);
/** Take one unit. @return 0; -ETIMEDOUT; -err if interrupted; -EPERM. */
int kaon_sem_wait(kaon_sem *s, int64_t deadline);
/** @return 0, or -EAGAIN when the count is 0. */
int kaon_sem_trywait(kaon_sem *s);
/** Give one unit (hands it to the first waiter if any). Any thread. @return 0,
 *  or -EOVERFLOW. */
int kaon_sem_post(kaon_sem *s);

typedef struct kaon_rwlock {
	int lock;
	int64_t readers;   /* > 0: readers inside; -1: a writer inside */
	kaon_waitq waiters;
} kaon_rwlock;

/** @return 0. */
int kaon_rwlock_init(kaon_rwlock *l);
/** @return 0, or -EBUSY while held or waited on. */
int kaon_rwlock_destroy(kaon_rwlock *l);
/** Shared lock. A waiting writer blocks new readers. @return as mutex_lock. */
int kaon_rwlock_rdlock(kaon_rwlock *l, int64_t deadline);
/** Exclusive lock. @return as mutex_lock (no -EDEADLK detection). */
int kaon_rwlock_wrlock(kaon_rwlock *l, int64_t deadline);
/** Release a shared or exclusive hold. @return 0, or -EPERM when not held. */
int kaon_rwlock_unlock(kaon_rwlock *l);

typedef struct kaon_chan {
	int lock;
	int closed;
	size_t elem_size, cap, head, count;
	unsigned char *buf;
	kaon_waitq senders, receivers;
} kaon_chan;

/**
 * A channel of @p cap elements of @p elem_size bytes each. cap 0 is a
 * rendezvous: a send waits for a receiver.
 * @return 0; -EINVAL (elem_size 0); -ENOMEM.
 */
int kaon_chan_init(kaon_chan *ch, size_t elem_size, size_t cap);
/** Free the buffer. @return 0, or -EBUSY while waited on. */
int kaon_chan_destroy(kaon_chan *ch);
/**
 * Send one element (copied from @p elem).
 * @return 0; -EPIPE when closed; -ETIMEDOUT; -err if interrupted; -EPERM.
 */
int kaon_chan_send(kaon_chan *ch, const void *elem, int64_t deadline);
/**
 * Receive one element into @p elem. Elements sent before close are still
 * delivered.
 * @return 0; -EPIPE when closed and empty; -ETIMEDOUT; -err; -EPERM.
 */
int kaon_chan_recv(kaon_chan *ch, void *elem, int64_t deadline);
/** Close: waiting senders and (once empty) receivers get -EPIPE. @return 0,
 *  or -EPIPE if already closed. Any thread. */
int kaon_chan_close(kaon_chan *ch);

#ifdef __cplusplus
}
#endif
#endif /* KAON_SYNC_H */
