/* SPDX-License-Identifier: MIT */
/*
 * Find the XDP program on an interface (whichever mode it was attached in)
 * and its maps by name. The af_xdp PMD loaded the program; kaon only holds
 * fds to it for as long as it fills or reads the maps.
 */
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "bif/bif_xdp.h"
#include "kaon_xdp_abi.h"

int bif_xdp_name_is_ours(const char *name)
{
	/* kaon's program, or the default one the af_xdp PMD loads when no
	 * xdp_prog= is given (a stale kaon run in mode off). */
	return strcmp(name, KAON_XDP_PROG_NAME) == 0 || strcmp(name, "xsk_def_prog") == 0;
}

/* The id of the program attached to @p ifindex (0: none). @return 0 or -errno. */
static int attached_id(int ifindex, uint32_t *id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int rc = bpf_xdp_query(ifindex, 0, &q);

	if (rc < 0)
		return rc;
	/* Attached in more than one mode (prog_id is 0 then): any will do. */
	*id = q.prog_id;
	if (!*id)
		*id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	return 0;
}

/* The name of program @p fd into @p name (BPF_OBJ_NAME_LEN). @return 0 or -errno. */
static int prog_name(int fd, char *name)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	return 0;
}

/*
 * libxdp, when it can pin to a bpffs, attaches a dispatcher and hangs the
 * real programs under it as freplace (BPF_PROG_TYPE_EXT) programs, each
 * through a tracing link whose target is the dispatcher. Walk the links to
 * find kaon's program under dispatcher @p disp_id. @return fd or -ENOENT.
 */
static int under_dispatcher(uint32_t disp_id)
{
	uint32_t id = 0;

	while (bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info li;
		uint32_t len = sizeof(li);
		char name[BPF_OBJ_NAME_LEN];
		int lfd = bpf_link_get_fd_by_id(id), fd;

		if (lfd < 0)
			continue;
		memset(&li, 0, sizeof(li));
		if (bpf_obj_get_info_by_fd(lfd, &li, &len) < 0 || li.type != BPF_LINK_TYPE_TRACING ||
		    li.tracing.target_obj_id != disp_id) {
			close(lfd);
			continue;
		}
		close(lfd);
		fd = bpf_prog_get_fd_by_id(li.prog_id);
		if (fd < 0)
			continue;
		if (prog_name(fd, name) == 0 && strcmp(name, KAON_XDP_PROG_NAME) == 0)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

int bif_xdp_prog_fd(const char *ifname, char *err, size_t errlen)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), id = 0;
	int ifindex = (int)if_nametoindex(ifname), fd;

	if (ifindex == 0) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -ENODEV;
	}
	fd = attached_id(ifindex, &id);
	if (fd < 0) {
		snprintf(err, errlen, "%s: XDP query: %s", ifname, strerror(-fd));
		return fd;
	}
	if (id == 0) {
		snprintf(err, errlen, "%s: no XDP program attached", ifname);
		return -ENOENT;
	}
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		fd = -errno;
		snprintf(err, errlen, "%s: XDP program %u: %s", ifname, id, strerror(-fd));
		return fd;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		int e = -errno;
		close(fd);
		snprintf(err, errlen, "%s: XDP program %u: %s", ifname, id, strerror(-e));
		return e;
	}
	if (strcmp(info.name, KAON_XDP_PROG_NAME) == 0)
		return fd;
	close(fd);
	if (strcmp(info.name, "xdp_dispatcher") == 0) {
		fd = under_dispatcher(id);
		if (fd >= 0)
			return fd;
	}
	snprintf(err, errlen,
		 "%s: the XDP program attached is '%s', not kaon's '%s' "
		 "(is xdp_prog= set to bpf/kaon_xdp.o?)",
		 ifname, info.name, KAON_XDP_PROG_NAME);
	return -ENOENT;
}

int bif_xdp_map_fd(int prog_fd, const char *name)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), n;
	uint32_t *ids;
	int found = -ENOENT;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return -errno;
	n = info.nr_map_ids;
	if (n == 0)
		return -ENOENT;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = n;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0) {
		found = -errno;
		goto out;
	}
	if (info.nr_map_ids < n)
		n = info.nr_map_ids;
	for (uint32_t i = 0; i < n && found == -ENOENT; i++) {
		struct bpf_map_info mi;
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0) {
			found = -errno;
			break;
		}
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && strcmp(mi.name, name) == 0)
			found = fd;
		else
			close(fd);
	}
out:
	free(ids);
	return found;
}
