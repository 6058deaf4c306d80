/* SPDX-License-Identifier: MIT */
/*
 * l2ping-dpdk: l2ping on a DPDK port instead of a kernel AF_PACKET socket,
 * so that the raw L2 ping-pong ceiling of a path (af_xdp, af_packet or memif
 * vdev, whatever the config's [dpdk] section names) is measured with no
 * kernel socket in the loop on this side either. One queue, busy-polled
 * with rte_eth_rx_burst / rte_eth_tx_burst; a reflected frame is checked
 * and sent again in the same mbuf (no allocation per round trip), as a
 * user-space stack at its leanest would.
 *
 *   l2ping-dpdk CONFIG [--dst MAC] [--size 64] [--inflight N] [--duration S] [--json]
 *
 * --dst defaults to the broadcast address (memif and af_xdp reflectors take
 * any frame; on a veth the kernel of the far end then sees it too, and drops
 * the unknown EtherType). Prints round trips per second; exits 1 when none
 * came back. Before it closes the port it says bye (l2ping_opts.h) and
 * waits for the bye to come back, so that a memif reflector is no longer
 * polling when this end goes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "kaon/config.h"
#include "kaon/dpdk.h"
#include "l2ping_opts.h"

#define BURST 32
#define PORT 0

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: l2ping-dpdk CONFIG [--dst MAC] [--size 64] [--inflight N] "
			"[--duration S] [--json]\n");
	exit(2);
}

/* Send all of @pkts, spinning while the ring is full; what still does not
 * go within a while is freed (and its slot lost). @return frames sent. */
static uint16_t send_all(struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t done = 0;
	for (int tries = 0; done < n && tries < 100000; tries++)
		done += rte_eth_tx_burst(PORT, 0, pkts + done, (uint16_t)(n - done));
	for (uint16_t i = done; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
	return done;
}

/* Say bye: one frame of slot L2PING_BYE_SLOT, then wait (1 s at most) for
 * it to come back; frames of the run still in flight are dropped. The
 * reflector sends the bye back and then stops polling (memif): a moment's
 * grace covers the end of its tx burst, the last it touches the rings.
 * @return 1 if it came back. */
static int say_bye(struct rte_mempool *pool, const struct rte_ether_addr *dmac,
		   const struct rte_ether_addr *self, int size, const uint8_t *pattern)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)size) : NULL;
	if (!f) {
		rte_pktmbuf_free(m);
		return 0;
	}
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)f;
	eh->dst_addr = *dmac;
	eh->src_addr = *self;
	eh->ether_type = rte_cpu_to_be_16(ETHERTYPE_KAON);
	memcpy(f + 14, pattern, (size_t)size - 14);
	const uint32_t bye = L2PING_BYE_SLOT;
	memcpy(f + 14, &bye, sizeof(bye));
	if (send_all(&m, 1) != 1)
		return 0;
	uint64_t hz = rte_get_tsc_hz(), end = rte_get_tsc_cycles() + hz;
	struct rte_mbuf *pkts[BURST];
	int back = 0;
	while (!back && rte_get_tsc_cycles() < end) {
		uint16_t n = rte_eth_rx_burst(PORT, 0, pkts, BURST);
		for (uint16_t i = 0; i < n; i++) {
			const struct rte_ether_hdr *h =
				rte_pktmbuf_mtod(pkts[i], const struct rte_ether_hdr *);
			back |= rte_is_same_ether_addr(&h->dst_addr, self) &&
				l2ping_is_bye((const unsigned char *)h,
					      rte_pktmbuf_data_len(pkts[i]));
			rte_pktmbuf_free(pkts[i]);
		}
	}
	if (back)
		rte_delay_ms(50);
	return back;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		usage();
	const char *path = argv[1];
	struct l2ping_opts o;
	l2ping_opts_init(&o, "ff:ff:ff:ff:ff:ff");
	for (int i = 2; i < argc; i++)
		if (!l2ping_opt(argc, argv, &i, &o))
			usage();
	if (l2ping_opts_check(&o) < 0)
		usage();
	struct rte_ether_addr dmac;
	memcpy(dmac.addr_bytes, o.dmac, sizeof(o.dmac));
	int size = o.size, inflight = o.inflight;
	kaon_config c;
	char err[512];
	if (kaon_config_load(&c, path, 0, err, sizeof(err)) < 0 ||
	    kaon_dpdk_eal_init(&c, "l2ping-dpdk", err, sizeof(err)) < 0) {
		fprintf(stderr, "l2ping-dpdk: %s\n", err);
		return 2;
	}
	struct kaon_dpdk *p;
	if (kaon_dpdk_port_open(&p, &c, PORT, 5000, err, sizeof(err)) < 0) {
		fprintf(stderr, "l2ping-dpdk: %s\n", err);
		kaon_dpdk_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct rte_mempool *pool = kaon_dpdk_pool(p);
	struct rte_ether_addr self;
	memcpy(self.addr_bytes, kaon_dpdk_dev(p)->mac, RTE_ETHER_ADDR_LEN);
	uint8_t pattern[1514];
	memset(pattern, 0x6b, sizeof(pattern));
	/* Each frame carries its slot number (bytes 14..17); a reflected frame
	 * must come back to our MAC, from the one we sent to unless that was
	 * broadcast, with the rest of its payload intact. */
	int rc = 0;
	for (int i = 0; i < inflight && rc == 0; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)size) : NULL;
		if (!f) {
			fprintf(stderr, "l2ping-dpdk: no mbuf for frame %d\n", i);
			rc = 2;
			break;
		}
		struct rte_ether_hdr *eh = (struct rte_ether_hdr *)f;
		eh->dst_addr = dmac;
		eh->src_addr = self;
		eh->ether_type = rte_cpu_to_be_16(ETHERTYPE_KAON);
		memcpy(f + 14, pattern, (size_t)size - 14);
		memcpy(f + 14, &i, sizeof(i));
		if (send_all(&m, 1) != 1)
			rc = 2;
	}
	long long trips = 0, bad = 0;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t start = rte_get_tsc_cycles(), last_rx = start;
	uint64_t end = start + (uint64_t)(o.duration * (double)hz);
	uint64_t now = start;
	struct rte_mbuf *pkts[BURST];
	while (rc == 0 && !stop && now < end) {
		uint16_t n = rte_eth_rx_burst(PORT, 0, pkts, BURST);
		now = rte_get_tsc_cycles();
		if (n == 0) {
			if (now - last_rx > hz)
				break; /* every frame lost: the reflector is gone */
			continue;
		}
		last_rx = now;
		uint16_t k = 0;
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
			const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)f;
			if (m->pkt_len != (uint32_t)size || m->nb_segs != 1 ||
			    !rte_is_same_ether_addr(&eh->dst_addr, &self) ||
			    eh->ether_type != rte_cpu_to_be_16(ETHERTYPE_KAON) ||
			    memcmp(f + 18, pattern, (size_t)size - 18) != 0) {
				bad++;
				rte_pktmbuf_free(m);
				continue;
			}
			struct rte_ether_hdr *w = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
			w->dst_addr = dmac;
			w->src_addr = self;
			pkts[k++] = m;
		}
		trips += k;
		if (k)
			send_all(pkts, k);
	}
	double secs = (double)(rte_get_tsc_cycles() - start) / (double)hz;
	if (rc == 0)
		l2ping_report("l2ping-dpdk", &o, trips, secs, bad);
	fflush(stdout);
	if (!say_bye(pool, &dmac, &self, size, pattern))
		fprintf(stderr, "l2ping-dpdk: the reflector did not answer the bye\n");
	kaon_dpdk_port_close(p);
	kaon_dpdk_eal_cleanup();
	if (rc)
		return rc;
	return trips > 0 ? 0 : 1;
}
