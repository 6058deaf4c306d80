/* Small mbuf helpers: pull headers into the first segment, trim a chain. */
#include <string.h>

#include "net_int.h"

/* Make the first @len bytes of @m contiguous in its first segment (BSD
 * m_pullup). @return 0, or -1 if the chain is shorter than @len or the
 * first segment has no room; @m is left valid either way. */
int kn_pullup_slow(struct rte_mbuf *m, uint32_t len)
{
	if (m->pkt_len < len || rte_pktmbuf_tailroom(m) < len - m->data_len ||
	    !RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1)
		return -1;
	while (m->data_len < len) {
		struct rte_mbuf *n = m->next;
		uint32_t take = len - m->data_len;
		if (take > n->data_len)
			take = n->data_len;
		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len),
		       rte_pktmbuf_mtod(n, uint8_t *), take);
		m->data_len += take;
		n->data_off += take;
		n->data_len -= take;
		if (n->data_len == 0) {
			m->next = n->next;
			m->nb_segs--;
			n->next = NULL;
			rte_pktmbuf_free_seg(n);
		}
	}
	return 0;
}

/* Cut the chain to @len bytes (@len <= pkt_len), freeing emptied tail
 * segments. */
void kn_mbuf_trim_to(struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *seg = m;
	uint32_t left = len;

	m->pkt_len = len;
	for (;;) {
		if (seg->data_len >= left || !seg->next) {
			if (seg->data_len > left)
				seg->data_len = (uint16_t)left;
			break;
		}
		left -= seg->data_len;
		seg = seg->next;
	}
	if (seg->next) {
		struct rte_mbuf *rest = seg->next;
		seg->next = NULL;
		uint16_t n = 0;
		for (struct rte_mbuf *x = rest; x; x = x->next)
			n++;
		m->nb_segs -= n;
		rte_pktmbuf_free(rest);
	}
}
