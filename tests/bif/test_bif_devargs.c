/* SPDX-License-Identifier: MIT */
/* Reading the interface and the program out of an af_xdp vdev string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>

#include "kaon/bif.h"

static void test_iface(void **state)
{
	char ifn[IFNAMSIZ] = "";

	(void)state;
	assert_int_equal(kaon_bif_devargs_iface("net_af_xdp0,iface=veth-srv", ifn, sizeof(ifn)), 0);
	assert_string_equal(ifn, "veth-srv");
	assert_int_equal(kaon_bif_devargs_iface("net_af_xdp1,start_queue=0,iface=eth1,queue_count=1",
						ifn, sizeof(ifn)), 0);
	assert_string_equal(ifn, "eth1");
	assert_int_equal(kaon_bif_devargs_iface("net_af_xdp0,xiface=eth1", ifn, sizeof(ifn)), -ENOENT);
	assert_int_equal(kaon_bif_devargs_iface("net_af_xdp0,iface=", ifn, sizeof(ifn)), -ENOENT);
	assert_int_equal(kaon_bif_devargs_iface("net_tap0,iface=tap0", ifn, sizeof(ifn)), -ENOENT);
	assert_int_equal(kaon_bif_devargs_iface("net_af_xdp0", ifn, sizeof(ifn)), -ENOENT);
	assert_int_equal(kaon_bif_devargs_iface("net_af_xdp0,iface=averyveryverylongname", ifn,
						sizeof(ifn)), -ENAMETOOLONG);
}

static void test_has_prog(void **state)
{
	(void)state;
	assert_int_equal(kaon_bif_devargs_has_prog("net_af_xdp0,iface=a,xdp_prog=/x/kaon_xdp.o"), 1);
	assert_int_equal(kaon_bif_devargs_has_prog("net_af_xdp0,iface=a"), 0);
	assert_int_equal(kaon_bif_devargs_has_prog("net_af_xdp0,iface=a,xdp_prog="), 0);
}

/* [dpdk] cores = N with xdp bifurcation: one vdev per queue. */
static void test_per_queue(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(kaon_bif_devargs_per_queue("net_af_xdp0,iface=veth-srv,xdp_prog=/k.o", 1,
						    out, sizeof(out)), 0);
	assert_string_equal(out, "net_af_xdp1,iface=veth-srv,xdp_prog=/k.o,start_queue=1,queue_count=1");
	/* The queue keys are replaced, counted from the given start. */
	assert_int_equal(kaon_bif_devargs_per_queue("net_af_xdp0,start_queue=4,iface=eth1,queue_count=2",
						    3, out, sizeof(out)), 0);
	assert_string_equal(out, "net_af_xdp3,iface=eth1,start_queue=7,queue_count=1");
	assert_int_equal(kaon_bif_devargs_per_queue("net_af_xdp0,iface=eth1", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "net_af_xdp0,iface=eth1,start_queue=0,queue_count=1");
	assert_int_equal(kaon_bif_devargs_per_queue("net_tap0,iface=tap0", 0, out, sizeof(out)), -ENOENT);
	assert_int_equal(kaon_bif_devargs_per_queue("net_af_xdp0,iface=eth1", 0, out, 20),
			 -ENAMETOOLONG);
	assert_int_equal(kaon_bif_devargs_uint("net_af_xdp0,iface=a,start_queue=12", "start_queue", 9), 12);
	assert_int_equal(kaon_bif_devargs_uint("net_af_xdp0,iface=a", "start_queue", 9), 9);
	assert_int_equal(kaon_bif_devargs_uint("net_af_xdp0,start_queue=x", "start_queue", 9), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iface),
		cmocka_unit_test(test_has_prog),
		cmocka_unit_test(test_per_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
