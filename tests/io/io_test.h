/* SPDX-License-Identifier: MIT */
/* Tests that run once per kernel engine: the engine's name is argv[1]. */
#ifndef KAON_TESTS_IO_TEST_H
#define KAON_TESTS_IO_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kaon/io.h"
#include "test_util.h"

static const kaon_engine_ops *test_engine;

/* Pick the engine named by argv[1]; exit 77 (skipped) when it is not there. */
static inline void test_engine_setup(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "epoll";
	test_engine = kaon_io_engine_pick(name);
	if (!test_engine || strcmp(test_engine->name, name) != 0) {
		fprintf(stderr, "engine %s not available here: skipped\n", name);
		exit(77);
	}
}

/* Run @p body as the main coroutine of a vcpu on the test's engine. */
static inline void *run_engine(kaon_fn body, void *arg)
{
	kaon_vcpu_opts o;
	kaon_vcpu_opts_init(&o);
	o.engine = test_engine;
	void *res = (void *)(intptr_t)-1;
	assert_int_equal(kaon_run(&o, body, arg, &res), 0);
	return res;
}

/* Raise the soft descriptor limit to at least @p want (or the hard limit). */
static inline long raise_nofile(long want)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((long)rl.rlim_cur < want) {
		rl.rlim_cur = (long)rl.rlim_max < want ? rl.rlim_max : (rlim_t)want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

#endif
