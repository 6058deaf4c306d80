/* SPDX-License-Identifier: MIT */
/* The one's complement sum over a flat buffer (inet_sum.c; no DPDK). */
#ifndef KAON_NET_INET_SUM_H
#define KAON_NET_INET_SUM_H

#include <stddef.h>
#include <stdint.h>

/* Sum of 16-bit words of @buf, as if it started at an even offset, added to
 * @sum (folded to 32 bits); in host order, swapped once by the caller's
 * fold. */
uint32_t kn_cksum_add(uint32_t sum, const void *buf, size_t len);

/* A 16-bit sum with its two bytes exchanged: the same bytes as seen from
 * the other half of the words (times 256, mod 0xffff). */
static inline uint32_t kn_cksum_swap(uint32_t x)
{
	return ((x & 0xff) << 8) | (x >> 8);
}

/* @sum followed by @part, the sum of a piece of the stream that starts at
 * an odd offset of it if @odd (folded to 17 bits, as kn_cksum_add takes). */
static inline uint32_t kn_cksum_cat(uint32_t sum, uint32_t part, unsigned odd)
{
	sum += odd ? kn_cksum_swap(part) : part;
	return (sum >> 16) + (sum & 0xffff);
}

#endif
