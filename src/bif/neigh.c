/* SPDX-License-Identifier: MIT */
/*
 * Neighbour resolution through the kernel.
 *
 * In bifurcation mode the kernel and kaon share the interface's address and
 * MAC, and ARP frames go to the kernel (the XDP program passes them; in
 * rte_flow mode no rule takes them). So there is exactly one ARP speaker,
 * the kernel, and kaon follows its neighbour table instead of running a
 * second ARP cache that would answer and ask for the same address:
 *
 * - lookup: an RTM_GETNEIGH dump of the AF_INET table, filtered here by
 *   interface and address (older kernels ignore filters in the request);
 * - resolve: RTM_NEWNEIGH with NTF_USE. The kernel creates the entry if it
 *   is missing and runs its normal resolution (neigh_event_send), exactly as
 *   if it had a packet queued for that neighbour. Nothing but an ARP request
 *   goes on the wire. The other way to trigger it -- sending a datagram from
 *   a kernel socket to the address -- puts a real UDP packet on the wire,
 *   needs a kernel route to the address and a port nobody listens on, and
 *   may bring back an ICMP error: rejected for that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "bif/bif_nl.h"
#include "kaon/bif.h"

struct want {
	int ifindex;
	uint32_t ip;
	uint8_t mac[6];
};

#define USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

/* 1: found a usable entry; 2: found one still resolving or failed; 0: not it. */
static int match(const struct nlmsghdr *h, void *arg)
{
	struct want *w = arg;
	const struct ndmsg *nd = NLMSG_DATA(h);
	const struct rtattr *a;
	const uint8_t *ll = NULL;
	int len, is_dst = 0;

	if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)))
		return 0;
	if (nd->ndm_family != AF_INET || nd->ndm_ifindex != w->ifindex)
		return 0;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	for (a = (const struct rtattr *)((const char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4)
			is_dst = memcmp(RTA_DATA(a), &w->ip, 4) == 0;
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
			ll = RTA_DATA(a);
	}
	if (!is_dst)
		return 0;
	if (!(nd->ndm_state & USABLE) || !ll)
		return 2;
	memcpy(w->mac, ll, 6);
	return 1;
}

int kaon_bif_neigh_lookup(const char *ifname, uint32_t ip, uint8_t mac[6])
{
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
	} req;
	struct want w = { .ip = ip };
	int rc;

	w.ifindex = (int)if_nametoindex(ifname);
	if (w.ifindex == 0)
		return -ENODEV;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.h.nlmsg_type = RTM_GETNEIGH;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nd.ndm_family = AF_INET;
	rc = bif_nl_talk(&req.h, match, &w);
	if (rc < 0)
		return rc;
	if (rc != 1)
		return -ENOENT;
	memcpy(mac, w.mac, 6);
	return 0;
}

int kaon_bif_neigh_resolve(const char *ifname, uint32_t ip)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
		char attrs[64];
	} req;
	uint32_t hip = ntohl(ip);
	int ifindex = (int)if_nametoindex(ifname), rc;

	if (ifindex == 0)
		return -ENODEV;
	if (hip == 0 || hip == 0xffffffffu || (hip >> 28) == 0xe)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.h.nlmsg_type = RTM_NEWNEIGH;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
	req.nd.ndm_family = AF_INET;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_state = NUD_NONE;
	req.nd.ndm_flags = NTF_USE;
	rc = bif_nl_attr(&req.h, sizeof(req), NDA_DST, &ip, 4);
	if (rc < 0)
		return rc;
	rc = bif_nl_talk(&req.h, NULL, NULL);
	return rc < 0 ? rc : 0;
}
