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

#endif
