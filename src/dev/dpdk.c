/* SPDX-License-Identifier: MIT */
/* A DPDK ethdev port behind kn_dev: what net/ sees of a real NIC. */
#include "kaon/dpdk.h"
#ifdef KAON_HAVE_BIF
#include "kaon/bif.h"
#endif

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include "dev/capture.h"

#include <rte_eal.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#define MBUF_CACHE 256
/* Frames waiting for their owning core, per core: a few bursts' worth.
 * Each is an mbuf of the receiving core's pool, so every ring counts in
 * the reserve of the other cores' pools (kaon_dpdk_reserve). */
#define HANDOFF_RING 1024
/* mbufs that may wait in one core's ring as reassembled datagrams, which
 * take a ring slot each but up to 65 mbufs (kaon_dpdk_hand_datagram): two
 * datagrams of 64 KB, or many small ones. Counted in the pools' reserve. A ring slot holding one is tagged with
 * its lowest bit (an mbuf is cache-line aligned). */
#define REASM_IN_MAX 128
#define REASM_TAG ((uintptr_t)1)
/* Buffers DPDK 22.11's af_xdp PMD puts on its fill ring at queue setup. */
#define KAON_AF_XDP_FILL_BUFS 2048

/* A port with one queue pair per core. What the cores share is read-mostly
 * after start-up: the port id, the RSS key and redirection table, the
 * queues' hand-off rings (each written by many, read by its owner only). */
struct kaon_dpdk_port {
	uint16_t port;               /* the first ethdev */
	/* The ethdevs: one with nq queues, or one per queue (af_xdp vdevs on a
	 * device that reports no combined channels, one queue each). */
	unsigned nports;
	uint16_t eport[KAON_DPDK_MAX_QUEUES];
	unsigned char state[KAON_DPDK_MAX_QUEUES]; /* PORT_* of each ethdev */
	unsigned nq;                 /* queue pairs: one per core */
	unsigned nrxq;               /* receive queues (fewer: the rest only by hand-off) */
	enum kaon_dpdk_steer steer;
	unsigned keylen;
	uint8_t key[KAON_RSS_KEY_MAX];
	uint16_t reta_size;
	uint16_t reta[KAON_RETA_MAX];
	_Atomic unsigned refs;       /* queues not closed yet */
	/* The core each UDP port is bound on, plus one (0: none). Written at
	 * bind and close, read by the cores that receive UDP. */
	_Atomic uint8_t udp_owner[65536];
	struct kaon_dpdk *q[KAON_DPDK_MAX_QUEUES];
};

/* One core's view of the port: its queue pair, its mempool, its counters.
 * Aligned so that no two cores' counters share a cache line. */
struct kaon_dpdk {
	struct kn_dev dev;           /* first: kn_dev.priv points back here */
	uint16_t port;
	uint16_t qid;                /* its core: the port's queue pair qid */
	uint16_t hwq;                /* that pair's queue on ethdev port (0 with one ethdev per queue) */
	struct kaon_dpdk_port *pp;
	struct rte_mempool *pool;
	struct rte_ring *in;         /* frames other cores hand to this one */
	int has_rx;                  /* it has a receive queue of its own */
	int linearize;               /* the port takes only direct, single-segment mbufs */
	uint32_t rx_loss_ppm, tx_loss_ppm; /* KAON_DEV_LOSS, for tests */
	unsigned rx_held;            /* mbufs the receive side took at start */
	unsigned rx_frames;          /* frames the port buffers between two polls */
	unsigned tx_held;            /* mbufs the transmit side may hold at most */
	uint64_t rng;
	struct kaon_dpdk_stats st;
	/* mbufs of reassembled datagrams waiting in this core's ring (one
	 * slot, many mbufs): added by the core that hands one over, taken off
	 * here once copied. On a line of its own: both write it, on the
	 * fragment path only. */
	_Atomic unsigned reasm_in __rte_cache_aligned;
} __rte_cache_aligned;

/*
 * Loss injection for tests on real PMDs, where the kernel offers no netem:
 * KAON_DEV_LOSS="RX_PPM,TX_PPM[,SEED]" drops that many frames per million
 * on receive and on send, drawn from SEED (default 1). Dropped frames count
 * as received (then freed) or as sent.
 */
static void loss_from_env(struct kaon_dpdk *p)
{
	const char *env = getenv("KAON_DEV_LOSS");
	p->rng = 1;
	if (!env)
		return;
	unsigned long rx = 0, tx = 0;
	unsigned long long seed = 1;
	if (sscanf(env, "%lu,%lu,%llu", &rx, &tx, &seed) < 2 || rx > 1000000 || tx > 1000000) {
		fprintf(stderr, "kaon: KAON_DEV_LOSS='%s' ignored (want RX_PPM,TX_PPM[,SEED])\n",
			env);
		return;
	}
	p->rx_loss_ppm = (uint32_t)rx;
	p->tx_loss_ppm = (uint32_t)tx;
	p->rng = seed ? seed : 1;
	fprintf(stderr, "kaon: injecting loss on port %u: rx %lu ppm, tx %lu ppm, seed %llu\n",
		p->port, rx, tx, seed);
}

static int lose(struct kaon_dpdk *p, uint32_t ppm)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return (uint32_t)(p->rng % 1000000) < ppm;
}

/* Drop a share of pkts[0..n) in place; @return how many are left. */
static uint16_t drop_some(struct kaon_dpdk *p, struct rte_mbuf **pkts, uint16_t n, uint32_t ppm)
{
	uint16_t kept = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (lose(p, ppm)) {
			rte_pktmbuf_free(pkts[i]);
			p->st.injected_drops++;
		} else {
			pkts[kept++] = pkts[i];
		}
	}
	return kept;
}

static int eal_started;

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
	if (!errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int kaon_dpdk_eal_init(const kaon_config *c, const char *prog, char *err, size_t errlen)
{
	if (eal_started)
		return -EALREADY;
	char *argv[64], buf[4096];
	int argc = kaon_config_eal_argv(c, prog, argv, 64, buf, sizeof(buf));
	if (argc < 0) {
		say(err, errlen, "%s: too many [dpdk] arguments", c->path);
		return -EINVAL;
	}
	/* rte_eal_init may permute argv: give it a copy. */
	char *copy[64];
	memcpy(copy, argv, sizeof(char *) * (size_t)(argc + 1));
	if (rte_eal_init(argc, copy) < 0) {
		say(err, errlen, "%s: DPDK EAL refused the [dpdk] section: %s", c->path,
		    rte_strerror(rte_errno));
		return -EINVAL;
	}
	eal_started = 1;
	kaon__capture_init();
	return 0;
}

void kaon_dpdk_eal_cleanup(void)
{
	if (eal_started) {
		kaon__capture_fini();
		rte_eal_cleanup();
		eal_started = 0;
	}
}

static uint16_t rx_burst(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	struct kaon_dpdk *p = dev->priv;
	uint16_t got = rte_eth_rx_burst(p->port, p->hwq, pkts, n);
	p->st.rx += got;
	if (__builtin_expect(p->rx_loss_ppm != 0, 0))
		got = drop_some(p, pkts, got, p->rx_loss_ppm);
	return got;
}

/* A direct, single-segment copy of @p m (which fits one mbuf), offload
 * requests kept. NULL: no mbuf now. */
static struct rte_mbuf *linearize(struct kaon_dpdk *p, struct rte_mbuf *m)
{
	struct rte_mbuf *c = rte_pktmbuf_alloc(p->pool);
	if (!c)
		return NULL;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	char *dst = rte_pktmbuf_append(c, (uint16_t)len);
	const void *src = rte_pktmbuf_read(m, 0, len, dst);
	if (src != dst)
		memcpy(dst, src, len);
	c->ol_flags = m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK;
	c->tx_offload = m->tx_offload;
	c->packet_type = m->packet_type;
	return c;
}

static uint16_t tx_burst(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	struct kaon_dpdk *p = dev->priv;
	if (!p->linearize && __builtin_expect(p->tx_loss_ppm == 0, 1)) {
		uint16_t sent = rte_eth_tx_burst(p->port, p->hwq, pkts, n);
		p->st.tx += sent;
		return sent;
	}
	/* Frames dropped here count as taken: the ones to send are packed at
	 * the front (k of them), and what the PMD leaves is moved back to
	 * just before the first frame not looked at. */
	uint32_t room = rte_pktmbuf_data_room_size(p->pool) - RTE_PKTMBUF_HEADROOM;
	uint16_t k = 0, gone = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (p->linearize && !(m->nb_segs == 1 && RTE_MBUF_DIRECT(m))) {
			if (rte_pktmbuf_pkt_len(m) > room) {
				/* Too big for one mbuf, ever: left in place it would
				 * block every frame behind it. */
				rte_pktmbuf_free(m);
				p->st.tx_too_big++;
				gone++;
				continue;
			}
			struct rte_mbuf *c = linearize(p, m);
			if (!c) {
				/* Out of buffers now: send what is ready, keep
				 * this one and the rest for the next burst. */
				p->st.tx_linearize_fail++;
				break;
			}
			/* The caller keeps owning unsent frames: hand it the copy. */
			rte_pktmbuf_free(m);
			m = c;
			p->st.tx_linearized++;
		}
		if (__builtin_expect(p->tx_loss_ppm != 0, 0) && lose(p, p->tx_loss_ppm)) {
			rte_pktmbuf_free(m);
			p->st.injected_drops++;
			gone++;
			continue;
		}
		pkts[k++] = m;
	}
	uint16_t sent = k ? rte_eth_tx_burst(p->port, p->hwq, pkts, k) : 0;
	p->st.tx += sent;
	if (sent < k && gone)
		memmove(pkts + sent + gone, pkts + sent, (size_t)(k - sent) * sizeof(*pkts));
	return (uint16_t)(sent + gone);
}

void kaon_dpdk_tx_reclaim(struct kaon_dpdk *p)
{
	rte_eth_tx_burst(p->port, p->hwq, NULL, 0);
}

static const struct kn_dev_ops dpdk_ops = {
	.rx_burst = rx_burst,
	.tx_burst = tx_burst,
};

/* --------------------------------------------------- steering to the owner */

enum { TO_ALL = -1 };

static inline uint32_t be32_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The core that owns a TCP flow, from the frame the peer sends: its
 * source and destination as they are on the wire. */
static inline int tcp_queue(const struct kaon_dpdk_port *pp, uint32_t sip, uint32_t dip,
			    uint16_t sport, uint16_t dport)
{
	uint32_t h = kaon_rss_hash_tcp4(pp->key, pp->keylen, sip, dip, sport, dport);
	return pp->reta[h % pp->reta_size];
}

static inline uint16_t be16_at(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* The core of a UDP port bound on one of the cores; -1: none. */
static inline int udp_queue(const struct kaon_dpdk_port *pp, uint16_t port)
{
	return (int)atomic_load_explicit(&pp->udp_owner[port], memory_order_relaxed) - 1;
}

/*
 * An ICMP message of @p len bytes at @p ic: an echo request is answered by
 * the core that got it; an error goes to the core of the flow it quotes
 * (the quoted datagram is one this side sent: its destination is the peer
 * that would send the flow's frames). @return the core, or @p dflt.
 */
static int icmp_queue(const struct kaon_dpdk_port *pp, const uint8_t *ic, unsigned len, int self,
		      int dflt)
{
	if (ic[0] == 8)
		return self;
	if ((ic[0] != 3 && ic[0] != 11 && ic[0] != 12) || len < 8 + 20)
		return dflt;
	const uint8_t *q = ic + 8;
	unsigned qhl = (q[0] & 15u) * 4u;
	if (qhl < 20 || len < 8 + qhl + 4 || (be16_at(q + 6) & 0x1fff))
		return dflt;
	const uint8_t *l4 = q + qhl;
	if (q[9] == IPPROTO_TCP)
		return tcp_queue(pp, be32_at(q + 16), be32_at(q + 12), be16_at(l4 + 2), be16_at(l4));
	if (q[9] == IPPROTO_UDP) {
		int o = udp_queue(pp, be16_at(l4));
		return o >= 0 ? o : dflt;
	}
	return dflt;
}

/*
 * The queue (core) a received frame belongs to. TCP over IPv4 goes where
 * its 4-tuple's Toeplitz hash sends it, exactly as an RSS NIC with the
 * port's key and table would (with RSS the NIC did it already). UDP goes
 * to the core its destination port is bound on (kaon_dpdk_udp_claim), an
 * ICMP echo request stays where it arrived, an ICMP error goes to the core
 * of the flow it quotes. Everything else a NIC does not hash for kaon
 * (fragments, other protocols, UDP to no socket) goes to queue 0, where an
 * RSS NIC puts it too. ARP replies go to every core, since each keeps its
 * own neighbour table (the core that asked may not be the one that got the
 * answer); ARP requests are answered by the core that got them.
 */
static int frame_queue(const struct kaon_dpdk_port *pp, const struct rte_mbuf *m, int self)
{
	uint16_t len = rte_pktmbuf_data_len(m);
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	if (len < 14)
		return self;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	if (et == RTE_ETHER_TYPE_ARP)
		return len >= 22 && f[20] == 0 && f[21] == 2 ? TO_ALL : self;
	int soft = pp->steer == KAON_STEER_SOFT, dflt = soft ? 0 : self;
	if (et != RTE_ETHER_TYPE_IPV4 || len < 14 + 20)
		return dflt;
	const uint8_t *ip = f + 14;
	unsigned ihl = (ip[0] & 15u) * 4u;
	if ((ip[6] & 0x3f) || ip[7] || len < 14 + ihl + 4)
		return dflt; /* a fragment, or too short to say */
	const uint8_t *l4 = ip + ihl;
	switch (ip[9]) {
	case IPPROTO_TCP:
		if (!soft)
			return self; /* the NIC hashed it already */
		return tcp_queue(pp, be32_at(ip + 12), be32_at(ip + 16), be16_at(l4), be16_at(l4 + 2));
	case IPPROTO_UDP: {
		int o = udp_queue(pp, be16_at(l4 + 2));
		return o >= 0 ? o : dflt;
	}
	case IPPROTO_ICMP:
		return icmp_queue(pp, l4, len - 14u - ihl, self, dflt);
	default:
		return dflt;
	}
}

/* @return 1 when the owner's ring took @p m; else it is dropped, counted. */
static int hand_to(struct kaon_dpdk *from, struct kaon_dpdk *to, struct rte_mbuf *m)
{
	if (rte_ring_mp_enqueue(to->in, m) == 0)
		return 1;
	rte_pktmbuf_free(m);
	from->st.handoff_drop++;
	return 0;
}

/* Keep this core's frames of pkts[0..n) in place, hand the others to
 * their owners; @return how many stay. */
static uint16_t steer(struct kaon_dpdk *p, struct rte_mbuf **pkts, uint16_t n)
{
	struct kaon_dpdk_port *pp = p->pp;
	uint16_t kept = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		int to = frame_queue(pp, m, p->qid);
		if (to == TO_ALL) {
			for (unsigned j = 0; j < pp->nq; j++) {
				if (j == p->qid)
					continue;
				struct rte_mbuf *c = rte_pktmbuf_copy(m, p->pool, 0, UINT32_MAX);
				if (c)
					p->st.handoff_arp += (uint64_t)hand_to(p, pp->q[j], c);
				else
					p->st.handoff_nomem++;
			}
			pkts[kept++] = m;
		} else if (to == p->qid) {
			pkts[kept++] = m;
		} else {
			p->st.handoff_out += (uint64_t)hand_to(p, pp->q[to], m);
		}
	}
	return kept;
}

/*
 * A datagram core @p p reassembled (data at its IP header). Its fragments
 * all reached one core: a later fragment carries no ports, so neither an
 * RSS NIC (which hashes only unfragmented TCP here) nor frame_queue() can
 * tell whose it is, and they go to queue 0, or stay where a hashing device
 * put them by address pair. Whole again, its ports name its owner: the
 * core its TCP 4-tuple hashes to, or the core its UDP port is bound on.
 * That core gets it as a frame through its ring, like any hand-off (an
 * Ethernet header put back in front; copied into the owner's pool there).
 * @return 1 when it went (or was dropped, counted); 0: it is this core's.
 */
int kaon_dpdk_hand_datagram(struct kaon_dpdk *p, struct rte_mbuf *m)
{
	const struct kaon_dpdk_port *pp = p->pp;
	if (pp->nq < 2 || rte_pktmbuf_data_len(m) < 20)
		return 0;
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	unsigned ihl = (ip[0] & 15u) * 4u;
	if (rte_pktmbuf_data_len(m) < ihl + 4)
		return 0;
	const uint8_t *l4 = ip + ihl;
	int to = p->qid;
	if (ip[9] == IPPROTO_TCP) {
		to = tcp_queue(pp, be32_at(ip + 12), be32_at(ip + 16), be16_at(l4), be16_at(l4 + 2));
	} else if (ip[9] == IPPROTO_UDP) {
		int o = udp_queue(pp, be16_at(l4 + 2));
		to = o >= 0 ? o : to;
	}
	if (to == p->qid)
		return 0;
	/* The frame's own header may be gone from the headroom (the first
	 * piece was pulled up): write one the owner's eth input takes. */
	struct rte_ether_hdr *eh =
		(struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(struct rte_ether_hdr));
	if (!eh)
		return 0;
	memcpy(eh->dst_addr.addr_bytes, p->dev.mac, RTE_ETHER_ADDR_LEN);
	memset(eh->src_addr.addr_bytes, 0, RTE_ETHER_ADDR_LEN);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct kaon_dpdk *owner = pp->q[to];
	unsigned segs = m->nb_segs;
	if (atomic_fetch_add(&owner->reasm_in, segs) + segs > REASM_IN_MAX ||
	    rte_ring_mp_enqueue(owner->in, (void *)((uintptr_t)m | REASM_TAG)) != 0) {
		atomic_fetch_sub(&owner->reasm_in, segs);
		rte_pktmbuf_free(m);
		p->st.handoff_drop++;
		return 1;
	}
	p->st.handoff_reasm++;
	return 1;
}

/* Frames other cores handed over, copied into this core's own pool: each
 * stack's buffer budget is reckoned against its own pool, and a frame of
 * another core's pool held in this core's queues would take buffers that
 * core's receive ring needs. One copy of at most one frame per hand-off. */
static uint16_t take_handed(struct kaon_dpdk *p, struct rte_mbuf **pkts, uint16_t n)
{
	unsigned k = rte_ring_sc_dequeue_burst(p->in, (void **)pkts, n, NULL);
	uint16_t kept = 0;
	for (unsigned i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		int reasm = (uintptr_t)m & REASM_TAG;
		m = (struct rte_mbuf *)((uintptr_t)m & ~REASM_TAG);
		struct rte_mbuf *c = rte_pktmbuf_copy(m, p->pool, 0, UINT32_MAX);
		if (reasm)
			atomic_fetch_sub(&p->reasm_in, m->nb_segs);
		rte_pktmbuf_free(m);
		if (c)
			pkts[kept++] = c;
		else
			p->st.handoff_nomem++;
	}
	p->st.handoff_in += k;
	return kept;
}

static uint16_t rx_burst_mq(struct kn_dev *dev, struct rte_mbuf **pkts, uint16_t n)
{
	struct kaon_dpdk *p = dev->priv;
	uint16_t got = take_handed(p, pkts, n);
	if (!p->has_rx || got == n)
		return got;
	uint16_t r = rte_eth_rx_burst(p->port, p->hwq, pkts + got, (uint16_t)(n - got));
	p->st.rx += r;
	if (__builtin_expect(p->rx_loss_ppm != 0, 0))
		r = drop_some(p, pkts + got, r, p->rx_loss_ppm);
	return (uint16_t)(got + steer(p, pkts + got, r));
}

/* More than one core: the same transmit path, a receive path that hands
 * frames to their owners. One core keeps the plain one (no cost). */
static const struct kn_dev_ops dpdk_mq_ops = {
	.rx_burst = rx_burst_mq,
	.tx_burst = tx_burst,
};

/*
 * The port's mbuf pool. For af_xdp the objects must be packed back to back:
 * DPDK 22.11's PMD registers the pool as one UMEM of populated_size x object
 * size from the first object's page, but a pool on memory that is not IOVA
 * contiguous (--no-huge, or across hugepages) pads objects so that none
 * crosses a page, and the objects past the registered size carry addresses
 * the kernel refuses: each one given to the fill ring is consumed and
 * dropped (the ring drains for good, since the PMD refills it only for
 * frames it receives), each one sent is an invalid TX descriptor (lost, its
 * mbuf never completes). af_xdp does not use IOVAs, so the pool is made
 * without IOVA contiguity, which packs it.
 */
static struct rte_mempool *pool_create(const char *name, unsigned n, int packed, int socket)
{
	/* A per-lcore cache strands up to 1.5 x its size: keep it a small
	 * share of a small pool. */
	unsigned cache = RTE_MIN((unsigned)MBUF_CACHE, n / 32);
	if (!packed)
		return rte_pktmbuf_pool_create(name, n, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       socket);
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE,
		.mbuf_priv_size = 0,
	};
	struct rte_mempool *mp = rte_mempool_create_empty(
		name, n, sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE, cache,
		sizeof(priv), socket, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mp)
		return NULL;
	int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (rc == 0) {
		rte_pktmbuf_pool_init(mp, &priv);
		rc = rte_mempool_populate_default(mp);
	}
	if (rc < 0 || mp->nb_mem_chunks != 1) {
		rte_mempool_free(mp);
		rte_errno = rc < 0 ? -rc : ENOMEM;
		return NULL;
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
}

/* The RSS set-up of a port whose every core has a receive queue and whose
 * device hashes TCP over IPv4: the symmetric key (or the device's own, read
 * back, when it will not take one) and an even redirection table. */
static int rss_wanted(const struct rte_eth_dev_info *info, const kaon_config *c, unsigned nq,
		      unsigned nrxq)
{
	return nq > 1 && nrxq == nq && !c->dpdk.soft_rss && info->reta_size > 0 &&
	       info->reta_size <= KAON_RETA_MAX &&
	       (info->flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP) &&
	       info->hash_key_size <= KAON_RSS_KEY_MAX;
}

/* After start: spread the table evenly over the queues and read back what
 * the device uses, so that software hashes as it does. */
static int rss_program(struct kaon_dpdk_port *pp, char *err, size_t errlen)
{
	struct rte_eth_rss_reta_entry64 ent[KAON_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	memset(ent, 0, sizeof(ent));
	for (unsigned i = 0; i < pp->reta_size; i++) {
		ent[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		ent[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t)(i % pp->nq);
	}
	int r = rte_eth_dev_rss_reta_update(pp->port, ent, pp->reta_size);
	if (r < 0 && r != -ENOTSUP) {
		say(err, errlen, "rte_eth_dev_rss_reta_update(port %u): %s", pp->port,
		    rte_strerror(-r));
		return -EIO;
	}
	r = rte_eth_dev_rss_reta_query(pp->port, ent, pp->reta_size);
	for (unsigned i = 0; i < pp->reta_size; i++)
		pp->reta[i] = r == 0 ? ent[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE]
				       : (uint16_t)(i % pp->nq);
	uint8_t key[KAON_RSS_KEY_MAX];
	struct rte_eth_rss_conf rss = { .rss_key = key, .rss_key_len = (uint8_t)pp->keylen };
	if (rte_eth_dev_rss_hash_conf_get(pp->port, &rss) == 0 && rss.rss_key_len >= 4 &&
	    rss.rss_key_len <= KAON_RSS_KEY_MAX) {
		memcpy(pp->key, key, rss.rss_key_len);
		pp->keylen = rss.rss_key_len;
	}
	for (unsigned i = 0; i < pp->reta_size; i++)
		if (pp->reta[i] >= pp->nq) {
			say(err, errlen, "port %u: the device's RSS table names queue %u of %u",
			    pp->port, pp->reta[i], pp->nq);
			return -EIO;
		}
	return 0;
}

enum { PORT_UNTOUCHED, PORT_CONFIGURED, PORT_STARTED };

static void port_free(struct kaon_dpdk_port *pp)
{
	for (unsigned e = 0; e < pp->nports; e++) {
		if (pp->state[e] == PORT_STARTED)
			rte_eth_dev_stop(pp->eport[e]);
		if (pp->state[e] != PORT_UNTOUCHED)
			rte_eth_dev_close(pp->eport[e]);
	}
	for (unsigned i = 0; i < pp->nq; i++) {
		struct kaon_dpdk *p = pp->q[i];
		if (!p)
			continue;
		if (p->in) {
			void *m;
			while (rte_ring_sc_dequeue(p->in, &m) == 0)
				rte_pktmbuf_free((struct rte_mbuf *)((uintptr_t)m & ~REASM_TAG));
		}
	}
	/* Frames handed over hold mbufs of other queues' pools: free them
	 * all before any pool goes. */
	for (unsigned i = 0; i < pp->nq; i++) {
		struct kaon_dpdk *p = pp->q[i];
		if (!p)
			continue;
		rte_ring_free(p->in);
		rte_mempool_free(p->pool);
		rte_free(p);
	}
	free(pp);
}

static int port_open(struct kaon_dpdk **out, unsigned nq, const kaon_config *c, uint16_t port_id,
		     unsigned link_wait_ms, int hello, char *err, size_t errlen);

/* One queue, no memif hello: the raw tools (l2reflect, l2ping-dpdk) open
 * ports this way, and a stray frame would count against their checks. */
int kaon_dpdk_port_open(struct kaon_dpdk **out, const kaon_config *c, uint16_t port_id,
			unsigned link_wait_ms, char *err, size_t errlen)
{
	return port_open(out, 1, c, port_id, link_wait_ms, 0, err, errlen);
}

/* kaon's stacks (kaon_user_start, groups of any size): with the hello. */
int kaon_dpdk_port_open_mq(struct kaon_dpdk **out, unsigned nq, const kaon_config *c,
			   uint16_t port_id, unsigned link_wait_ms, char *err, size_t errlen)
{
	return port_open(out, nq, c, port_id, link_wait_ms, 1, err, errlen);
}

/*
 * One ethdev per queue: ports port_id .. port_id + nq - 1 are the same
 * driver on the same interface, one queue each, and port_id alone has too
 * few. That is how af_xdp runs N queues where DPDK 22.11's PMD refuses
 * queue_count=N (an interface that reports no "combined" channels, a veth):
 * one vdev per queue with start_queue=i (kaon_bif_devargs_per_queue).
 */
static int one_port_per_queue(uint16_t port_id, unsigned nq, const struct rte_eth_dev_info *info)
{
	/* af_xdp only: each socket gets its own queue's frames. (Two af_packet
	 * sockets on one interface would each get every frame.) */
	if (nq < 2 || info->max_tx_queues >= nq || info->if_index == 0 ||
	    strcmp(info->driver_name, "net_af_xdp"))
		return 0;
	for (unsigned i = 1; i < nq; i++) {
		struct rte_eth_dev_info o;
		if (!rte_eth_dev_is_valid_port((uint16_t)(port_id + i)) ||
		    rte_eth_dev_info_get((uint16_t)(port_id + i), &o) < 0 ||
		    o.if_index != info->if_index || strcmp(o.driver_name, info->driver_name) ||
		    o.max_rx_queues < 1 || o.max_tx_queues < 1)
			return 0;
	}
	return 1;
}

/* What every ethdev of the port is set up with, and what set-up found. */
struct setup {
	const kaon_config *c;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	int socket;
	int af_xdp;
	int bif_xdp;                 /* one vdev per queue under kaon's XDP program */
	char ifname[IF_NAMESIZE];
	int xsk[KAON_DPDK_MAX_QUEUES]; /* each vdev's AF_XDP socket (bif_xdp) */
	unsigned xsk_queue[KAON_DPDK_MAX_QUEUES];
	uint16_t nrx, ntx, mtu;
};

#ifdef KAON_HAVE_BIF
/* Before vdev e's queue is set up (the PMD loads and attaches its own copy
 * of kaon's program then): take the copy the vdev before attached off, or
 * the PMD's attach fails. Its socket goes into the last copy's map at the
 * end (bif_xsks_put). */
static int bif_before(struct setup *s, unsigned e, int *before, int *nbefore, char *err,
		      size_t errlen)
{
	if (!s->bif_xdp)
		return 0;
	if (e > 0) {
		int rc = kaon_bif_xdp_detach(s->ifname);
		if (rc < 0) {
			say(err, errlen, "%s: cannot detach the XDP program before queue %u: %s",
			    s->ifname, e, strerror(-rc));
			return rc;
		}
	}
	*nbefore = kaon_bif_xsk_fds(before, 2 * KAON_DPDK_MAX_QUEUES);
	return *nbefore < 0 ? *nbefore : 0;
}

/* After vdev e's queue set-up: its socket is the one AF_XDP fd it opened. */
static int bif_after(struct setup *s, unsigned e, const int *before, int nbefore, char *err,
		     size_t errlen)
{
	if (!s->bif_xdp)
		return 0;
	int now[2 * KAON_DPDK_MAX_QUEUES], n = kaon_bif_xsk_fds(now, 2 * KAON_DPDK_MAX_QUEUES);
	int found = -1, nnew = 0;
	for (int i = 0; i < n; i++) {
		int old = 0;
		for (int j = 0; j < nbefore && !old; j++)
			old = now[i] == before[j];
		if (!old) {
			found = now[i];
			nnew++;
		}
	}
	if (nnew != 1) {
		say(err, errlen, "%s: queue %u: expected one new AF_XDP socket, found %d", s->ifname,
		    e, nnew);
		return -EIO;
	}
	s->xsk[e] = found;
	const struct rte_devargs *da = s->info.device ? rte_dev_devargs(s->info.device) : NULL;
	char args[512];
	snprintf(args, sizeof(args), "net_af_xdp,%s", da && da->args ? da->args : "");
	s->xsk_queue[e] = kaon_bif_devargs_uint(args, "start_queue", 0);
	return 0;
}

/* Every vdev's socket into the map of the one copy of the program that
 * stayed attached (the last vdev's, which holds its own already). */
static int bif_xsks_put(struct setup *s, unsigned nports, char *err, size_t errlen)
{
	for (unsigned e = 0; s->bif_xdp && e + 1 < nports; e++) {
		char why[256];
		int rc = kaon_bif_xdp_put_xsk(s->ifname, s->xsk_queue[e], s->xsk[e], why, sizeof(why));
		if (rc < 0) {
			say(err, errlen, "%s", why);
			return rc;
		}
	}
	return 0;
}
#else
static int bif_before(struct setup *s, unsigned e, int *before, int *nbefore, char *err,
		      size_t errlen)
{
	(void)s, (void)e, (void)before, (void)nbefore, (void)err, (void)errlen;
	return 0;
}
static int bif_after(struct setup *s, unsigned e, const int *before, int nbefore, char *err,
		     size_t errlen)
{
	(void)s, (void)e, (void)before, (void)nbefore, (void)err, (void)errlen;
	return 0;
}
static int bif_xsks_put(struct setup *s, unsigned nports, char *err, size_t errlen)
{
	(void)s, (void)nports, (void)err, (void)errlen;
	return 0;
}
#endif

/* Configure, set up the queues of and start ethdev e of @p pp: all the
 * queue pairs, or (one ethdev per queue) queue pair e as its queue 0. */
static int ethdev_setup(struct kaon_dpdk_port *pp, unsigned e, struct setup *s, char *err,
			size_t errlen)
{
	const kaon_config *c = s->c;
	uint16_t port_id = pp->eport[e];
	unsigned first = pp->nports > 1 ? e : 0, count = pp->nports > 1 ? 1 : pp->nq;
	unsigned nrxq = 0;
	for (unsigned i = first; i < first + count; i++)
		nrxq += pp->q[i]->has_rx;
	int rc;
	(void)c;
#ifdef KAON_HAVE_BIF
	/* rte_flow bifurcation: only flows matching our rules reach this port
	 * (isolated mode must be set before the port is configured). */
	if (c->bif.mode == KAON_BIF_RTE_FLOW) {
		char why[256];
		rc = kaon_bif_flow_isolate(port_id, why, sizeof(why));
		if (rc < 0) {
			say(err, errlen, "%s: [bifurcation] mode = rte_flow: %s", c->path, why);
			return -EIO;
		}
	}
#endif
	rc = rte_eth_dev_configure(port_id, (uint16_t)nrxq, (uint16_t)count, &s->conf);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_configure(port %u, %u rx, %u tx queues): %s", port_id,
		    nrxq, count, rte_strerror(-rc));
		return -EIO;
	}
	pp->state[e] = PORT_CONFIGURED;
	uint16_t nrx = (uint16_t)c->dpdk.rx_desc, ntx = (uint16_t)c->dpdk.tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nrx, &ntx);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_adjust_nb_rx_tx_desc(port %u): %s", port_id,
		    rte_strerror(-rc));
		return -EIO;
	}
	/* DPDK 22.11's af_xdp PMD hands the kernel 2048 fill-ring buffers
	 * whatever nb_rx_desc says. With an RX ring smaller than that, a burst
	 * fills the RX ring while fill buffers remain; the kernel's copy path
	 * then takes fill buffers for frames it cannot post (XDP_STATISTICS
	 * rx_ring_full) and they never come back, while the PMD refills the
	 * fill ring only for frames it receives. Once it is empty no frame is
	 * ever received again: the port is dead for good (seen on the veth
	 * testbed: fill ring prod == cons, rx ring empty, every frame counted
	 * as rx_dropped / imissed). An RX ring at least as large as the fill
	 * ring can never be full. */
	if (s->af_xdp && nrx < KAON_AF_XDP_FILL_BUFS)
		nrx = KAON_AF_XDP_FILL_BUFS;
	s->nrx = nrx;
	s->ntx = ntx;
	for (unsigned i = first; i < first + count; i++) {
		struct kaon_dpdk *p = pp->q[i];
		if (p->has_rx) {
			int before[2 * KAON_DPDK_MAX_QUEUES], nbefore = 0;
			rc = bif_before(s, e, before, &nbefore, err, errlen);
			if (rc < 0)
				return rc;
			struct rte_eth_rxconf rxq = s->info.default_rxconf;
			rxq.offloads = s->conf.rxmode.offloads;
			rc = rte_eth_rx_queue_setup(port_id, p->hwq, nrx, (unsigned)s->socket, &rxq,
						    p->pool);
			if (rc < 0) {
				say(err, errlen, "rte_eth_rx_queue_setup(port %u, queue %u): %s",
				    port_id, p->hwq, rte_strerror(-rc));
				return -EIO;
			}
			rc = bif_after(s, e, before, nbefore, err, errlen);
			if (rc < 0)
				return rc;
		}
		struct rte_eth_txconf txq = s->info.default_txconf;
		txq.offloads = s->conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(port_id, p->hwq, ntx, (unsigned)s->socket, &txq);
		if (rc < 0) {
			say(err, errlen, "rte_eth_tx_queue_setup(port %u, queue %u): %s", port_id,
			    p->hwq, rte_strerror(-rc));
			return -EIO;
		}
	}
	uint16_t mtu = 0;
	if (rte_eth_dev_get_mtu(port_id, &mtu) < 0 || mtu == 0)
		mtu = 1500;
	if (c->port0.mtu && c->port0.mtu != mtu && rte_eth_dev_set_mtu(port_id, (uint16_t)c->port0.mtu) == 0)
		mtu = (uint16_t)c->port0.mtu;
	else if (c->port0.mtu && c->port0.mtu < mtu)
		mtu = (uint16_t)c->port0.mtu; /* the port refused; stay below what we asked */
	if (e == 0 || mtu < s->mtu)
		s->mtu = mtu;
	rc = rte_eth_dev_start(port_id);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_start(port %u): %s", port_id, rte_strerror(-rc));
		return -EIO;
	}
	pp->state[e] = PORT_STARTED;
#ifdef KAON_HAVE_BIF
	if (c->bif.mode == KAON_BIF_RTE_FLOW) {
		struct kaon_bif_flow_rule rules[KAON_BIF_FLOW_MAX_RULES];
		char why[256];
		int n = kaon_bif_flow_rules(c, 0, 0, rules, KAON_BIF_FLOW_MAX_RULES);
		/* Several queues: kaon's TCP flows spread over them with the
		 * port's symmetric key (an RSS action); the rest reaches queue
		 * 0, as with RSS. */
		for (int i = 0; i < n; i++)
			if (rules[i].kind == KAON_BIF_FLOW_TCP)
				rules[i].nqueues = (uint16_t)count;
		rc = n < 0 ? n : kaon_bif_flow_apply(port_id, rules, n, why, sizeof(why));
		if (rc < 0) {
			if (n < 0)
				snprintf(why, sizeof(why), "cannot build the rules: %s", strerror(-n));
			say(err, errlen, "%s: [bifurcation] mode = rte_flow: %s", c->path, why);
			return -EIO;
		}
	}
#endif
	return 0;
}

/*
 * memif carries frames on queue pairs both ends must have alike: a frame
 * sent on a queue the peer does not read is lost. DPDK 22.11's PMD keeps
 * the counts it negotiated to itself (a server refuses a client with more
 * rings, so that link never comes up; a client with fewer connects), so
 * each kaon end says its own: once the link is up, a frame on queue 0,
 * which every end has, of IEEE's local experimental Ethernet type, giving
 * its number of queues. An end of several queues waits up to
 * MEMIF_HELLO_WAIT_MS for the peer's and refuses to start if it differs;
 * an end of one queue only says its count. Only kaon's stacks say it (not
 * the raw tools, kaon_dpdk_port_open). A peer that says nothing (not
 * kaon, or already running: its stack drops the frame as an unknown type)
 * is not checked. Frames other than the hello that arrive meanwhile are
 * dropped (nothing runs yet to take them; TCP and ARP resend).
 */
#define MEMIF_HELLO_TYPE 0x88b5
#define MEMIF_HELLO_WAIT_MS 500
static const char memif_hello_magic[12] = "kaon-queues";

static int memif_queues_check(struct kaon_dpdk_port *pp, char *err, size_t errlen)
{
	struct kaon_dpdk *p = pp->q[0];
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	if (!m)
		return 0;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	if (!f) {
		rte_pktmbuf_free(m);
		return 0;
	}
	memset(f, 0, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	memset(f, 0xff, RTE_ETHER_ADDR_LEN);
	memcpy(f + 6, p->dev.mac, RTE_ETHER_ADDR_LEN);
	f[12] = MEMIF_HELLO_TYPE >> 8, f[13] = MEMIF_HELLO_TYPE & 0xff;
	memcpy(f + 14, memif_hello_magic, sizeof(memif_hello_magic));
	f[26] = (uint8_t)(pp->nq >> 8), f[27] = (uint8_t)pp->nq;
	if (rte_eth_tx_burst(p->port, p->hwq, &m, 1) != 1)
		rte_pktmbuf_free(m);
	unsigned peer = 0;
	for (unsigned waited = 0; pp->nq > 1 && !peer && waited < MEMIF_HELLO_WAIT_MS; waited++) {
		struct rte_mbuf *in[32];
		uint16_t n = rte_eth_rx_burst(p->port, p->hwq, in, 32);
		for (uint16_t i = 0; i < n; i++) {
			const uint8_t *g = rte_pktmbuf_mtod(in[i], const uint8_t *);
			if (rte_pktmbuf_data_len(in[i]) >= 28 && g[12] == (MEMIF_HELLO_TYPE >> 8) &&
			    g[13] == (MEMIF_HELLO_TYPE & 0xff) &&
			    !memcmp(g + 14, memif_hello_magic, sizeof(memif_hello_magic)))
				peer = (unsigned)g[26] << 8 | g[27];
			rte_pktmbuf_free(in[i]);
		}
		if (!n)
			usleep(1000);
	}
	if (peer && peer != pp->nq) {
		say(err, errlen, "memif port %u: the peer has %u queue pair%s, this end %u ([dpdk] "
				 "cores): frames on a queue only one end has would be lost; run both "
				 "ends with the same number of cores", pp->port, peer,
		    peer == 1 ? "" : "s", pp->nq);
		return -EINVAL;
	}
	return 0;
}

static int port_open(struct kaon_dpdk **out, unsigned nq, const kaon_config *c, uint16_t port_id,
		     unsigned link_wait_ms, int hello, char *err, size_t errlen)
{
	if (!rte_eth_dev_is_valid_port(port_id)) {
		say(err, errlen, "DPDK port %u does not exist (%u ports; check vdev/allow in %s)",
		    port_id, rte_eth_dev_count_avail(), c->path);
		return -ENODEV;
	}
	if (nq < 1 || nq > KAON_DPDK_MAX_QUEUES) {
		say(err, errlen, "%s: [dpdk] cores = %u: between 1 and %u", c->path, nq,
		    KAON_DPDK_MAX_QUEUES);
		return -EINVAL;
	}
	struct setup s;
	memset(&s, 0, sizeof(s));
	s.c = c;
	struct rte_eth_dev_info *info = &s.info;
	int rc = rte_eth_dev_info_get(port_id, info);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_info_get(port %u): %s", port_id, rte_strerror(-rc));
		return rc;
	}
	int split = one_port_per_queue(port_id, nq, info);
	if (!split && info->max_tx_queues < nq) {
		say(err, errlen, "%s: [dpdk] cores = %u needs a transmit queue per core; port %u "
				 "(%s) has %u (af_xdp: queue_count=N, or one vdev per queue with "
				 "start_queue=i; af_packet: qpairs=N, memif: rsize and both ends' "
				 "cores)", c->path, nq, port_id,
		    info->driver_name, info->max_tx_queues);
		return -EINVAL;
	}
	struct kaon_dpdk_port *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->port = port_id;
	pp->nq = nq;
	pp->nports = split ? nq : 1;
	for (unsigned e = 0; e < pp->nports; e++)
		pp->eport[e] = (uint16_t)(port_id + e);
	pp->nrxq = c->dpdk.rx_queues && c->dpdk.rx_queues < nq ? c->dpdk.rx_queues : nq;
	if (split)
		pp->nrxq = nq; /* an af_xdp queue transmits through its receive socket */
	else if (pp->nrxq > info->max_rx_queues)
		pp->nrxq = info->max_rx_queues ? info->max_rx_queues : 1;
	pp->steer = nq == 1 ? KAON_STEER_ONE
		  : rss_wanted(info, c, nq, pp->nrxq) ? KAON_STEER_RSS : KAON_STEER_SOFT;
#ifdef KAON_HAVE_BIF
	/* rte_flow spreads kaon's flows with an RSS action over the queues,
	 * whose table the device keeps to itself: each core checks what it
	 * gets by hashing it, and hands on what the device put elsewhere. */
	if (c->bif.mode == KAON_BIF_RTE_FLOW && nq > 1)
		pp->steer = KAON_STEER_SOFT;
#endif
	pp->keylen = info->hash_key_size >= 4 ? info->hash_key_size : 40;
	memcpy(pp->key, kaon_rss_key_sym, pp->keylen);
	pp->reta_size = pp->steer == KAON_STEER_RSS ? info->reta_size : 128;
	for (unsigned i = 0; i < pp->reta_size; i++)
		pp->reta[i] = (uint16_t)(i % nq);
	atomic_init(&pp->refs, nq);
	s.socket = rte_eth_dev_socket_id(port_id);
	if (s.socket < 0)
		s.socket = (int)rte_socket_id();
	int socket = s.socket;
	int af_xdp = s.af_xdp = !strcmp(info->driver_name, "net_af_xdp");
#ifdef KAON_HAVE_BIF
	s.bif_xdp = split && af_xdp && c->bif.mode == KAON_BIF_XDP &&
		    if_indextoname(info->if_index, s.ifname) != NULL;
#endif
	/*
	 * A pool per queue rather than one shared pool with per-lcore caches:
	 * each core's stack reckons its buffer budget against the pool its
	 * receive queue fills from, so one busy core can never take the
	 * buffers another core's receive ring needs (the ACK that frees memory
	 * must always get in); af_xdp registers each queue's pool as that
	 * queue's UMEM anyway; and no core touches another's pool on the
	 * packet path, except to free a frame handed over.
	 */
	for (unsigned i = 0; i < nq; i++) {
		struct kaon_dpdk *p = rte_zmalloc_socket("kaon_dpdk", sizeof(*p), RTE_CACHE_LINE_SIZE,
							 socket);
		if (!p) {
			port_free(pp);
			return -ENOMEM;
		}
		pp->q[i] = p;
		p->pp = pp;
		p->port = pp->eport[split ? i : 0];
		p->qid = (uint16_t)i;
		p->hwq = (uint16_t)(split ? 0 : i);
		p->has_rx = i < pp->nrxq;
		char name[RTE_MEMPOOL_NAMESIZE];
		if (i == 0)
			snprintf(name, sizeof(name), "kaon_pool_%u", port_id);
		else
			snprintf(name, sizeof(name), "kaon_pool_%u_%u", port_id, i);
		p->pool = pool_create(name, c->dpdk.nb_mbufs, af_xdp, socket);
		if (!p->pool) {
			say(err, errlen, "cannot create a mempool of %u mbufs%s: %s (raise [dpdk] "
					 "memory)", c->dpdk.nb_mbufs, nq > 1 ? " for each core" : "",
			    rte_strerror(rte_errno));
			port_free(pp);
			return -ENOMEM;
		}
		if (nq > 1) {
			snprintf(name, sizeof(name), "kaon_in_%u_%u", port_id, i);
			p->in = rte_ring_create(name, HANDOFF_RING, socket, RING_F_SC_DEQ);
			if (!p->in) {
				say(err, errlen, "cannot create the hand-off ring of core %u: %s", i,
				    rte_strerror(rte_errno));
				port_free(pp);
				return -ENOMEM;
			}
		}
	}
	struct rte_eth_conf *conf = &s.conf;
	uint64_t want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			   RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	conf->txmode.offloads = info->tx_offload_capa & want_tx;
	conf->rxmode.offloads = info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM;
	uint32_t flags = 0;
	if (conf->txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		flags |= KN_DEV_TX_IP_CKSUM;
	if ((conf->txmode.offloads & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) ==
	    (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM))
		flags |= KN_DEV_TX_L4_CKSUM;
	else
		conf->txmode.offloads &= ~(RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	if ((conf->rxmode.offloads & RTE_ETH_RX_OFFLOAD_CHECKSUM) == RTE_ETH_RX_OFFLOAD_CHECKSUM)
		flags |= KN_DEV_RX_CKSUM;
	else
		conf->rxmode.offloads = 0;
	int linearize = 0;
	if (conf->txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		flags |= KN_DEV_TX_MULTI_SEG;
	else
		linearize = 1;
	if (pp->steer == KAON_STEER_RSS) {
		/* Only TCP over IPv4 is hashed: everything else reaches queue
		 * 0, where the software path sends it too. */
		conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf->rx_adv_conf.rss_conf.rss_key = pp->key;
		conf->rx_adv_conf.rss_conf.rss_key_len = (uint8_t)pp->keylen;
		conf->rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	}
	for (unsigned e = 0; e < pp->nports; e++) {
		rc = ethdev_setup(pp, e, &s, err, errlen);
		if (rc < 0) {
			port_free(pp);
			return rc;
		}
	}
	if ((rc = bif_xsks_put(&s, pp->nports, err, errlen)) < 0 ||
	    (pp->steer == KAON_STEER_RSS && (rc = rss_program(pp, err, errlen)) < 0)) {
		port_free(pp);
		return rc;
	}
	uint16_t nrx = s.nrx, ntx = s.ntx, mtu = s.mtu;
	/* What a burst can fill before a poll drains it: af_xdp's fill ring,
	 * af_packet's ring (framecnt), else the RX ring. */
	unsigned rx_frames;
	if (af_xdp) {
		rx_frames = RTE_MIN((unsigned)nrx, (unsigned)KAON_AF_XDP_FILL_BUFS);
	} else if (!strcmp(info->driver_name, "net_af_packet")) {
		/* Its ring: framecnt, which kaon_config_eal_argv() sets. */
		const struct rte_devargs *da = info->device ? rte_dev_devargs(info->device) : NULL;
		rx_frames = kaon_conf_af_packet_frames(da && da->args ? da->args : "");
	} else {
		rx_frames = nrx;
	}
	/* What the transmit side may keep until frames complete: the TX ring,
	 * one descriptor per segment (af_xdp: its xsk TX ring, sized from
	 * nb_rx_desc, then its completion ring, drained at every tx burst);
	 * af_packet copies and frees at once. */
	unsigned tx_held;
	if (!strcmp(info->driver_name, "net_af_packet") || !strcmp(info->driver_name, "net_memif"))
		tx_held = 0;   /* both copy the frame out and free it at once */
	else if (af_xdp)
		tx_held = RTE_MAX(nrx, ntx);
	else
		tx_held = ntx;
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port_id, &mac);
	if (!rte_is_valid_assigned_ether_addr(&mac)) {
		/* Software ports (ring, null) come without an address; two ends
		 * of one link must not share one. Make a locally administered
		 * unicast address up, and tell the port if it listens. */
		rte_eth_random_addr(mac.addr_bytes);
		rte_eth_dev_default_mac_addr_set(port_id, &mac);
	}
	for (unsigned i = 0; i < nq; i++) {
		struct kaon_dpdk *p = pp->q[i];
		/* What the receive side keeps, measured rather than guessed: a
		 * NIC fills its RX ring, DPDK 22.11's af_xdp its fill ring
		 * (2048 buffers, whatever rx_desc says), af_packet nothing (it
		 * copies). */
		p->rx_held = rte_mempool_in_use_count(p->pool);
		p->rx_frames = p->has_rx ? rx_frames : 0;
		p->tx_held = tx_held;
		p->linearize = linearize;
		memcpy(p->dev.mac, mac.addr_bytes, 6);
		p->dev.mtu = mtu;
		p->dev.offloads = flags;
		p->dev.ops = nq > 1 ? &dpdk_mq_ops : &dpdk_ops;
		p->dev.priv = p;
		loss_from_env(p);
		/* Each queue its own sequence of losses. */
		p->rng += i * 0x9e3779b97f4a7c15ULL;
		out[i] = p;
	}
	for (unsigned waited = 0; waited < link_wait_ms && !kaon_dpdk_link_up(pp->q[0]); waited += 10)
		usleep(10000);
	if (hello && !strcmp(info->driver_name, "net_memif") && kaon_dpdk_link_up(pp->q[0]) &&
	    (rc = memif_queues_check(pp, err, errlen)) < 0) {
		for (unsigned i = 0; i < nq; i++)
			out[i] = NULL;
		port_free(pp);
		return rc;
	}
	return 0;
}

struct kn_dev *kaon_dpdk_dev(struct kaon_dpdk *p)
{
	return &p->dev;
}

struct rte_mempool *kaon_dpdk_pool(struct kaon_dpdk *p)
{
	return p->pool;
}

unsigned kaon_dpdk_queue(const struct kaon_dpdk *p)
{
	return p->qid;
}

unsigned kaon_dpdk_nqueues(const struct kaon_dpdk *p)
{
	return p->pp->nq;
}

enum kaon_dpdk_steer kaon_dpdk_steering(const struct kaon_dpdk *p)
{
	return p->pp->steer;
}

unsigned kaon_dpdk_flow_queue(const struct kaon_dpdk *p, uint32_t rip, uint16_t rport,
			      uint32_t lip, uint16_t lport)
{
	const struct kaon_dpdk_port *pp = p->pp;
	if (pp->nq == 1)
		return 0;
	/* As the reply arrives: the peer is the source. */
	uint32_t h = kaon_rss_hash_tcp4(pp->key, pp->keylen, rip, lip, rport, lport);
	return pp->reta[h % pp->reta_size];
}

int kaon_dpdk_udp_claim(struct kaon_dpdk *p, uint16_t port)
{
	if (p->pp->nq == 1)
		return 0;
	uint8_t none = 0;
	if (atomic_compare_exchange_strong(&p->pp->udp_owner[port], &none, (uint8_t)(p->qid + 1)))
		return 0;
	return none == p->qid + 1 ? 0 : -EADDRINUSE;
}

void kaon_dpdk_udp_release(struct kaon_dpdk *p, uint16_t port)
{
	uint8_t mine = (uint8_t)(p->qid + 1);
	if (p->pp->nq > 1)
		atomic_compare_exchange_strong(&p->pp->udp_owner[port], &mine, 0);
}

int kaon_dpdk_link_up(struct kaon_dpdk *p)
{
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(p->port, &link) < 0)
		return 0;
	return link.link_status == RTE_ETH_LINK_UP;
}

void kaon_dpdk_reserve(const struct kaon_dpdk *p, struct kaon_dpdk_reserve *r)
{
	r->pool = p->pool->size;
	r->rx = p->rx_held;
	r->tx = p->tx_held;
	r->rx_frames = p->rx_frames;
	/* A per-lcore cache holds up to 1.5 x its size before it flushes, and
	 * what sits in one is out of reach of the others; even the owner's
	 * own cache can strand a bulk allocation that the ring alone cannot
	 * serve. Two lcores touch a port's pool: the one that set the port up
	 * (the PMD filled its rings from there) and the engine's; with more
	 * cores, every core that hands a frame over frees it from its own. */
	unsigned lcores = p->pp->nq == 1 ? 2u : p->pp->nq + 1u;
	r->cache = p->pool->cache_size * 3u / 2u * lcores;
	/* Frames of this pool waiting in the other cores' hand-off rings
	 * (software steering; with RSS only ARP replies go that way). */
	if (p->pp->steer == KAON_STEER_SOFT)
		r->rx += (p->pp->nq - 1u) * (HANDOFF_RING - 1u);
	/* Reassembled datagrams on their way to their owners. */
	r->rx += (p->pp->nq - 1u) * REASM_IN_MAX;
}

void kaon_dpdk_set_linearize(struct kaon_dpdk *p, int on)
{
	p->linearize = on || !(p->dev.offloads & KN_DEV_TX_MULTI_SEG);
}

void kaon_dpdk_stats_get(const struct kaon_dpdk *p, struct kaon_dpdk_stats *s)
{
	*s = p->st;
}

void kaon_dpdk_stats_print(FILE *f, const struct kaon_dpdk *p, const char *prefix)
{
	fprintf(f, "%srx %llu tx %llu tx_linearized %llu tx_linearize_fail %llu tx_too_big %llu injected_drops %llu\n",
		prefix, (unsigned long long)p->st.rx, (unsigned long long)p->st.tx,
		(unsigned long long)p->st.tx_linearized,
		(unsigned long long)p->st.tx_linearize_fail,
		(unsigned long long)p->st.tx_too_big,
		(unsigned long long)p->st.injected_drops);
	if (p->pp->nq > 1)
		fprintf(f, "%squeue %u of %u (%s): handoff_in %llu handoff_out %llu handoff_drop %llu "
			   "handoff_nomem %llu handoff_arp %llu handoff_reasm %llu\n", prefix, p->qid,
			p->pp->nq,
			p->pp->steer == KAON_STEER_RSS ? "rss" : "software steering",
			(unsigned long long)p->st.handoff_in, (unsigned long long)p->st.handoff_out,
			(unsigned long long)p->st.handoff_drop,
			(unsigned long long)p->st.handoff_nomem,
			(unsigned long long)p->st.handoff_arp,
			(unsigned long long)p->st.handoff_reasm);
	struct rte_eth_stats es;
	if (rte_eth_stats_get(p->port, &es) == 0)
		fprintf(f, "%spmd ipackets %llu opackets %llu imissed %llu ierrors %llu oerrors %llu rx_nombuf %llu\n",
			prefix, (unsigned long long)es.ipackets, (unsigned long long)es.opackets,
			(unsigned long long)es.imissed, (unsigned long long)es.ierrors,
			(unsigned long long)es.oerrors, (unsigned long long)es.rx_nombuf);
	fprintf(f, "%smempool free %u of %u\n", prefix, rte_mempool_avail_count(p->pool),
		p->pool->size);
}

void kaon_dpdk_port_close(struct kaon_dpdk *p)
{
	if (!p)
		return;
	/* The last core to let go stops the port: until then the others'
	 * queues, and the frames handed between them, stay valid. */
	if (atomic_fetch_sub(&p->pp->refs, 1) == 1)
		port_free(p->pp);
}
