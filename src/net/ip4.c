/* IPv4 (RFC 791, RFC 1122 host requirements): validate, reassemble, deliver;
 * route to the connected subnet or the default gateway. Not a router. */
#include "net_int.h"

static inline bool is_bad_src(uint32_t a)
{
	return a == 0xffffffffu || (a >> 28) == 0xe;
}

void kn_ip4_input(struct kn_stack *s, struct rte_mbuf *m)
{
	s->st.ip_rx++;
	if (KN_UNLIKELY(kn_pullup(m, sizeof(struct kn_ip4_hdr)) != 0)) {
		kn_drop(s, m, KN_DROP_IP_TRUNCATED);
		return;
	}
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	if (KN_UNLIKELY((ip->ver_ihl >> 4) != 4)) {
		kn_drop(s, m, KN_DROP_IP_BAD_VERSION);
		return;
	}
	uint32_t hlen = (ip->ver_ihl & 0xf) * 4u;
	if (KN_UNLIKELY(hlen < sizeof(*ip))) {
		kn_drop(s, m, KN_DROP_IP_BAD_IHL);
		return;
	}
	if (KN_UNLIKELY(hlen > sizeof(*ip))) {
		/* Options: validated for length only, then skipped. */
		if (kn_pullup(m, hlen) != 0) {
			kn_drop(s, m, KN_DROP_IP_TRUNCATED);
			return;
		}
		ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	}
	uint32_t tlen = rte_be_to_cpu_16(ip->len);
	if (KN_UNLIKELY(tlen < hlen || tlen > m->pkt_len)) {
		kn_drop(s, m, KN_DROP_IP_BAD_LENGTH);
		return;
	}
	if (!(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_GOOD) &&
	    KN_UNLIKELY((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
			kn_cksum_fold(kn_cksum_add(0, ip, hlen)) != 0)) {
		kn_drop(s, m, KN_DROP_IP_BAD_CSUM);
		return;
	}
	uint32_t src = rte_be_to_cpu_32(ip->src), dst = rte_be_to_cpu_32(ip->dst);
	if (KN_UNLIKELY(is_bad_src(src))) {
		kn_drop(s, m, KN_DROP_IP_BAD_SRC);
		return;
	}
	uint32_t bcast = (s->conf.ip & s->conf.netmask) | ~s->conf.netmask;
	if (KN_UNLIKELY(dst != s->conf.ip && dst != 0xffffffffu && dst != bcast)) {
		kn_drop(s, m, KN_DROP_IP_NOT_FOR_US);
		return;
	}
	if (KN_UNLIKELY(ip->ttl == 0)) {
		kn_drop(s, m, KN_DROP_IP_TTL_ZERO);
		return;
	}
	if (tlen < m->pkt_len)
		kn_mbuf_trim_to(m, tlen);  /* Ethernet padding */
	m->l3_len = hlen;
	if (KN_UNLIKELY(ip->frag & rte_cpu_to_be_16(KN_IP_MF | KN_IP_OFFMASK))) {
		s->st.ip_frag_rx++;
		m = kn_frag_input(s, m);
		if (!m)
			return;
		s->st.ip_reassembled++;
	}
	kn_ip4_deliver(s, m);
}

/* Hand a whole datagram (data at the IP header, l3_len set) up. */
void kn_ip4_deliver(struct kn_stack *s, struct rte_mbuf *m)
{
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	switch (ip->proto) {
	case KN_IPPROTO_TCP:
		kn_tcp_input(s, m);
		break;
	case KN_IPPROTO_UDP:
		kn_udp_input(s, m);
		break;
	case KN_IPPROTO_ICMP:
		kn_icmp_input(s, m);
		break;
	default:
		if (ip->dst == rte_cpu_to_be_32(s->conf.ip))
			kn_icmp_send_unreach(s, m, KN_ICMP_UNREACH_PROTO);
		kn_drop(s, m, KN_DROP_IP_UNKNOWN_PROTO);
	}
}

/* The IPv4 ID (RFC 6864). Everything kaon sends has DF set and is never
 * fragmented, so every datagram is atomic and its ID means nothing to the
 * receiver (§4.1). TCP, the hot path, sends 0, as Linux does for DF
 * datagrams without a connected socket (receivers' GRO takes a fixed ID
 * with DF since Linux 4.7). The rest (ICMP, UDP) take a counter per hashed
 * (src, dst, proto), keyed, as Linux __ip_select_ident: unique per triple
 * should fragments ever exist, and telling nothing about other flows (no
 * idle scan, no counting another host's packets). A bucket idle for a while
 * jumps by a random amount below the idle time in ms, as Linux
 * ip_idents_reserve, so a host sharing a bucket cannot count either. */
static inline uint16_t ip_id_next(struct kn_stack *s, uint32_t src, uint32_t dst, uint8_t proto)
{
	uint64_t m[2] = {(uint64_t)src << 32 | dst, proto};
	uint64_t h = kn_siphash(s->sec.key[KN_KEY_IPID], m, 2);
	struct kn_ipid_bucket *b = &s->ipid[h % KN_IPID_BUCKETS];
	uint32_t now_ms = (uint32_t)(s->now / 1000000);
	uint32_t idle = now_ms - b->last_ms;
	if (idle && b->last_ms) {
		uint32_t r = (uint32_t)(h >> 32) ^ (uint32_t)kn_rand(s);
		b->id = (uint16_t)(b->id + r % (idle < 65536 ? idle : 65536));
	}
	b->last_ms = now_ms;
	return b->id++;
}

/* Prepend an IPv4 header to @m (data at the L4 header) and send it.
 * @l4_cksum_flags: RTE_MBUF_F_TX_* to request from the device, 0 if the
 * L4 checksum is already filled in. @return 0 or a negative errno; @m is
 * consumed either way. */
int kn_ip4_output(struct kn_stack *s, struct rte_mbuf *m, uint8_t proto, uint32_t src,
		  uint32_t dst, uint64_t l4_cksum_flags)
{
	uint32_t nexthop;
	if (KN_UNLIKELY(kn_ip4_route(s, dst, &nexthop) != 0)) {
		kn_drop(s, m, KN_DROP_IP_NO_ROUTE);
		return -ENETUNREACH;
	}
	struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (KN_UNLIKELY(!ip)) {
		kn_drop(s, m, KN_DROP_NO_MBUF);
		return -ENOMEM;
	}
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->len = rte_cpu_to_be_16((uint16_t)m->pkt_len);
	ip->id = proto == KN_IPPROTO_TCP ? 0 : rte_cpu_to_be_16(ip_id_next(s, src, dst, proto));
	ip->frag = rte_cpu_to_be_16(KN_IP_DF);
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->src = rte_cpu_to_be_32(src);
	ip->dst = rte_cpu_to_be_32(dst);
	m->l3_len = sizeof(*ip);
	m->l2_len = sizeof(struct kn_eth_hdr);
	if (s->dev->offloads & KN_DEV_TX_IP_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->csum = kn_cksum_fold(kn_cksum_add(0, ip, sizeof(*ip)));
	if (l4_cksum_flags)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | l4_cksum_flags;
	s->st.ip_tx++;
	kn_arp_resolve_output(s, m, nexthop);
	return 0;
}
