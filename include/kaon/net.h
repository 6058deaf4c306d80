/* kaon — the user-space TCP/IP stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP).
 *
 * Pure protocol code: frames in, frames and socket events out, the clock
 * passed in as nanoseconds. One stack instance belongs to one thread; nothing
 * here locks. Errors are negative errno values.
 *
 * Events: every socket carries a user pointer; when something happens the
 * stack calls conf.event(user, events, err) from kn_stack_poll() or
 * kn_stack_input() (never from inside a call the application made), after
 * the packet that caused it has been processed. The callback may call any
 * function here, including kn_tcp_close().
 *
 * Calls the application makes (send, recv, close, ...) act at the `now` of
 * the last kn_stack_poll()/kn_stack_input()/kn_stack_timers(); the frames
 * they produce leave with the next kn_stack_flush() (poll flushes).
 * kn_stack_destroy() frees every socket: handles are invalid afterwards.
 */
#ifndef KAON_NET_H
#define KAON_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <kaon/net_dev.h>
#include <kaon/net_drop.h>
#include <kaon/ref.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_mempool;
struct kn_stack;
struct kn_tcb;
struct kn_udp;

/** Socket events (bit mask passed to kn_event_fn). */
enum {
	KN_EV_READABLE  = 1u << 0, /**< data or EOF to read */
	KN_EV_WRITABLE  = 1u << 1, /**< send space available */
	KN_EV_ACCEPT    = 1u << 2, /**< listener: a connection waits in accept queue */
	KN_EV_CONNECTED = 1u << 3, /**< active open completed */
	KN_EV_CLOSED    = 1u << 4, /**< connection is gone; err says why (0 = orderly) */
};

typedef void (*kn_event_fn)(void *user, unsigned events, int err);

/** TCP states (RFC 9293 §3.3.2). */
enum kn_tcp_state {
	KN_TCP_CLOSED, KN_TCP_LISTEN, KN_TCP_SYN_SENT, KN_TCP_SYN_RECEIVED,
	KN_TCP_ESTABLISHED, KN_TCP_FIN_WAIT_1, KN_TCP_FIN_WAIT_2,
	KN_TCP_CLOSE_WAIT, KN_TCP_CLOSING, KN_TCP_LAST_ACK, KN_TCP_TIME_WAIT,
};

/** Congestion control (kn_tcp_conf.cc). */
enum kn_tcp_cc {
	KN_TCP_CC_CUBIC = 0,      /**< RFC 9438, the default */
	KN_TCP_CC_NEWRENO = 1,    /**< RFC 5681, RFC 6582 */
};

struct kn_tcp_conf {
	uint32_t sndbuf;          /**< send buffer, bytes */
	uint32_t rcvbuf;          /**< receive buffer, bytes */
	uint32_t syn_backlog;     /**< SYN queue bound per listener (half-open) */
	uint32_t max_tcbs;        /**< connections per stack */
	uint32_t ooo_max;         /**< out-of-order queue bound, segments (at most 65535) */
	int64_t delack_ns;        /**< delayed ACK timeout, 0 = ACK every segment */
	int64_t rto_init_ns;      /**< RFC 6298 initial RTO */
	int64_t rto_min_ns;
	int64_t rto_max_ns;
	int64_t time_wait_ns;     /**< TIME_WAIT duration (2*MSL) */
	uint32_t max_retries;     /**< data retransmissions before ETIMEDOUT */
	uint32_t syn_retries;     /**< SYN retransmissions before ETIMEDOUT */
	int64_t keepidle_ns;      /**< keepalive (when enabled per socket) */
	int64_t keepintvl_ns;
	uint32_t keepcnt;         /**< unanswered probes before ETIMEDOUT (at most 127, as Linux) */
	bool nagle;               /**< default off */
	bool timestamps;          /**< RFC 7323 timestamps + PAWS */
	bool wscale;              /**< RFC 7323 window scaling */
	uint32_t challenge_ack_limit; /**< RFC 5961 challenge ACKs per second, the
				   *   whole stack (randomized: limit/2 + [0, limit)) */
	/** Per connection, at most one ACK per this interval in answer to
	 * out-of-window segments without data, PAWS failures and challenges
	 * (Linux tcp_invalid_ratelimit; 0 = no limit) */
	int64_t invalid_ratelimit_ns;
	bool syncookies;          /**< RFC 4987 SYN cookies when the SYN queue is full */
	bool sack;                /**< RFC 2018 SACK (and RFC 6675 recovery) offered and agreed */
	uint8_t cc;               /**< enum kn_tcp_cc; slow start has HyStart++ (RFC 9406) either way */
};

struct kn_static_arp {
	uint32_t ip;              /**< host byte order */
	uint8_t mac[6];
};

struct kn_stack_conf {
	uint32_t ip;              /**< our address, host byte order */
	uint32_t netmask;         /**< host byte order */
	uint32_t gateway;         /**< 0 = none */
	uint16_t mtu;             /**< 0 = the device's */
	uint32_t arp_entries;     /**< ARP table size */
	int64_t arp_timeout_ns;   /**< entry lifetime */
	uint32_t arp_queue;       /**< packets queued per unresolved entry */
	const struct kn_static_arp *static_arp;
	unsigned n_static_arp;
	/**
	 * Neighbour resolution by someone else (flow bifurcation: the kernel
	 * does ARP on the shared interface and kaon never sees the replies).
	 * When set, the stack sends no ARP of its own: it asks this function
	 * for @ip's MAC (host byte order) and, on a miss (non-zero return;
	 * the function should start a resolution), asks again every
	 * neigh_retry_ns, up to neigh_tries times, before dropping what waits.
	 */
	int (*neigh_resolve)(void *arg, uint32_t ip, uint8_t mac[6]);
	void *neigh_arg;
	int64_t neigh_retry_ns;   /**< default 10 ms */
	uint32_t neigh_tries;     /**< default 100 */
	uint32_t frag_max_bytes;  /**< reassembly memory cap */
	uint32_t frag_max_datagrams;
	int64_t frag_timeout_ns;
	uint32_t udp_rcvq;        /**< datagrams queued per UDP socket */
	uint32_t udp_rcvbuf;      /**< buffer bytes (whole mbufs) queued per UDP socket */
	/**
	 * The buffer budget, in mbufs (segments, not bytes), so that queues can
	 * never take the buffers the device needs to receive: the ACK that frees
	 * memory must always get in. Receive memory covers TCP receive and
	 * out-of-order queues, reassembly, UDP receive queues and packets
	 * waiting on ARP; it is freed by the application reading. Send memory
	 * covers TCP send buffers; it is freed by the peer's ACKs. Two limits,
	 * so neither side can wait on the other. 0 = derive both from the
	 * pool: (pool size - mem_reserve - what the stack itself keeps in
	 * flight) / 2 each.
	 */
	uint32_t rcv_mem_mbufs, snd_mem_mbufs;
	/** mbufs of the pool the device may hold or strand out of the stack's
	 * reach (RX/fill ring, TX and completion rings, per-lcore caches);
	 * 0 = a quarter of the pool. Used only to derive the limits above. */
	uint32_t mem_reserve;
	/** Ephemeral ports for outgoing TCP and UDP (inclusive, host order);
	 * flow bifurcation steers exactly this range to kaon. */
	uint16_t eph_port_lo, eph_port_hi;
	/** With several stacks on one port (one per core): whether an
	 * outgoing connection to @rip:@rport (host byte order) from @lport
	 * would have its replies delivered to this stack's core. Ephemeral
	 * ports it refuses are skipped. NULL: any port. */
	bool (*eph_ok)(void *arg, uint32_t rip, uint16_t rport, uint16_t lport);
	void *eph_arg;
	/** With several stacks on one port: a datagram this stack reassembled
	 * (@m at its IP header). Fragments all reach one stack (a later one
	 * carries no ports to steer by), but the whole datagram may belong to
	 * another core's socket or connection. true: the hook took it (handed
	 * it over, or dropped it, counted); false: it is this stack's. NULL:
	 * every datagram is this stack's. */
	bool (*reassembled)(void *arg, struct rte_mbuf *m);
	void *reassembled_arg;
	/** RFC 6528 key, and the one every other secret is derived from;
	 * zeros (the default) = every secret from getrandom(2) */
	uint64_t isn_secret[2];
	/** Frames the device can buffer between two polls (af_xdp's fill
	 * ring, a NIC's RX ring); the windows all connections advertise
	 * together stay within it, so a burst they invite is never dropped
	 * at the device. 0: no bound. */
	uint32_t rx_burst_frames;
	kn_event_fn event;        /**< socket events; NULL = none */
	/** Reassembly contexts one source address may hold (0 = no bound);
	 * a source at its share evicts its own oldest datagram. */
	uint32_t frag_max_per_src;
	/** ARP requests sent per second at most (0 = no bound); a request
	 * over the bound is skipped and its entry retries on its timer. */
	uint32_t arp_max_requests;
	struct kn_tcp_conf tcp;
};

/** Fill @c with the defaults. */
void kn_stack_conf_default(struct kn_stack_conf *c);

/** Smallest budget per side (mbufs) kn_stack_create() accepts. */
#define KN_MEM_MIN_MBUFS 64

/**
 * The buffer budget @c gives on a pool of @pool_size mbufs (see
 * kn_stack_conf.rcv_mem_mbufs): *rcv and *snd get the limits, *need the
 * smallest pool that holds the reserve plus KN_MEM_MIN_MBUFS per side.
 * @return 0, or -ENOSPC when @pool_size is below *need.
 */
int kn_stack_mem_budget(const struct kn_stack_conf *c, uint32_t pool_size, uint32_t *rcv,
			uint32_t *snd, uint32_t *need);

/**
 * Create a stack on @dev, allocating frames from @pool.
 * @return the stack, or NULL with *err = -ENOMEM / -EINVAL, -EAGAIN
 *   when getrandom(2) cannot supply the secrets, or -ENOSPC when the pool
 *   cannot hold the budget (kn_stack_mem_budget()).
 */
struct kn_stack *kn_stack_create(const struct kn_stack_conf *c, struct kn_dev *dev,
				 struct rte_mempool *pool, int64_t now, int *err);
/** Free the stack, every socket and every queued mbuf. */
void kn_stack_destroy(struct kn_stack *s);
/**
 * One pass: rx burst → input, due timers, events, tx flush.
 * @return number of frames received.
 */
int kn_stack_poll(struct kn_stack *s, int64_t now);
/** Feed one frame (consumed) as if received; runs events, does not flush. */
void kn_stack_input(struct kn_stack *s, struct rte_mbuf *m, int64_t now);
/** Run due timers and deliver events. */
void kn_stack_timers(struct kn_stack *s, int64_t now);
/**
 * Hand the tx batch to the device; frames it does not take stay queued for
 * the next flush (a new frame finding the batch still full is dropped with
 * KN_DROP_TX_FULL). @return frames sent.
 */
unsigned kn_stack_flush(struct kn_stack *s);
/** @return the earliest pending timer deadline, INT64_MAX if none. */
int64_t kn_stack_next_timer(const struct kn_stack *s);
/**
 * Set the MAC of neighbour @ip (host byte order), as a reply would, and
 * send what waited for it. @return 0, or -ENOSPC when the table is full.
 */
int kn_arp_set(struct kn_stack *s, uint32_t ip, const uint8_t mac[6]);
/** @return the counters. */
const struct kn_stats *kn_stack_stats(const struct kn_stack *s);
/**
 * Print the non-zero counters and drops, one "name value" per line, in the
 * spirit of `netstat -s`. @return lines printed.
 */
int kn_stack_dump_stats(const struct kn_stack *s, FILE *f);
/** @return the name of a drop reason ("TCP_BAD_CSUM"), "?" if out of range. */
const char *kn_drop_name(enum kn_drop_reason r);
/** @return a one-line description of a drop reason, "?" if out of range. */
const char *kn_drop_desc(enum kn_drop_reason r);
/** @return number of live TCBs (connections, listeners, TIME_WAIT). */
unsigned kn_stack_tcb_count(const struct kn_stack *s);
/**
 * Print every TCB, one line each, in the spirit of `ss -tin`: state,
 * addresses, sequence space (relative to the ISNs), windows, queues in
 * bytes and mbufs, timers in ms from now; then the buffer budget's gauges.
 * Call it on the stack's own vcpu. @return TCBs printed.
 */
int kn_stack_dump_tcbs(const struct kn_stack *s, FILE *f);

/* ---- TCP ---------------------------------------------------------------- */

/**
 * Listen on @port with an accept queue of @backlog.
 * @return the listener, or NULL with *err = -EADDRINUSE / -ENOMEM.
 */
struct kn_tcb *kn_tcp_listen(struct kn_stack *s, uint16_t port, uint32_t backlog,
			     void *user, int *err);
/**
 * Take one connection from the accept queue and give it @user.
 * @return the connection, or NULL if the queue is empty.
 */
struct kn_tcb *kn_tcp_accept(struct kn_tcb *listener, void *user);
/**
 * Open a connection to @ip:@port (host byte order); @lport 0 picks one.
 * KN_EV_CONNECTED or KN_EV_CLOSED follows.
 * @return the connection, or NULL with *err = -EADDRINUSE / -ENOMEM /
 *   -ENETUNREACH.
 */
struct kn_tcb *kn_tcp_connect(struct kn_stack *s, uint32_t ip, uint16_t port,
			      uint16_t lport, void *user, int *err);
/**
 * Copy up to @len bytes into the send buffer and send what may be sent.
 * @return bytes taken (> 0), -EAGAIN when the socket's buffer is full or
 *   the stack's send memory is spent (either way KN_EV_WRITABLE follows
 *   when there is room again: the socket waits on the stack's memory wait
 *   list in the second case), -ENOTCONN before the handshake, -EPIPE
 *   after shutdown, the connection error (-ECONNRESET, -ETIMEDOUT, ...)
 *   once it failed. Never -ENOMEM for lack of mbufs.
 */
ssize_t kn_tcp_send(struct kn_tcb *t, const void *buf, size_t len);
/**
 * kn_tcp_send() of the pieces of a vector, in order, as one write: all of
 * it is queued before anything is sent, so the pieces leave in as few
 * segments as their total allows.
 * @return as kn_tcp_send(): bytes taken over all pieces (> 0), or -errno.
 */
ssize_t kn_tcp_sendv(struct kn_tcb *t, const struct iovec *iov, int iovcnt);
/**
 * kn_tcp_sendv() where a piece with @ref[i].release (NULL: copied) is not copied: the send
 * buffer points into it (mbufs with an external buffer, page-sized pieces),
 * and segments are built from it as from copied data, retransmissions too.
 * The caller must leave those bytes alone until @ref[i].release(@ref[i].arg)
 * is called: once per such piece when this returns > 0 (when every byte of
 * it taken is acknowledged, or the connection is gone: from a later stack
 * call, or before this returns if none of it was taken, or if it was copied
 * because it is small); never when this returns <= 0 (nothing was taken).
 * Release runs on the stack's thread, wherever the last mbuf pointing into
 * the piece is freed (ACK input, the device's tx completion, close,
 * kn_stack_destroy). The buffer must stay readable while held: frames are
 * read by the CPU (checksums, copies, AF_XDP); a device that DMAs from
 * unregistered memory cannot send them.
 * @return as kn_tcp_sendv(); one piece is taken only up to KN_REF_MAX bytes.
 */
ssize_t kn_tcp_sendv_ref(struct kn_tcb *t, const struct iovec *iov, const struct kaon_ref *ref,
			 int iovcnt);
#define KN_REF_MAX (32u << 20)
/**
 * Copy up to @len received bytes out.
 * @return bytes copied (> 0), 0 at EOF, -EAGAIN when nothing is queued, or
 *   the connection error.
 */
ssize_t kn_tcp_recv(struct kn_tcb *t, void *buf, size_t len);
/**
 * Take the next received segment payload without a copy (zero-copy read).
 * The mbuf leaves the stack's receive budget: hold it briefly, the pool
 * is shared with the device.
 * @return an mbuf chain holding only payload (caller frees), or NULL with
 *   *err = 0 at EOF, -EAGAIN, or the connection error.
 */
struct rte_mbuf *kn_tcp_recv_mbuf(struct kn_tcb *t, int *err);
/** @return bytes waiting to be read. */
size_t kn_tcp_readable(const struct kn_tcb *t);
/** @return bytes of send buffer free. */
size_t kn_tcp_writable(const struct kn_tcb *t);
/** Half-close: send FIN after queued data. @return 0 or -ENOTCONN. */
int kn_tcp_shutdown(struct kn_tcb *t);
/**
 * Release the socket: orderly close (FIN) if it is connected, RST if unread
 * data is pending. The handle must not be used afterwards; the stack
 * finishes the close sequence on its own. @return 0.
 */
int kn_tcp_close(struct kn_tcb *t);
/** Reset the connection and release the handle. */
void kn_tcp_abort(struct kn_tcb *t);
/** Turn keepalive on or off. */
void kn_tcp_keepalive(struct kn_tcb *t, bool on);
/** Turn Nagle's algorithm on or off. */
void kn_tcp_nagle(struct kn_tcb *t, bool on);
/** @return the state. */
enum kn_tcp_state kn_tcp_get_state(const struct kn_tcb *t);
/** @return the pending connection error (negative errno) or 0. */
int kn_tcp_error(const struct kn_tcb *t);
/** @return the name of a state. */
const char *kn_tcp_state_name(enum kn_tcp_state st);
/** Local/remote address and port, host byte order. */
void kn_tcp_endpoints(const struct kn_tcb *t, uint32_t *lip, uint16_t *lport,
		      uint32_t *rip, uint16_t *rport);

/* ---- UDP ---------------------------------------------------------------- */

/** Bind @port (0 picks one). @return the socket or NULL with *err. */
struct kn_udp *kn_udp_bind(struct kn_stack *s, uint16_t port, void *user, int *err);
/**
 * Send one datagram. @return @len, -EMSGSIZE past the MTU, -ENOMEM,
 * -ENETUNREACH.
 */
ssize_t kn_udp_sendto(struct kn_udp *u, const void *buf, size_t len,
		      uint32_t ip, uint16_t port);
/**
 * Receive one datagram; what does not fit in @len is discarded, as
 * recvfrom(2) does without MSG_TRUNC.
 * @return the bytes copied to @buf (at most @len), or -EAGAIN.
 */
ssize_t kn_udp_recvfrom(struct kn_udp *u, void *buf, size_t len,
			uint32_t *ip, uint16_t *port);
/** Unbind and free queued datagrams. */
void kn_udp_close(struct kn_udp *u);
/** The local port @p u is bound to (the one picked for port 0). */
uint16_t kn_udp_port(const struct kn_udp *u);

#ifdef __cplusplus
}
#endif
#endif
