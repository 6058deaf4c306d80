/* ICMP (RFC 792, RFC 1122): echo reply, port/protocol unreachable out,
 * destination unreachable and fragmentation needed in, fed to TCP. */
#include <string.h>

#include "net_int.h"

/* Error rate limits, as Linux: per destination one per second with a burst
 * of 6 (icmp_ratelimit = 1000 ms, XRLIM_BURST_FACTOR), and for the whole
 * stack 1000 per second with a burst of 50 (icmp_msgs_per_sec/burst). One
 * budget for everyone let one prober spend it all, and let anyone count
 * the errors sent to others. */
#define ICMP_DST_INTERVAL_NS 1000000000LL
#define ICMP_DST_BURST 6
#define ICMP_ALL_INTERVAL_NS 1000000LL
#define ICMP_ALL_BURST 50
#define ICMP_QUOTE_MAX 64   /* bytes of the offending datagram past its header */

void kn_icmp_input(struct kn_stack *s, struct rte_mbuf *m)
{
	s->st.icmp_rx++;
	uint32_t hl = m->l3_len;
	uint32_t len = m->pkt_len - hl;
	if (len < sizeof(struct kn_icmp_hdr) || kn_pullup(m, hl + sizeof(struct kn_icmp_hdr)) != 0) {
		kn_drop(s, m, KN_DROP_ICMP_TRUNCATED);
		return;
	}
	if (kn_cksum_fold(kn_cksum_mbuf(0, m, hl, len)) != 0) {
		kn_drop(s, m, KN_DROP_ICMP_BAD_CSUM);
		return;
	}
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	struct kn_icmp_hdr *ic = rte_pktmbuf_mtod_offset(m, struct kn_icmp_hdr *, hl);

	if (ic->type == KN_ICMP_ECHO && ic->code == 0) {
		if (ip->dst != rte_cpu_to_be_32(s->conf.ip)) {
			kn_drop(s, m, KN_DROP_ICMP_UNHANDLED); /* no broadcast echo */
			return;
		}
		uint32_t peer = rte_be_to_cpu_32(ip->src);
		/* Reply in place unless the buffer is shared. */
		for (struct rte_mbuf *x = m; x; x = x->next) {
			if (RTE_MBUF_CLONED(x) || rte_mbuf_refcnt_read(x) != 1) {
				struct rte_mbuf *c = rte_pktmbuf_copy(m, s->pool, 0, UINT32_MAX);
				rte_pktmbuf_free(m);
				if (!c) {
					s->st.drops[KN_DROP_NO_MBUF]++;
					return;
				}
				m = c;
				break;
			}
		}
		rte_pktmbuf_adj(m, (uint16_t)hl);
		ic = rte_pktmbuf_mtod(m, struct kn_icmp_hdr *);
		ic->type = KN_ICMP_ECHOREPLY;
		ic->csum = 0;
		ic->csum = kn_cksum_fold(kn_cksum_mbuf(0, m, 0, m->pkt_len));
		m->ol_flags = 0;
		s->st.icmp_tx++;
		s->st.icmp_echo_replies++;
		kn_ip4_output(s, m, KN_IPPROTO_ICMP, s->conf.ip, peer, 0);
		return;
	}
	if (ic->type == KN_ICMP_UNREACH) {
		/* The quoted header and 8 bytes of its payload must be there. */
		uint32_t need = hl + sizeof(*ic) + sizeof(struct kn_ip4_hdr);
		if (m->pkt_len < need || kn_pullup(m, need) != 0) {
			kn_drop(s, m, KN_DROP_ICMP_TRUNCATED);
			return;
		}
		const struct kn_ip4_hdr *in =
			rte_pktmbuf_mtod_offset(m, const struct kn_ip4_hdr *, hl + sizeof(*ic));
		uint32_t ihl = (in->ver_ihl & 0xf) * 4u;
		if ((in->ver_ihl >> 4) != 4 || ihl < sizeof(*in) || m->pkt_len < need - sizeof(*in) + ihl + 8 ||
		    kn_pullup(m, need - sizeof(*in) + ihl + 8) != 0) {
			kn_drop(s, m, KN_DROP_ICMP_TRUNCATED);
			return;
		}
		ic = rte_pktmbuf_mtod_offset(m, struct kn_icmp_hdr *, hl);
		in = rte_pktmbuf_mtod_offset(m, const struct kn_ip4_hdr *, hl + sizeof(*ic));
		if (in->src != rte_cpu_to_be_32(s->conf.ip) || in->proto != KN_IPPROTO_TCP) {
			kn_drop(s, m, KN_DROP_ICMP_UNHANDLED);
			return;
		}
		if (ic->code == KN_ICMP_UNREACH_NEEDFRAG)
			s->st.icmp_pmtu++;
		kn_tcp_ctlinput(s, ic->type, ic->code, rte_be_to_cpu_16(ic->u.frag.mtu), in,
				(const uint8_t *)in + ihl, 8);
		rte_pktmbuf_free(m);
		return;
	}
	kn_drop(s, m, KN_DROP_ICMP_UNHANDLED);
}

/* Token bucket with its credit in ns: one token per @interval, at most
 * @burst. @return true if a token was taken. */
static bool bucket_take(int64_t *last, int64_t *credit, int64_t now, int64_t interval,
			unsigned burst)
{
	int64_t max = interval * burst;
	*credit += now - *last;
	if (*credit > max || *credit < 0)
		*credit = max;
	*last = now;
	if (*credit < interval)
		return false;
	*credit -= interval;
	return true;
}

static bool icmp_err_allowed(struct kn_stack *s, uint32_t dst)
{
	uint64_t m = dst;
	uint64_t h = kn_siphash(s->sec.key[KN_KEY_ICMP], &m, 1);
	struct kn_icmp_bucket *b = &s->icmp_rl[h % KN_ICMP_BUCKETS];
	if (b->last == 0)
		b->last = s->now - ICMP_DST_INTERVAL_NS * ICMP_DST_BURST;
	if (s->icmp_last == 0)
		s->icmp_last = s->now - ICMP_ALL_INTERVAL_NS * ICMP_ALL_BURST;
	/* The destination's first: a flood to one host leaves the global
	 * budget to the others. */
	return bucket_take(&b->last, &b->credit, s->now, ICMP_DST_INTERVAL_NS, ICMP_DST_BURST) &&
	       bucket_take(&s->icmp_last, &s->icmp_credit, s->now, ICMP_ALL_INTERVAL_NS,
			   ICMP_ALL_BURST);
}

/* Destination unreachable for @orig (data at its IP header, not consumed). */
void kn_icmp_send_unreach(struct kn_stack *s, struct rte_mbuf *orig, uint8_t code)
{
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(orig, const struct kn_ip4_hdr *);

	if (ip->dst != rte_cpu_to_be_32(s->conf.ip) || (ip->frag & rte_cpu_to_be_16(KN_IP_OFFMASK)))
		return; /* never for broadcasts or non-first fragments */
	if (!icmp_err_allowed(s, rte_be_to_cpu_32(ip->src))) {
		s->st.drops[KN_DROP_ICMP_RATELIMIT]++;
		return;
	}
	uint32_t quote = RTE_MIN(orig->pkt_len, (uint32_t)orig->l3_len + ICMP_QUOTE_MAX);
	struct rte_mbuf *m = kn_alloc(s);
	if (!m)
		return;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(sizeof(struct kn_icmp_hdr) + quote));
	if (!p) {
		rte_pktmbuf_free(m);
		return;
	}
	struct kn_icmp_hdr *ic = (struct kn_icmp_hdr *)p;
	memset(ic, 0, sizeof(*ic));
	ic->type = KN_ICMP_UNREACH;
	ic->code = code;
	const void *q = rte_pktmbuf_read(orig, 0, quote, p + sizeof(*ic));
	if (q != p + sizeof(*ic))
		memcpy(p + sizeof(*ic), q, quote);
	ic->csum = kn_cksum_fold(kn_cksum_add(0, p, sizeof(*ic) + quote));
	s->st.icmp_tx++;
	s->st.icmp_unreach_tx++;
	kn_ip4_output(s, m, KN_IPPROTO_ICMP, s->conf.ip, rte_be_to_cpu_32(ip->src), 0);
}
