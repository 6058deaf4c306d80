/* The Internet checksum (RFC 1071) over mbuf chains; over flat buffers and
 * prefix-sum tables it is in inet_sum.c, which needs no DPDK. */
#include "net_int.h"

/* kn_cksum_add over @len bytes of a chain from @off. A segment that ends on
 * an odd byte shifts the next one into the other half of the word. */
uint32_t kn_cksum_mbuf(uint32_t sum, const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	unsigned odd = 0;

	while (m && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m && len) {
		uint32_t n = m->data_len - off;
		if (n > len)
			n = len;
		const uint8_t *p = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
		sum = kn_cksum_cat(sum, kn_cksum_add(0, p, n), odd);
		odd ^= n & 1;
		len -= n;
		off = 0;
		m = m->next;
	}
	return sum;
}
