/* The Internet checksum (RFC 1071) over mbuf chains; over flat buffers and
 * prefix-sum tables it is in inet_sum.c, which needs no DPDK. */
#include <string.h>

#include "net_int.h"

/* Same, over @len bytes of a chain starting at @off. A segment that ends on
 * an odd byte shifts the next one into the other half of the word. */
uint32_t kn_cksum_mbuf(uint32_t sum, const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	int odd = 0;

	while (m && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m && len) {
		uint32_t n = m->data_len - off;
		if (n > len)
			n = len;
		uint32_t part = kn_cksum_add(0, rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n);
		if (odd)
			part = ((part & 0xff) << 8) | (part >> 8);
		sum += part;
		sum = (sum >> 16) + (sum & 0xffff);
		odd ^= n & 1;
		len -= n;
		off = 0;
		m = m->next;
	}
	return sum;
}
