/* SPDX-License-Identifier: MIT */
/*
 * What kaon's XDP program (kaon_xdp.c) and user space (src/bif/) agree on:
 * the names of the maps and the layout of their values. Plain C with fixed
 * width types, so clang -target bpf and the host compiler read it alike.
 *
 * A program that is loaded but not yet filled passes every frame to the
 * kernel: the maps start zeroed and KAON_XDP_F_ENABLED is off.
 */
#ifndef KAON_XDP_ABI_H
#define KAON_XDP_ABI_H

#include <linux/types.h>

/* The af_xdp PMD of DPDK 22.11 looks the XSKMAP up by this name. */
#define KAON_XDP_XSKS_MAP  "xsks_map"
#define KAON_XDP_CFG_MAP   "kaon_cfg"
#define KAON_XDP_TCP_MAP   "kaon_tcp_ports"
#define KAON_XDP_UDP_MAP   "kaon_udp_ports"
#define KAON_XDP_STATS_MAP "kaon_stats"
#define KAON_XDP_FRAGS_MAP "kaon_frags"
/* The program's name as the kernel reports it (at most 15 characters). */
#define KAON_XDP_PROG_NAME "kaon_xdp"

#define KAON_XDP_MAX_QUEUES 64

/*
 * kaon_frags: the IPv4 datagrams whose first fragment went to kaon, so that
 * the fragments after it (which carry no ports) follow it. An LRU hash: the
 * oldest entries give way when it is full. An entry lives as long as Linux
 * keeps an incomplete datagram (net.ipv4.ipfrag_time, 30 s); after that an
 * IP ID may be reused by another flow between the same hosts.
 */
#define KAON_XDP_FRAGS_MAX  4096
#define KAON_XDP_FRAG_TTL_NS (30ull * 1000000000ull)

struct kaon_xdp_frag_key {
	__u32 saddr;     /* network byte order, as in the header */
	__u32 daddr;
	__u16 id;        /* network byte order */
	__u8 proto;
	__u8 pad;        /* zero */
};

struct kaon_xdp_frag_val {
	__u64 expires;   /* bpf_ktime_get_ns() time after which it is stale */
};

/* One bit per port, bit (port & 7) of byte (port >> 3). */
#define KAON_XDP_PORT_BYTES (65536 / 8)
struct kaon_xdp_ports {
	__u8 bits[KAON_XDP_PORT_BYTES];
};

#define KAON_XDP_F_ENABLED 0x1u /* off: every frame goes to the kernel */
#define KAON_XDP_F_ADDR    0x2u /* only frames for addr are kaon's */

/* Single entry (key 0) of kaon_cfg. */
struct kaon_xdp_cfg {
	__u32 flags;
	__u32 addr;      /* network byte order; used with KAON_XDP_F_ADDR */
	__u16 local_lo;  /* kaon's own source ports, host order; lo > hi: none */
	__u16 local_hi;
	__u32 pad;
};

/* Per-CPU counters, kaon_stats[KAON_XDP_STAT_*]. */
enum kaon_xdp_stat {
	KAON_XDP_STAT_SEEN = 0,    /* every frame the program ran on */
	KAON_XDP_STAT_OWNED,       /* kaon's: handed to bpf_redirect_map */
	KAON_XDP_STAT_NOT_IP4,     /* ARP, IPv6, VLAN, ...: kernel */
	KAON_XDP_STAT_BAD_HDR,     /* truncated or malformed: kernel */
	KAON_XDP_STAT_FRAGMENT,    /* IPv4 fragment of no datagram of kaon's: kernel */
	KAON_XDP_STAT_OTHER,       /* not for kaon (port, protocol, address) */
	/* Breakdowns of KAON_XDP_STAT_OWNED (each also counted there): */
	KAON_XDP_STAT_OWNED_FRAG,  /* fragments of kaon's datagrams, first or later */
	KAON_XDP_STAT_OWNED_ICMP,  /* ICMP errors quoting one of kaon's flows */
	KAON_XDP_STAT_MAX
};

#endif
