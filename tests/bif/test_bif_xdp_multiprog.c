/* SPDX-License-Identifier: MIT */
/*
 * When bpffs is mounted, libxdp (which DPDK's af_xdp PMD uses when built
 * with it) attaches a dispatcher and runs kaon's program under it as a
 * freplace program. kaon_bif_xdp_fill() must find it there. Private mount
 * and network namespaces: the bpffs mounted here is this process's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <net/if.h>
#include <sys/mount.h>
#include <xdp/libxdp.h>

#include "kaon/bif.h"
#include "kaon_xdp_abi.h"
#include "xdp_test.h"

static struct xdp_program *xp;

static int attached_dispatcher(void)
{
	struct bpf_prog_info info;
	uint32_t id = 0, len = sizeof(info);
	int fd, is;

	if (bpf_xdp_query_id((int)if_nametoindex("bif0"), 0, &id) != 0 || id == 0)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	memset(&info, 0, sizeof(info));
	is = fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	     strcmp(info.name, "xdp_dispatcher") == 0;
	if (fd >= 0)
		close(fd);
	return is;
}

static void test_fill_under_dispatcher(void **state)
{
	uint32_t zero = 0;
	struct kaon_xdp_cfg cfg;
	kaon_config c;
	char err[256] = "";
	int fd;

	(void)state;
	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_XDP;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.local_port_lo = 61000, c.bif.local_port_hi = 62000;
	assert_int_equal(kaon_bif_xdp_fill("bif0", &c, err, sizeof(err)), 0);
	fd = bpf_object__find_map_fd_by_name(xdp_program__bpf_obj(xp), KAON_XDP_CFG_MAP);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	assert_int_equal(cfg.flags, KAON_XDP_F_ENABLED);
	assert_int_equal(cfg.local_lo, 61000);
	/* Not kaon's to detach: the dispatcher is libxdp's. */
	assert_int_equal(kaon_bif_xdp_detach("bif0"), -EBUSY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_under_dispatcher),
	};
	int rc;

	if (geteuid() != 0)
		bif_skip("needs root");
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) != 0)
		bif_skip("cannot mount a private bpffs");
	bif_netns(1);
	if (access(KAON_XDP_OBJ, R_OK) != 0)
		bif_skip("bpf/kaon_xdp.o was not built");
	xp = xdp_program__open_file(KAON_XDP_OBJ, "xdp", NULL);
	if (libxdp_get_error(xp))
		bif_skip("libxdp cannot open the object");
	if (xdp_program__attach(xp, (int)if_nametoindex("bif0"), XDP_MODE_NATIVE, 0) != 0)
		bif_skip("libxdp cannot attach here");
	if (!attached_dispatcher()) {
		xdp_program__detach(xp, (int)if_nametoindex("bif0"), XDP_MODE_NATIVE, 0);
		bif_skip("libxdp fell back to a single program (no dispatcher on this kernel)");
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	xdp_program__detach(xp, (int)if_nametoindex("bif0"), XDP_MODE_NATIVE, 0);
	xdp_program__close(xp);
	return rc;
}
