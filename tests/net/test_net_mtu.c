/* The MTU everywhere: a peer's tiny MSS, pings above the MTU, ICMP
 * "fragmentation needed" abuse and its expiry. Every frame the stack emits
 * is checked against the MTU (and, on a device that cannot chain, for being
 * one buffer). Timestamps are on: they are what made MSS 0..11 underflow. */
#include <string.h>

#include "tcp_harness.h"
#include "net/net_int.h"

#define PISN 5000u
#define MTU 1500u
#define FRAME_MAX (MTU + 14u)

static uint16_t our_port = LPORT;  /* the stack's port in the connection under test */
static uint32_t peer_tsval = 100, our_tsval;
static bool single_seg;            /* the device cannot chain */

static void ts_on(struct kn_stack_conf *c)
{
	c->tcp.timestamps = true;
	c->tcp.wscale = false;
}

/* A fresh stack with timestamps on, on a device with @offloads. */
static void setup_dev(uint32_t offloads, uint16_t mtu)
{
	th_setup(ts_on);
	kn_stack_destroy(S);
	kt_cap_init(&cap, offloads);
	conf.mtu = mtu;
	S = kt_stack(&cap, &conf, now);
	single_seg = !(offloads & KN_DEV_TX_MULTI_SEG);
	our_port = LPORT;
	peer_tsval = 100;
	our_tsval = 0;
}

static int setup_plain(void **st)
{
	(void)st;
	setup_dev(0, 0);
	return 0;
}

static int setup_chain(void **st)
{
	(void)st;
	setup_dev(KN_DEV_TX_MULTI_SEG, 0);
	return 0;
}

static int teardown(void **st)
{
	return th_teardown(st);
}

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The next frame the stack sent, checked against the MTU. */
static struct rte_mbuf *take_frame(uint32_t mtu)
{
	kn_stack_flush(S);
	struct rte_mbuf *m = kt_cap_take(&cap);
	if (!m)
		return NULL;
	assert_true(m->pkt_len <= mtu + 14u);
	if (single_seg) {
		assert_int_equal(m->nb_segs, 1);
		assert_true(RTE_MBUF_DIRECT(m));
	}
	uint8_t b[64];
	kt_flatten(m, b, sizeof(b));
	if (b[12] == 0x08 && b[13] == 0x00) {
		const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(b + 14);
		assert_true(rte_be_to_cpu_16(ip->len) <= mtu);
		assert_true(rte_be_to_cpu_16(ip->len) <= m->pkt_len - 14);
	}
	return m;
}

/* The next TCP segment, frame checked, timestamp noted. */
static bool take(struct kt_seg *s)
{
	struct rte_mbuf *m = take_frame(MTU);
	if (!m)
		return false;
	assert_true(kt_parse_tcp(m, s));
	assert_true(s->csum_ok);
	if (s->has_ts)
		our_tsval = s->tsval;
	return true;
}

/* The peer sends a segment with timestamps (and @extra options first). */
static void psend(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const uint8_t *extra,
		  uint8_t extralen, const void *data, uint32_t len)
{
	uint8_t opt[40];
	if (extralen)
		memcpy(opt, extra, extralen);
	uint8_t n = extralen;
	opt[n++] = KN_TCPOPT_NOP;
	opt[n++] = KN_TCPOPT_NOP;
	opt[n++] = KN_TCPOPT_TS;
	opt[n++] = 10;
	put32(opt + n, peer_tsval++);
	put32(opt + n + 4, our_tsval);
	n += 8;
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = our_port,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .opt = opt,
			   .optlen = n, .data = data, .len = len};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

/* Take every segment, ACK as the peer, until @end is acknowledged; check
 * each payload against @buf (the bytes from @base on) and @mss.
 * @return the length of the first data segment. */
static uint32_t pump(uint32_t base, uint32_t end, const uint8_t *buf, uint32_t mss)
{
	uint32_t first = 0, una = base;
	for (int round = 0; round < 10000 && seq_lt(una, end); round++) {
		struct kt_seg s;
		uint32_t top = una;
		bool any = false;
		while (take(&s)) {
			any = true;
			if (!s.len)
				continue;
			if (!first)
				first = s.len;
			assert_true(s.len <= mss);
			assert_memory_equal(s.data, buf + (s.seq - base), s.len);
			if (seq_lt(top, s.seq + s.len) && !seq_lt(top, s.seq))
				top = s.seq + s.len;
		}
		if (!any) {
			tick(250 * KT_MS); /* let a timer send it */
			continue;
		}
		una = top;
		psend(KN_TH_ACK, PISN + 1, una, 65535, NULL, 0, NULL, 0);
	}
	assert_int_equal(una, end);
	return first;
}

static uint32_t open_passive(struct kn_tcb **lp, struct kn_tcb **cp, const uint8_t *mssopt,
			     uint16_t win)
{
	int err;
	*lp = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	assert_non_null(*lp);
	psend(KN_TH_SYN, PISN, 0, 65535, mssopt, mssopt ? 4 : 0, NULL, 0);
	struct kt_seg sa;
	assert_true(take(&sa));
	assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
	assert_true(sa.has_ts);
	psend(KN_TH_ACK, PISN + 1, sa.seq + 1, win, NULL, 0, NULL, 0);
	*cp = kn_tcp_accept(*lp, &cev);
	assert_non_null(*cp);
	return sa.seq;
}

/* Peer MSS 0, 1, 11 and 12 with timestamps, 8 KB held behind a zero window
 * then released: segments of Linux's sizes (MSS 0 counts as absent, the
 * rest is raised to 88), each in one buffer under the MTU, data intact. */
static void tiny_mss(uint16_t peer_mss, uint32_t want)
{
	static uint8_t data[8192];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + peer_mss);
	uint8_t mssopt[4] = {KN_TCPOPT_MSS, 4, (uint8_t)(peer_mss >> 8), (uint8_t)peer_mss};
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, mssopt, 0);
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	struct kt_seg s;
	while (take(&s))
		assert_true(s.len <= 1); /* at most a window probe */
	tick(10 * KT_MS);
	while (take(&s))
		assert_true(s.len <= 1);
	/* The window opens. */
	psend(KN_TH_ACK, PISN + 1, iss + 1, 65535, NULL, 0, NULL, 0);
	assert_int_equal(pump(iss + 1, iss + 1 + sizeof(data), data, want), want);
	/* And it still flows afterwards. */
	assert_int_equal(kn_tcp_send(c, data, 1000), 1000);
	assert_int_equal(pump(iss + 1 + sizeof(data), iss + 1 + sizeof(data) + 1000, data, want),
			 RTE_MIN(want, 1000u));
	assert_int_equal(kt_drops(S, KN_DROP_TX_TOO_BIG), 0);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

static void test_peer_mss_0(void **st)
{
	(void)st;
	tiny_mss(0, 536 - 12);
}

static void test_peer_mss_1(void **st)
{
	(void)st;
	tiny_mss(1, 88 - 12);
}

static void test_peer_mss_11(void **st)
{
	(void)st;
	tiny_mss(11, 88 - 12);
}

static void test_peer_mss_12(void **st)
{
	(void)st;
	tiny_mss(12, 88 - 12);
}

/* The same on our own connect: the SYN-ACK says MSS 11. */
static void test_active_open_tiny_mss(void **st)
{
	(void)st;
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, 0, &cev, &err);
	assert_non_null(c);
	struct kt_seg syn;
	assert_true(take(&syn));
	assert_int_equal(syn.flags, KN_TH_SYN);
	assert_true(syn.has_mss && syn.mss == MTU - 40);
	assert_true(syn.has_ts);
	our_port = syn.sport;
	static const uint8_t mssopt[4] = {KN_TCPOPT_MSS, 4, 0, 11};
	psend(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, 65535, mssopt, 4, NULL, 0);
	struct kt_seg s;
	assert_true(take(&s)); /* the ACK */
	static uint8_t data[3000];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	assert_int_equal(pump(syn.seq + 1, syn.seq + 1 + sizeof(data), data, 76), 76);
	kn_tcp_abort(c);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* ---- ICMP echo above the MTU --------------------------------------------- */

static uint16_t cksum(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ping with @n bytes of data, fragmented as a 1500-MTU sender would, and
 * check the reply: complete, right, every frame within @mtu. */
static void ping(uint32_t n, uint16_t seq, uint32_t mtu)
{
	static uint8_t req[8 + 4000], rep[8 + 4000];
	uint32_t total = 8 + n;
	memset(req, 0, 8);
	req[0] = KN_ICMP_ECHO;
	req[4] = 0x12;
	req[5] = 0x34;
	req[6] = (uint8_t)(seq >> 8);
	req[7] = (uint8_t)seq;
	for (uint32_t i = 0; i < n; i++)
		req[8 + i] = (uint8_t)(0xa5 ^ i ^ (i >> 8) ^ seq);
	uint16_t c = cksum(req, total);
	req[2] = (uint8_t)(c >> 8);
	req[3] = (uint8_t)c;
	uint16_t ipid = (uint16_t)(0x100 + seq);
	for (uint32_t off = 0; off < total; off += 1480) {
		uint32_t k = RTE_MIN(1480u, total - off);
		uint16_t frag = (uint16_t)(off / 8) | (off + k < total ? KN_IP_MF : 0);
		kn_stack_input(S, kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_ICMP, ipid, frag,
					      req + off, k),
			       now);
	}
	/* Put the reply together from whatever came out. */
	memset(rep, 0, sizeof(rep));
	uint32_t got = 0, end = 0, frames = 0;
	int id = -1;
	struct rte_mbuf *m;
	while ((m = take_frame(mtu)) != NULL) {
		static uint8_t b[9100];
		uint32_t len = kt_flatten(m, b, sizeof(b));
		rte_pktmbuf_free(m);
		frames++;
		const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(b + 14);
		assert_int_equal(ip->proto, KN_IPPROTO_ICMP);
		assert_int_equal(cksum(b + 14, 20), 0);
		assert_int_equal(rte_be_to_cpu_32(ip->dst), KT_PEER_IP);
		if (id < 0)
			id = rte_be_to_cpu_16(ip->id);
		assert_int_equal(rte_be_to_cpu_16(ip->id), id);
		uint16_t frag = rte_be_to_cpu_16(ip->frag);
		uint32_t off = (frag & KN_IP_OFFMASK) * 8u;
		uint32_t k = rte_be_to_cpu_16(ip->len) - 20u;
		assert_true(14 + 20 + k <= len);
		assert_true(off + k <= sizeof(rep));
		memcpy(rep + off, b + 34, k);
		got += k;
		if (!(frag & KN_IP_MF))
			end = off + k;
		else
			assert_int_equal(k % 8, 0);
	}
	assert_true(frames >= 1);
	assert_int_equal(end, total);
	assert_int_equal(got, total);
	assert_int_equal(rep[0], KN_ICMP_ECHOREPLY);
	assert_int_equal(cksum(rep, total), 0);
	assert_memory_equal(rep + 4, req + 4, total - 4);
}

static void test_ping_above_mtu(void **st)
{
	(void)st;
	uint64_t replies = kn_stack_stats(S)->icmp_echo_replies;
	ping(1473, 1, MTU);
	ping(2100, 2, MTU);
	ping(56, 3, MTU); /* nothing stuck behind them */
	assert_int_equal(kn_stack_stats(S)->icmp_echo_replies - replies, 3);
	assert_true(kn_stack_stats(S)->ip_fragmented >= 2);
	assert_int_equal(kt_drops(S, KN_DROP_TX_TOO_BIG), 0);
}

/* A stack configured below the device's MTU answers within its own. */
static void test_ping_small_mtu(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	conf.mtu = 576;
	S = kt_stack(&cap, &conf, now);
	ping(1473, 4, 576);
	ping(2100, 5, 576);
	ping(56, 6, 576);
}

/* kn_ip4_output itself: a UDP datagram above the MTU whose checksum was
 * left to the device is finished in software and fragmented; TCP above the
 * MTU (DF, sized by the MSS) is dropped, never sent. */
static void test_ip4_output_fragments(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	kt_cap_init(&cap, KN_DEV_TX_MULTI_SEG | KN_DEV_TX_L4_CKSUM);
	S = kt_stack(&cap, &conf, now);
	enum { N = 3000 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(kt_pool), *tail = rte_pktmbuf_alloc(kt_pool);
	assert_non_null(m);
	assert_non_null(tail);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 8 + 1500);
	uint8_t *q = (uint8_t *)rte_pktmbuf_append(tail, N - 1500);
	assert_int_equal(rte_pktmbuf_chain(m, tail), 0);
	static uint8_t want[8 + N];
	for (unsigned i = 0; i < N; i++)
		want[8 + i] = (uint8_t)(i ^ (i >> 7));
	struct kn_udp_hdr *uh = (struct kn_udp_hdr *)want;
	uh->sport = rte_cpu_to_be_16(5000);
	uh->dport = rte_cpu_to_be_16(6000);
	uh->len = rte_cpu_to_be_16(8 + N);
	/* As udp.c does for an offloading device: the pseudo-header sum. */
	uh->csum = (uint16_t)~kn_cksum_fold(kn_pseudo_sum(rte_cpu_to_be_32(KT_US_IP),
							   rte_cpu_to_be_32(KT_PEER_IP),
							   KN_IPPROTO_UDP, 8 + N));
	memcpy(p, want, 8 + 1500);
	memcpy(q, want + 8 + 1500, N - 1500);
	assert_int_equal(kn_ip4_output(S, m, KN_IPPROTO_UDP, KT_US_IP, KT_PEER_IP,
				       RTE_MBUF_F_TX_UDP_CKSUM), 0);
	static uint8_t got[8 + N];
	uint32_t total = 0, frames = 0;
	struct rte_mbuf *f;
	while ((f = take_frame(MTU)) != NULL) {
		static uint8_t b[2048];
		kt_flatten(f, b, sizeof(b));
		assert_false(f->ol_flags & RTE_MBUF_F_TX_L4_MASK);
		rte_pktmbuf_free(f);
		const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(b + 14);
		assert_int_equal(cksum(b + 14, 20), 0);
		uint32_t off = (rte_be_to_cpu_16(ip->frag) & KN_IP_OFFMASK) * 8u;
		uint32_t k = rte_be_to_cpu_16(ip->len) - 20u;
		assert_true(off + k <= sizeof(got));
		memcpy(got + off, b + 34, k);
		total += k;
		frames++;
	}
	assert_int_equal(frames, 3);
	assert_int_equal(total, 8 + N);
	assert_memory_equal(got + 8, want + 8, N);
	/* The UDP checksum over pseudo-header and datagram comes out right. */
	uint32_t sum = kn_pseudo_sum(rte_cpu_to_be_32(KT_US_IP), rte_cpu_to_be_32(KT_PEER_IP),
				     KN_IPPROTO_UDP, 8 + N);
	assert_int_equal(kn_cksum_fold(kn_cksum_add(sum, got, 8 + N)), 0);
	assert_int_equal(kn_stack_stats(S)->ip_frag_tx, 3);

	/* TCP never fragments. */
	m = rte_pktmbuf_alloc(kt_pool);
	assert_non_null(rte_pktmbuf_append(m, 1600));
	assert_int_equal(kn_ip4_output(S, m, KN_IPPROTO_TCP, KT_US_IP, KT_PEER_IP, 0), -EMSGSIZE);
	assert_null(take_frame(MTU));
	assert_int_equal(kt_drops(S, KN_DROP_IP_TOO_BIG), 1);
}

/* ---- ICMP fragmentation needed ---------------------------------------- */

/* "Fragmentation needed" with @mtu, quoting our segment at @seq. */
static void frag_needed(uint16_t mtu, uint32_t seq)
{
	uint8_t icmp[8 + 28];
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = KN_ICMP_UNREACH;
	icmp[1] = KN_ICMP_UNREACH_NEEDFRAG;
	icmp[6] = (uint8_t)(mtu >> 8);
	icmp[7] = (uint8_t)mtu;
	struct kn_ip4_hdr *in = (struct kn_ip4_hdr *)(icmp + 8);
	in->ver_ihl = 0x45;
	in->proto = KN_IPPROTO_TCP;
	in->src = rte_cpu_to_be_32(KT_US_IP);
	in->dst = rte_cpu_to_be_32(KT_PEER_IP);
	uint8_t *th = icmp + 28;
	th[0] = (uint8_t)(our_port >> 8);
	th[1] = (uint8_t)our_port;
	th[2] = PPORT >> 8;
	th[3] = PPORT & 0xff;
	put32(th + 4, seq);
	uint16_t c = cksum(icmp, sizeof(icmp));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	kn_stack_input(S, kt_ip_frame(KT_PEER_IP, KT_US_IP, KN_IPPROTO_ICMP, 9, 0, icmp, sizeof(icmp)),
		       now);
}

/* An MTU of 68 is taken as 552 (Linux ip_rt_min_pmtu), and the lowered MSS
 * goes back up once the report is 10 minutes old (RFC 1191 §6.3). */
static void test_pmtu_floor_and_expiry(void **st)
{
	(void)st;
	static const uint8_t mssopt[4] = {KN_TCPOPT_MSS, 4, 0x05, 0xb4};
	static uint8_t data[3000];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, mssopt, 65535);
	uint32_t base = iss + 1;
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	struct kt_seg s;
	assert_true(take(&s));
	assert_int_equal(s.len, MTU - 52);
	kt_cap_clear(&cap);
	frag_needed(68, base);
	assert_int_equal(kn_stack_stats(S)->tcp_pmtu_lowered, 1);
	/* Resent from SND.UNA at 552 - 40 - 12 bytes, not 16. */
	assert_int_equal(pump(base, base + sizeof(data), data, 500), 500);
	base += sizeof(data);

	/* Nine minutes on: still the lowered size. */
	tick(9 * 60 * KT_SEC);
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	assert_int_equal(pump(base, base + sizeof(data), data, 500), 500);
	base += sizeof(data);

	/* Past ten minutes: back to the full size. */
	tick(2 * 60 * KT_SEC);
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	assert_int_equal(pump(base, base + sizeof(data), data, MTU - 52), MTU - 52);
	assert_int_equal(kn_stack_stats(S)->tcp_pmtu_expired, 1);
	base += sizeof(data);

	/* A report at or above our MTU is no news. */
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	frag_needed(MTU, base);
	assert_int_equal(pump(base, base + sizeof(data), data, MTU - 52), MTU - 52);
	assert_int_equal(kn_stack_stats(S)->tcp_pmtu_lowered, 1);
	kn_tcp_abort(c);
	kn_tcp_close(l);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* ---- a copied payload above what a buffer holds ---- */

static struct rte_mempool *small_room;

/* A stack whose buffers hold 256 bytes past the headroom, on a device that
 * chains (so the MTU stays 1500). */
static int setup_small_room(void **st)
{
	(void)st;
	setup_dev(KN_DEV_TX_MULTI_SEG, 0);
	kn_stack_destroy(S);
	small_room = rte_pktmbuf_pool_create("mtu-room", 2047, 0, 0, RTE_PKTMBUF_HEADROOM + 256,
					     SOCKET_ID_ANY);
	assert_non_null(small_room);
	int err;
	S = kn_stack_create(&conf, &cap.dev, small_room, now, &err);
	assert_non_null(S);
	kn_stack_flush(S);
	kt_cap_clear(&cap);
	return 0;
}

static int teardown_small_room(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	assert_int_equal(rte_mempool_avail_count(small_room), small_room->size);
	rte_mempool_free(small_room);
	kt_assert_no_leak();
	return 0;
}

/* A payload small enough to be copied into the header's buffer, but above
 * its room: nothing is sent (TX_TOO_BIG), the mss comes down to what the
 * buffer holds, and the retransmission timer sends it in segments that
 * fit, data intact. */
static void test_copy_above_buffer_room(void **st)
{
	(void)st;
	static uint8_t data[400];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	struct kn_tcb *l, *c;
	uint32_t iss = open_passive(&l, &c, NULL, 65535);
	uint64_t d0 = kt_drops(S, KN_DROP_TX_TOO_BIG);
	assert_int_equal(kn_tcp_send(c, data, sizeof(data)), sizeof(data));
	struct kt_seg s;
	assert_false(take(&s));
	assert_int_equal(kt_drops(S, KN_DROP_TX_TOO_BIG), d0 + 1);
	/* 256 bytes of room less a 32-byte header (timestamps). */
	assert_int_equal(pump(iss + 1, iss + 1 + sizeof(data), data, 224), 224);
	assert_int_equal(kt_drops(S, KN_DROP_TX_TOO_BIG), d0 + 1);
	kn_tcp_abort(c);
	kn_tcp_close(l);
}

int main(void)
{
	int rc = kt_eal_init("net-mtu", 2048);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_peer_mss_0, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_peer_mss_1, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_peer_mss_11, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_peer_mss_12, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_active_open_tiny_mss, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_ping_above_mtu, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_ping_above_mtu, setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_ping_small_mtu, setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_ip4_output_fragments, setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_pmtu_floor_and_expiry, setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_copy_above_buffer_room, setup_small_room,
						teardown_small_room),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
