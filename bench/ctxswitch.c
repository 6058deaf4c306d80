/* SPDX-License-Identifier: MIT */
/*
 * ctxswitch: what a kaon coroutine costs.
 *
 *   - ns per switch: two coroutines yielding to each other, next to two
 *     ucontexts doing the same with swapcontext(), in the same run;
 *   - ns per create + join with pooled stacks;
 *   - bytes of memory per idle coroutine (8 KiB stacks), from the growth of
 *     the resident set while N of them are parked at once.
 *
 * Each timing is repeated; the median is reported with min and max.
 * Usage: ctxswitch [--json] [--coroutines N] [--rounds R]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "kaon/co.h"
#include "kaon/engine.h"

#define SWITCH_ITERS 2000000
#define CREATE_ITERS 200000

struct stat3 {
	double med, min, max;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static struct stat3 summarize(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	struct stat3 s = { v[n / 2], v[0], v[n - 1] };
	return s;
}

/* ------------------------------------------------------------ kaon side */

static void *yield_loop(void *arg)
{
	long n = (long)(intptr_t)arg;
	for (long i = 0; i < n; i++)
		kaon_yield();
	return NULL;
}

static double kaon_switch_ns(void)
{
	kaon_co *a, *b;
	kaon_go(&a, NULL, yield_loop, (void *)(intptr_t)SWITCH_ITERS);
	kaon_go(&b, NULL, yield_loop, (void *)(intptr_t)SWITCH_ITERS);
	int64_t t0 = kaon_now();
	kaon_join(a, KAON_FOREVER, NULL);
	kaon_join(b, KAON_FOREVER, NULL);
	int64_t t1 = kaon_now();
	/* Each yield is one switch to the other coroutine. */
	return (double)(t1 - t0) / (2.0 * SWITCH_ITERS);
}

static void *nothing(void *arg)
{
	return arg;
}

static double kaon_create_join_ns(void)
{
	kaon_co *co;
	int64_t t0 = kaon_now();
	for (int i = 0; i < CREATE_ITERS; i++) {
		kaon_go(&co, NULL, nothing, NULL);
		kaon_join(co, KAON_FOREVER, NULL);
	}
	return (double)(kaon_now() - t0) / CREATE_ITERS;
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static void *park_forever(void *arg)
{
	(void)arg;
	kaon_park(KAON_FOREVER);
	return NULL;
}

struct idle_result {
	long created;
	double bytes_per;
	int err;
};

static struct idle_result idle_coroutines(long n)
{
	struct idle_result r = { 0, 0, 0 };
	kaon_co **cos = calloc((size_t)n, sizeof(*cos));
	if (!cos) {
		r.err = ENOMEM;
		return r;
	}
	kaon_co_opts o;
	kaon_co_opts_init(&o);
	o.stack_size = 8 * 1024;
	long before = rss_bytes();
	for (long i = 0; i < n; i++) {
		int rc = kaon_go(&cos[i], &o, park_forever, NULL);
		if (rc < 0) {
			r.err = -rc;
			break;
		}
		r.created++;
	}
	kaon_yield(); /* every one of them runs once and parks */
	long after = rss_bytes();
	r.bytes_per = r.created ? (double)(after - before) / (double)r.created : 0;
	for (long i = 0; i < r.created; i++)
		kaon_interrupt(cos[i], ECANCELED);
	for (long i = 0; i < r.created; i++)
		kaon_join(cos[i], KAON_FOREVER, NULL);
	free(cos);
	return r;
}

/* -------------------------------------------------------- ucontext side */

static ucontext_t uc_main, uc_a, uc_b;
static volatile long uc_left;

static void uc_a_fn(void)
{
	while (uc_left > 0) {
		uc_left--;
		swapcontext(&uc_a, &uc_b);
	}
	swapcontext(&uc_a, &uc_main);
}

static void uc_b_fn(void)
{
	for (;;) {
		uc_left--;
		swapcontext(&uc_b, &uc_a);
	}
}

static double ucontext_switch_ns(void)
{
	static char sa[64 * 1024], sb[64 * 1024];
	getcontext(&uc_a);
	uc_a.uc_stack.ss_sp = sa;
	uc_a.uc_stack.ss_size = sizeof(sa);
	uc_a.uc_link = &uc_main;
	makecontext(&uc_a, uc_a_fn, 0);
	getcontext(&uc_b);
	uc_b.uc_stack.ss_sp = sb;
	uc_b.uc_stack.ss_size = sizeof(sb);
	uc_b.uc_link = &uc_main;
	makecontext(&uc_b, uc_b_fn, 0);
	long n = SWITCH_ITERS / 4; /* swapcontext is slow: fewer rounds */
	uc_left = 2 * n;
	int64_t t0 = kaon_now();
	swapcontext(&uc_main, &uc_a);
	int64_t t1 = kaon_now();
	return (double)(t1 - t0) / (2.0 * n);
}

/* ------------------------------------------------------------------ main */

struct opts {
	int json;
	long coroutines;
	int rounds;
};

struct results {
	struct stat3 sw, uc, cj;
	struct idle_result idle;
};

static void *bench_main(void *arg)
{
	struct opts *o = ((void **)arg)[0];
	struct results *res = ((void **)arg)[1];
	double sw[64], uc[64], cj[64];
	kaon_create_join_ns(); /* warm the stack pool and caches */
	kaon_switch_ns();
	/* Interleave the two so that machine noise hits both alike. */
	for (int i = 0; i < o->rounds; i++) {
		sw[i] = kaon_switch_ns();
		uc[i] = ucontext_switch_ns();
		cj[i] = kaon_create_join_ns();
	}
	res->sw = summarize(sw, o->rounds);
	res->uc = summarize(uc, o->rounds);
	res->cj = summarize(cj, o->rounds);
	if (o->coroutines > 0)
		res->idle = idle_coroutines(o->coroutines);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: ctxswitch [--json] [--coroutines N] [--rounds R (1-64)]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { 0, 1000000, 7 };
	for (int i = 1; i < argc; i++) {
		char *end;
		if (!strcmp(argv[i], "--json")) {
			o.json = 1;
		} else if (!strcmp(argv[i], "--coroutines") && i + 1 < argc) {
			o.coroutines = strtol(argv[++i], &end, 10);
			if (*end || o.coroutines < 0)
				usage();
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			o.rounds = (int)strtol(argv[++i], &end, 10);
			if (*end || o.rounds < 1 || o.rounds > 64)
				usage();
		} else {
			usage();
		}
	}
	struct results r;
	memset(&r, 0, sizeof(r));
	void *args[2] = { &o, &r };
	int rc = kaon_run(NULL, bench_main, args, NULL);
	if (rc < 0) {
		fprintf(stderr, "ctxswitch: kaon_run: %s\n", strerror(-rc));
		return 1;
	}
	kaon_stack_stats st;
	kaon_stack_stats_get(&st);
	double ratio = r.uc.med / r.sw.med;
	if (o.json) {
		printf("{\"switch_ns\": %.2f, \"switch_ns_min\": %.2f, \"switch_ns_max\": %.2f, "
		       "\"ucontext_switch_ns\": %.2f, \"ratio\": %.1f, "
		       "\"create_join_ns\": %.1f, \"create_join_ns_min\": %.1f, "
		       "\"create_join_ns_max\": %.1f, \"bytes_per_coroutine\": %.0f, "
		       "\"coroutines\": %ld, \"rounds\": %d}\n",
		       r.sw.med, r.sw.min, r.sw.max, r.uc.med, ratio, r.cj.med, r.cj.min,
		       r.cj.max, r.idle.bytes_per, r.idle.created, o.rounds);
	} else {
		printf("kaon ctxswitch (%d rounds, median [min..max])\n", o.rounds);
		printf("  switch            %7.2f ns  [%.2f..%.2f]\n", r.sw.med, r.sw.min, r.sw.max);
		printf("  swapcontext       %7.2f ns  [%.2f..%.2f]   ratio %.1fx\n", r.uc.med,
		       r.uc.min, r.uc.max, ratio);
		printf("  create + join     %7.1f ns  [%.1f..%.1f]\n", r.cj.med, r.cj.min, r.cj.max);
		printf("  idle coroutines   %ld alive at once, %.0f bytes each (8 KiB stacks)\n",
		       r.idle.created, r.idle.bytes_per);
	}
	if (r.idle.err) {
		fprintf(stderr, "ctxswitch: stopped after %ld coroutines: %s\n", r.idle.created,
			strerror(r.idle.err));
		return 1;
	}
	return 0;
}
