/* SPDX-License-Identifier: MIT */
/*
 * rte_flow mode on real DPDK ports: net_null (no flow support at all: the
 * refusal must be clear) and, as root in a private network namespace,
 * net_tap, whose rte_flow needs the kernel's multiq qdisc and flower
 * classifier. Where the kernel lacks them (this testbed's kernel does) the
 * PMD refuses the first rule, and the test checks that the refusal names
 * the rule, quotes the PMD and leaves no rule behind; where it has them,
 * every rule must be accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sched.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "bif_test.h"
#include "kaon/bif.h"

static struct rte_mempool *mp;
static int have_tap;

static int rules(struct kaon_bif_flow_rule *r)
{
	kaon_config c;

	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_RTE_FLOW;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 5353;
	c.bif.local_port_lo = 61000;
	c.bif.local_port_hi = 65535;
	c.port0.addr = htonl(0xc6120002);
	c.port0.has_addr = 1;
	return kaon_bif_flow_rules(&c, KAON_BIF_FLOW_ARP_TO_KAON, 0, r, KAON_BIF_FLOW_MAX_RULES);
}

/* Isolate (before configure), configure, start. @return isolate's result. */
static int open_port(const char *name, uint16_t *port, char *err, size_t errlen)
{
	struct rte_eth_conf pc;
	int iso;

	memset(&pc, 0, sizeof(pc));
	assert_int_equal(rte_eth_dev_get_port_by_name(name, port), 0);
	iso = kaon_bif_flow_isolate(*port, err, errlen);
	assert_int_equal(rte_eth_dev_configure(*port, 1, 1, &pc), 0);
	assert_int_equal(rte_eth_rx_queue_setup(*port, 0, 256, 0, NULL, mp), 0);
	assert_int_equal(rte_eth_tx_queue_setup(*port, 0, 256, 0, NULL), 0);
	assert_int_equal(rte_eth_dev_start(*port), 0);
	return iso;
}

static void test_null_refuses_clearly(void **state)
{
	struct kaon_bif_flow_rule r[KAON_BIF_FLOW_MAX_RULES];
	char err[256] = "";
	uint16_t port;
	int n = rules(r), rc;

	(void)state;
	rc = open_port("net_null0", &port, err, sizeof(err));
	assert_int_equal(rc, -ENOTSUP);
	assert_non_null(strstr(err, "rte_flow_isolate"));
	rc = kaon_bif_flow_apply(port, r, n, err, sizeof(err));
	assert_int_equal(rc, -ENOTSUP);
	assert_non_null(strstr(err, "rule 0 (tcp dst port 80"));
	rte_eth_dev_stop(port);
}

static void test_tap(void **state)
{
	struct kaon_bif_flow_rule r[KAON_BIF_FLOW_MAX_RULES];
	char err[256] = "";
	uint16_t port;
	int n = rules(r), rc;

	(void)state;
	if (!have_tap)
		skip();
	rc = open_port("net_tap0", &port, err, sizeof(err));
	assert_int_equal(rc, 0);
	rc = kaon_bif_flow_apply(port, r, n, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "net_tap refused the rules (%d): %s\n", rc, err);
		assert_non_null(strstr(err, "rule 0 ("));
		assert_true(strlen(err) > strlen("rule 0 (tcp dst port 80/0xffff -> queue 0): "));
	} else {
		assert_int_equal(rc, n);
	}
	assert_int_equal(kaon_bif_flow_flush(port), 0);
	rte_eth_dev_stop(port);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_refuses_clearly),
		cmocka_unit_test(test_tap),
	};
	char rundir[256], prefix[64], *argv[16];
	int argc = 0, rc;

	/* net_tap needs root; its interface goes in a namespace of our own. */
	have_tap = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;
	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-bif-%d", (int)getpid());
	argv[argc++] = "test_bif_flow_dpdk";
	argv[argc++] = "--no-huge";
	argv[argc++] = "-m";
	argv[argc++] = "64";
	argv[argc++] = prefix;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--log-level=1";
	argv[argc++] = "--vdev=net_null0";
	if (have_tap)
		argv[argc++] = "--vdev=net_tap0,iface=kaontap0";
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0)
		bif_skip("DPDK's EAL did not start");
	mp = rte_pktmbuf_pool_create("bif", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!mp)
		bif_skip("no mempool");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	bif_rm_tree(rundir);
	return rc;
}
