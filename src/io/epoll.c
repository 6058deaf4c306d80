/* SPDX-License-Identifier: MIT */
/*
 * The epoll engine. Each fd is registered once, edge-triggered, for both
 * directions, the first time a coroutine waits on it. Waiters are nodes on
 * the waiting coroutines' stacks, listed per fd; an event wakes the waiters
 * whose direction it concerns, and they retry their syscall. wake() from
 * another thread writes an eventfd that sits in the same epoll set.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/backend.h"
#include "kaon/io.h"

#define EP_EVENTS 256
#define EP_WAKE_TAG UINT64_MAX

struct ep_waiter {
	struct ep_waiter *next;
	kaon_co *co;
	unsigned events; /* 0 once unlinked by the engine */
};

struct ep_slot {
	struct ep_waiter *head;
	bool registered;
	/* Unread bytes may be there: cleared when a read drains the socket,
	 * set by the next EPOLLIN edge. Saves the recv that would say EAGAIN. */
	bool readable;
	bool stream; /* a short read means drained (not so for datagrams) */
	/* The peer shut its side, or the socket failed (RDHUP, HUP, ERR seen):
	 * no edge will ever come again, so a read never waits for one. The
	 * edge that said so may also have brought the last bytes, which a
	 * short read takes: the end of the stream must still be read. */
	bool ended;
};

struct ep {
	int epfd;
	int efd;
	atomic_int kicked;
	bool no_pwait2;
	struct ep_slot *slots;
	size_t nslots;
	struct epoll_event ev[EP_EVENTS];
};

static int ep_init(void **state, kaon_vcpu *v, void *arg)
{
	(void)v;
	(void)arg;
	struct ep *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->efd = -1;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		goto fail;
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->efd < 0)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_WAKE_TAG };
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->efd, &ev) < 0)
		goto fail;
	*state = e;
	return 0;
fail:;
	int err = -errno;
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->efd >= 0)
		close(e->efd);
	free(e);
	return err;
}

static void ep_fini(void *state)
{
	struct ep *e = state;
	close(e->efd);
	close(e->epfd);
	free(e->slots);
	free(e);
}

static void ep_wake(void *state)
{
	struct ep *e = state;
	if (!atomic_exchange_explicit(&e->kicked, 1, memory_order_acq_rel)) {
		uint64_t one = 1;
		ssize_t n = write(e->efd, &one, sizeof(one));
		(void)n; /* EAGAIN: the counter is already non-zero */
	}
}

/* Wake the waiters of @p s whose direction is in @p mask, with @p result. */
static int ep_wake_slot(struct ep_slot *s, unsigned mask, int result)
{
	int woken = 0;
	struct ep_waiter **pp = &s->head;
	while (*pp) {
		struct ep_waiter *w = *pp;
		if (w->events & mask) {
			*pp = w->next;
			w->events = 0;
			woken += kaon_unpark(w->co, result);
		} else {
			pp = &w->next;
		}
	}
	return woken;
}

static int ep_wait_events(struct ep *e, int64_t now, int64_t deadline)
{
	if (deadline <= now)
		return epoll_wait(e->epfd, e->ev, EP_EVENTS, 0);
	if (deadline == KAON_FOREVER)
		return epoll_wait(e->epfd, e->ev, EP_EVENTS, -1);
	int64_t ns = deadline - now;
	if (!e->no_pwait2) {
		struct timespec ts = { .tv_sec = ns / 1000000000,
				       .tv_nsec = ns % 1000000000 };
		int n = epoll_pwait2(e->epfd, e->ev, EP_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		e->no_pwait2 = true;
	}
	int64_t ms = (ns + 999999) / 1000000;
	return epoll_wait(e->epfd, e->ev, EP_EVENTS, ms > 1000000 ? 1000000 : (int)ms);
}

static int ep_poll(void *state, int64_t now, int64_t deadline)
{
	struct ep *e = state;
	int n = ep_wait_events(e, now, deadline);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int woken = 0;
	for (int i = 0; i < n; i++) {
		uint64_t tag = e->ev[i].data.u64;
		if (tag == EP_WAKE_TAG) {
			uint64_t cnt;
			ssize_t r = read(e->efd, &cnt, sizeof(cnt));
			(void)r;
			atomic_store_explicit(&e->kicked, 0, memory_order_release);
			continue;
		}
		if (tag >= e->nslots)
			continue;
		unsigned ev = e->ev[i].events, mask = 0;
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			mask |= KAON_IO_IN;
		if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			mask |= KAON_IO_OUT;
		unsigned result = ev & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP);
		if (mask & KAON_IO_IN)
			e->slots[tag].readable = true;
		if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			e->slots[tag].ended = true;
		woken += ep_wake_slot(&e->slots[tag], mask, result ? (int)result : 1);
	}
	return woken;
}

static int ep_grow(struct ep *e, int fd)
{
	size_t want = e->nslots ? e->nslots : 64;
	while (want <= (size_t)fd)
		want *= 2;
	struct ep_slot *s = realloc(e->slots, want * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + e->nslots, 0, (want - e->nslots) * sizeof(*s));
	for (size_t i = e->nslots; i < want; i++)
		s[i].readable = true; /* unknown: try first */
	e->slots = s;
	e->nslots = want;
	return 0;
}

static int ep_io_wait(void *state, int fd, unsigned events, int64_t deadline)
{
	struct ep *e = state;
	if (fd < 0)
		return -EBADF;
	struct ep_waiter w = { .co = kaon_self(), .events = events };
	if (!w.co)
		return -EPERM;
	if ((size_t)fd >= e->nslots) {
		int r = ep_grow(e, fd);
		if (r < 0)
			return r;
	}
	if (!e->slots[fd].registered) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			.data.u64 = (uint64_t)fd,
		};
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
			return -errno;
		int type = SOCK_STREAM;
		socklen_t tl = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
			type = SOCK_STREAM; /* pipes and the like */
		e->slots[fd].stream = type == SOCK_STREAM;
		e->slots[fd].registered = true;
	}
	w.next = e->slots[fd].head;
	e->slots[fd].head = &w;
	int r = kaon_park(deadline);
	if (w.events) { /* timed out or interrupted: still listed */
		struct ep_waiter **pp = &e->slots[fd].head;
		while (*pp && *pp != &w)
			pp = &(*pp)->next;
		if (*pp)
			*pp = w.next;
	}
	return r;
}

static void ep_forget(void *state, int fd)
{
	struct ep *e = state;
	if (fd < 0 || (size_t)fd >= e->nslots)
		return;
	ep_wake_slot(&e->slots[fd], ~0u, -ECANCELED);
	if (e->slots[fd].registered)
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
	e->slots[fd].registered = false;
	e->slots[fd].readable = true;
	e->slots[fd].ended = false;
}

/*
 * recv that skips the syscall when the last read drained the socket and no
 * EPOLLIN edge came since: it parks right away. Only registered stream fds
 * qualify (their edges are seen; a short read means drained), and only when
 * the caller may wait: with a deadline already past, always try.
 */
static ssize_t ep_io_recv(void *state, int fd, void *buf, size_t len, int flags,
			  int64_t deadline)
{
	struct ep *e = state;
	if (fd < 0)
		return -EBADF;
	for (;;) {
		bool known = (size_t)fd < e->nslots && e->slots[fd].registered &&
			     e->slots[fd].stream && !e->slots[fd].ended;
		if (!known || e->slots[fd].readable ||
		    (deadline != KAON_FOREVER && deadline <= kaon_now())) {
			ssize_t n = recv(fd, buf, len, flags | MSG_DONTWAIT);
			if (n >= 0) {
				if (known && (size_t)n < len && n > 0 && !(flags & MSG_PEEK))
					e->slots[fd].readable = false;
				return n;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -errno;
			if (errno != EINTR && (size_t)fd < e->nslots)
				e->slots[fd].readable = false;
		}
		int r = ep_io_wait(state, fd, KAON_IO_IN, deadline);
		if (r < 0)
			return r;
	}
}

const kaon_engine_ops kaon_engine_epoll = {
	.name = "epoll",
	.busy_poll = false,
	.init = ep_init,
	.poll = ep_poll,
	.wake = ep_wake,
	.fini = ep_fini,
};

const struct kaon_io_backend kaon__io_epoll = {
	.wait = ep_io_wait,
	.recv = ep_io_recv,
	.forget = ep_forget,
};
