/* SPDX-License-Identifier: MIT */
/*
 * The io_uring engine. A blocking call puts one SQE on the ring, tagged with
 * an operation record on the caller's stack, and parks; poll() submits the
 * batch of SQEs and reaps completions in one io_uring_enter, and each CQE
 * unparks its coroutine with the result. When a coroutine stops waiting early
 * (deadline, interrupt) it cancels its operation and waits for the CQE before
 * returning, so the kernel never touches a buffer the caller got back.
 * wake() from another thread writes an eventfd that has a read outstanding.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "io/backend.h"
#include "io/uring_impl.h"
#include "kaon/io.h"

#define UR_ENTRIES 1024
#define UR_CQ_ENTRIES 16384
/* kaon_io_sendfile splices through a pipe of this size: a 1 MiB file in 4
 * round trips. The sum over connections sending at once counts against
 * fs.pipe-user-pages-soft for unprivileged users (smaller then: fine). */
#define UR_PIPE_SIZE (256 * 1024)

struct ur_op {
	kaon_co *co;
	int fd;
	int res;
	bool done;
	bool woke; /* the completion ended the park (not a deadline or interrupt) */
};

static int ur_setup(struct io_uring *ring, bool *defer)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = UR_CQ_ENTRIES;
	int r = io_uring_queue_init_params(UR_ENTRIES, ring, &p);
	if (r == -EINVAL) { /* older kernel: no single issuer / deferred task run */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = UR_CQ_ENTRIES;
		r = io_uring_queue_init_params(UR_ENTRIES, ring, &p);
		*defer = false;
	} else {
		*defer = true;
	}
	return r;
}

int kaon__uring_probe(void)
{
	struct io_uring ring;
	bool defer;
	int r = ur_setup(&ring, &defer);
	if (r == 0)
		io_uring_queue_exit(&ring);
	return r;
}

/* An SQE, flushing the queue to the kernel when it is full; NULL if none. */
struct io_uring_sqe *kaon__ur_sqe(struct ur *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void ur_arm_wake(struct ur *u)
{
	struct io_uring_sqe *sqe = kaon__ur_sqe(u);
	u->wake_armed = sqe != NULL;
	if (!sqe)
		return;
	io_uring_prep_read(sqe, u->efd, &u->efd_buf, sizeof(u->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, UR_TAG_WAKE);
}

static int ur_init(void **state, kaon_vcpu *v, void *arg)
{
	(void)v;
	(void)arg;
	struct ur *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	int r = ur_setup(&u->ring, &u->defer_taskrun);
	if (r < 0) {
		free(u);
		return r;
	}
	u->efd = eventfd(0, EFD_CLOEXEC);
	if (u->efd < 0) {
		r = -errno;
		io_uring_queue_exit(&u->ring);
		free(u);
		return r;
	}
	ur_arm_wake(u);
	kaon__ur_rx_init(u);
	const char *sp = getenv("KAON_URING_SPLICE");
	u->splice = sp && *sp == '1';
	/* Fewer lookups per io_uring_enter; fine to go without. */
	io_uring_register_ring_fd(&u->ring);
	*state = u;
	return 0;
}

static void ur_fini(void *state)
{
	struct ur *u = state;
	for (int i = 0; i < u->npipes; i++) {
		close(u->pipes[i][0]);
		close(u->pipes[i][1]);
	}
	io_uring_queue_exit(&u->ring);
	kaon__ur_rx_fini(u);
	close(u->efd);
	free(u->inflight);
	free(u->drained);
	free(u);
}

static void ur_wake(void *state)
{
	struct ur *u = state;
	if (!atomic_exchange_explicit(&u->kicked, 1, memory_order_acq_rel)) {
		uint64_t one = 1;
		ssize_t n = write(u->efd, &one, sizeof(one));
		(void)n;
	}
}

int kaon__ur_reap(struct ur *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int woken = 0;
	bool rearm = false;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		seen++;
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		if (tag == UR_TAG_IGNORE)
			continue;
		if (tag == UR_TAG_WAKE) {
			atomic_store_explicit(&u->kicked, 0, memory_order_release);
			rearm = true;
			continue;
		}
		if (tag & UR_TAG_RX) {
			woken += kaon__ur_rx_cqe(u, cqe);
			continue;
		}
		struct ur_op *op = (struct ur_op *)(uintptr_t)tag;
		op->res = cqe->res;
		op->done = true;
		if ((size_t)op->fd < u->ninflight)
			u->inflight[op->fd]--;
		op->woke = kaon_unpark(op->co, cqe->res);
		woken += op->woke;
	}
	io_uring_cq_advance(&u->ring, seen);
	if (rearm || !u->wake_armed)
		ur_arm_wake(u);
	return woken;
}

static int ur_poll(void *state, int64_t now, int64_t deadline)
{
	struct ur *u = state;
	int r;
	if (deadline <= now) {
		r = io_uring_submit_and_get_events(&u->ring);
	} else if (io_uring_cq_ready(&u->ring)) {
		r = io_uring_submit(&u->ring);
	} else if (deadline == KAON_FOREVER) {
		r = io_uring_submit_and_wait(&u->ring, 1);
	} else {
		int64_t ns = deadline - now;
		struct __kernel_timespec ts = { .tv_sec = ns / 1000000000,
						.tv_nsec = ns % 1000000000 };
		struct io_uring_cqe *cqe;
		r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	}
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
		return r;
	return kaon__ur_reap(u);
}

int kaon__ur_count(struct ur *u, int fd)
{
	if ((size_t)fd >= u->ninflight) {
		size_t want = u->ninflight ? u->ninflight : 64;
		while (want <= (size_t)fd)
			want *= 2;
		uint32_t *n = realloc(u->inflight, want * sizeof(*n));
		if (!n)
			return -ENOMEM;
		u->inflight = n;
		uint8_t *d = realloc(u->drained, want);
		if (!d)
			return -ENOMEM;
		u->drained = d;
		memset(n + u->ninflight, 0, (want - u->ninflight) * sizeof(*n));
		memset(d + u->ninflight, 0, want - u->ninflight);
		u->ninflight = want;
	}
	u->inflight[fd]++;
	return 0;
}

/*
 * Run the operation prepared in @p sqe for the running coroutine: park until
 * its completion; on a deadline or an interrupt, cancel it and still wait for
 * its completion. A result that arrived anyway (bytes moved) wins over the
 * deadline or the interrupt, so no data is lost; an interrupt is then posted
 * again, for the coroutine's next blocking call.
 */
static int ur_run(struct ur *u, struct io_uring_sqe *sqe, int fd, int64_t deadline)
{
	struct ur_op op = { .co = kaon_self(), .fd = fd };
	int r = kaon__ur_count(u, fd);
	if (r < 0) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, UR_TAG_IGNORE);
		return r;
	}
	io_uring_sqe_set_data(sqe, &op);
	r = kaon_park(deadline);
	if (op.done && op.woke)
		return op.res;
	if (!op.done) {
		struct io_uring_sqe *c = kaon__ur_sqe(u);
		if (c) {
			io_uring_prep_cancel64(c, (uint64_t)(uintptr_t)&op, 0);
			io_uring_sqe_set_data64(c, UR_TAG_IGNORE);
		}
		while (!op.done)
			kaon_park_uninterruptible(KAON_FOREVER);
	}
	if (op.res == -ECANCELED || op.res == -EINTR)
		return r;
	if (r < 0 && r != -ETIMEDOUT)
		kaon_interrupt(op.co, -r);
	return op.res;
}

/* The SQE for a new operation of the running coroutine, or NULL. */
static struct io_uring_sqe *ur_begin(struct ur *u, int *err)
{
	if (!kaon_self()) {
		*err = -EPERM;
		return NULL;
	}
	struct io_uring_sqe *sqe = kaon__ur_sqe(u);
	if (!sqe)
		*err = -EBUSY;
	return sqe;
}

static int ur_io_wait(void *state, int fd, unsigned events, int64_t deadline)
{
	struct ur *u = state;
	/* Bytes the multishot recv has taken are no longer the socket's. */
	if ((events & KAON_IO_IN) && kaon__ur_rx_ready(u, fd))
		return KAON_IO_IN;
	int err;
	struct io_uring_sqe *sqe = ur_begin(u, &err);
	if (!sqe)
		return err;
	io_uring_prep_poll_add(sqe, fd, events);
	int r = ur_run(u, sqe, fd, deadline);
	return r == 0 ? 1 : r;
}

/*
 * Some kernels answer -EAGAIN instead of waiting when the file is
 * O_NONBLOCK: then wait for readiness with a poll request and retry.
 */
static ssize_t ur_io_recv(void *state, int fd, void *buf, size_t len, int flags,
			  int64_t deadline)
{
	struct ur *u = state;
	ssize_t got;
	if (kaon__ur_rx_recv(u, fd, buf, len, flags, deadline, &got))
		return got;
	for (;;) {
		int err;
		struct io_uring_sqe *sqe = ur_begin(u, &err);
		if (!sqe)
			return err;
		io_uring_prep_recv(sqe, fd, buf, len, flags);
		/* The last read drained the socket: the bytes are most likely not
		 * there yet, so wait for them before trying (saves a failed try). */
		if ((size_t)fd < u->ninflight && u->drained[fd])
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
		int r = ur_run(u, sqe, fd, deadline);
		if ((size_t)fd < u->ninflight && len && !(flags & MSG_PEEK))
			u->drained[fd] = r >= 0 && (size_t)r < len;
		if (r != -EAGAIN)
			return r;
		r = ur_io_wait(state, fd, KAON_IO_IN, deadline);
		if (r < 0)
			return r;
	}
}

static ssize_t ur_io_send(void *state, int fd, const void *buf, size_t len, int flags,
			  int64_t deadline)
{
	struct ur *u = state;
	for (;;) {
		int err;
		struct io_uring_sqe *sqe = ur_begin(u, &err);
		if (!sqe)
			return err;
		io_uring_prep_send(sqe, fd, buf, len, flags);
		int r = ur_run(u, sqe, fd, deadline);
		if (r != -EAGAIN)
			return r;
		r = ur_io_wait(state, fd, KAON_IO_OUT, deadline);
		if (r < 0)
			return r;
	}
}

static ssize_t ur_io_recvmsg(void *state, int fd, struct msghdr *msg, int flags,
			     int64_t deadline)
{
	struct ur *u = state;
	ssize_t got;
	if (kaon__ur_rx_recvmsg(u, fd, msg, flags, deadline, &got))
		return got;
	for (;;) {
		int err;
		struct io_uring_sqe *sqe = ur_begin(u, &err);
		if (!sqe)
			return err;
		io_uring_prep_recvmsg(sqe, fd, msg, (unsigned)flags);
		int r = ur_run(u, sqe, fd, deadline);
		if (r != -EAGAIN)
			return r;
		r = ur_io_wait(state, fd, KAON_IO_IN, deadline);
		if (r < 0)
			return r;
	}
}

static ssize_t ur_io_sendmsg(void *state, int fd, const struct msghdr *msg, int flags,
			     int64_t deadline)
{
	struct ur *u = state;
	for (;;) {
		int err;
		struct io_uring_sqe *sqe = ur_begin(u, &err);
		if (!sqe)
			return err;
		io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)flags);
		int r = ur_run(u, sqe, fd, deadline);
		if (r != -EAGAIN)
			return r;
		r = ur_io_wait(state, fd, KAON_IO_OUT, deadline);
		if (r < 0)
			return r;
	}
}

static int ur_io_accept(void *state, int fd, struct sockaddr *addr, socklen_t *addrlen,
			int64_t deadline)
{
	struct ur *u = state;
	for (;;) {
		int err;
		struct io_uring_sqe *sqe = ur_begin(u, &err);
		if (!sqe)
			return err;
		io_uring_prep_accept(sqe, fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int r = ur_run(u, sqe, fd, deadline);
		if (r == -ECONNABORTED)
			continue;
		if (r != -EAGAIN)
			return r;
		r = ur_io_wait(state, fd, KAON_IO_IN, deadline);
		if (r < 0)
			return r;
	}
}

/* An empty pipe from the pool, or a new one. @return its size or -errno. */
static int pipe_get(struct ur *u, int p[2])
{
	if (u->npipes) {
		u->npipes--;
		p[0] = u->pipes[u->npipes][0];
		p[1] = u->pipes[u->npipes][1];
	} else {
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -errno;
		(void)fcntl(p[1], F_SETPIPE_SZ, UR_PIPE_SIZE); /* best effort */
	}
	int sz = fcntl(p[1], F_GETPIPE_SZ);
	return sz > 0 ? sz : 4096;
}

/* Back to the pool if @p empty (else its bytes would go to the next
 * socket), closed otherwise. */
static void pipe_put(struct ur *u, int p[2], bool empty)
{
	if (empty && u->npipes < UR_PIPES) {
		u->pipes[u->npipes][0] = p[0];
		u->pipes[u->npipes][1] = p[1];
		u->npipes++;
		return;
	}
	close(p[0]);
	close(p[1]);
}

/* One splice on the ring for the running coroutine; its fd for cancelling
 * is the socket's, whichever end it is (kaon_io_close of the socket ends it). */
static int ur_splice(struct ur *u, int sock, int in, int64_t in_off, int out, size_t len,
		     int64_t deadline)
{
	int err;
	struct io_uring_sqe *sqe = ur_begin(u, &err);
	if (!sqe)
		return err;
	io_uring_prep_splice(sqe, in, in_off, out, -1, (unsigned)len, 0);
	return ur_run(u, sqe, sock, deadline);
}

/*
 * sendfile(2) as two splices on the ring: file to pipe (an io-wq worker
 * reads the page cache), then pipe to socket until the pipe is empty,
 * waiting for room on -EAGAIN (the socket is non-blocking). Bytes still in
 * the pipe after an error are lost with it: the caller ends the connection.
 * Only with KAON_URING_SPLICE=1: measured with wrk on the veth testbed,
 * 1 MiB files, it moved 0.86x nginx's bytes where sendfile(2) from the
 * vcpu's thread (below, the default) moved 1.21x (every splice is an
 * io-wq worker's, a hand-off each; sendfile on a page-cache file and a
 * non-blocking socket does not sleep). It is for files that may not be
 * cached, where sendfile(2) would stall the vcpu on the disk.
 */
static ssize_t ur_io_sendfile(void *state, int out_fd, int in_fd, off_t *off, size_t len,
			      int64_t deadline)
{
	struct ur *u = state;
	if (!kaon_self())
		return -EPERM;
	if (!u->splice) {
		for (;;) {
			ssize_t n = sendfile(out_fd, in_fd, off, len);
			if (n >= 0)
				return n;
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			int w = ur_io_wait(state, out_fd, KAON_IO_OUT, deadline);
			if (w < 0)
				return w;
		}
	}
	int p[2];
	int cap = pipe_get(u, p);
	if (cap < 0)
		return cap;
	size_t want = len < (size_t)cap ? len : (size_t)cap;
	int n = ur_splice(u, out_fd, in_fd, *off, p[1], want, deadline);
	if (n <= 0) {
		pipe_put(u, p, true);
		return n; /* 0: end of file */
	}
	size_t in_pipe = (size_t)n, sent = 0;
	while (in_pipe) {
		int w = ur_splice(u, out_fd, p[0], -1, out_fd, in_pipe, deadline);
		if (w == -EAGAIN) {
			w = ur_io_wait(state, out_fd, KAON_IO_OUT, deadline);
			if (w > 0)
				continue;
		}
		if (w <= 0) {
			pipe_put(u, p, false);
			*off += (off_t)sent;
			return sent ? (ssize_t)sent : (w ? w : -EPIPE);
		}
		in_pipe -= (size_t)w;
		sent += (size_t)w;
	}
	pipe_put(u, p, true);
	*off += (off_t)sent;
	return (ssize_t)sent;
}

static void ur_forget(void *state, int fd)
{
	struct ur *u = state;
	kaon__ur_rx_forget(u, fd);
	if (fd < 0 || (size_t)fd >= u->ninflight || !u->inflight[fd])
		return;
	/* Cancel now, while the fd still names the file: closing it would not
	 * end operations the ring holds a reference for. */
	struct io_uring_sqe *sqe = kaon__ur_sqe(u);
	if (!sqe)
		return;
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, UR_TAG_IGNORE);
	io_uring_submit(&u->ring);
}

const kaon_engine_ops kaon_engine_uring = {
	.name = "uring",
	.busy_poll = false,
	.init = ur_init,
	.poll = ur_poll,
	.wake = ur_wake,
	.fini = ur_fini,
};

const struct kaon_io_backend kaon__io_uring = {
	.wait = ur_io_wait,
	.recv = ur_io_recv,
	.send = ur_io_send,
	.recvmsg = ur_io_recvmsg,
	.sendmsg = ur_io_sendmsg,
	.accept = ur_io_accept,
	.sendfile = ur_io_sendfile,
	.forget = ur_forget,
};
