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

/* RFC 6298 §2: fold one RTT sample into SRTT/RTTVAR and the RTO. */
void kn_tcp_rtt_update(struct kn_tcb *t, int64_t rtt)
{
	const struct kn_tcp_conf *c = &t->s->conf.tcp;
	if (rtt < 0)
		rtt = 0;
	if (!(t->flags & TF_RTTVALID)) {
		t->srtt = rtt;
		t->rttvar = rtt / 2;
		t->flags |= TF_RTTVALID;
	} else {
		int64_t d = t->srtt - rtt;
		if (d < 0)
			d = -d;
		t->rttvar = (3 * t->rttvar + d) / 4;      /* beta = 1/4 */
		t->srtt = (7 * t->srtt + rtt) / 8;        /* alpha = 1/8 */
	}
	int64_t g = 1000000; /* clock granularity: 1 ms */
	int64_t rto = t->srtt + (4 * t->rttvar > g ? 4 * t->rttvar : g);
	if (rto < c->rto_min_ns)
		rto = c->rto_min_ns;
	if (rto > c->rto_max_ns)
		rto = c->rto_max_ns;
	t->rto = rto;
	t->rxtshift = 0;
}

/* @return false if @t was closed. */
static bool timer_rexmt(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	const struct kn_tcp_conf *c = &s->conf.tcp;
	uint32_t limit = t->state <= KN_TCP_SYN_RECEIVED ? c->syn_retries : c->max_retries;
	if (++t->rxtshift > limit) {
		kn_tcp_drop(t, -ETIMEDOUT);
		return false;
	}
	s->st.tcp_rexmt_timeouts++;
	/* RFC 5681 §3.1 (4): loss window after a timeout. */
	uint32_t flight = t->snd_max - t->snd_una;
	t->ssthresh = RTE_MAX(flight / 2, 2u * t->mss);
	t->cwnd = t->mss;
	t->dupacks = 0;
	t->flags &= ~TF_INRECOVERY;
	t->recover = t->snd_max;
	/* RFC 6298 §5.5 and Karn: back off, no sample from what is resent. */
	t->rttstart = 0;
	if (t->rxtshift > 3 && (t->flags & TF_RTTVALID)) {
		/* After several backoffs the estimate is probably wrong (§5.7). */
		t->rttvar += t->srtt / 4;
		t->srtt = 0;
		t->flags &= ~TF_RTTVALID;
	}
	t->snd_nxt = t->snd_una;
	t->snd_cur = NULL;
	t->flags |= TF_ACKNOW;
	kn_tcp_timer_rexmt_arm(t);
	kn_tcp_output(t);
	return true;
}

static void timer_persist(struct kn_tcb *t)
{
	if (t->snd_wnd == 0) {
		/* Zero window: probe with one byte, keep probing, backing off. */
		t->s->st.tcp_persist_probes++;
		if (t->persist_shift < 12)
			t->persist_shift++;
		kn_tcp_persist_arm(t);
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
		timer_persist(t);
	}
	if (t->t_keep && t->t_keep <= now) {
		t->t_keep = 0;
		if (!timer_keep(t))
			return false;
	}
	return true;
}

static void note_all(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if (t->t_2msl)
		kn_timer_note(s, t->t_2msl);
	if (t->t_delack)
		kn_timer_note(s, t->t_delack);
	if (t->t_rexmt)
		kn_timer_note(s, t->t_rexmt);
	if (t->t_persist)
		kn_timer_note(s, t->t_persist);
	if (t->t_keep)
		kn_timer_note(s, t->t_keep);
}

/* Scan every TCB; called when the earliest noted deadline has passed. */
void kn_tcp_timers(struct kn_stack *s)
{
	struct kn_tcb *t, *next;
	for (t = TAILQ_FIRST(&s->all); t; t = next) {
		next = TAILQ_NEXT(t, all_link);
		if (t->state == KN_TCP_CLOSED || t->state == KN_TCP_LISTEN)
			continue;
		/* A TCB freed here may be @next's neighbour only: @next stays valid
		 * because freeing touches nothing but @t. */
		if (tcb_timers(t))
			note_all(t);
	}
}
