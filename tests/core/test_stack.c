/* SPDX-License-Identifier: MIT */
/* Stack overflow is caught and named, guarded or not; stack accounting. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static int depth(int n)
{
	volatile char pad[512];
	memset((char *)pad, n, sizeof(pad));
	if (n == 0)
		return pad[3];
	return depth(n - 1) + pad[7];
}

static void *recurse(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)depth(1 << 20);
}

/* Deep but inside the stack: writes just above the red zone's reach. */
static void *overflow_body(void *arg)
{
	(void)arg;
	kaon_co *co;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.name = "deep-recursion";
	o.stack_size = 16 * 1024;
	kaon_go(&co, &o, recurse, NULL);
	kaon_join(co, KAON_FOREVER, NULL);
	return NULL;
}

/* Run overflow_body in a child with KAON_STACK_GUARD=@mode; return what it
 * wrote to stderr and how it died. */
static void run_child(const char *mode, char *err, size_t errlen, int *status)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		setenv("KAON_STACK_GUARD", mode, 1);
		kaon_run(NULL, overflow_body, NULL, NULL);
		_exit(0); /* not reached if the overflow is caught */
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < errlen && (r = read(p[0], err + n, errlen - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = 0;
	close(p[0]);
	waitpid(pid, status, 0);
}

static void t_guarded_overflow(void **s)
{
	(void)s;
	char err[4096];
	int st;
	run_child("always", err, sizeof(err), &st);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_non_null(strstr(err, "stack overflow in coroutine 'deep-recursion'"));
}

static void *shallow_overflow(void *arg)
{
	(void)arg;
	/* Scribble into the red zone from within the stack: what a frame that
	 * grew past the end would do, without running into a neighbour. */
	volatile char here;
	char *lo = (char *)&here;
	while (((uintptr_t)lo & 4095) != 0)
		lo--;
	/* The lowest page of a 16 KiB stack whose top we are near. The empty
	 * asm hides where the pointer came from, or the compiler would drop a
	 * store it can prove is out of bounds. */
	lo -= 12 * 1024;
	__asm__ __volatile__("" : "+r"(lo));
	memset(lo, 0x55, 64);
	kaon_yield(); /* the check runs when the coroutine gives up the CPU */
	return NULL;
}

static void *redzone_body(void *arg)
{
	(void)arg;
	kaon_co *co;
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.name = "scribbler";
	o.stack_size = 16 * 1024;
	kaon_go(&co, &o, shallow_overflow, NULL);
	kaon_join(co, KAON_FOREVER, NULL);
	return NULL;
}

static void t_unguarded_redzone(void **s)
{
	(void)s;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		setenv("KAON_STACK_GUARD", "never", 1);
		kaon_run(NULL, redzone_body, NULL, NULL);
		_exit(0);
	}
	close(p[1]);
	char err[4096];
	ssize_t n = read(p[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = 0;
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	assert_non_null(strstr(err, "stack overflow in coroutine 'scribbler'"));
}

static void *noop(void *arg)
{
	return arg;
}

static void *stats_body2(void *arg)
{
	(void)arg;
	kaon_co *co;
	kaon_go(&co, NULL, noop, NULL);
	kaon_join(co, KAON_FOREVER, NULL);
	kaon_stack_stats st;
	kaon_stack_stats_get(&st);
	assert_int_equal(st.pooled, 1); /* default-size stacks are reused */
	return NULL;
}

static void t_stats(void **s)
{
	(void)s;
	run_main(stats_body2, NULL);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TEST_ASAN)
#define TEST_ASAN 1
#endif

#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

static uintptr_t deep_frame, top_frame;

static __attribute__((noinline)) int deep(int n)
{
	volatile char buf[64]; /* a frame with ASan red zones */
	memset((char *)buf, n, sizeof(buf));
	deep_frame = (uintptr_t)buf;
	kaon_yield();
	return buf[n & 63];
}

static void *framed(void *arg)
{
	volatile char here[32];
	top_frame = (uintptr_t)here;
	here[0] = (char)deep((int)(intptr_t)arg);
	return (void *)(intptr_t)here[0];
}

/* A coroutine's stack given back to the system leaves no poison behind in
 * ASan's shadow: the frames a coroutine dies in (it switches away and never
 * returns) stayed poisoned, and the next anonymous mmap at those addresses
 * -- io_uring's buffer ring in CI -- was reported as a stack-buffer
 * underflow when written. */
static void *unpoison_body(void *arg)
{
	(void)arg;
	kaon_co_opts o = {.stack_size = 1u << 20}; /* not the vcpu's size: not pooled */
	kaon_co *co;
	assert_int_equal(kaon_go(&co, &o, framed, (void *)7), 0);
	kaon_join(co, KAON_FOREVER, NULL);
	uintptr_t lo = deep_frame & ~(uintptr_t)4095, hi = (top_frame | 4095) + 1;
	void *m = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED) /* the range went to someone else meanwhile */
		return NULL;
	assert_ptr_equal(m, (void *)lo);
	void *bad = __asan_region_is_poisoned(m, hi - lo);
	if (bad)
		fprintf(stderr, "poisoned at %p (range %#lx-%#lx)\n", bad, (unsigned long)lo,
			(unsigned long)hi);
	assert_null(bad);
	munmap(m, hi - lo);
	return NULL;
}

static void t_freed_stack_unpoisoned(void **s)
{
	(void)s;
	run_main(unpoison_body, NULL);
}
#else
static void t_freed_stack_unpoisoned(void **s)
{
	(void)s;
	fprintf(stderr, "t_freed_stack_unpoisoned: only an ASan build has shadow memory\n");
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_guarded_overflow),
		cmocka_unit_test(t_unguarded_redzone),
		cmocka_unit_test(t_stats),
		cmocka_unit_test(t_freed_stack_unpoisoned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
