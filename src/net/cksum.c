/* The Internet checksum (RFC 1071), over buffers and mbuf chains. */
#include <string.h>

#include "net_int.h"

/* Sum of 16-bit big-endian words of @buf, as if it started at an even
 * offset, added to @sum (already folded to 32 bits). */
uint32_t kn_cksum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;

	/* Eight bytes at a time; the carries land in the upper half. */
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		acc += w >> 32;
		acc += w & 0xffffffffu;
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, p, 1);
		acc += w;
	}
	/* The words were read in host order: the one's complement sum is
	 * byte-order independent, so fold and swap once at the end. */
	acc = (acc >> 32) + (acc & 0xffffffffu);
	acc = (acc >> 32) + (acc & 0xffffffffu);
	acc = (acc >> 16) + (acc & 0xffff);
	acc = (acc >> 16) + (acc & 0xffff);
	return (uint32_t)acc;
}

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
