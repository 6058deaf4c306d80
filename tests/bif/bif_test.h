/* SPDX-License-Identifier: MIT */
/*
 * Shared set-up of the bifurcation tests: root check, a private network
 * namespace for this process (unshare: nothing to name, nothing left behind
 * when the process dies), a veth pair in it, kaon's XDP object.
 */
#ifndef KAON_BIF_TEST_H
#define KAON_BIF_TEST_H

#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIF_SKIP 77

static inline void bif_skip(const char *why)
{
	fprintf(stderr, "SKIP: %s\n", why);
	exit(BIF_SKIP);
}

/* Run a shell command; non-zero exit status fails with a message. */
static inline int bif_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/*
 * Root, then a network namespace of our own with lo up and, when @p veth,
 * the pair bif0 <-> bif1 up (names are free: the namespace is private).
 * Skips the whole test process when any of it is impossible here.
 */
static inline void bif_netns(int veth)
{
	if (geteuid() != 0)
		bif_skip("needs root (network namespace, BPF, netlink writes)");
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		bif_skip("cannot make a private network namespace");
	}
	if (bif_sh("ip link set lo up") != 0)
		bif_skip("ip (iproute2) does not work here");
	/* No IPv6 here: the kernel's own neighbour discovery and MLD frames on
	 * the veth would run through the XDP program beside the test's frames
	 * and move its counters (seen flaky under ASan's slower timing). */
	bif_sh("for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null");
	if (veth && (bif_sh("ip link add bif0 type veth peer name bif1") != 0 ||
		     bif_sh("ip link set bif0 up && ip link set bif1 up") != 0))
		bif_skip("cannot create a veth pair");
}

static inline int bif_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(path);
}

/* Remove @p dir and what it holds (DPDK's runtime directory of this
 * process, which rte_eal_cleanup() leaves behind). */
static inline void bif_rm_tree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, bif_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
