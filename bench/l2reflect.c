/* SPDX-License-Identifier: MIT */
/*
 * l2reflect: the raw ceiling of a path. A DPDK port that sends every frame
 * straight back with the MAC addresses swapped -- no IP, no TCP, no
 * coroutines. With l2ping on the other side it measures how many round trips
 * the path itself allows, which kaon's echo rate is then a share of.
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
	struct kn_dev *dev = kaon_dpdk_dev(p);
	printf("l2reflect: reflecting\n");
	fflush(stdout);
	unsigned long long reflected = 0;
	struct rte_mbuf *pkts[64];
	while (!stop) {
		uint16_t n = dev->ops->rx_burst(dev, pkts, 64);
		for (uint16_t i = 0; i < n; i++) {
			struct rte_ether_hdr *eh = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
			struct rte_ether_addr t = eh->dst_addr;
			eh->dst_addr = eh->src_addr;
			eh->src_addr = t;
		}
		uint16_t sent = n ? dev->ops->tx_burst(dev, pkts, n) : 0;
		for (uint16_t i = sent; i < n; i++)
			rte_pktmbuf_free(pkts[i]);
		reflected += sent;
	}
	printf("l2reflect: %llu frames reflected\n", reflected);
	kaon_dpdk_port_close(p);
	kaon_dpdk_eal_cleanup();
	return 0;
}
