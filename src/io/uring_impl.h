/* SPDX-License-Identifier: MIT */
/*
 * Internal to the io_uring engine: the engine's state, shared by uring.c
 * (rings, operations, sendfile) and uring_rx.c (multishot receive into a
 * provided buffer ring).
 */
#ifndef KAON_IO_URING_IMPL_H
#define KAON_IO_URING_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <liburing.h>

#include "kaon/engine.h"

#define UR_PIPES 32

/* user_data tags: 0 and 1 below, an operation record on a coroutine's stack
 * (8-aligned), or a receive queue of uring_rx.c (bit 1 set). */
#define UR_TAG_IGNORE 0u /* cancel requests: their CQE means nothing to us */
#define UR_TAG_WAKE 1u
#define UR_TAG_RX 2u

/* The provided buffer ring: UR_RX_BUFS buffers of UR_RX_BUF_SIZE bytes per
 * vcpu (2 MiB), shared by every connection of the vcpu. A connection whose
 * reader is slow holds buffers until it reads; when the ring runs dry the
 * kernel ends the multishot receives that find it empty, and their sockets
 * go back to one recv per call until the pool has room again. */
#define UR_RX_BUFS 512 /* a power of two, < 65536 */
#define UR_RX_BUF_SIZE 4096
#define UR_RX_BGID 0x6b /* our buffer group id on the ring */

struct ur_rxq;

struct ur_rx {
	bool on; /* multishot receive in use on this ring */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned char *mem;            /* UR_RX_BUFS * UR_RX_BUF_SIZE */
	uint16_t len[UR_RX_BUFS];      /* bytes in a buffer held by a queue */
	int16_t next[UR_RX_BUFS];      /* queue links, -1: last */
	unsigned held;                 /* buffers out of the ring, on queues */
	struct ur_rxq **q;             /* per fd, allocated on first use */
	size_t nq;
};

struct ur {
	struct io_uring ring;
	int efd;
	atomic_int kicked;
	uint64_t efd_buf;
	bool defer_taskrun;
	bool wake_armed;
	int pipes[UR_PIPES][2]; /* empty pipes kept for kaon_io_sendfile */
	int npipes;
	bool splice;        /* kaon_io_sendfile splices on the ring (KAON_URING_SPLICE=1) */
	uint32_t *inflight; /* per fd: operations on the ring */
	uint8_t *drained;   /* per fd: the last recv was short */
	size_t ninflight;
	struct ur_rx rx;
};

/* uring.c */
struct io_uring_sqe *kaon__ur_sqe(struct ur *u);
int kaon__ur_count(struct ur *u, int fd);
int kaon__ur_reap(struct ur *u);

/* uring_rx.c */
/* Set up the buffer ring (or say once why not: one recv per call then). */
void kaon__ur_rx_init(struct ur *u);
void kaon__ur_rx_fini(struct ur *u);
/* A CQE tagged UR_TAG_RX. @return coroutines woken. */
int kaon__ur_rx_cqe(struct ur *u, const struct io_uring_cqe *cqe);
/* recv from the multishot queue of @p fd. @return true with *@p out set,
 * or false: the caller does a one-shot recv instead. */
bool kaon__ur_rx_recv(struct ur *u, int fd, void *buf, size_t len, int flags,
		      int64_t deadline, ssize_t *out);
/* recvmsg on a stream socket whose bytes may wait in its queue: as above. */
bool kaon__ur_rx_recvmsg(struct ur *u, int fd, struct msghdr *msg, int flags,
			 int64_t deadline, ssize_t *out);
/* Bytes or the end of the stream wait in @p fd's queue: readable now. */
bool kaon__ur_rx_ready(struct ur *u, int fd);
/* @p fd is being closed: wake its readers with -ECANCELED, drop its bytes. */
void kaon__ur_rx_forget(struct ur *u, int fd);

#endif
