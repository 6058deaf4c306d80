/* SPDX-License-Identifier: MIT */
/* rte_flow mode's rule list, built as plain data (no DPDK, no root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>

#include "kaon/bif.h"

/* Every port matches some block iff it lies in [lo, hi]; blocks are disjoint. */
static void check_range(uint16_t lo, uint16_t hi, int want_n)
{
	uint16_t v[32], m[32];
	int n = kaon_bif_port_range_masks(lo, hi, v, m, 32);

	assert_true(n > 0 && n <= 30);
	if (want_n)
		assert_int_equal(n, want_n);
	for (uint32_t p = 0; p < 65536; p++) {
		int hits = 0;

		for (int i = 0; i < n; i++)
			hits += ((uint16_t)p & m[i]) == v[i];
		assert_int_equal(hits, p >= lo && p <= hi ? 1 : 0);
	}
}

static void test_range_masks(void **state)
{
	uint16_t v[32], m[32];

	(void)state;
	check_range(80, 80, 1);
	check_range(0, 65535, 1);
	check_range(32768, 65535, 1);
	check_range(61000, 65535, 0);
	check_range(40000, 59999, 0);
	check_range(1, 65534, 30); /* the worst case */
	check_range(1024, 1024 + 511, 1);
	assert_int_equal(kaon_bif_port_range_masks(5, 4, v, m, 32), -EINVAL);
	assert_int_equal(kaon_bif_port_range_masks(1, 65534, v, m, 29), -ENOSPC);
}

static kaon_config conf(void)
{
	kaon_config c;

	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_RTE_FLOW;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 8080;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 53;
	c.bif.local_port_lo = 32768;
	c.bif.local_port_hi = 65535;
	c.port0.addr = htonl(0xc6120002);
	c.port0.has_addr = 1;
	return c;
}

static void test_rules(void **state)
{
	struct kaon_bif_flow_rule r[KAON_BIF_FLOW_MAX_RULES];
	kaon_config c = conf();
	int n;

	(void)state;
	n = kaon_bif_flow_rules(&c, 0, 3, r, KAON_BIF_FLOW_MAX_RULES);
	assert_int_equal(n, 5); /* tcp 80, tcp 8080, udp 53, tcp range, udp range */
	assert_int_equal(r[0].kind, KAON_BIF_FLOW_TCP);
	assert_int_equal(r[0].dst_port, 80);
	assert_int_equal(r[0].dst_port_mask, 0xffff);
	assert_int_equal(r[0].dst_addr, htonl(0xc6120002));
	assert_int_equal(r[0].queue, 3);
	assert_int_equal(r[1].dst_port, 8080);
	assert_int_equal(r[2].kind, KAON_BIF_FLOW_UDP);
	assert_int_equal(r[2].dst_port, 53);
	assert_int_equal(r[3].kind, KAON_BIF_FLOW_TCP);
	assert_int_equal(r[3].dst_port, 32768);
	assert_int_equal(r[3].dst_port_mask, 0x8000);
	assert_int_equal(r[4].kind, KAON_BIF_FLOW_UDP);
	for (int i = 0; i < n; i++)
		assert_true(r[i].kind != KAON_BIF_FLOW_ARP); /* ARP stays with the kernel */

	n = kaon_bif_flow_rules(&c, KAON_BIF_FLOW_ARP_TO_KAON | KAON_BIF_FLOW_NO_ADDR, 0, r,
				KAON_BIF_FLOW_MAX_RULES);
	assert_int_equal(n, 6);
	assert_int_equal(r[5].kind, KAON_BIF_FLOW_ARP);
	for (int i = 0; i < n; i++)
		assert_int_equal(r[i].dst_addr, 0);

	c.port0.has_addr = 0;
	n = kaon_bif_flow_rules(&c, 0, 0, r, KAON_BIF_FLOW_MAX_RULES);
	assert_int_equal(r[0].dst_addr, 0);
}

static void test_rule_limits(void **state)
{
	struct kaon_bif_flow_rule r[KAON_BIF_FLOW_MAX_RULES];
	kaon_config c = conf();

	(void)state;
	assert_int_equal(kaon_bif_flow_rules(&c, 0, 0, r, 4), -ENOSPC);
	/* The most a config can ask for still fits KAON_BIF_FLOW_MAX_RULES. */
	c.bif.n_tcp_ports = c.bif.n_udp_ports = KAON_CONF_MAX_PORTS;
	for (int i = 0; i < KAON_CONF_MAX_PORTS; i++)
		c.bif.tcp_ports[i] = c.bif.udp_ports[i] = (uint16_t)(100 + i);
	c.bif.local_port_lo = 1025;
	c.bif.local_port_hi = 65534;
	assert_true(kaon_bif_flow_rules(&c, KAON_BIF_FLOW_ARP_TO_KAON, 0, r,
					KAON_BIF_FLOW_MAX_RULES) > 0);
	c.bif.local_port_lo = 9, c.bif.local_port_hi = 8;
	assert_int_equal(kaon_bif_flow_rules(&c, 0, 0, r, KAON_BIF_FLOW_MAX_RULES), -EINVAL);
	c = conf();
	c.bif.mode = KAON_BIF_OFF;
	assert_int_equal(kaon_bif_flow_rules(&c, 0, 0, r, KAON_BIF_FLOW_MAX_RULES), -EINVAL);
}

/* The rules take exactly the config's local range, the one the stack picks
 * its ephemeral ports from, for TCP and for UDP: a port is matched by one
 * TCP rule and one UDP rule when it is in the range (or owned), else none. */
static void test_rules_cover_local_range(void **state)
{
	struct kaon_bif_flow_rule r[KAON_BIF_FLOW_MAX_RULES];
	const uint16_t ranges[][2] = { { 40000, 59999 }, { 49152, 65535 }, { 1025, 1025 } };

	(void)state;
	for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
		kaon_config c = conf();
		int n;

		c.bif.n_tcp_ports = c.bif.n_udp_ports = 0;
		c.bif.local_port_lo = ranges[k][0];
		c.bif.local_port_hi = ranges[k][1];
		n = kaon_bif_flow_rules(&c, 0, 0, r, KAON_BIF_FLOW_MAX_RULES);
		assert_true(n > 0);
		for (uint32_t p = 0; p < 65536; p++) {
			int tcp = 0, udp = 0, in = p >= ranges[k][0] && p <= ranges[k][1];

			for (int i = 0; i < n; i++) {
				int hit = ((uint16_t)p & r[i].dst_port_mask) == r[i].dst_port;

				tcp += hit && r[i].kind == KAON_BIF_FLOW_TCP;
				udp += hit && r[i].kind == KAON_BIF_FLOW_UDP;
			}
			assert_int_equal(tcp, in);
			assert_int_equal(udp, in);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_masks),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_rule_limits),
		cmocka_unit_test(test_rules_cover_local_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
