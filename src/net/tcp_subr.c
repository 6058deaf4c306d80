/* TCP support: control blocks, lookup, ISNs (RFC 6528), options, teardown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

static const char *const state_names[] = {
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
	"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
};

const char *kn_tcp_state_name(enum kn_tcp_state st)
{
	return (unsigned)st < RTE_DIM(state_names) ? state_names[st] : "?";
}

int kn_tcp_init(struct kn_stack *s)
{
	uint32_t n = 64;
	while (n < s->conf.tcp.max_tcbs)
		n <<= 1;
	s->tcb_hash = calloc(n, sizeof(*s->tcb_hash));
	if (!s->tcb_hash)
		return -1;
	s->tcb_hash_mask = n - 1;
	LIST_INIT(&s->listeners);
	TAILQ_INIT(&s->all);
	kn_tw_init(&s->tcp_wheel, (uint64_t)s->now / KN_TCP_TICK_NS);
	return 0;
}


struct kn_tcb *kn_tcb_alloc(struct kn_stack *s)
{
	if (s->ntcb >= s->conf.tcp.max_tcbs)
		return NULL;
	struct kn_tcb *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->s = s;
	t->t_wheel = INT64_MAX;
	TAILQ_INIT(&t->synq);
	TAILQ_INIT(&t->acceptq);
	TAILQ_INSERT_TAIL(&s->all, t, all_link);
	s->ntcb++;
	s->st.tcp_states[KN_TCP_CLOSED]++;
	const struct kn_tcp_conf *c = &s->conf.tcp;
	/* Capped as kn_tcp_rtt_update caps it: kn_tcp_timer_rexmt_arm takes
	 * an RTO without backoff as it is. */
	t->rto = RTE_MIN(c->rto_init_ns, c->rto_max_ns);
	if (c->nagle)
		t->flags |= TF_NAGLE;
	t->mss = KN_TCP_MSS_DEFAULT;
	/* Smallest shift that lets the window cover the buffer (RFC 7323 §2.3). */
	while (t->req_wscale < KN_TCP_MAX_WSCALE && (c->rcvbuf >> t->req_wscale) > 65535)
		t->req_wscale++;
	return t;
}

/* The connection has its 4-tuple: hash it, and give it its timestamp
 * offset (every passive and active open comes through here before its
 * first segment). */
void kn_tcb_hash(struct kn_stack *s, struct kn_tcb *t)
{
	t->ts_offset = kn_tcp_ts_offset(s, t->lip, t->lport, t->rip, t->rport);
	struct kn_tcb_list *b = &s->tcb_hash[kn_tcb_tuple_hash(t->rip, t->rport, t->lport) & s->tcb_hash_mask];
	LIST_INSERT_HEAD(b, t, hash_link);
	t->flags |= TF_HASHED;
}

struct kn_tcb *kn_tcb_lookup(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip,
			     uint16_t rport)
{
	return kn_tcb_find(s, lip, lport, rip, rport);
}

struct kn_tcb *kn_tcb_listener(struct kn_stack *s, uint16_t port)
{
	struct kn_tcb *t;
	LIST_FOREACH(t, &s->listeners, hash_link)
		if (t->lport == port)
			return t;
	return NULL;
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
uint32_t kn_tcp_isn(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	uint64_t m[2] = {(uint64_t)lip << 32 | rip, (uint64_t)lport << 16 | rport};
	uint64_t f = kn_siphash(s->sec.key[KN_KEY_ISN], m, 2);
	return (uint32_t)f + (uint32_t)(s->now / 4000);
}

/* TSval = clock + a keyed hash of the 4-tuple (Linux tcp_ts_off, per
 * connection as in Linux 4.10): the TSval of one connection says nothing
 * about our clock or another connection's; a function of the tuple, so a
 * SYN cookie's connection gets the offset its SYN-ACK showed. */
uint32_t kn_tcp_ts_offset(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip,
			  uint16_t rport)
{
	uint64_t m[2] = {(uint64_t)lip << 32 | rip, (uint64_t)lport << 16 | rport};
	return (uint32_t)kn_siphash(s->sec.key[KN_KEY_TS], m, 2);
}

_Static_assert(KN_TCP_TIME_WAIT + 1 == KN_TCP_NSTATES, "KN_TCP_NSTATES");

/* Every change of a live TCB's state goes through here, so that
 * st.tcp_states[] counts the TCBs in each state (a TCB is counted from
 * kn_tcb_alloc, in CLOSED, to tcb_free). */
void kn_tcp_set_state(struct kn_tcb *t, uint8_t st)
{
	struct kn_stats *c = &t->s->st;
	if (st == KN_TCP_ESTABLISHED)
		c->tcp_established++;
	c->tcp_states[t->state]--;
	c->tcp_states[st]++;
	t->state = st;
}

/* Parse the options of one segment. @return 0, or -1 if an option has a
 * length of 0 or 1 or runs past the header. */
static inline uint32_t get32(const uint8_t *v)
{
	return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
}

int kn_tcp_parse_opts(const uint8_t *p, uint32_t len, bool syn, struct kn_tcp_opts *o)
{
	uint32_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == KN_TCPOPT_EOL)
			break;
		if (kind == KN_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		uint8_t olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return -1;
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case KN_TCPOPT_MSS:
			if (olen == 4 && syn) {
				o->has_mss = true;
				o->mss = (uint16_t)(v[0] << 8 | v[1]);
			}
			break;
		case KN_TCPOPT_WSCALE:
			if (olen == 3 && syn) {
				o->has_wscale = true;
				o->wscale = v[0] > KN_TCP_MAX_WSCALE ? KN_TCP_MAX_WSCALE : v[0];
			}
			break;
		case KN_TCPOPT_SACK_OK:
			if (olen == 2 && syn)
				o->has_sackok = true;
			break;
		case KN_TCPOPT_SACK:
			/* RFC 2018 §3: 2 + 8n bytes. A block cut short, or a
			 * fifth block (only two options can carry one), makes
			 * the option unusable: ignored and counted (tcp_sack.c),
			 * the segment taken. */
			if (syn)
				break;
			if (olen < 10 || (olen - 2) % 8) {
				o->sack_n |= KN_TCP_SACK_BAD;
				break;
			}
			for (uint32_t b = 0; b < (olen - 2u) / 8u; b++) {
				unsigned n = o->sack_n & 7u;
				if (n >= KN_TCP_SACK_BLOCKS) {
					o->sack_n |= KN_TCP_SACK_BAD;
					break;
				}
				o->sack[2 * n] = get32(v + 8 * b);
				o->sack[2 * n + 1] = get32(v + 8 * b + 4);
				o->sack_n++;
			}
			break;
		case KN_TCPOPT_TS:
			if (olen == 10) {
				o->has_ts = true;
				o->tsval = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
				o->tsecr = (uint32_t)v[4] << 24 | (uint32_t)v[5] << 16 | (uint32_t)v[6] << 8 | v[7];
			}
			break;
		default:
			break;
		}
		i += olen;
	}
	return 0;
}

/* Payload per segment for an IP @mtu and a peer MSS, less the options every
 * segment carries: header + options + payload + IP header never exceed
 * @mtu. @peer_mss is clamped to [KN_TCP_MIN_MSS, @mtu - 40] before anything
 * is subtracted, so nothing can underflow; 0 means "not known yet". As Linux
 * (__tcp_mtu_to_mss then tcp_mtu_to_mss), the floor applies to the MSS and
 * the options come off after it: at least 88 - 12 = 76 bytes. */
uint16_t kn_tcp_mss_limit(uint32_t mtu, uint32_t peer_mss, bool ts)
{
	uint32_t mss = mtu - sizeof(struct kn_ip4_hdr) - sizeof(struct kn_tcp_hdr);
	if (peer_mss && peer_mss < mss)
		mss = peer_mss;
	if (mss < KN_TCP_MIN_MSS)
		mss = KN_TCP_MIN_MSS;
	if (ts)
		mss -= KN_TCPOLEN_TS_SPACE;
	return (uint16_t)mss;
}

/* Settle the segment size once the peer's SYN options are known. An MSS
 * option of 0 counts as absent (Linux tcp_parse_options: 536); 1..87 are
 * raised to 88 (Linux TCP_MIN_MSS). */
void kn_tcp_mss_init(struct kn_tcb *t, const struct kn_tcp_opts *o)
{
	uint32_t peer = o->has_mss && o->mss ? o->mss : KN_TCP_MSS_DEFAULT;
	if (peer < KN_TCP_MIN_MSS)
		peer = KN_TCP_MIN_MSS;
	uint16_t mss = kn_tcp_mss_limit(t->s->mtu, peer, t->flags & TF_TS);
	t->peer_mss = (uint16_t)peer;
	t->mss = mss;
	t->pmtu_expire = 0;
	t->cwnd = (t->flags & TF_SYN_REXMT ? 1u : KN_TCP_IW_SEGS) * (uint32_t)mss;
	t->ssthresh = UINT32_MAX / 2;
}

/* A PMTU learnt from "fragmentation needed" has aged out (RFC 1191 §6.3):
 * back to the first hop's MTU; a router on a smaller path will say so
 * again. */
void kn_tcp_pmtu_expire(struct kn_tcb *t)
{
	t->pmtu_expire = 0;
	t->mss = kn_tcp_mss_limit(t->s->mtu, t->peer_mss, t->flags & TF_TS);
	t->s->st.tcp_pmtu_expired++;
}

void kn_tcp_rcvq_free(struct kn_tcb *t)
{
	/* Every mbuf on the receive queue was charged as it came in (one
	 * buffer per link: see rcvq_append): counted here, once, rather than
	 * kept up to date on every segment in and every read. */
	kn_mem_rcv_release(t->s, kn_mbuf_nsegs(t->rcvq));
	if (t->rcvq)
		rte_pktmbuf_free(t->rcvq);
	t->rcvq = t->rcvq_tail = NULL;
	t->rcvq_bytes = t->rcvq_mem = 0;
}

static void ooo_free(struct kn_tcb *t)
{
	for (unsigned i = 0; i < t->ooo_n; i++)
		rte_pktmbuf_free(t->ooo[i].m);
	t->ooo_n = 0;
	kn_mem_rcv_release(t->s, t->ooo_nmb);
	t->ooo_nmb = 0;
	free(t->ooo);
	t->ooo = NULL;
	/* The send side's scoreboard goes with it: both live as long as
	 * the connection can still exchange data. */
	free(t->sb);
	t->sb = NULL;
	t->sb_n = 0;
	t->flags &= ~(TF_SB | TF_DSACK);
}

static void sndq_free(struct kn_tcb *t)
{
	if (t->sndq)
		rte_pktmbuf_free(t->sndq);
	t->sndq = t->sndq_tail = t->snd_cur = NULL;
	t->sndq_bytes = 0;
	if (t->snd_spare)
		rte_pktmbuf_free(t->snd_spare);
	t->snd_spare = NULL;
	kn_mem_snd_release(t->s, t->snd_nmb);
	t->snd_nmb = 0;
}

static void tcb_free(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	kn_tcp_rcvq_free(t);
	kn_ev_cancel(s, &t->ev);
	kn_tcp_timer_unfile(t);
	TAILQ_REMOVE(&s->all, t, all_link);
	s->ntcb--;
	s->st.tcp_states[t->state]--;
	free(t);
}

/* The connection reached CLOSED: unhook it; free it unless the application
 * still holds the handle, in which case tell it. */
void kn_tcp_closed(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if (t->state == KN_TCP_TIME_WAIT)
		s->st.tcp_timewait_closed++;
	kn_tcp_set_state(t, KN_TCP_CLOSED);
	t->t_rexmt = t->t_persist = t->t_delack = t->t_keep = t->t_2msl = 0;
	kn_tcp_timer_unfile(t);
	if (t->flags & TF_HASHED) {
		LIST_REMOVE(t, hash_link);
		t->flags &= ~TF_HASHED;
	}
	if (t->listener) {
		struct kn_tcb *l = t->listener;
		if (t->flags & TF_SYNQ) {
			TAILQ_REMOVE(&l->synq, t, q_link);
			l->synq_n--;
		} else if (t->flags & TF_ACCEPTQ) {
			TAILQ_REMOVE(&l->acceptq, t, q_link);
			l->acceptq_n--;
		}
		t->flags &= ~(TF_SYNQ | TF_ACCEPTQ);
		t->listener = NULL;
	}
	sndq_free(t);
	ooo_free(t);
	if (t->flags & TF_APP) {
		kn_ev_raise(s, &t->ev, KN_EV_CLOSED | KN_EV_READABLE | KN_EV_WRITABLE);
		t->ev.err = t->error;
	} else {
		tcb_free(t);
	}
}

/* Abort with @err: RST to the peer if synchronized, then CLOSED. */
void kn_tcp_drop(struct kn_tcb *t, int err)
{
	if (t->state >= KN_TCP_SYN_RECEIVED && t->state != KN_TCP_TIME_WAIT) {
		kn_tcp_send_rst(t);
		t->s->st.tcp_conn_drops++;
	}
	if (!t->error)
		t->error = err;
	kn_tcp_closed(t);
}

void kn_tcp_enter_timewait(struct kn_tcb *t)
{
	kn_tcp_set_state(t, KN_TCP_TIME_WAIT);
	t->t_rexmt = t->t_persist = t->t_keep = 0;
	kn_tcp_timer_set(t, &t->t_2msl, t->s->conf.tcp.time_wait_ns);
	sndq_free(t);
	if (t->flags & TF_APP)
		kn_ev_raise(t->s, &t->ev, KN_EV_READABLE);
}

void kn_tcp_fini(struct kn_stack *s)
{
	struct kn_tcb *t;
	while ((t = TAILQ_FIRST(&s->all)) != NULL) {
		t->flags &= ~TF_APP;
		if (t->flags & TF_HASHED) {
			LIST_REMOVE(t, hash_link);
			t->flags &= ~TF_HASHED;
		}
		t->listener = NULL;
		t->flags &= ~(TF_SYNQ | TF_ACCEPTQ);
		sndq_free(t);
		ooo_free(t);
		tcb_free(t);
	}
	free(s->tcb_hash);
	s->tcb_hash = NULL;
}
