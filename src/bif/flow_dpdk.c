/* SPDX-License-Identifier: MIT */
/*
 * rte_flow mode on a DPDK port: isolated mode, then one rte_flow per rule
 * (eth / ipv4 / tcp|udp -> queue, or TCP -> RSS over the cores' queues;
 * eth type ARP -> queue). Every refusal is reported with the rule and the
 * PMD's own words.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_flow.h>

#include "kaon/bif.h"
#include "kaon/dpdk.h"

static const char *kind_name(enum kaon_bif_flow_kind k)
{
	return k == KAON_BIF_FLOW_TCP ? "tcp" : k == KAON_BIF_FLOW_UDP ? "udp" : "arp";
}

/* rte_flow's errors are negative errno in rte_errno; "not supported" comes
 * back as ENOSYS or ENOTSUP depending on the PMD. */
static int flow_err(int rc, const struct rte_flow_error *fe, const char *what, char *err,
		    size_t errlen)
{
	int e = rc < 0 ? -rc : rte_errno;

	if (e == 0)
		e = EIO;
	if (e == ENOSYS)
		e = ENOTSUP;
	snprintf(err, errlen, "%s: %s (%s)", what, fe->message ? fe->message : "refused",
		 strerror(e));
	return -e;
}

int kaon_bif_flow_isolate(uint16_t port_id, char *err, size_t errlen)
{
	struct rte_flow_error fe = { 0 };
	int rc = rte_flow_isolate(port_id, 1, &fe);

	return rc == 0 ? 0 : flow_err(rc, &fe, "rte_flow_isolate", err, errlen);
}

struct flow_spec {
	struct rte_flow_item_eth eth, eth_mask;
	struct rte_flow_item_ipv4 ip, ip_mask;
	struct rte_flow_item_tcp tcp, tcp_mask;
	struct rte_flow_item_udp udp, udp_mask;
	struct rte_flow_item pattern[4];
	struct rte_flow_action_queue queue;
	struct rte_flow_action_rss rss;
	uint16_t queues[KAON_DPDK_MAX_QUEUES];
	struct rte_flow_action actions[2];
};

static void build(struct flow_spec *s, const struct kaon_bif_flow_rule *r)
{
	int i = 0;

	memset(s, 0, sizeof(*s));
	if (r->kind == KAON_BIF_FLOW_ARP) {
		s->eth.hdr.ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
		s->eth_mask.hdr.ether_type = RTE_BE16(0xffff);
		s->pattern[i++] = (struct rte_flow_item){
			.type = RTE_FLOW_ITEM_TYPE_ETH, .spec = &s->eth, .mask = &s->eth_mask,
		};
	} else {
		s->pattern[i++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_ETH };
		s->ip.hdr.dst_addr = r->dst_addr;
		s->ip_mask.hdr.dst_addr = r->dst_addr ? RTE_BE32(0xffffffff) : 0;
		s->pattern[i++] = (struct rte_flow_item){
			.type = RTE_FLOW_ITEM_TYPE_IPV4,
			.spec = r->dst_addr ? &s->ip : NULL,
			.mask = r->dst_addr ? &s->ip_mask : NULL,
		};
		if (r->kind == KAON_BIF_FLOW_TCP) {
			s->tcp.hdr.dst_port = rte_cpu_to_be_16(r->dst_port);
			s->tcp_mask.hdr.dst_port = rte_cpu_to_be_16(r->dst_port_mask);
			s->pattern[i++] = (struct rte_flow_item){
				.type = RTE_FLOW_ITEM_TYPE_TCP, .spec = &s->tcp, .mask = &s->tcp_mask,
			};
		} else {
			s->udp.hdr.dst_port = rte_cpu_to_be_16(r->dst_port);
			s->udp_mask.hdr.dst_port = rte_cpu_to_be_16(r->dst_port_mask);
			s->pattern[i++] = (struct rte_flow_item){
				.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &s->udp, .mask = &s->udp_mask,
			};
		}
	}
	s->pattern[i].type = RTE_FLOW_ITEM_TYPE_END;
	s->queue.index = r->queue;
	s->actions[0] = (struct rte_flow_action){ .type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &s->queue };
	if (r->nqueues > 1 && r->kind == KAON_BIF_FLOW_TCP) {
		/* One rule for all the cores' queues: the device hashes the
		 * flow with kaon's symmetric key, so both directions of a
		 * connection, and kaon's own choice of source ports, agree. */
		unsigned n = r->nqueues < KAON_DPDK_MAX_QUEUES ? r->nqueues : KAON_DPDK_MAX_QUEUES;
		for (unsigned q = 0; q < n; q++)
			s->queues[q] = (uint16_t)(r->queue + q);
		s->rss = (struct rte_flow_action_rss){
			.func = RTE_ETH_HASH_FUNCTION_TOEPLITZ,
			.types = RTE_ETH_RSS_NONFRAG_IPV4_TCP,
			.key_len = 40,
			.key = kaon_rss_key_sym,
			.queue_num = n,
			.queue = s->queues,
		};
		s->actions[0] = (struct rte_flow_action){ .type = RTE_FLOW_ACTION_TYPE_RSS, .conf = &s->rss };
	}
	s->actions[1].type = RTE_FLOW_ACTION_TYPE_END;
}

int kaon_bif_flow_apply(uint16_t port_id, const struct kaon_bif_flow_rule *r, int n,
			char *err, size_t errlen)
{
	const struct rte_flow_attr attr = { .ingress = 1 };
	struct rte_flow *made[KAON_BIF_FLOW_MAX_RULES];
	struct flow_spec s;
	int i, rc = 0;

	if (n < 0 || n > KAON_BIF_FLOW_MAX_RULES)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct rte_flow_error fe = { 0 };
		char what[96];

		build(&s, &r[i]);
		snprintf(what, sizeof(what), "rule %d (%s dst port %u/0x%04x -> queue %u%s)", i,
			 kind_name(r[i].kind), r[i].dst_port, r[i].dst_port_mask, r[i].queue,
			 r[i].nqueues > 1 ? " and on, by RSS" : "");
		rc = rte_flow_validate(port_id, &attr, s.pattern, s.actions, &fe);
		if (rc == 0) {
			made[i] = rte_flow_create(port_id, &attr, s.pattern, s.actions, &fe);
			if (!made[i])
				rc = -rte_errno;
		}
		if (rc != 0) {
			rc = flow_err(rc, &fe, what, err, errlen);
			break;
		}
	}
	if (rc == 0)
		return n;
	while (i-- > 0) {
		struct rte_flow_error fe;

		rte_flow_destroy(port_id, made[i], &fe);
	}
	return rc;
}

int kaon_bif_flow_flush(uint16_t port_id)
{
	struct rte_flow_error fe;
	int rc = rte_flow_flush(port_id, &fe);

	return rc == 0 ? 0 : rc < 0 ? rc : -rte_errno;
}
