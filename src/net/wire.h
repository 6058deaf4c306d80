/* Packed wire headers, byte order in the type. */
#ifndef KN_WIRE_H
#define KN_WIRE_H

#include <stdint.h>
#include <rte_byteorder.h>

#define KN_ETH_ALEN 6
#define KN_ETHERTYPE_IP4 0x0800
#define KN_ETHERTYPE_ARP 0x0806

struct kn_eth_hdr {
	uint8_t dst[KN_ETH_ALEN];
	uint8_t src[KN_ETH_ALEN];
	rte_be16_t type;
} __attribute__((packed));

#define KN_ARP_HRD_ETHER 1
#define KN_ARP_OP_REQUEST 1
#define KN_ARP_OP_REPLY 2

struct kn_arp_hdr {
	rte_be16_t hrd;
	rte_be16_t pro;
	uint8_t hln;
	uint8_t pln;
	rte_be16_t op;
	uint8_t sha[KN_ETH_ALEN];
	rte_be32_t spa;
	uint8_t tha[KN_ETH_ALEN];
	rte_be32_t tpa;
} __attribute__((packed));

#define KN_IPPROTO_ICMP 1
#define KN_IPPROTO_TCP 6
#define KN_IPPROTO_UDP 17
#define KN_IP_DF 0x4000
#define KN_IP_MF 0x2000
#define KN_IP_OFFMASK 0x1fff

struct kn_ip4_hdr {
	uint8_t ver_ihl;
	uint8_t tos;
	rte_be16_t len;
	rte_be16_t id;
	rte_be16_t frag;
	uint8_t ttl;
	uint8_t proto;
	rte_be16_t csum;
	rte_be32_t src;
	rte_be32_t dst;
} __attribute__((packed));

#define KN_ICMP_ECHOREPLY 0
#define KN_ICMP_UNREACH 3
#define KN_ICMP_ECHO 8
#define KN_ICMP_UNREACH_PROTO 2
#define KN_ICMP_UNREACH_PORT 3
#define KN_ICMP_UNREACH_NEEDFRAG 4

struct kn_icmp_hdr {
	uint8_t type;
	uint8_t code;
	rte_be16_t csum;
	union {
		struct { rte_be16_t id, seq; } echo;
		struct { rte_be16_t unused, mtu; } frag;
		rte_be32_t word;
	} u;
} __attribute__((packed));

struct kn_udp_hdr {
	rte_be16_t sport;
	rte_be16_t dport;
	rte_be16_t len;
	rte_be16_t csum;
} __attribute__((packed));

#define KN_TH_FIN 0x01
#define KN_TH_SYN 0x02
#define KN_TH_RST 0x04
#define KN_TH_PSH 0x08
#define KN_TH_ACK 0x10
#define KN_TH_URG 0x20

struct kn_tcp_hdr {
	rte_be16_t sport;
	rte_be16_t dport;
	rte_be32_t seq;
	rte_be32_t ack;
	uint8_t off;      /* data offset in the high nibble */
	uint8_t flags;
	rte_be16_t win;
	rte_be16_t csum;
	rte_be16_t urp;
} __attribute__((packed));

#define KN_TCPOPT_EOL 0
#define KN_TCPOPT_NOP 1
#define KN_TCPOPT_MSS 2
#define KN_TCPOPT_WSCALE 3
#define KN_TCPOPT_SACK_OK 4
#define KN_TCPOPT_SACK 5
#define KN_TCPOPT_TS 8

/* Pseudo-header for TCP/UDP checksums. */
struct kn_ip4_pseudo {
	rte_be32_t src;
	rte_be32_t dst;
	uint8_t zero;
	uint8_t proto;
	rte_be16_t len;
} __attribute__((packed));

#endif
