/* SPDX-License-Identifier: MIT */
/* Shared bits for cmocka tests. */
#ifndef KAON_TEST_UTIL_H
#define KAON_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kaon/co.h"
#include "kaon/engine.h"

/* Run @p body as the main coroutine of a fresh vcpu on this thread. */
static inline void *run_main(kaon_fn body, void *arg)
{
	void *res = (void *)(intptr_t)-1;
	assert_int_equal(kaon_run(NULL, body, arg, &res), 0);
	return res;
}

#define MS (1000000LL)
#define US (1000LL)

#endif
