/* SPDX-License-Identifier: MIT */
/* The Internet checksum (RFC 1071) over flat buffers, and the prefix-sum
 * tables of kaon/ref.h built on it. Plain C, no DPDK: kaon-httpd makes its
 * tables in every build, the aarch64 cross build (no DPDK) included. */
#include <string.h>

#include "kaon/ref.h"
#include "net/inet_sum.h"

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

/* Prefix sums (kaon/ref.h). The ones'-complement sum is addition modulo
 * 0xffff, so a range's sum is the difference of two prefix sums. Entries
 * are kept reduced (0xffff stored as 0). A sum over bytes that start at an
 * odd offset of the buffer has its bytes in the other halves of the words:
 * swapping the two bytes of a sum is multiplying it by 256 (mod 0xffff,
 * as 2^16 = 1), so a swapped sum adds like any other. */

static inline uint32_t mod_ffff(uint32_t x)
{
	x = (x >> 16) + (x & 0xffff);
	x = (x >> 16) + (x & 0xffff);
	return x == 0xffff ? 0 : x;
}

size_t kaon_sum_table_len(size_t len, unsigned stride)
{
	return len / stride + 1;
}

void kaon_sum_table_fill(uint16_t *tab, const void *buf, size_t len, unsigned stride)
{
	const uint8_t *p = buf;
	uint32_t acc = 0;
	tab[0] = 0;
	for (size_t k = 1; k * stride <= len; k++) {
		acc = mod_ffff(acc + kn_cksum_add(0, p + (k - 1) * stride, stride));
		tab[k] = (uint16_t)acc;
	}
}

uint32_t kaon_sum_range(const uint16_t *tab, unsigned stride, const void *buf, size_t off,
			size_t len)
{
	const uint8_t *p = buf;
	size_t end = off + len;
	size_t i = (off + stride - 1) / stride, j = end / stride; /* whole strides i..j-1 */
	if (i >= j)
		return kn_cksum_add(0, p + off, len);
	/* In the buffer's own alignment: the strides, then the tail (both
	 * start at even offsets), then the head turned the same way. */
	uint32_t s = tab[j] + 0xffffu - tab[i];
	s += kn_cksum_add(0, p + j * stride, end - j * stride);
	uint32_t head = kn_cksum_add(0, p + off, i * stride - off);
	if (off & 1)
		head = kn_cksum_swap(head);
	s = mod_ffff(s + head);
	/* As the range's own first byte sees it. */
	return (off & 1) ? kn_cksum_swap(s) : s;
}
