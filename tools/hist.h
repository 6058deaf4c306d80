/* SPDX-License-Identifier: MIT */
/*
 * A log-linear histogram of non-negative 64-bit values (HdrHistogram style):
 * exact below 128, then 64 linear buckets per power of two, so any recorded
 * value is known within 1/64 (1.6 %). Fixed memory, O(1) record, no sorting.
 */
#ifndef KAON_TOOLS_HIST_H
#define KAON_TOOLS_HIST_H

#include <stdint.h>

#define HIST_SUB 64                           /* linear buckets per power of two */
#define HIST_BUCKETS (58 * HIST_SUB + HIST_SUB) /* covers all of uint64_t */

typedef struct hist {
	uint64_t count;
	uint64_t min, max;
	long double sum;
	uint64_t b[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
void hist_record(hist *h, uint64_t v);
/* Add every sample of @p src to @p dst. */
void hist_merge(hist *dst, const hist *src);
/*
 * The value at quantile @p q (0..1): the highest value of the bucket that
 * holds the sample of that rank, capped at the exact maximum. 0 when empty.
 */
uint64_t hist_quantile(const hist *h, double q);
double hist_mean(const hist *h);

/* Bucket of @p v, and the lowest / highest value a bucket holds (for tests). */
unsigned hist_bucket(uint64_t v);
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_high(unsigned idx);

#endif
