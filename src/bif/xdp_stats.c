/* SPDX-License-Identifier: MIT */
/* Read the per-CPU counters of kaon's XDP program and sum them. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bif/bif_xdp.h"
#include "kaon/bif.h"
#include "kaon_xdp_abi.h"

static int sum(int fd, uint32_t key, uint64_t *out, uint64_t *buf, int ncpu)
{
	if (bpf_map_lookup_elem(fd, &key, buf) < 0)
		return -errno;
	*out = 0;
	for (int i = 0; i < ncpu; i++)
		*out += buf[i];
	return 0;
}

int kaon_bif_xdp_stats(const char *ifname, struct kaon_bif_xdp_stats *s)
{
	char err[16];
	int prog = bif_xdp_prog_fd(ifname, err, sizeof(err)), fd, ncpu, rc = 0;
	uint64_t *buf;

	if (prog < 0)
		return prog;
	fd = bif_xdp_map_fd(prog, KAON_XDP_STATS_MAP);
	close(prog);
	if (fd < 0)
		return fd;
	ncpu = libbpf_num_possible_cpus();
	buf = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*buf)) : NULL;
	if (!buf) {
		close(fd);
		return ncpu < 0 ? ncpu : -ENOMEM;
	}
	const struct {
		uint32_t key;
		uint64_t *dst;
	} f[] = {
		{ KAON_XDP_STAT_SEEN, &s->seen },         { KAON_XDP_STAT_OWNED, &s->owned },
		{ KAON_XDP_STAT_NOT_IP4, &s->not_ip4 },   { KAON_XDP_STAT_BAD_HDR, &s->bad_hdr },
		{ KAON_XDP_STAT_FRAGMENT, &s->fragment }, { KAON_XDP_STAT_OTHER, &s->other },
		{ KAON_XDP_STAT_OWNED_FRAG, &s->owned_frag },
		{ KAON_XDP_STAT_OWNED_ICMP, &s->owned_icmp },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && rc == 0; i++)
		rc = sum(fd, f[i].key, f[i].dst, buf, ncpu);
	free(buf);
	close(fd);
	return rc;
}
