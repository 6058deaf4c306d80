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
 * config says so, whose destination address is kaon's. Two more kinds of
 * frame belong to kaon's flows and go to kaon too:
 *
 * - fragments: a first fragment (it has the ports) by port, like any
 *   packet, and it leaves its datagram's (src, dst, protocol, IP ID) in
 *   kaon_frags; later fragments go wherever that entry says. A later
 *   fragment that arrives before its first one finds no entry and goes to
 *   the kernel (reordered datagrams of kaon's are then lost, and TCP
 *   retransmits): the kernel's own fragmented traffic must never be taken.
 * - ICMP errors (destination unreachable, fragmentation needed included;
 *   time exceeded; parameter problem) whose quoted IPv4 header was sent from
 *   kaon's address and whose quoted TCP or UDP source port is kaon's.
 *
 * Everything else -- ARP, ICMP echo and the other ICMP messages, IPv6,
 * VLAN-tagged frames, other fragments, other ports, anything malformed -- is
 * XDP_PASS: the kernel's as if kaon were not there. With no socket on the
 * queue, bpf_redirect_map falls back to XDP_PASS as well.
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KAON_XDP_FRAGS_MAX);
	__type(key, struct kaon_xdp_frag_key);
	__type(value, struct kaon_xdp_frag_val);
} kaon_frags SEC(".maps");

/* ICMP error types (RFC 792); <linux/icmp.h> pulls in libc headers the BPF
 * target cannot read. */
#define ICMP_DEST_UNREACH   3
#define ICMP_TIME_EXCEEDED  11
#define ICMP_PARAMETERPROB  12

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

/* Is @port, on kaon's side of a @proto flow, one of kaon's: a port it
 * serves or one of its own source ports? The local range is the one the
 * stack picks its ephemeral ports from, for TCP and UDP alike. */
static __always_inline int kaons_port(const struct kaon_xdp_cfg *cfg, __u8 proto, __u16 port)
{
	void *ports;

	if (proto == IPPROTO_TCP)
		ports = &kaon_tcp_ports;
	else if (proto == IPPROTO_UDP)
		ports = &kaon_udp_ports;
	else
		return 0;
	return port_owned(ports, port) || (port >= cfg->local_lo && port <= cfg->local_hi);
}

static __always_inline void frag_key(struct kaon_xdp_frag_key *k, const struct iphdr *ip)
{
	k->saddr = ip->saddr;
	k->daddr = ip->daddr;
	k->id = ip->id;
	k->proto = ip->protocol;
	k->pad = 0;
}

/* A first fragment of kaon's went to kaon: its followers will too. */
static __always_inline void frag_remember(const struct iphdr *ip)
{
	struct kaon_xdp_frag_key k;
	struct kaon_xdp_frag_val v = { .expires = bpf_ktime_get_ns() + KAON_XDP_FRAG_TTL_NS };

	frag_key(&k, ip);
	bpf_map_update_elem(&kaon_frags, &k, &v, BPF_ANY);
}

/* A later fragment: kaon's when its first fragment was, not long ago. */
static __always_inline int frag_follows(const struct iphdr *ip)
{
	struct kaon_xdp_frag_key k;
	struct kaon_xdp_frag_val *v;

	frag_key(&k, ip);
	v = bpf_map_lookup_elem(&kaon_frags, &k);
	return v && v->expires > bpf_ktime_get_ns();
}

/*
 * An ICMP error about one of kaon's flows? RFC 792/1122: the error quotes
 * the offending datagram's IP header and at least its first 8 bytes, which
 * hold the TCP or UDP ports. That datagram was sent by us: its source is
 * kaon's address and its source port kaon's.
 * @return 1: kaon's; 0: the kernel's; -1: truncated or malformed.
 */
static __always_inline int icmp_for_kaon(const struct kaon_xdp_cfg *cfg, __u8 *icmp,
					 __u32 room, void *end)
{
	struct iphdr *in;
	__u32 ihl;
	__u8 *l4;
	__u16 sport;

	if ((void *)(icmp + 8) > end)
		return -1;
	if (icmp[0] != ICMP_DEST_UNREACH && icmp[0] != ICMP_TIME_EXCEEDED &&
	    icmp[0] != ICMP_PARAMETERPROB)
		return 0; /* echo, timestamps, redirects, ...: the kernel's */
	in = (void *)(icmp + 8);
	if ((void *)(in + 1) > end)
		return -1;
	if (in->version != 4 || in->ihl < 5)
		return -1;
	/* Only a first fragment's quote holds the ports. */
	if (in->frag_off & bpf_htons(IP4_OFFSET))
		return 0;
	if ((cfg->flags & KAON_XDP_F_ADDR) && in->saddr != cfg->addr)
		return 0;
	ihl = ((__u32)in->ihl & 0xf) * 4;
	if (room < 8 + ihl + 4)
		return -1;
	l4 = (__u8 *)in + ihl;
	if ((void *)(l4 + 4) > end)
		return -1;
	sport = (__u16)((__u16)l4[0] << 8 | l4[1]);
	return kaons_port(cfg, in->protocol, sport);
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
	int frag, r;

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
	if ((cfg->flags & KAON_XDP_F_ADDR) && ip->daddr != cfg->addr)
		return count(KAON_XDP_STAT_OTHER, XDP_PASS);

	frag = (ip->frag_off & bpf_htons(IP4_MF | IP4_OFFSET)) != 0;
	if (ip->frag_off & bpf_htons(IP4_OFFSET)) {
		/* A later fragment: no ports, only its datagram's identity. */
		if (!frag_follows(ip))
			return count(KAON_XDP_STAT_FRAGMENT, XDP_PASS);
		count(KAON_XDP_STAT_OWNED_FRAG, 0);
		goto kaon;
	}

	l4 = (__u8 *)ip + hlen;
	if (ip->protocol == IPPROTO_ICMP && !frag) {
		r = icmp_for_kaon(cfg, l4, tot - hlen, end);
		if (r < 0)
			return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
		if (!r)
			return count(KAON_XDP_STAT_OTHER, XDP_PASS);
		count(KAON_XDP_STAT_OWNED_ICMP, 0);
		goto kaon;
	}
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return count(frag ? KAON_XDP_STAT_FRAGMENT : KAON_XDP_STAT_OTHER, XDP_PASS);

	/* Source and destination ports: the first 4 bytes of TCP and UDP (a
	 * first fragment carries at least 8 bytes of them). */
	if ((void *)(l4 + 4) > end)
		return count(KAON_XDP_STAT_BAD_HDR, XDP_PASS);
	dport = (__u16)((__u16)l4[2] << 8 | l4[3]);
	if (!kaons_port(cfg, ip->protocol, dport))
		return count(frag ? KAON_XDP_STAT_FRAGMENT : KAON_XDP_STAT_OTHER, XDP_PASS);
	if (frag) {
		frag_remember(ip);
		count(KAON_XDP_STAT_OWNED_FRAG, 0);
	}
kaon:
	count(KAON_XDP_STAT_OWNED, 0);
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
