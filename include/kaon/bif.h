/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/bif.h
 * Flow bifurcation: kaon's user-space stack and the Linux kernel share one
 * NIC and one IPv4 address. kaon takes only the flows it owns (the
 * [bifurcation] ports and its own source-port range); ARP, ICMP, ssh and
 * every other flow stay with the kernel. See docs/bifurcation.md.
 *
 * - xdp mode: DPDK's af_xdp PMD loads kaon's XDP program (bpf/kaon_xdp.o,
 *   given as xdp_prog=); kaon_bif_xdp_fill() then fills its maps.
 *   kaon_bif_xdp_detach() gives the interface back (on exit, and before a
 *   start after a hard kill left the program attached).
 * - rte_flow mode: kaon_bif_flow_rules() builds the rule list as plain data;
 *   kaon_bif_flow_isolate() and kaon_bif_flow_apply() (DPDK builds only) put
 *   it on a port.
 * - Neighbours: the kernel keeps doing ARP for the shared address; kaon
 *   follows the kernel's neighbour table -- on the data path through a copy
 *   its notifications keep current (kaon_bif_neigh_cache_*), elsewhere with
 *   kaon_bif_neigh_lookup() -- and asks the kernel to resolve what is
 *   missing (kaon_bif_neigh_resolve()).
 * - Ports: kaon_bif_local_ports_claim() keeps the kernel's ephemeral ports
 *   out of kaon's local range; kaon_bif_kernel_conflicts() names kernel
 *   sockets that kaon's ports would starve.
 *
 * Every function returns 0 or a count on success and a negative errno on
 * failure; none keeps state between calls but the neighbour cache
 * (kaon_bif_neigh_cache_*), which the engine keeps for its data path.
 */
#ifndef KAON_BIF_H
#define KAON_BIF_H

#include <stddef.h>
#include <stdint.h>

#include "kaon/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- xdp mode ------------------------------------------------------- */

/**
 * Find kaon's XDP program attached to @p ifname (in the calling thread's
 * network namespace; directly, or under libxdp's dispatcher) and fill its
 * maps from @p c: the owned TCP and UDP
 * ports, the local port range, and the address when c->port0.has_addr
 * (then only frames for that address are kaon's). The program starts
 * redirecting when this returns 0; until then it passes everything to the
 * kernel. Calling it again replaces the previous contents.
 *
 * @return 0 on success;
 *   -ENODEV: no interface @p ifname;
 *   -ENOENT: no XDP program attached, or it lacks one of kaon's maps
 *            (@p err names what is missing);
 *   -EPERM:  not allowed to read the program or its maps (needs
 *            CAP_SYS_ADMIN or CAP_BPF + CAP_NET_ADMIN);
 *   -EINVAL: @p c has a local port range with lo > hi;
 *   other negative errno from the bpf() system call.
 */
int kaon_bif_xdp_fill(const char *ifname, const kaon_config *c, char *err, size_t errlen);

/**
 * Detach kaon's XDP program from @p ifname, in whichever mode (native,
 * generic, offloaded) it was attached. For a clean hand-back on exit, and
 * to remove a stale program a killed process left behind (the af_xdp PMD
 * refuses to attach over an existing program). Only kaon's program, or the
 * af_xdp PMD's default one (xsk_def_prog), is removed.
 *
 * @return 1: a program was detached; 0: none was attached;
 *   -EBUSY: the program attached is someone else's (left in place);
 *   -ENODEV: no interface @p ifname; -EPERM: not allowed; other negative
 *   errno from netlink.
 */
int kaon_bif_xdp_detach(const char *ifname);

/**
 * The interface an af_xdp vdev string names ("net_af_xdp0,iface=eth1,..."
 * gives "eth1"), so the caller knows where to fill and detach.
 * @return 0; -ENOENT: @p devargs is not an af_xdp vdev or has no iface=;
 *   -ENAMETOOLONG: the name does not fit @p out (IFNAMSIZ is enough).
 */
int kaon_bif_devargs_iface(const char *devargs, char *out, size_t outlen);

/**
 * Whether an af_xdp vdev string already names an XDP program (xdp_prog=).
 * @return 1 if it does, 0 if not (kaon must add xdp_prog=PATH in xdp mode).
 */
int kaon_bif_devargs_has_prog(const char *devargs);

/**
 * The unsigned value of @p key in a vdev string ("...,start_queue=2" gives
 * 2 for "start_queue"), or @p dflt when it is absent or not a number.
 */
unsigned kaon_bif_devargs_uint(const char *devargs, const char *key, unsigned dflt);

/**
 * One af_xdp vdev per queue, for [dpdk] cores = N with bifurcation: DPDK
 * 22.11's af_xdp PMD takes queue_count=N only where the interface reports N
 * "combined" channels (ETHTOOL_GCHANNELS max_combined; a veth reports
 * separate rx and tx ones and gets 1), but it takes start_queue=i with
 * queue_count=1 on any queue. Vdev @p i of the set: "net_af_xdp<i>", the
 * keys of @p devargs but its start_queue and queue_count, then
 * start_queue=<its start_queue + i>,queue_count=1.
 * @return 0; -ENOENT: not an af_xdp vdev; -ENAMETOOLONG: @p out too small.
 */
int kaon_bif_devargs_per_queue(const char *devargs, unsigned i, char *out, size_t outlen);

/**
 * The AF_XDP socket fds this process holds, in increasing order, at most
 * @p max of them. The af_xdp PMD keeps its sockets to itself; a caller that
 * compares the list before and after a queue's set-up learns that queue's.
 * @return how many; negative errno (/proc/self/fd unreadable).
 */
int kaon_bif_xsk_fds(int *fds, int max);

/**
 * Put AF_XDP socket @p fd into the xsks_map of kaon's program attached to
 * @p ifname, under receive queue @p queue: frames of kaon's that arrive on
 * that queue go to that socket from then on.
 * @return 0; -ENOENT (no kaon program: @p err says); other negative errno.
 */
int kaon_bif_xdp_put_xsk(const char *ifname, unsigned queue, int fd, char *err, size_t errlen);

/** Counters of kaon's XDP program, summed over CPUs. */
struct kaon_bif_xdp_stats {
	uint64_t seen;      /**< frames the program ran on */
	uint64_t owned;     /**< kaon's: redirected (or passed if no socket) */
	uint64_t not_ip4;   /**< ARP, IPv6, ...: kernel */
	uint64_t bad_hdr;   /**< truncated or malformed: kernel */
	uint64_t fragment;  /**< IPv4 fragments of no datagram of kaon's: kernel */
	uint64_t other;     /**< other ports, protocols or addresses: kernel */
	uint64_t owned_frag; /**< of owned: fragments of kaon's datagrams */
	uint64_t owned_icmp; /**< of owned: ICMP errors quoting kaon's flows */
};

/**
 * Read the counters of the kaon program attached to @p ifname.
 * @return 0; -ENODEV; -ENOENT (no kaon program); other negative errno.
 */
int kaon_bif_xdp_stats(const char *ifname, struct kaon_bif_xdp_stats *s);

/* ---- kernel neighbour table ----------------------------------------- */

/**
 * Look @p ip (network byte order) up in the kernel's neighbour table of
 * @p ifname over rtnetlink (RTM_GETNEIGH). Entries in state REACHABLE,
 * STALE, DELAY, PROBE, PERMANENT or NOARP count; the kernel keeps them
 * fresh because it keeps doing ARP on the shared interface.
 *
 * @return 0 and the address in @p mac;
 *   -ENOENT: no usable entry (none, INCOMPLETE or FAILED): call
 *            kaon_bif_neigh_resolve() and look again later;
 *   -ENODEV: no interface @p ifname; other negative errno from netlink.
 */
int kaon_bif_neigh_lookup(const char *ifname, uint32_t ip, uint8_t mac[6]);

/**
 * Ask the kernel to resolve @p ip (network byte order) on @p ifname now:
 * RTM_NEWNEIGH with NTF_USE, which creates the entry if needed and starts
 * (or refreshes) resolution exactly as if the kernel had a packet for that
 * neighbour -- an ARP request, and no data packet on the wire. Returns at
 * once; the answer lands in the kernel's table.
 *
 * @return 0; -ENODEV; -EPERM (needs CAP_NET_ADMIN); -EINVAL (@p ip is
 *   0, multicast or broadcast); other negative errno from netlink.
 */
int kaon_bif_neigh_resolve(const char *ifname, uint32_t ip);

/* ---- neighbour cache for the data path ------------------------------ */

/**
 * A copy of the kernel's IPv4 neighbour table of one interface, kept current
 * by the kernel's notifications (RTNLGRP_NEIGH) on a non-blocking netlink
 * socket after one initial dump: a lookup is a hash lookup plus a recv()
 * that does not wait. Single-threaded: one owner (the engine's vcpu).
 */
struct kaon_bif_neigh_cache;

/** What a neighbour cache did, for tests and diagnostics. */
struct kaon_bif_neigh_stats {
	uint64_t dumps;     /**< RTM_GETNEIGH dumps asked (1 + one per overrun) */
	uint64_t events;    /**< notifications read (not part of a dump) */
	uint64_t overruns;  /**< socket buffer overflows (ENOBUFS: dumped again) */
	uint64_t hits, misses;
	uint64_t requests;  /**< resolutions asked of the kernel (NTF_USE) */
	uint64_t limited;   /**< resolutions not asked: rate limits */
	uint64_t purges;    /**< table full: unresolved entries dropped */
	uint64_t entries;   /**< addresses held now (resolved or not) */
};

/**
 * Subscribe to @p ifname's neighbour events and ask for the initial dump
 * (read by the first poll or lookup).
 * @return 0 and *out; -ENODEV; -ENOMEM; other negative errno from netlink.
 */
int kaon_bif_neigh_cache_open(struct kaon_bif_neigh_cache **out, const char *ifname);

/**
 * Read every queued dump answer and notification without blocking. Call it
 * now and then (the engine: about every millisecond) so that the socket
 * buffer does not overflow between lookups; after an overflow, the table is
 * dumped again. @return the number of datagrams read.
 */
int kaon_bif_neigh_cache_poll(struct kaon_bif_neigh_cache *c);

/**
 * Look @p ip (network byte order) up, after reading what is queued.
 * On a miss (no entry, INCOMPLETE, FAILED) ask the kernel to resolve it
 * (NTF_USE, at most once a second per address and 1000 times a second in
 * all) without waiting; the answer arrives as a notification. A hit on a
 * STALE entry asks too, so the kernel re-confirms it.
 * @return 0 and the address in @p mac; -ENOENT: not (yet) resolved.
 */
int kaon_bif_neigh_cache_lookup(struct kaon_bif_neigh_cache *c, uint32_t ip, uint8_t mac[6]);

/** Counters of @p c. */
void kaon_bif_neigh_cache_stats(const struct kaon_bif_neigh_cache *c,
				struct kaon_bif_neigh_stats *s);

/** Close the socket and free @p c (NULL is fine). */
void kaon_bif_neigh_cache_close(struct kaon_bif_neigh_cache *c);

/* ---- local port range ----------------------------------------------- */

/**
 * Make sure the kernel of the calling thread's network namespace never
 * picks a source port in [lo, hi] for its own connections, so that replies
 * to kaon's outgoing connections are kaon's alone. Nothing to do when the
 * range lies outside net.ipv4.ip_local_port_range or is already in
 * net.ipv4.ip_local_reserved_ports; otherwise, with @p reserve non-zero,
 * the range is added to ip_local_reserved_ports.
 *
 * @return 0: disjoint from the kernel's ephemeral ports (or made so);
 *   -EADDRINUSE: the ranges overlap and @p reserve is 0 (@p err says
 *                which sysctl to set);
 *   -EINVAL: lo > hi or lo == 0;
 *   -EACCES/-EPERM: the sysctl cannot be written; other negative errno.
 */
int kaon_bif_local_ports_claim(uint16_t lo, uint16_t hi, int reserve, char *err,
			       size_t errlen);

/**
 * Look for kernel sockets that bifurcation would starve: a TCP socket
 * (listening or connected; TIME_WAIT aside) or a bound UDP socket, on a port
 * kaon owns (c->bif tcp_ports / udp_ports) or in its local range, bound to c->port0.addr or to the wildcard address
 * (IPv4, or IPv6 dual-stack). Their traffic would go to kaon, never to
 * them. Read from /proc/net/{tcp,tcp6,udp,udp6} of the calling thread's
 * network namespace.
 *
 * @return 0: none; -EADDRINUSE: one at least (@p err names the first);
 *   other negative errno (cannot read /proc/net).
 */
int kaon_bif_kernel_conflicts(const kaon_config *c, char *err, size_t errlen);

/* ---- rte_flow mode -------------------------------------------------- */

enum kaon_bif_flow_kind {
	KAON_BIF_FLOW_TCP = 1,  /**< eth / ipv4 [dst] / tcp dst (masked) */
	KAON_BIF_FLOW_UDP,      /**< eth / ipv4 [dst] / udp dst (masked) */
	KAON_BIF_FLOW_ARP,      /**< eth type 0x0806 */
};

/**
 * One flow rule as plain data; a DPDK build turns it into rte_flow items
 * and a QUEUE action, or an RSS action over nqueues queues
 * (kaon_bif_flow_apply()). Ports and the mask are in host byte order; a
 * port range becomes several rules with power-of-two masks.
 */
struct kaon_bif_flow_rule {
	enum kaon_bif_flow_kind kind;
	uint32_t dst_addr;        /**< network byte order; 0: any */
	uint16_t dst_port;        /**< TCP/UDP only */
	uint16_t dst_port_mask;   /**< 0xffff: that one port */
	uint16_t queue;           /**< rx queue the flow goes to */
	uint16_t nqueues;         /**< > 1: spread over queue .. queue + nqueues - 1 by the
				       symmetric Toeplitz hash of TCP/IPv4 (an RSS action) */
};

#define KAON_BIF_FLOW_ARP_TO_KAON 0x1u /**< add the ARP rule (see below) */
#define KAON_BIF_FLOW_NO_ADDR     0x2u /**< do not match the destination address */

/** Rules kaon_bif_flow_rules() can produce at most for one config. */
#define KAON_BIF_FLOW_MAX_RULES (2 * KAON_CONF_MAX_PORTS + 2 * 32 + 1)

/**
 * Build the isolated-mode rule list for @p c: one rule per owned TCP and
 * UDP port, the local port range as masked TCP and UDP rules, all to queue
 * @p queue and matching c->port0.addr when it is set (unless
 * KAON_BIF_FLOW_NO_ADDR). ARP stays with the kernel, which shares the
 * address and does ARP for both; KAON_BIF_FLOW_ARP_TO_KAON adds a rule
 * sending ARP to kaon instead, for ports where kaon owns the address alone
 * (a VF with an address the kernel does not have).
 *
 * @return the number of rules written to @p out;
 *   -ENOSPC: more than @p max rules are needed;
 *   -EINVAL: the local port range has lo > hi, or @p c is in mode off.
 */
int kaon_bif_flow_rules(const kaon_config *c, unsigned flags, uint16_t queue,
			struct kaon_bif_flow_rule *out, int max);

/**
 * Split [lo, hi] into the fewest (value, mask) pairs that match exactly the
 * ports of the range (like CIDR blocks).
 * @return the number of pairs (at most 30 for any 16-bit range);
 *   -ENOSPC: @p max is too small; -EINVAL: lo > hi.
 */
int kaon_bif_port_range_masks(uint16_t lo, uint16_t hi, uint16_t *value, uint16_t *mask,
			      int max);

/**
 * Put DPDK port @p port_id in isolated mode: only traffic matching flow
 * rules reaches it, the rest stays with the kernel (bifurcated drivers such
 * as mlx5). Call before rte_eth_dev_configure(). DPDK builds only.
 * @return 0; -ENOTSUP: the PMD has no isolated mode (@p err quotes DPDK);
 *   other negative errno from rte_flow_isolate().
 */
int kaon_bif_flow_isolate(uint16_t port_id, char *err, size_t errlen);

/**
 * Validate and create the @p n rules on started port @p port_id. On failure
 * the rules already created are destroyed again. DPDK builds only.
 * @return the number created (@p n);
 *   -ENOTSUP: the PMD has no rte_flow support, or not for this rule;
 *   -EINVAL: @p n is out of range;
 *   other negative errno: the PMD refused a rule its own way (net_tap
 *            without the kernel's flower classifier: -EEXIST).
 *   On any refusal @p err names the rule and quotes the PMD's message.
 */
int kaon_bif_flow_apply(uint16_t port_id, const struct kaon_bif_flow_rule *r, int n,
			char *err, size_t errlen);

/** Destroy every flow rule on @p port_id. @return 0 or negative errno. */
int kaon_bif_flow_flush(uint16_t port_id);

#ifdef __cplusplus
}
#endif
#endif
