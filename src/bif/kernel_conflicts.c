/* SPDX-License-Identifier: MIT */
/*
 * Kernel sockets that bifurcation would silently starve: a kernel service
 * listening on a port kaon owns gets none of its connections any more, and
 * a kernel connection whose local port lies in kaon's range loses its
 * replies. Worth a warning (or a refusal) at start. /proc/net/{tcp,udp}[6] list every
 * socket of the namespace: "sl local_address rem_address st ...", the
 * address as the raw 32-bit words in hex, the port in hex, state 0A =
 * TCP LISTEN.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kaon/bif.h"

#define TCP_TIME_WAIT 0x06
#define TCP_LISTEN 0x0a

static int owned(const kaon_config *c, int tcp, unsigned port)
{
	const uint16_t *p = tcp ? c->bif.tcp_ports : c->bif.udp_ports;
	int n = tcp ? c->bif.n_tcp_ports : c->bif.n_udp_ports;

	for (int i = 0; i < n; i++)
		if (p[i] == port)
			return 1;
	return port >= c->bif.local_port_lo && port <= c->bif.local_port_hi;
}

/* An IPv4 address (network order, as 4 bytes) that kaon's frames reach. */
static int v4_matches(const kaon_config *c, const uint8_t a[4])
{
	uint32_t v;

	memcpy(&v, a, 4);
	if (v == 0)
		return 1; /* 0.0.0.0 */
	if (c->port0.has_addr)
		return v == c->port0.addr; /* the program filters on it */
	return a[0] != 127;
}

/*
 * Does local address @p hex receive kaon's IPv4 frames? The kernel prints
 * each 32-bit word of the address as the number it is in memory, so
 * reading the words back with %X and storing them gives the bytes.
 */
static int addr_matches(const kaon_config *c, const char *hex)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t any[16];
	unsigned w[4];
	uint8_t b[16];
	size_t n = strlen(hex) == 8 ? 1 : 4;

	if (strlen(hex) != n * 8 || sscanf(hex, "%8X%8X%8X%8X", &w[0], &w[1], &w[2], &w[3]) != (int)n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = w[i];

		memcpy(b + 4 * i, &x, 4);
	}
	if (n == 1)
		return v4_matches(c, b);
	if (memcmp(b, any, 16) == 0)
		return 1; /* [::], dual-stack: takes IPv4 too */
	return memcmp(b, mapped, 12) == 0 && v4_matches(c, b + 12);
}

static int scan(const kaon_config *c, const char *path, int tcp, char *err, size_t errlen)
{
	char line[512], addr[40];
	unsigned port, st;
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno; /* no IPv6: nothing to find */
	if (!fgets(line, sizeof(line), f)) /* header */
		goto out;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%X %*[0-9A-Fa-f]:%*X %X", addr, &port, &st) != 3)
			continue;
		if (tcp && st == TCP_TIME_WAIT)
			continue;
		if (!owned(c, tcp, port) || !addr_matches(c, addr))
			continue;
		snprintf(err, errlen,
			 "a kernel %s socket is bound to port %u (%s), which kaon owns: "
			 "it would receive nothing",
			 !tcp ? "UDP" : st == TCP_LISTEN ? "TCP listening" : "TCP", port, path);
		rc = -EADDRINUSE;
	}
out:
	fclose(f);
	return rc;
}

int kaon_bif_kernel_conflicts(const kaon_config *c, char *err, size_t errlen)
{
	static const struct {
		const char *path;
		int tcp;
	} files[] = {
		{ "/proc/net/tcp", 1 }, { "/proc/net/tcp6", 1 },
		{ "/proc/net/udp", 0 }, { "/proc/net/udp6", 0 },
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++)
		rc = scan(c, files[i].path, files[i].tcp, err, errlen);
	return rc;
}
