/* TCP input, in the order of RFC 9293 §3.10.7 ("SEGMENT ARRIVES"), with
 * RFC 5961 (blind in-window attacks), RFC 7323 (PAWS, window scaling),
 * RFC 6298 (RTT), RFC 5681 and RFC 6582 (fast retransmit, NewReno). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

/* The receive queue's tail, if @len more bytes may be copied into it:
 * direct, unshared, with the room. The payload must be small for its
 * buffer (a quarter), or receive memory short: full segments stay
 * zero-copy. */
static struct rte_mbuf *collapse_target(const struct kn_tcb *t, const struct rte_mbuf *m)
{
	struct rte_mbuf *tail = t->rcvq_tail;
	uint32_t len = m->pkt_len;
	if (!tail || len == 0 || len > rte_pktmbuf_tailroom(tail) || !RTE_MBUF_DIRECT(tail) ||
	    rte_mbuf_refcnt_read(tail) != 1)
		return NULL;
	if (len * 4 > m->buf_len && kn_mem_rcv_room(t->s, 1, false))
		return NULL;
	return tail;
}

/* Copy @len bytes of chain @m to @dst. */
static void chain_copy(uint8_t *dst, const struct rte_mbuf *m)
{
	for (; m; m = m->next) {
		memcpy(dst, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
		dst += m->data_len;
	}
}

/* Append in-order payload to the receive queue. A small payload is copied
 * into the tail's free room and its buffer freed (Linux's
 * tcp_try_coalesce): 4,000 one-byte segments then take 2 buffers, not
 * 4,000. Otherwise every segment is kept as it came, and charged. */
static __attribute__((noinline)) bool rcvq_collapse(struct kn_tcb *t, struct rte_mbuf *m)
{
	struct rte_mbuf *tail = collapse_target(t, m);
	if (!tail)
		return false;
	uint32_t len = m->pkt_len;
	chain_copy(rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len), m);
	tail->data_len = (uint16_t)(tail->data_len + len);
	tail->pkt_len = tail->data_len;
	t->rcvq_bytes += len;
	t->s->st.tcp_rcv_collapsed++;
	kn_free(t->s, m);
	return true;
}

static void rcvq_append_slow(struct kn_tcb *t, struct rte_mbuf *m)
{
	struct kn_stack *s = t->s;
	/* Request/response traffic reads the queue empty: no tail, no call
	 * (and out of line, the copy costs the common path no registers). */
	if (t->rcvq_tail && m && rcvq_collapse(t, m))
		return;
	while (m) {
		struct rte_mbuf *next = m->next;
		m->next = NULL;
		if (m->data_len == 0) {
			rte_pktmbuf_free_seg(m);
		} else {
			m->nb_segs = 1;
			m->pkt_len = m->data_len;
			t->rcvq_bytes += m->data_len;
			t->rcvq_mem += m->buf_len;
			kn_mem_rcv_charge(s, 1);
			if (t->rcvq_tail)
				t->rcvq_tail->next = m;
			else
				t->rcvq = m;
			t->rcvq_tail = m;
		}
		m = next;
	}
}

/* The same, inline for what request/response traffic brings: one buffer
 * into an empty queue (the application read it empty). */
static inline void rcvq_append(struct kn_tcb *t, struct rte_mbuf *m)
{
	if (KN_LIKELY(!t->rcvq_tail && m && !m->next && m->data_len)) {
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		t->rcvq_bytes += m->data_len;
		t->rcvq_mem += m->buf_len;
		kn_mem_rcv_charge(t->s, 1);
		t->rcvq = t->rcvq_tail = m;
		return;
	}
	rcvq_append_slow(t, m);
}

/* Remove out-of-order entry @i, freeing its data. */
static void ooo_remove(struct kn_tcb *t, unsigned i)
{
	struct rte_mbuf *m = t->ooo[i].m;
	if (m) {
		uint32_t n = kn_mbuf_nsegs(m);
		t->ooo_nmb -= n;
		kn_mem_rcv_release(t->s, n);
		rte_pktmbuf_free(m);
	}
	memmove(&t->ooo[i], &t->ooo[i + 1], (t->ooo_n - i - 1) * sizeof(t->ooo[0]));
	t->ooo_n--;
}

/* Is the pool down to what the device and the stack itself need? On
 * af_packet and memif the PMD allocates one mbuf per arriving frame, on
 * af_xdp a burst's worth of fill-ring replacements: below this floor the
 * device would drop frames before kaon saw them (rx_nombuf, imissed), ACKs
 * included. Counted: a burst each way, the tx batch (a header and two
 * clones a frame), and what the per-lcore caches of the two lcores that
 * touch the pool may strand (1.5 x their size each). */
static bool rcv_pool_low(const struct kn_stack *s)
{
	const struct rte_mempool *p = s->pool;
	uint32_t floor = p->cache_size * 3u + 2u * KN_RX_BURST + 3u * KN_TX_BATCH;
	return rte_mempool_avail_count(p) < floor;
}

/* Receive mbufs @t holds: whole buffers in its receive queue, and its
 * out-of-order queue. */
static uint32_t rcv_held(const struct kn_tcb *t)
{
	return (t->rcvq_mem + RTE_MBUF_DEFAULT_BUF_SIZE - 1u) / RTE_MBUF_DEFAULT_BUF_SIZE +
	       t->ooo_nmb;
}

/*
 * Admission over the receive budget, for in-order data (@seq is RCV.NXT)
 * that neither fits the budget nor can be copied into the queue's tail.
 * @return KN_DROP_NONE to take it, or why not. Taken, as long as the pool
 * stays above the device's floor (rcv_pool_low):
 *  - the first in-order segment after one was dropped (the retransmission);
 *  - the segment of a connection that holds no more than its fair share
 *    of the budget (at least 2 mbufs), while the budget's overdraft (an
 *    eighth more) lasts.
 * Refused: in-order data for connections holding more, whose applications
 * are behind; their windows are closed to their share already
 * (kn_tcp_rcv_window), so what comes is what an earlier, larger window
 * promised.
 *
 * Why: fair-share windows still promise every connection that holds
 * nothing one segment, so with more connections than budget (1,000 on a
 * 2,047-mbuf pool: 845 mbufs of receive memory) in-window data had to be
 * dropped (the veth testbed's af_packet small-pool case: 1,031 segments
 * in the first 2 s of a run), and which connection lost was luck: a drop
 * at RCV.NXT costs the peer a retransmission timeout, and a connection
 * whose retransmissions kept arriving while the budget was spent waited
 * 0.2, 0.4 ... 12.8 s for its next chance. Now a connection loses at most
 * one transmission in a row to the budget, and connections that hold
 * little drain as fast as their applications read; what bounds the pool
 * in the end is the floor.
 */
static enum kn_drop_reason rcv_admit(const struct kn_tcb *t, uint32_t seq, uint32_t n)
{
	const struct kn_stack *s = t->s;
	bool retry = (t->flags & TF_RCV_DROPPED) && seq == t->rcv_drop_seq;
	if (!retry) {
		uint32_t share = (uint32_t)(s->st.mem_rcv_limit / (s->ntcb ? s->ntcb : 1u));
		if (rcv_held(t) + n > RTE_MAX(share, 2u))
			return KN_DROP_TCP_RCV_OVER_SHARE;
		if (s->st.mem_rcv_used + n > s->st.mem_rcv_limit + s->st.mem_rcv_limit / 8u)
			return KN_DROP_TCP_RCV_NO_MEMORY;
	}
	return rcv_pool_low(s) ? KN_DROP_TCP_RCV_POOL_LOW : KN_DROP_NONE;
}

/* rcv_mem_ok() without room in the budget for @n more mbufs. */
static bool rcv_mem_short(struct kn_tcb *t, uint32_t seq, const struct rte_mbuf *m, uint32_t n)
{
	struct kn_stack *s = t->s;
	bool inorder = seq == t->rcv_nxt;
	if (inorder && collapse_target(t, m))
		return true;
	if (!inorder)
		return false;
	while (t->ooo_n && !kn_mem_rcv_room(s, n, true)) {
		ooo_remove(t, t->ooo_n - 1u);
		s->st.tcp_ooo_pruned++;
	}
	if (kn_mem_rcv_room(s, n, true))
		return true;
	if (rcv_admit(t, seq, n) != KN_DROP_NONE)
		return false;
	s->st.tcp_rcv_admitted++;
	return true;
}

/* Why rcv_mem_ok() refused @m at @seq: the reason its drop is counted by. */
static enum kn_drop_reason rcv_mem_refusal(const struct kn_tcb *t, uint32_t seq,
					   const struct rte_mbuf *m)
{
	if (seq != t->rcv_nxt)
		return KN_DROP_TCP_RCV_OOO_NO_MEMORY;
	enum kn_drop_reason r = rcv_admit(t, seq, kn_mbuf_nsegs(m));
	return r != KN_DROP_NONE ? r : KN_DROP_TCP_RCV_NO_MEMORY;
}

/* May the payload @m at @seq (in the window) be queued? Yes if the budget
 * has room for its mbufs, or if it is in order and will be copied into the
 * receive queue's tail (charging nothing). Over the receive budget, an
 * in-order segment first takes the memory of the out-of-order queue, from
 * its far end (Linux's tcp_prune_ofo_queue): the hole must be filled before
 * any of it can be read anyway. What was SACKed is reneged on: the sender
 * keeps SACKed data until it is cumulatively acknowledged, and its
 * retransmission timeout forgets the blocks (RFC 2018 §8). Then admission
 * decides (rcv_admit). The room check comes first: it is the common
 * answer, and cheap (inline, once per data segment). */
static inline bool rcv_mem_ok(struct kn_tcb *t, uint32_t seq, const struct rte_mbuf *m)
{
	uint32_t n = kn_mbuf_nsegs(m);
	if (KN_LIKELY(kn_mem_rcv_room(t->s, n, true)))
		return true;
	return rcv_mem_short(t, seq, m, n);
}

/* Cut @n bytes from the front of a payload chain. */
static struct rte_mbuf *chain_adj(struct rte_mbuf *m, uint32_t n)
{
	while (m && n) {
		if (m->data_len > n) {
			m->data_off += n;
			m->data_len -= n;
			m->pkt_len -= n;
			return m;
		}
		n -= m->data_len;
		struct rte_mbuf *next = m->next;
		uint32_t left = m->pkt_len - m->data_len;
		m->next = NULL;
		rte_pktmbuf_free_seg(m);
		m = next;
		if (m) {
			m->pkt_len = left;
			m->nb_segs = 1;
			for (struct rte_mbuf *x = m->next; x; x = x->next)
				m->nb_segs++;
		}
	}
	return m;
}

/* Insert an out-of-order segment; overlaps are trimmed away. @return false
 * if it was dropped (queue full). @m is consumed either way. */
static bool ooo_insert(struct kn_tcb *t, uint32_t seq, uint32_t len, bool fin, struct rte_mbuf *m)
{
	struct kn_stack *s = t->s;
	uint32_t max = s->conf.tcp.ooo_max;
	if (!t->ooo) {
		t->ooo = calloc(max ? max : 1, sizeof(*t->ooo));
		if (!t->ooo) {
			kn_drop(s, m, KN_DROP_TCP_OOO_FULL);
			return false;
		}
	}
	unsigned i = 0;
	while (i < t->ooo_n && SEQ_LT(t->ooo[i].seq, seq))
		i++;
	/* Already queued from the same start: a duplicate (D-SACK). */
	if (!fin && i < t->ooo_n && t->ooo[i].seq == seq &&
	    SEQ_GEQ(t->ooo[i].seq + t->ooo[i].len, seq + len)) {
		kn_tcp_sack_dsack(t, seq, seq + len);
		if (m)
			rte_pktmbuf_free(m);
		return true;
	}
	/* Trim the front against the previous entry. */
	if (i > 0) {
		struct kn_ooo_seg *p = &t->ooo[i - 1];
		uint32_t pend = p->seq + p->len;
		if (SEQ_GT(pend, seq)) {
			uint32_t cut = pend - seq;
			if (cut >= len) {
				if (fin && !p->fin && cut == len && seq + len == pend) {
					p->fin = true;  /* a bare FIN right after it */
				}
				kn_tcp_sack_dsack(t, seq, seq + len);
				if (m)
					rte_pktmbuf_free(m);
				return true;
			}
			m = chain_adj(m, cut);
			seq += cut;
			len -= cut;
		}
	}
	/* Entries the new one covers completely go; a partial one cuts our tail. */
	while (i < t->ooo_n && SEQ_LEQ(t->ooo[i].seq + t->ooo[i].len, seq + len)) {
		if (t->ooo[i].fin && t->ooo[i].seq + t->ooo[i].len != seq + len)
			break;
		fin = fin || t->ooo[i].fin;
		ooo_remove(t, i);
	}
	if (i < t->ooo_n && SEQ_GT(seq + len, t->ooo[i].seq)) {
		uint32_t keep = t->ooo[i].seq - seq;
		if (keep == 0) {
			kn_tcp_sack_dsack(t, seq, seq + len);
			if (m)
				rte_pktmbuf_free(m);
			return true;
		}
		kn_mbuf_trim_to(m, keep);
		len = keep;
		fin = false;
	}
	/* Right after the previous entry: copy a small payload into its last
	 * buffer, as rcvq_append() does. */
	if (i > 0 && m && len && !t->ooo[i - 1].fin && t->ooo[i - 1].m &&
	    t->ooo[i - 1].seq + t->ooo[i - 1].len == seq) {
		struct kn_ooo_seg *p = &t->ooo[i - 1];
		struct rte_mbuf *last = rte_pktmbuf_lastseg(p->m);
		if (len <= rte_pktmbuf_tailroom(last) && RTE_MBUF_DIRECT(last) &&
		    rte_mbuf_refcnt_read(last) == 1 &&
		    (len * 4 <= m->buf_len || !kn_mem_rcv_room(s, 1, false))) {
			chain_copy(rte_pktmbuf_mtod_offset(last, uint8_t *, last->data_len), m);
			last->data_len = (uint16_t)(last->data_len + len);
			p->m->pkt_len += len;
			p->len += len;
			p->fin = fin;
			s->st.tcp_ooo_collapsed++;
			rte_pktmbuf_free(m);
			return true;
		}
	}
	if (t->ooo_n >= max) {
		if (m)
			kn_drop(s, m, KN_DROP_TCP_OOO_FULL);
		else
			s->st.drops[KN_DROP_TCP_OOO_FULL]++;
		return false;
	}
	memmove(&t->ooo[i + 1], &t->ooo[i], (t->ooo_n - i) * sizeof(t->ooo[0]));
	t->ooo[i] = (struct kn_ooo_seg){.seq = seq, .len = len, .fin = fin, .m = m};
	t->ooo_n++;
	if (m) {
		uint32_t n = kn_mbuf_nsegs(m);
		t->ooo_nmb += n;
		kn_mem_rcv_charge(s, n);
	}
	s->st.tcp_ooo_queued++;
	return true;
}

/* Move what the out-of-order queue now continues into the receive queue.
 * @return true if a FIN became in order. */
static bool ooo_drain(struct kn_tcb *t)
{
	bool fin = false;
	while (t->ooo_n && SEQ_LEQ(t->ooo[0].seq, t->rcv_nxt)) {
		struct kn_ooo_seg e = t->ooo[0];
		memmove(&t->ooo[0], &t->ooo[1], (t->ooo_n - 1) * sizeof(t->ooo[0]));
		t->ooo_n--;
		if (e.m) {
			/* Out of the ooo queue's charge; rcvq_append() charges
			 * what it keeps. */
			uint32_t n = kn_mbuf_nsegs(e.m);
			t->ooo_nmb -= n;
			kn_mem_rcv_release(t->s, n);
		}
		uint32_t end = e.seq + e.len;
		if (SEQ_LT(t->rcv_nxt, end)) {
			uint32_t cut = t->rcv_nxt - e.seq;
			struct rte_mbuf *m = chain_adj(e.m, cut);
			t->rcv_nxt = end;
			t->s->st.tcp_bytes_rx += e.len - cut;
			rcvq_append(t, m);
		} else if (e.m) {
			rte_pktmbuf_free(e.m);
		}
		if (e.fin && end == t->rcv_nxt) {
			fin = true;
			break;
		}
	}
	return fin;
}

/* RFC 9293 §3.10.7.1: no connection. */
static void closed_input(struct kn_stack *s, struct kn_seg *sg, struct rte_mbuf *m)
{
	if (!(sg->flags & KN_TH_RST)) {
		if (sg->flags & KN_TH_ACK)
			kn_tcp_respond(s, sg, sg->ack, 0, KN_TH_RST);
		else
			kn_tcp_respond(s, sg, 0,
				       sg->seq + sg->len + !!(sg->flags & KN_TH_SYN) + !!(sg->flags & KN_TH_FIN),
				       KN_TH_RST | KN_TH_ACK);
	}
	kn_drop(s, m, KN_DROP_TCP_NO_SOCKET);
}

static void apply_syn_options(struct kn_tcb *t, const struct kn_seg *sg)
{
	const struct kn_tcp_conf *c = &t->s->conf.tcp;
	if (sg->opt.has_ts && c->timestamps) {
		t->flags |= TF_TS;
		t->ts_recent = sg->opt.tsval;
		t->ts_recent_age = t->s->now;
	}
	if (sg->opt.has_wscale && c->wscale) {
		t->flags |= TF_WS;
		t->snd_wscale = sg->opt.wscale;
		t->rcv_wscale = t->req_wscale;
	} else {
		t->snd_wscale = t->rcv_wscale = 0;
	}
	if (sg->opt.has_sackok && c->sack)
		t->flags |= TF_SACK;
	kn_tcp_mss_init(t, &sg->opt);
}

/* RFC 9293 §3.10.7.2: LISTEN. @tw_iss: the ISN to use, when the SYN takes
 * over a 4-tuple from TIME_WAIT; 0: a fresh one (RFC 6528). */
static void listen_input(struct kn_stack *s, struct kn_tcb *l, struct kn_seg *sg, struct rte_mbuf *m,
			 uint32_t tw_iss)
{
	/* First: check for a RST. */
	if (sg->flags & KN_TH_RST) {
		kn_drop(s, m, KN_DROP_TCP_BAD_FLAGS);
		return;
	}
	/* Second: check for an ACK. */
	if (sg->flags & KN_TH_ACK) {
		kn_tcp_respond(s, sg, sg->ack, 0, KN_TH_RST);
		kn_drop(s, m, KN_DROP_TCP_BAD_FLAGS);
		return;
	}
	/* Third: check for a SYN. */
	if (!(sg->flags & KN_TH_SYN) || (sg->flags & KN_TH_FIN)) {
		kn_drop(s, m, KN_DROP_TCP_BAD_FLAGS);
		return;
	}
	if (l->acceptq_n >= l->backlog) {
		/* The application is not keeping up: as Linux, no new SYNs. */
		kn_drop(s, m, KN_DROP_TCP_LISTEN_OVERFLOW);
		return;
	}
	/* A full SYN queue (or no TCB to spare): a SYN cookie, which costs
	 * nothing to keep (RFC 4987 §3.6); without cookies, the oldest
	 * half-open connection makes room (RFC 4987 §3.4, random drop's
	 * deterministic cousin, as FreeBSD's syncache). */
	bool full = l->synq_n >= s->conf.tcp.syn_backlog;
	struct kn_tcb *t = full ? NULL : kn_tcb_alloc(s);
	if (!t) {
		if (s->conf.tcp.syncookies) {
			kn_syncookie_send(s, l, sg);
			rte_pktmbuf_free(m);
			return;
		}
		struct kn_tcb *old = TAILQ_FIRST(&l->synq);
		if (old) {
			s->st.tcp_synq_evicted++;
			kn_tcp_closed(old);
			t = kn_tcb_alloc(s);
		}
		if (!t) {
			kn_drop(s, m, KN_DROP_TCP_LISTEN_OVERFLOW);
			return;
		}
	}
	t->lip = sg->dst;
	t->lport = sg->dport;
	t->rip = sg->src;
	t->rport = sg->sport;
	t->irs = sg->seq;
	t->rcv_nxt = sg->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	t->iss = tw_iss ? tw_iss : kn_tcp_isn(s, t->lip, t->lport, t->rip, t->rport);
	t->snd_una = t->snd_nxt = t->snd_max = t->recover = t->iss;
	apply_syn_options(t, sg);
	t->snd_wnd = sg->wnd;            /* never scaled in a SYN */
	t->max_sndwnd = t->snd_wnd;
	t->snd_wl1 = sg->seq;
	t->snd_wl2 = t->iss;
	t->last_rx = s->now;
	kn_tcp_set_state(t, KN_TCP_SYN_RECEIVED);
	kn_tcb_hash(s, t);
	t->listener = l;
	t->flags |= TF_SYNQ;
	TAILQ_INSERT_TAIL(&l->synq, t, q_link);
	l->synq_n++;
	s->st.tcp_passive_opens++;
	/* Data on a SYN is not queued: the peer sends it again. */
	rte_pktmbuf_free(m);
	kn_tcp_output(t);
	/* Even if the SYN-ACK could not be built (no mbuf), the entry must
	 * time out: a half-open entry without a timer would hold its slot
	 * in the SYN queue for ever. */
	if (!t->t_rexmt)
		kn_tcp_timer_rexmt_arm(t);
}

/* An ACK to a listener that sent SYN cookies lately, without a TCB: the
 * third segment of a handshake whose SYN-ACK was a cookie, or a forgery. A
 * valid cookie makes the connection, straight to ESTABLISHED and the accept
 * queue; anything else gets the RST LISTEN would give it (Linux
 * cookie_v4_check, FreeBSD syncookie_lookup). @return the new connection
 * if the segment carries data or FIN for it to take (the caller passes it
 * on), else NULL (@m consumed). */
static struct kn_tcb *cookie_ack_input(struct kn_stack *s, struct kn_tcb *l, struct kn_seg *sg,
			     struct rte_mbuf *m)
{
	struct kn_tcp_opts o;
	if (!kn_syncookie_check(s, sg, &o)) {
		kn_tcp_respond(s, sg, sg->ack, 0, KN_TH_RST);
		kn_drop(s, m, KN_DROP_TCP_SYNCOOKIE_BAD);
		return NULL;
	}
	struct kn_tcb *t = l->acceptq_n < l->backlog ? kn_tcb_alloc(s) : NULL;
	if (!t) {
		/* The peer will retransmit (or send data) and try again. */
		kn_drop(s, m, KN_DROP_TCP_LISTEN_OVERFLOW);
		return NULL;
	}
	t->lip = sg->dst;
	t->lport = sg->dport;
	t->rip = sg->src;
	t->rport = sg->sport;
	t->irs = sg->seq - 1;
	t->rcv_nxt = sg->seq;
	/* The window the SYN-ACK offered (never scaled in a SYN): data may
	 * already be on its way, even in this very segment. */
	t->rcv_adv = t->rcv_nxt + RTE_MIN(kn_tcp_rcv_space(t), 65535u);
	t->iss = sg->ack - 1;
	t->snd_una = t->snd_nxt = t->snd_max = t->recover = sg->ack;
	struct kn_seg syn = *sg;
	syn.opt = o;
	apply_syn_options(t, &syn);
	t->snd_wnd = sg->wnd << t->snd_wscale;
	t->max_sndwnd = t->snd_wnd;
	t->snd_wl1 = sg->seq;
	t->snd_wl2 = sg->ack;
	t->last_rx = s->now;
	kn_tcp_set_state(t, KN_TCP_ESTABLISHED);
	kn_tcb_hash(s, t);
	t->listener = l;
	t->flags |= TF_ACCEPTQ;
	TAILQ_INSERT_TAIL(&l->acceptq, t, q_link);
	l->acceptq_n++;
	s->st.tcp_passive_opens++;
	kn_ev_raise(s, &l->ev, KN_EV_ACCEPT);
	if (sg->len || (sg->flags & KN_TH_FIN))
		return t;                     /* data or FIN with the ACK */
	rte_pktmbuf_free(m);
	return NULL;
}

/* An RTT sample from an ACK that acknowledges new data (or our SYN): the
 * echoed timestamp (RFC 7323 §4.1), else the timed segment (Karn). The
 * handshake counts too, as in Linux (tcp_synack_rtt_meas): without it the
 * first RTO stays at rto_init. */
static inline __attribute__((always_inline)) int64_t rtt_sample(struct kn_tcb *t,
								   const struct kn_seg *sg)
{
	struct kn_stack *s = t->s;
	int64_t rtt = -1;
	if ((t->flags & TF_TS) && sg->opt.has_ts && sg->opt.tsecr) {
		uint32_t d = kn_tcp_ts_now(s) + t->ts_offset - sg->opt.tsecr;
		if (d < 0x7fffffff) {
			rtt = (int64_t)d * (1000000000LL / KN_TCP_TS_HZ);
			kn_tcp_rtt_update(t, rtt);
		}
		t->rttstart = 0;
	} else if (t->rttstart && SEQ_GT(sg->ack, t->rtseq)) {
		rtt = s->now - t->rttstart;
		kn_tcp_rtt_update(t, rtt);
		t->rttstart = 0;
	}
	return rtt;
}

/* RFC 9293 §3.10.7.3: SYN-SENT. */
static void synsent_input(struct kn_stack *s, struct kn_tcb *t, struct kn_seg *sg, struct rte_mbuf *m)
{
	bool ack = sg->flags & KN_TH_ACK;
	/* First: check the ACK. */
	if (ack && (SEQ_LEQ(sg->ack, t->iss) || SEQ_GT(sg->ack, t->snd_max))) {
		if (!(sg->flags & KN_TH_RST))
			kn_tcp_respond(s, sg, sg->ack, 0, KN_TH_RST);
		kn_drop(s, m, KN_DROP_TCP_OLD_ACK);
		return;
	}
	/* Second: check the RST. */
	if (sg->flags & KN_TH_RST) {
		rte_pktmbuf_free(m);
		if (ack) {
			s->st.tcp_resets_rx++;
			t->error = -ECONNREFUSED;
			kn_tcp_closed(t);
		} else {
			s->st.drops[KN_DROP_TCP_RST_INVALID]++;
		}
		return;
	}
	/* Fourth: check the SYN. */
	if (!(sg->flags & KN_TH_SYN)) {
		kn_drop(s, m, KN_DROP_TCP_BAD_FLAGS);
		return;
	}
	t->irs = sg->seq;
	t->rcv_nxt = sg->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	apply_syn_options(t, sg);
	t->snd_wnd = sg->wnd;
	t->max_sndwnd = t->snd_wnd;
	t->snd_wl1 = sg->seq;
	t->snd_wl2 = sg->ack;
	t->last_rx = s->now;
	rte_pktmbuf_free(m); /* data on a SYN is not queued */
	if (ack) {
		t->snd_una = sg->ack;
		rtt_sample(t, sg);
		t->t_rexmt = 0;
		t->rxtshift = 0;
		kn_tcp_set_state(t, KN_TCP_ESTABLISHED);
		if (t->flags & TF_KEEPALIVE)
			kn_tcp_timer_set(t, &t->t_keep, s->conf.tcp.keepidle_ns);
		kn_ev_raise(s, &t->ev, KN_EV_CONNECTED | KN_EV_WRITABLE);
		kn_tcp_send_ack(t);
		return;
	}
	/* Simultaneous open: SYN-RECEIVED, send SYN,ACK. */
	kn_tcp_set_state(t, KN_TCP_SYN_RECEIVED);
	t->snd_nxt = t->iss;
	t->rttstart = 0;
	kn_tcp_output(t);
}

/* RFC 5681 §3.2 and RFC 6582: a duplicate ACK. */
static void dupack(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	s->st.tcp_dupacks++;
	if (t->flags & TF_INRECOVERY) {
		/* RFC 6675: pipe, not an inflated cwnd, says what may go. */
		if (!(t->flags & TF_SACK_RECOV))
			t->cwnd = kn_tcp_cwnd_add(t->cwnd, t->mss); /* inflate */
		kn_tcp_output(t);
		return;
	}
	if (++t->dupacks < KN_TCP_DUPTHRESH) {
		/* RFC 3042 limited transmit (RFC 6675 §5 step 2), with SACK:
		 * each of the first two duplicates lets one new segment go
		 * past cwnd (the flight at most cwnd + 2 SMSS). A small
		 * window otherwise never gets the three duplicates that a
		 * loss needs: on the lossy fake link nearly every RTO came
		 * with 2 or 3 segments in flight and one lost. */
		if ((t->flags & TF_SACK) && t->snd_nxt == t->snd_max) {
			uint32_t cwnd = t->cwnd;
			t->cwnd = kn_tcp_cwnd_add(cwnd, t->dupacks * (uint32_t)t->mss);
			kn_tcp_output(t);
			t->cwnd = cwnd;
		}
		return;
	}
	/* RFC 6582 §3.2 (2): only if this loss is past the last recovery. */
	if (SEQ_LT(t->snd_una, t->recover))
		return;
	/* With SACK blocks to go by, RFC 6675; else NewReno (a peer that
	 * agreed to SACK but sends no block gets NewReno too). */
	if (t->flags & TF_SB) {
		kn_tcp_sack_try_enter(t);
		return;
	}
	kn_tcp_cc_loss(t, false);
	t->recover = t->snd_max;
	t->flags |= TF_INRECOVERY;
	s->st.tcp_fast_rexmt++;
	s->st.tcp_recoveries++;
	t->rttstart = 0;
	/* Retransmit the first unacknowledged segment. */
	uint32_t save = t->snd_nxt;
	t->snd_nxt = t->snd_una;
	t->snd_cur = NULL;
	t->cwnd = t->mss;
	kn_tcp_output(t);
	t->cwnd = t->ssthresh + 3u * t->mss;
	if (SEQ_GT(save, t->snd_nxt))
		t->snd_nxt = save;
	kn_tcp_output(t);
}

/* A new ACK: RTT, congestion window, send buffer. @return true if our FIN
 * is now acknowledged. Inline into the header-prediction path (once per
 * request/response ACK); the general path calls new_ack_slow. */
static inline __attribute__((always_inline)) bool new_ack(struct kn_tcb *t, struct kn_seg *sg)
{
	struct kn_stack *s = t->s;
	uint32_t acked = sg->ack - t->snd_una;
	uint32_t flight = t->snd_max - t->snd_una;  /* before this ACK */

	int64_t rtt = rtt_sample(t, sg);

	if (t->flags & TF_INRECOVERY) {
		if (t->flags & TF_SACK_RECOV) {
			/* RFC 6675: cwnd stays ssthresh; after an RTO it grows
			 * from one segment (Linux in TCP_CA_Loss). Leave at
			 * RecoveryPoint. */
			if (t->flags & TF_LOSS)
				kn_tcp_cc_ack(t, sg->ack, acked, rtt);
			if (SEQ_GEQ(sg->ack, t->recover))
				t->flags &= ~(TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS);
		} else if (SEQ_GEQ(sg->ack, t->recover)) {
			/* Full ACK: leave recovery (RFC 6582 §3.2 (3)). */
			uint32_t left = t->snd_max - sg->ack;
			t->cwnd = RTE_MIN(t->ssthresh, RTE_MAX(left, (uint32_t)t->mss) + t->mss);
			t->flags &= ~TF_INRECOVERY;
		} else {
			/* Partial ACK: resend the next hole, deflate (§3.2 (4)). */
			t->cwnd = t->cwnd > acked ? t->cwnd - acked : 0;
			t->cwnd = kn_tcp_cwnd_add(t->cwnd, t->mss);
		}
	} else {
		/* RFC 6582's recover is compared modulo 2^32: dragged along
		 * behind SND.UNA, or after 2 GiB without a loss SND.UNA would
		 * seem to lie before it and fast retransmit stayed off for the
		 * next 2 GiB. Out of recovery it only has to stop a new
		 * recovery before SND.UNA passes it (after an RTO). */
		if (SEQ_LT(t->recover, sg->ack))
			t->recover = sg->ack;
		/* Grow only when cwnd was the limit (RFC 7661 §4.2, as Linux's
		 * tcp_is_cwnd_limited, the flight at this ACK standing in for
		 * max_packets_out): in slow start while cwnd < 2 x flight, in
		 * congestion avoidance while the flight filled cwnd to within a
		 * segment. An application that sends little must not build a
		 * window it never tried; nor does it call out (tcp_cc.c). */
		if (t->cwnd < t->ssthresh ? t->cwnd < 2u * flight : flight + t->mss > t->cwnd)
			kn_tcp_cc_ack(t, sg->ack, acked, rtt);
	}
	t->dupacks = 0;

	bool finacked = false;
	uint32_t data = acked;
	if (data > t->sndq_bytes) {
		finacked = true;
		data = t->sndq_bytes;
	}
	kn_tcp_snd_free_acked(t, data);
	t->snd_una = sg->ack;
	if (SEQ_LT(t->snd_nxt, t->snd_una))
		t->snd_nxt = t->snd_una;
	if (t->snd_una == t->snd_max) {
		t->t_rexmt = 0;
		t->rxtshift = 0;
	} else if (!t->t_persist) {
		kn_tcp_timer_rexmt_arm(t);
	}
	if (KN_UNLIKELY(t->flags & TF_SACK_RECOV)) {
		/* Partial ACK: the scoreboard says what goes (RFC 6675 (C)). */
		kn_tcp_output(t);
	} else if (t->flags & TF_INRECOVERY) {
		/* Partial ACK: retransmit the first unacked segment now. */
		uint32_t save = t->snd_nxt;
		t->snd_nxt = t->snd_una;
		uint32_t cw = t->cwnd;
		t->cwnd = t->mss;
		kn_tcp_output(t);
		t->cwnd = cw;
		if (SEQ_GT(save, t->snd_nxt))
			t->snd_nxt = save;
	}
	if (data && (t->flags & TF_APP) && !(t->flags & TF_SHUT_WR))
		kn_ev_raise(s, &t->ev, KN_EV_WRITABLE);
	return finacked;
}

static __attribute__((noinline)) bool new_ack_slow(struct kn_tcb *t, struct kn_seg *sg)
{
	return new_ack(t, sg);
}

/* The FIN is now in order (RFC 9293 §3.10.7.4, eighth). */
static void fin_input(struct kn_tcb *t)
{
	t->rcv_nxt++;
	t->flags |= TF_RCVD_FIN | TF_ACKNOW;
	if (t->flags & TF_APP)
		kn_ev_raise(t->s, &t->ev, KN_EV_READABLE);
	switch (t->state) {
	case KN_TCP_SYN_RECEIVED:
	case KN_TCP_ESTABLISHED:
		kn_tcp_set_state(t, KN_TCP_CLOSE_WAIT);
		break;
	case KN_TCP_FIN_WAIT_1:
		kn_tcp_set_state(t, KN_TCP_CLOSING);
		break;
	case KN_TCP_FIN_WAIT_2:
		kn_tcp_enter_timewait(t);
		break;
	case KN_TCP_TIME_WAIT:
		kn_tcp_timer_set(t, &t->t_2msl, t->s->conf.tcp.time_wait_ns);
		break;
	default:
		break;
	}
}

/* Header prediction (after Van Jacobson, as in BSD's tcp_input): an
 * ESTABLISHED segment that is in order, carries a plausible ACK, leaves the
 * window alone and has nothing else to say is exactly what the general path
 * below would accept; take the short way. @return false to go the long way
 * (nothing has been changed then). */
static bool fast_input(struct kn_stack *s, struct kn_tcb *t, struct kn_seg *sg, struct rte_mbuf *m)
{
	if (t->state != KN_TCP_ESTABLISHED ||
	    (sg->flags & (KN_TH_SYN | KN_TH_FIN | KN_TH_RST | KN_TH_URG | KN_TH_ACK)) != KN_TH_ACK ||
	    sg->seq != t->rcv_nxt || t->ooo_n || sg->opt.sack_n ||
	    (t->flags & (TF_INRECOVERY | TF_SHUT_RD | TF_RCVD_FIN | TF_SB)) ||
	    (sg->wnd << t->snd_wscale) != t->snd_wnd ||
	    SEQ_LT(sg->ack, t->snd_una) || SEQ_GT(sg->ack, t->snd_max) ||
	    (sg->ack == t->snd_una && sg->len == 0) ||
	    SEQ_GT(sg->seq + sg->len, t->rcv_adv) ||
	    (sg->len && !rcv_mem_ok(t, sg->seq, m)))
		return false;
	if (t->flags & TF_TS) {
		if (!sg->opt.has_ts || TSTMP_LT(sg->opt.tsval, t->ts_recent))
			return false;
		/* RFC 7323 §4.3: safe here, the segment is acceptable (at
		 * RCV.NXT, which our last ACK did not pass) and so is its ACK
		 * (within SND.UNA..SND.MAX, the ACK bit set). */
		t->ts_recent = sg->opt.tsval;
		t->ts_recent_age = s->now;
	}
	t->last_rx = s->now;
	if (sg->ack != t->snd_una)
		new_ack(t, sg);
	t->snd_wl1 = sg->seq;
	t->snd_wl2 = sg->ack;
	if (sg->len) {
		t->rcv_nxt += sg->len;
		s->st.tcp_bytes_rx += sg->len;
		rcvq_append(t, m);
		if (s->conf.tcp.delack_ns == 0 || ++t->segs_unacked >= 2) {
			t->flags |= TF_ACKNOW;
		} else if (!t->t_delack) {
			t->flags |= TF_DELACK;
			kn_tcp_timer_set(t, &t->t_delack, s->conf.tcp.delack_ns);
		}
		if (t->flags & TF_APP)
			kn_ev_raise(s, &t->ev, KN_EV_READABLE);
	} else {
		kn_free(s, m);   /* a pure ACK: its buffer may carry the next segment */
	}
	if ((t->flags & TF_ACKNOW) || t->snd_nxt != t->snd_una + t->sndq_bytes ||
	    ((t->flags & TF_SHUT_WR) && !(t->flags & TF_SENTFIN)))
		kn_tcp_output(t);
	return true;
}

/* A SYN for a 4-tuple in TIME_WAIT (RFC 6191, RFC 1122 §4.2.2.13): may it
 * open a new connection? As Linux (tcp_timewait_state_process): yes if it
 * passes PAWS and either its sequence number lies past RCV.NXT or its
 * timestamp is newer than the last one seen; otherwise TIME_WAIT goes on
 * (and the segment gets what sync_input gives it). */
static bool timewait_syn_ok(const struct kn_tcb *t, const struct kn_seg *sg)
{
	if ((sg->flags & (KN_TH_SYN | KN_TH_ACK | KN_TH_RST | KN_TH_FIN)) != KN_TH_SYN)
		return false;
	bool ts = (t->flags & TF_TS) && sg->opt.has_ts;
	if (ts && TSTMP_LT(sg->opt.tsval, t->ts_recent) &&
	    t->s->now - t->ts_recent_age < KN_TCP_PAWS_IDLE_NS)
		return false;
	return SEQ_GT(sg->seq, t->rcv_nxt) || (ts && TSTMP_LT(t->ts_recent, sg->opt.tsval));
}

/* The SYN takes the 4-tuple: TIME_WAIT ends, and the listener (if any) gets
 * the SYN with an ISN past all the old connection sent. No listener: the
 * RST of a closed port. Clients that reuse ports (or whose port range is
 * small) then connect at once instead of after their SYN's first
 * retransmission. */
static __attribute__((cold, noinline)) void timewait_reuse(struct kn_stack *s, struct kn_tcb *t,
							  struct kn_seg *sg, struct rte_mbuf *m)
{
	uint32_t iss = t->snd_max + KN_TCP_TW_ISN_GAP;
	s->st.tcp_timewait_reused++;
	kn_tcp_closed(t);
	struct kn_tcb *l = kn_tcb_listener(s, sg->dport);
	if (l)
		listen_input(s, l, sg, m, iss ? iss : 1);
	else
		closed_input(s, sg, m);
}

/* RFC 9293 §3.10.7.4: every synchronized state (and SYN-RECEIVED). */
static void sync_input(struct kn_stack *s, struct kn_tcb *t, struct kn_seg *sg, struct rte_mbuf *m)
{
	uint8_t fl = sg->flags;

	if (fast_input(s, t, sg, m))
		return;

	if (KN_UNLIKELY(t->state == KN_TCP_TIME_WAIT) && timewait_syn_ok(t, sg)) {
		timewait_reuse(s, t, sg, m);
		return;
	}

	/* RFC 7323 §3.2: once timestamps are agreed, every segment but a RST
	 * carries one; one without is dropped, as FreeBSD does (tcp_input,
	 * unless net.inet.tcp.tolerate_missing_ts). Linux still takes them. */
	if ((t->flags & TF_TS) && !sg->opt.has_ts && !(fl & KN_TH_RST)) {
		kn_drop(s, m, KN_DROP_TCP_NO_TIMESTAMP);
		return;
	}

	/* RFC 7323 §5.3: PAWS, before the sequence check. */
	if ((t->flags & TF_TS) && sg->opt.has_ts && !(fl & KN_TH_RST) &&
	    TSTMP_LT(sg->opt.tsval, t->ts_recent) && s->now - t->ts_recent_age < KN_TCP_PAWS_IDLE_NS) {
		kn_tcp_send_oow_ack(t, sg);
		kn_drop(s, m, KN_DROP_TCP_PAWS);
		return;
	}

	/* Simultaneous open (RFC 9293 figure 8, line 6): the peer's SYN-ACK
	 * repeats the SYN we already took, one before RCV.NXT, and acknowledges
	 * ours. A Linux peer is ESTABLISHED by then and sends nothing more:
	 * take it as the ACK that completes the handshake, as Linux does. */
	if (KN_UNLIKELY(t->state == KN_TCP_SYN_RECEIVED) && !t->listener &&
	    (fl & (KN_TH_SYN | KN_TH_ACK | KN_TH_RST | KN_TH_FIN)) == (KN_TH_SYN | KN_TH_ACK) &&
	    sg->seq == t->irs && sg->len == 0 && SEQ_GT(sg->ack, t->snd_una) &&
	    SEQ_LEQ(sg->ack, t->snd_max)) {
		fl &= (uint8_t)~KN_TH_SYN;
		sg->seq++;
	}

	/* First: check the sequence number. */
	uint32_t wnd = SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t seglen = sg->len + !!(fl & KN_TH_SYN) + !!(fl & KN_TH_FIN);
	bool ok;
	if (seglen == 0)
		ok = wnd == 0 ? sg->seq == t->rcv_nxt : SEQ_IN(sg->seq, t->rcv_nxt, t->rcv_nxt + wnd);
	else if (wnd == 0)
		ok = sg->seq == t->rcv_nxt;   /* ACK and RST still count; data is cut below */
	else
		ok = SEQ_IN(sg->seq, t->rcv_nxt, t->rcv_nxt + wnd) ||
		     SEQ_IN(sg->seq + seglen - 1, t->rcv_nxt, t->rcv_nxt + wnd);
	if (!ok) {
		/* Data entirely below RCV.NXT: a duplicate (RFC 2883 D-SACK). */
		if (sg->len && !(fl & KN_TH_RST) && SEQ_LEQ(sg->seq + sg->len, t->rcv_nxt))
			kn_tcp_sack_dsack(t, sg->seq, sg->seq + sg->len);
		if (!(fl & KN_TH_RST)) {
			if (t->state == KN_TCP_TIME_WAIT && (fl & KN_TH_FIN))
				kn_tcp_timer_set(t, &t->t_2msl, s->conf.tcp.time_wait_ns);
			kn_tcp_send_oow_ack(t, sg);
		}
		kn_drop(s, m, (fl & KN_TH_RST) ? KN_DROP_TCP_RST_INVALID : KN_DROP_TCP_OUT_OF_WINDOW);
		return;
	}
	/* Trim to the window: the front that was already received ... A SYN
	 * is not trimmed as old (RFC 793 did): it gets the challenge ACK below
	 * whatever its sequence number (RFC 9293 §3.10.7.4), and none of its
	 * data is taken. */
	if (SEQ_LT(sg->seq, t->rcv_nxt) && !(fl & KN_TH_SYN)) {
		uint32_t cut = t->rcv_nxt - sg->seq;
		if (cut > sg->len) {
			fl &= (uint8_t)~KN_TH_FIN;
			cut = sg->len;
		}
		if (cut && !(fl & KN_TH_RST))
			kn_tcp_sack_dsack(t, sg->seq, sg->seq + cut);
		m = chain_adj(m, cut);
		sg->seq += cut;
		sg->len -= cut;
	}
	/* ... and what lies past the right edge. */
	if (SEQ_GT(sg->seq + sg->len, t->rcv_nxt + wnd) && !(fl & KN_TH_SYN)) {
		uint32_t keep = t->rcv_nxt + wnd - sg->seq;
		if (sg->len - keep) {
			/* Data past the window: tell the peer where it stands. */
			s->st.drops[KN_DROP_TCP_RCVBUF_FULL]++;
			t->flags |= TF_ACKNOW;
		}
		if (m)
			kn_mbuf_trim_to(m, keep);
		sg->len = keep;
		fl &= (uint8_t)~KN_TH_FIN;
	}

	/* Second: check the RST (RFC 5961 §3.2). */
	if (fl & KN_TH_RST) {
		if (sg->seq != t->rcv_nxt) {
			kn_tcp_send_challenge_ack(t);
			kn_drop(s, m, KN_DROP_TCP_RST_CHALLENGE);
			return;
		}
		if (m)
			rte_pktmbuf_free(m);
		s->st.tcp_resets_rx++;
		switch (t->state) {
		case KN_TCP_SYN_RECEIVED:
			if (!t->listener)
				t->error = -ECONNREFUSED;
			break;
		case KN_TCP_ESTABLISHED:
		case KN_TCP_FIN_WAIT_1:
		case KN_TCP_FIN_WAIT_2:
		case KN_TCP_CLOSE_WAIT:
			t->error = -ECONNRESET;
			break;
		default:
			break;
		}
		kn_tcp_closed(t);
		return;
	}

	/* Third: security/compartment — nothing to check. */

	/* Fourth: a SYN here gets a challenge ACK (RFC 5961 §4.2). */
	if (fl & KN_TH_SYN) {
		kn_tcp_send_challenge_ack(t);
		kn_drop(s, m, KN_DROP_TCP_SYN_CHALLENGE);
		return;
	}

	/* Fifth: check the ACK field. */
	if (!(fl & KN_TH_ACK)) {
		kn_drop(s, m, KN_DROP_TCP_BAD_FLAGS);
		return;
	}
	t->last_rx = s->now;
	if (t->state == KN_TCP_SYN_RECEIVED) {
		if (!(SEQ_LT(t->snd_una, sg->ack) && SEQ_LEQ(sg->ack, t->snd_max))) {
			kn_tcp_respond(s, sg, sg->ack, 0, KN_TH_RST);
			kn_drop(s, m, KN_DROP_TCP_OLD_ACK);
			return;
		}
		struct kn_tcb *l = t->listener;
		if (l && l->acceptq_n >= l->backlog) {
			kn_drop(s, m, KN_DROP_TCP_LISTEN_OVERFLOW);
			return;
		}
		kn_tcp_set_state(t, (t->flags & TF_SHUT_WR) ? KN_TCP_FIN_WAIT_1 : KN_TCP_ESTABLISHED);
		t->snd_una++;              /* our SYN */
		if (t->snd_una == t->snd_max) {
			t->t_rexmt = 0;
			t->rxtshift = 0;
		}
		t->snd_wnd = sg->wnd << t->snd_wscale;
		t->max_sndwnd = RTE_MAX(t->max_sndwnd, t->snd_wnd);
		t->snd_wl1 = sg->seq;
		t->snd_wl2 = sg->ack;
		rtt_sample(t, sg);
		if (t->flags & TF_KEEPALIVE)
			kn_tcp_timer_set(t, &t->t_keep, s->conf.tcp.keepidle_ns);
		if (l) {
			TAILQ_REMOVE(&l->synq, t, q_link);
			l->synq_n--;
			t->flags = (t->flags & ~TF_SYNQ) | TF_ACCEPTQ;
			TAILQ_INSERT_TAIL(&l->acceptq, t, q_link);
			l->acceptq_n++;
			kn_ev_raise(s, &l->ev, KN_EV_ACCEPT);
		} else {
			kn_ev_raise(s, &t->ev, KN_EV_CONNECTED | KN_EV_WRITABLE);
		}
	}
	bool finacked = false;
	if (SEQ_GT(sg->ack, t->snd_max)) {
		/* RFC 9293: ACK for something not yet sent. */
		kn_tcp_send_oow_ack(t, sg);
		kn_drop(s, m, KN_DROP_TCP_ACK_FUTURE);
		return;
	}
	uint32_t maxwnd = RTE_MAX(t->max_sndwnd, (uint32_t)t->mss);
	if (SEQ_LT(sg->ack, t->snd_una - maxwnd)) {
		/* RFC 5961 §5.2: too old to be real. */
		kn_tcp_send_challenge_ack(t);
		kn_drop(s, m, KN_DROP_TCP_OLD_ACK);
		return;
	}
	/* RFC 7323 §4.3, as Linux tcp_replace_ts_recent from tcp_ack: only
	 * now, with the segment in the window and its ACK found acceptable,
	 * may its TSval become the one to echo. Earlier, one blind segment
	 * (no ACK, or an ACK nowhere near) with a TSval from the future would
	 * make PAWS drop everything the real peer sends. */
	if (sg->opt.has_ts && (t->flags & TF_TS) && SEQ_LEQ(sg->seq, t->rcv_nxt) &&
	    (TSTMP_GEQ(sg->opt.tsval, t->ts_recent) ||
	     s->now - t->ts_recent_age >= KN_TCP_PAWS_IDLE_NS)) {
		t->ts_recent = sg->opt.tsval;
		t->ts_recent_age = s->now;
	}
	uint32_t nwnd = sg->wnd << t->snd_wscale;
	bool acks_new = SEQ_GT(sg->ack, t->snd_una);
	/* RFC 6675 Update(): the scoreboard first, at the ACK's SND.UNA. */
	bool newsack = false;
	if (KN_UNLIKELY(sg->opt.sack_n) || KN_UNLIKELY(t->flags & TF_SB))
		newsack = kn_tcp_sack_input(t, sg);
	bool isdup = false;
	if (!acks_new) {
		/* A duplicate ACK (RFC 5681 §2) only while the retransmission
		 * timer runs, as FreeBSD (tcp_do_segment: no TT_REXMT, no
		 * t_dupacks): the answers to our zero-window probes, which the
		 * persist timer times, repeat SND.UNA with the same window, and
		 * three of them made a spurious fast retransmit. Nor with a
		 * zero window: what a shut window answers was refused, not
		 * lost behind a hole. With SACK, RFC 6675 §2's definition:
		 * one whose blocks tell nothing new is no duplicate (repeated
		 * or forged blocks do not start a recovery), one that SACKs
		 * new data is one even if the window moved (a receiver's
		 * window shrinks as its out-of-order queue fills). */
		bool sackdup = (t->flags & TF_SACK) && sg->opt.sack_n;
		if (sg->ack == t->snd_una && sg->len == 0 && !(fl & KN_TH_FIN) &&
		    (nwnd == t->snd_wnd || newsack) && t->snd_una != t->snd_max && t->t_rexmt &&
		    nwnd && (newsack || !sackdup))
			isdup = true;
	} else {
		finacked = new_ack_slow(t, sg);
	}
	/* Send window update: the SND.WL1/WL2 rule, or an ACK of new data, as
	 * Linux's tcp_may_update_window. With the strict rule, one in-window
	 * segment whose sequence ran ahead (it carried no data) pinned WL1:
	 * the window it shut never reopened, and the connection sent one-byte
	 * probes for ever although every probe was ACKed with an open window
	 * (found by fuzz_net_rx). */
	if (acks_new || SEQ_LT(t->snd_wl1, sg->seq) ||
	    (t->snd_wl1 == sg->seq && SEQ_LEQ(t->snd_wl2, sg->ack))) {
		uint32_t oldwnd = t->snd_wnd;
		t->snd_wnd = nwnd;
		t->snd_wl1 = sg->seq;
		t->snd_wl2 = sg->ack;
		if (nwnd > t->max_sndwnd)
			t->max_sndwnd = nwnd;
		if (nwnd && t->t_persist) {
			/* Out of persist; after zero-window probes, resend from
			 * the probe on. */
			t->t_persist = 0;
			t->persist_shift = 0;
			if (oldwnd == 0) {
				t->snd_nxt = t->snd_una;
				t->snd_cur = NULL;
			}
			if (t->snd_una != t->snd_max)
				kn_tcp_timer_rexmt_arm(t);
		}
	}
	/* After the window update: what a duplicate sends (limited transmit,
	 * recovery) must fit the window this very ACK advertised. */
	if (isdup)
		dupack(t);
	/* RFC 6675 §5: the scoreboard alone may show a loss (IsLost(HighACK
	 * + 1)) before DupThresh duplicate ACKs, or on an ACK that also moved
	 * SND.UNA or the window. */
	if (KN_UNLIKELY(newsack) && !(t->flags & TF_INRECOVERY) && kn_tcp_sack_una_lost(t) &&
	    SEQ_GEQ(t->snd_una, t->recover) && t->snd_una != t->snd_max && t->t_rexmt)
		kn_tcp_sack_try_enter(t);
	if (KN_UNLIKELY(t->flags & TF_REO))
		kn_tcp_sack_reo_ack(t);
	switch (t->state) {
	case KN_TCP_FIN_WAIT_1:
		if (finacked) {
			kn_tcp_set_state(t, KN_TCP_FIN_WAIT_2);
			if (!(t->flags & TF_APP))
				kn_tcp_timer_set(t, &t->t_2msl, 60 * 1000000000LL);
		}
		break;
	case KN_TCP_CLOSING:
		if (finacked)
			kn_tcp_enter_timewait(t);
		break;
	case KN_TCP_LAST_ACK:
		if (finacked) {
			if (m)
				rte_pktmbuf_free(m);
			kn_tcp_closed(t);
			return;
		}
		break;
	default:
		break;
	}

	/* Sixth: the URG bit — urgent data is not supported; read inline. */

	/* Seventh: process the segment text. */
	bool fin = false;
	if (sg->len && (t->state == KN_TCP_ESTABLISHED || t->state == KN_TCP_FIN_WAIT_1 ||
			t->state == KN_TCP_FIN_WAIT_2)) {
		if (t->flags & TF_SHUT_RD) {
			/* Data for a socket the application closed: reset. */
			kn_drop(s, m, KN_DROP_TCP_CLOSED_SOCKET);
			kn_tcp_drop(t, 0);
			return;
		}
		if (!rcv_mem_ok(t, sg->seq, m)) {
			/* Over the receive budget: the text is dropped without
			 * an ACK (Linux: tcp_data_queue, TCPRcvQDrop) and comes
			 * again; the ACK and window it carried were taken above,
			 * so send memory keeps being freed. A FIN on it waits
			 * with it. */
			kn_drop(s, m, rcv_mem_refusal(t, sg->seq, m));
			if (sg->seq == t->rcv_nxt) {
				t->flags |= TF_RCV_DROPPED;
				t->rcv_drop_seq = sg->seq;
			}
			m = NULL;
		} else if (sg->seq == t->rcv_nxt && t->ooo_n == 0) {
			t->rcv_nxt += sg->len;
			s->st.tcp_bytes_rx += sg->len;
			rcvq_append(t, m);
			m = NULL;
			fin = fl & KN_TH_FIN;
			if (s->conf.tcp.delack_ns == 0 || ++t->segs_unacked >= 2 || fin) {
				t->flags |= TF_ACKNOW;
			} else if (!t->t_delack) {
				t->flags |= TF_DELACK;
				kn_tcp_timer_set(t, &t->t_delack, s->conf.tcp.delack_ns);
			}
		} else {
			bool filled = sg->seq == t->rcv_nxt;
			if (filled) {
				t->rcv_nxt += sg->len;
				s->st.tcp_bytes_rx += sg->len;
				rcvq_append(t, m);
				fin = fl & KN_TH_FIN;
			} else if (ooo_insert(t, sg->seq, sg->len, fl & KN_TH_FIN, m) &&
				   (t->flags & TF_SACK)) {
				kn_tcp_sack_rcv_note(t, sg->seq);
			}
			m = NULL;
			if (!fin)
				fin = ooo_drain(t);
			/* Out of order or filling a hole: ACK at once (RFC 5681 §4.2). */
			t->flags |= TF_ACKNOW;
		}
		if (t->flags & TF_APP)
			kn_ev_raise(s, &t->ev, KN_EV_READABLE);
	} else if ((fl & KN_TH_FIN) && sg->len == 0 && sg->seq != t->rcv_nxt &&
		   t->state <= KN_TCP_FIN_WAIT_2) {
		/* A bare FIN ahead of a hole waits in the queue. */
		ooo_insert(t, sg->seq, 0, true, NULL);
		t->flags |= TF_ACKNOW;
	} else {
		fin = (fl & KN_TH_FIN) && sg->seq + sg->len == t->rcv_nxt && !(t->flags & TF_RCVD_FIN);
	}
	if (m)
		rte_pktmbuf_free(m);

	/* Eighth: check the FIN bit. */
	if (fin)
		fin_input(t);
	/* Output only if there is something it could send. */
	if ((t->flags & TF_ACKNOW) || t->snd_nxt != t->snd_una + t->sndq_bytes ||
	    ((t->flags & TF_SHUT_WR) && !(t->flags & TF_SENTFIN)) || t->state == KN_TCP_SYN_RECEIVED)
		kn_tcp_output(t);
}

void kn_tcp_input(struct kn_stack *s, struct rte_mbuf *m)
{
	s->st.tcp_rx++;
	uint32_t hl = m->l3_len;
	uint32_t tlen = m->pkt_len - hl;
	if (KN_UNLIKELY(tlen < sizeof(struct kn_tcp_hdr) ||
			kn_pullup(m, hl + sizeof(struct kn_tcp_hdr)) != 0)) {
		kn_drop(s, m, KN_DROP_TCP_TRUNCATED);
		return;
	}
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	const struct kn_tcp_hdr *th = rte_pktmbuf_mtod_offset(m, const struct kn_tcp_hdr *, hl);
	uint32_t off = (th->off >> 4) * 4u;
	if (KN_UNLIKELY(off < sizeof(*th) || off > tlen)) {
		kn_drop(s, m, KN_DROP_TCP_BAD_OFF);
		return;
	}
	if (KN_UNLIKELY(off > sizeof(*th))) {
		if (kn_pullup(m, hl + off) != 0) {
			kn_drop(s, m, KN_DROP_TCP_TRUNCATED);
			return;
		}
		ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
		th = rte_pktmbuf_mtod_offset(m, const struct kn_tcp_hdr *, hl);
	}
	if (!(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD)) {
		uint32_t sum = kn_pseudo_sum(ip->src, ip->dst, KN_IPPROTO_TCP, (uint16_t)tlen);
		if (KN_UNLIKELY(kn_cksum_fold(kn_cksum_mbuf(sum, m, hl, tlen)) != 0)) {
			kn_drop(s, m, KN_DROP_TCP_BAD_CSUM);
			return;
		}
	}
	if (KN_UNLIKELY(ip->dst != rte_cpu_to_be_32(s->conf.ip))) {
		kn_drop(s, m, KN_DROP_IP_NOT_FOR_US);   /* no TCP to broadcasts */
		return;
	}
	struct kn_seg sg;
	sg.seq = rte_be_to_cpu_32(th->seq);
	sg.ack = rte_be_to_cpu_32(th->ack);
	sg.flags = th->flags;
	sg.wnd = rte_be_to_cpu_16(th->win);
	sg.len = tlen - off;
	sg.src = rte_be_to_cpu_32(ip->src);
	sg.dst = rte_be_to_cpu_32(ip->dst);
	sg.sport = rte_be_to_cpu_16(th->sport);
	sg.dport = rte_be_to_cpu_16(th->dport);
	memset(&sg.opt, 0, offsetof(struct kn_tcp_opts, sack));
	if (off > sizeof(*th) &&
	    kn_tcp_parse_opts((const uint8_t *)(th + 1), off - sizeof(*th), sg.flags & KN_TH_SYN,
			      &sg.opt) != 0) {
		kn_drop(s, m, KN_DROP_TCP_BAD_OPTION);
		return;
	}
	kn_adj_pulled(m, (uint16_t)(hl + off));

	struct kn_tcb *t = kn_tcb_find(s, sg.dst, sg.dport, sg.src, sg.sport);
	if (KN_UNLIKELY(t == NULL)) {
		struct kn_tcb *l = kn_tcb_listener(s, sg.dport);
		if (l && (sg.flags & (KN_TH_SYN | KN_TH_RST | KN_TH_ACK)) == KN_TH_ACK &&
		    kn_syncookie_recent(s, l))
			t = cookie_ack_input(s, l, &sg, m);
		else if (l)
			listen_input(s, l, &sg, m, 0);
		else
			closed_input(s, &sg, m);
		if (!t)
			return;
	}
	/* One call site each: both are inlined here, the per-segment path. */
	if (t->state == KN_TCP_SYN_SENT)
		synsent_input(s, t, &sg, m);
	else
		sync_input(s, t, &sg, m);
}

/* ICMP errors about one of our segments (RFC 5927 checks, RFC 1191 PMTU). */
void kn_tcp_ctlinput(struct kn_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
		     const struct kn_ip4_hdr *ip, const uint8_t *l4, uint32_t l4len)
{
	(void)type;
	if (l4len < 8)
		return;
	const struct kn_tcp_hdr *th = (const struct kn_tcp_hdr *)l4;
	struct kn_tcb *t = kn_tcb_lookup(s, rte_be_to_cpu_32(ip->src), rte_be_to_cpu_16(th->sport),
					 rte_be_to_cpu_32(ip->dst), rte_be_to_cpu_16(th->dport));
	if (!t)
		return;
	uint32_t seq = rte_be_to_cpu_32(th->seq);
	if (!SEQ_IN(seq, t->snd_una, t->snd_max + 1))
		return; /* not about data in flight: forged or stale */
	if (code == KN_ICMP_UNREACH_NEEDFRAG) {
		if (mtu >= s->mtu)
			return;
		/* Believed down to a floor only: a forged MTU of 68 would leave
		 * the connection at 16-byte segments. Below it, as Linux
		 * (__ip_rt_update_pmtu), the floor itself; an MTU of 0 (an
		 * RFC 792 router) too. */
		if (mtu < KN_TCP_MIN_PMTU)
			mtu = KN_TCP_MIN_PMTU;
		uint16_t mss = kn_tcp_mss_limit(mtu, t->peer_mss, t->flags & TF_TS);
		if (mss > t->mss)
			return;
		/* Per connection, forgotten after a while (RFC 1191 §6.3): each
		 * report restarts the clock, as Linux's ip_rt_mtu_expires;
		 * kn_tcp_output raises the mss again once it has run out. */
		t->pmtu_expire = s->now + KN_TCP_PMTU_EXPIRE_NS;
		if (mss < t->mss) {
			s->st.tcp_pmtu_lowered++;
			t->mss = mss;
			t->snd_nxt = t->snd_una;
			t->snd_cur = NULL;
			kn_tcp_output(t);
		}
		return;
	}
	if (t->state == KN_TCP_SYN_SENT &&
	    (code == KN_ICMP_UNREACH_PORT || code == KN_ICMP_UNREACH_PROTO)) {
		t->error = -ECONNREFUSED;
		kn_tcp_closed(t);
	}
}
