/* SPDX-License-Identifier: MIT */
/*
 * The rte_flow mode's rules as plain data: one rule per owned port, the
 * local port range split into masked blocks, optionally ARP. Pure code, no
 * DPDK: flow_dpdk.c turns the rules into rte_flow calls.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "kaon/bif.h"

int kaon_bif_port_range_masks(uint16_t lo, uint16_t hi, uint16_t *value, uint16_t *mask,
			      int max)
{
	uint32_t x = lo, end = (uint32_t)hi + 1;
	int n = 0;

	if (lo > hi)
		return -EINVAL;
	while (x < end) {
		/* The largest aligned power-of-two block that starts at x and
		 * stays inside the range. */
		uint32_t size = x ? (x & -x) : 0x10000;

		while (x + size > end)
			size >>= 1;
		if (n == max)
			return -ENOSPC;
		value[n] = (uint16_t)x;
		mask[n] = (uint16_t)~(size - 1);
		n++;
		x += size;
	}
	return n;
}

static int add(struct kaon_bif_flow_rule *out, int max, int *n, enum kaon_bif_flow_kind kind,
	       uint32_t addr, uint16_t port, uint16_t mask, uint16_t queue)
{
	if (*n == max)
		return -ENOSPC;
	out[*n] = (struct kaon_bif_flow_rule){
		.kind = kind, .dst_addr = addr, .dst_port = port, .dst_port_mask = mask, .queue = queue,
	};
	(*n)++;
	return 0;
}

int kaon_bif_flow_rules(const kaon_config *c, unsigned flags, uint16_t queue,
			struct kaon_bif_flow_rule *out, int max)
{
	uint16_t val[32], msk[32];
	uint32_t addr = 0;
	int n = 0, nr, rc = 0;

	if (c->bif.mode == KAON_BIF_OFF)
		return -EINVAL;
	nr = kaon_bif_port_range_masks(c->bif.local_port_lo, c->bif.local_port_hi, val, msk, 32);
	if (nr < 0)
		return nr;
	if (c->port0.has_addr && !(flags & KAON_BIF_FLOW_NO_ADDR))
		addr = c->port0.addr;
	for (int i = 0; i < c->bif.n_tcp_ports && rc == 0; i++)
		rc = add(out, max, &n, KAON_BIF_FLOW_TCP, addr, c->bif.tcp_ports[i], 0xffff, queue);
	for (int i = 0; i < c->bif.n_udp_ports && rc == 0; i++)
		rc = add(out, max, &n, KAON_BIF_FLOW_UDP, addr, c->bif.udp_ports[i], 0xffff, queue);
	for (int i = 0; i < nr && rc == 0; i++)
		rc = add(out, max, &n, KAON_BIF_FLOW_TCP, addr, val[i], msk[i], queue);
	for (int i = 0; i < nr && rc == 0; i++)
		rc = add(out, max, &n, KAON_BIF_FLOW_UDP, addr, val[i], msk[i], queue);
	if (rc == 0 && (flags & KAON_BIF_FLOW_ARP_TO_KAON))
		rc = add(out, max, &n, KAON_BIF_FLOW_ARP, 0, 0, 0, queue);
	return rc < 0 ? rc : n;
}
