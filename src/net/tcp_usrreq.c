/* The calls the socket layer makes: listen, accept, connect, send, recv,
 * shutdown, close, abort (RFC 9293 §3.10.1–3.10.6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

struct kn_tcb *kn_tcp_listen(struct kn_stack *s, uint16_t port, uint32_t backlog, void *user,
			     int *err)
{
	if (port == 0 || kn_tcb_listener(s, port)) {
		*err = -EADDRINUSE;
		return NULL;
	}
	struct kn_tcb *t = kn_tcb_alloc(s);
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	t->lip = s->conf.ip;
	t->lport = port;
	t->backlog = backlog ? backlog : 1;
	t->ev.user = user;
	t->flags |= TF_APP | TF_HASHED;
	kn_tcp_set_state(t, KN_TCP_LISTEN);
	LIST_INSERT_HEAD(&s->listeners, t, hash_link);
	*err = 0;
	return t;
}

struct kn_tcb *kn_tcp_accept(struct kn_tcb *l, void *user)
{
	struct kn_tcb *t = TAILQ_FIRST(&l->acceptq);
	if (!t)
		return NULL;
	TAILQ_REMOVE(&l->acceptq, t, q_link);
	l->acceptq_n--;
	t->flags &= ~TF_ACCEPTQ;
	t->listener = NULL;
	t->flags |= TF_APP;
	t->ev.user = user;
	/* Whatever happened while it waited is news to its new owner. */
	unsigned ev = KN_EV_WRITABLE;
	if (t->rcvq_bytes || (t->flags & TF_RCVD_FIN))
		ev |= KN_EV_READABLE;
	kn_ev_raise(l->s, &t->ev, ev);
	return t;
}

static bool port_in_use(struct kn_stack *s, uint16_t lport, uint32_t rip, uint16_t rport)
{
	return kn_tcb_listener(s, lport) || kn_tcb_lookup(s, s->conf.ip, lport, rip, rport);
}

struct kn_tcb *kn_tcp_connect(struct kn_stack *s, uint32_t ip, uint16_t port, uint16_t lport,
			      void *user, int *err)
{
	uint32_t nh;
	if (kn_ip4_route(s, ip, &nh) != 0) {
		*err = -ENETUNREACH;
		return NULL;
	}
	if (lport == 0) {
		/* RFC 6056 algorithm 4, keyed: not guessable off-path. */
		lport = kn_eph_port(s, ip, port, port_in_use);
	} else if (kn_tcb_lookup(s, s->conf.ip, lport, ip, port)) {
		lport = 0;
	}
	if (!lport) {
		*err = -EADDRINUSE;
		return NULL;
	}
	struct kn_tcb *t = kn_tcb_alloc(s);
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	t->lip = s->conf.ip;
	t->lport = lport;
	t->rip = ip;
	t->rport = port;
	t->ev.user = user;
	t->flags |= TF_APP;
	t->iss = kn_tcp_isn(s, t->lip, t->lport, t->rip, t->rport);
	t->snd_una = t->snd_nxt = t->snd_max = t->recover = t->iss;
	/* Until the SYN-ACK tells the peer's MSS: what our MTU allows with the
	 * options we offer (kn_tcp_mss_init settles it). */
	t->mss = kn_tcp_mss_limit(s->mtu, 0, s->conf.tcp.timestamps);
	t->cwnd = t->mss;
	t->ssthresh = UINT32_MAX / 2;
	kn_tcp_set_state(t, KN_TCP_SYN_SENT);
	kn_tcb_hash(s, t);
	s->st.tcp_active_opens++;
	kn_tcp_output(t);
	*err = 0;
	return t;
}

/* Append up to @p len bytes to the send queue (no output); inlined by
 * force, as it is most of kn_tcp_send, the hot call.
 * @return bytes taken; *nomem when send memory ran out first. */
static inline __attribute__((always_inline)) size_t
snd_append(struct kn_tcb *t, const uint8_t *p, size_t len, bool *nomem)
{
	struct kn_stack *s = t->s;
	size_t left = len;
	/* Fill the tail segment first; bytes past a clone's range are free. */
	struct rte_mbuf *tail = t->sndq_tail;
	while (left) {
		uint32_t room = tail ? rte_pktmbuf_tailroom(tail) : 0;
		if (room == 0) {
			if (t->snd_spare) {
				tail = t->snd_spare;
				t->snd_spare = NULL;
			} else {
				/* Send memory is the stack's, not the socket's:
				 * without it, wait for ACKs to free some. While
				 * anyone waits, nobody takes more: waiters are
				 * woken only once usage is down to the low-water
				 * mark (all of them, in the order they came), and
				 * senders that tried meanwhile would take every
				 * buffer the ACKs free and starve them for good:
				 * newcomers, and waiters too, since their own
				 * ACKs wake those with data in flight
				 * (KN_EV_WRITABLE) while those with none wait for
				 * the mark, which the others' use keeps away. */
				if (!kn_mem_snd_room(s, 1) || KN_UNLIKELY(!TAILQ_EMPTY(&s->mem_waiters))) {
					*nomem = true;
					break;
				}
				tail = rte_pktmbuf_alloc(s->pool);
				if (!tail) {
					s->st.drops[KN_DROP_NO_MBUF]++;
					*nomem = true;
					break;
				}
				t->snd_nmb++;
				kn_mem_snd_charge(s, 1);
			}
			tail->data_off = 0;
			if (t->sndq_tail)
				t->sndq_tail->next = tail;
			else
				t->sndq = tail;
			t->sndq_tail = tail;
			room = rte_pktmbuf_tailroom(tail);
		}
		uint32_t c = left < room ? (uint32_t)left : room;
		memcpy(rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len), p, c);
		tail->data_len += c;
		tail->pkt_len = tail->data_len;
		p += c;
		left -= c;
	}
	return len - left;
}

/* Room in @p t's send buffer, or why nothing may be sent (-errno). */
static inline ssize_t snd_space(const struct kn_tcb *t)
{
	if (t->error)
		return t->error;
	if (t->flags & TF_SHUT_WR)
		return -EPIPE;
	if (t->state != KN_TCP_ESTABLISHED && t->state != KN_TCP_CLOSE_WAIT)
		return t->state == KN_TCP_CLOSED ? -EPIPE : -ENOTCONN;
	uint32_t sndbuf = t->s->conf.tcp.sndbuf;
	return sndbuf > t->sndq_bytes ? (ssize_t)(sndbuf - t->sndq_bytes) : 0;
}

/* Data after an idle spell: kn_tcp_idle_restart first (RFC 5681 §4.1). */
static inline bool idle_restart_due(const struct kn_tcb *t)
{
	return t->snd_una == t->snd_max && t->s->now - t->last_snd > t->rto;
}

/* After @p n bytes were queued: send, or say why nothing was taken. */
static inline ssize_t snd_done(struct kn_tcb *t, size_t n, bool nomem)
{
	if (n == 0) {
		if (nomem)
			kn_mem_wait(t->s, &t->ev);
		return -EAGAIN;
	}
	t->sndq_bytes += (uint32_t)n;
	if (idle_restart_due(t))
		kn_tcp_idle_restart(t);
	return kn_tcp_output_new(t, (ssize_t)n);
}

static __attribute__((noinline)) ssize_t send_full(struct kn_tcb *t, const void *buf, size_t len)
{
	ssize_t space = snd_space(t);
	if (space <= 0)
		return space ? space : -EAGAIN;
	bool nomem = false;
	size_t n = snd_append(t, buf, len < (size_t)space ? len : (size_t)space, &nomem);
	return snd_done(t, n, nomem);
}

/* Request/response: all that was sent is acknowledged (the queue is empty,
 * its buffer kept as the spare @sp) and the message fits in that buffer and
 * the send buffer: what snd_space and snd_append would conclude, without
 * their loop. */
static inline bool send_one_ok(const struct kn_tcb *t, const struct rte_mbuf *sp, size_t len)
{
	return sp && !t->sndq && t->state == KN_TCP_ESTABLISHED && !t->error &&
	       !(t->flags & TF_SHUT_WR) && len && len <= sp->buf_len &&
	       len <= t->s->conf.tcp.sndbuf;
}

/* The message into the spare buffer, which becomes the send queue. */
static inline __attribute__((always_inline)) void send_one_queue(struct kn_tcb *t,
								 struct rte_mbuf *sp,
								 const void *buf, size_t len,
								 bool small)
{
	t->snd_spare = NULL;
	sp->data_off = 0;
	if (small)
		kn_copy_small(rte_pktmbuf_mtod(sp, uint8_t *), buf, len);
	else
		memcpy(rte_pktmbuf_mtod(sp, uint8_t *), buf, len);
	sp->data_len = (uint16_t)len;
	sp->pkt_len = (uint32_t)len;
	t->sndq = t->sndq_tail = sp;
}

static __attribute__((noinline)) ssize_t send_one(struct kn_tcb *t, struct rte_mbuf *sp,
						  const void *buf, size_t len)
{
	send_one_queue(t, sp, buf, len, false);
	return snd_done(t, len, false);
}

/* send_one_ok with a small message and no idle restart due takes a path
 * that keeps no register across a call (so it needs no frame) and ends in
 * kn_tcp_output_new's tail call; send_one the larger ones, send_full the
 * rest. */
ssize_t kn_tcp_send(struct kn_tcb *t, const void *buf, size_t len)
{
	struct rte_mbuf *sp = t->snd_spare;
	if (KN_LIKELY(send_one_ok(t, sp, len))) {
		if (KN_UNLIKELY(len > KN_COPY_INLINE || idle_restart_due(t)))
			return send_one(t, sp, buf, len);
		send_one_queue(t, sp, buf, len, true);
		t->sndq_bytes += (uint32_t)len;
		return kn_tcp_output_new(t, (ssize_t)len);
	}
	return send_full(t, buf, len);
}

ssize_t kn_tcp_sendv(struct kn_tcb *t, const struct iovec *iov, int iovcnt)
{
	ssize_t space = snd_space(t);
	if (space <= 0)
		return space ? space : -EAGAIN;
	/* Every piece is queued before anything is sent, so a vector becomes
	 * the segments its total makes, as writev(2) on Linux: a header and
	 * a body written together leave in one segment even with Nagle off. */
	size_t n = 0, asked = 0;
	bool nomem = false;
	for (int i = 0; i < iovcnt && space && !nomem; i++) {
		asked |= iov[i].iov_len;
		size_t want = iov[i].iov_len < (size_t)space ? iov[i].iov_len : (size_t)space;
		size_t got = snd_append(t, iov[i].iov_base, want, &nomem);
		n += got;
		space -= (ssize_t)got;
	}
	if (n == 0 && !asked)
		return 0; /* nothing to send: as send(2) of 0 bytes */
	return snd_done(t, n, nomem);
}

/* For kn_tcp_sendv_ref (tcp_sendref.c), out of line: the hot calls above
 * keep their inlining as it was. */
size_t kn_tcp_snd_append(struct kn_tcb *t, const void *p, size_t len, bool *nomem)
{
	return snd_append(t, p, len, nomem);
}

ssize_t kn_tcp_snd_space(const struct kn_tcb *t)
{
	return snd_space(t);
}

ssize_t kn_tcp_snd_done(struct kn_tcb *t, size_t n, bool nomem)
{
	return snd_done(t, n, nomem);
}

static ssize_t recv_status(const struct kn_tcb *t)
{
	if (t->flags & TF_RCVD_FIN)
		return 0;
	if (t->error)
		return t->error;
	if (t->state == KN_TCP_CLOSED)
		return 0;
	return -EAGAIN;
}

/* after_read() with a window the peer knows (@cur) under 8 segments. */
static __attribute__((noinline)) void after_read_update(struct kn_tcb *t, uint32_t cur)
{
	if (t->state >= KN_TCP_ESTABLISHED && t->state != KN_TCP_TIME_WAIT &&
	    !(t->flags & TF_RCVD_FIN)) {
		/* A peer that sees less than a segment of window waits on its
		 * persist timer, backing off to minutes: under memory pressure
		 * the window may only reopen by one segment, below the usual
		 * update threshold, so say so at once (RFC 9293 §3.8.6.2.2:
		 * an update once the window grows by min(RCV.BUFF / 2, MSS)). */
		if (cur < t->mss && kn_tcp_rcv_window(t) >= cur + t->mss)
			t->flags |= TF_ACKNOW;
		kn_tcp_output(t);
	}
}

/* The window the peer knows (what our last ACK left open). */
static inline uint32_t peer_window(const struct kn_tcb *t)
{
	return SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
}

/* Reading made room: tell the peer if the window grew enough. Inline, after
 * every read: the common answer is no. */
static inline void after_read(struct kn_tcb *t)
{
	/* kn_tcp_output() sends a pure window update only when the window the
	 * peer knows is under 8 segments: check that first, it is cheap. */
	uint32_t cur = peer_window(t);
	if (cur < 8u * t->mss)
		after_read_update(t, cur);
}

/* kn_tcp_recv's one-buffer case, the rest of it: what needs a call. */
static __attribute__((noinline)) ssize_t recv_one_done(struct kn_tcb *t, struct rte_mbuf *m,
						       size_t c)
{
	kn_free(t->s, m);
	after_read(t);
	return (ssize_t)c;
}

/* The one queued buffer @m, of @c bytes, read whole: off the queue. */
static inline void rcvq_take_one(struct kn_tcb *t, struct rte_mbuf *m, size_t c)
{
	t->rcvq = t->rcvq_tail = NULL;
	t->rcvq_bytes -= (uint32_t)c;
	t->rcvq_mem -= m->buf_len;
	kn_mem_rcv_release(t->s, 1);
}

static __attribute__((noinline)) ssize_t recv_full(struct kn_tcb *t, void *buf, size_t len)
{
	struct rte_mbuf *m = t->rcvq;
	if (!m)
		return recv_status(t);
	/* One buffer queued, and it all fits (larger than kn_tcp_recv's). */
	if (KN_LIKELY(!m->next && m->data_len <= len)) {
		size_t c = m->data_len;
		memcpy(buf, rte_pktmbuf_mtod(m, uint8_t *), c);
		rcvq_take_one(t, m, c);
		return recv_one_done(t, m, c);
	}
	uint8_t *p = buf;
	size_t done = 0;
	while (t->rcvq && done < len) {
		m = t->rcvq;
		size_t c = RTE_MIN((size_t)m->data_len, len - done);
		memcpy(p + done, rte_pktmbuf_mtod(m, uint8_t *), c);
		done += c;
		t->rcvq_bytes -= (uint32_t)c;
		if (c == m->data_len) {
			t->rcvq = m->next;
			t->rcvq_mem -= m->buf_len;
			kn_mem_rcv_release(t->s, 1);
			m->next = NULL;
			kn_free(t->s, m);
		} else {
			m->data_off += (uint16_t)c;
			m->data_len -= (uint16_t)c;
			m->pkt_len = m->data_len;
		}
	}
	if (!t->rcvq)
		t->rcvq_tail = NULL;
	after_read(t);
	return (ssize_t)done;
}

/* Request/response: one small buffer queued, and it all fits. This path
 * keeps no register across a call (so it needs no frame): what needs one,
 * a buffer not kept for reuse or a window worth telling the peer about
 * (after_read), goes on in recv_one_done; anything else in recv_full. */
ssize_t kn_tcp_recv(struct kn_tcb *t, void *buf, size_t len)
{
	struct rte_mbuf *m = t->rcvq;
	if (KN_LIKELY(m && !m->next && m->data_len <= len && m->data_len <= KN_COPY_INLINE)) {
		size_t c = m->data_len;
		kn_copy_small(buf, rte_pktmbuf_mtod(m, uint8_t *), c);
		rcvq_take_one(t, m, c);
		struct kn_stack *s = t->s;
		if (KN_UNLIKELY(!kn_recyclable(s, m) || peer_window(t) < 8u * t->mss))
			return recv_one_done(t, m, c);
		s->recycle[s->nrecycle++] = m;
		return (ssize_t)c;
	}
	return recv_full(t, buf, len);
}

struct rte_mbuf *kn_tcp_recv_mbuf(struct kn_tcb *t, int *err)
{
	struct rte_mbuf *m = t->rcvq;
	if (!m) {
		*err = (int)recv_status(t);
		return NULL;
	}
	t->rcvq = m->next;
	if (!t->rcvq)
		t->rcvq_tail = NULL;
	m->next = NULL;
	t->rcvq_bytes -= m->data_len;
	t->rcvq_mem -= m->buf_len;
	kn_mem_rcv_release(t->s, 1);
	*err = 0;
	after_read(t);
	return m;
}

size_t kn_tcp_readable(const struct kn_tcb *t)
{
	return t->rcvq_bytes;
}

size_t kn_tcp_writable(const struct kn_tcb *t)
{
	uint32_t b = t->s->conf.tcp.sndbuf;
	if (t->state != KN_TCP_ESTABLISHED && t->state != KN_TCP_CLOSE_WAIT)
		return 0;
	return b > t->sndq_bytes ? b - t->sndq_bytes : 0;
}

int kn_tcp_shutdown(struct kn_tcb *t)
{
	switch (t->state) {
	case KN_TCP_SYN_RECEIVED:
	case KN_TCP_ESTABLISHED:
		t->flags |= TF_SHUT_WR;
		kn_tcp_set_state(t, t->state == KN_TCP_SYN_RECEIVED ? KN_TCP_SYN_RECEIVED
								  : KN_TCP_FIN_WAIT_1);
		break;
	case KN_TCP_CLOSE_WAIT:
		t->flags |= TF_SHUT_WR;
		kn_tcp_set_state(t, KN_TCP_LAST_ACK);
		break;
	case KN_TCP_SYN_SENT:
		kn_tcp_closed(t);
		return 0;
	default:
		return t->flags & TF_SHUT_WR ? 0 : -ENOTCONN;
	}
	kn_tcp_output(t);
	return 0;
}

static void listener_close(struct kn_tcb *l)
{
	struct kn_tcb *c;
	while ((c = TAILQ_FIRST(&l->synq)) != NULL)
		kn_tcp_drop(c, -ECONNABORTED);
	while ((c = TAILQ_FIRST(&l->acceptq)) != NULL)
		kn_tcp_drop(c, -ECONNABORTED);
	LIST_REMOVE(l, hash_link);
	l->flags &= ~(TF_HASHED | TF_APP);
	kn_tcp_set_state(l, KN_TCP_CLOSED);
	kn_tcp_closed(l);
}

int kn_tcp_close(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	kn_ev_cancel(s, &t->ev);
	if (t->state == KN_TCP_LISTEN) {
		listener_close(t);
		return 0;
	}
	bool unread = t->rcvq_bytes != 0;
	t->flags |= TF_SHUT_RD;
	kn_tcp_rcvq_free(t);
	t->flags &= ~TF_APP;
	switch (t->state) {
	case KN_TCP_CLOSED:
	case KN_TCP_SYN_SENT:
		kn_tcp_closed(t);
		return 0;
	default:
		break;
	}
	if (unread) {
		/* RFC 2525 §2.17: closing with unread data resets. */
		kn_tcp_drop(t, -ECONNABORTED);
		return 0;
	}
	if (!(t->flags & TF_SHUT_WR))
		kn_tcp_shutdown(t);
	if (t->state == KN_TCP_FIN_WAIT_2 && !t->t_2msl)
		kn_tcp_timer_set(t, &t->t_2msl, 60 * 1000000000LL);
	return 0;
}

void kn_tcp_abort(struct kn_tcb *t)
{
	kn_ev_cancel(t->s, &t->ev);
	if (t->state == KN_TCP_LISTEN) {
		listener_close(t);
		return;
	}
	t->flags &= ~TF_APP;
	if (t->state == KN_TCP_CLOSED) {
		kn_tcp_closed(t);
		return;
	}
	kn_tcp_drop(t, -ECONNABORTED);
}

void kn_tcp_keepalive(struct kn_tcb *t, bool on)
{
	if (on) {
		t->flags |= TF_KEEPALIVE;
		if (t->state >= KN_TCP_ESTABLISHED && !t->t_keep)
			kn_tcp_timer_set(t, &t->t_keep, t->s->conf.tcp.keepidle_ns);
	} else {
		t->flags &= ~TF_KEEPALIVE;
		t->t_keep = 0;
	}
}

void kn_tcp_nagle(struct kn_tcb *t, bool on)
{
	if (on)
		t->flags |= TF_NAGLE;
	else
		t->flags &= ~TF_NAGLE;
}

enum kn_tcp_state kn_tcp_get_state(const struct kn_tcb *t)
{
	return (enum kn_tcp_state)t->state;
}

int kn_tcp_error(const struct kn_tcb *t)
{
	return t->error;
}

void kn_tcp_endpoints(const struct kn_tcb *t, uint32_t *lip, uint16_t *lport, uint32_t *rip,
		      uint16_t *rport)
{
	if (lip)
		*lip = t->lip;
	if (lport)
		*lport = t->lport;
	if (rip)
		*rip = t->rip;
	if (rport)
		*rport = t->rport;
}
