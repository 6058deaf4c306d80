/* SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the
 * SYN-ACK's ISN carries what the connection needs and the returning ACK
 * rebuilds it, so a flood of spoofed SYNs costs no memory.
 *
 * The ISN (after FreeBSD tcp_syncache.c: a MAC plus the options in clear,
 * rather than Linux's sums, whose only check is a 2-bit table index):
 *
 *   bits 31..9  23 bits of SipHash(cookie key; 4-tuple, client ISN, time
 *               counter, bits 8..0)
 *   bit  8      SACK-permitted agreed (RFC 2018)
 *   bits 7..5   MSS: index into mss_table (the largest entry not above the
 *               peer's MSS)
 *   bits 4..1   the peer's window shift, 15 = no window scaling
 *   bit  0      timestamps agreed
 *
 * The time counter advances every 64 s; a cookie of this or the previous
 * period is accepted, so a cookie lives 64 to 128 s (Linux: about 2 min).
 * A forger still has one chance in 2^23 per guess (Linux's check is a
 * 2-bit index). Our TSval needs nothing: its offset is a function of the
 * 4-tuple. */
#include "tcp.h"

#define COOKIE_NO_WS 15

/* What peers advertise most (Linux msstab, with a floor at our minimum and
 * a jumbo entry). */
static const uint16_t mss_table[8] = {64, 536, 1200, 1360, 1400, 1440, 1460, 8960};

#define COOKIE_DATA_BITS 9
#define COOKIE_SACK (1u << 8)

static uint32_t cookie_mac(struct kn_stack *s, const struct kn_seg *sg, uint32_t client_isn,
			   uint64_t count, uint16_t data)
{
	uint64_t m[3] = {
		(uint64_t)sg->dst << 32 | sg->src,
		(uint64_t)sg->dport << 48 | (uint64_t)sg->sport << 32 | client_isn,
		count << COOKIE_DATA_BITS | data,
	};
	return (uint32_t)kn_siphash(s->sec.key[KN_KEY_COOKIE], m, 3) &
	       ((1u << (32 - COOKIE_DATA_BITS)) - 1);
}

static uint64_t cookie_count(const struct kn_stack *s)
{
	return (uint64_t)(s->now / KN_SYNCOOKIE_PERIOD_NS);
}

void kn_syncookie_send(struct kn_stack *s, struct kn_tcb *l, const struct kn_seg *sg)
{
	const struct kn_tcp_conf *c = &s->conf.tcp;
	uint32_t peer_mss = sg->opt.has_mss ? sg->opt.mss : KN_TCP_MSS_DEFAULT;
	uint8_t idx = RTE_DIM(mss_table) - 1;
	while (idx && mss_table[idx] > peer_mss)
		idx--;
	bool ws = sg->opt.has_wscale && c->wscale;
	bool ts = sg->opt.has_ts && c->timestamps;
	bool sack = sg->opt.has_sackok && c->sack;
	uint16_t data = (uint16_t)((sack ? COOKIE_SACK : 0) | idx << 5 |
				   (ws ? sg->opt.wscale : COOKIE_NO_WS) << 1 | ts);

	/* A TCB on the stack, never hashed nor timed, to build the SYN-ACK
	 * the way a queued connection would. */
	struct kn_tcb t;
	memset(&t, 0, sizeof(t));
	t.s = s;
	t.state = KN_TCP_SYN_RECEIVED;
	t.lip = sg->dst;
	t.lport = sg->dport;
	t.rip = sg->src;
	t.rport = sg->sport;
	t.rcv_nxt = t.rcv_adv = sg->seq + 1;
	t.iss = cookie_mac(s, sg, sg->seq, cookie_count(s), data) << COOKIE_DATA_BITS | data;
	t.mss = KN_TCP_MSS_DEFAULT;
	if (ws) {
		t.flags |= TF_WS;
		while (t.req_wscale < KN_TCP_MAX_WSCALE && (c->rcvbuf >> t.req_wscale) > 65535)
			t.req_wscale++;
		t.rcv_wscale = t.req_wscale;
	}
	if (sack)
		t.flags |= TF_SACK;
	if (ts) {
		t.flags |= TF_TS;
		t.ts_recent = sg->opt.tsval;
		t.ts_offset = kn_tcp_ts_offset(s, t.lip, t.lport, t.rip, t.rport);
	}
	l->cookie_sent = s->now;
	s->st.tcp_syncookies_sent++;
	kn_tcp_send_synack(&t);
}

bool kn_syncookie_check(struct kn_stack *s, const struct kn_seg *sg, struct kn_tcp_opts *o)
{
	uint32_t cookie = sg->ack - 1, client_isn = sg->seq - 1;
	uint16_t data = (uint16_t)(cookie & ((1u << COOKIE_DATA_BITS) - 1));
	uint64_t now = cookie_count(s);
	bool ok = false;
	for (uint64_t age = 0; age < 2 && age <= now && !ok; age++)
		ok = cookie_mac(s, sg, client_isn, now - age, data) == cookie >> COOKIE_DATA_BITS;
	if (!ok) {
		s->st.tcp_syncookies_failed++;
		return false;
	}
	uint8_t ws = (data >> 1) & 0xf;
	memset(o, 0, sizeof(*o));
	o->has_mss = true;
	o->mss = mss_table[(data >> 5) & 7];
	o->has_sackok = data & COOKIE_SACK;
	if (ws != COOKIE_NO_WS) {
		o->has_wscale = true;
		o->wscale = ws > KN_TCP_MAX_WSCALE ? KN_TCP_MAX_WSCALE : ws;
	}
	/* Timestamps agreed, and the ACK carries one (RFC 7323 §3.2: once
	 * agreed, every segment does; one without would have no ts_recent). */
	if ((data & 1) && sg->opt.has_ts) {
		o->has_ts = true;
		o->tsval = sg->opt.tsval;
		o->tsecr = sg->opt.tsecr;
	}
	s->st.tcp_syncookies_ok++;
	return true;
}
