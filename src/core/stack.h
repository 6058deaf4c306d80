/* SPDX-License-Identifier: MIT */
/*
 * Coroutine stacks.
 *
 * A guarded stack is its own mapping with a PROT_NONE page below it: an
 * overflow faults there, and the SIGSEGV handler names the coroutine. Each
 * guarded stack costs two kernel mappings, and the kernel caps a process at
 * vm.max_map_count (65530 by default), so only a budget of stacks (a quarter
 * of that cap) is guarded. Past the budget, stacks are carved from large
 * unguarded arenas (a handful of mappings for any number of stacks) and carry
 * a zeroed red zone at their low end, checked whenever the coroutine gives up the
 * CPU and when it exits. KAON_STACK_GUARD=always|never overrides the policy.
 */
#ifndef KAON_CORE_STACK_H
#define KAON_CORE_STACK_H

#include <stddef.h>
#include <stdint.h>

/* The lowest bytes of an unguarded stack are a red zone that must stay zero.
 * Zero, not a pattern: writing a pattern would cost a resident page per
 * stack, while reading untouched memory costs none. */
#define KAON_STACK_REDZONE 64

typedef struct kaon_stack {
	void *map;        /* what to munmap */
	size_t map_len;
	char *lo, *hi;    /* usable range */
	int guarded;
} kaon_stack;

/** Get a stack with at least @p usable bytes. @return 0 or -ENOMEM. */
int kaon__stack_alloc(kaon_stack *s, size_t usable);
/** Give a stack back to the system. */
void kaon__stack_free(kaon_stack *s);
/** Non-zero if an unguarded stack's canary was overwritten. */
static inline int kaon__stack_smashed(const kaon_stack *s)
{
	if (s->guarded)
		return 0;
	const uint64_t *w = (const uint64_t *)s->lo;
	uint64_t acc = 0;
	for (unsigned i = 0; i < KAON_STACK_REDZONE / 8; i++)
		acc |= w[i];
	return acc != 0;
}

/** Install the process-wide SIGSEGV handler (once) and give the calling
 *  thread an alternate signal stack. @return 0 or -errno. */
int kaon__stack_thread_init(void);
void kaon__stack_thread_fini(void);

/** Report an overflow of the running coroutine and abort (never returns). */
void kaon__stack_overflow_abort(const char *name, uint64_t id, size_t size)
	__attribute__((noreturn));

#endif
