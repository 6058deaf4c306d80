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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iface),
		cmocka_unit_test(test_has_prog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
