/* SPDX-License-Identifier: MIT */
#include "core/stack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/sched.h"
#include "core/switch.h"

#ifdef KAON_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum { GUARD_AUTO, GUARD_ALWAYS, GUARD_NEVER };

#define ARENA_CHUNK (4u << 20) /* unguarded stacks are carved from 4 MiB chunks */
#define ALTSTACK_SIZE (64u * 1024)

static struct {
	pthread_once_t once;
	size_t page;
	int mode;
	uint64_t guard_budget;      /* guarded stacks allowed at once */
	_Atomic uint64_t guarded, unguarded;
	pthread_mutex_t arena_lock; /* bump allocator for unguarded stacks */
	char *arena_cur, *arena_end;
	int notice_printed;
	struct sigaction old_segv;
} g = {
	.once = PTHREAD_ONCE_INIT,
	.arena_lock = PTHREAD_MUTEX_INITIALIZER,
};

static void policy_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	g.page = pg > 0 ? (size_t)pg : 4096;
	g.mode = GUARD_AUTO;
	const char *env = getenv("KAON_STACK_GUARD");
	if (env && !strcmp(env, "always"))
		g.mode = GUARD_ALWAYS;
	else if (env && !strcmp(env, "never"))
		g.mode = GUARD_NEVER;
	uint64_t max_maps = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		unsigned long long v;
		if (fscanf(f, "%llu", &v) == 1 && v > 0)
			max_maps = v;
		fclose(f);
	}
	/* Two mappings per guarded stack, and half of the cap left for the
	 * rest of the process (libraries, DPDK, malloc arenas). */
	g.guard_budget = max_maps / 4;
}

/* Guard size: several pages, so that a frame larger than one page (a big
 * local buffer) still lands in the guard instead of jumping over it into a
 * neighbour. Same number of mappings as a one-page guard. */
#define GUARD_PAGES 4

static int alloc_guarded(kaon_stack *s, size_t usable)
{
	size_t guard = GUARD_PAGES * g.page;
	size_t len = usable + guard;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(m, guard, PROT_NONE) != 0) {
		munmap(m, len);
		return -ENOMEM;
	}
	s->map = m;
	s->map_len = len;
	s->lo = m + guard;
	s->hi = m + len;
	s->guarded = 1;
	atomic_fetch_add(&g.guarded, 1);
	return 0;
}

static int alloc_unguarded(kaon_stack *s, size_t usable)
{
	char *m;
	if (usable > ARENA_CHUNK / 4) {
		m = mmap(NULL, usable, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return -ENOMEM;
	} else {
		pthread_mutex_lock(&g.arena_lock);
		if ((size_t)(g.arena_end - g.arena_cur) < usable) {
			char *c = mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (c == MAP_FAILED) {
				pthread_mutex_unlock(&g.arena_lock);
				return -ENOMEM;
			}
			/* The tail of the old chunk stays unused: stacks are
			 * pooled, so this happens rarely. */
			g.arena_cur = c;
			g.arena_end = c + ARENA_CHUNK;
		}
		m = g.arena_cur;
		g.arena_cur += usable;
		pthread_mutex_unlock(&g.arena_lock);
	}
	s->map = m;
	s->map_len = usable;
	s->lo = m;
	s->hi = m + usable;
	s->guarded = 0;
	atomic_fetch_add(&g.unguarded, 1);
	return 0;
}

int kaon__stack_alloc(kaon_stack *s, size_t usable)
{
	pthread_once(&g.once, policy_init);
	usable = (usable + g.page - 1) & ~(g.page - 1);
	bool guard = g.mode == GUARD_ALWAYS ||
		     (g.mode == GUARD_AUTO && atomic_load(&g.guarded) < g.guard_budget);
	if (guard && alloc_guarded(s, usable) == 0)
		return 0;
	if (g.mode == GUARD_ALWAYS)
		return -ENOMEM;
	if (g.mode == GUARD_AUTO && !__atomic_exchange_n(&g.notice_printed, 1, __ATOMIC_RELAXED))
		fprintf(stderr,
			"kaon: %llu guarded stacks in use (a quarter of vm.max_map_count); "
			"further stacks come from unguarded arenas with a red-zone check\n",
			(unsigned long long)atomic_load(&g.guarded));
	return alloc_unguarded(s, usable);
}

void kaon__stack_free(kaon_stack *s)
{
#ifdef KAON_ASAN
	/* A coroutine dies switching away: the frames it dies in never return,
	 * and their red zones stay poisoned in ASan's shadow after the munmap.
	 * The next anonymous mapping at these addresses inherited them (io_uring's
	 * buffer ring was reported as a stack-buffer underflow in CI). */
	__asan_unpoison_memory_region(s->map, s->map_len);
#endif
	munmap(s->map, s->map_len);
	if (s->guarded)
		atomic_fetch_sub(&g.guarded, 1);
	else
		atomic_fetch_sub(&g.unguarded, 1);
}

void kaon_stack_stats_get(kaon_stack_stats *s)
{
	s->guarded = atomic_load(&g.guarded);
	s->unguarded = atomic_load(&g.unguarded);
	kaon_vcpu *v = kaon__tls_vcpu;
	s->pooled = v ? v->pool_n : 0;
}

/* ------------------------------------------------------ overflow reports */

static size_t fmt_u64(char *b, uint64_t v)
{
	char t[24];
	size_t n = 0, i = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		b[i++] = t[--n];
	return i;
}

/* Async-signal-safe: only write(2) and abort(). */
void kaon__stack_overflow_abort(const char *name, uint64_t id, size_t size)
{
	char msg[256];
	size_t n = 0;
	const char *p = "kaon: stack overflow in coroutine '";
	while (*p && n < 64)
		msg[n++] = *p++;
	for (p = name ? name : ""; *p && n < 160; p++)
		msg[n++] = *p;
	p = "' (id ";
	while (*p)
		msg[n++] = *p++;
	n += fmt_u64(msg + n, id);
	p = ", stack ";
	while (*p)
		msg[n++] = *p++;
	n += fmt_u64(msg + n, size);
	p = " bytes)\n";
	while (*p)
		msg[n++] = *p++;
	ssize_t w = write(STDERR_FILENO, msg, n);
	(void)w;
	abort();
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
	kaon_vcpu *v = kaon__tls_vcpu;
	kaon_co *co = v ? v->current : NULL;
	if (co && co->stack.guarded) {
		char *a = si->si_addr;
		char *guard = (char *)co->stack.map;
		if (a >= guard && a < co->stack.lo)
			kaon__stack_overflow_abort(co->name, co->id,
						   (size_t)(co->stack.hi - co->stack.lo));
	}
	/* Not ours: hand it to whoever was there before, or die as usual. */
	if (g.old_segv.sa_flags & SA_SIGINFO && g.old_segv.sa_sigaction) {
		g.old_segv.sa_sigaction(sig, si, uctx);
		return;
	}
	if (g.old_segv.sa_handler != SIG_DFL && g.old_segv.sa_handler != SIG_IGN &&
	    !(g.old_segv.sa_flags & SA_SIGINFO)) {
		g.old_segv.sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL); /* the faulting access repeats and kills us */
}

static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static void segv_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &g.old_segv);
}

static __thread void *altstack;

int kaon__stack_thread_init(void)
{
	pthread_once(&g.once, policy_init);
	pthread_once(&segv_once, segv_install);
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return 0; /* the thread already has one (sanitizers install theirs) */
	void *m = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	stack_t ss = { .ss_sp = m, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(m, ALTSTACK_SIZE);
		return -errno;
	}
	altstack = m;
	return 0;
}

void kaon__stack_thread_fini(void)
{
	if (!altstack)
		return;
	stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
	sigaltstack(&ss, NULL);
	munmap(altstack, ALTSTACK_SIZE);
	altstack = NULL;
}
