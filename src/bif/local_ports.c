/* SPDX-License-Identifier: MIT */
/*
 * Keep kaon's own source ports disjoint from the kernel's ephemeral ports.
 *
 * The XDP program sends every TCP/UDP frame whose destination port lies in
 * kaon's local range to kaon. If the kernel picked a source port in that
 * range for one of its own connections (ssh out, apt, DNS), the replies
 * would go to kaon and the kernel's connection would hang. Linux picks from
 * net.ipv4.ip_local_port_range (32768-60999 by default) minus
 * net.ipv4.ip_local_reserved_ports, both per network namespace. The
 * reservation keeps explicit bind()s working; it only stops automatic
 * choice, which is exactly what is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kaon/bif.h"

#define RANGE_PATH "/proc/sys/net/ipv4/ip_local_port_range"
#define RESERVED_PATH "/proc/sys/net/ipv4/ip_local_reserved_ports"

static int read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/* Non-zero when every port of [lo, hi] is in the list "a-b,c,d-e". */
static int all_reserved(const char *list, unsigned lo, unsigned hi)
{
	unsigned char bits[65536 / 8];
	const char *p = list;

	memset(bits, 0, sizeof(bits));
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			break;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long x = a; x <= b && x < 65536; x++)
			bits[x >> 3] |= (unsigned char)(1u << (x & 7));
		if (*end != ',')
			break;
		p = end + 1;
	}
	for (unsigned x = lo; x <= hi; x++)
		if (!(bits[x >> 3] & (1u << (x & 7))))
			return 0;
	return 1;
}

static int reserve_range(const char *old, unsigned lo, unsigned hi, char *err, size_t errlen)
{
	char buf[8192];
	int fd, n;

	n = snprintf(buf, sizeof(buf), "%s%s%u-%u\n", old, *old ? "," : "", lo, hi);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENOSPC;
	fd = open(RESERVED_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		int e = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot add %u-%u to %s: %s", lo, hi, RESERVED_PATH,
			 strerror(-e));
		return e;
	}
	close(fd);
	return 0;
}

int kaon_bif_local_ports_claim(uint16_t lo, uint16_t hi, int reserve, char *err,
			       size_t errlen)
{
	char range[64], reserved[4096];
	unsigned klo, khi;
	int rc;

	if (lo == 0 || lo > hi)
		return -EINVAL;
	rc = read_file(RANGE_PATH, range, sizeof(range));
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", RANGE_PATH, strerror(-rc));
		return rc;
	}
	if (sscanf(range, "%u %u", &klo, &khi) != 2)
		return -EPROTO;
	if (hi < klo || lo > khi)
		return 0;
	rc = read_file(RESERVED_PATH, reserved, sizeof(reserved));
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", RESERVED_PATH, strerror(-rc));
		return rc;
	}
	if (all_reserved(reserved, lo, hi))
		return 0;
	if (!reserve) {
		snprintf(err, errlen,
			 "local_ports %u-%u overlap the kernel's ephemeral ports %u-%u: "
			 "sysctl -w net.ipv4.ip_local_reserved_ports=%s%s%u-%u",
			 lo, hi, klo, khi, reserved, *reserved ? "," : "", lo, hi);
		return -EADDRINUSE;
	}
	return reserve_range(reserved, lo, hi, err, errlen);
}
