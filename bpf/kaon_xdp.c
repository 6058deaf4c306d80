/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * kaon's XDP program for flow bifurcation (docs/bifurcation.md).
 *
 * The af_xdp PMD loads this object (xdp_prog=FILE) and puts its AF_XDP
 * socket(s) into xsks_map, keyed by rx queue. kaon then fills the other maps
 * from its config (src/bif/xdp_fill.c). A frame goes to kaon exactly when it
 * is an unfragmented IPv4 TCP or UDP packet whose destination port is one
 * kaon serves (kaon_tcp_ports / kaon_udp_ports) or lies in kaon's own
 * source-port range (replies to its outgoing connections), and, when the
 * config says so, whose destination address is kaon's. Everything else --
 * ARP, ICMP, IPv6, VLAN-tagged frames, fragments, other ports, anything
 * malformed -- is XDP_PASS: the kernel's as if kaon were not there. With no
 * socket on the queue, bpf_redirect_map falls back to XDP_PASS as well.
 *
 * Build: clang -O2 -g -target bpf (bpf/CMakeLists.txt).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kaon_xdp_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, KAON_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kaon_xdp_cfg);
} kaon_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kaon_xdp_ports);
} kaon_tcp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kaon_xdp_ports);
} kaon_udp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KAON_XDP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} kaon_stats SEC(".maps");

/* IPv4 frag_off bits (host order). */
#define IP4_MF     0x2000
#define IP4_OFFSET 0x1fff

static __always_inline int count(__u32 stat, int action)
{
	__u64 *n = bpf_map_lookup_elem(&kaon_stats, &stat);

	if (n)
		*n += 1;
	return action;
}

static __always_inline int port_owned(void *map, __u16 port)
{
	__u32 zero = 0;
	struct kaon_xdp_ports *p = bpf_map_lookup_elem(map, &zero);

	if (!p)
		return 0;
	return (p->bits[port >> 3] >> (port & 7)) & 1;
}

SEC("xdp")
int kaon_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct kaon_xdp_cfg *cfg;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 zero = 0, hlen, tot;
	__u8 *l4;
	__u16 dport;
	void *ports;

	count(KAON_XDP_STAT_SEEN, 0);
	cfg = bpf_map_lookup_elem(&kaon_cfg, &zero);
	if (!cfg || !(cfg->flags & KAON_XDP_F_ENABLED))
		return XDP_PASS;

	if ((void *)(eth + 1) > end)
		return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count(KAON_XDP_STAT_NOT_IP4, XDP_PASS);

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
	if (ip->version != 4 || ip->ihl < 5)
		return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
	/* Options make the header longer than 20 bytes: 20..60, masked so
	 * the verifier sees the bound too. */
	hlen = ((__u32)ip->ihl & 0xf) * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen + 4)
		return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
	/* A fragment carries no (or not all of the) L4 header; the kernel
	 * reassembles. */
	if (ip->frag_off & bpf_htons(IP4_MF | IP4_OFFSET))
		return count(KAON_XDP_STAT_FRAGMENT, XDP_PASS);
	if ((cfg->flags & KAON_XDP_F_ADDR) && ip->daddr != cfg->addr)
		return count(KAON_XDP_STAT_OTHER, XDP_PASS);
	if (ip->protocol == IPPROTO_TCP)
		ports = &kaon_tcp_ports;
	else if (ip->protocol == IPPROTO_UDP)
		ports = &kaon_udp_ports;
	else
		return count(KAON_XDP_STAT_OTHER, XDP_PASS);

	/* Source and destination ports: the first 4 bytes of TCP and UDP. */
	l4 = (__u8 *)ip + hlen;
	if ((void *)(l4 + 4) > end)
		return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
	dport = (__u16)((__u16)l4[2] << 8 | l4[3]);

	if (!port_owned(ports, dport) && (dport < cfg->local_lo || dport > cfg->local_hi))
		return count(KAON_XDP_STAT_OTHER, XDP_PASS);

	count(KAON_XDP_STAT_OWNED, 0);
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
