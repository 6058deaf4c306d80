/* SPDX-License-Identifier: MIT */
#include "hist.h"

#include <string.h>

/*
 * Values below 2*HIST_SUB map to themselves. Above, with s = msb - 6, the
 * value is (m << s) + rest with m in [64, 127]: bucket s * 64 + m.
 */
unsigned hist_bucket(uint64_t v)
{
	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned s = msb - 6;
	return s * HIST_SUB + (unsigned)(v >> s);
}

uint64_t hist_bucket_low(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned s = idx / HIST_SUB - 1;
	uint64_t m = idx - s * HIST_SUB;
	return m << s;
}

uint64_t hist_bucket_high(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned s = idx / HIST_SUB - 1;
	return hist_bucket_low(idx) + ((1ull << s) - 1);
}

void hist_init(hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_record(hist *h, uint64_t v)
{
	h->b[hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(hist *dst, const hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const hist *h, double q)
{
	if (!h->count)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* Rank of the sample, 1-based: ceil(q * count), at least 1. */
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = hist_bucket_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double hist_mean(const hist *h)
{
	return h->count ? (double)(h->sum / h->count) : 0.0;
}
