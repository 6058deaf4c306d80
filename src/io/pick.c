/* SPDX-License-Identifier: MIT */
/* Engine selection by name or $KAON_ENGINE, with the io_uring fallback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/backend.h"
#include "kaon/io.h"

#ifndef KAON_HAVE_URING
static int no_uring_init(void **state, kaon_vcpu *v, void *arg)
{
	(void)state;
	(void)v;
	(void)arg;
	return -ENOSYS;
}

static int no_uring_poll(void *state, int64_t now, int64_t deadline)
{
	(void)state;
	(void)now;
	(void)deadline;
	return -ENOSYS;
}

static void no_uring_wake(void *state)
{
	(void)state;
}

static void no_uring_fini(void *state)
{
	(void)state;
}

const kaon_engine_ops kaon_engine_uring = {
	.name = "uring",
	.init = no_uring_init,
	.poll = no_uring_poll,
	.wake = no_uring_wake,
	.fini = no_uring_fini,
};
#endif

/* 0 when a ring can be set up here, else -errno (probed once per process). */
static int uring_usable(void)
{
#ifdef KAON_HAVE_URING
	static int probed = 1; /* 1: not yet */
	if (probed == 1)
		probed = kaon__uring_probe();
	return probed;
#else
	return -ENOSYS;
#endif
}

const kaon_engine_ops *kaon_io_engine_pick(const char *name)
{
	if (!name || !*name) {
		name = getenv("KAON_ENGINE");
		if (!name || !*name)
			name = "epoll";
	}
	if (!strcmp(name, "epoll"))
		return &kaon_engine_epoll;
	if (!strcmp(name, "uring") || !strcmp(name, "io_uring")) {
		int r = uring_usable();
		if (r == 0)
			return &kaon_engine_uring;
		fprintf(stderr, "kaon: io_uring unavailable (%s), using epoll\n",
			r == -ENOSYS ? "built without liburing" : strerror(-r));
		return &kaon_engine_epoll;
	}
	return NULL;
}
