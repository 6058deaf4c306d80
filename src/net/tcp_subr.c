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
	return 0;
}

static inline uint32_t tuple_hash(uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint32_t h = rip * 0x9e3779b1u;
	h ^= ((uint32_t)rport << 16 | lport) * 0x85ebca6bu;
	return h ^ (h >> 15);
}

struct kn_tcb *kn_tcb_alloc(struct kn_stack *s)
{
	if (s->ntcb >= s->conf.tcp.max_tcbs)
		return NULL;
	struct kn_tcb *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->s = s;
	TAILQ_INIT(&t->synq);
	TAILQ_INIT(&t->acceptq);
	TAILQ_INSERT_TAIL(&s->all, t, all_link);
	s->ntcb++;
	const struct kn_tcp_conf *c = &s->conf.tcp;
	t->rto = c->rto_init_ns;
	if (c->nagle)
		t->flags |= TF_NAGLE;
	t->mss = KN_TCP_MSS_DEFAULT;
	/* Smallest shift that lets the window cover the buffer (RFC 7323 §2.3). */
	while (t->req_wscale < KN_TCP_MAX_WSCALE && (c->rcvbuf >> t->req_wscale) > 65535)
		t->req_wscale++;
	return t;
}

void kn_tcb_hash(struct kn_stack *s, struct kn_tcb *t)
{
	struct kn_tcb_list *b = &s->tcb_hash[tuple_hash(t->rip, t->rport, t->lport) & s->tcb_hash_mask];
	LIST_INSERT_HEAD(b, t, hash_link);
	t->flags |= TF_HASHED;
}

struct kn_tcb *kn_tcb_lookup(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip,
			     uint16_t rport)
{
	struct kn_tcb_list *b = &s->tcb_hash[tuple_hash(rip, rport, lport) & s->tcb_hash_mask];
	struct kn_tcb *t;
	LIST_FOREACH(t, b, hash_link)
		if (t->rip == rip && t->rport == rport && t->lport == lport && t->lip == lip)
			return t;
	return NULL;
}

struct kn_tcb *kn_tcb_listener(struct kn_stack *s, uint16_t port)
{
	struct kn_tcb *t;
	LIST_FOREACH(t, &s->listeners, hash_link)
		if (t->lport == port)
			return t;
	return NULL;
}

/* SipHash-2-4 (Aumasson & Bernstein), enough of it for one 16-byte message. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);      \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);      \
	} while (0)

static uint64_t siphash16(const uint64_t k[2], uint64_t m0, uint64_t m1)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)16 << 56;
	uint64_t m[3] = {m0, m1, b};
	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
uint32_t kn_tcp_isn(struct kn_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	uint64_t f = siphash16(s->isn_key, (uint64_t)lip << 32 | rip, (uint64_t)lport << 16 | rport);
	return (uint32_t)f + (uint32_t)(s->now / 4000);
}

void kn_tcp_set_state(struct kn_tcb *t, uint8_t st)
{
	if (st == KN_TCP_ESTABLISHED)
		t->s->st.tcp_established++;
	t->state = st;
}

/* Parse the options of one segment. @return 0, or -1 if an option has a
 * length of 0 or 1 or runs past the header. */
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

/* Settle the segment size once the peer's SYN options are known. */
void kn_tcp_mss_init(struct kn_tcb *t, const struct kn_tcp_opts *o)
{
	uint32_t ours = t->s->mtu - 40u;
	uint32_t peer = o->has_mss ? o->mss : KN_TCP_MSS_DEFAULT;
	uint32_t mss = RTE_MIN(ours, peer);
	if (t->flags & TF_TS)
		mss -= 12;
	if (mss < 64)
		mss = 64;    /* a peer advertising less gets 64: never a zero loop */
	t->peer_mss = (uint16_t)peer;
	t->mss = (uint16_t)mss;
	t->cwnd = KN_TCP_IW_SEGS * mss;
	t->ssthresh = UINT32_MAX / 2;
}

void kn_tcp_rcvq_free(struct kn_tcb *t)
{
	if (t->rcvq)
		rte_pktmbuf_free(t->rcvq);
	t->rcvq = t->rcvq_tail = NULL;
	t->rcvq_bytes = t->rcvq_mem = 0;
	kn_mem_rcv_release(t->s, t->rcvq_nmb);
	t->rcvq_nmb = 0;
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
	TAILQ_REMOVE(&s->all, t, all_link);
	s->ntcb--;
	free(t);
}

/* The connection reached CLOSED: unhook it; free it unless the application
 * still holds the handle, in which case tell it. */
void kn_tcp_closed(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if (t->state == KN_TCP_TIME_WAIT)
		s->st.tcp_timewait_closed++;
	t->state = KN_TCP_CLOSED;
	t->t_rexmt = t->t_persist = t->t_delack = t->t_keep = t->t_2msl = 0;
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
