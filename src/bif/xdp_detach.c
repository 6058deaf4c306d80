/* SPDX-License-Identifier: MIT */
/*
 * Give the interface back to the kernel: detach the XDP program in every
 * mode it is attached in. Only kaon's own program (or the af_xdp PMD's
 * default one) is removed; someone else's firewall stays where it is.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "bif/bif_xdp.h"
#include "kaon/bif.h"

/* 1: @p id is a program kaon may detach; 0: it is not; < 0: error. */
static int ours(uint32_t id)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), rc;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ? -errno : bif_xdp_name_is_ours(info.name);
	close(fd);
	return rc;
}

static int detach_mode(int ifindex, uint32_t id, uint32_t mode_flag)
{
	int rc;

	if (id == 0)
		return 0;
	rc = ours(id);
	if (rc <= 0)
		return rc == 0 ? -EBUSY : rc;
	rc = bpf_xdp_detach(ifindex, mode_flag, NULL);
	return rc < 0 ? rc : 1;
}

int kaon_bif_xdp_detach(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = (int)if_nametoindex(ifname), rc, any = 0;

	if (ifindex == 0)
		return -ENODEV;
	rc = bpf_xdp_query(ifindex, 0, &q);
	if (rc < 0)
		return rc;
	const struct {
		uint32_t id, flag;
	} modes[] = {
		{ q.drv_prog_id, XDP_FLAGS_DRV_MODE },
		{ q.skb_prog_id, XDP_FLAGS_SKB_MODE },
		{ q.hw_prog_id, XDP_FLAGS_HW_MODE },
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		rc = detach_mode(ifindex, modes[i].id, modes[i].flag);
		if (rc < 0)
			return rc;
		any |= rc;
	}
	return any;
}
