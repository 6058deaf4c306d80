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
/* The program's name as the kernel reports it (at most 15 characters). */
#define KAON_XDP_PROG_NAME "kaon_xdp"

#define KAON_XDP_MAX_QUEUES 64

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
	KAON_XDP_STAT_FRAGMENT,    /* IPv4 fragment: kernel */
	KAON_XDP_STAT_OTHER,       /* not for kaon (port, protocol, address) */
	KAON_XDP_STAT_MAX
};

#endif
