/*
 * Context switch for aarch64 (AAPCS64).
 *
 * void kaon__ctx_switch(void **save_sp, void *load_sp)
 *
 * Saves the callee-saved registers x19-x28, the frame pointer x29, the link
 * register x30, the low halves d8-d15 of v8-v15 and the FPCR (rounding and
 * trap control) on the current stack, stores sp in *save_sp, then loads
 * load_sp and restores the same set. No system call.
 *
 * Frame (176 bytes, 16-byte aligned), from the saved sp up:
 *   0: x19 x20  16: x21 x22  32: x23 x24  48: x25 x26  64: x27 x28
 *  80: x29 x30  96: d8 d9  112: d10 d11  128: d12 d13  144: d14 d15
 * 160: fpcr     168: pad
 */
	.text
	.globl	kaon__ctx_switch
	.hidden	kaon__ctx_switch
	.type	kaon__ctx_switch, %function
	.p2align 4
kaon__ctx_switch:
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	ret
	.size	kaon__ctx_switch, .-kaon__ctx_switch

/* First code a new coroutine runs: entry function in x20, argument in x19. */
	.globl	kaon__ctx_entry
	.hidden	kaon__ctx_entry
	.type	kaon__ctx_entry, %function
	.p2align 4
kaon__ctx_entry:
	mov	x0, x19
	blr	x20
	brk	#0
	.size	kaon__ctx_entry, .-kaon__ctx_entry

	.section .note.GNU-stack,"",%progbits
