/* SPDX-License-Identifier: MIT */
/*
 * The kernel's IPv4 neighbour table of one interface, mirrored in user space
 * and kept current by the kernel's own notifications, so that a lookup on
 * kaon's data path is a hash lookup and never a system call that waits.
 *
 * One non-blocking rtnetlink socket, subscribed to RTNLGRP_NEIGH, carries
 * both the initial RTM_GETNEIGH dump and every change after it (the kernel
 * notifies new entries, state changes such as REACHABLE -> STALE or
 * -> FAILED, new link-layer addresses, and deletions). Whatever is queued is
 * read without blocking on each lookup and by kaon_bif_neigh_cache_poll(),
 * which the engine calls every millisecond or so to keep the socket buffer
 * from overflowing. If it overflows anyway (ENOBUFS: notifications were
 * lost), the table is dumped again.
 *
 * A miss asks the kernel to resolve the address (RTM_NEWNEIGH, NTF_USE, as
 * kaon_bif_neigh_resolve() does, on the same socket and without waiting for
 * an answer) at most once per RESOLVE_EVERY_NS per address, and at most
 * RESOLVE_BUDGET times per second in all, so that a flood of packets from
 * many unresolved sources costs a bounded number of ARP requests. The
 * answer arrives later as a notification. A hit on a STALE entry also asks,
 * as Linux does when it sends through a STALE entry (neigh_event_send:
 * STALE -> DELAY -> PROBE), so that the kernel re-confirms neighbours only
 * kaon talks to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "bif/bif_nl.h"
#include "kaon/bif.h"

#define SLOTS 4096u              /* power of two */
#define MAX_LOAD (SLOTS / 4 * 3)
#define RESOLVE_EVERY_NS 1000000000LL /* per address: the kernel's retrans_time */
#define RESOLVE_BUDGET 1000      /* requests per second, all addresses */
#define RCVBUF (1 << 20)
#define BUF_BYTES 65536

#define USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

struct slot {
	uint32_t ip;             /* network byte order; 0: free slot */
	uint16_t state;          /* the kernel's NUD_* state; 0: unknown (asked only) */
	uint8_t usable;
	uint8_t mac[6];
	int64_t asked;           /* when we last asked the kernel to resolve it */
};

struct kaon_bif_neigh_cache {
	int fd;
	int ifindex;
	uint32_t seq, dump_seq;  /* dump_seq != 0: a dump is running */
	int dump_again;          /* notifications were lost: dump when possible */
	unsigned n;              /* slots in use */
	int64_t budget_sec;      /* the second the budget counts for */
	int budget;
	struct kaon_bif_neigh_stats st;
	struct slot t[SLOTS];
	char buf[BUF_BYTES] __attribute__((aligned(8)));
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static unsigned hash(uint32_t ip)
{
	return (ip * 2654435761u) >> 20 & (SLOTS - 1);
}

static struct slot *find(struct kaon_bif_neigh_cache *c, uint32_t ip)
{
	for (unsigned i = hash(ip), k = 0; k < SLOTS; i = (i + 1) & (SLOTS - 1), k++) {
		if (c->t[i].ip == ip)
			return &c->t[i];
		if (c->t[i].ip == 0)
			return NULL;
	}
	return NULL;
}

/* Rebuild the table without the entries that hold no address (asked-for
 * misses, failed and deleted entries): they are what fills it under a flood
 * of unresolvable sources. */
static void purge(struct kaon_bif_neigh_cache *c)
{
	struct slot *keep = malloc(sizeof(c->t));
	unsigned nk = 0;

	if (!keep)
		return;
	for (unsigned i = 0; i < SLOTS; i++)
		if (c->t[i].ip && c->t[i].usable)
			keep[nk++] = c->t[i];
	memset(c->t, 0, sizeof(c->t));
	c->n = 0;
	for (unsigned k = 0; k < nk; k++) {
		unsigned i = hash(keep[k].ip);

		while (c->t[i].ip)
			i = (i + 1) & (SLOTS - 1);
		c->t[i] = keep[k];
		c->n++;
	}
	free(keep);
	c->st.purges++;
}

/* The slot of @p ip, made if needed; NULL when the table is full of
 * addresses the kernel has resolved. */
static struct slot *get(struct kaon_bif_neigh_cache *c, uint32_t ip)
{
	struct slot *s = find(c, ip);
	unsigned i;

	if (s)
		return s;
	if (c->n >= MAX_LOAD)
		purge(c);
	if (c->n >= MAX_LOAD)
		return NULL;
	for (i = hash(ip); c->t[i].ip; i = (i + 1) & (SLOTS - 1))
		;
	c->t[i] = (struct slot){ .ip = ip };
	c->n++;
	return &c->t[i];
}

static int send_msg(struct kaon_bif_neigh_cache *c, struct nlmsghdr *h)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	h->nlmsg_seq = ++c->seq;
	if (sendto(c->fd, h, h->nlmsg_len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static int dump(struct kaon_bif_neigh_cache *c)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
	} req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.h.nlmsg_type = RTM_GETNEIGH;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nd.ndm_family = AF_INET;
	rc = send_msg(c, &req.h);
	if (rc < 0)
		return rc;
	c->dump_seq = c->seq;
	c->dump_again = 0;
	c->st.dumps++;
	return 0;
}

/* RTM_NEWNEIGH with NTF_USE, no ACK asked: the kernel answers with a
 * notification when it knows more (or an error message, which is read and
 * dropped). */
static int ask(struct kaon_bif_neigh_cache *c, uint32_t ip)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
		char attrs[16];
	} req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.h.nlmsg_type = RTM_NEWNEIGH;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE;
	req.nd.ndm_family = AF_INET;
	req.nd.ndm_ifindex = c->ifindex;
	req.nd.ndm_state = NUD_NONE;
	req.nd.ndm_flags = NTF_USE;
	rc = bif_nl_attr(&req.h, sizeof(req), NDA_DST, &ip, 4);
	if (rc == 0)
		rc = send_msg(c, &req.h);
	if (rc == 0)
		c->st.requests++;
	return rc;
}

/* Ask for @p s unless it was asked for recently or the budget is spent. */
static void maybe_ask(struct kaon_bif_neigh_cache *c, struct slot *s, uint32_t ip)
{
	int64_t now = mono_ns(), sec = now / 1000000000LL;
	uint32_t hip = ntohl(ip);

	if (hip == 0 || hip == 0xffffffffu || (hip >> 28) == 0xe)
		return;
	if (s && s->asked && now - s->asked < RESOLVE_EVERY_NS) {
		c->st.limited++;
		return;
	}
	if (sec != c->budget_sec) {
		c->budget_sec = sec;
		c->budget = RESOLVE_BUDGET;
	}
	if (c->budget == 0) {
		c->st.limited++;
		return;
	}
	c->budget--;
	if (ask(c, ip) == 0 && s)
		s->asked = now;
}

static void update(struct kaon_bif_neigh_cache *c, const struct nlmsghdr *h)
{
	const struct ndmsg *nd = NLMSG_DATA(h);
	const struct rtattr *a;
	const uint8_t *ll = NULL;
	uint32_t ip = 0;
	struct slot *s;
	int len;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)))
		return;
	if (nd->ndm_family != AF_INET || nd->ndm_ifindex != c->ifindex)
		return;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	for (a = (const struct rtattr *)((const char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4)
			memcpy(&ip, RTA_DATA(a), 4);
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
			ll = RTA_DATA(a);
	}
	if (ip == 0)
		return;
	if (h->nlmsg_type == RTM_DELNEIGH) {
		s = find(c, ip);
		if (s)
			s->usable = 0, s->state = 0;
		return;
	}
	s = get(c, ip);
	if (!s)
		return;
	s->state = nd->ndm_state;
	s->usable = (nd->ndm_state & USABLE) && ll;
	if (s->usable)
		memcpy(s->mac, ll, 6);
}

/* One datagram of messages. */
static void walk(struct kaon_bif_neigh_cache *c, size_t n)
{
	size_t off = 0;

	while (n - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const void *)(c->buf + off);

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			return;
		off += NLMSG_ALIGN(h->nlmsg_len);
		if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
			/* The end of our dump (or its refusal); errors of
			 * NTF_USE requests need nothing more. */
			if (c->dump_seq && h->nlmsg_seq == c->dump_seq) {
				c->dump_seq = 0;
				if (h->nlmsg_type == NLMSG_ERROR)
					c->dump_again = 1;
			}
			continue;
		}
		if (h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH)
			continue;
		if (h->nlmsg_seq == 0)
			c->st.events++; /* a notification, not part of a dump */
		update(c, h);
	}
}

int kaon_bif_neigh_cache_poll(struct kaon_bif_neigh_cache *c)
{
	int msgs = 0;

	for (;;) {
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* Notifications were lost: read the table again. */
				c->st.overruns++;
				c->dump_again = 1;
				continue;
			}
			break; /* EAGAIN: nothing more for now */
		}
		walk(c, (size_t)n);
		msgs++;
	}
	if (c->dump_again && !c->dump_seq)
		dump(c);
	return msgs;
}

int kaon_bif_neigh_cache_lookup(struct kaon_bif_neigh_cache *c, uint32_t ip, uint8_t mac[6])
{
	struct slot *s;

	kaon_bif_neigh_cache_poll(c);
	s = find(c, ip);
	if (s && s->usable) {
		c->st.hits++;
		memcpy(mac, s->mac, 6);
		if (s->state & NUD_STALE)
			maybe_ask(c, s, ip);
		return 0;
	}
	c->st.misses++;
	maybe_ask(c, get(c, ip), ip);
	return -ENOENT;
}

int kaon_bif_neigh_cache_open(struct kaon_bif_neigh_cache **out, const char *ifname)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (RTNLGRP_NEIGH - 1) };
	struct kaon_bif_neigh_cache *c;
	int rcvbuf = RCVBUF, rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ifindex = (int)if_nametoindex(ifname);
	if (c->ifindex == 0) {
		free(c);
		return -ENODEV;
	}
	c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (c->fd < 0) {
		rc = -errno;
		free(c);
		return rc;
	}
	/* Room for a burst of notifications between two polls; beyond the
	 * rmem_max limit only with CAP_NET_ADMIN. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : dump(c);
	if (rc < 0) {
		close(c->fd);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void kaon_bif_neigh_cache_stats(const struct kaon_bif_neigh_cache *c, struct kaon_bif_neigh_stats *s)
{
	*s = c->st;
	s->entries = c->n;
}

void kaon_bif_neigh_cache_close(struct kaon_bif_neigh_cache *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}
