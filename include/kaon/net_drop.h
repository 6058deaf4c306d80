/* kaon — every reason net/ drops a packet, and the per-stack counters.
 *
 * One X-macro list makes the enum (KN_DROP_*), the counters in
 * struct kn_stats and the names kn_drop_name() returns.
 */
#ifndef KAON_NET_DROP_H
#define KAON_NET_DROP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KN_DROP_REASONS(X) \
	X(NONE,               "not dropped") \
	X(ETH_TRUNCATED,      "frame shorter than an Ethernet header") \
	X(ETH_NOT_FOR_US,     "destination MAC neither ours nor broadcast") \
	X(ETH_UNKNOWN_TYPE,   "EtherType not handled") \
	X(ARP_TRUNCATED,      "ARP packet too short") \
	X(ARP_UNSUPPORTED,    "ARP for other hardware/protocol types") \
	X(ARP_NOT_FOR_US,     "ARP target is not our address") \
	X(ARP_BAD_SENDER,     "ARP sender is broadcast/multicast/zero/ours") \
	X(ARP_QUEUE_FULL,     "packet queue waiting on ARP full") \
	X(ARP_UNRESOLVED,     "next hop never answered ARP") \
	X(ARP_TABLE_FULL,     "ARP table full") \
	X(ARP_EVICTED,        "packet waiting on an ARP entry evicted for a new one") \
	X(ARP_UNSOLICITED,    "ARP reply from a host we did not ask (nothing learnt)") \
	X(IP_TRUNCATED,       "IPv4 header longer than the frame") \
	X(IP_BAD_VERSION,     "IP version is not 4") \
	X(IP_BAD_IHL,         "IPv4 header length below 20") \
	X(IP_BAD_LENGTH,      "IPv4 total length lies about the frame") \
	X(IP_BAD_CSUM,        "IPv4 header checksum wrong") \
	X(IP_BAD_SRC,         "IPv4 source is broadcast (limited or our subnet's)/multicast") \
	X(IP_SRC_LAND,        "IPv4 source is our own address (LAND)") \
	X(IP_SRC_THIS_NET,    "IPv4 source in 0.0.0.0/8") \
	X(IP_SRC_LOOPBACK,    "IPv4 source in 127.0.0.0/8") \
	X(IP_SRC_RESERVED,    "IPv4 source in 240.0.0.0/4") \
	X(IP_NOT_FOR_US,      "IPv4 destination not ours (we are not a router)") \
	X(IP_TTL_ZERO,        "IPv4 TTL is zero") \
	X(IP_UNKNOWN_PROTO,   "IPv4 protocol not handled") \
	X(IP_NO_ROUTE,        "no route to destination") \
	X(IP_TOO_BIG,         "datagram above the MTU that may not be fragmented") \
	X(FRAG_BAD,           "malformed fragment") \
	X(FRAG_OVERLAP,       "overlapping fragments") \
	X(FRAG_NO_MEMORY,     "reassembly memory cap reached") \
	X(FRAG_TIMEOUT,       "reassembly timed out") \
	X(FRAG_TOO_BIG,       "reassembled datagram over 65535 bytes") \
	X(FRAG_TOO_MANY,      "more fragments than one datagram may have") \
	X(FRAG_EVICTED,       "oldest incomplete datagram evicted for a new one") \
	X(FRAG_SRC_LIMIT,     "source over its share of reassembly: its oldest evicted") \
	X(ICMP_TRUNCATED,     "ICMP message too short") \
	X(ICMP_BAD_CSUM,      "ICMP checksum wrong") \
	X(ICMP_UNHANDLED,     "ICMP type not handled") \
	X(ICMP_RATELIMIT,     "ICMP error rate-limited") \
	X(UDP_TRUNCATED,      "UDP header or length past the datagram") \
	X(UDP_BAD_CSUM,       "UDP checksum wrong") \
	X(UDP_NO_PORT,        "no UDP socket on the port") \
	X(UDP_RCVBUF_FULL,    "UDP receive queue full") \
	X(TCP_TRUNCATED,      "TCP header longer than the segment") \
	X(TCP_BAD_OFF,        "TCP data offset below 5 or past the segment") \
	X(TCP_BAD_CSUM,       "TCP checksum wrong") \
	X(TCP_BAD_OPTION,     "TCP option length 0/1 or past the header") \
	X(TCP_NO_SOCKET,      "no TCP socket for the segment") \
	X(TCP_BAD_FLAGS,      "TCP flags make no sense for the state") \
	X(TCP_LISTEN_OVERFLOW,"SYN or accept queue full") \
	X(TCP_OLD_ACK,        "ACK not acceptable in the state") \
	X(TCP_OUT_OF_WINDOW,  "segment outside the receive window") \
	X(TCP_PAWS,           "timestamp older than ts_recent (PAWS)") \
	X(TCP_RST_INVALID,    "RST outside the window") \
	X(TCP_RST_CHALLENGE,  "RST in window but not at RCV.NXT (challenge ACK)") \
	X(TCP_SYN_CHALLENGE,  "SYN in a synchronized state (challenge ACK)") \
	X(TCP_ACK_FUTURE,     "ACK for data never sent") \
	X(TCP_OOO_FULL,       "out-of-order queue full") \
	X(TCP_RCVBUF_FULL,    "receive buffer full") \
	X(TCP_CLOSED_SOCKET,  "data for a socket closed for reading") \
	X(TCP_SYNCOOKIE_BAD,  "ACK to a listener with a bad or expired SYN cookie") \
	X(TCP_RCV_NO_MEMORY,  "receive memory budget and its overdraft spent: in-order data dropped unacknowledged") \
	X(TCP_RCV_OVER_SHARE, "receive memory budget spent: in-order data for a connection holding over its share dropped unacknowledged") \
	X(TCP_RCV_OOO_NO_MEMORY, "receive memory budget spent: out-of-order data dropped unacknowledged") \
	X(TCP_RCV_POOL_LOW,   "mbuf pool down to what the device needs to receive: data dropped unacknowledged") \
	X(TCP_NO_TIMESTAMP,   "segment without the timestamp option on a connection that agreed to them (RFC 7323 §3.2)") \
	X(UDP_NO_MEMORY,      "receive memory budget spent: datagram dropped") \
	X(NO_MBUF,            "mbuf pool empty") \
	X(TX_FULL,            "device took fewer frames than offered") \
	X(TX_TOO_BIG,         "frame above the MTU, never sendable")

enum kn_drop_reason {
#define KN_DROP_ENUM(n, s) KN_DROP_##n,
	KN_DROP_REASONS(KN_DROP_ENUM)
#undef KN_DROP_ENUM
	KN_DROP_MAX
};

/* Counters in the spirit of `netstat -s`. The mem_* entries are gauges of
 * the buffer budget, in mbufs: the limits, what queues hold now, and the
 * most they ever held (see kn_stack_conf.rcv_mem_mbufs). */
#define KN_STATS(X) \
	X(eth_rx) X(eth_tx) X(arp_rx) X(arp_tx) X(arp_requests) X(arp_replies) \
	X(ip_rx) X(ip_tx) X(ip_frag_rx) X(ip_reassembled) X(ip_fragmented) X(ip_frag_tx) \
	X(ip_frag_evictions) X(arp_evictions) X(arp_requests_ratelimited) \
	X(icmp_rx) X(icmp_tx) X(icmp_echo_replies) X(icmp_unreach_tx) X(icmp_pmtu) \
	X(udp_rx) X(udp_tx) \
	X(tcp_rx) X(tcp_tx) X(tcp_active_opens) X(tcp_passive_opens) \
	X(tcp_established) X(tcp_resets_rx) X(tcp_resets_tx) X(tcp_conn_drops) \
	X(tcp_rexmt) X(tcp_rexmt_timeouts) X(tcp_fast_rexmt) X(tcp_recoveries) \
	X(tcp_delacks) X(tcp_acks_tx) X(tcp_dupacks) X(tcp_ooo_queued) \
	X(tcp_persist_probes) X(tcp_keepalive_probes) X(tcp_challenge_acks) \
	X(tcp_bytes_tx) X(tcp_bytes_rx) X(tcp_timewait_closed) \
	X(tcp_timer_visits) X(tcp_persist_drops) X(tcp_output_nomem) \
	X(tcp_pmtu_lowered) X(tcp_pmtu_expired) \
	X(tcp_syncookies_sent) X(tcp_syncookies_ok) X(tcp_syncookies_failed) \
	X(tcp_synq_evicted) X(tcp_challenge_acks_skipped) X(tcp_oow_acks_skipped) \
	X(tcp_rcv_collapsed) X(tcp_ooo_collapsed) X(tcp_ooo_pruned) X(tcp_snd_mem_waits) \
	X(tcp_rcv_admitted) \
	X(tcp_idle_restarts) X(tcp_timewait_reused) \
	X(tcp_sack_recoveries) X(tcp_sack_blocks_rx) X(tcp_sack_blocks_tx) X(tcp_sack_bad_blocks) \
	X(tcp_dsack_rx) X(tcp_dsack_tx) X(tcp_sack_rescues) \
	X(tcp_dsack_undos) X(tcp_hystart_css) X(tcp_hystart_exits) \
	X(tcp_rto_in_recovery) X(tcp_rto_repeat) X(tcp_rto_sb_kept) X(tcp_sack_reneged) \
	X(tcp_reo_waits) X(tcp_reo_avoided) X(tcp_dsack_repeats) X(tcp_dsack_rescues) \
	X(tcp_rexmt_lost) \
	X(mem_rcv_limit) X(mem_rcv_used) X(mem_rcv_hiwat) \
	X(mem_snd_limit) X(mem_snd_used) X(mem_snd_hiwat)

/* How many states enum kn_tcp_state (kaon/net.h) has. */
#define KN_TCP_NSTATES 11

struct kn_stats {
#define KN_STATS_FIELD(n) uint64_t n;
	KN_STATS(KN_STATS_FIELD)
#undef KN_STATS_FIELD
	uint64_t drops[KN_DROP_MAX]; /**< indexed by enum kn_drop_reason */
	/** Gauges: the TCBs in each state now, indexed by enum kn_tcp_state
	 *  (CLOSED: those the application still holds); they add up to
	 *  kn_stack_tcb_count(). */
	uint64_t tcp_states[KN_TCP_NSTATES];
};

#ifdef __cplusplus
}
#endif
#endif
