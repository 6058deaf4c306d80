/* TCP control block and the functions tcp_*.c share. */
#ifndef KN_TCP_H
#define KN_TCP_H

#include "net_int.h"
#include "tcp_seq.h"

#define KN_TCP_MSS_DEFAULT 536        /* RFC 9293 §3.7.1 when no MSS option */
#define KN_TCP_MAX_WSCALE 14
#define KN_TCP_IW_SEGS 10             /* RFC 6928 initial window */
#define KN_TCP_OPT_MAX 40
#define KN_TCP_TS_HZ 1000             /* timestamp clock: 1 ms */
#define KN_TCP_PAWS_IDLE_NS (24LL * 24 * 3600 * 1000000000LL)

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
};

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
	uint16_t peer_mss;
	uint32_t cwnd, ssthresh, recover;

	/* receive sequence space */
	uint32_t irs, rcv_nxt, rcv_adv;    /* rcv_adv: right edge advertised */
	uint16_t segs_unacked;             /* full segments since the last ACK */

	/* timestamps (RFC 7323) */
	uint32_t ts_recent;
	int64_t ts_recent_age;
	uint32_t ts_offset;

	/* RTT (RFC 6298) */
	int64_t srtt, rttvar, rto;
	uint32_t rtseq;
	int64_t rttstart;                  /* 0: not timing */

	/* timers: absolute deadlines, 0 = off */
	int64_t t_rexmt, t_persist, t_delack, t_keep, t_2msl;
	uint8_t persist_shift, keep_probes;
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
	uint32_t rcvq_nmb;                 /* receive memory charged: rcvq mbufs */
	uint32_t ooo_nmb;                  /* receive memory charged: ooo mbufs */

	/* out-of-order queue, sorted, bounded */
	struct kn_ooo_seg *ooo;
	uint16_t ooo_n;

	/* listener */
	TAILQ_HEAD(, kn_tcb) synq, acceptq;
	uint32_t synq_n, acceptq_n, backlog;
};

/* Parsed options of one segment. */
struct kn_tcp_opts {
	uint16_t mss;
	uint8_t wscale;
	bool has_mss, has_wscale, has_ts;
	uint32_t tsval, tsecr;
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
 * counted as one MSS), never below one MSS so that every connection can
 * make progress: the budget's first defence, before any drop. */
static inline uint32_t kn_tcp_rcv_window(const struct kn_tcb *t)
{
	const struct kn_stack *s = t->s;
	uint32_t win = kn_tcp_rcv_space(t);
	uint64_t share = (uint64_t)kn_mem_rcv_free(s) * t->mss / (s->ntcb ? s->ntcb : 1u);
	if (share < t->mss)
		share = t->mss;
	return win > share ? (uint32_t)share : win;
}

/* tcp_subr.c */
struct kn_tcb *kn_tcb_alloc(struct kn_stack *s);
void kn_tcb_hash(struct kn_stack *s, struct kn_tcb *t);
struct kn_tcb *kn_tcb_lookup(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip,
			     uint16_t rport);
struct kn_tcb *kn_tcb_listener(struct kn_stack *s, uint16_t port);
uint32_t kn_tcp_isn(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
void kn_tcp_drop(struct kn_tcb *t, int err);
void kn_tcp_closed(struct kn_tcb *t);
void kn_tcp_set_state(struct kn_tcb *t, uint8_t st);
void kn_tcp_mss_init(struct kn_tcb *t, const struct kn_tcp_opts *o);
void kn_tcp_rcvq_free(struct kn_tcb *t);
void kn_tcp_enter_timewait(struct kn_tcb *t);
int kn_tcp_parse_opts(const uint8_t *p, uint32_t len, bool syn, struct kn_tcp_opts *o);

/* tcp_output.c */
int kn_tcp_output(struct kn_tcb *t);
void kn_tcp_respond(struct kn_stack *s, const struct kn_seg *sg, uint32_t seq, uint32_t ack,
		    uint8_t flags);
void kn_tcp_send_ack(struct kn_tcb *t);
void kn_tcp_send_challenge_ack(struct kn_tcb *t);
void kn_tcp_send_rst(struct kn_tcb *t);
void kn_tcp_snd_free_acked(struct kn_tcb *t, uint32_t bytes);

/* tcp_timer.c */
static inline void kn_tcp_timer_set(struct kn_tcb *t, int64_t *which, int64_t delta)
{
	int64_t at = t->s->now + delta;
	*which = at ? at : 1;
	kn_timer_note(t->s, *which);
}

/* (Re)start the retransmission timer: RTO, backed off (RFC 6298 §5.5). */
static inline void kn_tcp_timer_rexmt_arm(struct kn_tcb *t)
{
	int64_t rto = t->rto << (t->rxtshift < 16 ? t->rxtshift : 16);
	int64_t max = t->s->conf.tcp.rto_max_ns;
	kn_tcp_timer_set(t, &t->t_rexmt, rto > max ? max : rto);
}
void kn_tcp_rtt_update(struct kn_tcb *t, int64_t rtt);
void kn_tcp_persist_arm(struct kn_tcb *t);

#endif
