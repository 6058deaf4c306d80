/* SPDX-License-Identifier: MIT */
/*
 * l2reflect: the raw ceiling of a path. A DPDK port that sends every frame
 * straight back with the MAC addresses swapped -- no IP, no TCP, no
 * coroutines. With l2ping on the other side it measures how many round trips
 * the path itself allows, which kaon's echo rate is then a share of. The
 * pinger is l2ping (kernel AF_PACKET) or l2ping-dpdk (a DPDK port: the
 * ceiling with no kernel socket at either end). One queue, busy-polled with
 * rte_eth_rx_burst / rte_eth_tx_burst straight on the port: kaon's device
 * layer (counters, loss injection) is not on this path.
 *
 *   l2reflect CONFIG          (the [dpdk] section and port 0 are used)
 *
 * Runs until SIGINT/SIGTERM, then prints how many frames it reflected.
 * Serves one pinger after another: on memif, a pinger's bye (l2ping_opts.h)
 * makes it stop polling until that pinger's link is gone and the next one's
 * is up.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "kaon/config.h"
#include "kaon/dpdk.h"
#include "l2ping_opts.h"

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static int link_up(uint16_t port)
{
	struct rte_eth_link l;
	memset(&l, 0, sizeof(l));
	return rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
}

/* After a bye on memif: no rx or tx burst (they touch the rings the PMD
 * unmaps when the pinger goes) until the link has gone down -- or stayed up
 * @up_wait_s, a pinger that said bye and did not close: polling again is
 * then no worse than before -- and come up again (the next pinger). */
static void wait_relink(uint16_t port, double up_wait_s)
{
	uint64_t end = rte_get_tsc_cycles() + (uint64_t)(up_wait_s * (double)rte_get_tsc_hz());
	while (!stop && link_up(port)) {
		if (rte_get_tsc_cycles() > end) {
			fprintf(stderr, "l2reflect: link still up %.0f s after a bye; polling again\n",
				up_wait_s);
			return;
		}
		rte_delay_us_sleep(1000);
	}
	while (!stop && !link_up(port)) /* idle between pingers: SIGTERM ends it */
		rte_delay_us_sleep(1000);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: l2reflect CONFIG\n");
		return 2;
	}
	kaon_config c;
	char err[512];
	if (kaon_config_load(&c, argv[1], 0, err, sizeof(err)) < 0 ||
	    kaon_dpdk_eal_init(&c, "l2reflect", err, sizeof(err)) < 0) {
		fprintf(stderr, "l2reflect: %s\n", err);
		return 2;
	}
	struct kaon_dpdk *p;
	if (kaon_dpdk_port_open(&p, &c, 0, 3000, err, sizeof(err)) < 0) {
		fprintf(stderr, "l2reflect: %s\n", err);
		kaon_dpdk_eal_cleanup();
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	const uint16_t port = 0;
	struct rte_eth_dev_info info;
	int memif = rte_eth_dev_info_get(port, &info) == 0 && info.driver_name &&
		    !strcmp(info.driver_name, "net_memif");
	printf("l2reflect: reflecting\n");
	fflush(stdout);
	unsigned long long reflected = 0;
	struct rte_mbuf *pkts[64];
	while (!stop) {
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, 64);
		int bye = 0;
		for (uint16_t i = 0; i < n; i++) {
			struct rte_ether_hdr *eh = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
			bye |= l2ping_is_bye((const unsigned char *)eh, rte_pktmbuf_data_len(pkts[i]));
			struct rte_ether_addr t = eh->dst_addr;
			eh->dst_addr = eh->src_addr;
			eh->src_addr = t;
		}
		/* A full ring is waited out (a while): a frame dropped here
		 * is a slot of the pinger's lost for good. */
		uint16_t sent = 0;
		for (int tries = 0; sent < n && tries < 100000; tries++)
			sent += rte_eth_tx_burst(port, 0, pkts + sent, (uint16_t)(n - sent));
		for (uint16_t i = sent; i < n; i++)
			rte_pktmbuf_free(pkts[i]);
		reflected += sent;
		if (bye && memif)
			wait_relink(port, 10);
	}
	printf("l2reflect: %llu frames reflected\n", reflected);
	kaon_dpdk_port_close(p);
	kaon_dpdk_eal_cleanup();
	return 0;
}
