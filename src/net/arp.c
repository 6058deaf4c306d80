/* ARP (RFC 826): a small table with aging, a bounded queue of packets per
 * unresolved entry, replies for our address, gratuitous ARP, static entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define ARP_RETRY_NS (1000 * 1000 * 1000LL)
#define ARP_MAX_TRIES 3

static const uint8_t bcast[KN_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[KN_ETH_ALEN];

int kn_arp_init(struct kn_stack *s)
{
	unsigned n = s->conf.arp_entries + s->conf.n_static_arp;
	s->conf.arp_entries = n;
	s->arp = calloc(n, sizeof(*s->arp));
	if (!s->arp)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		s->arp[i].q = calloc(s->conf.arp_queue ? s->conf.arp_queue : 1, sizeof(void *));
		if (!s->arp[i].q)
			return -1;
	}
	for (unsigned i = 0; i < s->conf.n_static_arp; i++) {
		s->arp[i].ip = s->conf.static_arp[i].ip;
		memcpy(s->arp[i].mac, s->conf.static_arp[i].mac, KN_ETH_ALEN);
		s->arp[i].state = KN_ARP_STATIC;
	}
	return 0;
}

/* Packets leave the queue: release their receive memory charge. */
static void queue_release(struct kn_stack *s, struct kn_arp_entry *e)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < e->nq; i++)
		n += kn_mbuf_nsegs(e->q[i]);
	kn_mem_rcv_release(s, n);
}

static void entry_flush_queue(struct kn_stack *s, struct kn_arp_entry *e, enum kn_drop_reason r)
{
	queue_release(s, e);
	for (unsigned i = 0; i < e->nq; i++)
		kn_drop(s, e->q[i], r);
	e->nq = 0;
}

void kn_arp_fini(struct kn_stack *s)
{
	if (!s->arp)
		return;
	for (unsigned i = 0; i < s->conf.arp_entries; i++) {
		if (s->arp[i].q)
			entry_flush_queue(s, &s->arp[i], KN_DROP_ARP_UNRESOLVED);
		free(s->arp[i].q);
	}
	free(s->arp);
	s->arp = NULL;
}

static struct kn_arp_entry *lookup(struct kn_stack *s, uint32_t ip)
{
	struct kn_arp_entry *e = &s->arp[s->arp_last];
	if (KN_LIKELY(e->state != KN_ARP_FREE && e->ip == ip))
		return e;
	for (unsigned i = 0; i < s->conf.arp_entries; i++) {
		e = &s->arp[i];
		if (e->state != KN_ARP_FREE && e->ip == ip) {
			s->arp_last = i;
			return e;
		}
	}
	return NULL;
}

static inline bool is_gateway(const struct kn_stack *s, const struct kn_arp_entry *e)
{
	return s->conf.gateway != 0 && e->ip == s->conf.gateway;
}

/* A free slot, else one made by eviction: the oldest INCOMPLETE entry, else
 * the least recently used RESOLVED one; never a STATIC entry, never the
 * gateway's (so on-link sources we answer, spoofed or not, cannot cut off
 * everything behind the gateway). Linux's forced neighbour GC likewise
 * spares permanent entries and takes failed and stale ones first. The
 * caller fills in the entry. @return NULL if nothing may go. */
static struct kn_arp_entry *alloc_entry(struct kn_stack *s)
{
	struct kn_arp_entry *inc = NULL, *res = NULL;
	for (unsigned i = 0; i < s->conf.arp_entries; i++) {
		struct kn_arp_entry *e = &s->arp[i];
		if (e->state == KN_ARP_FREE)
			return e;
		if (e->state == KN_ARP_STATIC || is_gateway(s, e))
			continue;
		if (e->state == KN_ARP_INCOMPLETE) {
			if (!inc || e->used < inc->used)
				inc = e;
		} else if (!res || e->used < res->used) {
			res = e;
		}
	}
	struct kn_arp_entry *victim = inc ? inc : res;
	if (victim) {
		entry_flush_queue(s, victim, KN_DROP_ARP_EVICTED);
		victim->state = KN_ARP_FREE;
		s->st.arp_evictions++;
	}
	return victim;
}

/* A new entry for @ip in @state. @return NULL if the table is full of
 * entries that may not go. */
static struct kn_arp_entry *new_entry(struct kn_stack *s, uint32_t ip, uint8_t state)
{
	struct kn_arp_entry *e = alloc_entry(s);
	if (!e)
		return NULL;
	e->ip = ip;
	e->state = state;
	e->nq = 0;
	e->tries = 0;
	e->used = s->now;
	return e;
}

static void send_arp(struct kn_stack *s, uint16_t op, const uint8_t *tha, uint32_t tpa,
		     const uint8_t *eth_dst)
{
	struct rte_mbuf *m = kn_alloc(s);
	if (!m)
		return;
	struct kn_arp_hdr *ah = (struct kn_arp_hdr *)rte_pktmbuf_append(m, sizeof(*ah));
	ah->hrd = rte_cpu_to_be_16(KN_ARP_HRD_ETHER);
	ah->pro = rte_cpu_to_be_16(KN_ETHERTYPE_IP4);
	ah->hln = KN_ETH_ALEN;
	ah->pln = 4;
	ah->op = rte_cpu_to_be_16(op);
	memcpy(ah->sha, s->mac, KN_ETH_ALEN);
	ah->spa = rte_cpu_to_be_32(s->conf.ip);
	memcpy(ah->tha, tha, KN_ETH_ALEN);
	ah->tpa = rte_cpu_to_be_32(tpa);
	s->st.arp_tx++;
	if (op == KN_ARP_OP_REQUEST)
		s->st.arp_requests++;
	else
		s->st.arp_replies++;
	kn_eth_output(s, m, eth_dst, KN_ETHERTYPE_ARP);
}

/* Ask who has @ip, at most conf.arp_max_requests times a second across the
 * table (a flood of SYNs from spoofed on-link sources must not become a
 * flood of broadcasts). A request skipped still counts as a try: the entry
 * gives up as soon as it would have. */
static void send_request(struct kn_stack *s, uint32_t ip)
{
	uint32_t max = s->conf.arp_max_requests;
	if (max) {
		if (s->now - s->arp_req_window >= 1000 * 1000 * 1000LL) {
			s->arp_req_window = s->now;
			s->arp_req_count = 0;
		}
		if (s->arp_req_count >= max) {
			s->st.arp_requests_ratelimited++;
			return;
		}
		s->arp_req_count++;
	}
	send_arp(s, KN_ARP_OP_REQUEST, zero_mac, ip, bcast);
}

static void entry_resolved(struct kn_stack *s, struct kn_arp_entry *e, const uint8_t *mac);

/* Gratuitous ARP: a request for our own address. */
void kn_arp_announce(struct kn_stack *s)
{
	if (s->conf.neigh_resolve)
		return; /* the interface's ARP belongs to someone else */
	send_arp(s, KN_ARP_OP_REQUEST, zero_mac, s->conf.ip, bcast);
}

/* Ask the external resolver; on a miss, arm the retry. @return 1 if resolved. */
static int ask_resolver(struct kn_stack *s, struct kn_arp_entry *e)
{
	uint8_t mac[KN_ETH_ALEN];
	if (s->conf.neigh_resolve(s->conf.neigh_arg, e->ip, mac) == 0 &&
	    memcmp(mac, zero_mac, KN_ETH_ALEN) != 0 && !(mac[0] & 1)) {
		entry_resolved(s, e, mac);
		return 1;
	}
	e->expire = s->now + s->conf.neigh_retry_ns;
	kn_timer_note(s, e->expire);
	return 0;
}

static void entry_resolved(struct kn_stack *s, struct kn_arp_entry *e, const uint8_t *mac)
{
	memcpy(e->mac, mac, KN_ETH_ALEN);
	if (e->state != KN_ARP_STATIC) {
		e->state = KN_ARP_RESOLVED;
		e->expire = s->now + s->conf.arp_timeout_ns;
	}
	queue_release(s, e);
	for (unsigned i = 0; i < e->nq; i++)
		kn_eth_output(s, e->q[i], e->mac, KN_ETHERTYPE_IP4);
	e->nq = 0;
}

void kn_arp_input(struct kn_stack *s, struct rte_mbuf *m)
{
	s->st.arp_rx++;
	if (kn_pullup(m, sizeof(struct kn_arp_hdr)) != 0) {
		kn_drop(s, m, KN_DROP_ARP_TRUNCATED);
		return;
	}
	const struct kn_arp_hdr *ah = rte_pktmbuf_mtod(m, const struct kn_arp_hdr *);
	if (ah->hrd != rte_cpu_to_be_16(KN_ARP_HRD_ETHER) ||
	    ah->pro != rte_cpu_to_be_16(KN_ETHERTYPE_IP4) || ah->hln != KN_ETH_ALEN ||
	    ah->pln != 4) {
		kn_drop(s, m, KN_DROP_ARP_UNSUPPORTED);
		return;
	}
	uint16_t op = rte_be_to_cpu_16(ah->op);
	uint32_t spa = rte_be_to_cpu_32(ah->spa), tpa = rte_be_to_cpu_32(ah->tpa);
	if ((ah->sha[0] & 1) || memcmp(ah->sha, zero_mac, KN_ETH_ALEN) == 0 ||
	    spa == s->conf.ip || (op != KN_ARP_OP_REQUEST && op != KN_ARP_OP_REPLY)) {
		kn_drop(s, m, KN_DROP_ARP_BAD_SENDER);
		return;
	}
	/* RFC 826: update the entry we have for the sender, from any ARP packet,
	 * but never a static one. Learn a new one only from a request for our
	 * address (the asker is about to talk to us); a reply we did not ask
	 * for, or gratuitous ARP from a host we do not know, creates nothing
	 * (Linux does the same with arp_accept = 0). A reply to our request
	 * finds the INCOMPLETE entry the request made. */
	struct kn_arp_entry *e = spa ? lookup(s, spa) : NULL;
	bool for_us = tpa == s->conf.ip;
	/* A reply that would move a RESOLVED entry to another MAC answers no
	 * request of ours (we ask only for INCOMPLETE entries): it is what
	 * ARP spoofing tools send. Nothing changes; a host that really moved
	 * announces itself with a request (RFC 5227 §2.3), which is taken
	 * below, or is asked again once its entry ages out. Linux takes such
	 * a reply once arp locktime (1 s) has passed; stricter here. */
	if (e && e->state == KN_ARP_RESOLVED && op == KN_ARP_OP_REPLY &&
	    memcmp(e->mac, ah->sha, KN_ETH_ALEN) != 0) {
		kn_drop(s, m, KN_DROP_ARP_UNSOLICITED);
		return;
	}
	if (e && e->state != KN_ARP_STATIC)
		entry_resolved(s, e, ah->sha);
	if (!for_us) {
		kn_drop(s, m, KN_DROP_ARP_NOT_FOR_US);
		return;
	}
	if (!e && spa) {
		if (op != KN_ARP_OP_REQUEST) {
			kn_drop(s, m, KN_DROP_ARP_UNSOLICITED);
			return;
		}
		e = new_entry(s, spa, KN_ARP_INCOMPLETE);
		if (e)
			entry_resolved(s, e, ah->sha);
		else
			s->st.drops[KN_DROP_ARP_TABLE_FULL]++;
	}
	if (op == KN_ARP_OP_REQUEST) {
		uint8_t sha[KN_ETH_ALEN];
		memcpy(sha, ah->sha, KN_ETH_ALEN);
		send_arp(s, KN_ARP_OP_REPLY, sha, spa, sha);
	}
	rte_pktmbuf_free(m);
}

/* Send @m (an IPv4 packet) to @nexthop: now if resolved, else queue it. */
void kn_arp_resolve_slow(struct kn_stack *s, struct rte_mbuf *m, uint32_t nexthop)
{
	struct kn_arp_entry *e = lookup(s, nexthop);
	if (KN_LIKELY(e && e->state >= KN_ARP_RESOLVED)) {
		e->used = s->now;
		kn_eth_output(s, m, e->mac, KN_ETHERTYPE_IP4);
		return;
	}
	if (!e) {
		e = new_entry(s, nexthop, KN_ARP_INCOMPLETE);
		if (!e) {
			kn_drop(s, m, KN_DROP_ARP_TABLE_FULL);
			return;
		}
		e->tries = 1;
		if (s->conf.neigh_resolve) {
			if (ask_resolver(s, e)) {
				kn_eth_output(s, m, e->mac, KN_ETHERTYPE_IP4);
				return;
			}
		} else {
			e->expire = s->now + ARP_RETRY_NS;
			kn_timer_note(s, e->expire);
			send_request(s, nexthop);
		}
	}
	/* Waiting packets are charged to receive memory: the reply that
	 * frees them comes in like any frame. */
	uint32_t nsegs = kn_mbuf_nsegs(m);
	if (e->nq >= s->conf.arp_queue || !kn_mem_rcv_room(s, nsegs, false)) {
		kn_drop(s, m, KN_DROP_ARP_QUEUE_FULL);
		return;
	}
	kn_mem_rcv_charge(s, nsegs);
	e->q[e->nq++] = m;
}

/* Age out resolved entries; retry, then give up on, incomplete ones. */
void kn_arp_timer(struct kn_stack *s)
{
	for (unsigned i = 0; i < s->conf.arp_entries; i++) {
		struct kn_arp_entry *e = &s->arp[i];
		if (e->state == KN_ARP_RESOLVED) {
			if (e->expire <= s->now)
				e->state = KN_ARP_FREE;
			else
				kn_timer_note(s, e->expire);
		} else if (e->state == KN_ARP_INCOMPLETE) {
			if (e->expire > s->now) {
				kn_timer_note(s, e->expire);
			} else if (e->tries >= (s->conf.neigh_resolve ? s->conf.neigh_tries
								    : ARP_MAX_TRIES)) {
				entry_flush_queue(s, e, KN_DROP_ARP_UNRESOLVED);
				e->state = KN_ARP_FREE;
			} else if (s->conf.neigh_resolve) {
				e->tries++;
				ask_resolver(s, e);
			} else {
				e->tries++;
				e->expire = s->now + ARP_RETRY_NS;
				kn_timer_note(s, e->expire);
				send_request(s, e->ip);
			}
		}
	}
}

int kn_arp_set(struct kn_stack *s, uint32_t ip, const uint8_t mac[6])
{
	struct kn_arp_entry *e = lookup(s, ip);
	if (!e) {
		e = new_entry(s, ip, KN_ARP_INCOMPLETE);
		if (!e)
			return -ENOSPC;
	}
	entry_resolved(s, e, mac);
	return 0;
}
