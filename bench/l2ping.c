/* SPDX-License-Identifier: MIT */
/*
 * l2ping: round trips of raw Ethernet frames through a reflector (l2reflect),
 * from a kernel AF_PACKET socket, spinning on a non-blocking receive. N
 * frames are kept in flight (like N ping-pong connections); each reflected
 * frame is checked and sent again.
 *
 *   l2ping --iface IF --dst MAC [--size 64] [--inflight N] [--duration S] [--json]
 *
 * Prints round trips per second; exits 1 when none came back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "l2ping_opts.h"


static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: l2ping --iface IF --dst MAC [--size 64] [--inflight N] "
			"[--duration S] [--json]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *iface = NULL;
	struct l2ping_opts o;
	l2ping_opts_init(&o, NULL);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iface") && i + 1 < argc)
			iface = argv[++i];
		else if (!l2ping_opt(argc, argv, &i, &o))
			usage();
	}
	if (!iface || l2ping_opts_check(&o) < 0)
		usage();
	const unsigned char *dmac = o.dmac;
	int size = o.size, inflight = o.inflight;
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE_KAON));
	if (fd < 0) {
		perror("l2ping: socket(AF_PACKET)");
		return 2;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "l2ping: %s: %s\n", iface, strerror(errno));
		return 2;
	}
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETHERTYPE_KAON);
	sll.sll_ifindex = (int)if_nametoindex(iface);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("l2ping: bind");
		return 2;
	}
	unsigned char frame[1514], in[2048];
	memcpy(frame, dmac, 6);
	memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
	frame[12] = ETHERTYPE_KAON >> 8;
	frame[13] = ETHERTYPE_KAON & 0xff;
	memset(frame + 14, 0x6b, (size_t)size - 14);
	/* Each frame carries its slot number; a reflected frame must come
	 * back with our MAC as destination and its payload intact. */
	for (int i = 0; i < inflight; i++) {
		memcpy(frame + 14, &i, sizeof(i));
		if (send(fd, frame, (size_t)size, 0) < 0) {
			perror("l2ping: send");
			return 2;
		}
	}
	long long trips = 0, bad = 0;
	int64_t end = now_ns() + (int64_t)(o.duration * 1e9), start = now_ns();
	int64_t last_rx = start;
	/* The client spins (non-blocking receive), as a busy-polling peer
	 * would: the figure is the path's, not a wake-up latency's. */
	while (now_ns() < end) {
		ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		if (n < 0) {
			if (now_ns() - last_rx > 1000000000LL)
				break; /* frames lost: the reflector is gone */
			continue;
		}
		if (n != size || memcmp(in, frame + 6, 6) || memcmp(in + 18, frame + 18, (size_t)size - 18)) {
			bad++;
			continue;
		}
		last_rx = now_ns();
		trips++;
		memcpy(frame + 14, in + 14, 4);
		if (send(fd, frame, (size_t)size, 0) < 0)
			break;
	}
	double secs = (double)(now_ns() - start) / 1e9;
	l2ping_report("l2ping", &o, trips, secs, bad);
	close(fd);
	return trips > 0 ? 0 : 1;
}
