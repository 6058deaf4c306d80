/* The stack's bounded tables under hostile load: reassembly contexts, the
 * ARP table, and the source addresses IPv4 refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_test.h"
#include "net/wire.h"

#define GW_IP KT_IP(198, 18, 0, 254)
#define FAR_IP KT_IP(203, 0, 113, 7)   /* off-link: via the gateway */

static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero[6];
static const uint8_t gw_mac[6] = {0x02, 0xee, 0, 0, 0, 0xfe};
static const uint8_t evil_mac[6] = {0x02, 0xba, 0xd0, 0xba, 0xd0, 0x01};

static struct kt_cap cap;
static struct kn_stack *S;
static struct kn_stack_conf conf;
static int64_t now = 1000 * KT_SEC;

static int setup(void **st)
{
	(void)st;
	kt_cap_init(&cap, KN_DEV_TX_MULTI_SEG);
	kt_conf(&conf, KT_US_IP);
	conf.gateway = GW_IP;
	S = kt_stack(&cap, &conf, now);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	kt_assert_no_leak();
	return 0;
}

static void input(struct rte_mbuf *m)
{
	kn_stack_input(S, m, now);
	kn_stack_flush(S);
}

/* ---- reassembly ---------------------------------------------------------- */

/* A 3000-byte UDP datagram to @dport, split in three, its payload bytes
 * a function of @seed. */
static uint8_t dg[8 + 3000];

static void make_datagram(uint16_t dport, uint8_t seed)
{
	struct kn_udp_hdr *uh = (struct kn_udp_hdr *)dg;
	uh->sport = rte_cpu_to_be_16(7);
	uh->dport = rte_cpu_to_be_16(dport);
	uh->len = rte_cpu_to_be_16(sizeof(dg));
	uh->csum = 0;
	for (unsigned i = 8; i < sizeof(dg); i++)
		dg[i] = (uint8_t)(i * 7 + seed);
}

static void send_first(uint32_t src, uint16_t id)
{
	input(kt_ip_frame(src, KT_US_IP, KN_IPPROTO_UDP, id, KN_IP_MF, dg, 1400));
}

static void send_rest(uint32_t src, uint16_t id)
{
	input(kt_ip_frame(src, KT_US_IP, KN_IPPROTO_UDP, id, KN_IP_MF | (1400 / 8), dg + 1400, 1400));
	input(kt_ip_frame(src, KT_US_IP, KN_IPPROTO_UDP, id, 2800 / 8, dg + 2800, sizeof(dg) - 2800));
}

static void expect_datagram(struct kn_udp *u)
{
	static uint8_t out[4000];
	assert_int_equal(kn_udp_recvfrom(u, out, sizeof(out), NULL, NULL), 3000);
	assert_memory_equal(out, dg + 8, 3000);
}

/* 1,000 lone first fragments from 1,000 sources fill the table; a real
 * fragmented datagram arriving right after still reassembles at once:
 * the oldest lone ones make room for it. */
static void test_frag_lone_firsts_then_legit(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 3000, NULL, &err);
	assert_non_null(u);
	make_datagram(3000, 1);
	for (uint32_t i = 0; i < 1000; i++)
		send_first(KT_IP(10, 1, i >> 8, i & 0xff), (uint16_t)i);
	uint64_t evicted = kt_drops(S, KN_DROP_FRAG_EVICTED);
	assert_int_equal(evicted, 1000 - conf.frag_max_datagrams);
	assert_int_equal(kn_stack_stats(S)->ip_frag_evictions, evicted);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_NO_MEMORY), 0);
	send_first(KT_PEER_IP, 77);
	send_rest(KT_PEER_IP, 77);
	expect_datagram(u);
	assert_int_equal(kn_stack_stats(S)->ip_reassembled, 1);
	/* The rest time out, oldest first, each counted once. */
	now += conf.frag_timeout_ns;
	kn_stack_timers(S, now);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TIMEOUT), conf.frag_max_datagrams - 1);
	kn_udp_close(u);
}

/* Contexts expire by age: a younger one outlives an older one. */
static void test_frag_timeout_in_order(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 3000, NULL, &err);
	make_datagram(3000, 2);
	send_first(KT_IP(10, 0, 0, 1), 1);
	now += 10 * KT_SEC;
	send_first(KT_PEER_IP, 2);
	assert_true(kn_stack_next_timer(S) <= now - 10 * KT_SEC + conf.frag_timeout_ns);
	now += conf.frag_timeout_ns - 5 * KT_SEC;
	kn_stack_timers(S, now);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TIMEOUT), 1);
	send_rest(KT_PEER_IP, 2);
	expect_datagram(u);
	kn_udp_close(u);
}

/* One source flooding contexts keeps only its share: the others' datagrams
 * are untouched, and its own newest still complete. */
static void test_frag_source_share(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 3000, NULL, &err);
	make_datagram(3000, 3);
	const uint32_t hog = KT_IP(10, 9, 9, 9);
	for (uint16_t id = 0; id < 300; id++)
		send_first(hog, id);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_SRC_LIMIT), 300 - conf.frag_max_per_src);
	/* Twenty other sources, each with a datagram in flight at once. */
	for (uint32_t i = 0; i < 20; i++)
		send_first(KT_IP(10, 2, 0, i + 1), (uint16_t)(500 + i));
	for (uint32_t i = 0; i < 20; i++) {
		send_rest(KT_IP(10, 2, 0, i + 1), (uint16_t)(500 + i));
		expect_datagram(u);
	}
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_EVICTED), 0);
	/* The hog's newest datagram is still there, its oldest is gone. */
	send_rest(hog, 299);
	expect_datagram(u);
	send_rest(hog, 0);
	char b[8];
	assert_int_equal(kn_udp_recvfrom(u, b, sizeof(b), NULL, NULL), -EAGAIN);
	kn_udp_close(u);
}

/* Past 65,535 bytes: the piece and whatever was held of the datagram go
 * at once. A train of more pieces than any datagram has goes too. */
static void test_frag_oversize_and_endless(void **st)
{
	(void)st;
	make_datagram(3000, 4);
	send_first(KT_PEER_IP, 9);
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 9, KN_IP_MF | (65512 / 8), dg, 40));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TOO_BIG), 2);
	/* Nothing of id 9 is left to time out. */
	now += conf.frag_timeout_ns;
	kn_stack_timers(S, now);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TIMEOUT), 0);
	/* 8-byte pieces without end: the 65th drops the train. */
	for (uint32_t i = 0; i < 65; i++)
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 10, (uint16_t)(KN_IP_MF | i),
				  dg, 8));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TOO_MANY), 65);
	now += conf.frag_timeout_ns;
	kn_stack_timers(S, now);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TIMEOUT), 0);
	/* Teardrop: an overlap still drops the whole datagram. */
	send_first(KT_PEER_IP, 11);
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 11, 1392 / 8, dg, 20));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_OVERLAP), 2);
}

/* The memory cap evicts the oldest datagrams instead of refusing new ones. */
static void test_frag_memory_cap_evicts(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	kt_conf(&conf, KT_US_IP);
	conf.frag_max_bytes = 20 * RTE_MBUF_DEFAULT_BUF_SIZE;
	S = kt_stack(&cap, &conf, now);
	int err;
	struct kn_udp *u = kn_udp_bind(S, 3000, NULL, &err);
	make_datagram(3000, 5);
	for (uint32_t i = 0; i < 100; i++)
		send_first(KT_IP(10, 3, 0, i + 1), (uint16_t)i);
	assert_true(kt_drops(S, KN_DROP_FRAG_EVICTED) >= 80);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_NO_MEMORY), 0);
	send_first(KT_PEER_IP, 1);
	send_rest(KT_PEER_IP, 1);
	expect_datagram(u);
	kn_udp_close(u);
}

/* ---- ARP --------------------------------------------------------------- */

/* Send one UDP datagram to @ip and return the destination MAC of the frame
 * that left (an ARP request goes to broadcast). */
static void send_to(struct kn_udp *u, uint32_t ip, uint8_t mac[6], uint16_t *ethertype)
{
	kt_cap_clear(&cap);
	assert_int_equal(kn_udp_sendto(u, "x", 1, ip, 9), 1);
	kn_stack_flush(S);
	assert_int_equal(cap.n, 1);
	uint8_t b[64];
	kt_flatten(cap.out[0], b, sizeof(b));
	memcpy(mac, b, 6);
	*ethertype = (uint16_t)(b[12] << 8 | b[13]);
	kt_cap_clear(&cap);
}

static void test_arp_learn_only_when_asked(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 5000, NULL, &err);
	uint8_t mac[6];
	uint16_t type;
	const uint32_t x = KT_IP(198, 18, 0, 20), y = KT_IP(198, 18, 0, 21), z = KT_IP(198, 18, 0, 22);
	/* A reply we never asked for teaches nothing. */
	input(kt_arp_frame(KN_ARP_OP_REPLY, evil_mac, x, kt_us_mac, KT_US_IP, kt_us_mac));
	assert_int_equal(kt_drops(S, KN_DROP_ARP_UNSOLICITED), 1);
	send_to(u, x, mac, &type);
	assert_int_equal(type, KN_ETHERTYPE_ARP);
	assert_memory_equal(mac, bc, 6);
	/* Nor does gratuitous ARP from a host we do not know. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, evil_mac, y, zero, y, bc));
	input(kt_arp_frame(KN_ARP_OP_REPLY, evil_mac, y, bc, y, bc));
	send_to(u, y, mac, &type);
	assert_int_equal(type, KN_ETHERTYPE_ARP);
	/* A request for our address does: the asker is about to talk to us. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, evil_mac, z, zero, KT_US_IP, bc));
	kt_cap_clear(&cap);
	send_to(u, z, mac, &type);
	assert_int_equal(type, KN_ETHERTYPE_IP4);
	assert_memory_equal(mac, evil_mac, 6);
	/* And a reply to our request resolves what waits. */
	input(kt_arp_frame(KN_ARP_OP_REPLY, gw_mac, x, kt_us_mac, KT_US_IP, kt_us_mac));
	assert_int_equal(cap.n, 1);
	kt_cap_clear(&cap);
	send_to(u, x, mac, &type);
	assert_memory_equal(mac, gw_mac, 6);
	kn_udp_close(u);
}

static void test_arp_static_survives_spoof(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 5000, NULL, &err);
	input(kt_arp_frame(KN_ARP_OP_REPLY, evil_mac, KT_PEER_IP, kt_us_mac, KT_US_IP, kt_us_mac));
	input(kt_arp_frame(KN_ARP_OP_REQUEST, evil_mac, KT_PEER_IP, zero, KT_US_IP, bc));
	input(kt_arp_frame(KN_ARP_OP_REQUEST, evil_mac, KT_PEER_IP, zero, KT_PEER_IP, bc));
	kt_cap_clear(&cap);
	uint8_t mac[6];
	uint16_t type;
	send_to(u, KT_PEER_IP, mac, &type);
	assert_int_equal(type, KN_ETHERTYPE_IP4);
	assert_memory_equal(mac, kt_peer_mac, 6);
	kn_udp_close(u);
}

/* An unsolicited reply that would move a known host to another MAC (what
 * arpspoof sends) changes nothing; the host's own announcement still does. */
static void test_arp_unsolicited_reply_keeps_entry(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 5000, NULL, &err);
	const uint32_t x = KT_IP(198, 18, 0, 30);
	const uint8_t x_mac[6] = {0x02, 0, 0, 0, 0, 0x30}, x_new[6] = {0x02, 0, 0, 0, 0, 0x31};
	uint8_t mac[6];
	uint16_t type;
	/* x asks for us: learnt. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, x_mac, x, zero, KT_US_IP, bc));
	kt_cap_clear(&cap);
	send_to(u, x, mac, &type);
	assert_int_equal(type, KN_ETHERTYPE_IP4);
	assert_memory_equal(mac, x_mac, 6);
	/* A reply we never asked for, claiming x elsewhere: dropped, counted. */
	input(kt_arp_frame(KN_ARP_OP_REPLY, evil_mac, x, kt_us_mac, KT_US_IP, kt_us_mac));
	assert_int_equal(kt_drops(S, KN_DROP_ARP_UNSOLICITED), 1);
	send_to(u, x, mac, &type);
	assert_memory_equal(mac, x_mac, 6);
	/* One repeating what we know only refreshes it. */
	input(kt_arp_frame(KN_ARP_OP_REPLY, x_mac, x, kt_us_mac, KT_US_IP, kt_us_mac));
	assert_int_equal(kt_drops(S, KN_DROP_ARP_UNSOLICITED), 1);
	/* x moved and announces itself (RFC 5227 §2.3): followed. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, x_new, x, zero, x, bc));
	kt_cap_clear(&cap);
	send_to(u, x, mac, &type);
	assert_memory_equal(mac, x_new, 6);
	kn_udp_close(u);
}

/* The one frame captured: its destination MAC and EtherType; a TCP frame is
 * parsed (checksums checked) into @seg. */
static void take_frame(uint8_t mac[6], uint16_t *type, struct kt_seg *seg)
{
	kn_stack_flush(S);
	assert_int_equal(cap.n, 1);
	uint8_t b[64];
	kt_flatten(cap.out[0], b, sizeof(b));
	memcpy(mac, b, 6);
	*type = (uint16_t)(b[12] << 8 | b[13]);
	if (*type == KN_ETHERTYPE_IP4) {
		assert_true(kt_parse_tcp(kt_cap_take(&cap), seg));
		assert_true(seg->csum_ok);
	}
	kt_cap_clear(&cap);
}

/* A connection's segments are built from a per-connection template that
 * keeps a hint to its next hop's ARP entry: they follow the peer when it
 * moves to another MAC, and when its entry is evicted (and the slot taken
 * by another host) they wait for ARP again, never going to the slot's new
 * owner. */
static void test_tcp_segments_follow_arp(void **st)
{
	(void)st;
	int err;
	const uint32_t x = KT_IP(198, 18, 0, 30);
	const uint8_t x_mac[6] = {0x02, 0, 0, 0, 0, 0x30}, x_new[6] = {0x02, 0, 0, 0, 0, 0x31};
	uint8_t mac[6];
	uint16_t type;
	struct kt_seg seg;
	input(kt_arp_frame(KN_ARP_OP_REQUEST, x_mac, x, zero, KT_US_IP, bc));
	kt_cap_clear(&cap);
	struct kn_tcb *l = kn_tcp_listen(S, 80, 4, NULL, &err);
	assert_non_null(l);
	struct kt_tcp syn = {.src = x, .dst = KT_US_IP, .sport = 1234, .dport = 80, .seq = 100,
			     .flags = KN_TH_SYN, .win = 65535};
	input(kt_tcp_frame(&syn));
	take_frame(mac, &type, &seg);
	assert_memory_equal(mac, x_mac, 6);
	assert_int_equal(seg.flags, KN_TH_SYN | KN_TH_ACK);
	struct kt_tcp ack = {.src = x, .dst = KT_US_IP, .sport = 1234, .dport = 80, .seq = 101,
			     .ack = seg.seq + 1, .flags = KN_TH_ACK, .win = 65535};
	input(kt_tcp_frame(&ack));
	struct kn_tcb *c = kn_tcp_accept(l, NULL);
	assert_non_null(c);
	uint32_t seq = seg.seq + 1;
	assert_int_equal(kn_tcp_send(c, "a", 1), 1);
	take_frame(mac, &type, &seg);
	assert_memory_equal(mac, x_mac, 6);
	assert_int_equal(seg.seq, seq);
	assert_int_equal(seg.len, 1);
	/* x moves and announces itself: the next segment follows. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, x_new, x, zero, x, bc));
	kt_cap_clear(&cap);
	assert_int_equal(kn_tcp_send(c, "b", 1), 1);
	take_frame(mac, &type, &seg);
	assert_memory_equal(mac, x_new, 6);
	assert_int_equal(seg.seq, seq + 1);
	/* Newer hosts push x's entry out of the table. */
	for (unsigned i = 0; i < conf.arp_entries + 4; i++) {
		now += KT_MS;
		uint8_t m[6] = {0x02, 0, 0, 0, 1, (uint8_t)i};
		input(kt_arp_frame(KN_ARP_OP_REQUEST, m, KT_IP(198, 18, 0, 100 + i), zero, KT_US_IP,
				   bc));
	}
	kt_cap_clear(&cap);
	assert_true(kn_stack_stats(S)->arp_evictions > 0);
	/* The next segment waits for ARP: a request for x, no TCP frame. */
	assert_int_equal(kn_tcp_send(c, "c", 1), 1);
	take_frame(mac, &type, &seg);
	assert_int_equal(type, KN_ETHERTYPE_ARP);
	input(kt_arp_frame(KN_ARP_OP_REPLY, x_mac, x, kt_us_mac, KT_US_IP, kt_us_mac));
	take_frame(mac, &type, &seg);
	assert_int_equal(type, KN_ETHERTYPE_IP4);
	assert_memory_equal(mac, x_mac, 6);
	assert_int_equal(seg.seq, seq + 2);
	assert_memory_equal(seg.data, "c", 1);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* SYNs from many spoofed on-link sources: each SYN-ACK needs ARP. The
 * table fills with entries nobody answers; the gateway's stays, and the
 * ARP requests are bounded per second. */
static void test_arp_gateway_survives_syn_flood(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 5000, NULL, &err);
	uint8_t mac[6];
	uint16_t type;
	send_to(u, FAR_IP, mac, &type);      /* who has the gateway? */
	assert_int_equal(type, KN_ETHERTYPE_ARP);
	input(kt_arp_frame(KN_ARP_OP_REPLY, gw_mac, GW_IP, kt_us_mac, KT_US_IP, kt_us_mac));
	assert_int_equal(cap.n, 1);
	kt_cap_clear(&cap);
	struct kn_tcb *l = kn_tcp_listen(S, 80, 1024, NULL, &err);
	assert_non_null(l);
	now += KT_SEC;   /* a new second for the ARP request bound */
	const unsigned nsyn = 120;
	for (unsigned i = 0; i < nsyn; i++) {
		struct kt_tcp t = {.src = KT_IP(198, 18, 0, 10 + i), .dst = KT_US_IP,
				   .sport = (uint16_t)(1000 + i), .dport = 80, .seq = 1,
				   .flags = KN_TH_SYN, .win = 1000};
		input(kt_tcp_frame(&t));
	}
	assert_int_equal(kt_drops(S, KN_DROP_TCP_LISTEN_OVERFLOW), 0);
	const struct kn_stats *stt = kn_stack_stats(S);
	assert_true(stt->arp_evictions >= nsyn - conf.arp_entries);
	assert_true(kt_drops(S, KN_DROP_ARP_EVICTED) >= nsyn - conf.arp_entries);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_TABLE_FULL), 0);
	/* At most arp_max_requests this second, the rest counted. */
	assert_int_equal(cap.n, conf.arp_max_requests);
	assert_int_equal(stt->arp_requests_ratelimited, nsyn - conf.arp_max_requests);
	kt_cap_clear(&cap);
	/* Off-link traffic still goes straight to the gateway. */
	send_to(u, FAR_IP, mac, &type);
	assert_int_equal(type, KN_ETHERTYPE_IP4);
	assert_memory_equal(mac, gw_mac, 6);
	kn_tcp_close(l);
	kn_udp_close(u);
}

/* Unanswered entries make way for new ones (oldest first), and go with
 * what waits on them once their tries are spent. */
static void test_arp_incomplete_evicted_and_freed(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 5000, NULL, &err);
	const unsigned nhosts = 100, slots = conf.arp_entries; /* besides the static one */
	for (unsigned i = 0; i < nhosts; i++)
		assert_int_equal(kn_udp_sendto(u, "x", 1, KT_IP(198, 18, 0, 100 + i), 9), 1);
	kn_stack_flush(S);
	assert_int_equal(cap.n, nhosts);     /* one request each */
	kt_cap_clear(&cap);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_TABLE_FULL), 0);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_EVICTED), nhosts - slots);
	/* The newest host answers: its datagram leaves. */
	static const uint8_t hmac[6] = {0x02, 7, 7, 7, 7, 7};
	input(kt_arp_frame(KN_ARP_OP_REPLY, hmac, KT_IP(198, 18, 0, 100 + nhosts - 1), kt_us_mac,
			   KT_US_IP, kt_us_mac));
	assert_int_equal(cap.n, 1);
	kt_cap_clear(&cap);
	/* The oldest was evicted: an answer for it now teaches nothing. */
	input(kt_arp_frame(KN_ARP_OP_REPLY, hmac, KT_IP(198, 18, 0, 100), kt_us_mac, KT_US_IP,
			   kt_us_mac));
	assert_int_equal(kt_drops(S, KN_DROP_ARP_UNSOLICITED), 1);
	/* The rest give up after their tries: their packets dropped, counted. */
	for (int i = 0; i < 5; i++) {
		now += 2 * KT_SEC;
		kn_stack_timers(S, now);
		kn_stack_flush(S);
		kt_cap_clear(&cap);
	}
	assert_int_equal(kt_drops(S, KN_DROP_ARP_UNRESOLVED), slots - 1);
	/* ... and their slots are free again: as many new hosts fit without
	 * evicting anything. */
	for (unsigned i = 0; i < slots - 1; i++)
		assert_int_equal(kn_udp_sendto(u, "x", 1, KT_IP(198, 18, 0, 10 + i), 9), 1);
	kn_stack_flush(S);
	assert_int_equal(cap.n, slots - 1);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_EVICTED), nhosts - slots);
	kn_udp_close(u);
}

/* ---- sources IPv4 refuses ------------------------------------------------ */

static void test_bad_sources(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 4000, NULL, &err);
	struct kn_tcb *l = kn_tcp_listen(S, 80, 8, NULL, &err);
	assert_non_null(l);
	/* LAND: a SYN from our own address and port to us. */
	struct kt_tcp t = {.src = KT_US_IP, .dst = KT_US_IP, .sport = 80, .dport = 80, .seq = 1,
			   .flags = KN_TH_SYN, .win = 1000};
	input(kt_tcp_frame(&t));
	assert_int_equal(kt_drops(S, KN_DROP_IP_SRC_LAND), 1);
	assert_int_equal(cap.n, 0);
	static const struct {
		uint32_t src;
		enum kn_drop_reason why;
	} bad[] = {
		{KT_IP(127, 0, 0, 1), KN_DROP_IP_SRC_LOOPBACK},
		{KT_IP(127, 200, 1, 1), KN_DROP_IP_SRC_LOOPBACK},
		{KT_IP(0, 0, 0, 0), KN_DROP_IP_SRC_THIS_NET},
		{KT_IP(0, 1, 2, 3), KN_DROP_IP_SRC_THIS_NET},
		{KT_IP(240, 0, 0, 1), KN_DROP_IP_SRC_RESERVED},
		{KT_IP(254, 255, 255, 255), KN_DROP_IP_SRC_RESERVED},
		{KT_IP(255, 255, 255, 255), KN_DROP_IP_BAD_SRC},
		{KT_IP(224, 0, 0, 1), KN_DROP_IP_BAD_SRC},
		{KT_IP(198, 18, 0, 255), KN_DROP_IP_BAD_SRC},   /* our subnet's broadcast */
		/* The edges of each class. */
		{KT_IP(0, 255, 255, 255), KN_DROP_IP_SRC_THIS_NET},
		{KT_IP(224, 0, 0, 0), KN_DROP_IP_BAD_SRC},
		{KT_IP(239, 255, 255, 255), KN_DROP_IP_BAD_SRC},
		{KT_IP(240, 0, 0, 0), KN_DROP_IP_SRC_RESERVED},
		{KT_IP(255, 0, 0, 0), KN_DROP_IP_SRC_RESERVED},
		{KT_IP(255, 255, 255, 254), KN_DROP_IP_SRC_RESERVED},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t before = kt_drops(S, bad[i].why);
		input(kt_udp_frame(bad[i].src, KT_US_IP, 9, 4000, "bad", 3));
		assert_int_equal(kt_drops(S, bad[i].why), before + 1);
		t.src = bad[i].src;
		t.sport = 1234;
		input(kt_tcp_frame(&t));
		assert_int_equal(kt_drops(S, bad[i].why), before + 2);
	}
	char buf[8];
	assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), -EAGAIN);
	assert_int_equal(cap.n, 0);
	/* Neighbours of those stay good: the subnet's network address, another
	 * subnet's .255, 1.0.0.0, 126.255.255.255, 128.0.0.0, 223.255.255.254. */
	static const uint32_t good[] = {KT_IP(198, 18, 0, 0), KT_IP(198, 18, 1, 255),
					KT_IP(1, 0, 0, 0), KT_IP(126, 255, 255, 255),
					KT_IP(128, 0, 0, 0), KT_IP(223, 255, 255, 254),
					KT_IP(223, 255, 255, 255)};
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		input(kt_udp_frame(good[i], KT_US_IP, 9, 4000, "ok", 2));
		assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), 2);
	}
	kn_tcp_close(l);
	kn_udp_close(u);
	kn_stack_flush(S);
}

/* Our subnet's broadcast follows the netmask: 198.18.0.3 on a /30, none on
 * a /31 (RFC 3021: .3 is the other end) or a /32. */
static void test_bad_source_broadcast_by_netmask(void **st)
{
	(void)st;
	static const struct {
		uint32_t mask;
		bool bcast_bad;
	} nets[] = {{0xfffffffcu, true}, {0xfffffffeu, false}, {0xffffffffu, false}};
	for (unsigned i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		kn_stack_destroy(S);
		kt_conf(&conf, KT_US_IP);
		conf.netmask = nets[i].mask;
		conf.gateway = KT_IP(198, 18, 0, 1);
		S = kt_stack(&cap, &conf, now);
		int err;
		struct kn_udp *u = kn_udp_bind(S, 4000, NULL, &err);
		assert_non_null(u);
		uint64_t before = kt_drops(S, KN_DROP_IP_BAD_SRC);
		char buf[8];
		input(kt_udp_frame(KT_IP(198, 18, 0, 3), KT_US_IP, 9, 4000, "b", 1));
		if (nets[i].bcast_bad) {
			assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_SRC), before + 1);
			assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), -EAGAIN);
		} else {
			assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), 1);
		}
		/* The /24's broadcast is nobody's here. */
		input(kt_udp_frame(KT_IP(198, 18, 0, 255), KT_US_IP, 9, 4000, "g", 1));
		assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), 1);
		assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_SRC), before + nets[i].bcast_bad);
		kn_udp_close(u);
		kn_stack_flush(S);
		kt_cap_clear(&cap);
	}
}

int main(void)
{
	int rc = kt_eal_init("net-tables", 4096);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_frag_lone_firsts_then_legit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_timeout_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_source_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_oversize_and_endless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_memory_cap_evicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_learn_only_when_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_static_survives_spoof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_unsolicited_reply_keeps_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_gateway_survives_syn_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_segments_follow_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_incomplete_evicted_and_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_source_broadcast_by_netmask, setup, teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
