/* SPDX-License-Identifier: MIT */
/*
 * Multishot receive on the io_uring engine. Once a stream socket's reader
 * has drained it (a short read: request/response traffic), one multishot
 * recv stays armed on it: the kernel puts each arrival into a buffer of the
 * vcpu's provided buffer ring and posts a CQE; the engine queues the buffer
 * on the socket and wakes its readers, who copy out and give the buffer
 * back. Per request that saves the SQE, the poll arming and disarming and
 * the submission of a recv. A socket's first reads, and every read while the
 * ring is dry, stay one recv per call into the caller's buffer (uring.c).
 *
 * Needs a kernel with provided buffer rings and multishot recv (6.0) and
 * deferred task running (6.1): that keeps every completion on this thread
 * inside io_uring_enter, so a direct recv(2) with a past deadline cannot
 * overtake bytes the kernel has already queued for us. Without them, or with
 * KAON_URING_MULTISHOT=0, the engine says so once and reads one call at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "io/uring_impl.h"
#include "kaon/io.h"

enum { RX_OFF, RX_ARMED, RX_ENDED };

struct rx_waiter {
	struct rx_waiter *next;
	kaon_co *co;
};

struct ur_rxq {
	struct rx_waiter *waiters;
	int fd;
	uint16_t gen;    /* bumped when the fd is closed: stale CQEs are told apart */
	uint8_t state;   /* RX_* */
	bool typed;      /* stream below is known for this gen */
	bool stream;
	int end;         /* RX_ENDED: 0 (end of stream) or -errno */
	int head, tail;  /* queued buffer ids, -1: none */
	uint32_t off;    /* bytes of the head buffer already read */
};

#define TAG_GEN_SHIFT 48
#define TAG_PTR_MASK ((UINT64_C(1) << TAG_GEN_SHIFT) - 1)

static uint64_t rxq_tag(const struct ur_rxq *q)
{
	return (uint64_t)(uintptr_t)q | UR_TAG_RX | ((uint64_t)q->gen << TAG_GEN_SHIFT);
}

static void rx_say_off(const char *why)
{
	static atomic_int said;
	if (!atomic_exchange(&said, 1))
		fprintf(stderr, "kaon: io_uring: no multishot receive (%s): one recv per call\n",
			why);
}

void kaon__ur_rx_init(struct ur *u)
{
	struct ur_rx *rx = &u->rx;
	memset(rx, 0, sizeof(*rx));
	const char *env = getenv("KAON_URING_MULTISHOT");
	if (env && *env == '0')
		return; /* asked for: no message */
	if (!u->defer_taskrun) {
		rx_say_off("the kernel lacks IORING_SETUP_DEFER_TASKRUN, 6.1");
		return;
	}
	rx->br_bytes = UR_RX_BUFS * sizeof(struct io_uring_buf);
	void *br = mmap(NULL, rx->br_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED) {
		rx_say_off(strerror(errno));
		return;
	}
	rx->mem = aligned_alloc(4096, (size_t)UR_RX_BUFS * UR_RX_BUF_SIZE);
	if (!rx->mem) {
		munmap(br, rx->br_bytes);
		rx_say_off("out of memory");
		return;
	}
	rx->br = br;
	io_uring_buf_ring_init(rx->br);
	struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)br,
					.ring_entries = UR_RX_BUFS,
					.bgid = UR_RX_BGID };
	int r = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (r < 0) {
		rx_say_off(r == -EINVAL ? "the kernel lacks provided buffer rings, 5.19"
					: strerror(-r));
		free(rx->mem);
		munmap(br, rx->br_bytes);
		rx->mem = NULL;
		rx->br = NULL;
		return;
	}
	int mask = io_uring_buf_ring_mask(UR_RX_BUFS);
	for (int i = 0; i < UR_RX_BUFS; i++)
		io_uring_buf_ring_add(rx->br, rx->mem + (size_t)i * UR_RX_BUF_SIZE,
				      UR_RX_BUF_SIZE, (unsigned short)i, mask, i);
	io_uring_buf_ring_advance(rx->br, UR_RX_BUFS);
	rx->on = true;
}

void kaon__ur_rx_fini(struct ur *u)
{
	struct ur_rx *rx = &u->rx;
	for (size_t i = 0; i < rx->nq; i++)
		free(rx->q[i]);
	free(rx->q);
	if (rx->br) {
		/* The ring is torn down right after: it drops the registration. */
		munmap(rx->br, rx->br_bytes);
		free(rx->mem);
	}
	memset(rx, 0, sizeof(*rx));
}

/* Give buffer @p bid back to the kernel. */
static void buf_put(struct ur_rx *rx, int bid)
{
	io_uring_buf_ring_add(rx->br, rx->mem + (size_t)bid * UR_RX_BUF_SIZE, UR_RX_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(UR_RX_BUFS), 0);
	io_uring_buf_ring_advance(rx->br, 1);
}

static void q_drop_bufs(struct ur_rx *rx, struct ur_rxq *q)
{
	while (q->head >= 0) {
		int b = q->head;
		q->head = rx->next[b];
		buf_put(rx, b);
		rx->held--;
	}
	q->tail = -1;
	q->off = 0;
}

/* The queue of @p fd, created on first use; NULL without memory. */
static struct ur_rxq *q_get(struct ur_rx *rx, int fd)
{
	if ((size_t)fd >= rx->nq) {
		size_t want = rx->nq ? rx->nq : 64;
		while (want <= (size_t)fd)
			want *= 2;
		struct ur_rxq **n = realloc(rx->q, want * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + rx->nq, 0, (want - rx->nq) * sizeof(*n));
		rx->q = n;
		rx->nq = want;
	}
	struct ur_rxq *q = rx->q[fd];
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return NULL;
		q->fd = fd;
		q->head = q->tail = -1;
		rx->q[fd] = q;
	}
	return q;
}

static struct ur_rxq *q_find(struct ur_rx *rx, int fd)
{
	return fd >= 0 && (size_t)fd < rx->nq ? rx->q[fd] : NULL;
}

int kaon__ur_rx_cqe(struct ur *u, const struct io_uring_cqe *cqe)
{
	struct ur_rx *rx = &u->rx;
	uint64_t tag = io_uring_cqe_get_data64(cqe);
	struct ur_rxq *q = (struct ur_rxq *)(uintptr_t)(tag & TAG_PTR_MASK & ~(uint64_t)3);
	uint16_t gen = (uint16_t)(tag >> TAG_GEN_SHIFT);
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;
	int bid = cqe->flags & IORING_CQE_F_BUFFER ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT)
						   : -1;
	if (!more && (size_t)q->fd < u->ninflight && u->inflight[q->fd])
		u->inflight[q->fd]--;
	if (bid >= UR_RX_BUFS)
		bid = -1; /* not ours: cannot happen with our one group */
	if (gen != q->gen) { /* the fd was closed since: nobody reads this */
		if (bid >= 0)
			buf_put(rx, bid);
		return 0;
	}
	if (bid >= 0) {
		if (res > 0) {
			rx->len[bid] = (uint16_t)res;
			rx->next[bid] = -1;
			if (q->tail >= 0)
				rx->next[q->tail] = (int16_t)bid;
			else
				q->head = bid;
			q->tail = bid;
			rx->held++;
		} else {
			buf_put(rx, bid);
		}
	}
	if (!more) {
		if (res == 0) {
			q->state = RX_ENDED;
			q->end = 0;
		} else if (res < 0 && res != -ENOBUFS) {
			q->state = RX_ENDED;
			q->end = res;
		} else {
			q->state = RX_OFF; /* ring dry, or stopped: one-shot reads until re-armed */
		}
	}
	/* Wake every reader: the first takes the bytes, the others park again. */
	int woken = 0;
	while (q->waiters) {
		struct rx_waiter *w = q->waiters;
		q->waiters = w->next;
		kaon_co *co = w->co;
		w->co = NULL;
		woken += kaon_unpark(co, 1);
	}
	return woken;
}

/* Copy queued bytes into @p iov; @p peek leaves them queued. */
static size_t q_copy(struct ur_rx *rx, struct ur_rxq *q, const struct iovec *iov, size_t niov,
		     bool peek)
{
	size_t total = 0;
	int b = q->head;
	uint32_t off = q->off;
	for (size_t i = 0; i < niov && b >= 0; i++) {
		unsigned char *dst = iov[i].iov_base;
		size_t room = iov[i].iov_len;
		while (room && b >= 0) {
			size_t avail = rx->len[b] - off;
			size_t n = avail < room ? avail : room;
			memcpy(dst, rx->mem + (size_t)b * UR_RX_BUF_SIZE + off, n);
			dst += n;
			room -= n;
			total += n;
			off += (uint32_t)n;
			if (off == rx->len[b]) {
				int nb = rx->next[b];
				if (!peek) {
					buf_put(rx, b);
					rx->held--;
				}
				b = nb;
				off = 0;
			}
		}
	}
	if (!peek) {
		q->head = b;
		q->off = off;
		if (b < 0)
			q->tail = -1;
	}
	return total;
}

static bool q_has_bytes(const struct ur_rxq *q)
{
	return q->head >= 0;
}

/* Arm the multishot recv of @p q. @return 0 or -errno (then stay one-shot). */
static int q_arm(struct ur *u, struct ur_rxq *q)
{
	struct io_uring_sqe *sqe = kaon__ur_sqe(u);
	if (!sqe)
		return -EBUSY;
	int r = kaon__ur_count(u, q->fd);
	if (r < 0) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, UR_TAG_IGNORE);
		return r;
	}
	io_uring_prep_recv_multishot(sqe, q->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UR_RX_BGID;
	io_uring_sqe_set_data64(sqe, rxq_tag(q));
	q->state = RX_ARMED;
	return 0;
}

/*
 * The shared body of recv and recvmsg on the queue. @return true with *@p out
 * set, or false: use a one-shot recv (not a stream socket, the socket has
 * not drained yet, the buffer ring is low).
 */
static bool rx_read(struct ur *u, int fd, const struct iovec *iov, size_t niov, int flags,
		    int64_t deadline, ssize_t *out)
{
	struct ur_rx *rx = &u->rx;
	if (!rx->on || fd < 0 || (flags & ~MSG_PEEK))
		return false;
	struct ur_rxq *q = q_find(rx, fd);
	bool idle = !q || (q->state == RX_OFF && !q_has_bytes(q));
	if (idle) {
		/* Arm only for a socket drained by its last one-shot read, and only
		 * with a quarter of the ring free. */
		if ((flags & MSG_PEEK) || (size_t)fd >= u->ninflight || !u->drained[fd] ||
		    UR_RX_BUFS - rx->held < UR_RX_BUFS / 4)
			return false;
		if (!q && !(q = q_get(rx, fd)))
			return false;
		if (!q->typed) {
			int type = 0;
			socklen_t tl = sizeof(type);
			q->stream = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
				    type == SOCK_STREAM;
			q->typed = true;
		}
		if (!q->stream || q_arm(u, q) < 0)
			return false;
	}
	size_t want = 0;
	for (size_t i = 0; i < niov; i++)
		want += iov[i].iov_len;
	for (;;) {
		if (q_has_bytes(q) || (want == 0 && q->state != RX_OFF)) {
			*out = (ssize_t)q_copy(rx, q, iov, niov, flags & MSG_PEEK);
			return true;
		}
		if (q->state == RX_ENDED) {
			*out = q->end;
			return true;
		}
		if (q->state == RX_OFF) /* the ring ran dry: this read is one-shot */
			return false;
		if (deadline != KAON_FOREVER && deadline <= kaon_now()) {
			/* No waiting: take what the socket has now. Completions are
			 * posted only inside io_uring_enter on this thread (deferred
			 * task running), and the CQ is reaped below first, so the
			 * queue holds nothing older than what recv(2) returns here. */
			if (io_uring_cq_ready(&u->ring)) {
				kaon__ur_reap(u);
				if (q_has_bytes(q) || q->state != RX_ARMED)
					continue;
			}
			struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = niov };
			ssize_t n = recvmsg(fd, &m, flags | MSG_DONTWAIT);
			if (n >= 0)
				*out = n;
			else
				*out = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			return true;
		}
		struct rx_waiter w = { .next = q->waiters, .co = kaon_self() };
		if (!w.co) {
			*out = -EPERM;
			return true;
		}
		q->waiters = &w;
		uint16_t gen = q->gen;
		int r = kaon_park(deadline);
		if (w.co) { /* not woken by a CQE: still listed */
			struct rx_waiter **pp = &q->waiters;
			while (*pp && *pp != &w)
				pp = &(*pp)->next;
			if (*pp)
				*pp = w.next;
		}
		if (gen != q->gen) { /* closed under us */
			*out = -ECANCELED;
			return true;
		}
		if (r < 0 && !q_has_bytes(q)) {
			*out = r;
			return true;
		}
	}
}

bool kaon__ur_rx_recv(struct ur *u, int fd, void *buf, size_t len, int flags,
		      int64_t deadline, ssize_t *out)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	return rx_read(u, fd, &iov, 1, flags, deadline, out);
}

bool kaon__ur_rx_recvmsg(struct ur *u, int fd, struct msghdr *msg, int flags,
			 int64_t deadline, ssize_t *out)
{
	struct ur_rxq *q = q_find(&u->rx, fd);
	/* Only where bytes may already sit in the queue; addresses and control
	 * data are not kept there, so such calls must not use it. */
	if (!q || (q->state == RX_OFF && !q_has_bytes(q)) || msg->msg_controllen ||
	    msg->msg_name)
		return false;
	msg->msg_flags = 0;
	return rx_read(u, fd, msg->msg_iov, msg->msg_iovlen, flags, deadline, out);
}

bool kaon__ur_rx_ready(struct ur *u, int fd)
{
	struct ur_rxq *q = q_find(&u->rx, fd);
	return q && (q_has_bytes(q) || q->state == RX_ENDED);
}

void kaon__ur_rx_forget(struct ur *u, int fd)
{
	struct ur_rxq *q = q_find(&u->rx, fd);
	if (!q)
		return;
	q_drop_bufs(&u->rx, q);
	/* The armed recv is cancelled by the caller (its cancel of every
	 * operation on fd); its last CQE carries the old gen and is ignored. */
	q->gen++;
	q->state = RX_OFF;
	q->typed = false;
	q->end = 0;
	while (q->waiters) {
		struct rx_waiter *w = q->waiters;
		q->waiters = w->next;
		kaon_co *co = w->co;
		w->co = NULL;
		kaon_unpark(co, -ECANCELED);
	}
}
