/* SPDX-License-Identifier: MIT */
/* EAL refuses a bad [dpdk] section: a clear error, no crash, no port. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kaon/dpdk.h"
#include "test_util.h"

static void t_bad_vdev(void **s)
{
	(void)s;
	kaon_config c;
	kaon_config_defaults(&c);
	c.dpdk.no_huge = 1;
	c.dpdk.memory_mb = 64;
	c.dpdk.log_level = 1;
	snprintf(c.dpdk.file_prefix, sizeof(c.dpdk.file_prefix), "kaon-badeal-%d", (int)getpid());
	strcpy(c.dpdk.vdev[0], "net_no_such_driver0");
	c.dpdk.n_vdev = 1;
	strcpy(c.path, "bad.conf");
	char err[256];
	assert_int_equal(kaon_dpdk_eal_init(&c, "test", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad.conf: DPDK EAL refused the [dpdk] section"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_bad_vdev),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
