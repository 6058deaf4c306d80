#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "net_test.h"
#include "net/wire.h"

struct rte_mempool *kt_pool;
static unsigned kt_pool_n;
const uint8_t kt_us_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t kt_peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

int kt_eal_init(const char *name, unsigned n)
{
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-%s-%d", name, (int)getpid());
	char *argv[] = {(char *)name, "--no-huge", "--no-shconf", "-m", "256", "--no-pci", prefix,
			"--log-level=error", "--no-telemetry", "-l", "0", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "%s: EAL init failed, skipping\n", name);
		return 77;
	}
	/* In memory, DPDK keeps nothing in its runtime directory but makes it
	 * all the same: gone now, or every run leaves one behind. */
	rmdir(rte_eal_get_runtime_dir());
	kt_pool_n = n;
	kt_pool = rte_pktmbuf_pool_create("kt_pool", n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!kt_pool) {
		fprintf(stderr, "%s: no mbuf pool\n", name);
		rte_eal_cleanup();
		return 77;
	}
	return 0;
}

void kt_eal_fini(void)
{
	rte_mempool_free(kt_pool);
	kt_pool = NULL;
	rte_eal_cleanup();
}

void kt_assert_no_leak(void)
{
	assert_int_equal(rte_mempool_avail_count(kt_pool), kt_pool_n);
}

static uint16_t cap_tx(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	struct kt_cap *c = dev->priv;
	uint16_t i;
	for (i = 0; i < n && c->n < KT_CAP_MAX; i++)
		c->out[c->n++] = pkts[i];
	return i;
}

static uint16_t cap_rx(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	(void)dev;
	(void)pkts;
	(void)n;
	return 0;
}

static const struct kn_dev_ops cap_ops = {.rx_burst = cap_rx, .tx_burst = cap_tx};

void kt_cap_init(struct kt_cap *c, uint32_t offloads)
{
	memset(c, 0, sizeof(*c));
	c->dev.ops = &cap_ops;
	c->dev.priv = c;
	c->dev.mtu = 1500;
	c->dev.offloads = offloads;
	memcpy(c->dev.mac, kt_us_mac, 6);
}

void kt_cap_clear(struct kt_cap *c)
{
	for (unsigned i = 0; i < c->n; i++)
		rte_pktmbuf_free(c->out[i]);
	c->n = 0;
}

struct rte_mbuf *kt_cap_take(struct kt_cap *c)
{
	if (c->n == 0)
		return NULL;
	struct rte_mbuf *m = c->out[0];
	memmove(&c->out[0], &c->out[1], (c->n - 1) * sizeof(c->out[0]));
	c->n--;
	return m;
}

void kt_conf(struct kn_stack_conf *c, uint32_t ip)
{
	kn_stack_conf_default(c);
	c->ip = ip;
	c->netmask = 0xffffff00u;
	c->isn_secret[0] = 1;
	c->isn_secret[1] = 2;
	c->event = kt_event_cb;
}

struct kn_stack *kt_stack(struct kt_cap *cap, struct kn_stack_conf *conf, int64_t now)
{
	static struct kn_static_arp sa;
	sa.ip = KT_PEER_IP;
	memcpy(sa.mac, kt_peer_mac, 6);
	conf->static_arp = &sa;
	conf->n_static_arp = 1;
	int err;
	struct kn_stack *s = kn_stack_create(conf, &cap->dev, kt_pool, now, &err);
	assert_non_null(s);
	kn_stack_flush(s);
	kt_cap_clear(cap); /* the gratuitous ARP */
	return s;
}

void kt_event_cb(void *user, unsigned events, int err)
{
	struct kt_ev *e = user;
	if (!e)
		return;
	e->events |= events;
	if (events & KN_EV_CLOSED)
		e->err = err;
	e->count++;
}

static uint16_t csum(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

struct rte_mbuf *kt_frame_from(const uint8_t *buf, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(kt_pool);
	assert_non_null(m);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(p);
	memcpy(p, buf, len);
	return m;
}

/* Ethernet + IPv4 header into @b; returns IP header length offset end. */
static uint32_t eth_ip(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		       uint16_t frag, uint32_t l4len)
{
	struct kn_eth_hdr *eh = (struct kn_eth_hdr *)b;
	memcpy(eh->dst, kt_us_mac, 6);
	memcpy(eh->src, kt_peer_mac, 6);
	eh->type = rte_cpu_to_be_16(KN_ETHERTYPE_IP4);
	struct kn_ip4_hdr *ip = (struct kn_ip4_hdr *)(b + 14);
	memset(ip, 0, sizeof(*ip));
	ip->ver_ihl = 0x45;
	ip->len = rte_cpu_to_be_16((uint16_t)(20 + l4len));
	ip->id = rte_cpu_to_be_16(id);
	ip->frag = rte_cpu_to_be_16(frag);
	ip->ttl = 64;
	ip->proto = proto;
	ip->src = rte_cpu_to_be_32(src);
	ip->dst = rte_cpu_to_be_32(dst);
	ip->csum = rte_cpu_to_be_16(csum(ip, 20, 0));
	return 34;
}

struct rte_mbuf *kt_ip_frame(uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint16_t frag,
			     const void *payload, uint32_t len)
{
	uint8_t b[2048];
	uint32_t o = eth_ip(b, src, dst, proto, id, frag, len);
	memcpy(b + o, payload, len);
	return kt_frame_from(b, o + len);
}

struct rte_mbuf *kt_tcp_frame(const struct kt_tcp *t)
{
	uint8_t b[2048];
	uint32_t thl = 20 + t->optlen;
	uint32_t o = eth_ip(b, t->src, t->dst, KN_IPPROTO_TCP, 1, KN_IP_DF, thl + t->len);
	struct kn_tcp_hdr *th = (struct kn_tcp_hdr *)(b + o);
	memset(th, 0, sizeof(*th));
	th->sport = rte_cpu_to_be_16(t->sport);
	th->dport = rte_cpu_to_be_16(t->dport);
	th->seq = rte_cpu_to_be_32(t->seq);
	th->ack = rte_cpu_to_be_32(t->ack);
	th->off = (uint8_t)((thl / 4) << 4);
	th->flags = t->flags;
	th->win = rte_cpu_to_be_16(t->win);
	if (t->optlen)
		memcpy(th + 1, t->opt, t->optlen);
	if (t->len)
		memcpy(b + o + thl, t->data, t->len);
	th->csum = rte_cpu_to_be_16(
		csum(th, thl + t->len, pseudo(t->src, t->dst, KN_IPPROTO_TCP, (uint16_t)(thl + t->len))));
	return kt_frame_from(b, o + thl + t->len);
}

struct rte_mbuf *kt_udp_frame(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			      const void *data, uint32_t len)
{
	uint8_t b[2048];
	uint32_t o = eth_ip(b, src, dst, KN_IPPROTO_UDP, 2, 0, 8 + len);
	struct kn_udp_hdr *uh = (struct kn_udp_hdr *)(b + o);
	uh->sport = rte_cpu_to_be_16(sport);
	uh->dport = rte_cpu_to_be_16(dport);
	uh->len = rte_cpu_to_be_16((uint16_t)(8 + len));
	uh->csum = 0;
	memcpy(uh + 1, data, len);
	uint16_t c = csum(uh, 8 + len, pseudo(src, dst, KN_IPPROTO_UDP, (uint16_t)(8 + len)));
	uh->csum = rte_cpu_to_be_16(c ? c : 0xffff);
	return kt_frame_from(b, o + 8 + len);
}

struct rte_mbuf *kt_icmp_echo_frame(uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
				    const void *data, uint32_t len)
{
	uint8_t b[2048];
	uint32_t o = eth_ip(b, src, dst, KN_IPPROTO_ICMP, 3, 0, 8 + len);
	struct kn_icmp_hdr *ic = (struct kn_icmp_hdr *)(b + o);
	ic->type = KN_ICMP_ECHO;
	ic->code = 0;
	ic->csum = 0;
	ic->u.echo.id = rte_cpu_to_be_16(id);
	ic->u.echo.seq = rte_cpu_to_be_16(seq);
	memcpy(ic + 1, data, len);
	ic->csum = rte_cpu_to_be_16(csum(ic, 8 + len, 0));
	return kt_frame_from(b, o + 8 + len);
}

struct rte_mbuf *kt_arp_frame(uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
			      uint32_t tpa, const uint8_t *eth_dst)
{
	uint8_t b[64] = {0};
	struct kn_eth_hdr *eh = (struct kn_eth_hdr *)b;
	memcpy(eh->dst, eth_dst, 6);
	memcpy(eh->src, sha, 6);
	eh->type = rte_cpu_to_be_16(KN_ETHERTYPE_ARP);
	struct kn_arp_hdr *ah = (struct kn_arp_hdr *)(b + 14);
	ah->hrd = rte_cpu_to_be_16(1);
	ah->pro = rte_cpu_to_be_16(KN_ETHERTYPE_IP4);
	ah->hln = 6;
	ah->pln = 4;
	ah->op = rte_cpu_to_be_16(op);
	memcpy(ah->sha, sha, 6);
	ah->spa = rte_cpu_to_be_32(spa);
	memcpy(ah->tha, tha, 6);
	ah->tpa = rte_cpu_to_be_32(tpa);
	return kt_frame_from(b, 60);
}

uint32_t kt_flatten(const struct rte_mbuf *m, uint8_t *buf, uint32_t cap)
{
	uint32_t n = 0;
	for (; m; m = m->next) {
		uint32_t c = m->data_len;
		if (n + c > cap)
			c = cap - n;
		memcpy(buf + n, rte_pktmbuf_mtod(m, const uint8_t *), c);
		n += c;
	}
	return n;
}

bool kt_parse_tcp(struct rte_mbuf *m, struct kt_seg *s)
{
	uint8_t b[4096];
	uint32_t n = kt_flatten(m, b, sizeof(b));
	bool offl = m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM;
	rte_pktmbuf_free(m);
	memset(s, 0, sizeof(*s));
	if (n < 54)
		return false;
	const struct kn_ip4_hdr *ip = (const struct kn_ip4_hdr *)(b + 14);
	if (ip->proto != KN_IPPROTO_TCP)
		return false;
	uint32_t ihl = (ip->ver_ihl & 0xf) * 4u;
	uint32_t tot = rte_be_to_cpu_16(ip->len);
	const struct kn_tcp_hdr *th = (const struct kn_tcp_hdr *)(b + 14 + ihl);
	uint32_t thl = (th->off >> 4) * 4u;
	s->src = rte_be_to_cpu_32(ip->src);
	s->dst = rte_be_to_cpu_32(ip->dst);
	s->sport = rte_be_to_cpu_16(th->sport);
	s->dport = rte_be_to_cpu_16(th->dport);
	s->seq = rte_be_to_cpu_32(th->seq);
	s->ack = rte_be_to_cpu_32(th->ack);
	s->flags = th->flags;
	s->win = rte_be_to_cpu_16(th->win);
	s->len = tot - ihl - thl;
	memcpy(s->data, (const uint8_t *)th + thl, s->len < sizeof(s->data) ? s->len : sizeof(s->data));
	s->csum_ok = offl || csum(th, tot - ihl, pseudo(s->src, s->dst, KN_IPPROTO_TCP,
							 (uint16_t)(tot - ihl))) == 0;
	const uint8_t *o = (const uint8_t *)(th + 1);
	for (uint32_t i = 0; i < thl - 20;) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		uint8_t l = o[i + 1];
		if (o[i] == 2) {
			s->has_mss = true;
			s->mss = (uint16_t)(o[i + 2] << 8 | o[i + 3]);
		} else if (o[i] == 3) {
			s->has_ws = true;
			s->ws = o[i + 2];
		} else if (o[i] == 8) {
			s->has_ts = true;
			s->tsval = (uint32_t)o[i + 2] << 24 | (uint32_t)o[i + 3] << 16 |
				   (uint32_t)o[i + 4] << 8 | o[i + 5];
			s->tsecr = (uint32_t)o[i + 6] << 24 | (uint32_t)o[i + 7] << 16 |
				   (uint32_t)o[i + 8] << 8 | o[i + 9];
		} else if (o[i] == 4) {
			s->has_sackok = true;
		} else if (o[i] == 5) {
			for (uint32_t b = 0; b + 10 <= l && s->nsack < 4; b += 8, s->nsack++)
				for (int k = 0; k < 2; k++)
					s->sack[s->nsack][k] = (uint32_t)o[i + 2 + b + 4 * k] << 24 |
							       (uint32_t)o[i + 3 + b + 4 * k] << 16 |
							       (uint32_t)o[i + 4 + b + 4 * k] << 8 |
							       o[i + 5 + b + 4 * k];
		}
		i += l ? l : 1;
	}
	return true;
}

uint64_t kt_drops(const struct kn_stack *s, enum kn_drop_reason r)
{
	return kn_stack_stats(s)->drops[r];
}
