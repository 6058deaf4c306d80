/* IPv4 (RFC 791, RFC 1122 host requirements): validate, reassemble, deliver;
 * route to the connected subnet or the default gateway. Not a router. */
#include "net_int.h"

/* Sources no packet from the wire may carry (RFC 1122 §3.2.1.3, RFC 6890):
 * our own address (LAND: Linux's fib_validate_source refuses it too), "this
 * network" 0/8 (DHCP clients use 0.0.0.0, but kaon is no DHCP server),
 * loopback 127/8, multicast 224/4, reserved 240/4, the limited broadcast
 * and our subnet's broadcast (none on /31 and /32, RFC 3021).
 * @return the drop reason, KN_DROP_NONE for a good source. */
static enum kn_drop_reason bad_src_class(uint32_t a)
{
	switch (a >> 24) {
	case 0:
		return KN_DROP_IP_SRC_THIS_NET;
	case 127:
		return KN_DROP_IP_SRC_LOOPBACK;
	}
	if (a == 0xffffffffu || a < 0xf0000000u)
		return KN_DROP_IP_BAD_SRC;   /* limited broadcast, multicast */
	return KN_DROP_IP_SRC_RESERVED;
}

static inline enum kn_drop_reason is_bad_src(const struct kn_stack *s, uint32_t a)
{
	if (KN_UNLIKELY(a == s->conf.ip))
		return KN_DROP_IP_SRC_LAND;
	/* Good first octets: 1-126 and 128-223; the rest, apart, once per
	 * packet from the wire. */
	uint32_t hi = a >> 24;
	if (KN_UNLIKELY(hi - 1u >= 223u || hi == 127))
		return bad_src_class(a);
	if (KN_UNLIKELY(a == s->src_bcast))
		return KN_DROP_IP_BAD_SRC;           /* directed broadcast */
	return KN_DROP_NONE;
}

/* Every check, in order, each failure with its own drop reason. */
static __attribute__((noinline)) void ip4_input_full(struct kn_stack *s, struct rte_mbuf *m)
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
	enum kn_drop_reason why = is_bad_src(s, src);
	if (KN_UNLIKELY(why != KN_DROP_NONE)) {
		kn_drop(s, m, why);
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
		kn_ip4_deliver(s, m);   /* a new mbuf: ip points into a freed one */
		return;
	}
	/* TCP straight from here: the per-segment path saves a call. */
	if (KN_LIKELY(ip->proto == KN_IPPROTO_TCP))
		kn_tcp_input(s, m);
	else
		kn_ip4_deliver(s, m);
}

/* The common datagram first: a TCP segment to our address, in a 20-byte
 * header in the first segment that the device found good, neither a
 * fragment nor padded, from a good source, TTL not zero. Each test is one
 * of ip4_input_full's, which takes everything else (and tells why it drops
 * what it drops); this path keeps no register across a call, so it needs
 * no frame. */
void kn_ip4_input(struct kn_stack *s, struct rte_mbuf *m)
{
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	if (KN_LIKELY(m->data_len >= sizeof(*ip) && ip->ver_ihl == 0x45 &&
		      (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
		      rte_be_to_cpu_16(ip->len) == m->pkt_len && ip->proto == KN_IPPROTO_TCP &&
		      ip->dst == rte_cpu_to_be_32(s->conf.ip) && ip->ttl != 0 &&
		      !(ip->frag & rte_cpu_to_be_16(KN_IP_MF | KN_IP_OFFMASK)) &&
		      is_bad_src(s, rte_be_to_cpu_32(ip->src)) == KN_DROP_NONE)) {
		s->st.ip_rx++;
		m->l3_len = sizeof(*ip);
		kn_tcp_input(s, m);
		return;
	}
	ip4_input_full(s, m);
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

/* The IPv4 ID (RFC 6864). TCP sets DF and is never fragmented, so its
 * datagrams are atomic and their ID means nothing to the receiver (§4.1):
 * TCP, the hot path, sends 0, as Linux does for DF
 * datagrams without a connected socket (receivers' GRO takes a fixed ID
 * with DF since Linux 4.7). The rest (ICMP, UDP) take a counter per hashed
 * (src, dst, proto), keyed, as Linux __ip_select_ident: unique per triple
 * for the datagrams that are fragmented (ip4_fragment), and telling nothing about other flows (no
 * idle scan, no counting another host's packets). A bucket idle for a while
 * jumps by a random amount below the idle time in ms, as Linux
 * ip_idents_reserve, so a host sharing a bucket cannot count either. */
static __attribute__((noinline)) uint16_t ip_id_next(struct kn_stack *s, uint32_t src,
						  uint32_t dst, uint8_t proto)
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

/* Fill the fixed IPv4 header; the checksum by the device or here. */
static inline void ip4_hdr(struct kn_stack *s, struct rte_mbuf *m, struct kn_ip4_hdr *ip, uint16_t id,
			   uint16_t frag, uint8_t proto, uint32_t src, uint32_t dst)
{
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->len = rte_cpu_to_be_16((uint16_t)m->pkt_len);
	ip->id = rte_cpu_to_be_16(id);
	ip->frag = rte_cpu_to_be_16(frag);
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
}

/* @len bytes of @m from @off, copied into fresh direct mbufs: one, unless
 * the device chains and the MTU is above what one holds. NULL: no mbufs. */
static struct rte_mbuf *copy_out(struct kn_stack *s, const struct rte_mbuf *m, uint32_t off,
				 uint32_t len)
{
	struct rte_mbuf *h = NULL, *last = NULL;
	while (len) {
		struct rte_mbuf *c = kn_alloc(s);
		if (!c) {
			rte_pktmbuf_free(h);
			return NULL;
		}
		uint16_t n = (uint16_t)RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(c));
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(c, n);
		const void *p = rte_pktmbuf_read(m, off, n, d);
		if (p != d)
			memcpy(d, p, n);
		if (!h) {
			h = c;
		} else {
			last->next = c;
			h->nb_segs++;
			h->pkt_len += n;
		}
		last = c;
		off += n;
		len -= n;
	}
	return h;
}

/* A datagram above the MTU (RFC 791 §2.3, §3.2; RFC 1122 §3.3.3). TCP sets
 * DF and sizes its segments to the path (RFC 1191): it is dropped. Anything
 * else is cut into fragments of the largest multiple of 8 that fits, sent
 * without DF: Linux does the same for ICMP replies (its ICMP socket is
 * IP_PMTUDISC_DONT) and for UDP above the route MTU. Fragments are copies
 * in fresh mbufs, so a device that cannot chain gets single buffers. Out
 * of line: kn_ip4_output's common path saves no registers for it. */
static __attribute__((cold, noinline)) int ip4_fragment(struct kn_stack *s, struct rte_mbuf *m,
						      uint8_t proto, uint32_t src, uint32_t dst,
						      uint64_t l4_cksum_flags, uint32_t nexthop)
{
	uint32_t len = m->pkt_len;
	if (proto == KN_IPPROTO_TCP || len > 65535u - sizeof(struct kn_ip4_hdr)) {
		kn_drop(s, m, KN_DROP_IP_TOO_BIG);
		return -EMSGSIZE;
	}
	if (l4_cksum_flags) {
		/* No device sums across fragments: finish the UDP checksum here.
		 * The field holds the pseudo-header sum (DPDK convention), so a
		 * sum over the whole datagram is the complete one. */
		if (proto != KN_IPPROTO_UDP || kn_pullup(m, sizeof(struct kn_udp_hdr)) != 0) {
			kn_drop(s, m, KN_DROP_IP_TOO_BIG);
			return -EMSGSIZE;
		}
		struct kn_udp_hdr *uh = rte_pktmbuf_mtod(m, struct kn_udp_hdr *);
		uint16_t c = kn_cksum_fold(kn_cksum_mbuf(0, m, 0, len));
		uh->csum = c ? c : 0xffff;
	}
	uint32_t step = (s->mtu - (uint32_t)sizeof(struct kn_ip4_hdr)) & ~7u;
	uint16_t id = ip_id_next(s, src, dst, proto);
	s->st.ip_tx++;
	s->st.ip_fragmented++;
	for (uint32_t off = 0; off < len; off += step) {
		uint32_t n = RTE_MIN(step, len - off);
		struct rte_mbuf *f = copy_out(s, m, off, n);
		struct kn_ip4_hdr *ip = f ? (struct kn_ip4_hdr *)rte_pktmbuf_prepend(f, sizeof(*ip)) : NULL;
		if (KN_UNLIKELY(!ip)) {
			if (f)
				kn_drop(s, f, KN_DROP_NO_MBUF);
			rte_pktmbuf_free(m);
			return -ENOMEM;
		}
		uint16_t frag = (uint16_t)(off / 8) | (off + n < len ? KN_IP_MF : 0);
		ip4_hdr(s, f, ip, id, frag, proto, src, dst);
		s->st.ip_frag_tx++;
		kn_arp_resolve_output(s, f, nexthop);
	}
	rte_pktmbuf_free(m);
	return 0;
}

/* Prepend an IPv4 header to @m (data at the L4 header) and send it,
 * fragmented if it is above the MTU and not TCP.
 * @l4_cksum_flags: RTE_MBUF_F_TX_* to request from the device, 0 if the
 * L4 checksum is already filled in. @return 0 or a negative errno; @m is
 * consumed either way. Inlined twice: with @proto a constant for TCP, the
 * per-segment path, its ID is settled at compile time. */
static inline __attribute__((always_inline)) int ip4_output(struct kn_stack *s,
							     struct rte_mbuf *m, uint8_t proto,
							     uint32_t src, uint32_t dst,
							     uint64_t l4_cksum_flags)
{
	uint32_t nexthop;
	if (KN_UNLIKELY(kn_ip4_route(s, dst, &nexthop) != 0)) {
		kn_drop(s, m, KN_DROP_IP_NO_ROUTE);
		return -ENETUNREACH;
	}
	if (KN_UNLIKELY(m->pkt_len > s->ip_payload_max))
		return ip4_fragment(s, m, proto, src, dst, l4_cksum_flags, nexthop);
	struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (KN_UNLIKELY(!ip)) {
		kn_drop(s, m, KN_DROP_NO_MBUF);
		return -ENOMEM;
	}
	ip4_hdr(s, m, ip, proto == KN_IPPROTO_TCP ? 0 : ip_id_next(s, src, dst, proto), KN_IP_DF,
		proto, src, dst);
	if (l4_cksum_flags)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | l4_cksum_flags;
	s->st.ip_tx++;
	kn_arp_resolve_output(s, m, nexthop);
	return 0;
}

int kn_ip4_output(struct kn_stack *s, struct rte_mbuf *m, uint8_t proto, uint32_t src,
		  uint32_t dst, uint64_t l4_cksum_flags)
{
	return ip4_output(s, m, proto, src, dst, l4_cksum_flags);
}

int kn_ip4_output_tcp(struct kn_stack *s, struct rte_mbuf *m, uint32_t src, uint32_t dst,
		      uint64_t l4_cksum_flags)
{
	return ip4_output(s, m, KN_IPPROTO_TCP, src, dst, l4_cksum_flags);
}
