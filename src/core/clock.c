/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "kaon/co.h"

int64_t kaon_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kaon_deadline_in(int64_t ns)
{
	int64_t now = kaon_now();
	if (ns <= 0)
		return now;
	return ns > KAON_FOREVER - now ? KAON_FOREVER : now + ns;
}
