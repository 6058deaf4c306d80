/* SPDX-License-Identifier: MIT */
/* A DPDK port as a kn_dev: set-up from the config, rx and tx through the
 * device table, frames made single-segment and direct for ports that
 * need it, clean close with every mbuf back in the pool. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "kaon/dpdk.h"
#include "test_util.h"

static kaon_config conf;

static int setup(void **s)
{
	(void)s;
	kaon_config_defaults(&conf);
	conf.dpdk.no_huge = 1;
	conf.dpdk.memory_mb = 128;
	conf.dpdk.nb_mbufs = 2047;
	conf.dpdk.log_level = 1;
	snprintf(conf.dpdk.file_prefix, sizeof(conf.dpdk.file_prefix), "kaon-dpdkport-%d",
		 (int)getpid());
	strcpy(conf.dpdk.vdev[0], "net_ring0");
	strcpy(conf.dpdk.vdev[1], "net_null0");
	strcpy(conf.dpdk.vdev[2], "net_null1");
	conf.dpdk.n_vdev = 3;
	strcpy(conf.path, "test");
	char err[256];
	int rc = kaon_dpdk_eal_init(&conf, "test_dpdk_port", err, sizeof(err));
	if (rc < 0) {
		print_message("EAL: %s\n", err);
		return -1;
	}
	assert_int_equal(kaon_dpdk_eal_init(&conf, "again", err, sizeof(err)), -EALREADY);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	kaon_dpdk_eal_cleanup();
	return 0;
}

/* Frames: one plain, one chained, one indirect (a clone). */
static int make_frames(struct rte_mempool *mp, struct rte_mbuf **m, struct rte_mbuf **keep)
{
	for (int i = 0; i < 3; i++) {
		m[i] = rte_pktmbuf_alloc(mp);
		assert_non_null(m[i]);
		char *d = rte_pktmbuf_append(m[i], 60);
		memset(d, 'a' + i, 60);
	}
	struct rte_mbuf *tail = rte_pktmbuf_alloc(mp);
	memset(rte_pktmbuf_append(tail, 40), 'z', 40);
	assert_int_equal(rte_pktmbuf_chain(m[1], tail), 0);
	*keep = m[2];
	m[2] = rte_pktmbuf_clone(*keep, mp);
	assert_non_null(m[2]);
	return 3;
}

/* Send the three frames through @p dev and check what comes back. */
static void ring_round(struct kaon_dpdk *p, int force_linear)
{
	struct kn_dev *dev = kaon_dpdk_dev(p);
	struct rte_mempool *mp = kaon_dpdk_pool(p);
	kaon_dpdk_set_linearize(p, force_linear);
	struct kaon_dpdk_stats st0, st;
	kaon_dpdk_stats_get(p, &st0);
	unsigned avail0 = rte_mempool_avail_count(mp);
	struct rte_mbuf *m[3], *keep;
	make_frames(mp, m, &keep);
	/* net_ring sends straight into its own rx ring. */
	assert_int_equal(dev->ops->tx_burst(dev, m, 3), 3);
	rte_pktmbuf_free(keep);
	struct rte_mbuf *rx[8];
	uint16_t got = dev->ops->rx_burst(dev, rx, 8);
	assert_int_equal(got, 3);
	assert_int_equal(rte_pktmbuf_pkt_len(rx[1]), 100);
	char buf[100];
	const char *d = rte_pktmbuf_read(rx[1], 0, 100, buf);
	assert_int_equal(d[0], 'b');
	assert_int_equal(d[99], 'z');
	d = rte_pktmbuf_read(rx[2], 0, 60, buf);
	assert_int_equal(d[59], 'c');
	kaon_dpdk_stats_get(p, &st);
	if (force_linear || !(dev->offloads & KN_DEV_TX_MULTI_SEG)) {
		/* The chained and the indirect frame were copied out flat. */
		assert_int_equal(st.tx_linearized - st0.tx_linearized, 2);
		assert_int_equal(rx[1]->nb_segs, 1);
		assert_true(RTE_MBUF_DIRECT(rx[2]));
	}
	for (int i = 0; i < got; i++)
		rte_pktmbuf_free(rx[i]);
	assert_int_equal(rte_mempool_avail_count(mp), avail0);
}

/* A frame too big for one mbuf can never be linearized: it is dropped and
 * counted, and the frames behind it still go (it used to stay at the head
 * of the batch for ever: one 2,100-byte ping stopped all transmission). */
static void too_big_round(struct kaon_dpdk *p)
{
	kaon_dpdk_set_linearize(p, 1);
	struct kn_dev *dev = kaon_dpdk_dev(p);
	struct rte_mempool *mp = kaon_dpdk_pool(p);
	unsigned avail0 = rte_mempool_avail_count(mp);
	struct kaon_dpdk_stats st0, st;
	kaon_dpdk_stats_get(p, &st0);
	/* 3 x 1,400 bytes chained: more than one mbuf holds. */
	struct rte_mbuf *big = NULL;
	for (int i = 0; i < 3; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		assert_non_null(m);
		memset(rte_pktmbuf_append(m, 1400), 'x', 1400);
		if (big)
			assert_int_equal(rte_pktmbuf_chain(big, m), 0);
		else
			big = m;
	}
	struct rte_mbuf *m[3];
	m[0] = big;
	for (int i = 1; i < 3; i++) {
		m[i] = rte_pktmbuf_alloc(mp);
		assert_non_null(m[i]);
		memset(rte_pktmbuf_append(m[i], 60), 'a' + i, 60);
	}
	assert_int_equal(dev->ops->tx_burst(dev, m, 3), 3);
	struct rte_mbuf *rx[8];
	uint16_t got = dev->ops->rx_burst(dev, rx, 8);
	assert_int_equal(got, 2);
	for (int i = 0; i < got; i++) {
		assert_int_equal(rte_pktmbuf_pkt_len(rx[i]), 60);
		assert_int_equal(*rte_pktmbuf_mtod(rx[i], char *), 'b' + i);
		rte_pktmbuf_free(rx[i]);
	}
	kaon_dpdk_stats_get(p, &st);
	assert_int_equal(st.tx_too_big - st0.tx_too_big, 1);
	assert_int_equal(st.tx_linearize_fail - st0.tx_linearize_fail, 0);
	assert_int_equal(rte_mempool_avail_count(mp), avail0);
}

static void t_ring_port(void **s)
{
	(void)s;
	char err[256];
	struct kaon_dpdk *p;
	uint16_t port;
	assert_int_equal(rte_eth_dev_get_port_by_name("net_ring0", &port), 0);
	assert_int_equal(kaon_dpdk_port_open(&p, &conf, port, 1000, err, sizeof(err)), 0);
	assert_true(kaon_dpdk_dev(p)->mtu >= 576);
	ring_round(p, 0);
	/* As a port without RTE_ETH_TX_OFFLOAD_MULTI_SEGS (af_xdp) is served. */
	ring_round(p, 1);
	too_big_round(p);
	kaon_dpdk_port_close(p);
}

static void t_null_port(void **s)
{
	(void)s;
	char err[256];
	struct kaon_dpdk *p;
	uint16_t port;
	assert_int_equal(rte_eth_dev_get_port_by_name("net_null0", &port), 0);
	assert_int_equal(kaon_dpdk_port_open(&p, &conf, port, 1000, err, sizeof(err)), 0);
	assert_true(kaon_dpdk_link_up(p));
	struct kn_dev *dev = kaon_dpdk_dev(p);
	struct rte_mbuf *rx[32];
	uint16_t got = dev->ops->rx_burst(dev, rx, 32);
	assert_true(got > 0); /* the null PMD makes up frames */
	assert_int_equal(dev->ops->tx_burst(dev, rx, got), got); /* and eats them */
	kaon_dpdk_port_close(p);
	assert_int_equal(kaon_dpdk_port_open(&p, &conf, 999, 0, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "port 999 does not exist"));
}

/* rte_flow bifurcation on a PMD without rte_flow: refused, clearly, and
 * the port is left closed. */
static void t_rte_flow_refused(void **s)
{
	(void)s;
	kaon_config c = conf;
	c.bif.mode = KAON_BIF_RTE_FLOW;
	c.bif.tcp_ports[0] = 80;
	c.bif.n_tcp_ports = 1;
	c.port0.addr = 0x020012c6; /* 198.18.0.2 */
	c.port0.has_addr = 1;
	char err[256];
	struct kaon_dpdk *p = NULL;
	uint16_t port;
	assert_int_equal(rte_eth_dev_get_port_by_name("net_null1", &port), 0);
	int rc = kaon_dpdk_port_open(&p, &c, port, 0, err, sizeof(err));
	if (rc == 0) {
		kaon_dpdk_port_close(p); /* a PMD that supports it: fine too */
		return;
	}
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(err, "[bifurcation] mode = rte_flow"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_ring_port),
		cmocka_unit_test(t_null_port),
		cmocka_unit_test(t_rte_flow_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
