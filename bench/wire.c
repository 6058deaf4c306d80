/* SPDX-License-Identifier: MIT */
/*
 * kaon-wire: an impairment wire between two interfaces (the testbed puts it
 * in namespace kaon-wire, between kaon-cli and kaon-srv: scripts/testbed.sh
 * up --wire SPEC). Every frame that arrives on one interface leaves by the
 * other after the impairments of wire_imp.h: delay, jitter, loss (random and
 * Gilbert-Elliott), reordering, duplication, corruption and a rate limit
 * with a bounded queue, all drawn from a seeded generator.
 *
 *   kaon-wire --a IF --b IF [--spec "delay=20ms loss=1%"] [--stats FILE]
 *             [--interval S] [--cpu N] [--pidfile FILE]
 *   kaon-wire --check --spec SPEC      only parse SPEC (exit 0, or 2 and why)
 *
 * A is the client side (c2s = A to B). The counters (JSON) go to --stats
 * every --interval seconds (1), at once on SIGUSR1 and at exit (SIGINT,
 * SIGTERM); at exit they are printed on stderr too.
 *
 * Why a forwarder on AF_PACKET rings and not tc/BPF: this kernel has no
 * netem, and a BPF program cannot hold a frame for 20 ms; loss, corruption
 * and duplication alone in cls_bpf would leave delay to a forwarder anyway,
 * and one place for every impairment keeps them in one seeded sequence.
 * Why AF_PACKET (TPACKET_V2 rx and tx rings, qdisc bypass) rather than
 * AF_XDP: on veth AF_XDP runs in copy mode, needs a BPF program and libxdp,
 * and a delay line must copy each frame out of the receive ring anyway (at
 * 1 Gb/s and 20 ms, 2.5 MB are in flight per direction: far more than a ring
 * should hold); mmap'd packet rings cost one copy each way and a system call
 * per batch. Measured on the 2-core test machine (Linux TCP, one flow,
 * sha256-checked, sender, receiver and wire sharing the cores): 3.7 Gb/s on
 * the plain pair, 1.6 Gb/s through the wire at 0 ms, 1.04-1.09 Gb/s at
 * 20 ms each way. About 9 in 10 of the wire's CPU time is the kernel's
 * (veth transmit, and the receiving TCP's softirq work charged to the
 * sender of the frame): a different socket type would not change it much.
 * TPACKET_V2 rather than V3: V3 hands
 * frames over a block at a time, after a timeout of at least 1 ms at low
 * rates, which would add jitter to every ping.
 */
#include "wire_imp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_FRAMES 16384 /* 32 MB a port: a slow-start burst of 8 flows fits */
#define TX_FRAMES 1024
#define RX_BUDGET 256 /* frames taken from one ring before looking at the other */
#define TX_BATCH 32   /* frames per send(): veth's XDP ring holds 256 */

struct port {
	const char *name;
	int fd, ifindex;
	uint8_t *rx, *tx; /* the rings */
	uint32_t fsize, rx_i, tx_i, tx_pending;
	uint64_t ring_drops, tx_errors;
};

static volatile sig_atomic_t g_stop, g_dump;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_dump = 1;
	else
		g_stop = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "kaon-wire: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int if_mtu(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	int r = s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : -1;
	if (s >= 0)
		close(s);
	return r;
}

static void port_open(struct port *pt, const char *name, uint32_t fsize)
{
	pt->name = name;
	pt->fsize = fsize;
	pt->ifindex = (int)if_nametoindex(name);
	if (!pt->ifindex)
		die(name);
	/* Protocol 0 until the rings exist: nothing is queued before them. */
	pt->fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (pt->fd < 0)
		die("socket(AF_PACKET)");
	int v = TPACKET_V2, one = 1;
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v))
		die("PACKET_VERSION");
	/* Frames it sends itself are not frames to forward. */
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one))
		die("PACKET_IGNORE_OUTGOING");
	/* No qdisc on the way out: the wire is the only queue. */
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one))
		die("PACKET_QDISC_BYPASS");
	/* A frame the kernel will not send is skipped, not retried for ever. */
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one))
		die("PACKET_LOSS");
	uint32_t block = 1 << 16;
	struct tpacket_req rq = {.tp_block_size = block, .tp_frame_size = fsize,
				 .tp_frame_nr = RX_FRAMES,
				 .tp_block_nr = RX_FRAMES / (block / fsize)};
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_RX_RING, &rq, sizeof rq))
		die("PACKET_RX_RING");
	struct tpacket_req tq = {.tp_block_size = block, .tp_frame_size = fsize,
				 .tp_frame_nr = TX_FRAMES,
				 .tp_block_nr = TX_FRAMES / (block / fsize)};
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_TX_RING, &tq, sizeof tq))
		die("PACKET_TX_RING");
	size_t rx_len = (size_t)RX_FRAMES * fsize, tx_len = (size_t)TX_FRAMES * fsize;
	uint8_t *m = mmap(NULL, rx_len + tx_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  pt->fd, 0);
	if (m == MAP_FAILED)
		die("mmap(packet rings)");
	pt->rx = m;
	pt->tx = m + rx_len;
	struct packet_mreq mr = {.mr_ifindex = pt->ifindex, .mr_type = PACKET_MR_PROMISC};
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr))
		die("PACKET_ADD_MEMBERSHIP(promisc)");
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = pt->ifindex};
	if (bind(pt->fd, (struct sockaddr *)&sll, sizeof sll))
		die("bind");
}

static struct tpacket2_hdr *rx_frame(struct port *pt, uint32_t i)
{
	return (struct tpacket2_hdr *)(pt->rx + (size_t)i * pt->fsize);
}

static struct tpacket2_hdr *tx_frame(struct port *pt, uint32_t i)
{
	return (struct tpacket2_hdr *)(pt->tx + (size_t)i * pt->fsize);
}

static void tx_flush(struct port *pt)
{
	if (!pt->tx_pending)
		return;
	pt->tx_pending = 0;
	while (send(pt->fd, NULL, 0, MSG_DONTWAIT) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != ENOBUFS)
			pt->tx_errors++;
		break;
	}
}

/* Hand the due frames of @d to @out's tx ring. */
static void drain(struct wire_dir *d, struct port *out, int64_t now)
{
	uint32_t len;
	const uint8_t *f;
	const uint32_t off = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
	while ((f = wire_peek(d, now, &len))) {
		struct tpacket2_hdr *h = tx_frame(out, out->tx_i);
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (st & TP_STATUS_WRONG_FORMAT) {
			d->st.drop[WIRE_DROP_TX]++;
		} else if (st != TP_STATUS_AVAILABLE) {
			/* The kernel still holds the ring: send what is queued
			 * and come back on the next round. */
			tx_flush(out);
			break;
		}
		if (len > out->fsize - off) {
			d->st.drop[WIRE_DROP_OVERSIZE]++;
			wire_pop(d);
			continue;
		}
		memcpy((uint8_t *)h + off, f, len);
		h->tp_len = len;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		out->tx_i = (out->tx_i + 1) % TX_FRAMES;
		wire_pop(d);
		if (++out->tx_pending >= TX_BATCH)
			tx_flush(out);
	}
	tx_flush(out);
}

/* Take up to RX_BUDGET frames from @in into @d. Returns how many. */
static int gather(struct port *in, struct wire_dir *d, int64_t now)
{
	int n = 0;
	while (n < RX_BUDGET) {
		struct tpacket2_hdr *h = rx_frame(in, in->rx_i);
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (!(st & TP_STATUS_USER))
			break;
		if (h->tp_snaplen < h->tp_len) {
			/* A GSO/GRO frame larger than a ring frame: the
			 * testbed turns those offloads off, so count it. */
			d->st.rx++;
			d->st.drop[WIRE_DROP_OVERSIZE]++;
		} else {
			wire_in(d, (const uint8_t *)h + h->tp_mac, h->tp_snaplen, now);
		}
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		in->rx_i = (in->rx_i + 1) % RX_FRAMES;
		n++;
	}
	return n;
}

static void ring_stats(struct port *pt)
{
	struct tpacket_stats s;
	socklen_t l = sizeof s;
	/* Reading the counters resets them: keep the sum. */
	if (getsockopt(pt->fd, SOL_PACKET, PACKET_STATISTICS, &s, &l) == 0)
		pt->ring_drops += s.tp_drops;
}

static void dir_json(FILE *f, const char *name, const struct wire_dir *d, const struct port *in)
{
	const struct wire_stats *s = &d->st;
	fprintf(f, "  \"%s\": {\"rx\": %llu, \"rx_bytes\": %llu, \"tx\": %llu, \"tx_bytes\": %llu, "
		   "\"delayed\": %llu, \"reorder_held\": %llu, \"reordered\": %llu, "
		   "\"duplicated\": %llu, \"corrupted\": %llu, \"held\": %u, \"held_max\": %llu, "
		   "\"queue_max_bytes\": %llu, \"ring_drops\": %llu, \"tx_errors\": %llu, \"drop\": {",
		name, (unsigned long long)s->rx, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->tx, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->delayed, (unsigned long long)s->reorder_held,
		(unsigned long long)s->reordered, (unsigned long long)s->duplicated,
		(unsigned long long)s->corrupted, d->nheap, (unsigned long long)s->held_max,
		(unsigned long long)s->queue_max_bytes, (unsigned long long)in->ring_drops,
		(unsigned long long)in->tx_errors);
	for (int i = 0; i < WIRE_DROP_N; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", wire_drop_name[i],
			(unsigned long long)s->drop[i]);
	fprintf(f, "}}");
}

static void write_stats(FILE *f, const char *spec, uint64_t seed, struct wire_dir *d,
			struct port *pt, double uptime)
{
	fprintf(f, "{\"spec\": \"%s\", \"seed\": %llu, \"uptime_s\": %.3f,\n", spec,
		(unsigned long long)seed, uptime);
	dir_json(f, "c2s", &d[WIRE_C2S], &pt[0]);
	fprintf(f, ",\n");
	dir_json(f, "s2c", &d[WIRE_S2C], &pt[1]);
	fprintf(f, "\n}\n");
}

static void dump(const char *path, const char *spec, uint64_t seed, struct wire_dir *d,
		 struct port *pt, double uptime)
{
	ring_stats(&pt[0]);
	ring_stats(&pt[1]);
	if (!path)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	write_stats(f, spec, seed, d, pt, uptime);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void usage(void)
{
	fprintf(stderr, "usage: kaon-wire --a IF --b IF [--spec SPEC] [--stats FILE] "
			"[--interval S] [--cpu N] [--pidfile FILE]\n"
			"       kaon-wire --check --spec SPEC\n"
			"SPEC: see bench/wire_imp.h, e.g. \"delay=20ms loss=1%% rate=500mbit\"\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *a = NULL, *b = NULL, *spec = "", *stats = NULL, *pidfile = NULL;
	double interval = 1;
	int cpu = -1, check = 0;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--check")) {
			check = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(o, "--a"))
			a = argv[++i];
		else if (!strcmp(o, "--b"))
			b = argv[++i];
		else if (!strcmp(o, "--spec"))
			spec = argv[++i];
		else if (!strcmp(o, "--stats"))
			stats = argv[++i];
		else if (!strcmp(o, "--interval"))
			interval = atof(argv[++i]);
		else if (!strcmp(o, "--cpu"))
			cpu = atoi(argv[++i]);
		else if (!strcmp(o, "--pidfile"))
			pidfile = argv[++i];
		else
			usage();
	}
	if ((!check && (!a || !b)) || interval <= 0)
		usage();
	/* It runs in the background for as long as the testbed is up: an
	 * inherited descriptor, such as flock(1)'s hold on the testbed lock,
	 * must not stay open with it. */
	close_range(3, ~0U, 0);
	struct wire_params p[2];
	uint64_t seed;
	char err[256];
	if (wire_parse(spec, p, &seed, err, sizeof err)) {
		fprintf(stderr, "kaon-wire: spec: %s\n", err);
		return 2;
	}
	if (check)
		return 0;
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set))
			die("sched_setaffinity");
	}
	/* Timers as precise as the kernel gives: the default 50 us slack
	 * would show in every delay. */
	prctl(PR_SET_TIMERSLACK, 1000UL);

	int mtu_a = if_mtu(a), mtu_b = if_mtu(b);
	if (mtu_a < 0 || mtu_b < 0)
		die("SIOCGIFMTU");
	int mtu = mtu_a > mtu_b ? mtu_a : mtu_b;
	/* Room for the ring's header, Ethernet, a VLAN tag and alignment. */
	uint32_t fsize = 2048;
	while (fsize < (uint32_t)mtu + 14 + 4 + 128)
		fsize <<= 1;
	if (fsize > 65536) {
		fprintf(stderr, "kaon-wire: MTU %d too large\n", mtu);
		return 1;
	}
	struct wire_dir d[2];
	for (int i = 0; i < 2; i++)
		if (wire_dir_init(&d[i], &p[i], seed, i, (uint32_t)mtu + 18))
			die("delay line");
	struct port pt[2] = {{0}, {0}};
	port_open(&pt[0], a, fsize);
	port_open(&pt[1], b, fsize);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f)
			die(pidfile);
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	fprintf(stderr, "kaon-wire: ready: %s <-> %s, seed %llu, spec \"%s\"\n", a, b,
		(unsigned long long)seed, spec);

	const int64_t t0 = now_ns(), step = (int64_t)(interval * 1e9);
	int64_t next_dump = t0 + step;
	struct pollfd pfd[2] = {{.fd = pt[0].fd, .events = POLLIN}, {.fd = pt[1].fd, .events = POLLIN}};
	while (!g_stop) {
		int64_t now = now_ns();
		int got = gather(&pt[0], &d[WIRE_C2S], now);
		got += gather(&pt[1], &d[WIRE_S2C], now);
		drain(&d[WIRE_C2S], &pt[1], now);
		drain(&d[WIRE_S2C], &pt[0], now);
		if (g_dump || now >= next_dump) {
			g_dump = 0;
			next_dump = now + step;
			dump(stats, spec, seed, d, pt, (double)(now - t0) / 1e9);
		}
		if (got)
			continue;
		int64_t due = wire_next_due(&d[0]), due1 = wire_next_due(&d[1]);
		if (due1 < due)
			due = due1;
		if (next_dump < due)
			due = next_dump;
		now = now_ns();
		if (due <= now)
			continue;
		struct timespec ts = {.tv_sec = (due - now) / 1000000000,
				      .tv_nsec = (due - now) % 1000000000};
		int r = ppoll(pfd, 2, &ts, NULL);
		if (r < 0 && errno != EINTR)
			die("ppoll");
		for (int i = 0; i < 2 && r > 0; i++) {
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				/* The interface went away (testbed down). */
				fprintf(stderr, "kaon-wire: %s is gone\n", pt[i].name);
				g_stop = 1;
			}
		}
	}
	double up = (double)(now_ns() - t0) / 1e9;
	dump(stats, spec, seed, d, pt, up);
	write_stats(stderr, spec, seed, d, pt, up);
	if (pidfile)
		unlink(pidfile);
	return 0;
}
