/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmocka.h"

static jmp_buf on_fail;

void kaon_shim_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	printf("[  ERROR   ] --- ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n[   LINE   ] --- %s:%d: error: Failure!\n", file, line);
	fflush(stdout);
	longjmp(on_fail, 1);
}

void print_message(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

int kaon_shim_run(const char *group, const struct CMUnitTest *tests, size_t n,
		  CMFixtureFunction setup, CMFixtureFunction teardown)
{
	void *state = NULL;
	volatile size_t failed = 0; /* survives the longjmp */
	(void)group;
	printf("[==========] Running %zu test(s).\n", n);
	if (setup && setup(&state) != 0) {
		printf("[  ERROR   ] group setup failed\n");
		return (int)n;
	}
	for (size_t i = 0; i < n; i++) {
		printf("[ RUN      ] %s\n", tests[i].name);
		fflush(stdout);
		if (setjmp(on_fail) == 0) {
			tests[i].test_func(&state);
			printf("[       OK ] %s\n", tests[i].name);
		} else {
			printf("[  FAILED  ] %s\n", tests[i].name);
			failed++;
		}
	}
	if (teardown)
		teardown(&state);
	printf("[==========] %zu test(s) run.\n", n);
	printf("[  PASSED  ] %zu test(s).\n", n - failed);
	if (failed)
		printf("[  FAILED  ] %zu test(s).\n", failed);
	return (int)failed;
}
