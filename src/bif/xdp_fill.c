/* SPDX-License-Identifier: MIT */
/*
 * Fill kaon's XDP maps from the [bifurcation] config. The port bitmaps go
 * in first and the config entry (with KAON_XDP_F_ENABLED) last, so the
 * program never acts on half a configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bif/bif_xdp.h"
#include "kaon/bif.h"
#include "kaon_xdp_abi.h"

static void set_port(struct kaon_xdp_ports *p, uint16_t port)
{
	p->bits[port >> 3] |= (uint8_t)(1u << (port & 7));
}

static int put(int prog_fd, const char *map, const void *value, char *err, size_t errlen)
{
	uint32_t zero = 0;
	int fd = bif_xdp_map_fd(prog_fd, map), rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "XDP program has no map '%s'%s", map,
			 fd == -ENOENT ? " (not kaon's program?)" : "");
		return fd;
	}
	if (bpf_map_update_elem(fd, &zero, value, BPF_ANY) < 0) {
		rc = -errno;
		snprintf(err, errlen, "map '%s': %s", map, strerror(-rc));
	}
	close(fd);
	return rc;
}

int kaon_bif_xdp_fill(const char *ifname, const kaon_config *c, char *err, size_t errlen)
{
	struct kaon_xdp_ports *tcp, *udp;
	struct kaon_xdp_cfg cfg;
	int prog, rc;

	if (c->bif.local_port_lo > c->bif.local_port_hi) {
		snprintf(err, errlen, "local_ports %u-%u: lo > hi", c->bif.local_port_lo,
			 c->bif.local_port_hi);
		return -EINVAL;
	}
	prog = bif_xdp_prog_fd(ifname, err, errlen);
	if (prog < 0)
		return prog;
	tcp = calloc(1, sizeof(*tcp));
	udp = calloc(1, sizeof(*udp));
	rc = -ENOMEM;
	if (!tcp || !udp)
		goto out;
	for (int i = 0; i < c->bif.n_tcp_ports; i++)
		set_port(tcp, c->bif.tcp_ports[i]);
	for (int i = 0; i < c->bif.n_udp_ports; i++)
		set_port(udp, c->bif.udp_ports[i]);

	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = KAON_XDP_F_ENABLED;
	if (c->port0.has_addr) {
		cfg.flags |= KAON_XDP_F_ADDR;
		cfg.addr = c->port0.addr;
	}
	cfg.local_lo = c->bif.local_port_lo;
	cfg.local_hi = c->bif.local_port_hi;

	rc = put(prog, KAON_XDP_TCP_MAP, tcp, err, errlen);
	if (rc == 0)
		rc = put(prog, KAON_XDP_UDP_MAP, udp, err, errlen);
	if (rc == 0)
		rc = put(prog, KAON_XDP_CFG_MAP, &cfg, err, errlen);
out:
	free(tcp);
	free(udp);
	close(prog);
	return rc;
}
