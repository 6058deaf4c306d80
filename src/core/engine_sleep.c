/* SPDX-License-Identifier: MIT */
/* The simplest engine: no I/O, it only sleeps until the next timer, and an
 * eventfd lets other threads cut the sleep short. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "kaon/engine.h"

struct sleep_engine {
	int efd;
};

static int sleep_init(void **state, kaon_vcpu *v, void *arg)
{
	(void)v;
	(void)arg;
	struct sleep_engine *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		int e = errno;
		free(s);
		return -e;
	}
	*state = s;
	return 0;
}

static int sleep_poll(void *state, int64_t now, int64_t deadline)
{
	struct sleep_engine *s = state;
	if (deadline <= now)
		return 0;
	struct pollfd p = { .fd = s->efd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	if (deadline != KAON_FOREVER) {
		int64_t d = deadline - now;
		ts.tv_sec = d / 1000000000;
		ts.tv_nsec = d % 1000000000;
		tsp = &ts;
	}
	int rc = ppoll(&p, 1, tsp, NULL);
	if (rc < 0 && errno != EINTR)
		return -errno;
	if (rc > 0) {
		uint64_t x;
		ssize_t r = read(s->efd, &x, sizeof(x));
		(void)r;
	}
	return 0;
}

static void sleep_wake(void *state)
{
	struct sleep_engine *s = state;
	uint64_t one = 1;
	ssize_t r = write(s->efd, &one, sizeof(one));
	(void)r;
}

static void sleep_fini(void *state)
{
	struct sleep_engine *s = state;
	close(s->efd);
	free(s);
}

const kaon_engine_ops kaon_engine_sleep = {
	.name = "sleep",
	.busy_poll = false,
	.init = sleep_init,
	.poll = sleep_poll,
	.wake = sleep_wake,
	.fini = sleep_fini,
};
