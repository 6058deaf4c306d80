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
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "kaon/config.h"
#include "kaon/dpdk.h"

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
	(void)s;
	stop = 1;
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
	printf("l2reflect: reflecting\n");
	fflush(stdout);
	unsigned long long reflected = 0;
	struct rte_mbuf *pkts[64];
	while (!stop) {
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, 64);
		for (uint16_t i = 0; i < n; i++) {
			struct rte_ether_hdr *eh = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
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
	}
	printf("l2reflect: %llu frames reflected\n", reflected);
	kaon_dpdk_port_close(p);
	kaon_dpdk_eal_cleanup();
	return 0;
}
