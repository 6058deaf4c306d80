/* SPDX-License-Identifier: MIT */
/* The busy-polling engine: one DPDK port and one instance of kaon's stack.
 * Kernel fds on its vcpu are waited for by kaon_io_*'s fallback (poll and
 * short sleeps, src/io/io.c): this engine is no io backend, so it keeps no
 * epoll set of its own -- it did, polled every 20 us with nothing ever in
 * it but its own eventfd, and that epoll_wait cost 2.6-3.4 us a call on the
 * development VM (13-17% of a busy core, and a frame arriving meanwhile
 * waited for it). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>

#include "kaon/bif.h"
#include "sock/user_impl.h"

/* How often the neighbour cache's notifications are read besides on each
 * lookup: often enough that a burst of them never fills its socket buffer,
 * rarely enough that the empty recv() costs nothing measurable. */
#define NEIGH_POLL_NS 1000000
#define LINK_WAIT_MS_DEFAULT 3000
/* Idle this long, the port's finished transmissions give their buffers
 * back (kaon_dpdk_tx_reclaim): long after the device completed the last
 * burst, rare enough to cost nothing while busy. */
#define TX_RECLAIM_IDLE_NS 1000000

struct kaon_user_engine *kaon__user_engine_self(void)
{
	kaon_vcpu *v = kaon_vcpu_self();
	if (!v || kaon_vcpu_engine(v) != &kaon_engine_user)
		return NULL;
	return kaon_vcpu_engine_state(v);
}

struct kn_stack *kaon_user_stack(void)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	return e ? e->stack : NULL;
}

/* Bifurcation: the kernel does ARP on the shared interface and kaon never
 * sees the replies, so next hops come from the kernel's neighbour table --
 * from a copy of it the kernel's notifications keep current, so this is a
 * hash lookup; a miss asks the kernel to resolve (rate-limited) and the
 * stack asks again later. */
static int bif_neigh(void *arg, uint32_t ip, uint8_t mac[6])
{
	struct kaon_user_engine *e = arg;
	return kaon_bif_neigh_cache_lookup(e->neigh, htonl(ip), mac) == 0 ? 0 : -1;
}

static void stack_conf_from(struct kn_stack_conf *sc, const kaon_config *c)
{
	kn_stack_conf_default(sc);
	sc->ip = ntohl(c->port0.addr);
	sc->netmask = ntohl(c->port0.netmask);
	sc->gateway = ntohl(c->port0.gateway);
	sc->mtu = (uint16_t)c->port0.mtu;
	sc->event = kaon__user_sock_event;
	/* One ephemeral range for the stack, the XDP program, rte_flow and the
	 * kernel's reservation: [bifurcation] local_ports. */
	sc->eph_port_lo = (uint16_t)c->bif.local_port_lo;
	sc->eph_port_hi = (uint16_t)c->bif.local_port_hi;
	sc->tcp.sndbuf = c->tcp.sndbuf;
	sc->tcp.rcvbuf = c->tcp.rcvbuf;
	sc->tcp.delack_ns = (int64_t)c->tcp.delayed_ack_us * 1000;
	sc->tcp.time_wait_ns = (int64_t)c->tcp.time_wait_ms * 1000000;
	sc->tcp.syn_retries = c->tcp.syn_retries;
	sc->tcp.rto_min_ns = (int64_t)c->tcp.rto_min_ms * 1000000;
	sc->tcp.rto_max_ns = (int64_t)c->tcp.rto_max_ms * 1000000;
	if (sc->tcp.rto_init_ns < sc->tcp.rto_min_ns)
		sc->tcp.rto_init_ns = sc->tcp.rto_min_ns;
	sc->tcp.max_tcbs = c->tcp.max_sockets;
	/* Room to reorder a receive window's worth of full segments. */
	sc->tcp.ooo_max = c->tcp.rcvbuf / 1024 > 64 ? c->tcp.rcvbuf / 1024 : 64;
	sc->tcp.nagle = !c->tcp.nodelay;
	sc->tcp.syn_backlog = c->tcp.syn_backlog;
	sc->tcp.cc = c->tcp.congestion == KAON_CC_NEWRENO ? KN_TCP_CC_NEWRENO : KN_TCP_CC_CUBIC;
	sc->rcv_mem_mbufs = c->tcp.rcv_mem;
	sc->snd_mem_mbufs = c->tcp.snd_mem;
	if (c->tcp.keepalive_s)
		sc->tcp.keepidle_ns = (int64_t)c->tcp.keepalive_s * 1000000000;
}

/* Several cores on one port: an outgoing connection's source port must
 * be one whose replies the port delivers to this core (the NIC's RSS, or
 * the software steering that hashes the same way). */
static bool eph_on_this_core(void *arg, uint32_t rip, uint16_t rport, uint16_t lport)
{
	struct kaon_user_engine *e = arg;
	return kaon_dpdk_flow_queue(e->port, rip, rport, ntohl(e->conf->port0.addr), lport) ==
	       e->core;
}

static bool reassembled_elsewhere(void *arg, struct rte_mbuf *m)
{
	return kaon_dpdk_hand_datagram(((struct kaon_user_engine *)arg)->port, m) != 0;
}

/* The stack's buffer budget: what the pool holds less what the port keeps
 * (see kaon_dpdk_reserve); refuse a pool too small to hold both. */
static int budget_from_port(struct kn_stack_conf *sc, struct kaon_dpdk *port, const kaon_config *c)
{
	struct kaon_dpdk_reserve r;
	kaon_dpdk_reserve(port, &r);
	sc->mem_reserve = r.rx + r.tx + r.cache;
	sc->rx_burst_frames = r.rx_frames;
	uint32_t rcv, snd, need;
	if (kn_stack_mem_budget(sc, r.pool, &rcv, &snd, &need) == 0)
		return 0;
	fprintf(stderr,
		"kaon: %s: [dpdk] nb_mbufs = %u is too small: the port keeps up to %u mbufs "
		"(receive ring %u, transmit ring %u, per-lcore caches %u) and the stack needs "
		"the rest for its queues (at least %u each for receiving and sending%s); "
		"set nb_mbufs = %u or more\n",
		c->path, r.pool, sc->mem_reserve, r.rx, r.tx, r.cache, KN_MEM_MIN_MBUFS,
		(c->tcp.rcv_mem || c->tcp.snd_mem) ? ", or the [tcp] rcv_mem and snd_mem given" : "",
		need);
	return -ENOSPC;
}

/* Undo whatever user_init got done, in reverse order. */
static void engine_free(struct kaon_user_engine *e)
{
	kaon__user_telemetry_remove(e);
	/* The stack frees every socket's mbufs before the port's pool goes. */
	if (e->stack)
		kn_stack_destroy(e->stack);
	kaon__user_shares_free(e);
	if (e->port)
		kaon_dpdk_port_close(e->port);
	kaon_bif_neigh_cache_close(e->neigh);
	/* Hand the whole interface back to the kernel. */
	if (e->bif_xdp)
		kaon_bif_xdp_detach(e->ifname);
	kaon__user_lcore_give(e->lcore_how);
	free(e);
}

static int user_init(void **state, kaon_vcpu *v, void *arg)
{
	(void)v;
	const struct kaon_user_opts *o = arg;
	if (!o || !o->conf) {
		fprintf(stderr, "kaon: the user engine needs struct kaon_user_opts with a config\n");
		return -EINVAL;
	}
	if (!o->conf->port0.has_addr) {
		fprintf(stderr, "kaon: %s: [port0] addr is required for the user-space stack\n",
			o->conf->path);
		return -EINVAL;
	}
	struct kaon_user_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->conf = o->conf;
	/* A vcpu thread that DPDK did not create gets an lcore id of its own
	 * (user_lcore.c says how, and why not always rte_thread_register). */
	int rc = kaon__user_lcore_take(&e->lcore_how);
	if (rc < 0) {
		fprintf(stderr, "kaon: cannot give the vcpu thread a DPDK lcore id: %s\n",
			rte_strerror(-rc));
		free(e);
		return -EAGAIN;
	}
	char err[256];
	struct kaon_user_group *g = o->group;
	if (g) {
		/* The group opened the port with a queue pair per core: take
		 * this core's. */
		if (o->core >= g->n || !g->q[o->core]) {
			fprintf(stderr, "kaon: core %u of the group is taken or does not exist\n",
				o->core);
			engine_free(e);
			return -EINVAL;
		}
		e->port = g->q[o->core];
		g->q[o->core] = NULL;
		e->group = g;
		e->core = o->core;
	} else {
		rc = kaon_dpdk_port_open(&e->port, o->conf, o->port,
					 o->link_wait_ms ? o->link_wait_ms : LINK_WAIT_MS_DEFAULT,
					 err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "kaon: %s\n", err);
			e->port = NULL;
			engine_free(e);
			return rc;
		}
	}
	struct kn_stack_conf sc;
	stack_conf_from(&sc, o->conf);
	if (g && g->n > 1) {
		sc.eph_ok = eph_on_this_core;
		sc.eph_arg = e;
		sc.reassembled = reassembled_elsewhere;
		sc.reassembled_arg = e;
	}
	if (o->conf->bif.mode == KAON_BIF_XDP &&
	    kaon_bif_devargs_iface(o->conf->dpdk.vdev[0], e->ifname, sizeof(e->ifname)) == 0) {
		e->bif_xdp = 1;
		/* The PMD attached kaon's program; it redirects nothing until
		 * its maps say which ports are kaon's. */
		rc = kaon_bif_xdp_fill(e->ifname, o->conf, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "kaon: bifurcation on %s: %s\n", e->ifname, err);
			engine_free(e);
			return rc;
		}
		rc = kaon_bif_neigh_cache_open(&e->neigh, e->ifname);
		if (rc < 0) {
			fprintf(stderr, "kaon: bifurcation on %s: cannot follow the kernel's "
					"neighbour table: %s\n", e->ifname, strerror(-rc));
			engine_free(e);
			return rc;
		}
		sc.neigh_resolve = bif_neigh;
		sc.neigh_arg = e;
		/* Follow the kernel's table closely: it may change its mind. */
		sc.arp_timeout_ns = 30 * 1000000000LL;
	}
	rc = budget_from_port(&sc, e->port, o->conf);
	if (rc < 0) {
		engine_free(e);
		return rc;
	}
	e->stack = kn_stack_create(&sc, kaon_dpdk_dev(e->port), kaon_dpdk_pool(e->port),
				   kaon_now(), &rc);
	if (!e->stack) {
		fprintf(stderr, "kaon: cannot create the stack: %s\n", strerror(-rc));
		engine_free(e);
		return rc < 0 ? rc : -ENOMEM;
	}
	e->idle_sleep_ns = (int64_t)o->conf->dpdk.idle_sleep_us * 1000;
	kaon__user_telemetry_add(e);
	*state = e;
	return 0;
}

static int user_poll(void *state, int64_t now, int64_t deadline)
{
	struct kaon_user_engine *e = state;
	(void)deadline; /* busy: never blocks in the kernel */
	/* What the coroutines wrote since the last pass goes out first. */
	kn_stack_flush(e->stack);
	int n = kn_stack_poll(e->stack, now);
	e->polls++;
	e->busy_polls += n > 0;
	if (n > 0) {
		e->busy_last = now;
		e->reclaimed = 0;
	} else if (!e->reclaimed && now - e->busy_last >= TX_RECLAIM_IDLE_NS) {
		kaon_dpdk_tx_reclaim(e->port);
		e->reclaimed = 1;
	}
	if (e->neigh && now >= e->neigh_next) {
		kaon_bif_neigh_cache_poll(e->neigh);
		e->neigh_next = now + NEIGH_POLL_NS;
	}
	if (n == 0 && e->idle_sleep_ns && deadline > now) {
		int64_t d = deadline - now < e->idle_sleep_ns ? deadline - now : e->idle_sleep_ns;
		struct timespec ts = { 0, (long)d };
		nanosleep(&ts, NULL);
	}
	return n;
}

void kaon_user_stats_print(FILE *f, const struct kn_stack *s, const char *prefix)
{
	const struct kn_stats *st = kn_stack_stats(s);
#define PRINT_STAT(n)                                                                      \
	if (st->n)                                                                          \
		fprintf(f, "%s%s %llu\n", prefix, #n, (unsigned long long)st->n);
	KN_STATS(PRINT_STAT)
#undef PRINT_STAT
	for (int r = 1; r < KN_DROP_MAX; r++)
		if (st->drops[r])
			fprintf(f, "%sdrop %s: %llu\n", prefix, kn_drop_name((enum kn_drop_reason)r),
				(unsigned long long)st->drops[r]);
}

static void user_fini(void *state)
{
	struct kaon_user_engine *e = state;
	const char *env = getenv("KAON_STATS");
	if (env && *env == '1') {
		kaon_user_stats_print(stderr, e->stack, "kaon: ");
		/* How often a pass found work: near 100% means kaon is the
		 * bottleneck, low means it waits for its peer. */
		fprintf(stderr, "kaon: engine passes %llu, with frames %llu (%.1f%%)\n",
			(unsigned long long)e->polls, (unsigned long long)e->busy_polls,
			e->polls ? 100.0 * (double)e->busy_polls / (double)e->polls : 0.0);
		kaon_dpdk_stats_print(stderr, e->port, "kaon: port ");
		struct kaon_bif_xdp_stats xs;
		if (e->bif_xdp && kaon_bif_xdp_stats(e->ifname, &xs) == 0)
			fprintf(stderr, "kaon: xdp seen %llu, owned %llu (fragments %llu, icmp "
					"errors %llu), to the kernel: fragments %llu, other %llu\n",
				(unsigned long long)xs.seen, (unsigned long long)xs.owned,
				(unsigned long long)xs.owned_frag, (unsigned long long)xs.owned_icmp,
				(unsigned long long)xs.fragment,
				(unsigned long long)(xs.other + xs.not_ip4 + xs.bad_hdr));
		if (e->neigh) {
			struct kaon_bif_neigh_stats ns;
			kaon_bif_neigh_cache_stats(e->neigh, &ns);
			fprintf(stderr, "kaon: neigh dumps %llu, events %llu, overruns %llu, hits %llu, "
					"misses %llu, requests %llu, limited %llu\n",
				(unsigned long long)ns.dumps, (unsigned long long)ns.events,
				(unsigned long long)ns.overruns, (unsigned long long)ns.hits,
				(unsigned long long)ns.misses, (unsigned long long)ns.requests,
				(unsigned long long)ns.limited);
		}
	}
	engine_free(e);
}


#ifndef KAON_XDP_OBJ
#define KAON_XDP_OBJ "kaon_xdp.o"
#endif
#ifndef KAON_XDP_OBJ_INSTALLED
#define KAON_XDP_OBJ_INSTALLED KAON_XDP_OBJ
#endif

/* kaon's XDP program: $KAON_XDP_PROG, else the build tree's copy (tests and
 * tools run from the tree get the program they were built with), else the
 * one `make install` put beside the library. */
static const char *xdp_prog_path(void)
{
	const char *env = getenv("KAON_XDP_PROG");
	if (env && *env)
		return env;
	if (access(KAON_XDP_OBJ, R_OK) == 0)
		return KAON_XDP_OBJ;
	return KAON_XDP_OBJ_INSTALLED;
}

/*
 * Before the port starts in xdp bifurcation mode: keep the kernel's own
 * ephemeral ports out of kaon's local range, warn about kernel sockets kaon
 * would starve, remove a program a killed kaon left behind, and make the
 * af_xdp PMD load kaon's XDP program (xdp_prog_path()).
 */
static int bif_prepare(kaon_config *c)
{
	char err[512], ifname[32];
	if (c->dpdk.n_vdev != 1 || strncmp(c->dpdk.vdev[0], "net_af_xdp", 10) ||
	    kaon_bif_devargs_iface(c->dpdk.vdev[0], ifname, sizeof(ifname)) < 0) {
		fprintf(stderr, "kaon: %s: [bifurcation] mode = xdp needs exactly one "
				"vdev = net_af_xdp0,iface=IF\n", c->path);
		return -EINVAL;
	}
	int rc = kaon_bif_local_ports_claim(c->bif.local_port_lo, c->bif.local_port_hi, 1, err,
					    sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "kaon: %s: [bifurcation] local_ports: %s\n", c->path, err);
		return rc;
	}
	if (kaon_bif_kernel_conflicts(c, err, sizeof(err)) == -EADDRINUSE)
		fprintf(stderr, "kaon: warning: %s\n", err);
	rc = kaon_bif_xdp_detach(ifname);
	if (rc == -EBUSY) {
		fprintf(stderr, "kaon: %s already runs an XDP program that is not kaon's\n",
			ifname);
		return rc;
	}
	if (!kaon_bif_devargs_has_prog(c->dpdk.vdev[0])) {
		const char *prog = xdp_prog_path();
		if (access(prog, R_OK) != 0) {
			fprintf(stderr, "kaon: kaon's XDP program %s is missing (build it, install "
					"it, or set KAON_XDP_PROG)\n", prog);
			return -ENOENT;
		}
		size_t n = strlen(c->dpdk.vdev[0]);
		if (snprintf(c->dpdk.vdev[0] + n, sizeof(c->dpdk.vdev[0]) - n, ",xdp_prog=%s",
			     prog) >= (int)(sizeof(c->dpdk.vdev[0]) - n)) {
			fprintf(stderr, "kaon: vdev string too long with xdp_prog=%s\n", prog);
			return -ENAMETOOLONG;
		}
	}
	/* Several cores: one vdev (one AF_XDP socket) per queue. */
	unsigned n = c->dpdk.cores;
	if (n > 1) {
		char one[sizeof(c->dpdk.vdev[0])];
		memcpy(one, c->dpdk.vdev[0], sizeof(one));
		for (unsigned i = 0; i < n; i++)
			if (i >= KAON_CONF_MAX_DEVARGS ||
			    kaon_bif_devargs_per_queue(one, i, c->dpdk.vdev[i], sizeof(one)) < 0) {
				fprintf(stderr, "kaon: %s: cannot make one af_xdp vdev for each of "
						"the %u cores (at most %d)\n", c->path, n,
					KAON_CONF_MAX_DEVARGS);
				return -EINVAL;
			}
		c->dpdk.n_vdev = (int)n;
	}
	return 0;
}

static kaon_config setup_conf;
static struct kaon_user_opts setup_opts;
static int setup_done;

int kaon__user_setup_conf(const char *path, kaon_config *c)
{
	if (setup_done)
		return -EALREADY;
	char err[512];
	int rc = kaon_config_load(c, path, 1, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "kaon: %s\n", err);
		return rc;
	}
	if (c->bif.mode == KAON_BIF_XDP && (rc = bif_prepare(c)) < 0)
		return rc;
	rc = kaon_dpdk_eal_init(c, "kaon", err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "kaon: %s\n", err);
		return rc;
	}
	setup_done = 1;
	return 0;
}

int kaon_user_setup(kaon_vcpu_opts *vo, const char *path)
{
	int rc = kaon__user_setup_conf(path, &setup_conf);
	if (rc < 0)
		return rc;
	if (setup_conf.dpdk.cores > 1) {
		fprintf(stderr, "kaon: %s: [dpdk] cores = %u: start the cores with kaon_user_start(), "
				"not one vcpu with kaon_user_setup()\n", setup_conf.path,
			setup_conf.dpdk.cores);
		kaon_user_teardown();
		return -EINVAL;
	}
	setup_opts = (struct kaon_user_opts){ .conf = &setup_conf, .port = 0 };
	vo->engine = &kaon_engine_user;
	vo->engine_arg = &setup_opts;
	return 0;
}

void kaon_user_teardown(void)
{
	if (setup_done) {
		kaon_dpdk_eal_cleanup();
		setup_done = 0;
	}
}

const kaon_engine_ops kaon_engine_user = {
	.name = "user",
	.busy_poll = true,
	.init = user_init,
	.poll = user_poll,
	.wake = NULL,
	.fini = user_fini,
};
