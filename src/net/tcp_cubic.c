/* CUBIC (RFC 9438): the window as a cubic function of the time since the
 * last reduction, W_cubic(t) = C (t - K)^3 + W_max, with the Reno-friendly
 * region (§4.3), fast convergence (§4.7) and β = 0.7 (§4.6).
 *
 * Doubles, in segments and seconds as the RFC writes them: the stack runs
 * on one core per instance, and this runs only on ACKs that find cwnd the
 * limit in congestion avoidance. The cube root is computed once per epoch,
 * by Newton's method (no libm). */
#include "tcp.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
/* §4.3: α = 3 (1 - β) / (1 + β), Reno's average rate for CUBIC's β */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

/* The cube root of @x >= 0: a power of two within a factor of 2, then
 * Newton's iterations (quadratic convergence: 6 are plenty for doubles). */
static double cube_root(double x)
{
	if (x <= 0)
		return 0;
	double r = 1;
	while (r * r * r < x)
		r *= 2;
	while (r * r * r > 8 * x)
		r /= 2;
	for (int i = 0; i < 8; i++)
		r -= (r * r * r - x) / (3 * r * r);
	return r;
}

/* W_cubic(@t), segments */
static double w_cubic(const struct kn_tcp_ccs *cc, double t)
{
	double d = t - cc->k;
	return CUBIC_C * d * d * d + cc->w_max;
}

/* §4.6, §4.7: a loss. W_max is cwnd before the cut, less with fast
 * convergence when the window did not regain the last W_max (another flow
 * took a share): release bandwidth for it. ssthresh from the flight, as
 * kaon's NewReno does: an application-limited window is not the path's. */
static uint32_t cubic_ssthresh(struct kn_tcb *t)
{
	struct kn_tcp_ccs *cc = &t->cc;
	double cwnd = (double)t->cwnd / t->mss;
	if (cwnd < cc->w_max)
		cc->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		cc->w_max = cwnd;
	cc->cwnd_prior = cwnd;
	cc->epoch = 0;
	uint32_t flight = t->snd_max - t->snd_una;
	uint32_t ss = (uint32_t)((double)flight * CUBIC_BETA);
	return RTE_MAX(ss, 2u * t->mss);
}

/* §4.2 - §4.5: congestion avoidance on an ACK of @acked bytes. */
static void cubic_cong_avoid(struct kn_tcb *t, uint32_t acked)
{
	struct kn_tcp_ccs *cc = &t->cc;
	double mss = t->mss;
	double cwnd = (double)t->cwnd / mss;
	int64_t now = t->s->now;
	if (cc->epoch == 0) {
		/* §4.2: the epoch starts with congestion avoidance. Past W_max
		 * (no loss yet, or an undo) the curve starts at its plateau:
		 * convex growth from here. */
		cc->epoch = now ? now : 1;
		if (cwnd < cc->w_max) {
			cc->k = cube_root((cc->w_max - cwnd) / CUBIC_C);
		} else {
			cc->k = 0;
			cc->w_max = cwnd;
		}
		cc->w_est = cwnd;
	}
	double segs = (double)acked / mss;
	if (segs > cwnd)
		segs = cwnd;       /* one window's worth: a huge cumulative ACK */
	/* §4.3: Reno's window at the same point, with α until it reaches the
	 * window before the cut, then Reno's own 1. */
	double alpha = cc->w_est >= cc->cwnd_prior ? 1.0 : CUBIC_ALPHA;
	cc->w_est += alpha * segs / cwnd;
	double tt = (double)(now - cc->epoch) / 1e9;
	double target;
	if (w_cubic(cc, tt) < cc->w_est) {
		target = cc->w_est;                   /* Reno-friendly region */
	} else {
		/* §4.4, §4.5: concave or convex, toward W_cubic one RTT ahead,
		 * no more than half the window more per RTT. */
		double rtt = (double)(t->srtt ? t->srtt : t->rto) / 1e9;
		double w = w_cubic(cc, tt + rtt);
		if (w < cwnd)
			w = cwnd;
		else if (w > 1.5 * cwnd)
			w = 1.5 * cwnd;
		target = cwnd + (w - cwnd) / cwnd * segs;
		if (target > w)
			target = w;
	}
	if (target <= cwnd)
		return;
	double bytes = target * mss;
	uint32_t next = bytes >= (double)KN_TCP_CWND_MAX ? KN_TCP_CWND_MAX : (uint32_t)bytes;
	if (next > t->cwnd)
		t->cwnd = next;
}

const struct kn_tcp_cc_ops kn_tcp_cubic = {
	.name = "cubic",
	.ssthresh = cubic_ssthresh,
	.cong_avoid = cubic_cong_avoid,
};
