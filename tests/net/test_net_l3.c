/* Ethernet, ARP, IPv4 (with reassembly), ICMP and UDP, frame by frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_test.h"
#include "net/wire.h"

static struct kt_cap cap;
static struct kn_stack *S;
static struct kn_stack_conf conf;
static int64_t now = 1000 * KT_SEC;

static int setup(void **st)
{
	(void)st;
	kt_cap_init(&cap, KN_DEV_TX_MULTI_SEG);
	kt_conf(&conf, KT_US_IP);
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

static void test_gratuitous_arp(void **st)
{
	(void)st;
	struct kt_cap c2;
	kt_cap_init(&c2, 0);
	struct kn_stack_conf cf;
	kt_conf(&cf, KT_US_IP);
	int err;
	struct kn_stack *s = kn_stack_create(&cf, &c2.dev, kt_pool, now, &err);
	assert_non_null(s);
	kn_stack_flush(s);
	assert_int_equal(c2.n, 1);
	uint8_t b[64];
	kt_flatten(c2.out[0], b, sizeof(b));
	const struct kn_arp_hdr *ah = (const struct kn_arp_hdr *)(b + 14);
	assert_int_equal(rte_be_to_cpu_16(ah->op), KN_ARP_OP_REQUEST);
	assert_int_equal(rte_be_to_cpu_32(ah->spa), KT_US_IP);
	assert_int_equal(rte_be_to_cpu_32(ah->tpa), KT_US_IP);
	kt_cap_clear(&c2);
	kn_stack_destroy(s);
}

static void test_arp_reply(void **st)
{
	(void)st;
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, z[6] = {0};
	static const uint8_t other[6] = {0x02, 9, 9, 9, 9, 9};
	input(kt_arp_frame(KN_ARP_OP_REQUEST, other, KT_IP(198, 18, 0, 9), z, KT_US_IP, bc));
	assert_int_equal(cap.n, 1);
	uint8_t b[64];
	kt_flatten(cap.out[0], b, sizeof(b));
	const struct kn_eth_hdr *eh = (const struct kn_eth_hdr *)b;
	const struct kn_arp_hdr *ah = (const struct kn_arp_hdr *)(b + 14);
	assert_memory_equal(eh->dst, other, 6);
	assert_int_equal(rte_be_to_cpu_16(ah->op), KN_ARP_OP_REPLY);
	assert_memory_equal(ah->sha, kt_us_mac, 6);
	assert_int_equal(rte_be_to_cpu_32(ah->spa), KT_US_IP);
	assert_int_equal(rte_be_to_cpu_32(ah->tpa), KT_IP(198, 18, 0, 9));
	kt_cap_clear(&cap);
	/* Not for us: no reply, named drop. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, other, KT_IP(198, 18, 0, 9), z, KT_IP(198, 18, 0, 77), bc));
	assert_int_equal(cap.n, 0);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_NOT_FOR_US), 1);
	/* Sender claiming our address. */
	input(kt_arp_frame(KN_ARP_OP_REQUEST, other, KT_US_IP, z, KT_US_IP, bc));
	assert_int_equal(kt_drops(S, KN_DROP_ARP_BAD_SENDER), 1);
}

static void test_arp_resolve_queue_and_age(void **st)
{
	(void)st;
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t hmac[6] = {0x02, 7, 7, 7, 7, 7};
	int err;
	struct kn_udp *u = kn_udp_bind(S, 5000, NULL, &err);
	assert_non_null(u);
	uint32_t h = KT_IP(198, 18, 0, 7);
	for (int i = 0; i < 10; i++)
		assert_int_equal(kn_udp_sendto(u, "x", 1, h, 9), 1);
	kn_stack_flush(S);
	/* One ARP request; 8 queued (arp_queue), 2 dropped with a reason. */
	assert_int_equal(cap.n, 1);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_QUEUE_FULL), 2);
	kt_cap_clear(&cap);
	input(kt_arp_frame(KN_ARP_OP_REPLY, hmac, h, kt_us_mac, KT_US_IP, kt_us_mac));
	assert_int_equal(cap.n, 8);
	uint8_t b[64];
	kt_flatten(cap.out[0], b, sizeof(b));
	assert_memory_equal(b, hmac, 6);
	kt_cap_clear(&cap);
	/* Ages out: the next packet asks again. */
	now += conf.arp_timeout_ns + KT_SEC;
	kn_stack_timers(S, now);
	assert_int_equal(kn_udp_sendto(u, "x", 1, h, 9), 1);
	kn_stack_flush(S);
	assert_int_equal(cap.n, 1);
	kt_flatten(cap.out[0], b, sizeof(b));
	assert_memory_equal(b, bc, 6);
	kt_cap_clear(&cap);
	/* Unanswered: retries, then the queued packet is dropped. */
	for (int i = 0; i < 5; i++) {
		now += 2 * KT_SEC;
		kn_stack_timers(S, now);
		kn_stack_flush(S);
	}
	assert_int_equal(cap.n, 2);
	assert_int_equal(kt_drops(S, KN_DROP_ARP_UNRESOLVED), 1);
	kt_cap_clear(&cap);
	/* Static entries never age. */
	assert_int_equal(kn_udp_sendto(u, "x", 1, KT_PEER_IP, 9), 1);
	kn_stack_flush(S);
	assert_int_equal(cap.n, 1);
	kt_flatten(cap.out[0], b, sizeof(b));
	assert_memory_equal(b, kt_peer_mac, 6);
	kn_udp_close(u);
}

/* Bifurcation: the kernel owns ARP; the stack asks a resolver instead, sends
 * no ARP of its own, retries misses on its timer, and takes kn_arp_set. */
static int resolver_calls, resolver_hit_after;
static int fake_resolver(void *arg, uint32_t ip, uint8_t mac[6])
{
	(void)arg;
	(void)ip;
	resolver_calls++;
	if (resolver_calls < resolver_hit_after)
		return -1;
	static const uint8_t m[6] = {0x02, 9, 9, 9, 9, 9};
	memcpy(mac, m, 6);
	return 0;
}

static void test_neigh_resolver(void **st)
{
	(void)st;
	struct kt_cap c2;
	kt_cap_init(&c2, KN_DEV_TX_MULTI_SEG);
	struct kn_stack_conf cf;
	kt_conf(&cf, KT_US_IP);
	cf.neigh_resolve = fake_resolver;
	cf.neigh_tries = 3;
	int err;
	struct kn_stack *s = kn_stack_create(&cf, &c2.dev, kt_pool, now, &err);
	assert_non_null(s);
	kn_stack_flush(s);
	assert_int_equal(c2.n, 0); /* no gratuitous ARP on a shared interface */
	struct kn_udp *u = kn_udp_bind(s, 5001, NULL, &err);
	assert_non_null(u);
	uint32_t h = KT_IP(198, 18, 0, 9);
	resolver_calls = 0;
	resolver_hit_after = 3;
	assert_int_equal(kn_udp_sendto(u, "x", 1, h, 9), 1);
	kn_stack_flush(s);
	assert_int_equal(c2.n, 0); /* a miss: queued, no ARP request */
	int64_t t = now;
	for (int i = 0; i < 3 && c2.n == 0; i++) {
		t += cf.neigh_retry_ns;
		kn_stack_timers(s, t);
		kn_stack_flush(s);
	}
	assert_int_equal(c2.n, 1); /* resolved on a retry, then sent */
	uint8_t b[64];
	kt_flatten(c2.out[0], b, sizeof(b));
	assert_int_equal(b[0], 0x02);
	assert_int_equal(b[1], 9);
	kt_cap_clear(&c2);
	/* Never resolved: dropped with a reason after neigh_tries. */
	resolver_calls = 0;
	resolver_hit_after = 1000;
	assert_int_equal(kn_udp_sendto(u, "x", 1, KT_IP(198, 18, 0, 10), 9), 1);
	for (int i = 0; i < 5; i++) {
		t += cf.neigh_retry_ns;
		kn_stack_timers(s, t);
	}
	kn_stack_flush(s);
	assert_int_equal(c2.n, 0);
	assert_int_equal(kt_drops(s, KN_DROP_ARP_UNRESOLVED), 1);
	/* Set from outside: used at once. */
	static const uint8_t m3[6] = {0x02, 3, 3, 3, 3, 3};
	assert_int_equal(kn_arp_set(s, KT_IP(198, 18, 0, 11), m3), 0);
	assert_int_equal(kn_udp_sendto(u, "x", 1, KT_IP(198, 18, 0, 11), 9), 1);
	kn_stack_flush(s);
	assert_int_equal(c2.n, 1);
	kt_flatten(c2.out[0], b, sizeof(b));
	assert_memory_equal(b, m3, 6);
	kn_udp_close(u);
	kn_stack_destroy(s);
	kt_cap_clear(&c2);
}

static void test_icmp_echo(void **st)
{
	(void)st;
	uint8_t data[100];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	input(kt_icmp_echo_frame(KT_PEER_IP, KT_US_IP, 0x1234, 7, data, sizeof(data)));
	assert_int_equal(cap.n, 1);
	uint8_t b[256];
	uint32_t n = kt_flatten(cap.out[0], b, sizeof(b));
	assert_int_equal(n, 14 + 20 + 8 + sizeof(data));
	const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(b + 14);
	const struct kn_icmp_hdr *ic = (const struct kn_icmp_hdr *)(b + 34);
	assert_int_equal(rte_be_to_cpu_32(ip->dst), KT_PEER_IP);
	assert_int_equal(ic->type, KN_ICMP_ECHOREPLY);
	assert_int_equal(rte_be_to_cpu_16(ic->u.echo.id), 0x1234);
	assert_memory_equal(b + 42, data, sizeof(data));
	/* Valid checksums. */
	uint32_t sum = 0;
	for (uint32_t i = 34; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);
	assert_int_equal(kn_stack_stats(S)->icmp_echo_replies, 1);
}

static void test_udp_port_unreachable_and_recv(void **st)
{
	(void)st;
	input(kt_udp_frame(KT_PEER_IP, KT_US_IP, 1111, 2222, "hello", 5));
	assert_int_equal(kt_drops(S, KN_DROP_UDP_NO_PORT), 1);
	assert_int_equal(cap.n, 1);
	uint8_t b[256];
	kt_flatten(cap.out[0], b, sizeof(b));
	const struct kn_icmp_hdr *ic = (const struct kn_icmp_hdr *)(b + 34);
	assert_int_equal(ic->type, KN_ICMP_UNREACH);
	assert_int_equal(ic->code, KN_ICMP_UNREACH_PORT);
	kt_cap_clear(&cap);

	struct kt_ev ev = {0};
	int err;
	struct kn_udp *u = kn_udp_bind(S, 2222, &ev, &err);
	assert_non_null(u);
	assert_null(kn_udp_bind(S, 2222, NULL, &err));
	assert_int_equal(err, -EADDRINUSE);
	input(kt_udp_frame(KT_PEER_IP, KT_US_IP, 1111, 2222, "hello", 5));
	assert_true(ev.events & KN_EV_READABLE);
	char buf[16];
	uint32_t ip;
	uint16_t port;
	assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), &ip, &port), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ip, KT_PEER_IP);
	assert_int_equal(port, 1111);
	assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), &ip, &port), -EAGAIN);
	/* Too big for the MTU. */
	static char big[1500];
	assert_int_equal(kn_udp_sendto(u, big, sizeof(big), KT_PEER_IP, 1), -EMSGSIZE);
	/* Unroutable. */
	assert_int_equal(kn_udp_sendto(u, big, 1, KT_IP(10, 0, 0, 1), 1), -ENETUNREACH);
	/* Queued datagrams are freed by close. */
	input(kt_udp_frame(KT_PEER_IP, KT_US_IP, 1111, 2222, "again", 5));
	kn_udp_close(u);
}

static void test_fragments(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 3000, NULL, &err);
	/* A 3000-byte UDP datagram in three fragments, delivered out of order. */
	static uint8_t dg[8 + 3000];
	struct kn_udp_hdr *uh = (struct kn_udp_hdr *)dg;
	uh->sport = rte_cpu_to_be_16(7);
	uh->dport = rte_cpu_to_be_16(3000);
	uh->len = rte_cpu_to_be_16(sizeof(dg));
	uh->csum = 0;
	for (unsigned i = 8; i < sizeof(dg); i++)
		dg[i] = (uint8_t)(i * 7);
	for (int round = 0; round < 2; round++) {
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 42, KN_IP_MF | (1400 / 8), dg + 1400, 1400));
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 42, 2800 / 8, dg + 2800, sizeof(dg) - 2800));
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 42, KN_IP_MF, dg, 1400));
		static uint8_t out[4000];
		assert_int_equal(kn_udp_recvfrom(u, out, sizeof(out), NULL, NULL), 3000);
		assert_memory_equal(out, dg + 8, 3000);
	}
	assert_int_equal(kn_stack_stats(S)->ip_reassembled, 2);
	/* Overlap: the whole datagram goes. */
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 43, KN_IP_MF, dg, 1400));
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 43, KN_IP_MF | (1392 / 8), dg + 1392, 1400));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_OVERLAP), 2);
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 43, 2800 / 8, dg + 2800, sizeof(dg) - 2800));
	assert_int_equal(kn_udp_recvfrom(u, dg, 1, NULL, NULL), -EAGAIN);
	/* Timeout frees the rest. */
	now += conf.frag_timeout_ns + KT_SEC;
	kn_stack_timers(S, now);
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TIMEOUT), 1);
	/* Bad sizes: a middle piece not a multiple of 8, past 65535. */
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 44, KN_IP_MF, dg, 13));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_BAD), 1);
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 45, 8190, dg, 100));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_TOO_BIG), 1);
	/* One source holds no more than its share of contexts: each datagram
	 * past it evicts that source's oldest (test_net_tables has more). */
	for (int i = 0; i < 100; i++)
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, (uint16_t)(100 + i), KN_IP_MF, dg, 1400));
	assert_int_equal(kt_drops(S, KN_DROP_FRAG_SRC_LIMIT), 100 - conf.frag_max_per_src);
	kn_udp_close(u);
}

/* ---- hostile input ------------------------------------------------------ */

static void feed_truncations(struct rte_mbuf *m)
{
	uint8_t b[2048];
	uint32_t n = kt_flatten(m, b, sizeof(b));
	rte_pktmbuf_free(m);
	for (uint32_t len = 0; len < n; len++) {
		struct rte_mbuf *x = rte_pktmbuf_alloc(kt_pool);
		memcpy(rte_pktmbuf_append(x, (uint16_t)len), b, len);
		if (len == 0)
			x->data_len = x->pkt_len = 0;
		input(x);
	}
	kt_cap_clear(&cap);
}

static void test_truncated_every_length(void **st)
{
	(void)st;
	static const uint8_t opts[] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = 1, .dport = 80,
			   .seq = 1, .flags = KN_TH_SYN, .win = 1000, .opt = opts, .optlen = sizeof(opts),
			   .data = "abc", .len = 3};
	const struct kn_stats *stt = kn_stack_stats(S);
	uint64_t before = 0;
	for (int i = 0; i < KN_DROP_MAX; i++)
		before += stt->drops[i];
	struct rte_mbuf *frames[] = {
		kt_tcp_frame(&t),
		kt_udp_frame(KT_PEER_IP, KT_US_IP, 1, 2, "datagram", 8),
		kt_icmp_echo_frame(KT_PEER_IP, KT_US_IP, 1, 1, "ping", 4),
	};
	uint32_t total = 0;
	for (unsigned i = 0; i < 3; i++) {
		total += frames[i]->pkt_len;
		feed_truncations(frames[i]);
	}
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, z[6] = {0};
	struct rte_mbuf *arp = kt_arp_frame(KN_ARP_OP_REQUEST, kt_peer_mac, KT_PEER_IP, z, KT_US_IP, bc);
	rte_pktmbuf_trim(arp, 60 - 42);
	total += arp->pkt_len;
	feed_truncations(arp);
	uint64_t after = 0;
	for (int i = 0; i < KN_DROP_MAX; i++)
		after += stt->drops[i];
	/* Every truncated frame was dropped, each with a reason. */
	assert_int_equal(after - before, total);
	assert_true(kt_drops(S, KN_DROP_ETH_TRUNCATED) == 14 * 4);
	assert_true(kt_drops(S, KN_DROP_IP_TRUNCATED) == 20 * 3);
	assert_true(kt_drops(S, KN_DROP_IP_BAD_LENGTH) > 0);
	assert_true(kt_drops(S, KN_DROP_ARP_TRUNCATED) == 28);
	/* The counters print by name. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_true(kn_stack_dump_stats(S, f) > 5);
	fclose(f);
	assert_non_null(strstr(text, "drop_ETH_TRUNCATED 56\n"));
	assert_non_null(strstr(text, "eth_rx "));
	free(text);
	assert_string_equal(kn_drop_name(KN_DROP_TCP_BAD_OPTION), "TCP_BAD_OPTION");
}

static struct rte_mbuf *mutate(struct rte_mbuf *m, uint32_t off, uint8_t val)
{
	uint8_t b[2048];
	uint32_t n = kt_flatten(m, b, sizeof(b));
	rte_pktmbuf_free(m);
	b[off] = val;
	return kt_frame_from(b, n);
}

static void test_bad_checksums_and_lengths(void **st)
{
	(void)st;
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = 1, .dport = 80,
			   .seq = 1, .flags = KN_TH_SYN, .win = 1000};
	struct rte_mbuf *m;
	/* IP checksum. */
	m = kt_tcp_frame(&t);
	input(mutate(m, 14 + 10, rte_pktmbuf_mtod(m, uint8_t *)[24] ^ 0x40));
	assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_CSUM), 1);
	/* TCP checksum. */
	m = kt_tcp_frame(&t);
	input(mutate(m, 34 + 16, rte_pktmbuf_mtod(m, uint8_t *)[50] ^ 1));
	assert_int_equal(kt_drops(S, KN_DROP_TCP_BAD_CSUM), 1);
	/* UDP checksum. */
	m = kt_udp_frame(KT_PEER_IP, KT_US_IP, 1, 2, "abcd", 4);
	input(mutate(m, 42, 'z'));
	assert_int_equal(kt_drops(S, KN_DROP_UDP_BAD_CSUM), 1);
	/* ICMP checksum. */
	m = kt_icmp_echo_frame(KT_PEER_IP, KT_US_IP, 1, 1, "ping", 4);
	input(mutate(m, 42, 'q'));
	assert_int_equal(kt_drops(S, KN_DROP_ICMP_BAD_CSUM), 1);
	/* IP version, IHL. */
	input(mutate(kt_tcp_frame(&t), 14, 0x65));
	assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_VERSION), 1);
	input(mutate(kt_tcp_frame(&t), 14, 0x44));
	assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_IHL), 1);
	/* IP total length longer than the frame (checksum fixed so the lie is
	 * what gets caught). */
	uint8_t p[8] = {0};
	m = kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 1, 0, p, 8);
	{
		uint8_t b[128];
		uint32_t n = kt_flatten(m, b, sizeof(b));
		rte_pktmbuf_free(m);
		struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)(b + 14);
		ip->len = rte_cpu_to_be_16(200);
		ip->csum = 0;
		uint32_t sum = 0;
		for (int i = 0; i < 20; i += 2)
			sum += (uint32_t)(b[14 + i] << 8 | b[15 + i]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		ip->csum = rte_cpu_to_be_16((uint16_t)~sum);
		input(kt_frame_from(b, n));
		assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_LENGTH), 1);
		/* ... and shorter than its own header. */
		ip->len = rte_cpu_to_be_16(12);
		ip->csum = 0;
		sum = 0;
		for (int i = 0; i < 20; i += 2)
			sum += (uint32_t)(b[14 + i] << 8 | b[15 + i]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		ip->csum = rte_cpu_to_be_16((uint16_t)~sum);
		input(kt_frame_from(b, n));
		assert_int_equal(kt_drops(S, KN_DROP_IP_BAD_LENGTH), 2);
	}
	/* UDP length larger than the datagram. */
	{
		uint8_t u[12] = {0, 1, 0, 2, 0, 40, 0, 0, 'a', 'b', 'c', 'd'};
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 1, 0, u, sizeof(u)));
		assert_int_equal(kt_drops(S, KN_DROP_UDP_TRUNCATED), 1);
		u[5] = 4; /* below the header */
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_UDP, 1, 0, u, sizeof(u)));
		assert_int_equal(kt_drops(S, KN_DROP_UDP_TRUNCATED), 2);
	}
	/* TCP data offset past the segment and below 5. */
	{
		uint8_t th[20] = {0, 1, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0xf0, KN_TH_SYN, 4, 0, 0, 0, 0, 0};
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_TCP, 1, 0, th, sizeof(th)));
		assert_int_equal(kt_drops(S, KN_DROP_TCP_BAD_OFF), 1);
		th[12] = 0x40;
		input(kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_TCP, 1, 0, th, sizeof(th)));
		assert_int_equal(kt_drops(S, KN_DROP_TCP_BAD_OFF), 2);
	}
	/* Unknown protocol answers protocol-unreachable. */
	input(kt_ip_frame(KT_PEER_IP, KT_US_IP, 99, 1, 0, p, 8));
	assert_int_equal(kt_drops(S, KN_DROP_IP_UNKNOWN_PROTO), 1);
	/* Not our address, not our MAC, unknown EtherType, TTL 0. */
	input(kt_ip_frame(KT_PEER_IP, KT_IP(198, 18, 0, 50), KN_IPPROTO_UDP, 1, 0, p, 8));
	assert_int_equal(kt_drops(S, KN_DROP_IP_NOT_FOR_US), 1);
	input(mutate(kt_tcp_frame(&t), 0, 0x04));
	assert_int_equal(kt_drops(S, KN_DROP_ETH_NOT_FOR_US), 1);
	input(mutate(kt_tcp_frame(&t), 12, 0x86));
	assert_int_equal(kt_drops(S, KN_DROP_ETH_UNKNOWN_TYPE), 1);
}

static void test_ip_options_and_ttl(void **st)
{
	(void)st;
	int err;
	struct kn_udp *u = kn_udp_bind(S, 4000, NULL, &err);
	/* An IPv4 header with 8 bytes of options (NOPs and an EOL): skipped. */
	uint8_t b[128];
	struct rte_mbuf *m = kt_udp_frame(KT_PEER_IP, KT_US_IP, 9, 4000, "opts", 4);
	uint32_t n = kt_flatten(m, b, sizeof(b));
	rte_pktmbuf_free(m);
	uint8_t f[128];
	memcpy(f, b, 34);
	memcpy(f + 34, "\x01\x01\x01\x01\x01\x01\x01\x00", 8);
	memcpy(f + 42, b + 34, n - 34);
	struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)(f + 14);
	ip->ver_ihl = 0x47;
	ip->len = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ip->len) + 8));
	ip->csum = 0;
	uint32_t sum = 0;
	for (int i = 0; i < 28; i += 2)
		sum += (uint32_t)(f[14 + i] << 8 | f[15 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->csum = rte_cpu_to_be_16((uint16_t)~sum);
	input(kt_frame_from(f, n + 8));
	char buf[8];
	assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), 4);
	assert_memory_equal(buf, "opts", 4);
	/* IHL past the frame. */
	ip->ver_ihl = 0x4f;
	ip->csum = 0;
	input(kt_frame_from(f, 14 + 40));
	assert_int_equal(kt_drops(S, KN_DROP_IP_TRUNCATED), 1);
	/* TTL 0. */
	m = kt_udp_frame(KT_PEER_IP, KT_US_IP, 9, 4000, "ttl0", 4);
	n = kt_flatten(m, b, sizeof(b));
	rte_pktmbuf_free(m);
	ip = (struct kn_ip4_hdr *)(b + 14);
	ip->ttl = 0;
	ip->csum = 0;
	sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(b[14 + i] << 8 | b[15 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->csum = rte_cpu_to_be_16((uint16_t)~sum);
	input(kt_frame_from(b, n));
	assert_int_equal(kt_drops(S, KN_DROP_IP_TTL_ZERO), 1);
	/* Ethernet padding after a short datagram is trimmed, not data. */
	m = kt_udp_frame(KT_PEER_IP, KT_US_IP, 9, 4000, "pad", 3);
	n = kt_flatten(m, b, sizeof(b));
	rte_pktmbuf_free(m);
	memset(b + n, 0xee, 60 - n);
	input(kt_frame_from(b, 60));
	assert_int_equal(kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL), 3);
	kn_udp_close(u);
}

static void test_tcp_option_lengths(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, 80, 8, NULL, &err);
	assert_non_null(l);
	static const uint8_t bad[][8] = {
		{2, 0, 0, 0, 0, 0, 0, 0},   /* length 0 */
		{8, 1, 0, 0, 0, 0, 0, 0},   /* length 1 */
		{2, 4, 5, 0xb4, 8, 10, 0, 0}, /* past the header */
		{1, 1, 1, 1, 1, 1, 1, 3},   /* kind with no length byte */
	};
	for (unsigned i = 0; i < 4; i++) {
		struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = 1, .dport = 80,
				   .seq = 1, .flags = KN_TH_SYN, .win = 1000, .opt = bad[i], .optlen = 8};
		input(kt_tcp_frame(&t));
	}
	assert_int_equal(kt_drops(S, KN_DROP_TCP_BAD_OPTION), 4);
	assert_int_equal(cap.n, 0);
	/* EOL then garbage is fine. */
	static const uint8_t ok[8] = {2, 4, 5, 0xb4, 0, 0xff, 0xff, 0xff};
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = 1, .dport = 80,
			   .seq = 1, .flags = KN_TH_SYN, .win = 1000, .opt = ok, .optlen = 8};
	input(kt_tcp_frame(&t));
	assert_int_equal(cap.n, 1);
	kn_tcp_close(l);
	kn_stack_flush(S);
}

int main(void)
{
	int rc = kt_eal_init("net-l3", 2048);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gratuitous_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_resolve_queue_and_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neigh_resolver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_port_unreachable_and_recv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_every_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_checksums_and_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip_options_and_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_option_lengths, setup, teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
