/* TCP output: decide what may be sent (RFC 9293 §3.8.6, RFC 5681, Nagle,
 * sender SWS avoidance), build segments, and send bare ACKs and RSTs.
 *
 * Payload leaves the send buffer without a copy: the segment is a fresh
 * header mbuf chained to indirect clones of the buffered data. Tiny payloads
 * (and devices without multi-segment tx) are copied into the header mbuf:
 * cheaper than a clone, and the only way for such devices. */
#include <string.h>

#include "tcp.h"

#define COPY_BELOW 512

/* What each state sends (RFC 9293 §3.10). */
static const uint8_t out_flags[] = {
	[KN_TCP_CLOSED] = KN_TH_RST | KN_TH_ACK,
	[KN_TCP_LISTEN] = 0,
	[KN_TCP_SYN_SENT] = KN_TH_SYN,
	[KN_TCP_SYN_RECEIVED] = KN_TH_SYN | KN_TH_ACK,
	[KN_TCP_ESTABLISHED] = KN_TH_ACK,
	[KN_TCP_FIN_WAIT_1] = KN_TH_ACK,
	[KN_TCP_FIN_WAIT_2] = KN_TH_ACK,
	[KN_TCP_CLOSE_WAIT] = KN_TH_ACK,
	[KN_TCP_CLOSING] = KN_TH_ACK,
	[KN_TCP_LAST_ACK] = KN_TH_ACK,
	[KN_TCP_TIME_WAIT] = KN_TH_ACK,
};

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Window to advertise, before scaling: what the socket's buffer has room
 * for, capped by a fair share of the stack's free receive memory (so a
 * window is not a promise the budget cannot keep: max(1 MSS, free / TCBs),
 * an mbuf counted as one MSS), receiver SWS avoidance (RFC 9293
 * §3.8.6.2.2), and never shrinking the right edge already advertised. */
static inline __attribute__((always_inline)) uint32_t adv_window(struct kn_tcb *t)
{
	uint32_t win = kn_tcp_rcv_window(t);
	uint32_t unit = (1u << t->rcv_wscale) - 1;
	if (win < t->s->conf.tcp.rcvbuf / 4 && win < t->mss)
		win = 0;
	/* Up to what the scaled field can say, as Linux (__tcp_select_window:
	 * ALIGN(window, 1 << rcv_wscale)): at shift 12 and more (4 KiB units
	 * and up) room for a few segments rounded down to an advertised 0,
	 * and the peer probed a window that was open. */
	win = (win + unit) & ~unit;
	if (SEQ_GT(t->rcv_adv, t->rcv_nxt) && win < t->rcv_adv - t->rcv_nxt)
		win = t->rcv_adv - t->rcv_nxt;
	uint32_t max = (uint32_t)65535 << t->rcv_wscale;
	return win > max ? max : win;
}

/* The window for a segment that goes anyway (data, or an ACK owed):
 * adv_window(), or the last one it gave again, so that the right edge moves
 * with RCV.NXT and the field stays the same (the peer's header prediction
 * wants an unchanged window, as ours does). Reused while RCV.NXT has moved
 * less than a segment since, the socket holds nothing (receive and
 * out-of-order queues empty, so its space is the whole buffer, no less
 * than then), the window the peer knows is open and within it (never
 * shrinking), and it was 8 segments or more (a smaller one, as under
 * memory pressure, is computed every time). What adv_window() would give
 * otherwise differs only by the stack's free memory and TCB count (the
 * fair share): reuse promises at most a segment more than the last share,
 * to a connection that holds nothing, which kn_tcp_rcv_window() grants any
 * such connection anyway. Bulk data moves RCV.NXT by a segment an ACK,
 * so every ACK computes the window whole, as before; request/response
 * traffic does once a segment's worth of requests (stack-loop: ~60
 * instructions a request per side less). */
static inline __attribute__((always_inline)) uint32_t adv_window_lazy(struct kn_tcb *t)
{
	uint32_t cur = t->rcv_adv - t->rcv_nxt;
	if (KN_LIKELY(t->rcv_nxt - t->rcv_wnd_at < t->mss && cur - 1u < t->rcv_wnd_last) &&
	    !t->rcvq && !t->ooo_n)
		return t->rcv_wnd_last;
	uint32_t win = adv_window(t);
	t->rcv_wnd_at = t->rcv_nxt;
	t->rcv_wnd_last = win >= 8u * t->mss ? win : 0;
	return win;
}

/* Find the send-buffer segment holding @seq. */
static struct rte_mbuf *snd_seek(struct kn_tcb *t, uint32_t seq, uint32_t *off)
{
	struct rte_mbuf *m = t->snd_cur;
	uint32_t mseq = t->snd_cur_seq;
	if (!m || SEQ_LT(seq, mseq)) {
		m = t->sndq;
		mseq = t->snd_una;
	}
	while (m && SEQ_GEQ(seq, mseq + m->data_len)) {
		mseq += m->data_len;
		m = m->next;
	}
	t->snd_cur = m;
	t->snd_cur_seq = mseq;
	*off = seq - mseq;
	return m;
}

/* Drop @bytes of acknowledged data from the head of the send buffer: the
 * general case (kn_tcp_snd_free_acked in tcp.h takes the one-buffer one). */
void kn_tcp_snd_free_acked_list(struct kn_tcb *t, uint32_t bytes)
{
	t->sndq_bytes -= bytes;
	while (bytes && t->sndq) {
		struct rte_mbuf *m = t->sndq;
		if (m->data_len <= bytes) {
			bytes -= m->data_len;
			t->sndq = m->next;
			if (t->snd_cur == m)
				t->snd_cur = NULL;
			m->next = NULL;
			kn_tcp_snd_retire(t, m);
		} else {
			m->data_off += bytes;
			m->data_len -= bytes;
			if (t->snd_cur == m)
				t->snd_cur_seq += bytes;
			bytes = 0;
		}
	}
	if (!t->sndq)
		t->sndq_tail = NULL;
}

/* Copy @len bytes at @seq from the send buffer to @dst. Inlined: with
 * send_segment built twice (kn_tcp_output_at too) it was called out of
 * line, 50 instructions a request more on stack-loop. */
static inline __attribute__((always_inline)) void snd_copy(struct kn_tcb *t, uint32_t seq, uint32_t len, uint8_t *dst)
{
	uint32_t off;
	struct rte_mbuf *m = snd_seek(t, seq, &off);
	while (len) {
		uint32_t n = RTE_MIN(len, (uint32_t)m->data_len - off);
		memcpy(dst, rte_pktmbuf_mtod_offset(m, uint8_t *, off), n);
		dst += n;
		len -= n;
		off = 0;
		m = m->next;
	}
}

/* Chain clones of @len bytes at @seq to @h. @return 0 or -1 (no mbufs). */
static int snd_attach(struct kn_tcb *t, struct rte_mbuf *h, uint32_t seq, uint32_t len)
{
	uint32_t off;
	struct rte_mbuf *m = snd_seek(t, seq, &off);
	struct rte_mbuf *last = h;
	while (len) {
		uint32_t n = RTE_MIN(len, (uint32_t)m->data_len - off);
		struct rte_mbuf *c = rte_pktmbuf_alloc(t->s->pool);
		if (!c)
			return -1;
		rte_pktmbuf_attach(c, m);
		c->data_off = (uint16_t)(m->data_off + off);
		c->data_len = (uint16_t)n;
		c->pkt_len = n;
		last->next = c;
		last = c;
		h->nb_segs++;
		h->pkt_len += n;
		len -= n;
		off = 0;
		m = m->next;
	}
	return 0;
}

/* Fill the TCP header of @h (already sized), checksum or request offload,
 * and pass to IP. @pay: the payload's sum if known (kn_tcp_lent_sum), else
 * -1: summed here. */
static void tcp_finish(struct kn_stack *s, struct rte_mbuf *h, uint32_t lip, uint32_t rip,
		       uint32_t thlen, int64_t pay)
{
	struct kn_tcp_hdr *th = rte_pktmbuf_mtod(h, struct kn_tcp_hdr *);
	uint32_t sum = kn_pseudo_sum(rte_cpu_to_be_32(lip), rte_cpu_to_be_32(rip), KN_IPPROTO_TCP,
				     (uint16_t)h->pkt_len);
	uint64_t cflags = 0;
	th->csum = 0;
	if (s->dev->offloads & KN_DEV_TX_L4_CKSUM) {
		/* DPDK convention: the pseudo-header sum, not complemented. */
		th->csum = (uint16_t)~kn_cksum_fold(sum);
		cflags = RTE_MBUF_F_TX_TCP_CKSUM;
		h->l4_len = thlen;
	} else if (pay >= 0) {
		th->csum = kn_cksum_fold(kn_cksum_add(sum, th, thlen) + (uint32_t)pay);
	} else {
		th->csum = kn_cksum_fold(kn_cksum_mbuf(sum, h, 0, h->pkt_len));
	}
	s->st.tcp_tx++;
	kn_ip4_output_tcp(s, h, lip, rip, cflags);
}

/* A segment of @thlen header bytes (and payload, copied into @h's tail
 * room if @copy) would not fit the MTU or the room: nothing is sent, the mss
 * comes down to what fits. @return -1. */
static __attribute__((cold, noinline)) int segment_too_big(struct kn_tcb *t, struct rte_mbuf *h,
							    uint32_t thlen, bool copy)
{
	struct kn_stack *s = t->s;
	uint32_t room = s->mtu - sizeof(struct kn_ip4_hdr);
	if (copy)
		room = RTE_MIN(room, (uint32_t)rte_pktmbuf_tailroom(h));
	if (room > thlen && room - thlen < t->mss)
		t->mss = (uint16_t)(room - thlen);
	kn_drop(s, h, KN_DROP_TX_TOO_BIG);
	return -1;
}

/* Fill @t's transmit template for a TCP header of @thlen bytes (20, or 32
 * with timestamps) and find the ARP entry of its next hop. @return false if
 * there is none to be had now (no route, the next hop unresolved): the
 * general path then routes, resolves or queues. Cold: once per connection,
 * and again only when the ARP entry it used went or changed hands. */
static __attribute__((cold, noinline)) bool tx_template(struct kn_tcb *t, uint32_t thlen)
{
	struct kn_stack *s = t->s;
	uint32_t nh;
	if (kn_ip4_route(s, t->rip, &nh) != 0)
		return false;
	unsigned i = s->arp_last;
	if (s->arp[i].ip != nh || s->arp[i].state < KN_ARP_RESOLVED) {
		for (i = 0; i < s->conf.arp_entries; i++)
			if (s->arp[i].ip == nh && s->arp[i].state >= KN_ARP_RESOLVED)
				break;
		if (i == s->conf.arp_entries)
			return false;
	}
	t->tx_arp = i;
	t->tx_nexthop = nh;
	uint8_t *p = t->tx_hdr;
	memset(p, 0, sizeof(t->tx_hdr));
	struct kn_eth_hdr *eh = (struct kn_eth_hdr *)p;
	memcpy(eh->src, s->mac, KN_ETH_ALEN);
	eh->type = rte_cpu_to_be_16(KN_ETHERTYPE_IP4);
	/* As ip4_hdr() writes it for TCP: ID 0 (RFC 6864, atomic), DF. */
	struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)(eh + 1);
	ip->ver_ihl = 0x45;
	ip->frag = rte_cpu_to_be_16(KN_IP_DF);
	ip->ttl = 64;
	ip->proto = KN_IPPROTO_TCP;
	ip->src = rte_cpu_to_be_32(t->lip);
	ip->dst = rte_cpu_to_be_32(t->rip);
	t->tx_ipsum = kn_cksum_add(0, ip, sizeof(*ip));
	t->tx_l4sum = kn_pseudo_sum(ip->src, ip->dst, KN_IPPROTO_TCP, 0);
	struct kn_tcp_hdr *th = (struct kn_tcp_hdr *)(ip + 1);
	th->sport = rte_cpu_to_be_16(t->lport);
	th->dport = rte_cpu_to_be_16(t->rport);
	th->off = (uint8_t)((thlen / 4) << 4);
	if (thlen > sizeof(*th)) {
		uint8_t *o = (uint8_t *)(th + 1);
		o[0] = KN_TCPOPT_NOP;
		o[1] = KN_TCPOPT_NOP;
		o[2] = KN_TCPOPT_TS;
		o[3] = 10;
	}
	t->tx_thlen = (uint8_t)thlen;
	return true;
}

/* A plain segment (no SYN, no SACK option) from @t's template: the bytes
 * and mbuf fields send_segment, tcp_finish, kn_ip4_output_tcp and
 * kn_eth_output would produce, without their per-segment decisions (which
 * options, which route, which ARP entry, which header goes where). @src:
 * where the @len bytes at @seq lie contiguously in the send buffer, if the
 * caller knows; NULL: found by snd_copy.
 * @return 0, -1 (no mbuf), or 1: not taken (no template to be had, or the
 * segment is for the general path's checks), nothing done. */
static inline __attribute__((always_inline)) int send_plain(struct kn_tcb *t, uint32_t seq,
							   uint32_t len, uint8_t flags,
							   uint32_t win, const uint8_t *src)
{
	struct kn_stack *s = t->s;
	uint32_t thlen = (t->flags & TF_TS) ? sizeof(struct kn_tcp_hdr) + KN_TCPOLEN_TS_SPACE
					    : sizeof(struct kn_tcp_hdr);
	struct kn_arp_entry *e = &s->arp[t->tx_arp];
	if (KN_UNLIKELY(t->tx_thlen != thlen || e->ip != t->tx_nexthop ||
			e->state < KN_ARP_RESOLVED)) {
		if (!tx_template(t, thlen))
			return 1;
		e = &s->arp[t->tx_arp];
	}
	uint64_t offl = s->dev->offloads;
	bool copy = len && (len < COPY_BELOW || !(offl & KN_DEV_TX_MULTI_SEG));
	uint32_t hlen = (uint32_t)KN_L2L3_LEN + thlen;
	uint32_t flen = hlen + (copy ? len : 0);
	if (KN_UNLIKELY(thlen + len > s->ip_payload_max))
		return 1;
	struct rte_mbuf *h = kn_alloc(s);
	if (KN_UNLIKELY(!h))
		return -1;
	if (KN_UNLIKELY(h->data_off < KN_L2L3_LEN || flen - KN_L2L3_LEN > rte_pktmbuf_tailroom(h))) {
		rte_pktmbuf_free(h);
		return 1;
	}
	h->data_off = (uint16_t)(h->data_off - KN_L2L3_LEN);
	h->data_len = (uint16_t)flen;
	h->pkt_len = flen;
	uint8_t *p = rte_pktmbuf_mtod(h, uint8_t *);
	if (thlen == sizeof(struct kn_tcp_hdr))
		memcpy(p, t->tx_hdr, KN_L2L3_LEN + sizeof(struct kn_tcp_hdr));
	else
		memcpy(p, t->tx_hdr, sizeof(t->tx_hdr));
	memcpy(p, e->mac, KN_ETH_ALEN);
	e->used = s->now;   /* for least-recently-used eviction */
	struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)(p + sizeof(struct kn_eth_hdr));
	struct kn_tcp_hdr *th = (struct kn_tcp_hdr *)(ip + 1);
	th->seq = rte_cpu_to_be_32(seq);
	th->ack = (flags & KN_TH_ACK) ? rte_cpu_to_be_32(t->rcv_nxt) : 0;
	th->flags = flags;
	th->win = rte_cpu_to_be_16((uint16_t)(win >> t->rcv_wscale));
	if (thlen != sizeof(struct kn_tcp_hdr)) {
		put32((uint8_t *)(th + 1) + 4, kn_tcp_ts_now(s) + t->ts_offset);
		put32((uint8_t *)(th + 1) + 8, t->ts_recent);
	}
	if (len) {
		if (copy) {
			if (src)
				kn_copy(p + hlen, src, len);
			else
				snd_copy(t, seq, len, p + hlen);
		} else if (snd_attach(t, h, seq, len) != 0) {
			rte_pktmbuf_free(h);
			return -1;
		}
	}
	uint32_t iplen = h->pkt_len - (uint32_t)sizeof(struct kn_eth_hdr);
	ip->len = rte_cpu_to_be_16((uint16_t)iplen);
	h->l2_len = sizeof(struct kn_eth_hdr);
	h->l3_len = sizeof(struct kn_ip4_hdr);
	if (offl & KN_DEV_TX_IP_CKSUM)
		h->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->csum = kn_cksum_fold(t->tx_ipsum + ip->len);
	/* The pseudo-header sum: the template's, plus the length. */
	uint32_t sum = t->tx_l4sum +
		       rte_cpu_to_be_16((uint16_t)(iplen - sizeof(struct kn_ip4_hdr))), pay;
	if (offl & KN_DEV_TX_L4_CKSUM) {
		/* DPDK convention: the pseudo-header sum, not complemented. */
		th->csum = (uint16_t)~kn_cksum_fold(sum);
		h->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
		h->l4_len = thlen;
	} else if (len && kn_tcp_lent_sum(t, seq, len, &pay)) {
		/* A lent piece's lender knows its sum (tcp_sendref.c). */
		th->csum = kn_cksum_fold(kn_cksum_add(sum, th, thlen) + pay);
	} else {
		th->csum = kn_cksum_fold(kn_cksum_mbuf(sum, h, KN_L2L3_LEN,
						       iplen - (uint32_t)sizeof(struct kn_ip4_hdr)));
	}
	s->st.tcp_tx++;
	s->st.ip_tx++;
	kn_tx_enqueue(s, h);
	return 0;
}

/* Build and send one segment of @t. @return 0 or -1 without mbufs.
 * Inlined into kn_tcp_output, the per-segment path, whatever else calls it. */
static inline __attribute__((always_inline)) int send_segment(struct kn_tcb *t, uint32_t seq, uint32_t len, uint8_t flags, uint32_t win)
{
	struct kn_stack *s = t->s;
	/* Established traffic: from the template, unless SACK blocks are due. */
	if (KN_LIKELY(!(flags & KN_TH_SYN)) && !(t->ooo_n || (t->flags & TF_DSACK))) {
		int r = send_plain(t, seq, len, flags, win, NULL);
		if (KN_LIKELY(r <= 0))
			return r;
	}
	uint8_t opt[KN_TCP_OPT_MAX];
	uint32_t optlen = 0;

	if (flags & KN_TH_SYN) {
		uint16_t mss = (uint16_t)(s->mtu - 40);
		opt[0] = KN_TCPOPT_MSS;
		opt[1] = 4;
		opt[2] = (uint8_t)(mss >> 8);
		opt[3] = (uint8_t)mss;
		optlen = 4;
		bool ws = s->conf.tcp.wscale && (t->state == KN_TCP_SYN_SENT || (t->flags & TF_WS));
		if (ws) {
			opt[optlen++] = KN_TCPOPT_NOP;
			opt[optlen++] = KN_TCPOPT_WSCALE;
			opt[optlen++] = 3;
			opt[optlen++] = t->req_wscale;
		}
		/* RFC 2018 §2: offered on our SYN, answered on a SYN-ACK
		 * only if the peer's SYN offered it (apply_syn_options). */
		if (t->state == KN_TCP_SYN_SENT ? s->conf.tcp.sack : (t->flags & TF_SACK)) {
			opt[optlen++] = KN_TCPOPT_NOP;
			opt[optlen++] = KN_TCPOPT_NOP;
			opt[optlen++] = KN_TCPOPT_SACK_OK;
			opt[optlen++] = 2;
		}
	}
	bool ts = (t->flags & TF_TS) || ((flags & KN_TH_SYN) && t->state == KN_TCP_SYN_SENT &&
					 s->conf.tcp.timestamps);
	if (ts) {
		opt[optlen++] = KN_TCPOPT_NOP;
		opt[optlen++] = KN_TCPOPT_NOP;
		opt[optlen++] = KN_TCPOPT_TS;
		opt[optlen++] = 10;
		put32(opt + optlen, kn_tcp_ts_now(s) + t->ts_offset);
		put32(opt + optlen + 4, t->ts_recent);
		optlen += 8;
	}
	/* SACK blocks for what the out-of-order queue holds, and D-SACK
	 * (RFC 2018 §4, RFC 2883): only while there is something to say, so
	 * the in-order path pays one test. They never push a frame past the
	 * MTU: a full segment carries fewer blocks, or none (Linux shrinks the
	 * segment instead; here the ACKs that follow carry them). */
	if (KN_UNLIKELY(t->ooo_n || (t->flags & TF_DSACK)) && (t->flags & TF_SACK) &&
	    (flags & (KN_TH_ACK | KN_TH_SYN)) == KN_TH_ACK) {
		uint32_t used = sizeof(struct kn_tcp_hdr) + optlen + len;
		uint32_t room = KN_TCP_OPT_MAX - optlen;
		if (used >= s->ip_payload_max)
			room = 0;
		else if (s->ip_payload_max - used < room)
			room = s->ip_payload_max - used;
		optlen = kn_tcp_sack_opts(t, opt, optlen, room);
	}
	uint32_t thlen = sizeof(struct kn_tcp_hdr) + optlen;

	struct rte_mbuf *h = kn_alloc(s);
	if (KN_UNLIKELY(!h))
		return -1;
	bool copy = len && (len < COPY_BELOW || !(s->dev->offloads & KN_DEV_TX_MULTI_SEG));
	/* The frame fits the MTU and a copied payload fits the header mbuf
	 * (which also keeps the uint16_t below from wrapping). t->mss is
	 * derived so that this always holds (kn_tcp_mss_limit, and the stack's
	 * MTU is capped to one mbuf on devices that cannot chain); should it
	 * not, nothing is written: the mss is brought down and the caller
	 * retries as after a failed allocation. */
	if (KN_UNLIKELY(thlen + len > s->ip_payload_max))
		return segment_too_big(t, h, thlen, copy);
	/* A copied payload fits the tail room: rte_pktmbuf_append checks. */
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(h, (uint16_t)(thlen + (copy ? len : 0)));
	if (KN_UNLIKELY(!p)) {
		if (copy)
			return segment_too_big(t, h, thlen, copy);
		rte_pktmbuf_free(h);
		return -1;
	}
	struct kn_tcp_hdr *th = (struct kn_tcp_hdr *)p;
	th->sport = rte_cpu_to_be_16(t->lport);
	th->dport = rte_cpu_to_be_16(t->rport);
	th->seq = rte_cpu_to_be_32(seq);
	th->ack = (flags & KN_TH_ACK) ? rte_cpu_to_be_32(t->rcv_nxt) : 0;
	th->off = (uint8_t)((thlen / 4) << 4);
	th->flags = flags;
	th->win = rte_cpu_to_be_16((uint16_t)((flags & KN_TH_SYN) ? RTE_MIN(win, 65535u)
								 : win >> t->rcv_wscale));
	th->urp = 0;
	if (optlen)
		memcpy(p + sizeof(*th), opt, optlen);
	if (len) {
		if (copy)
			snd_copy(t, seq, len, p + thlen);
		else if (snd_attach(t, h, seq, len) != 0) {
			rte_pktmbuf_free(h);
			return -1;
		}
	}
	/* A lent piece's lender knows its sum (tcp_sendref.c). */
	int64_t pay = -1;
	uint32_t ps;
	if (len && !(s->dev->offloads & KN_DEV_TX_L4_CKSUM) && kn_tcp_lent_sum(t, seq, len, &ps))
		pay = ps;
	tcp_finish(s, h, t->lip, t->rip, thlen, pay);
	return 0;
}

/* An ACK went with window @awin: what it advertised and acknowledged. */
static inline __attribute__((always_inline)) void ack_sent(struct kn_tcb *t, uint8_t flags,
							   uint32_t awin)
{
	uint32_t field_win = (flags & KN_TH_SYN) ? RTE_MIN(awin, 65535u)
						 : (awin >> t->rcv_wscale) << t->rcv_wscale;
	if (SEQ_GT(t->rcv_nxt + field_win, t->rcv_adv))
		t->rcv_adv = t->rcv_nxt + field_win;
	t->flags &= ~(TF_ACKNOW | TF_DELACK);
	t->t_delack = 0;
	t->segs_unacked = 0;
}

/* One segment at @seq with at most @maxlen (and one MSS) of data, and the
 * FIN if it is due right after them: RFC 6675 recovery (tcp_sack.c)
 * picks its segments itself instead of walking SND.NXT. With no data
 * there, a bare ACK. SND.NXT and SND.MAX move past what was sent.
 * @return the sequence space sent (0 for a bare ACK), or -1 if the segment
 * could not be built (the caller reports it: kn_tcp_output_failed). */
int kn_tcp_output_at(struct kn_tcb *t, uint32_t seq, uint32_t maxlen)
{
	struct kn_stack *s = t->s;
	uint32_t end = t->snd_una + t->sndq_bytes;
	uint32_t len = SEQ_LT(seq, end) ? RTE_MIN(end - seq, maxlen) : 0;
	if (len > t->mss)
		len = t->mss;
	uint8_t flags = out_flags[t->state];
	if ((t->flags & TF_SHUT_WR) && seq + len == end &&
	    (t->state == KN_TCP_FIN_WAIT_1 || t->state == KN_TCP_CLOSING ||
	     t->state == KN_TCP_LAST_ACK))
		flags |= KN_TH_FIN;
	uint32_t awin = adv_window(t);
	if (KN_UNLIKELY(send_segment(t, seq, len, flags, awin) != 0))
		return -1;
	if (len) {
		s->st.tcp_bytes_tx += len;
		t->last_snd = s->now;
		if (SEQ_LT(seq, t->snd_max)) {
			s->st.tcp_rexmt++;
			kn_tcp_cc_rexmit(t, seq, len);
		}
	} else if (!(flags & KN_TH_FIN)) {
		s->st.tcp_acks_tx++;
	}
	if (flags & KN_TH_FIN)
		t->flags |= TF_SENTFIN;
	uint32_t nxt = seq + len + ((flags & KN_TH_FIN) ? 1 : 0);
	if (SEQ_GT(nxt, t->snd_max))
		t->snd_max = nxt;
	if (SEQ_GT(nxt, t->snd_nxt))
		t->snd_nxt = nxt;
	if (nxt != seq && !t->t_rexmt)
		kn_tcp_timer_rexmt_arm(t);
	if (flags & KN_TH_ACK)
		ack_sent(t, flags, awin);
	return (int)(nxt - seq);
}

/* Send whatever the state, the windows and the flags allow. @return 0, or
 * -ENOMEM if a segment could not be built (the timers will retry). */
int kn_tcp_output(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	if (KN_UNLIKELY(t->state == KN_TCP_CLOSED || t->state == KN_TCP_LISTEN))
		return 0;
	if (KN_UNLIKELY(t->pmtu_expire) && s->now >= t->pmtu_expire)
		kn_tcp_pmtu_expire(t); /* checked as it sends, as Linux's tcp_current_mss */
	/* RFC 6675 recovery chooses its segments from the scoreboard. */
	if (KN_UNLIKELY(t->flags & TF_SACK_RECOV))
		return kn_tcp_sack_output(t);
again:;
	uint32_t off = t->snd_nxt - t->snd_una;
	uint32_t win = RTE_MIN(t->snd_wnd, t->cwnd);
	uint8_t flags = out_flags[t->state];
	bool force = t->flags & TF_FORCE;
	if (force && win == 0)
		win = 1;
	if ((flags & KN_TH_SYN) && t->snd_nxt != t->iss)
		flags &= (uint8_t)~KN_TH_SYN;
	uint32_t len = 0;
	if (!(flags & KN_TH_SYN) && off < t->sndq_bytes && win > off)
		len = RTE_MIN(t->sndq_bytes - off, win - off);
	bool more = false;
	if (len > t->mss) {
		len = t->mss;
		more = true;
	}
	/* FIN goes with the last byte of data, once asked for. */
	if ((t->flags & TF_SHUT_WR) && t->state >= KN_TCP_ESTABLISHED &&
	    t->snd_nxt + len == t->snd_una + t->sndq_bytes && !more &&
	    (t->state == KN_TCP_FIN_WAIT_1 || t->state == KN_TCP_CLOSING ||
	     t->state == KN_TCP_LAST_ACK))
		flags |= KN_TH_FIN;

	/* The window to advertise is computed where it is needed, late: kept
	 * live across the decisions below, it cost the path spills. */
	uint32_t awin;
	if (len) {
		if (len == t->mss)
			goto send;
		if ((!(t->flags & TF_NAGLE) || t->snd_nxt == t->snd_una) && off + len == t->sndq_bytes)
			goto send;
		if (force)
			goto send;
		if (t->max_sndwnd && len >= t->max_sndwnd / 2)
			goto send;
		if (SEQ_LT(t->snd_nxt, t->snd_max))
			goto send;
	}
	if (t->flags & TF_ACKNOW)
		goto send;
	if (flags & (KN_TH_SYN | KN_TH_RST))
		goto send;
	if ((flags & KN_TH_FIN) && (!(t->flags & TF_SENTFIN) || t->snd_nxt == t->snd_una))
		goto send;
	/* Window update worth sending (RFC 9293 §3.8.6.2.2). */
	if (t->state >= KN_TCP_ESTABLISHED && !(t->flags & TF_RCVD_FIN)) {
		uint32_t cur = SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
		/* Only when the peer may be starved: every ACK carries the
		 * window anyway. */
		if (cur < 8u * t->mss) {
			awin = adv_window(t);
			/* Judged by what the field can say: with a large shift
			 * (14: 16 KiB units) a window grown by two segments may
			 * still round down to the one the peer has, and such an
			 * "update" changes nothing (rcv_adv stays): after
			 * shutdown() the loop below sent it again for ever. */
			uint32_t said = (awin >> t->rcv_wscale) << t->rcv_wscale;
			if (said > cur &&
			    (said - cur >= 2u * t->mss || said - cur >= s->conf.tcp.rcvbuf / 2))
				goto send_awin;
		}
	}
	/* Data waits and nothing is in flight to bring an ACK: a zero window,
	 * or one too small to fill (sender SWS avoidance). The persist timer
	 * probes the first and forces a segment into the second. */
	if (t->sndq_bytes > off && !t->t_persist) {
		if (t->snd_wnd == 0 && t->state >= KN_TCP_ESTABLISHED)
			kn_tcp_persist_shut(t);
		else if (!t->t_rexmt)
			kn_tcp_persist_arm(t);
	}
	return 0;

send:
	awin = adv_window_lazy(t);
send_awin:
	if (KN_UNLIKELY(send_segment(t, t->snd_nxt, len, flags, awin) != 0))
		return kn_tcp_output_failed(t);
	if (len) {
		s->st.tcp_bytes_tx += len;
		t->last_snd = s->now;
		if (SEQ_LT(t->snd_nxt, t->snd_max)) {
			s->st.tcp_rexmt++;
			kn_tcp_cc_rexmit(t, t->snd_nxt, len);
		}
	} else if (!(flags & (KN_TH_SYN | KN_TH_FIN))) {
		s->st.tcp_acks_tx++;
	}
	if (flags & KN_TH_FIN)
		t->flags |= TF_SENTFIN;
	uint32_t startseq = t->snd_nxt;
	t->snd_nxt += len + ((flags & KN_TH_SYN) ? 1 : 0) + ((flags & KN_TH_FIN) ? 1 : 0);
	if (SEQ_GT(t->snd_nxt, t->snd_max)) {
		t->snd_max = t->snd_nxt;
		/* Time one segment per RTT; never a retransmission (Karn). */
		if (!t->rttstart && !(t->flags & TF_TS)) {
			t->rttstart = s->now;
			t->rtseq = startseq;
		}
	}
	/* A zero-window probe is timed by the persist timer; anything else
	 * by the retransmission timer. */
	if (t->snd_nxt != startseq && !t->t_rexmt && !(force && t->snd_wnd == 0))
		kn_tcp_timer_rexmt_arm(t);
	if (flags & KN_TH_ACK)
		ack_sent(t, flags, awin);
	if (force)
		return 0;
	if (more || (len && t->snd_nxt != t->snd_una + t->sndq_bytes))
		goto again;
	if (flags & KN_TH_FIN)
		return 0;
	/* Data went and the FIN is still to go: it may fit now. Only after
	 * data: a bare segment did not bring the FIN any closer, and looping
	 * on one could never end. */
	if (len && (t->flags & TF_SHUT_WR) && !(t->flags & TF_SENTFIN))
		goto again;
	/* A bare ACK went while data waits for the window: the timer the
	 * path without a segment arms (below "Data waits") is due here too,
	 * or with nothing in flight no timer ran and the connection stalled
	 * for ever (an ACK of everything that shut the window, on data that
	 * wanted an immediate answer). */
	if (KN_UNLIKELY(!len && t->sndq_bytes > off) && !t->t_persist) {
		if (t->snd_wnd == 0 && t->state >= KN_TCP_ESTABLISHED)
			kn_tcp_persist_shut(t);
		else if (!t->t_rexmt)
			kn_tcp_persist_arm(t);
	}
	return 0;
}

/* kn_tcp_output after the application queued data, when it can only send
 * all of that new data in one segment: ESTABLISHED or CLOSE_WAIT, every
 * earlier byte sent (nothing to resend, SND.NXT = SND.MAX), no FIN asked
 * for, no probe, no RFC 6675 recovery, no PMTU to restore, at most an MSS,
 * inside both windows, and Nagle (if on) satisfied. kn_tcp_output's own
 * decisions would send exactly that segment and then nothing more; they are
 * skipped. Anything else: kn_tcp_output. @return @ret, whatever happened (a
 * segment that cannot be built is retried by the timers): the caller's own
 * result, so that its call can be a tail call. */
ssize_t kn_tcp_output_new(struct kn_tcb *t, ssize_t ret)
{
	struct kn_stack *s = t->s;
	uint32_t off = t->snd_nxt - t->snd_una;
	uint32_t len = t->sndq_bytes - off;
	uint32_t win = RTE_MIN(t->snd_wnd, t->cwnd);
	if (!((t->state == KN_TCP_ESTABLISHED || t->state == KN_TCP_CLOSE_WAIT) &&
	      !(t->flags & (TF_FORCE | TF_SACK_RECOV | TF_SHUT_WR)) && !t->pmtu_expire &&
	      t->snd_nxt == t->snd_max && off < t->sndq_bytes && len <= t->mss && win > off &&
	      win - off >= len && (!(t->flags & TF_NAGLE) || off == 0))) {
		kn_tcp_output(t);
		return ret;
	}
	uint32_t awin = adv_window_lazy(t);
	/* The new bytes end the queue: in its tail buffer, if it holds them
	 * all. */
	struct rte_mbuf *tail = t->sndq_tail;
	const uint8_t *src = tail && tail->data_len >= len
				     ? rte_pktmbuf_mtod_offset(tail, const uint8_t *, tail->data_len - len)
				     : NULL;
	int r = 1;
	if (KN_LIKELY(!(t->ooo_n || (t->flags & TF_DSACK))))
		r = send_plain(t, t->snd_nxt, len, KN_TH_ACK, awin, src);
	if (KN_UNLIKELY(r > 0))
		r = send_segment(t, t->snd_nxt, len, KN_TH_ACK, awin);
	if (KN_UNLIKELY(r != 0)) {
		kn_tcp_output_failed(t);
		return ret;
	}
	s->st.tcp_bytes_tx += len;
	t->last_snd = s->now;
	uint32_t startseq = t->snd_nxt;
	t->snd_nxt += len;
	t->snd_max = t->snd_nxt;
	/* Time one segment per RTT; never a retransmission (Karn). */
	if (!t->rttstart && !(t->flags & TF_TS)) {
		t->rttstart = s->now;
		t->rtseq = startseq;
	}
	if (!t->t_rexmt)
		kn_tcp_timer_rexmt_arm(t);
	ack_sent(t, KN_TH_ACK, awin);
	return ret;
}

/* RFC 5681 §4.1: data after more than an RTO without sending any, nothing
 * in flight: the ACK clock is gone and what cwnd says of the path is old,
 * so start again from the restart window min(IW, cwnd). As FreeBSD's
 * newreno_after_idle, ssthresh keeps three quarters of the old cwnd
 * (RFC 2861's memory of it; Linux tcp_cwnd_restart too). The caller checks
 * the condition (kn_tcp_send). */
void kn_tcp_idle_restart(struct kn_tcb *t)
{
	uint32_t rw = KN_TCP_IW_SEGS * (uint32_t)t->mss;
	if (t->cwnd <= rw)
		return;
	t->ssthresh = RTE_MAX(t->ssthresh, t->cwnd - t->cwnd / 4);
	t->cwnd = rw;
	kn_tcp_cc_idle(t);
	t->s->st.tcp_idle_restarts++;
}

void kn_tcp_send_ack(struct kn_tcb *t)
{
	t->flags |= TF_ACKNOW;
	kn_tcp_output(t);
}

/* Whether an ACK in answer to @sg (NULL: a challenge) must be held back:
 * one per connection per invalid_ratelimit_ns (Linux tcp_oow_rate_limited,
 * tcp_invalid_ratelimit = 500 ms). Data segments without SYN always get
 * their ACK, as in Linux: a peer retransmitting data we already have must
 * learn where we are, and two stacks do not loop on those. */
bool kn_tcp_oow_ratelimited(struct kn_tcb *t, const struct kn_seg *sg)
{
	struct kn_stack *s = t->s;
	int64_t lim = s->conf.tcp.invalid_ratelimit_ns;
	if (sg && sg->len && !(sg->flags & KN_TH_SYN))
		return false;
	if (lim && t->last_oow_ack && s->now - t->last_oow_ack < lim)
		return true;
	t->last_oow_ack = s->now;
	return false;
}

/* An ACK in answer to an unacceptable segment (RFC 9293 §3.10.7.4, PAWS). */
void kn_tcp_send_oow_ack(struct kn_tcb *t, const struct kn_seg *sg)
{
	if (kn_tcp_oow_ratelimited(t, sg)) {
		t->s->st.tcp_oow_acks_skipped++;
		return;
	}
	kn_tcp_send_ack(t);
}

/* RFC 5961 §7: challenge ACKs, as Linux tcp_send_challenge_ack since the
 * CVE-2016-5696 fix: first the per-connection limit, so that a flood on one
 * connection cannot spend another's; then a stack-wide budget per second,
 * drawn at random (limit/2 + [0, limit)) so that its use cannot be counted
 * from outside. */
void kn_tcp_send_challenge_ack(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	uint32_t limit = s->conf.tcp.challenge_ack_limit;
	if (kn_tcp_oow_ratelimited(t, NULL)) {
		s->st.tcp_challenge_acks_skipped++;
		return;
	}
	if (s->now - s->challenge_window >= 1000000000LL) {
		s->challenge_window = s->now;
		s->challenge_left = limit ? limit / 2 + (uint32_t)(kn_rand(s) % limit) : 0;
	}
	if (s->challenge_left == 0) {
		s->st.tcp_challenge_acks_skipped++;
		return;
	}
	s->challenge_left--;
	s->st.tcp_challenge_acks++;
	kn_tcp_send_ack(t);
}

void kn_tcp_send_rst(struct kn_tcb *t)
{
	struct kn_stack *s = t->s;
	struct rte_mbuf *h = kn_alloc(s);
	if (!h)
		return;
	struct kn_tcp_hdr *th = (struct kn_tcp_hdr *)rte_pktmbuf_append(h, sizeof(*th));
	memset(th, 0, sizeof(*th));
	th->sport = rte_cpu_to_be_16(t->lport);
	th->dport = rte_cpu_to_be_16(t->rport);
	/* SND.MAX, as FreeBSD (tcp_output: a segment without data or SYN/FIN
	 * carries snd_max) and Linux (its snd_nxt is never pulled back): the
	 * peer's RCV.NXT lies in [SND.UNA, SND.MAX], and after an RTO pulled
	 * SND.NXT back a RST there could lie below it, dropped without a word
	 * (RFC 5961 §3.2). At or past RCV.NXT it is taken, or earns a
	 * challenge ACK that the RST from CLOSED then answers exactly. */
	th->seq = rte_cpu_to_be_32(t->snd_max);
	th->ack = rte_cpu_to_be_32(t->rcv_nxt);
	th->off = 5 << 4;
	th->flags = KN_TH_RST | KN_TH_ACK;
	s->st.tcp_resets_tx++;
	tcp_finish(s, h, t->lip, t->rip, sizeof(*th), -1);
}

/* A segment with no TCB behind it: RST or ACK built from the one received. */
void kn_tcp_respond(struct kn_stack *s, const struct kn_seg *sg, uint32_t seq, uint32_t ack,
		    uint8_t flags)
{
	struct rte_mbuf *h = kn_alloc(s);
	if (!h)
		return;
	struct kn_tcp_hdr *th = (struct kn_tcp_hdr *)rte_pktmbuf_append(h, sizeof(*th));
	memset(th, 0, sizeof(*th));
	th->sport = rte_cpu_to_be_16(sg->dport);
	th->dport = rte_cpu_to_be_16(sg->sport);
	th->seq = rte_cpu_to_be_32(seq);
	th->ack = (flags & KN_TH_ACK) ? rte_cpu_to_be_32(ack) : 0;
	th->off = 5 << 4;
	th->flags = flags;
	if (flags & KN_TH_RST)
		s->st.tcp_resets_tx++;
	tcp_finish(s, h, sg->dst, sg->src, sizeof(*th), -1);
}

/* The SYN-ACK of @t, which may be a TCB on the caller's stack (a SYN
 * cookie's): no state changes, no timers. */
void kn_tcp_send_synack(struct kn_tcb *t)
{
	send_segment(t, t->iss, 0, KN_TH_SYN | KN_TH_ACK, adv_window(t));
}
