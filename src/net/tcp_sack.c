/* SACK: the receiver's blocks (RFC 2018 §4, D-SACK RFC 2883) and the
 * sender's scoreboard with RFC 6675 loss recovery.
 *
 * Why RFC 6675 and not RACK-TLP (RFC 8985): it is conservative and small
 * (IsLost, SetPipe, NextSeg over a sorted list of SACKed ranges), needs no
 * per-segment transmit times, and could be made correct and tested in the
 * time there was; RACK-TLP (time-based loss detection, tail loss probes)
 * can come later on top of the same scoreboard. Without SACK agreed (or
 * while the peer sent no block yet) recovery stays NewReno (tcp_input.c).
 *
 * After a retransmission timeout the scoreboard is kept, as Linux keeps it
 * (tcp_enter_loss marks only the unSACKed data lost; RFC 6675 §5.1 allows
 * it): all unSACKed data up to SND.MAX at the timeout is lost, resent hole
 * by hole as cwnd grows again from one segment (TF_LOSS), never what the
 * peer SACKed. Cleared (RFC 2018 §8's advice) the scoreboard made the
 * timeout go-back-N: at the wire's 200 Mbit bottleneck half of all
 * retransmissions came back as D-SACKs. A receiver that reneged (kaon's
 * own does when receive memory runs out: it prunes its out-of-order queue)
 * shows it as Linux's tcp_check_sack_reneging notices: a cumulative ACK
 * that stops at or inside a SACKed range. Then the scoreboard goes and
 * everything from SND.UNA is resent (tcp_sack_reneged).
 *
 * Nothing here runs on the in-order path: every entry point is behind
 * TF_SB, TF_DSACK, TF_SACK_RECOV, a SACK option received or a non-empty
 * out-of-order queue. */
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

/* ---- receiver: the blocks we send ---- */

/* Out-of-order data at @seq arrived: its block goes first in the next
 * ACKs (RFC 2018 §4: the block of the segment that triggered the ACK,
 * then the most recently reported ones). */
void kn_tcp_sack_rcv_note(struct kn_tcb *t, uint32_t seq)
{
	unsigned n = t->rcv_sack_n, i;
	for (i = 0; i < n && t->rcv_sack_recent[i] != seq; i++)
		;
	if (i == n)
		i = n < KN_TCP_SACK_BLOCKS ? n++ : n - 1u;
	memmove(&t->rcv_sack_recent[1], &t->rcv_sack_recent[0], i * sizeof(uint32_t));
	t->rcv_sack_recent[0] = seq;
	t->rcv_sack_n = (uint8_t)n;
}

/* A duplicate [@start, @end) arrived: report it once, first (RFC 2883 §4). */
void kn_tcp_sack_dsack(struct kn_tcb *t, uint32_t start, uint32_t end)
{
	if (!(t->flags & TF_SACK) || !SEQ_LT(start, end))
		return;
	t->dsack_start = start;
	t->dsack_end = end;
	t->flags |= TF_DSACK | TF_ACKNOW;
}

/* The contiguous run of the out-of-order queue holding @seq. */
static bool ooo_run(const struct kn_tcb *t, uint32_t seq, struct kn_sack_blk *b)
{
	unsigned i = 0;
	while (i < t->ooo_n) {
		uint32_t start = t->ooo[i].seq, end = start + t->ooo[i].len;
		for (i++; i < t->ooo_n && t->ooo[i].seq == end; i++)
			end += t->ooo[i].len;
		if (SEQ_LEQ(start, seq) && SEQ_LT(seq, end)) {
			b->start = start;
			b->end = end;
			return true;
		}
	}
	return false;
}

static bool blk_listed(const struct kn_sack_blk *b, unsigned n, const struct kn_sack_blk *x)
{
	for (unsigned i = 0; i < n; i++)
		if (b[i].start == x->start && b[i].end == x->end)
			return true;
	return false;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Append the SACK option to @opt (@optlen used) within @room bytes: the
 * D-SACK block first, then the block of the latest arrival, then the ones
 * reported before it, then any other run of the queue. @return the new
 * option length. */
uint32_t kn_tcp_sack_opts(struct kn_tcb *t, uint8_t *opt, uint32_t optlen, uint32_t room)
{
	struct kn_stack *s = t->s;
	if (room < 4 + 8)
		return optlen;
	unsigned max = RTE_MIN((room - 4) / 8, (uint32_t)KN_TCP_SACK_BLOCKS);
	struct kn_sack_blk b[KN_TCP_SACK_BLOCKS], x;
	unsigned n = 0;
	bool dsack = false;
	if (t->flags & TF_DSACK) {
		b[n++] = (struct kn_sack_blk){t->dsack_start, t->dsack_end};
		dsack = true;
		/* A duplicate of queued data: its run follows (RFC 2883 §4.2). */
		if (SEQ_GEQ(t->dsack_start, t->rcv_nxt) && n < max && ooo_run(t, t->dsack_start, &x))
			b[n++] = x;
	}
	for (unsigned i = 0; i < t->rcv_sack_n && n < max; i++) {
		uint32_t seq = t->rcv_sack_recent[i];
		if (SEQ_GEQ(seq, t->rcv_nxt) && ooo_run(t, seq, &x) && !blk_listed(b + dsack, n - dsack, &x))
			b[n++] = x;
	}
	for (unsigned i = 0; i < t->ooo_n && n < max;) {
		x.start = t->ooo[i].seq;
		x.end = x.start + t->ooo[i].len;
		for (i++; i < t->ooo_n && t->ooo[i].seq == x.end; i++)
			x.end += t->ooo[i].len;
		if (x.start != x.end && !blk_listed(b + dsack, n - dsack, &x))
			b[n++] = x;
	}
	if (n == 0)
		return optlen;
	opt[optlen++] = KN_TCPOPT_NOP;
	opt[optlen++] = KN_TCPOPT_NOP;
	opt[optlen++] = KN_TCPOPT_SACK;
	opt[optlen++] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		put32(opt + optlen, b[i].start);
		put32(opt + optlen + 4, b[i].end);
		optlen += 8;
	}
	s->st.tcp_sack_blocks_tx += n;
	if (dsack) {
		s->st.tcp_dsack_tx++;
		t->flags &= ~TF_DSACK;
	}
	return optlen;
}

/* ---- sender: the scoreboard ---- */

/* IsLost (RFC 6675 §4) is monotone: if a sequence number is lost, so is
 * every unSACKed one below it. Keep the boundary, found from the top:
 * unSACKed data below the start of the block at which DupThresh blocks,
 * or more than (DupThresh - 1) * SMSS SACKed bytes, lie above. */
static void sb_recompute(struct kn_tcb *t)
{
	uint32_t sum = 0;
	bool found = false;
	t->sack_lost = t->snd_una;
	for (unsigned i = t->sb_n; i-- > 0;) {
		sum += t->sb[i].end - t->sb[i].start;
		if (!found && (t->sb_n - i >= KN_TCP_DUPTHRESH ||
			       sum > (KN_TCP_DUPTHRESH - 1u) * t->mss)) {
			t->sack_lost = t->sb[i].start;
			found = true;
		}
	}
	t->sacked = sum;
	/* After an RTO everything unSACKed that was out then is lost. */
	if ((t->flags & TF_LOSS) && SEQ_GT(t->recover, t->sack_lost))
		t->sack_lost = t->recover;
	if (t->sb_n)
		t->flags |= TF_SB;
	else
		t->flags &= ~TF_SB;
}

/* Forget what lies below @una (now acknowledged). */
void kn_tcp_sack_trim(struct kn_tcb *t, uint32_t una)
{
	unsigned i = 0;
	while (i < t->sb_n && SEQ_LEQ(t->sb[i].end, una))
		i++;
	if (i) {
		memmove(&t->sb[0], &t->sb[i], (t->sb_n - i) * sizeof(t->sb[0]));
		t->sb_n = (uint16_t)(t->sb_n - i);
	}
	if (t->sb_n && SEQ_LT(t->sb[0].start, una))
		t->sb[0].start = una;
}

void kn_tcp_sack_clear(struct kn_tcb *t)
{
	t->sb_n = 0;
	sb_recompute(t);
}

/* Does cumulative ACK @una stop at or inside a SACKed range? The peer
 * then no longer holds what it SACKed there (reneging, RFC 2018 §8). */
static bool sb_reneged(const struct kn_tcb *t, uint32_t una)
{
	for (unsigned i = 0; i < t->sb_n; i++)
		if (SEQ_GT(t->sb[i].end, una))
			return SEQ_LEQ(t->sb[i].start, una);
	return false;
}

/* Merge [@start, @end) into the scoreboard. */
static void sb_add(struct kn_tcb *t, uint32_t start, uint32_t end)
{
	if (!t->sb) {
		t->sb = calloc(KN_TCP_SB_MIN, sizeof(*t->sb));
		if (!t->sb)
			return;   /* no scoreboard: recovery stays NewReno */
		t->sb_cap = KN_TCP_SB_MIN;
	}
	unsigned i = 0, j;
	while (i < t->sb_n && SEQ_LT(t->sb[i].end, start))
		i++;
	/* sb[i..j) touch or overlap the new range: one range replaces them */
	for (j = i; j < t->sb_n && SEQ_LEQ(t->sb[j].start, end); j++) {
		start = SEQ_MIN(start, t->sb[j].start);
		end = SEQ_MAX(end, t->sb[j].end);
	}
	if (j > i) {
		t->sb[i] = (struct kn_sack_blk){start, end};
		memmove(&t->sb[i + 1], &t->sb[j], (t->sb_n - j) * sizeof(t->sb[0]));
		t->sb_n = (uint16_t)(t->sb_n - (j - i - 1));
		return;
	}
	if (t->sb_n == t->sb_cap && t->sb_cap < KN_TCP_SB_MAX) {
		/* grows only for a peer that holds that many ranges */
		struct kn_sack_blk *nb = realloc(t->sb, 2u * t->sb_cap * sizeof(*t->sb));
		if (nb) {
			t->sb = nb;
			t->sb_cap = (uint16_t)(2u * t->sb_cap);
		}
	}
	if (t->sb_n == t->sb_cap) {
		if (i == t->sb_n)
			return;          /* the highest range is the one forgotten */
		t->sb_n--;
	}
	memmove(&t->sb[i + 1], &t->sb[i], (t->sb_n - i) * sizeof(t->sb[0]));
	t->sb[i] = (struct kn_sack_blk){start, end};
	t->sb_n++;
}

/* RFC 2883 §4: the first block is a D-SACK if it lies at or below the
 * cumulative ACK, or inside the second block. */
static bool is_dsack(const struct kn_seg *sg, uint32_t start, uint32_t end)
{
	if (SEQ_LEQ(end, sg->ack))
		return true;
	unsigned n = sg->opt.sack_n & 7u;
	return n > 1 && SEQ_GEQ(start, sg->opt.sack[2]) && SEQ_LEQ(end, sg->opt.sack[3]);
}

/* The rescue's duplicate is reported: the rescue arrived, and it went
 * after every retransmission below HighRxt. If this ACK (@una) still
 * shows a hole there, and the path does not reorder (no D-SACK but the
 * rescues' yet), that retransmission was lost too (RFC 8985's
 * time order, on the one segment whose send order is known): resend it
 * now rather than after an RTO. In the 1%-loss echo every RTO
 * capture showed this: the hole's retransmission lost, the rescue
 * D-SACKed an instant later, then nothing for 190 ms. Only in the
 * recovery that sent the rescue and with no retransmission after it. */
static void rescue_arrived(struct kn_tcb *t, uint32_t una)
{
	if ((t->flags & (TF_SACK_RECOV | TF_LOSS | TF_REORD)) != TF_SACK_RECOV ||
	    !(t->flags & TF_RESCUED) || t->rescue_recover != t->recover ||
	    t->high_rxt != t->rescue_high_rxt || !SEQ_LT(una, t->high_rxt))
		return;
	t->high_rxt = una;
	t->s->st.tcp_rexmt_lost++;
}

/* A D-SACK for [@start, @end), within what could have been sent.
 *
 * Once: a receiver that cuts one large segment into many (Linux's GSO)
 * copies its option, D-SACK included, into every one; in the issue's
 * 1%-loss echo at 0 ms one duplicate came back as 7 D-SACKs, and the undo
 * counted each copy against the bytes this recovery resent: a reduction
 * for a real loss (its retransmission was needed, never D-SACKed) was
 * undone because the rescue's one duplicate was counted 7 times.
 *
 * Reordering only if the duplicate is not the rescue's: RFC 6675's rescue
 * resends the last segment sent with no wait at all, and where the path
 * is short that segment is merely in flight (in that echo every D-SACK
 * was a rescue's, sent 50-170 us after the original). Such a duplicate
 * says nothing of the path; taken for reordering, it made every later
 * loss of the connection wait SRTT/4 before recovery. */
static void dsack_input(struct kn_tcb *t, uint32_t start, uint32_t end, uint32_t una)
{
	struct kn_stack *s = t->s;
	if (start == t->dsack_rx_start && end == t->dsack_rx_end) {
		s->st.tcp_dsack_repeats++;
		return;
	}
	t->dsack_rx_start = start;
	t->dsack_rx_end = end;
	s->st.tcp_dsack_rx++;
	if (t->rescue_start != t->rescue_end && SEQ_GEQ(start, t->rescue_start) &&
	    SEQ_LEQ(end, t->rescue_end)) {
		s->st.tcp_dsack_rescues++;
		rescue_arrived(t, una);
	} else
		t->flags |= TF_REORD;
	kn_tcp_cc_dsack(t, start, end);
}

/* The SACK option of an acceptable ACK (RFC 6675 Update()): blocks outside
 * SND.UNA..SND.MAX, empty or wrapped ones are ignored and counted, a D-SACK
 * is counted and is no new information. Also drops what the ACK covers.
 * @return true if the scoreboard learnt something. */
bool kn_tcp_sack_input(struct kn_tcb *t, const struct kn_seg *sg)
{
	struct kn_stack *s = t->s;
	uint32_t una = SEQ_GT(sg->ack, t->snd_una) ? sg->ack : t->snd_una;
	uint32_t before = t->sacked;
	unsigned n = sg->opt.sack_n & 7u;
	if (sg->opt.sack_n & KN_TCP_SACK_BAD)
		s->st.tcp_sack_bad_blocks++;
	if (n && !(t->flags & TF_SACK)) {
		s->st.tcp_sack_bad_blocks += n;     /* never agreed */
		n = 0;
	}
	s->st.tcp_sack_blocks_rx += n;
	if (t->flags & TF_SB) {
		if (KN_UNLIKELY(SEQ_GT(una, t->snd_una) && sb_reneged(t, una))) {
			s->st.tcp_sack_reneged++;
			t->sb_n = 0;
			/* everything from the ACK on goes again */
			if (SEQ_LT(t->high_rxt, una) || (t->flags & TF_LOSS))
				t->high_rxt = una;
		}
		kn_tcp_sack_trim(t, una);
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t start = sg->opt.sack[2 * i], end = sg->opt.sack[2 * i + 1];
		if (!SEQ_LT(start, end)) {            /* empty, or end before start */
			s->st.tcp_sack_bad_blocks++;
			continue;
		}
		if (i == 0 && is_dsack(sg, start, end)) {
			/* within what we could have sent lately (the bound
			 * of RFC 5961 §5.2 for old ACKs) */
			uint32_t maxwnd = RTE_MAX(t->max_sndwnd, (uint32_t)t->mss);
			if (!SEQ_GEQ(start, t->snd_una - maxwnd) || !SEQ_GT(end, start) ||
			    SEQ_GT(end, t->snd_max)) {
				s->st.tcp_sack_bad_blocks++;
				continue;
			}
			dsack_input(t, start, end, una);
			continue;
		}
		if (SEQ_LT(start, t->snd_una) || SEQ_GT(end, t->snd_max)) {
			s->st.tcp_sack_bad_blocks++;
			continue;
		}
		if (SEQ_LT(start, una))
			start = una;
		if (SEQ_LT(start, end))
			sb_add(t, start, end);
	}
	sb_recompute(t);
	return t->sacked > before;
}

/* IsLost(SND.UNA + 1) (RFC 6675 §5, the entry into recovery without
 * DupThresh duplicate ACKs). */
bool kn_tcp_sack_una_lost(const struct kn_tcb *t)
{
	return SEQ_GT(t->sack_lost, t->snd_una);
}

/* SACKed bytes of the scoreboard below @x. */
static uint32_t sacked_below(const struct kn_tcb *t, uint32_t x)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i < t->sb_n && SEQ_LT(t->sb[i].start, x); i++)
		sum += SEQ_MIN(t->sb[i].end, x) - t->sb[i].start;
	return sum;
}

/* unSACKed bytes in [SND.UNA, @x) */
static uint32_t unsacked_below(const struct kn_tcb *t, uint32_t x)
{
	if (!SEQ_GT(x, t->snd_una))
		return 0;
	return (x - t->snd_una) - sacked_below(t, x);
}

/* RFC 6675 SetPipe(): every unSACKed octet counts once if it is not lost,
 * once more if it was retransmitted (below HighRxt). */
static uint32_t sack_pipe(const struct kn_tcb *t)
{
	uint32_t unsacked = (t->snd_max - t->snd_una) - t->sacked;
	return unsacked - unsacked_below(t, t->sack_lost) + unsacked_below(t, t->high_rxt);
}

/* RFC 6675 NextSeg(): @seq and @len of what to send next. @rescue is set
 * for rule (4). @return false if nothing may go. */
static bool next_seg(struct kn_tcb *t, uint32_t *seq, uint32_t *len, bool *rescue)
{
	uint32_t from = SEQ_MAX(t->high_rxt, t->snd_una);
	uint32_t high = t->sb_n ? t->sb[t->sb_n - 1].end : t->snd_una;
	*rescue = false;
	/* (1) the first lost hole at or above HighRxt; (3) else the first
	 * hole above HighRxt below the highest SACKed octet. For (1) the
	 * data above the highest SACKed octet is a hole too: lost only
	 * after an RTO (TF_LOSS), when everything unSACKed is. */
	for (int rule = 1; rule <= 3; rule += 2) {
		uint32_t hole = t->snd_una;
		for (unsigned i = 0; i <= t->sb_n; i++) {
			uint32_t he = i < t->sb_n ? t->sb[i].start : t->snd_max;
			uint32_t hs = SEQ_MAX(hole, from);
			if (i == t->sb_n && rule == 3)
				break;
			if (i < t->sb_n)
				hole = t->sb[i].end;
			if (!SEQ_LT(hs, he))
				continue;
			if (rule == 1 && !SEQ_LT(hs, t->sack_lost))
				break;
			*seq = hs;
			*len = (rule == 1 ? SEQ_MIN(he, t->sack_lost) : he) - hs;
			return true;
		}
		if (rule == 1) {
			/* (2) new data, as the peer's window allows; or the FIN */
			uint32_t end = t->snd_una + t->sndq_bytes;
			/* the right edge as advertised: partial ACKs send
			 * before sync_input takes the window they carry */
			uint32_t wend = t->snd_wl2 + t->snd_wnd;
			if (SEQ_LT(t->snd_max, end) && SEQ_LT(t->snd_max, wend)) {
				*seq = t->snd_max;
				*len = RTE_MIN(end - t->snd_max, wend - t->snd_max);
				return true;
			}
			if (t->snd_max == end && (t->flags & TF_SHUT_WR) && !(t->flags & TF_SENTFIN) &&
			    (t->state == KN_TCP_FIN_WAIT_1 || t->state == KN_TCP_CLOSING ||
			     t->state == KN_TCP_LAST_ACK)) {
				*seq = t->snd_max;
				*len = 0;
				return true;
			}
		}
	}
	/* (4) rescue retransmission, once a recovery: the last segment, when
	 * nothing is SACKed above it (a tail loss that no ACK would show). */
	if (!(t->flags & TF_RESCUED) && SEQ_LT(high, t->snd_max)) {
		/* the highest data sent (a FIN lies past it) */
		uint32_t end = SEQ_MIN(t->snd_una + t->sndq_bytes, t->snd_max);
		uint32_t start = SEQ_GT(end, high) && end - high > t->mss ? end - t->mss : high;
		*seq = start;
		*len = SEQ_GT(end, start) ? end - start : 0;
		*rescue = true;
		return true;
	}
	return false;
}

/* ---- the reordering window ----
 *
 * DupThresh alone takes a segment overtaken by DupThresh others for lost.
 * kaon sends a window as a burst, and on a path that holds one frame back
 * by even 2 ms (the wire's reorder=1%) everything behind it in the burst
 * overtakes it: a spurious fast retransmit (bench/run wan's 50 ms / 2% +
 * reordering row: 571 D-SACKs for 1,018 retransmissions). Linux waits
 * RACK's reordering window there (RFC 8985 §6.2: reo_wnd, min_RTT / 4,
 * once reordering was seen). The same here, without RACK's per-segment
 * send times: once the connection has seen a D-SACK (TF_REORD), a loss
 * the scoreboard shows outside recovery starts it only after
 * reo_wnd = SRTT / 4 (at most SRTT), if SND.UNA is still missing then.
 * The retransmission timer carries the deadline, as Linux's
 * ICSK_TIME_REO_TIMEOUT shares icsk_retransmit_timer (reo_at says so).
 * Before the first D-SACK nothing waits (RFC 8985's reo_wnd of 0), nor
 * where SRTT/4 is below the timer's 1 ms tick: on a path of a few hundred
 * microseconds (SRTT from millisecond timestamps reads 0 or 1 ms) a 1 ms
 * wait is many round trips with the pipe drained; the 1%-loss
 * echo at 0 ms ran at half the kernel's with it. */

static int64_t reo_wnd(const struct kn_tcb *t)
{
	return t->srtt / 4;
}

/* No more waiting: the retransmission timer, if it held the window's
 * deadline, is the RTO again. */
static void reo_cancel(struct kn_tcb *t)
{
	if (t->reo_at && t->t_rexmt && t->t_rexmt <= t->reo_at) {
		t->t_rexmt = 0;
		if (t->snd_una != t->snd_max && !t->t_persist)
			kn_tcp_timer_rexmt_arm(t);
	}
	t->reo_at = 0;
	t->flags &= ~TF_REO;
}

/* The scoreboard shows SND.UNA lost, out of recovery: enter it now, or
 * when the reordering window closes. */
void kn_tcp_sack_try_enter(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if ((t->flags & TF_REORD) && reo_wnd(t) >= KN_TCP_TICK_NS) {
		if (!(t->flags & TF_REO)) {
			int64_t w = reo_wnd(t);
			t->flags |= TF_REO;
			t->reo_at = s->now + w;
			if (!t->t_rexmt || t->reo_at < t->t_rexmt)
				kn_tcp_timer_set(t, &t->t_rexmt, w);
			s->st.tcp_reo_waits++;
			return;
		}
		if (s->now < t->reo_at)
			return;
	}
	kn_tcp_sack_enter(t);
}

/* After an ACK's processing: a wait whose loss vanished (the held-back
 * segment came) ends; one still on keeps its deadline against the RTO the
 * ACK re-armed. */
void kn_tcp_sack_reo_ack(struct kn_tcb *t)
{
	if (!(t->flags & TF_REO) || (t->flags & TF_INRECOVERY) || !kn_tcp_sack_una_lost(t) ||
	    t->snd_una == t->snd_max) {
		t->s->st.tcp_reo_avoided += !(t->flags & TF_INRECOVERY);
		reo_cancel(t);
		return;
	}
	if (t->t_rexmt > t->reo_at)
		kn_tcp_timer_set(t, &t->t_rexmt, t->reo_at - t->s->now);
}

/* The retransmission timer fired: @return true if it was the reordering
 * window's deadline (handled here), false for a real RTO. */
bool kn_tcp_sack_reo_timer(struct kn_tcb *t)
{
	if (!t->reo_at || t->s->now < t->reo_at)
		return false;
	t->reo_at = 0;
	kn_tcp_timer_rexmt_arm(t);
	if ((t->flags & TF_REO) && !(t->flags & TF_INRECOVERY) && kn_tcp_sack_una_lost(t) &&
	    t->snd_una != t->snd_max)
		kn_tcp_sack_try_enter(t);
	t->flags &= ~TF_REO;
	return true;
}

/* RFC 6675 §5 step (4): enter recovery. */
void kn_tcp_sack_enter(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	reo_cancel(t);
	kn_tcp_cc_loss(t, false);
	t->cwnd = t->ssthresh;
	t->recover = t->snd_max;           /* RecoveryPoint */
	t->flags |= TF_INRECOVERY | TF_SACK_RECOV;
	t->flags &= ~TF_RESCUED;
	t->snd_nxt = t->snd_max;
	t->snd_cur = NULL;
	t->rttstart = 0;                   /* Karn */
	s->st.tcp_fast_rexmt++;
	s->st.tcp_recoveries++;
	s->st.tcp_sack_recoveries++;
	/* (4.3) the first segment presumed lost, whatever pipe says */
	uint32_t hole = t->sb_n ? t->sb[0].start - t->snd_una : t->snd_max - t->snd_una;
	int r = kn_tcp_output_at(t, t->snd_una, hole);
	if (r < 0) {
		kn_tcp_output_failed(t);
		return;
	}
	t->high_rxt = t->snd_una + (uint32_t)r;
	kn_tcp_sack_output(t);
}

/* A retransmission timeout with the scoreboard kept (tcp_timer.c set
 * cwnd, ssthresh and RecoveryPoint = SND.MAX): everything unSACKed below
 * it is lost; resend it from SND.UNA, holes only, as cwnd allows, then new
 * data. No rescue: the tail is lost with the rest. Ends at RecoveryPoint
 * as any recovery (new_ack). */
void kn_tcp_sack_loss(struct kn_tcb *t)
{
	t->flags |= TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS | TF_RESCUED;
	t->high_rxt = t->snd_una;
	t->snd_nxt = t->snd_max;
	sb_recompute(t);
	kn_tcp_sack_output(t);
}

/* RFC 6675 §5 step (4.4) and (C): send while cwnd - pipe >= 1 SMSS. Bound
 * to what the scoreboard can offer; ends with a bare ACK if one is owed. */
int kn_tcp_sack_output(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if (t->state == KN_TCP_CLOSED || t->state == KN_TCP_LISTEN)
		return 0;
	for (;;) {
		uint32_t pipe = sack_pipe(t);
		if (pipe >= t->cwnd || t->cwnd - pipe < t->mss)
			break;
		uint32_t seq, len;
		bool rescue;
		if (!next_seg(t, &seq, &len, &rescue))
			break;
		bool old = SEQ_LT(seq, t->snd_max);
		int r = kn_tcp_output_at(t, seq, len);
		if (r < 0)
			return kn_tcp_output_failed(t);
		if (r == 0)
			break;
		if (rescue) {
			t->flags |= TF_RESCUED;
			t->rescue_start = seq;
			t->rescue_end = seq + (uint32_t)r;
			t->rescue_recover = t->recover;
			t->rescue_high_rxt = t->high_rxt;
			s->st.tcp_sack_rescues++;
		} else if (old) {
			t->high_rxt = seq + (uint32_t)r;   /* rules (1) and (3) */
		}
	}
	if (t->flags & TF_ACKNOW) {
		if (kn_tcp_output_at(t, t->snd_max, 0) < 0)
			return kn_tcp_output_failed(t);
	}
	return 0;
}
