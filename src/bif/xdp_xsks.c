/* SPDX-License-Identifier: MIT */
/*
 * One AF_XDP socket per queue in one program's xsks_map. DPDK 22.11's
 * af_xdp PMD gives each vdev (one per queue, see kaon_bif_devargs_per_queue)
 * its own copy of the XDP program, and only one copy can be attached: so
 * kaon detaches the copy before each next vdev loads its own, and puts the
 * earlier vdevs' sockets into the map of the copy that stays attached. The
 * PMD does not say which fd is its socket; the fds of family AF_XDP that a
 * queue's set-up opened are.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bif/bif_xdp.h"
#include "kaon/bif.h"
#include "kaon_xdp_abi.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int kaon_bif_xsk_fds(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		int dom = 0;
		socklen_t len = sizeof(dom);

		if (*end || end == de->d_name || fd == dirfd(d))
			continue;
		if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 && dom == AF_XDP)
			fds[n++] = (int)fd;
	}
	closedir(d);
	qsort(fds, (size_t)n, sizeof(*fds), cmp_int);
	return n;
}

int kaon_bif_xdp_put_xsk(const char *ifname, unsigned queue, int fd, char *err, size_t errlen)
{
	int prog = bif_xdp_prog_fd(ifname, err, errlen), map, rc = 0;
	uint32_t key = queue;

	if (prog < 0)
		return prog;
	map = bif_xdp_map_fd(prog, KAON_XDP_XSKS_MAP);
	close(prog);
	if (map < 0) {
		snprintf(err, errlen, "%s: kaon's XDP program has no map '%s'", ifname,
			 KAON_XDP_XSKS_MAP);
		return map;
	}
	if (bpf_map_update_elem(map, &key, &fd, BPF_ANY) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: socket of queue %u into '%s': %s", ifname, queue,
			 KAON_XDP_XSKS_MAP, strerror(-rc));
	}
	close(map);
	return rc;
}
