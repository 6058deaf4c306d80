/* kn_tcp_sendv_ref: pieces lent to the send buffer as external mbufs
 * instead of copied (see kaon/net.h and the README). Apart from
 * tcp_usrreq.c so that its hot calls compile as they did. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <rte_eal.h>

#include "tcp.h"

/* A caller's buffer in the send buffer: the mbufs pointing into it share
 * this as their external buffer's shared info, so the count of mbufs
 * (queued pieces and their clones in segments) is DPDK's; the last free
 * calls ext_free. One per piece and call. */
struct kn_ext {
	struct rte_mbuf_ext_shared_info sh;
	struct kaon_ref ref;
};

/* Pieces no bigger than a page, split at page boundaries: the receive side
 * of the in-memory link charges a clone's buf_len to its window, and a
 * segment rarely spans two pieces. */
#define EXT_PIECE 4096u
/* Smaller pieces are copied: cheaper than an mbuf per piece and a release. */
#define EXT_COPY_BELOW 2048u

static void ext_free(void *addr, void *opaque)
{
	struct kn_ext *x = opaque;
	(void)addr;
	x->ref.release(x->ref.arg);
	free(x);
}

/* Queue up to @len bytes of @p as external mbufs (no output). @return bytes
 * taken; *nomem as snd_append; *held: @ref now belongs to the mbufs. */
static size_t ext_append(struct kn_tcb *t, const uint8_t *p, size_t len, const struct kaon_ref *ref,
			 bool *nomem, bool *held)
{
	struct kn_stack *s = t->s;
	struct kn_ext *x = malloc(sizeof(*x));
	if (!x)
		return kn_tcp_snd_append(t, p, len, nomem);
	x->ref = *ref;
	x->sh.free_cb = ext_free;
	x->sh.fcb_opaque = x;
	/* Our own hold while attaching: the count never reaches 0 midway. */
	rte_mbuf_ext_refcnt_set(&x->sh, 1);
	bool iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	size_t done = 0;
	while (done < len) {
		/* Charged as snd_append (tcp_usrreq.c) charges a buffer. */
		if (!kn_mem_snd_room(s, 1) ||
		    (KN_UNLIKELY(!TAILQ_EMPTY(&s->mem_waiters)) && !t->ev.mem_wait)) {
			*nomem = true;
			break;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
		if (!m) {
			s->st.drops[KN_DROP_NO_MBUF]++;
			*nomem = true;
			break;
		}
		t->snd_nmb++;
		kn_mem_snd_charge(s, 1);
		uintptr_t a = (uintptr_t)(p + done);
		uint32_t c = EXT_PIECE - (uint32_t)(a & (EXT_PIECE - 1));
		if (c > len - done)
			c = (uint32_t)(len - done);
		rte_mbuf_ext_refcnt_update(&x->sh, 1);
		rte_pktmbuf_attach_extbuf(m, (void *)a, iova_va ? (rte_iova_t)a : RTE_BAD_IOVA,
					  (uint16_t)c, &x->sh);
		/* buf_len == data_len: no tail room, so snd_append never
		 * writes into the caller's buffer. */
		m->data_len = (uint16_t)c;
		m->pkt_len = c;
		if (t->sndq_tail)
			t->sndq_tail->next = m;
		else
			t->sndq = m;
		t->sndq_tail = m;
		done += c;
	}
	*held = done > 0;
	if (rte_mbuf_ext_refcnt_update(&x->sh, -1) == 0)
		free(x); /* nothing attached: the caller keeps its piece */
	return done;
}

static inline bool is_lent(const struct rte_mbuf *m)
{
	return RTE_MBUF_HAS_EXTBUF(m) && m->shinfo->free_cb == ext_free;
}

/* Segments of a lent piece are summed by its lender when it can (a table
 * of prefix sums, say, kaon/ref.h) instead of reading every byte again: on
 * a device without checksum offload that read was the most expensive step
 * of sending a file (af_xdp on veth). Copied bytes around it are summed. */
bool kn_tcp_lent_sum(struct kn_tcb *t, uint32_t seq, uint32_t len, uint32_t *sum)
{
	const struct rte_mbuf *m = t->snd_cur;
	if (!m || !is_lent(m))
		return false;
	/* The cursor is a hint: find @seq's buffer. */
	uint32_t mseq = t->snd_cur_seq;
	if (SEQ_LT(seq, mseq)) {
		m = t->sndq;
		mseq = t->snd_una;
	}
	while (m && SEQ_GEQ(seq, mseq + m->data_len)) {
		mseq += m->data_len;
		m = m->next;
	}
	uint32_t off = seq - mseq, s = 0;
	unsigned odd = 0;
	for (; m && len; m = m->next, off = 0) {
		uint32_t n = RTE_MIN(len, (uint32_t)m->data_len - off);
		const uint8_t *p = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
		struct kn_ext *x = is_lent(m) ? container_of(m->shinfo, struct kn_ext, sh) : NULL;
		uint32_t part = x && x->ref.sum ? x->ref.sum(x->ref.arg, p, n) : kn_cksum_add(0, p, n);
		s = kn_cksum_cat(s, part, odd);
		odd ^= n & 1;
		len -= n;
	}
	*sum = s;
	return len == 0;
}

ssize_t kn_tcp_sendv_ref(struct kn_tcb *t, const struct iovec *iov, const struct kaon_ref *ref,
			 int iovcnt)
{
	ssize_t space = kn_tcp_snd_space(t);
	if (space <= 0)
		return space ? space : -EAGAIN;
	/* Pieces handed to mbufs; the others are released here once something
	 * was taken (then the caller is done with all of them). */
	uint64_t held[(IOV_MAX + 63) / 64] = {0};
	size_t n = 0, asked = 0;
	bool nomem = false;
	for (int i = 0; i < iovcnt && space && !nomem; i++) {
		asked |= iov[i].iov_len;
		size_t want = iov[i].iov_len < (size_t)space ? iov[i].iov_len : (size_t)space;
		size_t got;
		bool h = false;
		if (ref && ref[i].release && want >= EXT_COPY_BELOW && i < IOV_MAX)
			got = ext_append(t, iov[i].iov_base, want < KN_REF_MAX ? want : KN_REF_MAX,
					 &ref[i], &nomem, &h);
		else
			got = kn_tcp_snd_append(t, iov[i].iov_base, want, &nomem);
		if (h)
			held[i / 64] |= 1ull << (i % 64);
		n += got;
		space -= (ssize_t)got;
		if (got < want)
			break; /* out of memory, or a piece cut at KN_REF_MAX */
	}
	if (n == 0 && !asked)
		return 0;
	ssize_t r = kn_tcp_snd_done(t, n, nomem);
	if (r > 0 && ref)
		for (int i = 0; i < iovcnt; i++)
			if (ref[i].release && !(i < IOV_MAX && (held[i / 64] >> (i % 64) & 1)))
				ref[i].release(ref[i].arg);
	return r;
}
