/* SPDX-License-Identifier: MIT */
/* A tiny test-and-test-and-set spinlock for the short critical sections of
 * the sync primitives (a handful of pointer updates, never a switch). */
#ifndef KAON_CORE_SPIN_H
#define KAON_CORE_SPIN_H

#include <stdatomic.h>

static inline void kaon__cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline void kaon__spin_lock(int *l)
{
	_Atomic int *a = (_Atomic int *)l;
	for (;;) {
		if (!atomic_exchange_explicit(a, 1, memory_order_acquire))
			return;
		while (atomic_load_explicit(a, memory_order_relaxed))
			kaon__cpu_relax();
	}
}

static inline void kaon__spin_unlock(int *l)
{
	atomic_store_explicit((_Atomic int *)l, 0, memory_order_release);
}

#endif
