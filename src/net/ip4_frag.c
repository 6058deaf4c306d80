/* IPv4 reassembly: bounded contexts and memory, a timeout, and any overlap
 * drops the whole datagram (the fragment-overlap attacks of RFC 1858). */
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define FRAG_MAX_PIECES 64

struct kn_frag_piece {
	uint16_t off;   /* payload offset, bytes */
	uint16_t len;
	struct rte_mbuf *m; /* data at the IP header for off 0, else the payload */
};

struct kn_frag {
	bool used;
	uint8_t proto;
	uint8_t npieces;
	bool have_last;
	rte_be16_t id;
	rte_be32_t src, dst;
	uint32_t total;     /* payload length, known once the last piece came */
	uint32_t have;      /* payload bytes held */
	uint32_t mem;       /* buffer bytes held */
	uint32_t nmb;       /* mbufs held, charged to receive memory */
	int64_t expire;
	struct kn_frag_piece p[FRAG_MAX_PIECES];
};

static uint32_t mbuf_mem(const struct rte_mbuf *m)
{
	uint32_t n = 0;
	for (; m; m = m->next)
		n += m->buf_len;
	return n;
}

static void frag_free(struct kn_stack *s, struct kn_frag *f, enum kn_drop_reason r)
{
	for (unsigned i = 0; i < f->npieces; i++) {
		if (r == KN_DROP_NONE)
			rte_pktmbuf_free(f->p[i].m);
		else
			kn_drop(s, f->p[i].m, r);
	}
	s->frag_bytes -= f->mem;
	kn_mem_rcv_release(s, f->nmb);
	s->nfrags--;
	memset(f, 0, sizeof(*f));
}

static struct kn_frag *frag_find(struct kn_stack *s, const struct kn_ip4_hdr *ip)
{
	struct kn_frag *free_slot = NULL;
	for (unsigned i = 0; i < s->conf.frag_max_datagrams; i++) {
		struct kn_frag *f = &s->frags[i];
		if (!f->used) {
			if (!free_slot)
				free_slot = f;
			continue;
		}
		if (f->id == ip->id && f->src == ip->src && f->dst == ip->dst && f->proto == ip->proto)
			return f;
	}
	if (!free_slot)
		return NULL;
	free_slot->used = true;
	free_slot->id = ip->id;
	free_slot->src = ip->src;
	free_slot->dst = ip->dst;
	free_slot->proto = ip->proto;
	free_slot->expire = s->now + s->conf.frag_timeout_ns;
	kn_timer_note(s, free_slot->expire);
	s->nfrags++;
	return free_slot;
}

/* Chain the pieces (sorted) into one datagram. */
static struct rte_mbuf *frag_assemble(struct kn_stack *s, struct kn_frag *f)
{
	struct rte_mbuf *head = f->p[0].m;
	for (unsigned i = 1; i < f->npieces; i++) {
		if (rte_pktmbuf_chain(head, f->p[i].m) != 0) {
			for (unsigned j = i; j < f->npieces; j++)
				rte_pktmbuf_free(f->p[j].m);
			f->npieces = 0;
			kn_drop(s, head, KN_DROP_FRAG_TOO_BIG);
			s->frag_bytes -= f->mem;
			kn_mem_rcv_release(s, f->nmb);
			s->nfrags--;
			memset(f, 0, sizeof(*f));
			return NULL;
		}
	}
	struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(head, struct kn_ip4_hdr *);
	ip->len = rte_cpu_to_be_16((uint16_t)(head->l3_len + f->total));
	ip->frag = 0;
	ip->csum = 0;
	ip->csum = kn_cksum_fold(kn_cksum_add(0, ip, head->l3_len));
	f->npieces = 0;
	s->frag_bytes -= f->mem;
	kn_mem_rcv_release(s, f->nmb);
	s->nfrags--;
	memset(f, 0, sizeof(*f));
	/* Upper layers want their header in the first segment. */
	if (kn_pullup(head, RTE_MIN(head->pkt_len, (uint32_t)head->l3_len + 60)) != 0) {
		kn_drop(s, head, KN_DROP_FRAG_BAD);
		return NULL;
	}
	return head;
}

/* Take one fragment (data at the IP header, validated, l3_len set).
 * @return the whole datagram when this completed it, else NULL. */
struct rte_mbuf *kn_frag_input(struct kn_stack *s, struct rte_mbuf *m)
{
	if (!s->frags) {
		kn_drop(s, m, KN_DROP_FRAG_NO_MEMORY);
		return NULL;
	}
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	uint16_t fr = rte_be_to_cpu_16(ip->frag);
	uint32_t off = (fr & KN_IP_OFFMASK) * 8u;
	uint32_t len = m->pkt_len - m->l3_len;
	bool more = fr & KN_IP_MF;
	/* Every piece but the last carries a multiple of 8 bytes. */
	if (len == 0 || (more && (len & 7)) || off + len > 65535u - (uint32_t)m->l3_len) {
		kn_drop(s, m, off + len > 65535u - (uint32_t)m->l3_len ? KN_DROP_FRAG_TOO_BIG : KN_DROP_FRAG_BAD);
		return NULL;
	}
	struct kn_frag *f = frag_find(s, ip);
	if (!f) {
		kn_drop(s, m, KN_DROP_FRAG_NO_MEMORY);
		return NULL;
	}
	uint32_t mem = mbuf_mem(m);
	uint32_t nmb = kn_mbuf_nsegs(m);
	if (s->frag_bytes + mem > s->conf.frag_max_bytes || !kn_mem_rcv_room(s, nmb, false)) {
		kn_drop(s, m, KN_DROP_FRAG_NO_MEMORY);
		if (f->npieces == 0)
			frag_free(s, f, KN_DROP_NONE);
		return NULL;
	}
	uint32_t end = f->npieces ? f->p[f->npieces - 1].off + f->p[f->npieces - 1].len : 0u;
	if ((f->have_last && (off + len > f->total || (!more && off + len != f->total))) ||
	    (!more && off + len < end)) {
		kn_drop(s, m, KN_DROP_FRAG_BAD);
		frag_free(s, f, KN_DROP_FRAG_BAD);
		return NULL;
	}
	/* Find the slot, rejecting any overlap. */
	unsigned i = 0;
	while (i < f->npieces && f->p[i].off < off)
		i++;
	bool overlap = (i > 0 && f->p[i - 1].off + f->p[i - 1].len > off) ||
		       (i < f->npieces && off + len > f->p[i].off);
	if (overlap || f->npieces == FRAG_MAX_PIECES) {
		kn_drop(s, m, overlap ? KN_DROP_FRAG_OVERLAP : KN_DROP_FRAG_BAD);
		frag_free(s, f, overlap ? KN_DROP_FRAG_OVERLAP : KN_DROP_FRAG_BAD);
		return NULL;
	}
	if (off != 0)
		rte_pktmbuf_adj(m, m->l3_len);
	memmove(&f->p[i + 1], &f->p[i], (f->npieces - i) * sizeof(f->p[0]));
	f->p[i] = (struct kn_frag_piece){.off = (uint16_t)off, .len = (uint16_t)len, .m = m};
	f->npieces++;
	f->have += len;
	f->mem += mem;
	s->frag_bytes += mem;
	f->nmb += nmb;
	kn_mem_rcv_charge(s, nmb);
	if (!more) {
		f->have_last = true;
		f->total = off + len;
	}
	if (f->have_last && f->have == f->total && f->p[0].off == 0)
		return frag_assemble(s, f);
	return NULL;
}

void kn_frag_timer(struct kn_stack *s)
{
	for (unsigned i = 0; s->frags && i < s->conf.frag_max_datagrams; i++) {
		struct kn_frag *f = &s->frags[i];
		if (!f->used)
			continue;
		if (f->expire <= s->now)
			frag_free(s, f, KN_DROP_FRAG_TIMEOUT);
		else
			kn_timer_note(s, f->expire);
	}
}

void kn_frag_fini(struct kn_stack *s)
{
	for (unsigned i = 0; s->frags && i < s->conf.frag_max_datagrams; i++)
		if (s->frags[i].used)
			frag_free(s, &s->frags[i], KN_DROP_NONE);
	free(s->frags);
	s->frags = NULL;
}

int kn_frag_init(struct kn_stack *s)
{
	if (s->conf.frag_max_datagrams == 0)
		return 0;
	s->frags = calloc(s->conf.frag_max_datagrams, sizeof(*s->frags));
	return s->frags ? 0 : -1;
}
