/* SPDX-License-Identifier: MIT */
/* Machine context: the assembly switch and the initial frame of a coroutine. */
#ifndef KAON_CORE_CTX_H
#define KAON_CORE_CTX_H

#include <stdint.h>
#include <string.h>

/* Save callee-saved state on the current stack, store sp in *save_sp, switch
 * to load_sp and restore from there (switch_<arch>.S). */
void kaon__ctx_switch(void **save_sp, void *load_sp);
void kaon__ctx_entry(void);

/*
 * Build the first frame of a coroutine below @p top (16-byte aligned) so that
 * switching to the returned sp calls entry(arg) on that stack.
 */
static inline void *kaon__ctx_init(void *top, void (*entry)(void *), void *arg)
{
#if defined(__x86_64__)
	/* 8 slots: fp control, r15 r14 r13 r12 rbx rbp, return address. After
	 * the final ret, rsp == top, 16-byte aligned, as a call expects. */
	uint64_t *sp = (uint64_t *)top - 8;
	sp[0] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* MXCSR, x87 CW defaults */
	sp[1] = sp[2] = sp[5] = sp[6] = 0;           /* r15 r14 rbx rbp */
	sp[3] = (uint64_t)(uintptr_t)entry;           /* r13 */
	sp[4] = (uint64_t)(uintptr_t)arg;             /* r12 */
	sp[7] = (uint64_t)(uintptr_t)kaon__ctx_entry; /* return address */
	return sp;
#elif defined(__aarch64__)
	uint64_t *sp = (uint64_t *)top - 22; /* 176 bytes */
	memset(sp, 0, 22 * sizeof(uint64_t));
	sp[0] = (uint64_t)(uintptr_t)arg;             /* x19 */
	sp[1] = (uint64_t)(uintptr_t)entry;           /* x20 */
	sp[11] = (uint64_t)(uintptr_t)kaon__ctx_entry; /* x30 */
	return sp;
#else
#error "kaon: no context switch for this architecture"
#endif
}

#endif
