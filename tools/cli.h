/* SPDX-License-Identifier: MIT */
/* Flag parsing shared by the tools: a bad value is one message and exit 2. */
#ifndef KAON_TOOLS_CLI_H
#define KAON_TOOLS_CLI_H

#include <stdint.h>

#define CLI_MAX_CPUS 256

/* Print "PROG: MESSAGE" and a hint to run --help on stderr, exit 2. */
_Noreturn void cli_fail(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An integer in [min, max] or cli_fail. */
long long cli_int(const char *prog, const char *flag, const char *s, long long min,
		  long long max);

/* A number of seconds >= min, or cli_fail. */
double cli_seconds(const char *prog, const char *flag, const char *s, double min);

/* Raise the soft descriptor limit toward @p want (at most the hard limit),
 * so that thousands of connections work without ulimit games. */
void cli_raise_nofile(long want);

/* "0,2-3" into @p cpus (at most CLI_MAX_CPUS); returns the count, or cli_fail. */
int cli_cpu_list(const char *prog, const char *s, int *cpus);

/* --stack: epoll, uring (io_uring) or user; user needs a --config and a
 * kaon built with DPDK. @return 1 for user, 0 for a kernel stack, or cli_fail. */
int cli_stack(const char *prog, const char *stack, const char *config);

#endif
