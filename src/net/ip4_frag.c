/* IPv4 reassembly: bounded contexts and memory, a timeout, and any overlap
 * drops the whole datagram (the fragment-overlap attacks of RFC 1858).
 *
 * A full table never refuses a new datagram: as FreeBSD's ip_reass() does
 * when a bucket or the whole queue limit is reached (and Linux did with its
 * LRU evictor before 4.17), the oldest incomplete datagram is evicted. Each
 * source may hold at most frag_max_per_src contexts (a new one evicts that
 * source's own oldest), so one host cannot take the table from the others.
 * Memory works like Linux's ipfrag_high_thresh / ipfrag_low_thresh: going
 * over frag_max_bytes evicts the oldest datagrams until 3/4 of it is in use.
 *
 * Contexts hang in hash buckets keyed by source address (one source's
 * datagrams share a bucket, so counting them is free), and on one list in
 * order of creation. Every context lives frag_timeout_ns from its first
 * fragment, so that list is also in order of expiry: eviction and the
 * timer look at its head only. */
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

/* Pieces per datagram: 45 fill 65,535 bytes at a 1,500-byte MTU; a longer
 * train is an attack (FreeBSD bounds it at 16, maxfragsperpacket). */
#define FRAG_MAX_PIECES 64
/* Whole datagram, header included (RFC 791). */
#define FRAG_MAX_DATAGRAM 65535u

struct kn_frag_piece {
	uint16_t off;   /* payload offset, bytes */
	uint16_t len;
	struct rte_mbuf *m; /* data at the IP header for off 0, else the payload */
};

struct kn_frag {
	LIST_ENTRY(kn_frag) hash;   /* bucket of its source; free list when unused */
	TAILQ_ENTRY(kn_frag) age;   /* oldest first */
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

LIST_HEAD(kn_frag_list, kn_frag);
TAILQ_HEAD(kn_frag_tailq, kn_frag);

struct kn_frag_table {
	struct kn_frag *slots;
	struct kn_frag_list *bucket;
	uint32_t mask;
	uint32_t seed;
	unsigned per_src;           /* contexts one source may hold */
	struct kn_frag_list free;
	struct kn_frag_tailq age;   /* live contexts, oldest (= first to expire) first */
};

static uint32_t mbuf_mem(const struct rte_mbuf *m)
{
	uint32_t n = 0;
	for (; m; m = m->next)
		n += m->buf_len;
	return n;
}

/* The one place reassembly memory is charged and released (a stack-wide
 * buffer budget hooks here). */
static void frag_charge(struct kn_stack *s, struct kn_frag *f, uint32_t mem, uint32_t nmb)
{
	f->mem += mem;
	s->frag_bytes += mem;
	f->nmb += nmb;
	kn_mem_rcv_charge(s, nmb);
}

static void frag_uncharge(struct kn_stack *s, struct kn_frag *f)
{
	s->frag_bytes -= f->mem;
	f->mem = 0;
	kn_mem_rcv_release(s, f->nmb);
	f->nmb = 0;
}

static inline uint32_t src_bucket(const struct kn_frag_table *t, rte_be32_t src)
{
	/* murmur3's finalizer over the address and a per-stack seed */
	uint32_t h = (uint32_t)src ^ t->seed;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h & t->mask;
}

/* Unlink @f and return it to the free list; its pieces are dropped with
 * @r (freed uncounted for KN_DROP_NONE). */
static void frag_free(struct kn_stack *s, struct kn_frag *f, enum kn_drop_reason r)
{
	struct kn_frag_table *t = s->frag;
	for (unsigned i = 0; i < f->npieces; i++) {
		if (r == KN_DROP_NONE)
			rte_pktmbuf_free(f->p[i].m);
		else
			kn_drop(s, f->p[i].m, r);
	}
	f->npieces = 0;
	frag_uncharge(s, f);
	LIST_REMOVE(f, hash);
	TAILQ_REMOVE(&t->age, f, age);
	s->nfrags--;
	LIST_INSERT_HEAD(&t->free, f, hash);
}

static void frag_evict(struct kn_stack *s, struct kn_frag *f, enum kn_drop_reason r)
{
	s->st.ip_frag_evictions++;
	frag_free(s, f, r);
}

/* The context of @ip's datagram, or NULL. @nsrc and @oldest_src tell how
 * many contexts its source holds and which is the oldest. */
static struct kn_frag *frag_lookup(struct kn_stack *s, const struct kn_ip4_hdr *ip,
				   unsigned *nsrc, struct kn_frag **oldest_src)
{
	struct kn_frag_table *t = s->frag;
	struct kn_frag *f;
	*nsrc = 0;
	*oldest_src = NULL;
	/* New contexts go in at the head: the last one of a source seen is
	 * its oldest. */
	LIST_FOREACH(f, &t->bucket[src_bucket(t, ip->src)], hash) {
		if (f->src != ip->src)
			continue;
		if (f->id == ip->id && f->dst == ip->dst && f->proto == ip->proto)
			return f;
		(*nsrc)++;
		*oldest_src = f;
	}
	return NULL;
}

/* A new context for @ip's datagram; makes room if it must, never fails. */
static struct kn_frag *frag_create(struct kn_stack *s, const struct kn_ip4_hdr *ip,
				   unsigned nsrc, struct kn_frag *oldest_src)
{
	struct kn_frag_table *t = s->frag;
	if (nsrc >= t->per_src)
		frag_evict(s, oldest_src, KN_DROP_FRAG_SRC_LIMIT);
	else if (LIST_EMPTY(&t->free))
		frag_evict(s, TAILQ_FIRST(&t->age), KN_DROP_FRAG_EVICTED);
	struct kn_frag *f = LIST_FIRST(&t->free);
	LIST_REMOVE(f, hash);
	memset(f, 0, sizeof(*f));
	f->id = ip->id;
	f->src = ip->src;
	f->dst = ip->dst;
	f->proto = ip->proto;
	f->expire = s->now + s->conf.frag_timeout_ns;
	kn_timer_note(s, f->expire);
	LIST_INSERT_HEAD(&t->bucket[src_bucket(t, ip->src)], f, hash);
	TAILQ_INSERT_TAIL(&t->age, f, age);
	s->nfrags++;
	return f;
}

/* Room for @mem more bytes besides what @keep holds: evict the oldest other
 * datagrams down to the low mark. @return false if even that is not enough. */
static bool frag_make_room(struct kn_stack *s, struct kn_frag *keep, uint32_t mem)
{
	uint32_t high = s->conf.frag_max_bytes;
	if (s->frag_bytes + mem <= high)
		return true;
	uint32_t low = high - high / 4;
	struct kn_frag *f = TAILQ_FIRST(&s->frag->age);
	while (f && s->frag_bytes + mem > low) {
		struct kn_frag *next = TAILQ_NEXT(f, age);
		if (f != keep)
			frag_evict(s, f, KN_DROP_FRAG_EVICTED);
		f = next;
	}
	return s->frag_bytes + mem <= high;
}

/* Chain the pieces (sorted) into one datagram. */
static struct rte_mbuf *frag_assemble(struct kn_stack *s, struct kn_frag *f)
{
	struct rte_mbuf *head = f->p[0].m;
	uint32_t hlen = head->l3_len;
	if (hlen + f->total > FRAG_MAX_DATAGRAM) {
		/* The first piece's options made it too long. */
		frag_free(s, f, KN_DROP_FRAG_TOO_BIG);
		return NULL;
	}
	unsigned n = f->npieces;
	f->npieces = 0;     /* the pieces are ours now */
	uint32_t total = f->total;
	struct kn_frag_piece p[FRAG_MAX_PIECES];
	memcpy(p, f->p, n * sizeof(p[0]));
	frag_free(s, f, KN_DROP_NONE);
	for (unsigned i = 1; i < n; i++) {
		if (rte_pktmbuf_chain(head, p[i].m) != 0) {
			for (unsigned j = i; j < n; j++)
				rte_pktmbuf_free(p[j].m);
			kn_drop(s, head, KN_DROP_FRAG_TOO_BIG);
			return NULL;
		}
	}
	struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(head, struct kn_ip4_hdr *);
	ip->len = rte_cpu_to_be_16((uint16_t)(hlen + total));
	ip->frag = 0;
	ip->csum = 0;
	ip->csum = kn_cksum_fold(kn_cksum_add(0, ip, hlen));
	/* Upper layers want their header in the first segment. */
	if (kn_pullup(head, RTE_MIN(head->pkt_len, hlen + 60)) != 0) {
		kn_drop(s, head, KN_DROP_FRAG_BAD);
		return NULL;
	}
	return head;
}

/* Take one fragment (data at the IP header, validated, l3_len set).
 * @return the whole datagram when this completed it, else NULL. */
struct rte_mbuf *kn_frag_input(struct kn_stack *s, struct rte_mbuf *m)
{
	if (!s->frag) {
		kn_drop(s, m, KN_DROP_FRAG_NO_MEMORY);
		return NULL;
	}
	const struct kn_ip4_hdr *ip = rte_pktmbuf_mtod(m, const struct kn_ip4_hdr *);
	uint16_t fr = rte_be_to_cpu_16(ip->frag);
	uint32_t off = (fr & KN_IP_OFFMASK) * 8u;
	uint32_t len = m->pkt_len - m->l3_len;
	bool more = fr & KN_IP_MF;
	/* Every piece but the last carries a multiple of 8 bytes. */
	if (len == 0 || (more && (len & 7))) {
		kn_drop(s, m, KN_DROP_FRAG_BAD);
		return NULL;
	}
	unsigned nsrc;
	struct kn_frag *oldest_src;
	struct kn_frag *f = frag_lookup(s, ip, &nsrc, &oldest_src);
	if (off + len > FRAG_MAX_DATAGRAM - (uint32_t)m->l3_len) {
		/* Past 65,535 bytes: the datagram can never be whole; drop what
		 * we hold of it now rather than at the timeout (as Linux). */
		kn_drop(s, m, KN_DROP_FRAG_TOO_BIG);
		if (f)
			frag_free(s, f, KN_DROP_FRAG_TOO_BIG);
		return NULL;
	}
	if (!f)
		f = frag_create(s, ip, nsrc, oldest_src);
	uint32_t mem = mbuf_mem(m);
	uint32_t nmb = kn_mbuf_nsegs(m);
	if (!kn_mem_rcv_room(s, nmb, false) || !frag_make_room(s, f, mem)) {
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
	if (overlap) {
		kn_drop(s, m, KN_DROP_FRAG_OVERLAP);
		frag_free(s, f, KN_DROP_FRAG_OVERLAP);
		return NULL;
	}
	if (f->npieces == FRAG_MAX_PIECES) {
		kn_drop(s, m, KN_DROP_FRAG_TOO_MANY);
		frag_free(s, f, KN_DROP_FRAG_TOO_MANY);
		return NULL;
	}
	if (off != 0)
		rte_pktmbuf_adj(m, m->l3_len);
	memmove(&f->p[i + 1], &f->p[i], (f->npieces - i) * sizeof(f->p[0]));
	f->p[i] = (struct kn_frag_piece){.off = (uint16_t)off, .len = (uint16_t)len, .m = m};
	f->npieces++;
	f->have += len;
	frag_charge(s, f, mem, nmb);
	if (!more) {
		f->have_last = true;
		f->total = off + len;
	}
	if (!(f->have_last && f->have == f->total && f->p[0].off == 0))
		return NULL;
	struct rte_mbuf *d = frag_assemble(s, f);
	/* Whole, its ports say whose it is: maybe another core's stack. */
	if (d && s->conf.reassembled && s->conf.reassembled(s->conf.reassembled_arg, d))
		return NULL;
	return d;
}

/* Contexts expire in the order they were made: look at the head only. */
void kn_frag_timer(struct kn_stack *s)
{
	if (!s->frag)
		return;
	struct kn_frag *f;
	while ((f = TAILQ_FIRST(&s->frag->age)) != NULL && f->expire <= s->now)
		frag_free(s, f, KN_DROP_FRAG_TIMEOUT);
	if (f)
		kn_timer_note(s, f->expire);
}

void kn_frag_fini(struct kn_stack *s)
{
	struct kn_frag_table *t = s->frag;
	if (!t)
		return;
	struct kn_frag *f;
	while ((f = TAILQ_FIRST(&t->age)) != NULL)
		frag_free(s, f, KN_DROP_NONE);
	free(t->slots);
	free(t->bucket);
	free(t);
	s->frag = NULL;
}

int kn_frag_init(struct kn_stack *s)
{
	unsigned n = s->conf.frag_max_datagrams;
	if (n == 0)
		return 0;
	struct kn_frag_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	s->frag = t;
	uint32_t nb = 1;
	while (nb < 2 * n)
		nb <<= 1;
	t->slots = calloc(n, sizeof(*t->slots));
	t->bucket = calloc(nb, sizeof(*t->bucket));
	if (!t->slots || !t->bucket)
		return -1;  /* kn_frag_fini frees the rest */
	t->mask = nb - 1;
	/* Not a secret of any weight: collisions only lengthen a bucket walk
	 * that the table size bounds anyway. */
	t->seed = (uint32_t)kn_rand(s);
	t->per_src = s->conf.frag_max_per_src;
	if (t->per_src == 0 || t->per_src > n)
		t->per_src = n;
	LIST_INIT(&t->free);
	TAILQ_INIT(&t->age);
	for (unsigned i = 0; i < n; i++)
		LIST_INSERT_HEAD(&t->free, &t->slots[i], hash);
	return 0;
}
