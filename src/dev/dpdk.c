/* SPDX-License-Identifier: MIT */
/* A DPDK ethdev port behind kn_dev: what net/ sees of a real NIC. */
#include "kaon/dpdk.h"
#ifdef KAON_HAVE_BIF
#include "kaon/bif.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/capture.h"

#include <rte_eal.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#define MBUF_CACHE 256
/* Buffers DPDK 22.11's af_xdp PMD puts on its fill ring at queue setup. */
#define KAON_AF_XDP_FILL_BUFS 2048

struct kaon_dpdk {
	struct kn_dev dev;           /* first: kn_dev.priv points back here */
	uint16_t port;
	struct rte_mempool *pool;
	int linearize;               /* the port takes only direct, single-segment mbufs */
	uint32_t rx_loss_ppm, tx_loss_ppm; /* KAON_DEV_LOSS, for tests */
	unsigned rx_held;            /* mbufs the receive side took at start */
	unsigned rx_frames;          /* frames the port buffers between two polls */
	unsigned tx_held;            /* mbufs the transmit side may hold at most */
	uint64_t rng;
	struct kaon_dpdk_stats st;
};

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
	uint16_t got = rte_eth_rx_burst(p->port, 0, pkts, n);
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
		uint16_t sent = rte_eth_tx_burst(p->port, 0, pkts, n);
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
	uint16_t sent = k ? rte_eth_tx_burst(p->port, 0, pkts, k) : 0;
	p->st.tx += sent;
	if (sent < k && gone)
		memmove(pkts + sent + gone, pkts + sent, (size_t)(k - sent) * sizeof(*pkts));
	return (uint16_t)(sent + gone);
}

static const struct kn_dev_ops dpdk_ops = {
	.rx_burst = rx_burst,
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

int kaon_dpdk_port_open(struct kaon_dpdk **out, const kaon_config *c, uint16_t port_id,
			unsigned link_wait_ms, char *err, size_t errlen)
{
	if (!rte_eth_dev_is_valid_port(port_id)) {
		say(err, errlen, "DPDK port %u does not exist (%u ports; check vdev/allow in %s)",
		    port_id, rte_eth_dev_count_avail(), c->path);
		return -ENODEV;
	}
	struct kaon_dpdk *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->port = port_id;
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "kaon_pool_%u", port_id);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(port_id, &info);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_info_get(port %u): %s", port_id, rte_strerror(-rc));
		free(p);
		return rc;
	}
	int socket = rte_eth_dev_socket_id(port_id);
	p->pool = pool_create(name, c->dpdk.nb_mbufs, !strcmp(info.driver_name, "net_af_xdp"),
			      socket < 0 ? (int)rte_socket_id() : socket);
	if (!p->pool) {
		say(err, errlen, "cannot create a mempool of %u mbufs: %s (raise [dpdk] memory)",
		    c->dpdk.nb_mbufs, rte_strerror(rte_errno));
		free(p);
		return -ENOMEM;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	uint64_t want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			   RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	conf.txmode.offloads = info.tx_offload_capa & want_tx;
	conf.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM;
	uint32_t flags = 0;
	if (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		flags |= KN_DEV_TX_IP_CKSUM;
	if ((conf.txmode.offloads & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) ==
	    (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM))
		flags |= KN_DEV_TX_L4_CKSUM;
	else
		conf.txmode.offloads &= ~(RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	if ((conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_CHECKSUM) == RTE_ETH_RX_OFFLOAD_CHECKSUM)
		flags |= KN_DEV_RX_CKSUM;
	else
		conf.rxmode.offloads = 0;
	if (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		flags |= KN_DEV_TX_MULTI_SEG;
	else
		p->linearize = 1;
#ifdef KAON_HAVE_BIF
	/* rte_flow bifurcation: only flows matching our rules reach this port
	 * (isolated mode must be set before the port is configured). */
	if (c->bif.mode == KAON_BIF_RTE_FLOW) {
		char why[256];
		rc = kaon_bif_flow_isolate(port_id, why, sizeof(why));
		if (rc < 0) {
			say(err, errlen, "%s: [bifurcation] mode = rte_flow: %s", c->path, why);
			goto fail;
		}
	}
#endif
	rc = rte_eth_dev_configure(port_id, 1, 1, &conf);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_configure(port %u): %s", port_id, rte_strerror(-rc));
		goto fail;
	}
	uint16_t nrx = (uint16_t)c->dpdk.rx_desc, ntx = (uint16_t)c->dpdk.tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nrx, &ntx);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_adjust_nb_rx_tx_desc(port %u): %s", port_id,
		    rte_strerror(-rc));
		goto fail;
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
	if (!strcmp(info.driver_name, "net_af_xdp") && nrx < KAON_AF_XDP_FILL_BUFS)
		nrx = KAON_AF_XDP_FILL_BUFS;
	struct rte_eth_rxconf rxq = info.default_rxconf;
	rxq.offloads = conf.rxmode.offloads;
	rc = rte_eth_rx_queue_setup(port_id, 0, nrx, (unsigned)rte_eth_dev_socket_id(port_id),
				    &rxq, p->pool);
	if (rc < 0) {
		say(err, errlen, "rte_eth_rx_queue_setup(port %u): %s", port_id, rte_strerror(-rc));
		goto fail;
	}
	struct rte_eth_txconf txq = info.default_txconf;
	txq.offloads = conf.txmode.offloads;
	rc = rte_eth_tx_queue_setup(port_id, 0, ntx, (unsigned)rte_eth_dev_socket_id(port_id),
				    &txq);
	if (rc < 0) {
		say(err, errlen, "rte_eth_tx_queue_setup(port %u): %s", port_id, rte_strerror(-rc));
		goto fail;
	}
	uint16_t mtu = 0;
	if (rte_eth_dev_get_mtu(port_id, &mtu) < 0 || mtu == 0)
		mtu = 1500;
	if (c->port0.mtu && c->port0.mtu != mtu && rte_eth_dev_set_mtu(port_id, (uint16_t)c->port0.mtu) == 0)
		mtu = (uint16_t)c->port0.mtu;
	else if (c->port0.mtu && c->port0.mtu < mtu)
		mtu = (uint16_t)c->port0.mtu; /* the port refused; stay below what we asked */
	rc = rte_eth_dev_start(port_id);
	if (rc < 0) {
		say(err, errlen, "rte_eth_dev_start(port %u): %s", port_id, rte_strerror(-rc));
		goto fail;
	}
	/* What the receive side keeps, measured rather than guessed: a NIC
	 * fills its RX ring, DPDK 22.11's af_xdp its fill ring (2048 buffers,
	 * whatever rx_desc says), af_packet nothing (it copies). */
	p->rx_held = rte_mempool_in_use_count(p->pool);
	/* What a burst can fill before a poll drains it: af_xdp's fill ring,
	 * af_packet's ring (framecnt), else the RX ring. */
	if (!strcmp(info.driver_name, "net_af_xdp"))
		p->rx_frames = RTE_MIN((unsigned)nrx, (unsigned)KAON_AF_XDP_FILL_BUFS);
	else if (!strcmp(info.driver_name, "net_af_packet")) {
		/* Its ring: framecnt, which kaon_config_eal_argv() sets. */
		const struct rte_devargs *da = info.device ? rte_dev_devargs(info.device) : NULL;
		p->rx_frames = kaon_conf_af_packet_frames(da && da->args ? da->args : "");
	}
	else
		p->rx_frames = nrx;
	/* What the transmit side may keep until frames complete: the TX ring,
	 * one descriptor per segment (af_xdp: its xsk TX ring, sized from
	 * nb_rx_desc, then its completion ring, drained at every tx burst);
	 * af_packet copies and frees at once. */
	if (!strcmp(info.driver_name, "net_af_packet") || !strcmp(info.driver_name, "net_memif"))
		p->tx_held = 0;   /* both copy the frame out and free it at once */
	else if (!strcmp(info.driver_name, "net_af_xdp"))
		p->tx_held = RTE_MAX(nrx, ntx);
	else
		p->tx_held = ntx;
#ifdef KAON_HAVE_BIF
	if (c->bif.mode == KAON_BIF_RTE_FLOW) {
		struct kaon_bif_flow_rule rules[KAON_BIF_FLOW_MAX_RULES];
		char why[256];
		int n = kaon_bif_flow_rules(c, 0, 0, rules, KAON_BIF_FLOW_MAX_RULES);
		rc = n < 0 ? n : kaon_bif_flow_apply(port_id, rules, n, why, sizeof(why));
		if (rc < 0) {
			if (n < 0)
				snprintf(why, sizeof(why), "cannot build the rules: %s", strerror(-n));
			say(err, errlen, "%s: [bifurcation] mode = rte_flow: %s", c->path, why);
			rte_eth_dev_stop(port_id);
			goto fail;
		}
	}
#endif
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port_id, &mac);
	if (!rte_is_valid_assigned_ether_addr(&mac)) {
		/* Software ports (ring, null) come without an address; two ends
		 * of one link must not share one. Make a locally administered
		 * unicast address up, and tell the port if it listens. */
		rte_eth_random_addr(mac.addr_bytes);
		rte_eth_dev_default_mac_addr_set(port_id, &mac);
	}
	memcpy(p->dev.mac, mac.addr_bytes, 6);
	p->dev.mtu = mtu;
	p->dev.offloads = flags;
	p->dev.ops = &dpdk_ops;
	p->dev.priv = p;
	loss_from_env(p);
	for (unsigned waited = 0; waited < link_wait_ms && !kaon_dpdk_link_up(p); waited += 10)
		usleep(10000);
	*out = p;
	return 0;
fail:
	rte_eth_dev_close(port_id);
	rte_mempool_free(p->pool);
	free(p);
	return -EIO;
}

struct kn_dev *kaon_dpdk_dev(struct kaon_dpdk *p)
{
	return &p->dev;
}

struct rte_mempool *kaon_dpdk_pool(struct kaon_dpdk *p)
{
	return p->pool;
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
	 * (the PMD filled its rings from there) and the engine's. */
	r->cache = p->pool->cache_size * 3u / 2u * 2u;
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
	rte_eth_dev_stop(p->port);
	rte_eth_dev_close(p->port);
	rte_mempool_free(p->pool);
	free(p);
}
