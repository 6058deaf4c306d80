/* Congestion control: the hooks tcp_input.c and tcp_timer.c call, the parts
 * every algorithm shares, and NewReno's own two hooks.
 *
 * Shared: slow start with HyStart++ (RFC 9406) in the first slow start of a
 * connection; the loss response's bookkeeping; and the undo of a reduction
 * whose retransmissions all come back as D-SACKs (RFC 3708's detection:
 * every retransmitted byte reported a duplicate means the originals had
 * arrived, the "loss" was reordering). The undo restores cwnd and ssthresh
 * as Linux's tcp_undo_cwnd_reduction does (never lowering either), and the
 * algorithm's own state (CUBIC's W_max) with them.
 *
 * Per algorithm (struct kn_tcp_cc_ops): the new ssthresh on a loss and the
 * growth in congestion avoidance. NewReno here (RFC 5681, RFC 6582's
 * recovery stays in tcp_input.c), CUBIC in tcp_cubic.c.
 *
 * Nothing here runs on a request/response path: cwnd is never the limit
 * there, and kn_tcp_cc_ack is called only when it is. */
#include "tcp.h"

/* RFC 9406 §4.3's constants. L: no pacing, at most 8 segments of growth
 * per ACK (stretch ACKs of a GRO receiver cover more). */
#define HS_L 8u
#define HS_MIN_RTT_THRESH (4 * 1000000LL)
#define HS_MAX_RTT_THRESH (16 * 1000000LL)
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5
/* RTT samples from timestamps come in whole ticks (KN_TCP_TS_HZ) */
#define HS_RTT_GRANULARITY (1000000000LL / KN_TCP_TS_HZ)

static const struct kn_tcp_cc_ops *ops(const struct kn_tcb *t)
{
	return t->s->conf.tcp.cc == KN_TCP_CC_NEWRENO ? &kn_tcp_newreno : &kn_tcp_cubic;
}

/* ---- HyStart++ ---- */

static void hs_round_start(struct kn_tcb *t)
{
	struct kn_tcp_ccs *cc = &t->cc;
	cc->hs_last_min = cc->hs_cur_min;
	cc->hs_cur_min = INT64_MAX;
	cc->hs_samples = 0;
	cc->hs_end = t->snd_max;
}

/* One ACK in the first slow start: rounds, samples, and the moves between
 * slow start, CSS (Conservative Slow Start) and congestion avoidance. */
static void hystart(struct kn_tcb *t, uint32_t ack, int64_t rtt)
{
	struct kn_tcp_ccs *cc = &t->cc;
	struct kn_stack *s = t->s;
	if (cc->hs_state == KN_HS_INIT) {
		cc->hs_state = KN_HS_SS;
		cc->hs_cur_min = INT64_MAX;
		cc->hs_css_base = INT64_MAX;
		hs_round_start(t);
	} else if (SEQ_GEQ(ack, cc->hs_end)) {
		/* A round ended: everything sent at its start is acknowledged. */
		if (cc->hs_state == KN_HS_CSS && ++cc->hs_css_rounds >= HS_CSS_ROUNDS) {
			t->ssthresh = t->cwnd;   /* into congestion avoidance */
			cc->hs_state = KN_HS_DONE;
			s->st.tcp_hystart_exits++;
			return;
		}
		hs_round_start(t);
	}
	if (rtt >= 0) {
		if (rtt < cc->hs_cur_min)
			cc->hs_cur_min = rtt;
		if (cc->hs_samples < UINT16_MAX)
			cc->hs_samples++;
		/* The baseline is the whole round's minimum, as what it is
		 * compared with later: set from the first 8 samples (the RFC's
		 * letter) it read 61 ms where the round's minimum was 55, and
		 * the next rounds' 50-56 took CSS for noise (the 200 Mbit
		 * wire, traced). */
		if (cc->hs_state == KN_HS_CSS && cc->hs_css_rounds == 0)
			cc->hs_css_base = cc->hs_cur_min;
	}
	if (cc->hs_samples < HS_N_RTT_SAMPLE || cc->hs_cur_min == INT64_MAX ||
	    cc->hs_last_min == INT64_MAX)
		return;
	if (cc->hs_state == KN_HS_SS) {
		int64_t thresh = cc->hs_last_min / HS_MIN_RTT_DIVISOR;
		thresh = RTE_MAX(HS_MIN_RTT_THRESH, RTE_MIN(thresh, HS_MAX_RTT_THRESH));
		if (cc->hs_cur_min >= cc->hs_last_min + thresh) {
			/* The RTT grew: a queue builds, the window is near
			 * what the path holds. */
			cc->hs_css_base = cc->hs_cur_min;
			cc->hs_css_rounds = 0;
			cc->hs_state = KN_HS_CSS;
			s->st.tcp_hystart_css++;
		}
	} else if (cc->hs_css_rounds >= 2 &&
		   cc->hs_cur_min + HS_RTT_GRANULARITY < cc->hs_css_base) {
		/* The RTT came down again: that was noise, back to slow start.
		 * Judged on the samples of the second CSS round on: a round's
		 * samples time the segments sent in the round before it, and
		 * those of the first CSS round were sent partly in slow start
		 * and then at CSS's quarter growth, which lets the queue that
		 * slow start's bursts built drain a little. Taken as CSS's
		 * verdict they sent slow start back over the wire's 200 Mbit
		 * 1-BDP queue every time (cwnd 462 -> CSS -> 769 -> CSS ->
		 * 1,671 segments, 622 drops in 10 s, HyStart++ never exited).
		 * By more than the clock's tick: samples from timestamps are
		 * whole milliseconds, and one a tick lower than the baseline
		 * (40.9 ms read as 40 after 41) sent a queue that had stopped
		 * growing back into slow start, and over its limit (the wire's
		 * 200 Mbit bottleneck with a 1-BDP queue dropped 1,710 frames
		 * after three such returns). */
		cc->hs_css_base = INT64_MAX;
		cc->hs_state = KN_HS_SS;
	}
}

void kn_tcp_cc_ack(struct kn_tcb *t, uint32_t ack, uint32_t acked, int64_t rtt)
{
	if (t->cwnd >= t->ssthresh) {
		ops(t)->cong_avoid(t, acked);
		return;
	}
	if (t->cc.hs_state != KN_HS_DONE) {
		hystart(t, ack, rtt);
		if (t->cwnd >= t->ssthresh)
			return;          /* HyStart++ ended slow start */
	}
	uint32_t inc = RTE_MIN(acked, HS_L * t->mss);
	if (t->cc.hs_state == KN_HS_CSS)
		inc /= HS_CSS_GROWTH_DIVISOR;
	t->cwnd = kn_tcp_cwnd_add(t->cwnd, inc ? inc : 1);
}

/* ---- loss and undo ---- */

void kn_tcp_cc_loss(struct kn_tcb *t, bool rto)
{
	struct kn_tcp_ccs *cc = &t->cc;
	/* An RTO in the middle of a recovery is the same congestion event
	 * (Linux tcp_enter_loss): ssthresh was already cut, and what an undo
	 * restores is from before that cut. */
	if (rto && (t->flags & TF_INRECOVERY))
		return;
	cc->undo_on = true;
	cc->undo_marker = t->snd_una;
	cc->undo_rexmt = 0;
	cc->undo_high = t->snd_una;
	cc->prior_cwnd = t->cwnd;
	/* Linux tcp_current_ssthresh: the slow start threshold cwnd implies */
	cc->prior_ssthresh = RTE_MAX(t->ssthresh, t->cwnd / 2 + t->cwnd / 4);
	cc->prior_w_max = cc->w_max;
	cc->prior_cwnd_prior = cc->cwnd_prior;
	cc->hs_state = KN_HS_DONE;  /* HyStart++: only the first slow start */
	t->ssthresh = ops(t)->ssthresh(t);
}

static void undo(struct kn_tcb *t)
{
	struct kn_tcp_ccs *cc = &t->cc;
	t->cwnd = RTE_MAX(t->cwnd, cc->prior_cwnd);
	t->ssthresh = RTE_MAX(t->ssthresh, cc->prior_ssthresh);
	cc->w_max = cc->prior_w_max;
	cc->cwnd_prior = cc->prior_cwnd_prior;
	cc->epoch = 0;
	cc->undo_on = false;
	/* RFC 6675 recovery with nothing lost ends here, as Linux's
	 * tcp_try_undo_dsack then tcp_try_to_open: what is still unSACKed is
	 * in flight, not missing. RecoveryPoint stays: the duplicates of this
	 * window start no new recovery. */
	if (t->flags & TF_SACK_RECOV)
		t->flags &= ~(TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS);
	t->s->st.tcp_dsack_undos++;
}

void kn_tcp_cc_dsack(struct kn_tcb *t, uint32_t start, uint32_t end)
{
	struct kn_tcp_ccs *cc = &t->cc;
	/* Only duplicates of what this episode sent again count: the range
	 * from SND.UNA at the reduction to the end of the highest
	 * retransmission. Outside it the network duplicated a segment, or the
	 * block is about older data. (Linux counts any block above its
	 * undo_marker.) */
	if (!cc->undo_on || cc->undo_rexmt == 0 || SEQ_LT(start, cc->undo_marker) ||
	    SEQ_GT(end, cc->undo_high))
		return;
	uint32_t len = end - start;
	cc->undo_rexmt = len >= cc->undo_rexmt ? 0 : cc->undo_rexmt - len;
	if (cc->undo_rexmt == 0)
		undo(t);
}

void kn_tcp_cc_idle(struct kn_tcb *t)
{
	t->cc.epoch = 0;
}

/* ---- NewReno (RFC 5681 §3.1) ---- */

static uint32_t newreno_ssthresh(struct kn_tcb *t)
{
	uint32_t flight = t->snd_max - t->snd_una;
	return RTE_MAX(flight / 2, 2u * t->mss);
}

/* One segment per RTT: SMSS * bytes acknowledged / cwnd per ACK (RFC
 * 3465's byte counting; Linux tcp_cong_avoid_ai counts segments): a
 * receiver that ACKs many segments at once (GRO) does not slow it down. */
static void newreno_cong_avoid(struct kn_tcb *t, uint32_t acked)
{
	uint64_t inc = (uint64_t)t->mss * acked / t->cwnd;
	if (inc > t->mss)
		inc = t->mss;     /* a huge cumulative ACK (after an RTO) */
	t->cwnd = kn_tcp_cwnd_add(t->cwnd, inc ? (uint32_t)inc : 1);
}

const struct kn_tcp_cc_ops kn_tcp_newreno = {
	.name = "newreno",
	.ssthresh = newreno_ssthresh,
	.cong_avoid = newreno_cong_avoid,
};
