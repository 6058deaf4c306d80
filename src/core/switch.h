/* SPDX-License-Identifier: MIT */
/* The one place that switches stacks, with AddressSanitizer told about it
 * (otherwise it reports false stack-buffer errors across coroutine stacks). */
#ifndef KAON_CORE_SWITCH_H
#define KAON_CORE_SWITCH_H

#include "core/ctx.h"
#include "core/sched.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KAON_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(KAON_ASAN)
#define KAON_ASAN 1
#endif

#ifdef KAON_ASAN
#include <sanitizer/common_interface_defs.h>
/* Bounds of the thread's own stack, for switches back to the scheduler. */
extern __thread const void *kaon__asan_sched_bottom;
extern __thread size_t kaon__asan_sched_size;
#endif

/* Switch from the context saved in *save to @p to (a coroutine, or the
 * scheduler when to == NULL). @p dying: the current stack is never resumed. */
static inline void kaon__switch(void **save, kaon_co *to, void *to_sp, int dying)
{
#ifdef KAON_ASAN
	void *fake = NULL;
	const void *bottom = to ? (const void *)to->stack.lo : kaon__asan_sched_bottom;
	size_t size = to ? (size_t)(to->stack.hi - to->stack.lo) : kaon__asan_sched_size;
	__sanitizer_start_switch_fiber(dying ? NULL : &fake, bottom, size);
	kaon__ctx_switch(save, to_sp);
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	(void)to;
	(void)dying;
	kaon__ctx_switch(save, to_sp);
#endif
}

#endif
