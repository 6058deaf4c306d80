/* TCP timers: retransmission (RFC 6298, Karn), persist (zero-window probes),
 * delayed ACK, keepalive (RFC 1122 §4.2.3.6), TIME_WAIT / FIN_WAIT_2. */
#include <errno.h>

#include "tcp.h"

#define PERSIST_MIN_NS (200 * 1000000LL)
#define PERSIST_MAX_NS (60 * 1000000000LL)
#define FIN_WAIT_2_NS (60 * 1000000000LL)

void kn_tcp_persist_arm(struct kn_tcb *t)
{
	int64_t d = (t->srtt ? t->srtt + 4 * t->rttvar : t->rto) << t->persist_shift;
	if (d < PERSIST_MIN_NS)
		d = PERSIST_MIN_NS;
	if (d > PERSIST_MAX_NS)
		d = PERSIST_MAX_NS;
	kn_tcp_timer_set(t, &t->t_persist, d);
}

/* The peer shut its window with data of ours to send or still in flight
 * (it shrank the window, or took the data without room to read it): as
 * FreeBSD (tcp_output, sendwin == 0), the retransmission timer gives way to
 * the persist timer, and sending resumes from SND.UNA when the window
 * opens. Left to the retransmission timer, each timeout cut ssthresh (and
 * sent nothing: the window is shut), and the connection died of
 * max_retries while the peer answered every segment. */
void kn_tcp_persist_shut(struct kn_tcb *t)
{
	t->t_rexmt = 0;
	t->flags &= ~TF_REO;
	t->reo_at = 0;
	t->rxtshift = 0;
	t->snd_nxt = t->snd_una;
	t->snd_cur = NULL;
	kn_tcp_persist_arm(t);
}

/* @return false if @t was closed. */
static bool timer_rexmt(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	const struct kn_tcp_conf *c = &s->conf.tcp;
	if (KN_UNLIKELY(t->flags & TF_REO)) {
		if (kn_tcp_sack_reo_timer(t))
			return true;     /* the reordering window's end (tcp_sack.c) */
		t->flags &= ~TF_REO;
		t->reo_at = 0;
	}
	if (t->snd_wnd == 0 && t->sndq_bytes && t->state >= KN_TCP_ESTABLISHED) {
		kn_tcp_persist_shut(t);
		return true;
	}
	uint32_t limit = t->state <= KN_TCP_SYN_RECEIVED ? c->syn_retries : c->max_retries;
	/* An orphan gets fewer retransmissions (Linux: tcp_orphan_retries). */
	if (!(t->flags & TF_APP) && t->state > KN_TCP_SYN_RECEIVED && limit > KN_TCP_ORPHAN_RETRIES)
		limit = KN_TCP_ORPHAN_RETRIES;
	if (++t->rxtshift > limit) {
		kn_tcp_drop(t, -ETIMEDOUT);
		return false;
	}
	s->st.tcp_rexmt_timeouts++;
	/* Why it fired (bench/wan.py reports them): a recovery's
	 * retransmission was lost too, or the last timeout's was; the rest
	 * are tails no duplicate ACK could show. */
	if ((t->flags & TF_LOSS) || t->rxtshift > 1)
		s->st.tcp_rto_repeat++;
	else if (t->flags & TF_INRECOVERY)
		s->st.tcp_rto_in_recovery++;
	if (t->state <= KN_TCP_SYN_RECEIVED) {
		/* A SYN or SYN-ACK lost: the first window is one segment
		 * (RFC 5681 §3.1, RFC 6928 §2), ssthresh untouched: a
		 * handshake has no flight to halve. As FreeBSD (tcp_timer_rexmt
		 * marks snd_cwnd = 1, cc_conn_init then gives one segment);
		 * Linux waits for a second retransmission (tcp_init_transfer). */
		t->flags |= TF_SYN_REXMT;
		t->cwnd = t->mss;
	} else {
		/* RFC 5681 §3.1 (4): loss window after a timeout. A timeout
		 * again before SND.UNA passed the last one's SND.MAX is the
		 * same loss (the retransmission was lost): ssthresh was cut
		 * for it (Linux: tcp_enter_loss in TCP_CA_Loss). */
		if (!SEQ_LT(t->snd_una, t->recover) || (t->flags & TF_INRECOVERY))
			kn_tcp_cc_loss(t, true);
		t->cwnd = t->mss;
	}
	t->dupacks = 0;
	t->flags &= ~(TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS);
	t->recover = t->snd_max;
	/* RFC 6298 §5.5 and Karn: back off, no sample from what is resent. */
	t->rttstart = 0;
	if (t->rxtshift > 3 && (t->flags & TF_RTTVALID)) {
		/* After several backoffs the estimate is probably wrong (§5.7). */
		t->rttvar += t->srtt / 4;
		t->srtt = 0;
		t->flags &= ~TF_RTTVALID;
	}
	t->snd_cur = NULL;
	t->flags |= TF_ACKNOW;
	kn_tcp_timer_rexmt_arm(t);
	if ((t->flags & TF_SACK) && t->state >= KN_TCP_ESTABLISHED) {
		/* The scoreboard stays (tcp_sack.c): only its holes go again,
		 * and those of the blocks the next ACKs bring: with nothing
		 * SACKed yet (a tail lost) the resending walked over what the
		 * ACK of the first retransmission SACKed. */
		if (t->flags & TF_SB)
			s->st.tcp_rto_sb_kept++;
		kn_tcp_sack_loss(t);
		return true;
	}
	t->snd_nxt = t->snd_una;
	kn_tcp_output(t);
	return true;
}

/* Zero-window probing without end is bounded as Linux bounds it
 * (tcp_probe_timer()). RFC 1122 §4.2.2.17 keeps a connection open for as
 * long as the peer answers the probes, and so does kaon for a connection
 * the application holds; but
 *  - max_retries probes in a row that draw no answer (Linux: tcp_retries2)
 *    end it with ETIMEDOUT;
 *  - an orphan, which nobody will ever read from or write to again, ends
 *    after KN_TCP_ORPHAN_RETRIES unanswered probes (Linux's default for
 *    tcp_orphan_retries = 0), or, answered or not, once the window has been
 *    shut for ORPHAN_PERSIST_RTO_MAX times rto_max: Linux kills an orphan
 *    when the probe interval has backed off to TCP_RTO_MAX, about twice
 *    TCP_RTO_MAX after the first probe. Its TCB and send buffer go. */
#define ORPHAN_PERSIST_RTO_MAX 2

/* @return true if @t should give up probing now. */
static bool persist_give_up(const struct kn_tcb *t)
{
	const struct kn_tcp_conf *c = &t->s->conf.tcp;
	if (t->flags & TF_APP)
		return t->probes_unanswered >= c->max_retries;
	if (t->probes_unanswered >= KN_TCP_ORPHAN_RETRIES)
		return true;
	return t->s->now - t->persist_since >= ORPHAN_PERSIST_RTO_MAX * c->rto_max_ns;
}

/* @return false if @t was closed. */
static bool timer_persist(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if (t->snd_wnd == 0) {
		if (t->persist_shift == 0) {
			/* The first probe of this zero window. */
			t->persist_since = s->now;
			t->probes_unanswered = 0;
		} else if (t->last_rx >= t->probe_sent) {
			t->probes_unanswered = 0;
		} else if (t->probes_unanswered < UINT8_MAX) {
			t->probes_unanswered++;
		}
		if (persist_give_up(t)) {
			s->st.tcp_persist_drops++;
			kn_tcp_drop(t, -ETIMEDOUT);
			return false;
		}
		/* Zero window: probe with one byte, keep probing, backing off. */
		s->st.tcp_persist_probes++;
		if (t->persist_shift < 12)
			t->persist_shift++;
		kn_tcp_persist_arm(t);
		t->probe_sent = s->now;
		t->snd_nxt = t->snd_una;
		t->snd_cur = NULL;
	} else {
		/* A window too small to fill: send what it takes now (RFC 9293
		 * §3.8.6.2.1, the sender's override timeout); the segment is then
		 * timed by the retransmission timer. */
		t->t_persist = 0;
		t->persist_shift = 0;
	}
	t->flags |= TF_FORCE;
	kn_tcp_output(t);
	t->flags &= ~TF_FORCE;
	return true;
}

/* kn_tcp_output() could not build a segment (no mbuf). Something must
 * bring it back, or the connection waits for ever: a SYN, a SYN-ACK, data or
 * a FIN is sent again by the retransmission timer (FreeBSD's tcp_output()
 * keeps that timer running on ENOBUFS), a lost ACK or window update by the
 * delayed-ACK timer (as Linux's tcp_send_ack() does when it has no skb). */
int kn_tcp_output_failed(struct kn_tcb *t)
{
	t->s->st.tcp_output_nomem++;
	/* Sequence space still to send: a SYN, data or a FIN. */
	bool seq = t->state <= KN_TCP_SYN_RECEIVED || t->snd_nxt - t->snd_una < t->sndq_bytes ||
		   ((t->flags & TF_SHUT_WR) && t->state != KN_TCP_FIN_WAIT_2 &&
		    t->state != KN_TCP_TIME_WAIT);
	if (seq) {
		if (!t->t_rexmt && !t->t_persist)
			kn_tcp_timer_rexmt_arm(t);
	} else if (!t->t_delack) {
		int64_t d = t->s->conf.tcp.delack_ns;
		t->flags |= TF_DELACK;
		kn_tcp_timer_set(t, &t->t_delack, d > 0 ? d : KN_TCP_TICK_NS);
	}
	return -ENOMEM;
}

/* @return false if @t was closed. */
static bool timer_keep(struct kn_tcb *t)
{
	const struct kn_tcp_conf *c = &t->s->conf.tcp;
	if (!(t->flags & TF_KEEPALIVE) || t->state < KN_TCP_ESTABLISHED ||
	    t->state > KN_TCP_CLOSE_WAIT) {
		t->t_keep = 0;
		return true;
	}
	int64_t idle = t->s->now - t->last_rx;
	if (idle < c->keepidle_ns) {
		t->keep_probes = 0;
		kn_tcp_timer_set(t, &t->t_keep, c->keepidle_ns - idle);
		return true;
	}
	if (t->keep_probes >= c->keepcnt) {
		kn_tcp_drop(t, -ETIMEDOUT);
		return false;
	}
	t->keep_probes++;
	t->s->st.tcp_keepalive_probes++;
	/* A probe: SEG.SEQ = SND.NXT - 1, no data, which elicits an ACK. */
	uint32_t save = t->snd_nxt;
	t->snd_nxt = t->snd_una - 1;
	uint32_t save_max = t->snd_max;
	t->flags |= TF_ACKNOW;
	kn_tcp_output(t);
	t->snd_nxt = save;
	t->snd_max = save_max;
	kn_tcp_timer_set(t, &t->t_keep, c->keepintvl_ns);
	return true;
}

/* Fire what is due on @t. @return false if @t was freed. */
static bool tcb_timers(struct kn_tcb *t)
{
	int64_t now = t->s->now;
	if (t->t_2msl && t->t_2msl <= now) {
		t->t_2msl = 0;
		kn_tcp_closed(t);
		return false;
	}
	if (t->t_delack && t->t_delack <= now) {
		t->t_delack = 0;
		t->s->st.tcp_delacks++;
		kn_tcp_send_ack(t);
	}
	if (t->t_rexmt && t->t_rexmt <= now) {
		t->t_rexmt = 0;
		if (!timer_rexmt(t))
			return false;
	}
	if (t->t_persist && t->t_persist <= now) {
		t->t_persist = 0;
		if (!timer_persist(t))
			return false;
	}
	if (t->t_keep && t->t_keep <= now) {
		t->t_keep = 0;
		if (!timer_keep(t))
			return false;
	}
	return true;
}

/* File @t on the wheel for deadline @at (moving it if it is filed). */
void kn_tcp_timer_file(struct kn_tcb *t, int64_t at)
{
	struct kn_stack *s = t->s;
	uint64_t tick = kn_tcp_tick(at);
	if (kn_tw_filed(&t->tw)) {
		if (t->tw.tick == tick)
			return;
		kn_tw_del(&s->tcp_wheel, &t->tw);
	}
	kn_tw_add(&s->tcp_wheel, &t->tw, tick);
	/* The tick fires at tick * TICK_NS; every deadline in
	 * ((tick - 1) * TICK_NS, tick * TICK_NS] rounds up to it. */
	t->t_wheel = ((int64_t)t->tw.tick - 1) * KN_TCP_TICK_NS + 1;
	kn_timer_note(s, (int64_t)t->tw.tick * KN_TCP_TICK_NS);
}

void kn_tcp_timer_unfile(struct kn_tcb *t)
{
	kn_tw_del(&t->s->tcp_wheel, &t->tw);
	t->t_wheel = INT64_MAX;
}

/* After its timers ran: file @t at its earliest armed deadline, or take it
 * off the wheel if none is armed. */
static void tcb_refile(struct kn_tcb *t)
{
	int64_t first = INT64_MAX;
	const int64_t at[] = {t->t_rexmt, t->t_persist, t->t_delack, t->t_keep, t->t_2msl};
	for (unsigned i = 0; i < RTE_DIM(at); i++)
		if (at[i] && at[i] < first)
			first = at[i];
	if (first == INT64_MAX)
		kn_tcp_timer_unfile(t);
	else
		kn_tcp_timer_file(t, first);
}

/* Run the TCBs whose wheel entry is due: the cost is theirs alone, however
 * many connections sit idle or in TIME_WAIT. An entry may be stale (its
 * timer was disarmed or pushed back): tcb_timers() then fires nothing and
 * the TCB is filed again at its real deadline. */
void kn_tcp_timers(struct kn_stack *s)
{
	struct kn_twheel *w = &s->tcp_wheel;
	kn_tw_expire(w, (uint64_t)s->now / KN_TCP_TICK_NS);
	struct kn_tw_node *n;
	while ((n = kn_tw_pop(w)) != NULL) {
		struct kn_tcb *t = container_of(n, struct kn_tcb, tw);
		t->t_wheel = INT64_MAX;
		s->st.tcp_timer_visits++;
		if (tcb_timers(t))
			tcb_refile(t);
	}
	uint64_t next = kn_tw_next(w);
	if (next != UINT64_MAX)
		kn_timer_note(s, (int64_t)next * KN_TCP_TICK_NS);
}
