/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/ref.h
 * A buffer lent to a stack instead of copied: who to tell when the stack
 * lets go of it (kaon_sendv_ref in kaon/sock.h, kn_tcp_sendv_ref in
 * kaon/net.h), and optionally who knows its Internet checksum.
 */
#ifndef KAON_REF_H
#define KAON_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kaon_ref {
	void (*release)(void *arg); /**< NULL: the piece is copied */
	void *arg;
	/**
	 * Optional sum provider: the ones'-complement sum (RFC 1071) of the
	 * @p len bytes at @p p, a range inside the lent piece, as 16-bit words
	 * read in host order from @p p on (what summing them from an even
	 * address gives), folded to 16 bits; 0 and 0xffff are the same sum.
	 * A stack without checksum offload asks it instead of reading every
	 * payload byte (kaon's stack, for segments built from the piece). It
	 * must answer for the bytes as they are: a wrong sum makes the peer
	 * drop the segment, every time. NULL: the stack sums the bytes.
	 */
	uint32_t (*sum)(void *arg, const void *p, size_t len);
} kaon_ref;

/**
 * Prefix sums over an immutable buffer, for a sum provider: entry k is the
 * sum of the first k * @p stride bytes (@p stride even, at least 2), so the
 * sum of any range costs two look-ups and at most 2 * @p stride bytes read.
 * kaon_sum_table_len() entries (2 bytes each) for a buffer of @p len bytes.
 */
size_t kaon_sum_table_len(size_t len, unsigned stride);

/** Fill @p tab (kaon_sum_table_len() entries) for the @p len bytes at @p buf. */
void kaon_sum_table_fill(uint16_t *tab, const void *buf, size_t len, unsigned stride);

/**
 * The sum of the @p len bytes at @p buf + @p off by @p tab (filled for
 * @p buf with @p stride), in the form a kaon_ref sum provider returns.
 * The range must lie inside the buffer the table was filled for.
 */
uint32_t kaon_sum_range(const uint16_t *tab, unsigned stride, const void *buf, size_t off,
			size_t len);

#ifdef __cplusplus
}
#endif
#endif
