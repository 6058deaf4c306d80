/* SPDX-License-Identifier: MIT */
/* What l2ping (AF_PACKET) and l2ping-dpdk (a DPDK port) share: the options
 * that shape the ping-pong and the line that reports it. */
#ifndef KAON_BENCH_L2PING_OPTS_H
#define KAON_BENCH_L2PING_OPTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETHERTYPE_KAON 0x88b5 /* IEEE local experimental EtherType */

/*
 * The slot number (bytes 14..17 of a frame) that says "bye": l2ping-dpdk
 * sends it last, once every frame of its run is back, and waits for it to
 * come back before it closes its port. l2reflect reflects it like any
 * frame, and on memif stops polling until the link has gone down and come
 * up again: DPDK 22.11's memif PMD unmaps a link's rings on its interrupt
 * thread when the peer goes, with no guard against a core inside
 * rte_eth_rx_burst, and a reflector still polling then crashed there (1
 * pinger in 6 at 64 frames in flight; the next run of bench/run's memif
 * ceiling then found no reflector).
 */
#define L2PING_BYE_SLOT 0xffffffffu

/* @f (of @len bytes) is a bye frame. */
static inline int l2ping_is_bye(const unsigned char *f, unsigned len)
{
	unsigned slot;
	if (len < 18 || f[12] != (ETHERTYPE_KAON >> 8) || f[13] != (ETHERTYPE_KAON & 0xff))
		return 0;
	memcpy(&slot, f + 14, sizeof(slot));
	return slot == L2PING_BYE_SLOT;
}

struct l2ping_opts {
	const char *dst; /* the reflector's MAC, text */
	int size, inflight, json;
	double duration; /* seconds */
	unsigned char dmac[6];
};

static inline void l2ping_opts_init(struct l2ping_opts *o, const char *dst)
{
	memset(o, 0, sizeof(*o));
	o->dst = dst;
	o->size = 64;
	o->inflight = 1;
	o->duration = 3;
}

/* Take argv[*i] (and its value) if it is a shared option. @return 1 if
 * taken, 0 if not ours. */
static inline int l2ping_opt(int argc, char **argv, int *i, struct l2ping_opts *o)
{
	const char *a = argv[*i];
	int has = *i + 1 < argc;
	if (!strcmp(a, "--dst") && has)
		o->dst = argv[++*i];
	else if (!strcmp(a, "--size") && has)
		o->size = atoi(argv[++*i]);
	else if (!strcmp(a, "--inflight") && has)
		o->inflight = atoi(argv[++*i]);
	else if (!strcmp(a, "--duration") && has)
		o->duration = atof(argv[++*i]);
	else if (!strcmp(a, "--json"))
		o->json = 1;
	else
		return 0;
	return 1;
}

/* Range checks and the MAC's parse. @return 0, or -1 when out of range. */
static inline int l2ping_opts_check(struct l2ping_opts *o)
{
	unsigned char *m = o->dmac;
	if (!o->dst || o->size < 60 || o->size > 1514 || o->inflight < 1 ||
	    o->inflight > 4096 || o->duration <= 0)
		return -1;
	return sscanf(o->dst, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3],
		      &m[4], &m[5]) == 6 ? 0 : -1;
}

static inline void l2ping_report(const char *name, const struct l2ping_opts *o,
				 long long trips, double secs, long long bad)
{
	double rate = secs > 0 ? (double)trips / secs : 0;
	if (o->json)
		printf("{\"round_trips_per_sec\": %.0f, \"inflight\": %d, \"size\": %d, "
		       "\"bad\": %lld}\n", rate, o->inflight, o->size, bad);
	else
		printf("%s: %lld round trips in %.2f s: %.0f/s (%d in flight, %d B, %lld bad)\n",
		       name, trips, secs, rate, o->inflight, o->size, bad);
}

#endif
