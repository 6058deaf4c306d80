/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>

void cli_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(run %s --help for usage)\n", prog);
	exit(2);
}

long long cli_int(const char *prog, const char *flag, const char *s, long long min,
		  long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		cli_fail(prog, "%s: expected an integer from %lld to %lld, got '%s'", flag, min,
			 max, s);
	return v;
}

double cli_seconds(const char *prog, const char *flag, const char *s, double min)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min) || v > 1e6)
		cli_fail(prog, "%s: expected seconds >= %g, got '%s'", flag, min, s);
	return v;
}

int cli_cpu_list(const char *prog, const char *s, int *cpus)
{
	int n = 0;
	const char *p = s;
	for (;;) {
		char *end;
		long a = strtol(p, &end, 10), b;
		if (end == p || a < 0 || a > 4095)
			goto bad;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a || b > 4095)
				goto bad;
			p = end;
		}
		for (long c = a; c <= b; c++) {
			if (n == CLI_MAX_CPUS)
				goto bad;
			cpus[n++] = (int)c;
		}
		if (*p == '\0')
			return n;
		if (*p != ',')
			goto bad;
		p++;
	}
bad:
	cli_fail(prog, "--cpu: expected a CPU list like 1 or 0,2-3, got '%s'", s);
}

void cli_raise_nofile(long want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= (rlim_t)want)
		return;
	rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int cli_stack(const char *prog, const char *stack, const char *config)
{
	if (!strcmp(stack, "user")) {
#ifndef KAON_TOOLS_HAVE_USER
		cli_fail(prog, "--stack user: this kaon was built without DPDK");
#endif
		if (!config)
			cli_fail(prog, "--stack user needs --config FILE ([port0] and a [dpdk] device)");
		return 1;
	}
	if (strcmp(stack, "epoll") && strcmp(stack, "uring") && strcmp(stack, "io_uring"))
		cli_fail(prog, "--stack: expected epoll, uring or user, got '%s'", stack);
	return 0;
}
