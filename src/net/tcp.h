/* TCP control block and the functions tcp_*.c share. */
#ifndef KN_TCP_H
#define KN_TCP_H

#include "net_int.h"
#include "tcp_seq.h"

#define KN_TCP_MSS_DEFAULT 536        /* RFC 9293 §3.7.1 when no MSS option */
/* The smallest peer MSS believed: a smaller one is raised to this before
 * anything is subtracted from it (Linux TCP_MIN_MSS; FreeBSD's floor,
 * net.inet.tcp.minmss, is 216). */
#define KN_TCP_MIN_MSS 88
#define KN_TCPOLEN_TS_SPACE 12        /* NOP, NOP, timestamps: on every segment once agreed */
/* RFC 1191 PMTU: "fragmentation needed" is believed down to this MTU only
 * (Linux ip_rt_min_pmtu, 512 + 20 + 20), and forgotten after 10 minutes
 * (RFC 1191 §6.3; Linux ip_rt_mtu_expires). */
#define KN_TCP_MIN_PMTU 552
#define KN_TCP_PMTU_EXPIRE_NS (600 * 1000000000LL)
#define KN_TCP_MAX_WSCALE 14
#define KN_TCP_IW_SEGS 10             /* RFC 6928 initial window */
/* cwnd never grows past the largest window a peer can advertise (65535 <<
 * 14): more could never be used, and the sum can then never wrap. FreeBSD
 * caps it the same way (TCP_MAXWIN << snd_scale in newreno_ack_received). */
#define KN_TCP_CWND_MAX (65535u << KN_TCP_MAX_WSCALE)
/* The ISN of a connection that takes over a 4-tuple from TIME_WAIT: past
 * all the old one sent, as Linux (tcp_timewait_state_process: tw_snd_nxt +
 * 65535 + 2), so no old duplicate can be taken for new data. */
#define KN_TCP_TW_ISN_GAP (65535u + 2u)
#define KN_TCP_OPT_MAX 40
#define KN_TCP_TS_HZ 1000             /* timestamp clock: 1 ms */
#define KN_TCP_PAWS_IDLE_NS (24LL * 24 * 3600 * 1000000000LL)
#define KN_TCP_ORPHAN_RETRIES 8       /* Linux tcp_orphan_retries(): 0 means 8 */

/* t_flags */
enum {
	TF_ACKNOW     = 1u << 0,  /* send an ACK now */
	TF_DELACK     = 1u << 1,  /* an ACK is owed, delayed */
	TF_SENTFIN    = 1u << 2,  /* FIN has been sent at least once */
	TF_NAGLE      = 1u << 3,
	TF_KEEPALIVE  = 1u << 4,
	TF_TS         = 1u << 5,  /* timestamps agreed */
	TF_WS         = 1u << 6,  /* window scaling agreed */
	TF_RCVD_FIN   = 1u << 7,  /* peer's FIN consumed: EOF */
	TF_SHUT_WR    = 1u << 8,  /* application asked for FIN */
	TF_APP        = 1u << 9,  /* application holds the handle */
	TF_ACCEPTQ    = 1u << 10, /* in the listener's accept queue */
	TF_SYNQ       = 1u << 11, /* in the listener's SYN queue */
	TF_INRECOVERY = 1u << 12, /* NewReno fast recovery */
	TF_RTTVALID   = 1u << 13, /* an RTT sample exists */
	TF_FORCE      = 1u << 14, /* window probe: send even into a zero window */
	TF_HASHED     = 1u << 15,
	TF_SHUT_RD    = 1u << 16, /* closed by the application: no more reads */
	TF_SYN_REXMT  = 1u << 17, /* our SYN or SYN-ACK was retransmitted: IW = 1 MSS */
	TF_SACK       = 1u << 18, /* SACK-permitted agreed (RFC 2018) */
	TF_SACK_RECOV = 1u << 19, /* the recovery (TF_INRECOVERY) is RFC 6675's */
	TF_DSACK      = 1u << 20, /* a D-SACK block waits for the next ACK (RFC 2883) */
	TF_SB         = 1u << 21, /* the scoreboard holds blocks (sb_n > 0) */
	TF_RESCUED    = 1u << 22, /* this recovery's rescue retransmission went (RFC 6675) */
	TF_LOSS       = 1u << 23, /* the recovery follows an RTO: all unSACKed data below
				   * recover is lost, cwnd grows (Linux TCP_CA_Loss) */
	TF_REORD      = 1u << 24, /* the path reorders: a D-SACK came (tcp_sack.c) */
	TF_REO        = 1u << 25, /* a loss shown waits out the reordering window (reo_at) */
	/* In-order data at rcv_drop_seq was dropped for want of receive
	 * memory: the retransmission is admitted (tcp_input.c, rcv_admit) */
	TF_RCV_DROPPED = 1u << 27,
};

/* SACK (RFC 2018): at most 4 blocks fit the 40 bytes of options, 3 next to
 * timestamps. */
#define KN_TCP_SACK_BLOCKS 4
/* kn_tcp_opts.sack_n: a SACK option was malformed (ignored) */
#define KN_TCP_SACK_BAD 0x80
/* The scoreboard's bound, in disjoint ranges. Past it the highest range is
 * forgotten, and after an RTO the data it covered is taken for lost and
 * sent again. Sized for the peer, not for kaon's own 64-segment
 * out-of-order queue: a Linux receiver holds a whole window, and a slow
 * start that overflows a drop-tail queue of one BDP loses every other
 * segment of up to half of it (200 Mbit x 40 ms: ~700 segments, ~350
 * ranges). 8 bytes a range, allocated at the first SACK block for
 * KN_TCP_SB_MIN, doubled when full. */
#define KN_TCP_SB_MIN 32
#define KN_TCP_SB_MAX 1024
/* RFC 6675 DupThresh */
#define KN_TCP_DUPTHRESH 3

struct kn_sack_blk {
	uint32_t start, end;
};

/* Congestion control state (tcp_cc.c, tcp_cubic.c), cold: touched only on
 * ACKs that find cwnd the limit, on losses and on D-SACKs. CUBIC's figures
 * are in segments and seconds, as RFC 9438 writes them. */
struct kn_tcp_ccs {
	/* CUBIC (RFC 9438 §4) */
	int64_t epoch;                     /* t_epoch (ns), 0: no epoch yet */
	double w_max;                      /* W_max, segments */
	double k;                          /* K, seconds */
	double w_est;                      /* W_est, the Reno-friendly estimate, segments */
	double cwnd_prior;                 /* cwnd before the last reduction, segments */
	/* HyStart++ (RFC 9406): rounds of RTT samples in the first slow start */
	uint8_t hs_state;                  /* KN_HS_* */
	uint8_t hs_css_rounds;             /* rounds spent in CSS */
	uint16_t hs_samples;               /* rttSampleCount of this round */
	uint32_t hs_end;                   /* windowEnd: the round ends when it is ACKed */
	int64_t hs_cur_min, hs_last_min;   /* currentRoundMinRTT, lastRoundMinRTT (ns) */
	int64_t hs_css_base;               /* cssBaselineMinRtt (ns) */
	/* Undo of a reduction whose retransmissions all prove spurious by
	 * D-SACK (RFC 3708 detection; the response as Linux's
	 * tcp_undo_cwnd_reduction) */
	bool undo_on;                      /* a reduction can still be undone */
	uint32_t undo_marker;              /* SND.UNA at the reduction */
	uint32_t undo_rexmt;               /* bytes retransmitted since, not yet D-SACKed */
	uint32_t undo_high;                /* end of the highest of them */
	uint32_t prior_cwnd, prior_ssthresh;
	double prior_w_max, prior_cwnd_prior;
};

/* kn_tcp_ccs.hs_state */
enum { KN_HS_INIT, KN_HS_SS, KN_HS_CSS, KN_HS_DONE };

struct kn_ooo_seg {
	uint32_t seq;
	uint32_t len;
	bool fin;
	struct rte_mbuf *m;  /* payload only (may be NULL for a bare FIN) */
};

struct kn_tcb {
	struct kn_evsrc ev;
	struct kn_stack *s;
	LIST_ENTRY(kn_tcb) hash_link;      /* connection hash or listener list */
	TAILQ_ENTRY(kn_tcb) all_link;
	TAILQ_ENTRY(kn_tcb) q_link;        /* listener's SYN or accept queue */
	struct kn_tcb *listener;

	uint32_t lip, rip;                 /* host order */
	uint16_t lport, rport;
	uint8_t state;
	uint8_t rxtshift;
	uint8_t dupacks;
	uint8_t snd_wscale, rcv_wscale;    /* agreed shifts (0 without TF_WS) */
	uint8_t req_wscale;                /* what our SYN offered */
	uint32_t flags;
	int error;

	/* send sequence space */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_sndwnd;
	uint16_t mss;                      /* what we put in a segment (payload) */
	uint16_t peer_mss;                 /* the peer's MSS, clamped (0 before its SYN) */
	int64_t pmtu_expire;               /* when a PMTU-lowered mss goes back up, 0 = not lowered */
	uint32_t cwnd, ssthresh, recover;
	int64_t last_snd;                  /* last data segment sent (RFC 5681 §4.1 restart) */

	/* receive sequence space */
	uint32_t irs, rcv_nxt, rcv_adv;    /* rcv_adv: right edge advertised */
	/* adv_window_lazy() (tcp_output.c): the last window computed whole,
	 * at RCV.NXT rcv_wnd_at; 0 when it may not be reused */
	uint32_t rcv_wnd_last, rcv_wnd_at;
	uint16_t segs_unacked;             /* full segments since the last ACK */

	/* timestamps (RFC 7323) */
	uint32_t ts_recent;
	int64_t ts_recent_age;
	uint32_t ts_offset;                /* TSval = clock + this (secret.c key) */

	/* ACKs to invalid segments and challenges: last sent (Linux
	 * tcp_oow_rate_limited, per connection) */
	int64_t last_oow_ack;

	/* RTT (RFC 6298) */
	int64_t srtt, rttvar, rto;
	uint32_t rtseq;
	int64_t rttstart;                  /* 0: not timing */

	/* timers: absolute deadlines, 0 = off; set them with kn_tcp_timer_set() */
	int64_t t_rexmt, t_persist, t_delack, t_keep, t_2msl;
	int64_t t_wheel;                   /* the first deadline of tw's tick; INT64_MAX: not filed */
	/* keep_probes counts up to keepcnt, which kn_stack_create clamps
	 * to KN_TCP_KEEPCNT_MAX so that it fits */
	uint8_t persist_shift, keep_probes;
	uint8_t probes_unanswered;         /* zero-window probes the peer ignored */
	int64_t last_rx;

	/* send buffer: a chain of single-segment payload mbufs from snd_una */
	struct rte_mbuf *sndq, *sndq_tail;
	uint32_t sndq_bytes;               /* unacked + unsent data bytes */
	struct rte_mbuf *snd_cur;          /* cursor: segment holding snd_cur_seq */
	struct rte_mbuf *snd_spare;        /* an acked, unshared buffer kept for reuse */
	uint32_t snd_cur_seq;
	uint32_t snd_nmb;                  /* send memory charged: sndq + snd_spare mbufs */

	/* receive queue: a chain of payload segments, in order */
	struct rte_mbuf *rcvq, *rcvq_tail;
	uint32_t rcvq_bytes;
	uint32_t rcvq_mem;                 /* buffer bytes held, for the bound */
	/* receive memory charged: one per rcvq mbuf (not counted apart) */
	uint32_t ooo_nmb;                  /* receive memory charged: ooo mbufs */

	/* out-of-order queue, sorted, bounded */
	struct kn_ooo_seg *ooo;
	uint16_t ooo_n;                    /* <= ooo_max, clamped to KN_TCP_OOO_MAX */
	uint32_t rcv_drop_seq;             /* see TF_RCV_DROPPED */

	/* listener */
	TAILQ_HEAD(, kn_tcb) synq, acceptq;
	uint32_t synq_n, acceptq_n, backlog;

	/* timers, the cold part */
	struct kn_tw_node tw;              /* on the wheel at or before the earliest */
	int64_t persist_since;             /* first probe of this zero window */
	int64_t probe_sent;                /* last zero-window probe */
	int64_t cookie_sent;               /* last SYN cookie sent, 0 = never */

	/* The transmit template (tcp_output.c, send_plain): the Ethernet,
	 * IPv4 and TCP headers (and the timestamp option's fixed bytes) every
	 * plain segment of the connection starts with; per segment only the
	 * destination MAC, lengths, sequence numbers, flags, window,
	 * timestamps and checksums are written in. */
	uint8_t tx_hdr[KN_L2L3_LEN + sizeof(struct kn_tcp_hdr) + KN_TCPOLEN_TS_SPACE];
	uint8_t tx_thlen;                  /* TCP header bytes it holds; 0: none yet */
	uint32_t tx_arp;                   /* ARP entry of the next hop: a hint, checked per segment */
	uint32_t tx_nexthop;
	uint32_t tx_ipsum;                 /* IPv4 header's sum without length and checksum */
	uint32_t tx_l4sum;                 /* TCP pseudo-header's sum without the length */

	/* SACK (tcp_sack.c), cold: touched only with TF_SB, TF_DSACK,
	 * TF_SACK_RECOV or a non-empty out-of-order queue */
	struct kn_sack_blk *sb;            /* scoreboard: SACKed ranges in (SND.UNA, SND.MAX], sorted */
	uint16_t sb_n, sb_cap;
	uint8_t rcv_sack_n;                /* entries in rcv_sack_recent */
	uint32_t sacked;                   /* bytes the scoreboard holds */
	uint32_t sack_lost;                /* IsLost boundary: unSACKed data below it is lost */
	uint32_t high_rxt;                 /* RFC 6675 HighRxt: end of what recovery resent */
	uint32_t rcv_sack_recent[KN_TCP_SACK_BLOCKS]; /* last out-of-order arrivals, newest first */
	uint32_t dsack_start, dsack_end;   /* the duplicate to report (TF_DSACK) */
	int64_t reo_at;                    /* t_rexmt is the reordering window's end, not the RTO */

	struct kn_tcp_ccs cc;              /* congestion control, cold */
	/* tcp_sack.c, cold: the last D-SACK block taken (a GSO receiver
	 * copies one into every segment it cuts), and the range of this
	 * recovery's rescue (its D-SACK shows no reordering) */
	uint32_t dsack_rx_start, dsack_rx_end;
	uint32_t rescue_start, rescue_end;
	uint32_t rescue_recover, rescue_high_rxt; /* RecoveryPoint, HighRxt when it went */
};

/* Parsed options of one segment. Everything before sack is zeroed per
 * segment; sack holds sack_n & 7 blocks (start, end) in host order. */
struct kn_tcp_opts {
	uint16_t mss;
	uint8_t wscale;
	bool has_mss, has_wscale, has_ts, has_sackok;
	uint8_t sack_n;                    /* blocks, | KN_TCP_SACK_BAD */
	uint32_t tsval, tsecr;
	uint32_t sack[2 * KN_TCP_SACK_BLOCKS];
};

/* One received segment, parsed. */
struct kn_seg {
	uint32_t seq, ack, len;            /* len: payload bytes */
	uint32_t wnd;                      /* raw window field */
	uint8_t flags;
	struct kn_tcp_opts opt;
	uint32_t src, dst;                 /* host order */
	uint16_t sport, dport;
};

/* Config bounds kn_stack_create() applies: the counters that hold them are
 * narrow. keepcnt as Linux (MAX_TCP_KEEPCNT, the TCP_KEEPCNT bound). */
#define KN_TCP_KEEPCNT_MAX 127u
#define KN_TCP_OOO_MAX UINT16_MAX

/* @cwnd + @inc, saturated at KN_TCP_CWND_MAX (any @cwnd: no wrap). */
static inline uint32_t kn_tcp_cwnd_add(uint32_t cwnd, uint32_t inc)
{
	return cwnd < KN_TCP_CWND_MAX - inc ? cwnd + inc : KN_TCP_CWND_MAX;
}

static inline uint32_t kn_tcp_ts_now(const struct kn_stack *s)
{
	return (uint32_t)(s->now / (1000000000LL / KN_TCP_TS_HZ));
}

/* Free space in the receive buffer; buffer overhead counts too, so tiny
 * segments cannot pin a lot of memory behind a small byte count. */
static inline uint32_t kn_tcp_rcv_space(const struct kn_tcb *t)
{
	uint32_t buf = t->s->conf.tcp.rcvbuf;
	uint32_t used = RTE_MAX(t->rcvq_bytes, t->rcvq_mem / 4);
	return used >= buf ? 0 : buf - used;
}

/* The window the receive side can stand behind: the socket's free space,
 * capped by a fair share of the stack's free receive memory (an mbuf
 * counted as one MSS): the budget's first defence, before any drop. A
 * connection that holds nothing gets at least one MSS, so that every
 * connection can make progress; one that already holds buffers its
 * application has not read gets no more than its share, possibly none:
 * its reads reopen the window (after_read() in tcp_usrreq.c). Without that
 * rule, under pressure, echo connections whose application waited for
 * send memory kept taking a segment per round trip into queues nobody
 * read, until the budget ran out for everyone and in-window data was
 * dropped: 1,000 connections on 2,047 mbufs moved 1 request per second,
 * each peer in retransmission backoff (the veth testbed, af_packet). */
static inline uint32_t kn_tcp_rcv_window(const struct kn_tcb *t)
{
	const struct kn_stack *s = t->s;
	uint32_t win = kn_tcp_rcv_space(t);
	/* A fair share of free receive memory and of what the device can
	 * buffer in one burst: every connection may fill its window at once,
	 * and what the device drops costs the peer a retransmission timeout. */
	uint32_t frames = RTE_MIN(kn_mem_rcv_free(s), s->rcv_burst_cap);
	uint32_t n = s->ntcb ? s->ntcb : 1u;
	/* win <= share, tested without the division (once per segment sent):
	 * win * n <= frames * mss exactly when win <= floor(frames * mss / n). */
	if ((uint64_t)win * n <= (uint64_t)frames * t->mss)
		return win;
	uint64_t share = (uint64_t)frames * t->mss / n;
	if (share < t->mss && !t->rcvq && t->ooo_n == 0)
		share = t->mss;
	return win > share ? (uint32_t)share : win;
}

static inline uint32_t kn_tcb_tuple_hash(uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint32_t h = rip * 0x9e3779b1u;
	h ^= ((uint32_t)rport << 16 | lport) * 0x85ebca6bu;
	return h ^ (h >> 15);
}

/* kn_tcb_lookup, inline for segment arrival (once per segment). */
static inline struct kn_tcb *kn_tcb_find(struct kn_stack *s, uint32_t lip, uint16_t lport,
					 uint32_t rip, uint16_t rport)
{
	struct kn_tcb_list *b = &s->tcb_hash[kn_tcb_tuple_hash(rip, rport, lport) & s->tcb_hash_mask];
	struct kn_tcb *t;
	LIST_FOREACH(t, b, hash_link)
		if (t->rip == rip && t->rport == rport && t->lport == lport && t->lip == lip)
			return t;
	return NULL;
}

/* tcp_subr.c */
struct kn_tcb *kn_tcb_alloc(struct kn_stack *s);
void kn_tcb_hash(struct kn_stack *s, struct kn_tcb *t);
struct kn_tcb *kn_tcb_lookup(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip,
			     uint16_t rport);
struct kn_tcb *kn_tcb_listener(struct kn_stack *s, uint16_t port);
uint32_t kn_tcp_isn(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
uint32_t kn_tcp_ts_offset(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip,
			  uint16_t rport);
void kn_tcp_drop(struct kn_tcb *t, int err);
void kn_tcp_closed(struct kn_tcb *t);
void kn_tcp_set_state(struct kn_tcb *t, uint8_t st);
void kn_tcp_mss_init(struct kn_tcb *t, const struct kn_tcp_opts *o);
uint16_t kn_tcp_mss_limit(uint32_t mtu, uint32_t peer_mss, bool ts);
void kn_tcp_pmtu_expire(struct kn_tcb *t);
void kn_tcp_rcvq_free(struct kn_tcb *t);
void kn_tcp_enter_timewait(struct kn_tcb *t);
int kn_tcp_parse_opts(const uint8_t *p, uint32_t len, bool syn, struct kn_tcp_opts *o);

/* tcp_output.c */
int kn_tcp_output(struct kn_tcb *t);
/* kn_tcp_output right after data was queued (kn_tcp_send) */
ssize_t kn_tcp_output_new(struct kn_tcb *t, ssize_t ret);
void kn_tcp_respond(struct kn_stack *s, const struct kn_seg *sg, uint32_t seq, uint32_t ack,
		    uint8_t flags);
void kn_tcp_send_ack(struct kn_tcb *t);
__attribute__((cold)) void kn_tcp_idle_restart(struct kn_tcb *t);
void kn_tcp_send_challenge_ack(struct kn_tcb *t);
void kn_tcp_send_rst(struct kn_tcb *t);
void kn_tcp_snd_free_acked_list(struct kn_tcb *t, uint32_t bytes);

/* An acknowledged buffer @m, unlinked from the send queue, leaves it.
 * Request/response traffic empties the buffer on every ACK: keep one
 * unshared buffer as the spare instead of a free and an alloc per message;
 * it stays charged to send memory, so only while under half of that is in
 * use. Never one pointing into a caller's buffer (kn_tcp_sendv_ref): the
 * next send would write into the lender's memory. */
static inline void kn_tcp_snd_retire(struct kn_tcb *t, struct rte_mbuf *m)
{
	if (!t->snd_spare && RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 &&
	    t->s->st.mem_snd_used * 2 < t->s->st.mem_snd_limit) {
		m->data_off = 0;
		m->data_len = 0;
		m->pkt_len = 0;
		t->snd_spare = m;
	} else {
		kn_free(t->s, m);
		t->snd_nmb--;
		kn_mem_snd_release(t->s, 1);
	}
}

/* Drop @bytes of acknowledged data from the head of the send buffer.
 * Inline for request/response, once per ACK: the one buffer queued, all of
 * it acknowledged. */
static inline void kn_tcp_snd_free_acked(struct kn_tcb *t, uint32_t bytes)
{
	struct rte_mbuf *h = t->sndq;
	if (KN_LIKELY(h && h->data_len == bytes && !h->next)) {
		t->sndq_bytes -= bytes;
		t->sndq = t->sndq_tail = NULL;
		t->snd_cur = NULL;
		kn_tcp_snd_retire(t, h);
		return;
	}
	kn_tcp_snd_free_acked_list(t, bytes);
}
/* tcp_usrreq.c's send buffer steps, for tcp_sendref.c: room (or why none),
 * copy in (no output), account and send. */
ssize_t kn_tcp_snd_space(const struct kn_tcb *t);
size_t kn_tcp_snd_append(struct kn_tcb *t, const void *p, size_t len, bool *nomem);
ssize_t kn_tcp_snd_done(struct kn_tcb *t, size_t n, bool nomem);
/* tcp_sendref.c, for tcp_output.c: the sum of @len payload bytes at @seq
 * with the lenders' sum providers (kaon_ref.sum), when the send buffer at
 * the cursor (snd_cur, just set by building the segment) is a lent piece;
 * @return false (nothing done) otherwise. */
bool kn_tcp_lent_sum(struct kn_tcb *t, uint32_t seq, uint32_t len, uint32_t *sum);
void kn_tcp_send_synack(struct kn_tcb *t);
bool kn_tcp_oow_ratelimited(struct kn_tcb *t, const struct kn_seg *sg);
void kn_tcp_send_oow_ack(struct kn_tcb *t, const struct kn_seg *sg);

/* tcp_syncookie.c; a cookie is good for two 64 s periods */
#define KN_SYNCOOKIE_PERIOD_NS (64 * 1000000000LL)
#define KN_SYNCOOKIE_LIFE_NS (2 * KN_SYNCOOKIE_PERIOD_NS)
void kn_syncookie_send(struct kn_stack *s, struct kn_tcb *l, const struct kn_seg *sg);
/* @return true if the ACK carries a valid cookie; @o then holds the SYN's
 * options as the cookie kept them (and the ACK's timestamps). */
bool kn_syncookie_check(struct kn_stack *s, const struct kn_seg *sg, struct kn_tcp_opts *o);
/* Whether ACKs without a TCB are worth a cookie check: one was sent
 * lately (Linux tcp_synq_no_recent_overflow). */
static inline bool kn_syncookie_recent(const struct kn_stack *s, const struct kn_tcb *l)
{
	return l->cookie_sent && s->now - l->cookie_sent < KN_SYNCOOKIE_LIFE_NS;
}

/* tcp_sack.c: SACK (RFC 2018, RFC 2883) and RFC 6675 loss recovery */
void kn_tcp_sack_rcv_note(struct kn_tcb *t, uint32_t seq);
void kn_tcp_sack_dsack(struct kn_tcb *t, uint32_t start, uint32_t end);
uint32_t kn_tcp_sack_opts(struct kn_tcb *t, uint8_t *opt, uint32_t optlen, uint32_t room);
bool kn_tcp_sack_input(struct kn_tcb *t, const struct kn_seg *sg);
void kn_tcp_sack_trim(struct kn_tcb *t, uint32_t una);
void kn_tcp_sack_clear(struct kn_tcb *t);
bool kn_tcp_sack_una_lost(const struct kn_tcb *t);
void kn_tcp_sack_enter(struct kn_tcb *t);
void kn_tcp_sack_loss(struct kn_tcb *t);
void kn_tcp_sack_try_enter(struct kn_tcb *t);
void kn_tcp_sack_reo_ack(struct kn_tcb *t);
bool kn_tcp_sack_reo_timer(struct kn_tcb *t);
int kn_tcp_sack_output(struct kn_tcb *t);
/* tcp_output.c, for tcp_sack.c: one segment at @seq (see there) */
int kn_tcp_output_at(struct kn_tcb *t, uint32_t seq, uint32_t maxlen);

/* tcp_cc.c: congestion control behind a table of hooks, one per algorithm
 * (kn_tcp_conf.cc); the slow start (with HyStart++) and the undo are
 * shared. */
struct kn_tcp_cc_ops {
	const char *name;
	/* A loss: @return the new ssthresh (the caller sets cwnd). */
	uint32_t (*ssthresh)(struct kn_tcb *t);
	/* Congestion avoidance: @acked new bytes, cwnd the limit, no recovery. */
	void (*cong_avoid)(struct kn_tcb *t, uint32_t acked);
};
extern const struct kn_tcp_cc_ops kn_tcp_newreno, kn_tcp_cubic;
/* An ACK of @acked new bytes up to @ack found cwnd the limit (not in
 * recovery): slow start or congestion avoidance. @rtt: its RTT sample
 * (ns), < 0 if none. */
void kn_tcp_cc_ack(struct kn_tcb *t, uint32_t ack, uint32_t acked, int64_t rtt);
/* A loss (fast retransmit, SACK recovery, or @rto): sets ssthresh and
 * remembers what an undo restores. */
void kn_tcp_cc_loss(struct kn_tcb *t, bool rto);
/* A D-SACK for [@start, @end) (RFC 2883), within what could have been sent. */
void kn_tcp_cc_dsack(struct kn_tcb *t, uint32_t start, uint32_t end);
/* After idle (RFC 5681 §4.1): no epoch survives. */
void kn_tcp_cc_idle(struct kn_tcb *t);
/* @len bytes at @seq were sent again: what D-SACKs must cover for an undo. */
static inline void kn_tcp_cc_rexmit(struct kn_tcb *t, uint32_t seq, uint32_t len)
{
	if (t->cc.undo_on) {
		t->cc.undo_rexmt += len;
		if (SEQ_GT(seq + len, t->cc.undo_high))
			t->cc.undo_high = seq + len;
	}
}

/* tcp_timer.c */
#define KN_TCP_TICK_NS 1000000LL /* timer granularity: 1 ms */

/* The wheel tick of deadline @at: rounded up, so nothing fires early. */
static inline uint64_t kn_tcp_tick(int64_t at)
{
	return at > 0 ? (uint64_t)(at + KN_TCP_TICK_NS - 1) / KN_TCP_TICK_NS : 0;
}

/* File @t on the wheel for deadline @at. Cold: out of the way of the
 * inlined fast path (stack-loop counts ~20 fewer instructions a request). */
__attribute__((cold)) void kn_tcp_timer_file(struct kn_tcb *t, int64_t at);
void kn_tcp_timer_unfile(struct kn_tcb *t);

/* Arm one of @t's timers @delta from now. A timer is disarmed by setting
 * it to 0: the TCB stays on the wheel at its old deadline, and is then
 * filed again at its earliest live one (or taken off) when that fires.
 * The common case, a TCB already filed at the same tick or an earlier one,
 * is one compare: t_wheel is the first deadline that rounds up to the tick
 * it is filed at, so a deadline re-armed within that tick (a delayed ACK
 * per request) does not call out to find the wheel unchanged. */
static inline void kn_tcp_timer_set(struct kn_tcb *t, int64_t *which, int64_t delta)
{
	int64_t at = t->s->now + delta;
	*which = at ? at : 1;
	if (*which < t->t_wheel)
		kn_tcp_timer_file(t, *which);
}

/* (Re)start the retransmission timer: RTO, backed off (RFC 6298 §5.5).
 * Inline: once per data segment sent. t->rto is never above rto_max
 * (kn_tcb_alloc, kn_tcp_rtt_update): without a backoff, the common case,
 * no shift and no cap. */
static inline void kn_tcp_timer_rexmt_arm(struct kn_tcb *t)
{
	int64_t rto = t->rto;
	if (KN_UNLIKELY(t->rxtshift)) {
		int64_t max = t->s->conf.tcp.rto_max_ns;
		rto <<= t->rxtshift < 16 ? t->rxtshift : 16;
		rto = rto > max ? max : rto;
	}
	kn_tcp_timer_set(t, &t->t_rexmt, rto);
}

/* RFC 6298 §2: fold one RTT sample into SRTT/RTTVAR and the RTO. Inline:
 * once per ACK of request/response traffic, where the call cost the fast
 * path its registers (stack-loop: ~10 instructions a request per side). */
static inline void kn_tcp_rtt_update(struct kn_tcb *t, int64_t rtt)
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
		/* Every term is >= 0 (rtt clamped above): shifts, not signed
		 * divisions, give the same quotients. */
		t->rttvar = (int64_t)((uint64_t)(3 * t->rttvar + d) >> 2);  /* beta = 1/4 */
		t->srtt = (int64_t)((uint64_t)(7 * t->srtt + rtt) >> 3);    /* alpha = 1/8 */
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

void kn_tcp_persist_arm(struct kn_tcb *t);
__attribute__((cold)) void kn_tcp_persist_shut(struct kn_tcb *t);
/* kn_tcp_output()'s way out when a segment cannot be built: @return -ENOMEM. */
__attribute__((cold)) int kn_tcp_output_failed(struct kn_tcb *t);

#endif
