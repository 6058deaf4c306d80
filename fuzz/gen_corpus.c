/* Writes the seed corpus for fuzz_net_rx in its input format (see
 * fuzz_common.h): raw frames (TCP ones follow a real handshake with a stack
 * set up as the fuzz target sets up its own, so their sequence numbers are
 * right) and conversation scripts. Usage: gen_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include <kaon/net.h>

#include "fuzz_common.h"

static struct rte_mempool *pool;
static struct rte_mbuf *captured[64];
static unsigned ncap;

static uint16_t dev_tx(struct kn_dev *d, struct rte_mbuf **p, uint16_t n)
{
	(void)d;
	for (uint16_t i = 0; i < n; i++) {
		if (ncap < 64)
			captured[ncap++] = p[i];
		else
			rte_pktmbuf_free(p[i]);
	}
	return n;
}

static uint16_t dev_rx(struct kn_dev *d, struct rte_mbuf **p, uint16_t n)
{
	(void)d;
	(void)p;
	(void)n;
	return 0;
}

static const struct kn_dev_ops ops = {.rx_burst = dev_rx, .tx_burst = dev_tx};

/* ---- records ---- */
static uint8_t rec[65536];
static size_t reclen;
/* The header of the next input: device and stack flags, MTU choice. */
static uint8_t hdr_flags, hdr_mtu;

static void begin(void)
{
	if (reclen)
		return;
	rec[0] = hdr_flags;
	rec[1] = hdr_mtu;
	rec[2] = rec[3] = 0;
	reclen = FZ_HDR;
}

/* One operation and its argument bytes. */
static void op(uint8_t code, const uint8_t *args, uint32_t n)
{
	begin();
	rec[reclen++] = code;
	memcpy(rec + reclen, args, n);
	reclen += n;
}

/* A raw frame. */
static void add(const uint8_t *f, uint32_t len, uint8_t ctl)
{
	begin();
	rec[reclen++] = FZ_OP_RAW;
	rec[reclen++] = (uint8_t)len;
	rec[reclen++] = (uint8_t)(len >> 8);
	rec[reclen++] = ctl;
	memcpy(rec + reclen, f, len);
	reclen += len;
}

static void save(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(rec, 1, reclen, f) != reclen) {
		perror(path);
		exit(1);
	}
	fclose(f);
	reclen = 0;
	hdr_flags = hdr_mtu = 0;
}

/* ---- conversation operations ---- */
static void c_open(uint8_t conn, uint8_t fl, uint16_t mss, uint8_t ws, uint16_t win)
{
	uint8_t a[7] = {conn, fl, (uint8_t)(mss >> 8), (uint8_t)mss, ws, (uint8_t)(win >> 8), (uint8_t)win};
	op(FZ_OP_OPEN, a, sizeof(a));
}

static void c_seg(uint8_t conn, uint8_t flags, int16_t dseq, int16_t dack, uint16_t win,
		  uint16_t len, uint8_t sf)
{
	uint8_t a[11] = {conn, flags, (uint8_t)((uint16_t)dseq >> 8), (uint8_t)dseq,
			 (uint8_t)((uint16_t)dack >> 8), (uint8_t)dack, (uint8_t)(win >> 8), (uint8_t)win,
			 (uint8_t)(len >> 8), (uint8_t)len, sf};
	op(FZ_OP_SEG, a, sizeof(a));
}

static void c_pump(uint8_t conn, uint16_t win, uint8_t rounds)
{
	uint8_t a[4] = {conn, (uint8_t)(win >> 8), (uint8_t)win, rounds};
	op(FZ_OP_PUMP, a, sizeof(a));
}

static void c_write(uint8_t conn, uint32_t len)
{
	uint8_t a[4] = {conn, (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	op(FZ_OP_WRITE, a, sizeof(a));
}

static void c_read(uint8_t conn, uint16_t len)
{
	uint8_t a[3] = {conn, (uint8_t)(len >> 8), (uint8_t)len};
	op(FZ_OP_READ, a, sizeof(a));
}

static void c_close(uint8_t conn, uint8_t how)
{
	uint8_t a[2] = {conn, how};
	op(FZ_OP_CLOSE, a, sizeof(a));
}

static void c_clock(uint8_t n)
{
	op(FZ_OP_CLOCK, &n, 1);
}

static void c_u16(uint8_t code, uint16_t v)
{
	uint8_t a[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	op(code, a, sizeof(a));
}

/* ---- frames ---- */
static uint32_t eth_ip(uint8_t *b, uint8_t proto, uint16_t frag, uint32_t l4len)
{
	memcpy(b, fz_us_mac, 6);
	memcpy(b + 6, fz_peer_mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	uint8_t *ip = b + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4len) >> 8);
	ip[3] = (uint8_t)(20 + l4len);
	ip[5] = 9;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = proto;
	uint32_t s = FZ_PEER_IP, d = FZ_US_IP;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = (uint8_t)(s >> (24 - 8 * i));
		ip[16 + i] = (uint8_t)(d >> (24 - 8 * i));
	}
	return 34;
}

static uint32_t tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		    uint8_t flags, const uint8_t *opt, uint32_t optlen, const char *data, uint32_t len)
{
	uint32_t o = eth_ip(b, 6, 0x4000, 20 + optlen + len);
	uint8_t *t = b + o;
	memset(t, 0, 20);
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	t[13] = flags;
	t[14] = 0xff;
	t[15] = 0xff;
	memcpy(t + 20, opt, optlen);
	memcpy(t + 20 + optlen, data, len);
	uint32_t n = o + 20 + optlen + len;
	fz_fix_checksums(b, n);
	return n;
}

static uint32_t udp(uint8_t *b, uint16_t dport, const char *data, uint32_t len)
{
	uint32_t o = eth_ip(b, 17, 0, 8 + len);
	uint8_t *u = b + o;
	u[0] = 0x30;
	u[1] = 0x39;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + len) >> 8);
	u[5] = (uint8_t)(8 + len);
	memcpy(u + 8, data, len);
	fz_fix_checksums(b, o + 8 + len);
	return o + 8 + len;
}

/* The fuzz target's stack, to learn its ISS. */
static struct kn_stack *target_stack(void)
{
	static struct kn_dev dev = {.ops = &ops, .mtu = 1500, .offloads = KN_DEV_TX_MULTI_SEG};
	memcpy(dev.mac, fz_us_mac, 6);
	struct kn_stack_conf c;
	kn_stack_conf_default(&c);
	c.ip = FZ_US_IP;
	c.netmask = 0xffffff00u;
	c.gateway = 0xc61200feu;
	c.isn_secret[0] = 1;
	c.isn_secret[1] = 2;
	static struct kn_static_arp sa = {.ip = FZ_PEER_IP};
	memcpy(sa.mac, fz_peer_mac, 6);
	c.static_arp = &sa;
	c.n_static_arp = 1;
	int err;
	struct kn_stack *s = kn_stack_create(&c, &dev, pool, 1000000000000LL, &err);
	kn_tcp_listen(s, 80, 4, NULL, &err);
	kn_udp_bind(s, 53, NULL, &err);
	kn_tcp_connect(s, FZ_PEER_IP, 80, 1025, NULL, &err);
	kn_stack_flush(s);
	return s;
}

/* Sequence number of the last TCP segment captured. */
static uint32_t last_tcp_seq(void)
{
	uint32_t seq = 0;
	for (unsigned i = 0; i < ncap; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(captured[i], const uint8_t *);
		if (captured[i]->data_len >= 54 && p[23] == 6)
			seq = (uint32_t)p[38] << 24 | (uint32_t)p[39] << 16 | (uint32_t)p[40] << 8 | p[41];
		rte_pktmbuf_free(captured[i]);
	}
	ncap = 0;
	return seq;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-gencorpus-%d", (int)getpid());
	char *eal[] = {"gen", "--no-huge", "--no-shconf", "-m", "128", "--no-pci", prefix,
		       "--log-level=error", "--no-telemetry", "-l", "0", NULL};
	if (rte_eal_init(11, eal) < 0)
		return 1;
	rmdir(rte_eal_get_runtime_dir()); /* made, though nothing is kept in it */
	pool = rte_pktmbuf_pool_create("gen", 1024, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	uint8_t f[2048];
	uint32_t n;

	/* ARP request for us. */
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06,
		0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x01, 198, 18, 0, 1,
		0, 0, 0, 0, 0, 0, 198, 18, 0, 2};
	add(arp, sizeof(arp), 0);
	save(dir, "arp_request");

	/* ICMP echo. */
	n = eth_ip(f, 1, 0, 16);
	memcpy(f + n, "\x08\x00\x00\x00\x12\x34\x00\x01pingping", 16);
	fz_fix_checksums(f, n + 16);
	add(f, n + 16, 0);
	save(dir, "icmp_echo");

	/* UDP to the bound port and to a closed one. */
	add(f, udp(f, 53, "query", 5), 0);
	add(f, udp(f, 9999, "nobody", 6), 0);
	save(dir, "udp");

	/* A UDP datagram in two fragments, out of order. */
	{
		uint8_t d[8 + 24] = {0x30, 0x39, 0, 53, 0, 32, 0, 0};
		memcpy(d + 8, "fragmented datagram.....", 24);
		n = eth_ip(f, 17, 0x0002, 16);
		memcpy(f + n, d + 16, 16);
		fz_fix_checksums(f, n + 16);
		add(f, n + 16, 0);
		n = eth_ip(f, 17, 0x2000, 16);
		memcpy(f + n, d, 16);
		fz_fix_checksums(f, n + 16);
		add(f, n + 16, 0);
		save(dir, "ip_fragments");
	}

	/* Passive open, data, out-of-order data, FIN; then a RST. */
	static const uint8_t synopt[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
	static const uint8_t tsopt[] = {1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 0};
	struct kn_stack *s = target_stack();
	last_tcp_seq();
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	n = tcp(f, 40000, 80, 100, 0, 0x02, synopt, sizeof(synopt), "", 0);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	kn_stack_input(s, m, 1000000000000LL);
	kn_stack_flush(s);
	uint32_t iss = last_tcp_seq();
	kn_stack_destroy(s);
	add(f, n, 0);
	add(f, tcp(f, 40000, 80, 101, iss + 1, 0x10, tsopt, sizeof(tsopt), "", 0), 0);
	add(f, tcp(f, 40000, 80, 106, iss + 1, 0x18, tsopt, sizeof(tsopt), "world", 5), 0);
	add(f, tcp(f, 40000, 80, 101, iss + 1, 0x18, tsopt, sizeof(tsopt), "hello", 5), 0x02);
	add(f, tcp(f, 40000, 80, 111, iss + 1, 0x11, tsopt, sizeof(tsopt), "", 0), 0x04);
	add(f, tcp(f, 40000, 80, 112, iss + 2, 0x10, tsopt, sizeof(tsopt), "", 0), 0x50);
	save(dir, "tcp_passive");

	/* The active connection: SYN,ACK, data, RST. */
	s = target_stack();
	uint32_t aiss = last_tcp_seq();
	kn_stack_destroy(s);
	add(f, tcp(f, 80, 1025, 5000, aiss + 1, 0x12, synopt, 8, "", 0), 0);
	add(f, tcp(f, 80, 1025, 5001, aiss + 1, 0x18, NULL, 0, "banner", 6), 0x08);
	add(f, tcp(f, 80, 1025, 5007, aiss + 5, 0x14, NULL, 0, "", 0), 0x30);
	save(dir, "tcp_active");

	/* Segments for nobody, options that lie. */
	static const uint8_t badopt[] = {2, 0, 8, 12};
	add(f, tcp(f, 1, 81, 1, 0, 0x02, NULL, 0, "", 0), 0);
	add(f, tcp(f, 1, 80, 1, 0, 0x02, badopt, sizeof(badopt), "", 0), 0);
	add(f, tcp(f, 1, 80, 1, 0, 0x02, synopt, sizeof(synopt), "", 0), 0xa0);
	save(dir, "tcp_misc");

	/* Conversations. A passive open with Linux's SYN options, a large
	 * write acknowledged as it goes, data both ways, an orderly close. */
	const uint8_t linux_syn = FZ_O_MSS | FZ_O_WS | FZ_O_TS | FZ_O_SACKOK;
	c_open(0, linux_syn, 1460, 7, 64240);
	c_write(0, 300000);
	c_pump(0, 2000, 40);
	c_seg(0, 0x18, 0, 0, 2000, 1000, 0);
	c_read(0, 4096);
	c_seg(0, 0x18, 0, 0, 2000, 1448, 0);
	c_read(0x80, 0);
	c_close(0, 0);
	c_pump(0, 2000, 40);
	c_seg(0, 0x11, 0, 0, 2000, 0, 0);
	c_clock(250);
	save(dir, "conv_passive");

	/* Active open, 536-byte MSS without timestamps, a zero window that
	 * opens after persist probes, a shutdown. */
	hdr_flags = 0;
	hdr_mtu = 1;
	c_open(1, FZ_O_ACTIVE | FZ_O_MSS | FZ_O_WS, 536, 2, 8192);
	c_write(1, 100000);
	c_pump(1, 0, 2);
	c_clock(205);
	c_clock(210);
	c_pump(1, 4096, 30);
	c_close(1, 1);
	c_pump(1, 4096, 30);
	save(dir, "conv_active_zero_window");

	/* Two connections: a small MSS with timestamps, out-of-order data and
	 * an old timestamp (PAWS) on the other; a multi-segment device. */
	hdr_flags = FZ_H_MULTISEG;
	c_open(0, FZ_O_MSS | FZ_O_TS, 100, 0, 65535);
	c_open(2, linux_syn | FZ_O_ACTIVE, 1460, 7, 65535);
	c_write(0, 20000);
	c_write(2, 150000);
	c_pump(0, 65535, 10);
	c_seg(2, 0x10, 1000, 0, 65535, 500, 0);
	c_seg(2, 0x10, 0, 0, 65535, 1000, FZ_S_OLD_TS);
	c_seg(2, 0x10, 0, 0, 65535, 1000, 0);
	c_read(2, 8000);
	c_pump(2, 65535, 20);
	c_close(0, 2);
	c_close(2, 0);
	c_clock(100);
	save(dir, "conv_two");

	/* Left with data in flight behind a zero window: the end-of-input
	 * progress check takes over. */
	hdr_mtu = 2;
	c_open(3, linux_syn, 1240, 9, 65535);
	c_write(3, 400000);
	c_pump(3, 300, 3);
	c_seg(3, 0x10, 0, 0, 0, 0, 0);
	c_clock(230);
	save(dir, "conv_left_open");

	/* SACK: a window in flight, duplicate ACKs with blocks (RFC 6675
	 * recovery), a D-SACK, out-of-order data the stack SACKs, partial
	 * ACKs, a retransmission timeout; then the same without timestamps
	 * (4 blocks). */
	hdr_flags = FZ_H_MULTISEG;
	hdr_mtu = 0;
	c_open(0, linux_syn, 1460, 7, 65535);
	c_write(0, 200000);
	c_pump(0, 65535, 2);
	c_seg(0, 0x10, 0, -14600, 2920, 0, FZ_S_SACK);
	c_seg(0, 0x10, 0, -14600, 2920, 0, FZ_S_SACK | 0x10);
	c_seg(0, 0x10, 0, -14600, 2920, 0, FZ_S_SACK | 0x20);
	c_seg(0, 0x10, 0, -14600, 2920, 0, FZ_S_SACK | 0x20);
	c_seg(0, 0x10, 0, -8760, 1460, 0, FZ_S_SACK | 0x10);
	c_seg(0, 0x10, 0, -4380, 1460, 0, FZ_S_SACK | 0x40);
	c_seg(0, 0x10, 3000, 0, 65535, 1000, 0);
	c_seg(0, 0x10, 6000, 0, 65535, 1000, 0);
	c_seg(0, 0x10, 0, 0, 65535, 1000, 0);
	c_seg(0, 0x10, 0, 0, 65535, 1000, 0);
	c_clock(250);
	c_pump(0, 65535, 20);
	c_close(0, 0);
	c_pump(0, 65535, 20);
	save(dir, "conv_sack");

	hdr_flags = FZ_H_NO_TS;
	c_open(1, FZ_O_MSS | FZ_O_SACKOK, 1460, 0, 65535);
	c_write(1, 100000);
	c_pump(1, 65535, 1);
	c_seg(1, 0x10, 0, -11680, 1460, 0, FZ_S_SACK | FZ_S_NO_TS | 0x30);
	c_seg(1, 0x10, 0, -11680, 1460, 0, FZ_S_SACK | FZ_S_NO_TS | 0x30);
	c_seg(1, 0x10, 0, -11680, 1460, 0, FZ_S_SACK | FZ_S_NO_TS | 0x30);
	c_seg(1, 0x10, 0, -2920, 1460, 0, FZ_S_SACK | FZ_S_NO_TS | 0x70);
	c_pump(1, 65535, 20);
	save(dir, "conv_sack_no_ts");

	/* Big datagrams out, big pings in (fragmented to the MTU). */
	c_u16(FZ_OP_UDP, 1472);
	c_u16(FZ_OP_UDP, 3000);
	c_u16(FZ_OP_PING, 1000);
	save(dir, "udp_ping");

	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}
