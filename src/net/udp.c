/* UDP (RFC 768): bind, sendto, recvfrom; checksums checked and filled. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

struct kn_udp_dgram {
	struct rte_mbuf *m; /* payload only */
	uint32_t ip;
	uint16_t port;
};

struct kn_udp {
	struct kn_evsrc ev;
	LIST_ENTRY(kn_udp) link;
	struct kn_stack *s;
	uint16_t port;
	uint32_t head, n, cap;
	uint32_t mem;        /* buffer bytes queued (whole mbufs, as Linux's truesize) */
	struct kn_udp_dgram q[];
};

static uint32_t mbuf_mem(const struct rte_mbuf *m)
{
	uint32_t n = 0;
	for (; m; m = m->next)
		n += m->buf_len;
	return n;
}

/* A datagram leaves the queue: release what it was charged. */
static void dgram_release(struct kn_udp *u, const struct rte_mbuf *m)
{
	u->mem -= mbuf_mem(m);
	kn_mem_rcv_release(u->s, kn_mbuf_nsegs(m));
}

static struct kn_udp *udp_lookup(struct kn_stack *s, uint16_t port)
{
	struct kn_udp *u;
	LIST_FOREACH(u, &s->udps, link)
		if (u->port == port)
			return u;
	return NULL;
}

void kn_udp_input(struct kn_stack *s, struct rte_mbuf *m)
{
	s->st.udp_rx++;
	uint32_t hl = m->l3_len;
	if (m->pkt_len < hl + sizeof(struct kn_udp_hdr) ||
	    kn_pullup(m, hl + sizeof(struct kn_udp_hdr)) != 0) {
		kn_drop(s, m, KN_DROP_UDP_TRUNCATED);
		return;
	}
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	const struct kn_udp_hdr *uh = rte_pktmbuf_mtod_offset(m, const struct kn_udp_hdr *, hl);
	uint32_t ulen = rte_be_to_cpu_16(uh->len);
	if (ulen < sizeof(*uh) || ulen > m->pkt_len - hl) {
		kn_drop(s, m, KN_DROP_UDP_TRUNCATED);
		return;
	}
	if (uh->csum != 0 && !(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD)) {
		uint32_t sum = kn_pseudo_sum(ip->src, ip->dst, KN_IPPROTO_UDP, (uint16_t)ulen);
		if (kn_cksum_fold(kn_cksum_mbuf(sum, m, hl, ulen)) != 0) {
			kn_drop(s, m, KN_DROP_UDP_BAD_CSUM);
			return;
		}
	}
	struct kn_udp *u = udp_lookup(s, rte_be_to_cpu_16(uh->dport));
	if (!u) {
		kn_icmp_send_unreach(s, m, KN_ICMP_UNREACH_PORT);
		kn_drop(s, m, KN_DROP_UDP_NO_PORT);
		return;
	}
	uint32_t src = rte_be_to_cpu_32(ip->src);
	uint16_t sport = rte_be_to_cpu_16(uh->sport);
	if (hl + ulen < m->pkt_len)
		kn_mbuf_trim_to(m, hl + ulen);
	/* Bytes of buffer, not of payload, per socket; mbufs per stack: a
	 * flood of tiny datagrams is bounded by the buffers it pins. */
	uint32_t mem = mbuf_mem(m);
	if (u->n == u->cap || (s->conf.udp_rcvbuf && u->n && u->mem + mem > s->conf.udp_rcvbuf)) {
		kn_drop(s, m, KN_DROP_UDP_RCVBUF_FULL);
		return;
	}
	uint32_t nsegs = kn_mbuf_nsegs(m);
	if (!kn_mem_rcv_room(s, nsegs, false)) {
		kn_drop(s, m, KN_DROP_UDP_NO_MEMORY);
		return;
	}
	u->mem += mem;
	kn_mem_rcv_charge(s, nsegs);
	/* The header may be in the first segment alone: adj only works within it. */
	rte_pktmbuf_adj(m, (uint16_t)(hl + sizeof(*uh)));
	u->q[(u->head + u->n++) % u->cap] = (struct kn_udp_dgram){.m = m, .ip = src, .port = sport};
	kn_ev_raise(s, &u->ev, KN_EV_READABLE);
}

static bool udp_port_busy(struct kn_stack *s, uint16_t port, uint32_t rip, uint16_t rport)
{
	(void)rip;
	(void)rport;
	return udp_lookup(s, port) != NULL;
}

uint16_t kn_udp_port(const struct kn_udp *u)
{
	return u->port;
}

struct kn_udp *kn_udp_bind(struct kn_stack *s, uint16_t port, void *user, int *err)
{
	if (port == 0) {
		/* Random in the configured range (RFC 6056; no destination yet). */
		port = kn_eph_port(s, 0, 0, udp_port_busy);
		if (!port) {
			*err = -EADDRINUSE;
			return NULL;
		}
	} else if (udp_lookup(s, port)) {
		*err = -EADDRINUSE;
		return NULL;
	}
	uint32_t cap = s->conf.udp_rcvq ? s->conf.udp_rcvq : 1;
	struct kn_udp *u = calloc(1, sizeof(*u) + cap * sizeof(u->q[0]));
	if (!u) {
		*err = -ENOMEM;
		return NULL;
	}
	u->s = s;
	u->port = port;
	u->cap = cap;
	u->ev.user = user;
	LIST_INSERT_HEAD(&s->udps, u, link);
	*err = 0;
	return u;
}

ssize_t kn_udp_sendto(struct kn_udp *u, const void *buf, size_t len, uint32_t ip, uint16_t port)
{
	struct kn_stack *s = u->s;
	size_t total = len + sizeof(struct kn_udp_hdr);
	if (total + sizeof(struct kn_ip4_hdr) > s->mtu)
		return -EMSGSIZE;
	uint32_t nh;
	if (kn_ip4_route(s, ip, &nh) != 0)
		return -ENETUNREACH;
	struct rte_mbuf *m = kn_alloc(s);
	if (!m)
		return -ENOMEM;
	struct kn_udp_hdr *uh = (struct kn_udp_hdr *)rte_pktmbuf_append(m, (uint16_t)total);
	if (!uh || rte_pktmbuf_headroom(m) < KN_L2L3_LEN) {
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	uh->sport = rte_cpu_to_be_16(u->port);
	uh->dport = rte_cpu_to_be_16(port);
	uh->len = rte_cpu_to_be_16((uint16_t)total);
	uh->csum = 0;
	memcpy(uh + 1, buf, len);
	uint32_t sum = kn_pseudo_sum(rte_cpu_to_be_32(s->conf.ip), rte_cpu_to_be_32(ip),
				     KN_IPPROTO_UDP, (uint16_t)total);
	uint16_t c = kn_cksum_fold(kn_cksum_add(sum, uh, total));
	uh->csum = c ? c : 0xffff;
	s->st.udp_tx++;
	int rc = kn_ip4_output(s, m, KN_IPPROTO_UDP, s->conf.ip, ip, 0);
	return rc < 0 ? rc : (ssize_t)len;
}

ssize_t kn_udp_recvfrom(struct kn_udp *u, void *buf, size_t len, uint32_t *ip, uint16_t *port)
{
	if (u->n == 0)
		return -EAGAIN;
	struct kn_udp_dgram *d = &u->q[u->head];
	u->head = (u->head + 1) % u->cap;
	u->n--;
	dgram_release(u, d->m);
	uint32_t n = RTE_MIN((uint32_t)len, d->m->pkt_len);
	const void *p = rte_pktmbuf_read(d->m, 0, n, buf);
	if (p && p != buf)
		memcpy(buf, p, n);
	if (ip)
		*ip = d->ip;
	if (port)
		*port = d->port;
	rte_pktmbuf_free(d->m);
	return n;
}

void kn_udp_close(struct kn_udp *u)
{
	struct kn_stack *s = u->s;
	while (u->n) {
		dgram_release(u, u->q[u->head].m);
		rte_pktmbuf_free(u->q[u->head].m);
		u->head = (u->head + 1) % u->cap;
		u->n--;
	}
	kn_ev_cancel(s, &u->ev);
	LIST_REMOVE(u, link);
	free(u);
}

void kn_udp_fini(struct kn_stack *s)
{
	while (!LIST_EMPTY(&s->udps))
		kn_udp_close(LIST_FIRST(&s->udps));
}
