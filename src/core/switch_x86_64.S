/*
 * Context switch for x86_64 (System V ABI).
 *
 * void kaon__ctx_switch(void **save_sp, void *load_sp)
 *
 * Saves the callee-saved registers (rbx, rbp, r12-r15) and the two floating
 * point control words (MXCSR and the x87 control word, which the ABI also
 * says are callee-saved) on the current stack, stores the stack pointer in
 * *save_sp, then loads load_sp and restores the same set from there. The
 * signal mask is not touched: no system call.
 *
 * Loading a control word (ldmxcsr, fldcw) is slow, storing one is cheap, and
 * nearly always both sides hold the same words: so they are only loaded when
 * they differ from the current ones.
 *
 * Frame, from the saved stack pointer up:
 *   0: mxcsr (4 bytes) | x87 cw (2 bytes) | pad
 *   8: r15  16: r14  24: r13  32: r12  40: rbx  48: rbp  56: return address
 */
	.text
	.globl	kaon__ctx_switch
	.hidden	kaon__ctx_switch
	.type	kaon__ctx_switch, @function
	.p2align 4
kaon__ctx_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movl	(%rsp), %eax
	movzwl	4(%rsp), %ecx
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	cmpl	(%rsp), %eax
	jne	2f
1:	cmpw	4(%rsp), %cx
	jne	3f
4:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
2:	ldmxcsr	(%rsp)
	jmp	1b
3:	fldcw	4(%rsp)
	jmp	4b
	.size	kaon__ctx_switch, .-kaon__ctx_switch

/*
 * First code a new coroutine runs: kaon__ctx_init put the entry function in
 * r13 and its argument in r12. The entry function never returns.
 */
	.globl	kaon__ctx_entry
	.hidden	kaon__ctx_entry
	.type	kaon__ctx_entry, @function
	.p2align 4
kaon__ctx_entry:
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.size	kaon__ctx_entry, .-kaon__ctx_entry

	.section .note.GNU-stack,"",@progbits
