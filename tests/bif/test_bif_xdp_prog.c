/* SPDX-License-Identifier: MIT */
/*
 * The XDP program's decisions, on crafted frames through BPF_PROG_TEST_RUN:
 * the program is attached to a veth in a private namespace and filled by
 * kaon_bif_xdp_fill() from a config, as kaon does after the af_xdp PMD has
 * loaded it; the per-CPU counters say which way each frame went.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "kaon/bif.h"
#include "xdp_test.h"

#define IF "bif0"
#define KAON_IP 0xc6120002u /* 198.18.0.2 */

static int prog_fd;
static struct bpf_object *obj;

/* OWNED..OTHER: exactly one moves per frame; OWNED_FRAG and OWNED_ICMP say
 * why an OWNED frame was kaon's. */
enum { SEEN, OWNED, NOT_IP4, BAD_HDR, FRAGMENT, OTHER, OWNED_FRAG, OWNED_ICMP, NONE };

static uint64_t stat_of(const struct kaon_bif_xdp_stats *s, int which)
{
	const uint64_t v[] = { s->seen,  s->owned,      s->not_ip4,   s->bad_hdr,
			       s->fragment, s->other, s->owned_frag, s->owned_icmp };
	return v[which];
}

/* Run one frame; check the action, that exactly counter @p which moved, and
 * that of the breakdowns exactly @p why moved (NONE: neither). */
static void expect_why(const void *frame, size_t len, int action, int which, int why)
{
	struct kaon_bif_xdp_stats a, b;

	assert_int_equal(kaon_bif_xdp_stats(IF, &a), 0);
	assert_int_equal(xt_run(prog_fd, frame, len), action);
	assert_int_equal(kaon_bif_xdp_stats(IF, &b), 0);
	assert_int_equal(b.seen - a.seen, 1);
	for (int i = OWNED; i <= OTHER; i++)
		assert_int_equal(stat_of(&b, i) - stat_of(&a, i), i == which ? 1 : 0);
	for (int i = OWNED_FRAG; i <= OWNED_ICMP; i++)
		assert_int_equal(stat_of(&b, i) - stat_of(&a, i), i == why ? 1 : 0);
}

static void expect(const void *frame, size_t len, int action, int which)
{
	expect_why(frame, len, action, which, NONE);
}

static void fill_range(uint16_t lo, uint16_t hi)
{
	kaon_config c;
	char err[256] = "";

	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_XDP;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 8080;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 5353;
	c.bif.local_port_lo = lo;
	c.bif.local_port_hi = hi;
	c.port0.addr = htonl(KAON_IP);
	c.port0.has_addr = 1;
	assert_int_equal(kaon_bif_xdp_fill(IF, &c, err, sizeof(err)), 0);
}

static void fill(void)
{
	fill_range(40000, 59999);
}

static size_t ip4(uint8_t *b, uint8_t proto, uint16_t dport)
{
	struct xt_ip p = { .proto = proto, .dst = htonl(KAON_IP), .dport = dport };
	return xt_ip4(b, &p);
}

static void test_unfilled_passes_everything(void **state)
{
	uint8_t b[128];
	size_t n = ip4(b, IPPROTO_TCP, 80);
	struct kaon_bif_xdp_stats a, s;

	(void)state;
	assert_int_equal(kaon_bif_xdp_stats(IF, &a), 0);
	assert_int_equal(xt_run(prog_fd, b, n), XDP_PASS);
	assert_int_equal(kaon_bif_xdp_stats(IF, &s), 0);
	assert_int_equal(s.owned, a.owned);
	fill();
}

static void test_owned_ports(void **state)
{
	uint8_t b[128];

	(void)state;
	/* No AF_XDP socket on the queue yet: redirect falls back to PASS. */
	expect(b, ip4(b, IPPROTO_TCP, 80), XDP_PASS, OWNED);
	expect(b, ip4(b, IPPROTO_TCP, 8080), XDP_PASS, OWNED);
	expect(b, ip4(b, IPPROTO_UDP, 5353), XDP_PASS, OWNED);
	/* Replies to kaon's own connections: the local range, both ends. */
	expect(b, ip4(b, IPPROTO_TCP, 40000), XDP_PASS, OWNED);
	expect(b, ip4(b, IPPROTO_TCP, 59999), XDP_PASS, OWNED);
	expect(b, ip4(b, IPPROTO_UDP, 45000), XDP_PASS, OWNED);
}

static void test_kernel_ports(void **state)
{
	uint8_t b[128];

	(void)state;
	expect(b, ip4(b, IPPROTO_TCP, 22), XDP_PASS, OTHER);
	expect(b, ip4(b, IPPROTO_TCP, 81), XDP_PASS, OTHER);
	expect(b, ip4(b, IPPROTO_TCP, 39999), XDP_PASS, OTHER);
	expect(b, ip4(b, IPPROTO_TCP, 60000), XDP_PASS, OTHER);
	expect(b, ip4(b, IPPROTO_TCP, 5353), XDP_PASS, OTHER); /* UDP-only port */
	expect(b, ip4(b, IPPROTO_UDP, 80), XDP_PASS, OTHER);   /* TCP-only port */
	expect(b, ip4(b, IPPROTO_ICMP, 80), XDP_PASS, OTHER); /* type 156: no error */
	struct xt_ip other = { .proto = IPPROTO_TCP, .dst = htonl(KAON_IP + 7), .dport = 80 };
	expect(b, xt_ip4(b, &other), XDP_PASS, OTHER);
}

static void test_not_ip4(void **state)
{
	uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
			    0, 1, 0x08, 0, 6, 4, 0, 1 };
	uint8_t b[128];
	size_t n = ip4(b, IPPROTO_TCP, 80);

	(void)state;
	expect(arp, sizeof(arp), XDP_PASS, NOT_IP4);
	b[12] = 0x86, b[13] = 0xdd; /* IPv6 ethertype */
	expect(b, n, XDP_PASS, NOT_IP4);
	b[12] = 0x81, b[13] = 0x00; /* VLAN tag */
	expect(b, n, XDP_PASS, NOT_IP4);
}

static void test_ip_options(void **state)
{
	uint8_t b[128];
	struct xt_ip p = { .proto = IPPROTO_TCP, .dst = htonl(KAON_IP), .dport = 80 };

	(void)state;
	for (p.opt_words = 1; p.opt_words <= 10; p.opt_words++) {
		p.dport = 80;
		expect(b, xt_ip4(b, &p), XDP_PASS, OWNED);
		p.dport = 22;
		expect(b, xt_ip4(b, &p), XDP_PASS, OTHER);
	}
	/* Options push the ports past the end of the frame. */
	p.opt_words = 10;
	p.dport = 80;
	expect(b, 14 + 60 + 2, XDP_PASS, BAD_HDR);
	(void)xt_ip4(b, &p);
	expect(b, 14 + 60 + 4, XDP_PASS, OWNED);
}

/* A fragment of datagram @p id: @p frag_off as in the header (host order). */
static size_t frag(uint8_t *b, uint8_t proto, uint16_t dport, uint16_t id, uint16_t frag_off)
{
	struct xt_ip p = { .proto = proto, .dst = htonl(KAON_IP), .dport = dport, .id = id,
			   .frag_off = frag_off };
	return xt_ip4(b, &p);
}

static void test_fragments(void **state)
{
	uint8_t b[128];
	struct xt_ip p = { .proto = IPPROTO_TCP, .dst = htonl(KAON_IP), .dport = 80 };

	(void)state;
	/* A TCP datagram to port 80 in three fragments: the first has the
	 * ports, the others follow it by IP ID. */
	expect_why(b, frag(b, IPPROTO_TCP, 80, 100, 0x2000), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_TCP, 80, 100, 0x2000 | 185), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_TCP, 80, 100, 370), XDP_PASS, OWNED, OWNED_FRAG);
	/* Their later bytes need not look like ports at all. */
	expect_why(b, frag(b, IPPROTO_TCP, 22, 100, 370), XDP_PASS, OWNED, OWNED_FRAG);
	/* Same ID, but another source, protocol or ID: not that datagram. */
	p.frag_off = 185, p.id = 100, p.src = htonl(0xc6120009);
	expect(b, xt_ip4(b, &p), XDP_PASS, FRAGMENT);
	expect(b, frag(b, IPPROTO_UDP, 80, 100, 185), XDP_PASS, FRAGMENT);
	expect(b, frag(b, IPPROTO_TCP, 80, 101, 185), XDP_PASS, FRAGMENT);
	/* UDP to an owned port and to both ends of the local range. */
	expect_why(b, frag(b, IPPROTO_UDP, 5353, 300, 0x2000), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_UDP, 5353, 300, 185), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_UDP, 40000, 301, 0x2000), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_UDP, 59999, 302, 0x2000), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_UDP, 59999, 302, 185), XDP_PASS, OWNED, OWNED_FRAG);
	expect(b, frag(b, IPPROTO_UDP, 60000, 303, 0x2000), XDP_PASS, FRAGMENT);
	expect(b, frag(b, IPPROTO_UDP, 60000, 303, 185), XDP_PASS, FRAGMENT);
	expect(b, frag(b, IPPROTO_UDP, 39999, 304, 0x2000), XDP_PASS, FRAGMENT);
	/* The kernel's datagrams stay the kernel's, first fragment and rest. */
	expect(b, frag(b, IPPROTO_TCP, 22, 200, 0x2000), XDP_PASS, FRAGMENT);
	expect(b, frag(b, IPPROTO_TCP, 22, 200, 185), XDP_PASS, FRAGMENT);
	expect(b, frag(b, IPPROTO_ICMP, 0, 201, 0x2000), XDP_PASS, FRAGMENT);
	/* A later fragment before its first: the kernel's (nothing says
	 * whose it is); the ones after the first fragment are kaon's. */
	expect(b, frag(b, IPPROTO_TCP, 80, 400, 185), XDP_PASS, FRAGMENT);
	expect_why(b, frag(b, IPPROTO_TCP, 80, 400, 0x2000), XDP_PASS, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_TCP, 80, 400, 185), XDP_PASS, OWNED, OWNED_FRAG);
	/* A first fragment too short to hold the ports. */
	expect(b, frag(b, IPPROTO_TCP, 80, 500, 0x2000) - 20 + 3, XDP_PASS, BAD_HDR);
	/* For another address: not kaon's, fragment or not. */
	p = (struct xt_ip){ .proto = IPPROTO_TCP, .dst = htonl(KAON_IP + 7), .dport = 80,
			    .id = 100, .frag_off = 185 };
	expect(b, xt_ip4(b, &p), XDP_PASS, OTHER);
	/* DF alone is no fragment. */
	expect(b, frag(b, IPPROTO_TCP, 80, 600, 0x4000), XDP_PASS, OWNED);
}

/* ICMP @p type from a router to kaon, quoting a @p proto datagram sent from
 * @p src port @p sport. */
static size_t icmp(uint8_t *b, uint8_t type, uint8_t code, uint8_t proto, uint32_t src,
		   uint16_t sport)
{
	struct xt_ip q = { .proto = proto, .src = htonl(src), .sport = sport,
			   .dst = htonl(0xc6120001), .dport = 7000 };
	return xt_icmp(b, htonl(KAON_IP), type, code, &q, 8);
}

static void test_icmp_errors(void **state)
{
	uint8_t b[160];
	struct xt_ip q = { .proto = IPPROTO_TCP, .src = htonl(KAON_IP), .sport = 80,
			   .dst = htonl(0xc6120001), .dport = 7000 };

	(void)state;
	/* Fragmentation needed and port unreachable about kaon's flows. */
	expect_why(b, icmp(b, 3, 4, IPPROTO_TCP, KAON_IP, 80), XDP_PASS, OWNED, OWNED_ICMP);
	expect_why(b, icmp(b, 3, 3, IPPROTO_UDP, KAON_IP, 5353), XDP_PASS, OWNED, OWNED_ICMP);
	expect_why(b, icmp(b, 3, 1, IPPROTO_TCP, KAON_IP, 8080), XDP_PASS, OWNED, OWNED_ICMP);
	/* Time exceeded and parameter problem, about kaon's outgoing flows:
	 * both ends of the local range, TCP and UDP. */
	expect_why(b, icmp(b, 11, 0, IPPROTO_TCP, KAON_IP, 40000), XDP_PASS, OWNED, OWNED_ICMP);
	expect_why(b, icmp(b, 11, 0, IPPROTO_UDP, KAON_IP, 59999), XDP_PASS, OWNED, OWNED_ICMP);
	expect_why(b, icmp(b, 12, 0, IPPROTO_TCP, KAON_IP, 59999), XDP_PASS, OWNED, OWNED_ICMP);
	expect(b, icmp(b, 3, 4, IPPROTO_TCP, KAON_IP, 39999), XDP_PASS, OTHER);
	expect(b, icmp(b, 3, 4, IPPROTO_UDP, KAON_IP, 60000), XDP_PASS, OTHER);
	/* About the kernel's flows: its port, the wrong protocol, another
	 * sender, another protocol altogether. */
	expect(b, icmp(b, 3, 4, IPPROTO_TCP, KAON_IP, 22), XDP_PASS, OTHER);
	expect(b, icmp(b, 3, 3, IPPROTO_UDP, KAON_IP, 80), XDP_PASS, OTHER);
	expect(b, icmp(b, 3, 3, IPPROTO_TCP, KAON_IP, 5353), XDP_PASS, OTHER);
	expect(b, icmp(b, 3, 4, IPPROTO_TCP, KAON_IP + 7, 80), XDP_PASS, OTHER);
	expect(b, icmp(b, 3, 2, IPPROTO_GRE, KAON_IP, 80), XDP_PASS, OTHER);
	/* Not errors: echo request and reply, redirect, source quench. */
	expect(b, icmp(b, 8, 0, IPPROTO_TCP, KAON_IP, 80), XDP_PASS, OTHER);
	expect(b, icmp(b, 0, 0, IPPROTO_TCP, KAON_IP, 80), XDP_PASS, OTHER);
	expect(b, icmp(b, 5, 1, IPPROTO_TCP, KAON_IP, 80), XDP_PASS, OTHER);
	expect(b, icmp(b, 4, 0, IPPROTO_TCP, KAON_IP, 80), XDP_PASS, OTHER);
	/* The quoted header with options. */
	q.opt_words = 3;
	expect_why(b, xt_icmp(b, htonl(KAON_IP), 3, 4, &q, 8), XDP_PASS, OWNED, OWNED_ICMP);
	/* A quote cut before the ports, or of a later fragment (no ports). */
	q.opt_words = 0;
	expect(b, xt_icmp(b, htonl(KAON_IP), 3, 4, &q, 2), XDP_PASS, BAD_HDR);
	q.frag_off = 185;
	expect(b, xt_icmp(b, htonl(KAON_IP), 3, 4, &q, 8), XDP_PASS, OTHER);
	/* A fragmented ICMP message is no error kaon reads. */
	q.frag_off = 0;
	size_t n = xt_icmp(b, htonl(KAON_IP), 3, 4, &q, 8);
	b[14 + 6] = 0x20;
	expect(b, n, XDP_PASS, FRAGMENT);
	/* To another address. */
	expect(b, xt_icmp(b, htonl(KAON_IP + 7), 3, 4, &q, 8), XDP_PASS, OTHER);
}

/* The range comes from the config, for TCP and UDP alike, edges included. */
static void test_range_from_config(void **state)
{
	uint8_t b[160];

	(void)state;
	fill_range(32768, 32800);
	for (uint8_t proto = IPPROTO_TCP; proto; proto = proto == IPPROTO_TCP ? IPPROTO_UDP : 0) {
		expect(b, ip4(b, proto, 32768), XDP_PASS, OWNED);
		expect(b, ip4(b, proto, 32800), XDP_PASS, OWNED);
		expect(b, ip4(b, proto, 32767), XDP_PASS, OTHER);
		expect(b, ip4(b, proto, 32801), XDP_PASS, OTHER);
		expect(b, ip4(b, proto, 40000), XDP_PASS, OTHER);
		expect_why(b, icmp(b, 3, 4, proto, KAON_IP, 32800), XDP_PASS, OWNED, OWNED_ICMP);
		expect(b, icmp(b, 3, 4, proto, KAON_IP, 32801), XDP_PASS, OTHER);
	}
	/* One port. */
	fill_range(50000, 50000);
	expect(b, ip4(b, IPPROTO_TCP, 50000), XDP_PASS, OWNED);
	expect(b, ip4(b, IPPROTO_TCP, 49999), XDP_PASS, OTHER);
	expect(b, ip4(b, IPPROTO_UDP, 50001), XDP_PASS, OTHER);
	/* The whole top of the port space: 65535 included, no wrap to 0. */
	fill_range(61000, 65535);
	expect(b, ip4(b, IPPROTO_UDP, 65535), XDP_PASS, OWNED);
	expect(b, ip4(b, IPPROTO_UDP, 0), XDP_PASS, OTHER);
	fill();
}

static void test_hostile_headers(void **state)
{
	uint8_t b[128];
	size_t n;

	(void)state;
	n = ip4(b, IPPROTO_TCP, 80);
	expect(b, 14, XDP_PASS, BAD_HDR);       /* no IP header */
	expect(b, 14 + 19, XDP_PASS, BAD_HDR);  /* short IP header */
	expect(b, 14 + 20 + 3, XDP_PASS, BAD_HDR); /* ports cut off */
	b[14] = 0x44; /* ihl 4 */
	expect(b, n, XDP_PASS, BAD_HDR);
	b[14] = 0x60 | 5; /* version 6 under an IPv4 ethertype */
	expect(b, n, XDP_PASS, BAD_HDR);
	b[14] = 0x4f; /* ihl 15: 60 bytes of header, frame has 40 */
	expect(b, n, XDP_PASS, BAD_HDR);
	n = ip4(b, IPPROTO_TCP, 80);
	b[16] = 0, b[17] = 23; /* tot_len shorter than header + ports */
	expect(b, n, XDP_PASS, BAD_HDR);
	/* Random bytes under an IPv4 ethertype never crash or redirect wrongly. */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		size_t len = 14 + (size_t)(rand() % 80);

		for (size_t j = 14; j < len; j++)
			b[j] = (uint8_t)rand();
		b[12] = 0x08, b[13] = 0;
		int act = xt_run(prog_fd, b, len);
		assert_true(act == XDP_PASS);
	}
}

/* An AF_XDP socket bound to bif0 queue 0, made with raw system calls. */
static int make_xsk(void)
{
	static uint8_t *umem;
	struct xdp_umem_reg mr = { 0 };
	struct sockaddr_xdp sx = { 0 };
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0), ring = 64;

	if (fd < 0)
		return -errno;
	umem = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(umem != MAP_FAILED);
	mr.addr = (uint64_t)(uintptr_t)umem;
	mr.len = 64 * 4096;
	mr.chunk_size = 4096;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)) != 0 ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof(ring)) != 0 ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring, sizeof(ring)) != 0 ||
	    setsockopt(fd, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring)) != 0)
		return -errno;
	sx.sxdp_family = AF_XDP;
	sx.sxdp_ifindex = if_nametoindex(IF);
	sx.sxdp_queue_id = 0;
	sx.sxdp_flags = XDP_COPY;
	if (bind(fd, (struct sockaddr *)&sx, sizeof(sx)) != 0)
		return -errno;
	return fd;
}

static void test_redirect_with_socket(void **state)
{
	uint8_t b[128];
	uint32_t zero = 0;
	int xsk = make_xsk(), map;

	(void)state;
	if (xsk < 0) {
		fprintf(stderr, "AF_XDP socket: %s; redirect not checked\n", strerror(-xsk));
		skip();
	}
	map = bpf_object__find_map_fd_by_name(obj, "xsks_map");
	assert_true(map >= 0);
	assert_int_equal(bpf_map_update_elem(map, &zero, &xsk, BPF_ANY), 0);
	expect(b, ip4(b, IPPROTO_TCP, 80), XDP_REDIRECT, OWNED);
	expect(b, ip4(b, IPPROTO_UDP, 50000), XDP_REDIRECT, OWNED);
	expect(b, ip4(b, IPPROTO_TCP, 22), XDP_PASS, OTHER);
	/* Fragments of kaon's datagram and an error about its flow. */
	expect_why(b, frag(b, IPPROTO_UDP, 5353, 700, 0x2000), XDP_REDIRECT, OWNED, OWNED_FRAG);
	expect_why(b, frag(b, IPPROTO_UDP, 5353, 700, 185), XDP_REDIRECT, OWNED, OWNED_FRAG);
	expect(b, frag(b, IPPROTO_UDP, 5353, 701, 185), XDP_PASS, FRAGMENT);
	expect_why(b, icmp(b, 3, 4, IPPROTO_TCP, KAON_IP, 45000), XDP_REDIRECT, OWNED, OWNED_ICMP);
	expect(b, icmp(b, 8, 0, IPPROTO_TCP, KAON_IP, 45000), XDP_PASS, OTHER);
	assert_int_equal(bpf_map_delete_elem(map, &zero), 0);
	expect(b, ip4(b, IPPROTO_TCP, 80), XDP_PASS, OWNED);
	close(xsk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unfilled_passes_everything),
		cmocka_unit_test(test_owned_ports),
		cmocka_unit_test(test_kernel_ports),
		cmocka_unit_test(test_not_ip4),
		cmocka_unit_test(test_ip_options),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp_errors),
		cmocka_unit_test(test_range_from_config),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_redirect_with_socket),
	};
	int rc;

	bif_netns(1);
	obj = xt_load(&prog_fd);
	if (bpf_xdp_attach((int)if_nametoindex(IF), prog_fd, 0, NULL) != 0) {
		fprintf(stderr, "cannot attach the XDP program to %s\n", IF);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kaon_bif_xdp_detach(IF);
	bpf_object__close(obj);
	return rc;
}
