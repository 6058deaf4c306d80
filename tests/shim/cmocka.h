/* SPDX-License-Identifier: MIT */
/*
 * A small stand-in for the part of cmocka's API kaon's core tests use, for
 * cross builds where no cmocka library exists for the target (the aarch64
 * tests under qemu-user). Same macros, same output shape, same exit status:
 * the number of failed tests.
 */
#ifndef KAON_CMOCKA_SHIM_H
#define KAON_CMOCKA_SHIM_H

#include <stdint.h>
#include <string.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
	const char *name;
	CMUnitTestFunction test_func;
};

#define cmocka_unit_test(f) { #f, f }
#define cmocka_run_group_tests(tests, setup, teardown)                                    \
	kaon_shim_run(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

int kaon_shim_run(const char *group, const struct CMUnitTest *tests, size_t n,
		  CMFixtureFunction setup, CMFixtureFunction teardown);
void kaon_shim_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
void print_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define KAON_SHIM_CHECK(cond, ...)                                                         \
	do {                                                                                \
		if (!(cond))                                                                \
			kaon_shim_fail(__FILE__, __LINE__, __VA_ARGS__);                    \
	} while (0)

#define assert_true(c) KAON_SHIM_CHECK((c), "%s", #c)
#define assert_false(c) KAON_SHIM_CHECK(!(c), "!(%s)", #c)
#define assert_null(p) KAON_SHIM_CHECK((p) == NULL, "%s is not NULL", #p)
#define assert_non_null(p) KAON_SHIM_CHECK((p) != NULL, "%s is NULL", #p)
#define assert_int_equal(a, b)                                                             \
	do {                                                                                \
		uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                         \
		KAON_SHIM_CHECK(a_ == b_, "%#jx != %#jx", a_, b_);                          \
	} while (0)
#define assert_ptr_equal(a, b)                                                             \
	do {                                                                                \
		const void *a_ = (a), *b_ = (b);                                            \
		KAON_SHIM_CHECK(a_ == b_, "%p != %p", a_, b_);                              \
	} while (0)
#define assert_memory_equal(a, b, n)                                                       \
	KAON_SHIM_CHECK(memcmp((a), (b), (n)) == 0, "memory differs: %s, %s", #a, #b)
#define assert_string_equal(a, b)                                                          \
	KAON_SHIM_CHECK(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))
#define fail() kaon_shim_fail(__FILE__, __LINE__, "fail()")

#endif
