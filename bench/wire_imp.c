/* SPDX-License-Identifier: MIT */
/* The impairment model of kaon-wire: see wire_imp.h. */
#include "wire_imp.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const wire_drop_name[WIRE_DROP_N] = {
	[WIRE_DROP_LOSS] = "loss",   [WIRE_DROP_BURST] = "burst",
	[WIRE_DROP_QUEUE] = "queue", [WIRE_DROP_FULL] = "full",
	[WIRE_DROP_OVERSIZE] = "oversize", [WIRE_DROP_TX] = "tx",
};

/* ---- spec ---- */

static int perr(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A number followed by a unit from @units (name, factor); "" is the unit of
 * a bare number. */
struct unit {
	const char *name;
	double factor;
};

static int num_unit(const char *s, const struct unit *units, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -1;
	for (const struct unit *u = units; u->name; u++) {
		if (!strcasecmp(end, u->name)) {
			*out = v * u->factor;
			return 0;
		}
	}
	return -1;
}

static const struct unit time_units[] = {
	{"", 1e6}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}, {"s", 1e9}, {NULL, 0}};
static const struct unit pct_units[] = {{"", 1}, {"%", 1}, {NULL, 0}};
static const struct unit rate_units[] = {
	{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0}};
static const struct unit size_units[] = {
	{"", 1}, {"b", 1}, {"k", 1024}, {"kb", 1024}, {"kib", 1024},
	{"m", 1 << 20}, {"mb", 1 << 20}, {"mib", 1 << 20}, {"pkt", WIRE_PKT_BYTES},
	{NULL, 0}};

static int prob(const char *s, uint64_t *out)
{
	double v;
	if (num_unit(s, pct_units, &v) || v > 100)
		return -1;
	*out = (uint64_t)llround(v / 100 * (double)WIRE_PROB_ONE);
	return 0;
}

static int set_key(struct wire_params *p, const char *key, const char *val)
{
	double v;
	if (!strcmp(key, "delay") || !strcmp(key, "jitter") || !strcmp(key, "reorder_delay")) {
		if (num_unit(val, time_units, &v) || v > 60e9)
			return -1;
		int64_t ns = (int64_t)llround(v);
		if (key[0] == 'd')
			p->delay_ns = ns;
		else if (key[0] == 'j')
			p->jitter_ns = ns;
		else
			p->reorder_ns = ns;
		return 0;
	}
	if (!strcmp(key, "loss"))
		return prob(val, &p->loss);
	if (!strcmp(key, "reorder"))
		return prob(val, &p->reorder);
	if (!strcmp(key, "dup"))
		return prob(val, &p->dup);
	if (!strcmp(key, "corrupt"))
		return prob(val, &p->corrupt);
	if (!strcmp(key, "burst")) {
		char buf[128];
		uint64_t f[4] = {0, 0, WIRE_PROB_ONE, 0};
		int n = 0;
		snprintf(buf, sizeof buf, "%s", val);
		for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (n == 4 || prob(t, &f[n]))
				return -1;
			n++;
		}
		if (n < 2)
			return -1;
		p->ge = 1;
		p->ge_p = f[0], p->ge_r = f[1], p->ge_bad = f[2], p->ge_good = f[3];
		return 0;
	}
	if (!strcmp(key, "rate")) {
		if (num_unit(val, rate_units, &v) || v < 1000 || v > 1e12)
			return -1;
		p->rate_bps = (uint64_t)v;
		return 0;
	}
	if (!strcmp(key, "queue")) {
		if (num_unit(val, size_units, &v) || v < WIRE_PKT_BYTES || v > 1e10)
			return -1;
		p->queue_bytes = (uint64_t)v;
		return 0;
	}
	if (!strcmp(key, "limit")) {
		if (num_unit(val, size_units, &v) || v < 1 || v > (1 << 22))
			return -1;
		p->limit = (uint32_t)v;
		return 0;
	}
	return -2;
}

int wire_parse(const char *spec, struct wire_params p[2], uint64_t *seed, char *err,
	       size_t errlen)
{
	memset(p, 0, 2 * sizeof *p);
	for (int i = 0; i < 2; i++) {
		p[i].reorder_ns = 1000000;
		p[i].limit = 32768;
	}
	*seed = 1;
	char *copy = strdup(spec ? spec : "");
	if (!copy)
		return perr(err, errlen, "out of memory");
	int rc = 0;
	for (char *save, *tok = strtok_r(copy, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1]) {
			rc = perr(err, errlen, "'%s': expected key=value", tok);
			break;
		}
		*eq = 0;
		const char *key = tok, *val = eq + 1;
		int lo = 0, hi = 1;
		if (!strncmp(key, "c2s.", 4))
			key += 4, hi = 0;
		else if (!strncmp(key, "s2c.", 4))
			key += 4, lo = 1;
		if (!strcmp(key, "seed") && lo != hi) {
			char *end;
			errno = 0;
			*seed = strtoull(val, &end, 0);
			if (*end || errno)
				rc = perr(err, errlen, "seed: '%s' is not a number", val);
		} else {
			for (int i = lo; i <= hi && !rc; i++) {
				int r = set_key(&p[i], key, val);
				if (r == -2)
					rc = perr(err, errlen, "unknown key '%s'", key);
				else if (r)
					rc = perr(err, errlen, "%s: bad value '%s'", key, val);
			}
		}
		if (rc)
			break;
	}
	free(copy);
	return rc;
}

/* ---- randomness: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rand64(struct wire_dir *d)
{
	uint64_t *s = d->rng;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

uint32_t wire_rand32(struct wire_dir *d) { return (uint32_t)(rand64(d) >> 32); }

/* True with probability @p (out of 2^32). Draws nothing when p is 0 or 1,
 * so that turning a feature off does not shift the others' draws. */
static int chance(struct wire_dir *d, uint64_t p)
{
	if (p == 0)
		return 0;
	if (p >= WIRE_PROB_ONE)
		return 1;
	return wire_rand32(d) < p;
}

/* ---- the delay line: slots and a min-heap by (due, ord) ---- */

int wire_dir_init(struct wire_dir *d, const struct wire_params *p, uint64_t seed, int dir,
		  uint32_t slot_size)
{
	memset(d, 0, sizeof *d);
	d->p = *p;
	if (d->p.rate_bps && !d->p.queue_bytes) {
		double bdp = (double)d->p.rate_bps * 2 * (double)d->p.delay_ns / 8e9;
		d->p.queue_bytes = bdp > 65536 ? (uint64_t)bdp : 65536;
	}
	uint64_t x = seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(dir + 1));
	for (int i = 0; i < 4; i++)
		d->rng[i] = splitmix64(&x);
	d->slot_size = slot_size;
	d->nslots = d->nfree = p->limit;
	/* calloc of this size maps fresh zero pages: only slots that are used
	 * cost memory. */
	d->data = calloc(d->nslots, slot_size);
	d->free_slots = calloc(d->nslots, sizeof *d->free_slots);
	d->heap = calloc(d->nslots, sizeof *d->heap);
	if (!d->data || !d->free_slots || !d->heap) {
		wire_dir_free(d);
		return -1;
	}
	for (uint32_t i = 0; i < d->nslots; i++)
		d->free_slots[i] = d->nslots - 1 - i;
	d->link_free = INT64_MIN;
	d->last_due = INT64_MIN;
	return 0;
}

void wire_dir_free(struct wire_dir *d)
{
	free(d->data);
	free(d->free_slots);
	free(d->heap);
	d->data = NULL, d->free_slots = NULL, d->heap = NULL;
}

static inline int ent_lt(const struct wire_ent *a, const struct wire_ent *b)
{
	return a->due < b->due || (a->due == b->due && a->ord < b->ord);
}

static void heap_push(struct wire_dir *d, struct wire_ent e)
{
	uint32_t i = d->nheap++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!ent_lt(&e, &d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = e;
}

static void heap_pop(struct wire_dir *d)
{
	struct wire_ent last = d->heap[--d->nheap];
	uint32_t i = 0, n = d->nheap;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && ent_lt(&d->heap[c + 1], &d->heap[c]))
			c++;
		if (!ent_lt(&d->heap[c], &last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (n)
		d->heap[i] = last;
}

/* ---- one frame ---- */

/* One copy through corruption, the bottleneck, delay and reordering. */
static int enqueue(struct wire_dir *d, const uint8_t *frame, uint32_t len, int64_t now,
		   uint64_t seq)
{
	const struct wire_params *p = &d->p;
	int64_t depart = now;
	if (p->rate_bps) {
		int64_t backlog_ns = d->link_free > now ? d->link_free - now : 0;
		double backlog = (double)backlog_ns * (double)p->rate_bps / 8e9;
		if (backlog + len > (double)p->queue_bytes) {
			d->st.drop[WIRE_DROP_QUEUE]++;
			return 0;
		}
		if (backlog + len > (double)d->st.queue_max_bytes)
			d->st.queue_max_bytes = (uint64_t)(backlog + len);
		int64_t ser = (int64_t)((uint64_t)len * 8000000000ULL / p->rate_bps);
		depart = (d->link_free > now ? d->link_free : now) + ser;
		d->link_free = depart;
	}
	if (!d->nfree) {
		d->st.drop[WIRE_DROP_FULL]++;
		return 0;
	}
	int64_t due = depart + p->delay_ns;
	if (p->jitter_ns) {
		uint64_t span = 2 * (uint64_t)p->jitter_ns + 1;
		due += (int64_t)(rand64(d) % span) - p->jitter_ns;
		if (due < depart)
			due = depart;
	}
	if (due < d->last_due)
		due = d->last_due;
	if (chance(d, p->reorder)) {
		due += p->reorder_ns;
		d->st.reorder_held++;
	} else {
		d->last_due = due;
	}
	uint32_t slot = d->free_slots[--d->nfree];
	uint8_t *dst = d->data + (size_t)slot * d->slot_size;
	memcpy(dst, frame, len);
	if (len > 14 && chance(d, p->corrupt)) {
		uint64_t bit = 14 * 8 + rand64(d) % ((uint64_t)(len - 14) * 8);
		dst[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		d->st.corrupted++;
	}
	if (due > now)
		d->st.delayed++;
	heap_push(d, (struct wire_ent){.due = due, .ord = d->ord++, .seq = seq, .slot = slot,
				       .len = len});
	if (d->nheap > d->st.held_max)
		d->st.held_max = d->nheap;
	return 1;
}

int wire_in(struct wire_dir *d, const uint8_t *frame, uint32_t len, int64_t now)
{
	const struct wire_params *p = &d->p;
	uint64_t seq = d->seq++;
	d->st.rx++;
	d->st.rx_bytes += len;
	if (len > d->slot_size) {
		d->st.drop[WIRE_DROP_OVERSIZE]++;
		return 0;
	}
	if (p->ge) {
		/* Move between the states first, then lose with the loss of the
		 * state reached: a burst starts with the frame that enters it. */
		if (d->ge_bad_state)
			d->ge_bad_state = !chance(d, p->ge_r);
		else
			d->ge_bad_state = chance(d, p->ge_p);
		if (chance(d, d->ge_bad_state ? p->ge_bad : p->ge_good)) {
			d->st.drop[WIRE_DROP_BURST]++;
			return 0;
		}
	}
	if (chance(d, p->loss)) {
		d->st.drop[WIRE_DROP_LOSS]++;
		return 0;
	}
	int copies = 1 + chance(d, p->dup), n = 0;
	if (copies == 2)
		d->st.duplicated++;
	for (int i = 0; i < copies; i++)
		n += enqueue(d, frame, len, now, seq);
	return n;
}

int64_t wire_next_due(const struct wire_dir *d)
{
	return d->nheap ? d->heap[0].due : INT64_MAX;
}

const uint8_t *wire_peek(const struct wire_dir *d, int64_t now, uint32_t *len)
{
	if (!d->nheap || d->heap[0].due > now)
		return NULL;
	*len = d->heap[0].len;
	return d->data + (size_t)d->heap[0].slot * d->slot_size;
}

void wire_pop(struct wire_dir *d)
{
	const struct wire_ent *e = &d->heap[0];
	d->st.tx++;
	d->st.tx_bytes += e->len;
	if (e->seq + 1 < d->out_seq_max)
		d->st.reordered++;
	else
		d->out_seq_max = e->seq + 1;
	d->free_slots[d->nfree++] = e->slot;
	heap_pop(d);
}
