/* SPDX-License-Identifier: MIT */
/*
 * Reading an af_xdp vdev string ("net_af_xdp0,iface=eth1,xdp_prog=...").
 * DPDK's kvargs parser needs EAL; this is the little that bifurcation needs
 * before EAL starts (detaching a stale program) and after (filling maps).
 */
#include <errno.h>
#include <stdio.h>
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

unsigned kaon_bif_devargs_uint(const char *devargs, const char *key, unsigned dflt)
{
	const char *v;
	unsigned x = 0;
	int n = find(devargs, key, &v);

	if (n <= 0)
		return dflt;
	for (int i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > 100000)
			return dflt;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	return x;
}

int kaon_bif_devargs_per_queue(const char *devargs, unsigned i, char *out, size_t outlen)
{
	const char *comma = strchr(devargs, ',');
	unsigned start = kaon_bif_devargs_uint(devargs, "start_queue", 0);
	size_t len = 0;
	int n;

	if (!is_af_xdp(devargs) || !comma)
		return -ENOENT;
	n = snprintf(out, outlen, "net_af_xdp%u", i);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	len = (size_t)n;
	/* Every key but the queue ones, which are this vdev's own. */
	for (const char *p = comma; p && *p; ) {
		const char *key = p + 1, *end = strchr(key, ',');
		size_t klen = end ? (size_t)(end - key) : strlen(key);

		if (klen && strncmp(key, "start_queue=", 12) && strncmp(key, "queue_count=", 12)) {
			if (len + 1 + klen >= outlen)
				return -ENAMETOOLONG;
			out[len++] = ',';
			memcpy(out + len, key, klen);
			len += klen;
		}
		p = end;
	}
	n = snprintf(out + len, outlen - len, ",start_queue=%u,queue_count=1", start + i);
	if (n < 0 || (size_t)n >= outlen - len)
		return -ENAMETOOLONG;
	return 0;
}
