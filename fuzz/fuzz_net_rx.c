/* libFuzzer target: kaon's stack from the Ethernet frame up, and back out.
 * Build: clang -fsanitize=fuzzer,address (see fuzz/CMakeLists.txt).
 *
 * The input (fuzz_common.h) picks the device -- by default one without
 * KN_DEV_TX_MULTI_SEG, as a port that linearizes -- the MTU and the stack's
 * TCP options, then plays a script: raw frames, whole TCP conversations whose
 * handshake the harness completes with the peer options the input chose,
 * segments, large application writes, reads, closes, clock advances, UDP
 * sends and fragmented pings.
 *
 * Every frame the stack emits is checked (abort() on a violation, so
 * libFuzzer reports it): at most MTU + Ethernet header, segment lengths that
 * add up, one direct segment on the linearizing device, an IPv4 total length
 * that matches the frame, valid IPv4/TCP/UDP/ICMP checksums, a TCP header
 * inside the segment. For script connections the harness also plays the
 * peer's bookkeeping: data segments no larger than the peer's MSS allows,
 * never past the right edge of the peer's window, and carrying exactly the
 * bytes the application wrote at that position; bytes read carry exactly
 * what the peer sent there. Every input runs against a fresh stack; at the
 * end every mbuf must be back in the pool. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <kaon/net.h>

#include "fuzz_common.h"
#include "net/tcp.h"

#define POOL_N 8192
/* Peer MSS below which the stack may send more than the peer asked for: a
 * clamp is allowed (Linux: tcp_min_snd_mss 48; FreeBSD: tcp_minmss 216), not
 * more. */
#define FZ_MSS_FLOOR 216
#define FZ_WRITE_MAX (512u * 1024)
#define FZ_SEG_MAX 1800u

static struct rte_mempool *pool;

/* The peer's view of one script connection. */
struct conv {
	bool open;              /* the handshake was played */
	bool active;            /* the stack connected */
	bool raw_before;        /* raw frames came before the handshake */
	struct kn_tcb *t;       /* the application's handle, NULL once released */
	uint16_t lport, pport;  /* the stack's port, the peer's */
	bool have_iss;
	uint32_t iss;           /* the stack's */
	uint32_t stack_max;     /* highest sequence (+ SYN/FIN) the stack sent */
	uint32_t stack_ack;     /* the last ACK it sent: its RCV.NXT */
	uint32_t peer_iss, peer_nxt;
	uint16_t peer_mss;      /* what the stack may send per segment */
	bool ts;                /* both sides sent the timestamp option */
	bool peer_ws_sent, stack_ws_sent;
	uint8_t peer_ws;
	uint32_t ts_val;        /* the peer's clock */
	uint32_t ts_recent;     /* the stack's last TSval */
	bool edge_valid;
	uint32_t edge;          /* largest right edge the peer advertised */
	uint32_t written;       /* bytes the application handed to kn_tcp_send */
	uint32_t offering;      /* bytes offered to the kn_tcp_send under way */
	uint32_t read;          /* bytes it read */
};

static struct {
	struct kn_stack *s;
	struct kn_dev dev;
	uint16_t mtu;
	int64_t now;
	bool raw_seen;          /* a raw frame may have changed any connection: the
				 * peer's view of script connections is off */
	struct conv c[FZ_CONNS];
	struct kn_tcb *l, *a;
	struct kn_udp *u;
} F;

static bool trace; /* FZ_TRACE=1: print the conversation */
static uint8_t flat[70000];
static uint8_t wbuf[FZ_WRITE_MAX];
static uint8_t rbuf[65536];

#define CHECK(cond, why)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz: %s (%s:%d)\n", why, __FILE__, __LINE__); \
			abort();                                                      \
		}                                                                     \
	} while (0)

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static struct conv *conv_by_ports(uint16_t lport, uint16_t pport)
{
	for (unsigned i = 0; i < FZ_CONNS; i++)
		if (F.c[i].open && F.c[i].lport == lport && F.c[i].pport == pport)
			return &F.c[i];
	return NULL;
}

/* ---- what the stack sends ---- */

/* The peer reads a TCP segment of a script connection. */
static void observe_tcp(const uint8_t *th, uint32_t l4len)
{
	struct conv *c = conv_by_ports(be16(th), be16(th + 2));
	if (!c)
		return;
	unsigned idx = (unsigned)(c - F.c);
	uint32_t thl = (th[12] >> 4) * 4u;
	uint32_t seq = be32(th + 4);
	uint8_t flags = th[13];
	uint32_t len = l4len - thl;
	bool ts = false, ws = false;
	for (uint32_t i = 20; i < thl;) {
		uint8_t k = th[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= thl || th[i + 1] < 2 || i + th[i + 1] > thl)
			break;
		if (k == 8 && th[i + 1] == 10) {
			ts = true;
			c->ts_recent = be32(th + i + 2);
		} else if (k == 3 && th[i + 1] == 3) {
			ws = true;
		}
		i += th[i + 1];
	}
	if (trace)
		fprintf(stderr, "stack> conn %u seq +%u len %u flags %#x win %u (edge +%u)\n", idx,
			seq - c->iss, len, flags, be16(th + 14), c->edge - c->iss);
	if (flags & 0x02) { /* SYN */
		if (!c->have_iss) {
			c->have_iss = true;
			c->iss = seq;
			c->stack_max = seq + 1;
			c->stack_ws_sent = ws;
			c->ts = c->ts && ts;
		}
		return;
	}
	if (!c->have_iss || (flags & 0x04))
		return;
	/* A raw frame before the handshake may have opened this connection
	 * itself, one since may have moved its window: then the peer's view
	 * does not hold (the frame-level checks still do). */
	if (len && !c->raw_before) {
		CHECK(len <= (c->peer_mss > FZ_MSS_FLOOR ? c->peer_mss : FZ_MSS_FLOOR),
		      "TCP payload larger than the peer's MSS");
		if (c->edge_valid && !F.raw_seen)
			/* One byte past a closed window is a probe. */
			CHECK(seq_leq(seq + len, c->edge + (len == 1)),
			      "TCP data beyond the peer's window");
		/* kn_tcp_send sends before it returns: what it is being offered
		 * counts as written. */
		uint32_t off = seq - (c->iss + 1);
		uint32_t avail = c->written + c->offering;
		if (trace && !seq_leq(off + len, avail))
			fprintf(stderr, "conn %u: bytes %u..%u sent, %u written\n", idx, off, off + len,
				avail);
		CHECK(seq_leq(off + len, avail), "TCP data the application never wrote");
		const uint8_t *p = th + thl;
		for (uint32_t i = 0; i < len; i++)
			CHECK(p[i] == fz_pat(idx, 0, off + i), "TCP data corrupted on output");
	}
	uint32_t end = seq + len + ((flags & 0x01) ? 1 : 0);
	if ((int32_t)(end - c->stack_max) > 0)
		c->stack_max = end;
	if (flags & 0x10)
		c->stack_ack = be32(th + 8);
}

static void check_frame(struct rte_mbuf *m)
{
	bool multiseg = F.dev.offloads & KN_DEV_TX_MULTI_SEG;
	uint32_t sum = 0, segs = 0;
	for (struct rte_mbuf *x = m; x; x = x->next) {
		CHECK((uint32_t)x->data_off + x->data_len <= x->buf_len, "segment past its buffer");
		sum += x->data_len;
		segs++;
	}
	CHECK(sum == m->pkt_len, "segment lengths do not add up to pkt_len");
	CHECK(segs == m->nb_segs, "nb_segs wrong");
	if (!multiseg) {
		CHECK(segs == 1, "a chained frame on a device without MULTI_SEG");
		CHECK(RTE_MBUF_DIRECT(m), "an indirect mbuf on a device without MULTI_SEG");
	}
	CHECK(!(m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK)),
	      "checksum offload asked of a device without it");
	CHECK(m->pkt_len >= 14, "runt frame");
	CHECK(m->pkt_len <= (uint32_t)F.mtu + 14, "frame above the MTU");
	uint32_t n = 0;
	for (struct rte_mbuf *x = m; x; x = x->next) {
		memcpy(flat + n, rte_pktmbuf_mtod(x, const uint8_t *), x->data_len);
		n += x->data_len;
	}
	uint16_t type = be16(flat + 12);
	if (type == 0x0806) {
		CHECK(n >= 42, "short ARP");
		return;
	}
	CHECK(type == 0x0800, "unknown ethertype");
	CHECK(n >= 34, "short IPv4");
	const uint8_t *ip = flat + 14;
	uint32_t ihl = (ip[0] & 0xf) * 4u;
	CHECK((ip[0] >> 4) == 4 && ihl >= 20 && 14 + ihl <= n, "bad IPv4 header length");
	uint32_t tot = be16(ip + 2);
	/* Ethernet pads short frames to 60 bytes. */
	CHECK(14 + tot == n || (n == 60 && 14 + tot < 60 && tot >= ihl),
	      "IPv4 total length does not match the frame");
	CHECK(fz_csum(ip, ihl, 0) == 0, "bad IPv4 header checksum");
	if ((ip[6] & 0x3f) || ip[7])
		return; /* a fragment: the L4 checksum spans pieces */
	const uint8_t *l4 = ip + ihl;
	uint32_t l4len = tot - ihl;
	switch (ip[9]) {
	case 6: {
		CHECK(l4len >= 20, "short TCP");
		uint32_t thl = (l4[12] >> 4) * 4u;
		CHECK(thl >= 20 && thl <= l4len, "TCP header beyond the segment");
		CHECK(fz_csum(l4, l4len, fz_pseudo(ip, l4len)) == 0, "bad TCP checksum");
		if (be32(ip + 16) == FZ_PEER_IP)
			observe_tcp(l4, l4len);
		break;
	}
	case 17:
		CHECK(l4len >= 8 && be16(l4 + 4) == l4len, "UDP length does not match IPv4");
		CHECK(be16(l4 + 6) == 0 || fz_csum(l4, l4len, fz_pseudo(ip, l4len)) == 0,
		      "bad UDP checksum");
		break;
	case 1:
		CHECK(l4len >= 8, "short ICMP");
		CHECK(fz_csum(l4, l4len, 0) == 0, "bad ICMP checksum");
		break;
	default:
		CHECK(0, "IPv4 protocol the stack never sends");
	}
}

static uint16_t dev_tx(struct kn_dev *d, struct rte_mbuf **p, uint16_t n)
{
	(void)d;
	for (uint16_t i = 0; i < n; i++) {
		check_frame(p[i]);
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

static void on_event(void *user, unsigned ev, int err)
{
	(void)user;
	(void)ev;
	(void)err;
}

/* ---- what the peer sends ---- */

static void inject(uint8_t *f, uint32_t len, bool fix)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	CHECK(m, "pool empty");
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	CHECK(p, "frame too long for an mbuf");
	if (fix)
		fz_fix_checksums(f, len);
	memcpy(p, f, len);
	kn_stack_input(F.s, m, F.now);
	kn_stack_flush(F.s);
}

static uint32_t eth_ip(uint8_t *b, uint8_t proto, uint16_t id, uint16_t frag, uint32_t l4len)
{
	memcpy(b, fz_us_mac, 6);
	memcpy(b + 6, fz_peer_mac, 6);
	put16(b + 12, 0x0800);
	uint8_t *ip = b + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + l4len);
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, FZ_PEER_IP);
	put32(ip + 16, FZ_US_IP);
	return 34;
}

/* A segment of script connection @c; payload from the peer's stream. */
static void peer_seg(struct conv *c, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		     const uint8_t *opt, uint32_t optlen, uint32_t len, bool bad_csum)
{
	static uint8_t f[2048];
	unsigned idx = (unsigned)(c - F.c);
	optlen = (optlen + 3) & ~3u;
	uint32_t o = eth_ip(f, 6, 1, 0x4000, 20 + optlen + len);
	uint8_t *t = f + o;
	memset(t, 0, 20 + optlen);
	put16(t, c->pport);
	put16(t + 2, c->lport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	t[13] = flags;
	put16(t + 14, win);
	memcpy(t + 20, opt, optlen);
	uint32_t off = seq - (c->peer_iss + 1);
	for (uint32_t i = 0; i < len; i++)
		t[20 + optlen + i] = fz_pat(idx, 1, off + i);
	uint32_t n = o + 20 + optlen + len;
	fz_fix_checksums(f, n);
	if (bad_csum)
		t[16] ^= 0x5a;
	if (trace)
		fprintf(stderr, "peer>  conn %u seq +%u ack +%u len %u flags %#x win %u\n", idx,
			seq - c->peer_iss, ack - c->iss, len, flags, win);
	/* The largest right edge the stack may believe in (before the
	 * segment goes in: the stack answers at once). A SYN's window is never
	 * scaled. */
	if ((flags & 0x10) && c->have_iss && seq_leq(ack, c->stack_max) && !bad_csum) {
		bool scaled = !(flags & 0x02) && c->peer_ws_sent && c->stack_ws_sent;
		uint32_t e = ack + ((uint32_t)win << (scaled ? c->peer_ws : 0));
		if (!c->edge_valid || (int32_t)(e - c->edge) > 0)
			c->edge = e;
		c->edge_valid = true;
	}
	inject(f, n, false);
}

static uint32_t ts_opt(struct conv *c, uint8_t *o, bool old)
{
	if (!c->ts)
		return 0;
	o[0] = o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	put32(o + 4, old ? c->ts_val - 0x10000 : c->ts_val);
	put32(o + 8, c->ts_recent);
	return 12;
}

/* The accept queue: script connections get their handle, others (from raw
 * frames) are served as the first version of this target did. */
static void drain_accept(uint8_t ctl)
{
	struct kn_tcb *t;
	while (F.l && (t = kn_tcp_accept(F.l, NULL)) != NULL) {
		uint32_t lip, rip;
		uint16_t lp, rp;
		kn_tcp_endpoints(t, &lip, &lp, &rip, &rp);
		struct conv *c = rip == FZ_PEER_IP ? conv_by_ports(lp, rp) : NULL;
		if (c && !c->active && !c->t) {
			c->t = t;
			continue;
		}
		(void)kn_tcp_recv(t, rbuf, 512);
		if (ctl & 0x02)
			(void)kn_tcp_send(t, "reply", 5);
		if (ctl & 0x04)
			kn_tcp_close(t);
		else
			kn_tcp_abort(t);
	}
}

static void op_open(struct conv *c, unsigned idx, const uint8_t *a)
{
	if (c->open)
		return;
	memset(c, 0, sizeof(*c));
	uint8_t fl = a[0];
	uint16_t mss = be16(a + 1);
	uint8_t ws = a[3];
	uint16_t win = be16(a + 4);
	c->open = true;
	c->active = fl & FZ_O_ACTIVE;
	c->raw_before = F.raw_seen;
	/* An MSS option of 0 counts as none (RFC 9293's 536), as in Linux. */
	c->peer_mss = (fl & FZ_O_MSS) && mss ? mss : 536;
	c->peer_ws_sent = fl & FZ_O_WS;
	c->peer_ws = ws > 14 ? 14 : ws;
	c->ts = fl & FZ_O_TS; /* and-ed with the stack's when its SYN is seen */
	c->ts_val = 1000 + idx;
	c->peer_iss = 0x10000000u * (idx + 1) + mss;
	c->peer_nxt = c->peer_iss + 1;
	uint8_t opt[40];
	uint32_t n = 0;
	if (fl & FZ_O_MSS) {
		opt[n++] = 2;
		opt[n++] = 4;
		put16(opt + n, mss);
		n += 2;
	}
	if (fl & FZ_O_SACKOK) {
		opt[n++] = 4;
		opt[n++] = 2;
	}
	if (fl & FZ_O_TS) {
		opt[n++] = 8;
		opt[n++] = 10;
		put32(opt + n, c->ts_val);
		put32(opt + n + 4, 0);
		n += 8;
	}
	if (fl & FZ_O_WS) {
		opt[n++] = 1;
		opt[n++] = 3;
		opt[n++] = 3;
		opt[n++] = ws;
	}
	while (n & 3)
		opt[n++] = 0;
	int err;
	if (c->active) {
		c->lport = (uint16_t)(FZ_LPORT0 + idx);
		c->pport = FZ_APORT;
		c->t = kn_tcp_connect(F.s, FZ_PEER_IP, FZ_APORT, c->lport, NULL, &err);
		if (!c->t) {
			c->open = false;
			return;
		}
		kn_stack_flush(F.s); /* the SYN: iss, the stack's options */
		if (!c->have_iss)
			return;
		if (!(fl & FZ_O_TS))
			c->ts = false;
		/* The SYN,ACK's timestamp echoes the stack's. */
		if (fl & FZ_O_TS)
			for (uint32_t i = 0; i + 10 <= n; i++)
				if (opt[i] == 8 && opt[i + 1] == 10) {
					put32(opt + i + 6, c->ts_recent);
					break;
				}
		peer_seg(c, 0x12, c->peer_iss, c->iss + 1, win, opt, n, 0, false);
	} else {
		c->lport = 80;
		c->pport = (uint16_t)(FZ_PPORT0 + idx);
		peer_seg(c, 0x02, c->peer_iss, 0, win, opt, n, 0, false);
		if (!c->have_iss)
			return; /* no SYN,ACK: the listener refused */
		uint8_t to[12];
		c->ts_val++;
		uint32_t tl = ts_opt(c, to, false);
		peer_seg(c, 0x10, c->peer_nxt, c->iss + 1, win, to, tl, 0, false);
		drain_accept(0);
	}
}

static void op_seg(struct conv *c, const uint8_t *a)
{
	if (!c->open || !c->have_iss)
		return;
	uint8_t flags = a[0];
	int16_t dseq = (int16_t)be16(a + 1);
	int16_t dack = (int16_t)be16(a + 3);
	uint16_t win = be16(a + 5);
	uint32_t len = be16(a + 7) % (FZ_SEG_MAX + 1);
	uint8_t sf = a[9];
	uint8_t to[40];
	uint32_t tl = (sf & FZ_S_NO_TS) ? 0 : ts_opt(c, to, sf & FZ_S_OLD_TS);
	uint32_t seq = c->peer_nxt + (uint32_t)(int32_t)dseq;
	uint32_t ack = c->stack_max + (uint32_t)(int32_t)dack;
	if (sf & FZ_S_SACK) {
		unsigned n = 1u + ((sf >> 4) & 3u);
		if (n > (40u - tl - 4u) / 8u)
			n = (40u - tl - 4u) / 8u;
		uint32_t b = 1u + win % 1500u;
		to[tl++] = 1;
		to[tl++] = 1;
		to[tl++] = 5;
		to[tl++] = (uint8_t)(2 + 8 * n);
		for (unsigned i = 0; i < n; i++) {
			uint32_t start = ack + (2 * i + 1) * b;
			if (i == 0 && (sf & 0x40))
				start = ack - b;
			put32(to + tl, start);
			put32(to + tl + 4, start + b);
			tl += 8;
		}
	}
	if (len > (uint32_t)F.mtu - 40 - tl)
		len = (uint32_t)F.mtu - 40 - tl;
	c->ts_val++;
	peer_seg(c, flags, seq, ack, win, to, tl, len, sf & FZ_S_BAD_CSUM);
	if (!(sf & FZ_S_BAD_CSUM) && !(flags & 0x06) && seq_leq(seq, c->peer_nxt)) {
		uint32_t end = seq + len + (flags & 0x01);
		if ((int32_t)(end - c->peer_nxt) > 0)
			c->peer_nxt = end;
	}
}

static void op_pump(struct conv *c, const uint8_t *a)
{
	if (!c->open || !c->have_iss)
		return;
	uint16_t win = be16(a);
	unsigned rounds = a[2];
	for (unsigned r = 0; r < rounds; r++) {
		uint8_t to[12];
		c->ts_val++;
		uint32_t tl = ts_opt(c, to, false);
		peer_seg(c, 0x10, c->peer_nxt, c->stack_max, win, to, tl, 0, false);
		F.now += 1000000;
		kn_stack_timers(F.s, F.now);
		kn_stack_flush(F.s);
	}
}

static void op_write(struct conv *c, unsigned idx, const uint8_t *a)
{
	if (!c->t)
		return;
	uint32_t len = ((uint32_t)a[0] << 16 | (uint32_t)a[1] << 8 | a[2]) % (FZ_WRITE_MAX + 1);
	for (uint32_t i = 0; i < len; i++)
		wbuf[i] = fz_pat(idx, 0, c->written + i);
	uint32_t done = 0;
	while (done < len) {
		c->offering = len - done;
		ssize_t r = kn_tcp_send(c->t, wbuf + done, len - done);
		c->offering = 0;
		if (r <= 0)
			break;
		CHECK((size_t)r <= len - done, "kn_tcp_send took more than it was given");
		done += (uint32_t)r;
		c->written += (uint32_t)r;
	}
	if (trace)
		fprintf(stderr, "app>   conn %u write %u: took %u (%u in all)\n", idx, len, done, c->written);
}

static void op_read(struct conv *c, unsigned idx, const uint8_t *a, bool zc)
{
	if (!c->t)
		return;
	uint32_t len = be16(a);
	uint32_t got = 0;
	if (zc) {
		int err;
		struct rte_mbuf *m = kn_tcp_recv_mbuf(c->t, &err);
		if (!m)
			return;
		for (struct rte_mbuf *x = m; x; x = x->next) {
			CHECK(got + x->data_len <= sizeof(rbuf), "kn_tcp_recv_mbuf: over 64 KB");
			memcpy(rbuf + got, rte_pktmbuf_mtod(x, const uint8_t *), x->data_len);
			got += x->data_len;
		}
		CHECK(got == m->pkt_len, "kn_tcp_recv_mbuf: chain lengths do not add up");
		rte_pktmbuf_free(m);
	} else {
		ssize_t r = kn_tcp_recv(c->t, rbuf, len);
		if (r <= 0)
			return;
		CHECK((size_t)r <= len, "kn_tcp_recv returned more than asked");
		got = (uint32_t)r;
	}
	if (!F.raw_seen)
		for (uint32_t i = 0; i < got; i++)
			CHECK(rbuf[i] == fz_pat(idx, 1, c->read + i), "received data corrupted");
	c->read += got;
}

static void op_close(struct conv *c, uint8_t how)
{
	if (!c->t)
		return;
	switch (how % 3) {
	case 0:
		kn_tcp_close(c->t);
		c->t = NULL;
		break;
	case 1:
		(void)kn_tcp_shutdown(c->t);
		break;
	default:
		kn_tcp_abort(c->t);
		c->t = NULL;
	}
}

/* No stall: a connection that holds data the application wrote, facing a
 * peer that acknowledges everything at once with an open window, sends new
 * data every round (every round ends at the connection's next retransmission
 * or persist timer, or the stack's next timer, so RTO and persist backoffs
 * are no excuse). Issue 9 saw connections that acknowledged but never sent
 * again. Only for connections the application still holds,
 * without an error, untouched by raw frames. */
static void check_progress(struct conv *c)
{
	if (!c->t || !c->have_iss || F.raw_seen || kn_tcp_error(c->t) != 0)
		return;
	switch (kn_tcp_get_state(c->t)) {
	case KN_TCP_ESTABLISHED:
	case KN_TCP_CLOSE_WAIT:
	case KN_TCP_FIN_WAIT_1:
	case KN_TCP_CLOSING:
	case KN_TCP_LAST_ACK:
		break;
	default:
		return;
	}
	unsigned idle = 0;
	for (unsigned r = 0; r < 256; r++) {
		if (seq_leq(c->iss + 1 + c->written, c->stack_max) || kn_tcp_error(c->t) != 0)
			return; /* all sent, or reset */
		uint32_t before = c->stack_max;
		uint8_t to[12];
		c->ts_val++;
		uint32_t tl = ts_opt(c, to, false);
		peer_seg(c, 0x10, c->stack_ack, c->stack_max, 65535, to, tl, 0, false);
		/* At least to this connection's own retransmission or persist
		 * timer: other connections' timers come first and, counted as
		 * rounds, made a persist probe (due after five of them) look
		 * like a stall. */
		int64_t next = kn_stack_next_timer(F.s);
		int64_t own = c->t->t_rexmt;
		if (c->t->t_persist && (!own || c->t->t_persist < own))
			own = c->t->t_persist;
		if (own > next)
			next = own;
		int64_t step = next > F.now ? next - F.now : 0;
		if (step < 1000000)
			step = 1000000;
		if (step > 70LL * 1000000000)
			step = 70LL * 1000000000;
		F.now += step;
		kn_stack_timers(F.s, F.now);
		kn_stack_flush(F.s);
		idle = c->stack_max == before ? idle + 1 : 0;
		if (trace)
			fprintf(stderr, "final: step %lld conn %u round %u sent up to +%u of %u written\n", (long long)step,
				(unsigned)(c - F.c), r, c->stack_max - c->iss - 1, c->written);
		CHECK(idle < 4, "TCP connection stalled: written data never sent to an open window");
	}
}

static void op_ping(uint16_t size)
{
	static uint8_t dgram[65536];
	static uint8_t f[2048];
	uint32_t total = 8u + size;
	if (total > 65535 - 20)
		total = 65535 - 20;
	dgram[0] = 8;
	dgram[1] = dgram[2] = dgram[3] = 0;
	put16(dgram + 4, 0x1234);
	put16(dgram + 6, size);
	for (uint32_t i = 8; i < total; i++)
		dgram[i] = (uint8_t)i;
	uint16_t c = fz_csum(dgram, total, 0);
	put16(dgram + 2, c);
	uint32_t chunk = ((uint32_t)F.mtu - 20) & ~7u;
	for (uint32_t off = 0; off < total; off += chunk) {
		uint32_t n = total - off < chunk ? total - off : chunk;
		bool more = off + n < total;
		uint32_t o = eth_ip(f, 1, size, (uint16_t)((more ? 0x2000 : 0) | off / 8), n);
		memcpy(f + o, dgram + off, n);
		uint8_t *ip = f + 14;
		put16(ip + 10, 0);
		put16(ip + 10, fz_csum(ip, 20, 0));
		inject(f, o + n, false);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-fuzz-%d", (int)getpid());
	char *eal[] = {"fuzz", "--no-huge", "--no-shconf", "-m", "256", "--no-pci", prefix,
		       "--log-level=error", "--no-telemetry", "-l", "0", NULL};
	if (rte_eal_init(11, eal) < 0) {
		fprintf(stderr, "fuzz: EAL init failed\n");
		exit(1);
	}
	rmdir(rte_eal_get_runtime_dir()); /* made, though nothing is kept in it */
	trace = getenv("FZ_TRACE") != NULL;
	pool = rte_pktmbuf_pool_create("fuzz", POOL_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool)
		exit(1);
	return 0;
}

/* Arguments each operation takes after its code. */
static const uint8_t op_args[FZ_OP_COUNT] = {
	[FZ_OP_RAW] = 3, [FZ_OP_OPEN] = 7, [FZ_OP_SEG] = 11, [FZ_OP_PUMP] = 4,
	[FZ_OP_WRITE] = 4, [FZ_OP_READ] = 3, [FZ_OP_CLOSE] = 2, [FZ_OP_CLOCK] = 1,
	[FZ_OP_UDP] = 2, [FZ_OP_PING] = 2,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FZ_HDR)
		return 0;
	memset(&F, 0, sizeof(F));
	uint8_t h = data[0];
	F.mtu = fz_mtus[data[1] % FZ_NMTU];
	F.dev = (struct kn_dev){.ops = &ops, .mtu = F.mtu,
				.offloads = (h & FZ_H_MULTISEG) ? KN_DEV_TX_MULTI_SEG : 0};
	memcpy(F.dev.mac, fz_us_mac, 6);
	struct kn_stack_conf c;
	kn_stack_conf_default(&c);
	c.ip = FZ_US_IP;
	c.netmask = 0xffffff00u;
	c.gateway = 0xc61200feu;
	c.isn_secret[0] = 1;
	c.isn_secret[1] = 2;
	c.event = on_event;
	c.frag_max_datagrams = 4;
	c.frag_max_bytes = 256 * 1024;
	c.tcp.ooo_max = 8;
	c.tcp.timestamps = !(h & FZ_H_NO_TS);
	c.tcp.wscale = !(h & FZ_H_NO_WS);
	c.tcp.nagle = h & FZ_H_NAGLE;
	if (data[2])
		c.tcp.sndbuf = data[2] * 16u * 1024;
	struct kn_static_arp sa = {.ip = FZ_PEER_IP};
	memcpy(sa.mac, fz_peer_mac, 6);
	c.static_arp = &sa;
	c.n_static_arp = 1;
	F.now = 1000000000000LL;
	int err;
	F.s = kn_stack_create(&c, &F.dev, pool, F.now, &err);
	CHECK(F.s, "kn_stack_create failed");
	F.l = kn_tcp_listen(F.s, 80, 8, NULL, &err);
	F.u = kn_udp_bind(F.s, 53, NULL, &err);
	F.a = kn_tcp_connect(F.s, FZ_PEER_IP, 80, 1025, NULL, &err);
	kn_stack_flush(F.s);

	size_t off = FZ_HDR;
	while (off < size) {
		unsigned op = data[off] % FZ_OP_COUNT;
		if (size - off - 1 < op_args[op])
			break;
		const uint8_t *a = data + off + 1;
		off += 1u + op_args[op];
		unsigned idx = a[0] % FZ_CONNS;
		struct conv *cv = &F.c[idx];
		uint8_t ctl = 0;
		switch (op) {
		case FZ_OP_RAW: {
			uint32_t len = (uint32_t)(a[0] | a[1] << 8) & 0x7ff;
			ctl = a[2];
			if (len > size - off)
				len = (uint32_t)(size - off);
			static uint8_t f[2048];
			memcpy(f, data + off, len);
			off += len;
			if (ctl >> 4)
				F.now += (1LL << (ctl >> 4)) * 1000000LL;
			F.raw_seen = true;
			inject(f, len, ctl & FZ_CTL_FIXCSUM);
			kn_stack_timers(F.s, F.now);
			break;
		}
		case FZ_OP_OPEN:
			op_open(cv, idx, a + 1);
			break;
		case FZ_OP_SEG:
			op_seg(cv, a + 1);
			break;
		case FZ_OP_PUMP:
			op_pump(cv, a + 1);
			break;
		case FZ_OP_WRITE:
			op_write(cv, idx, a + 1);
			break;
		case FZ_OP_READ:
			op_read(cv, idx, a + 1, a[0] & 0x80);
			break;
		case FZ_OP_CLOSE:
			op_close(cv, a[1]);
			break;
		case FZ_OP_CLOCK:
			F.now += a[0] < 200 ? (a[0] + 1) * 1000000LL : (a[0] - 199) * 1000000000LL;
			kn_stack_timers(F.s, F.now);
			break;
		case FZ_OP_UDP: {
			uint32_t len = be16(a);
			static uint8_t ub[65536];
			memset(ub, 0x75, len);
			if (F.u)
				(void)kn_udp_sendto(F.u, ub, len, FZ_PEER_IP, 9999);
			break;
		}
		case FZ_OP_PING:
			op_ping(be16(a));
			break;
		}
		kn_stack_flush(F.s);
		/* Drain what the application would read; answer sometimes. */
		drain_accept(ctl);
		if (F.a && kn_tcp_get_state(F.a) == KN_TCP_CLOSED) {
			kn_tcp_close(F.a);
			F.a = NULL;
		} else if (F.a) {
			(void)kn_tcp_recv(F.a, rbuf, 512);
			if (ctl & 0x08)
				(void)kn_tcp_send(F.a, "data", 4);
		}
		if (F.u)
			(void)kn_udp_recvfrom(F.u, rbuf, 512, NULL, NULL);
		kn_stack_flush(F.s);
	}
	for (unsigned i = 0; i < FZ_CONNS; i++)
		check_progress(&F.c[i]);
	/* Release the handles, let every timer run out, then tear down. */
	for (unsigned i = 0; i < FZ_CONNS; i++)
		if (F.c[i].t)
			kn_tcp_close(F.c[i].t);
	for (int i = 0; i < 4; i++) {
		F.now += 100LL * 1000000000LL;
		kn_stack_timers(F.s, F.now);
		kn_stack_flush(F.s);
	}
	kn_stack_destroy(F.s);
	if (rte_mempool_avail_count(pool) != POOL_N) {
		fprintf(stderr, "fuzz: mbuf leak: %u of %u back\n", rte_mempool_avail_count(pool), POOL_N);
		abort();
	}
	return 0;
}
