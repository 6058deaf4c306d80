/* SPDX-License-Identifier: MIT */
/*
 * Reading an af_xdp vdev string ("net_af_xdp0,iface=eth1,xdp_prog=...").
 * DPDK's kvargs parser needs EAL; this is the little that bifurcation needs
 * before EAL starts (detaching a stale program) and after (filling maps).
 */
#include <errno.h>
#include <string.h>

#include "kaon/bif.h"

/* The value of key @p key in "name,k=v,k=v"; @return its length, or -1. */
static int find(const char *args, const char *key, const char **val)
{
	size_t klen = strlen(key);
	const char *p = strchr(args, ',');

	while (p) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1, *end = strchr(v, ',');

			*val = v;
			return (int)(end ? (size_t)(end - v) : strlen(v));
		}
		p = strchr(p, ',');
	}
	return -1;
}

static int is_af_xdp(const char *args)
{
	return strncmp(args, "net_af_xdp", 10) == 0 || strncmp(args, "af_xdp", 6) == 0;
}

int kaon_bif_devargs_iface(const char *devargs, char *out, size_t outlen)
{
	const char *v;
	int n;

	if (!is_af_xdp(devargs) || (n = find(devargs, "iface", &v)) <= 0)
		return -ENOENT;
	if ((size_t)n >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, v, (size_t)n);
	out[n] = '\0';
	return 0;
}

int kaon_bif_devargs_has_prog(const char *devargs)
{
	const char *v;

	return find(devargs, "xdp_prog", &v) > 0;
}
