/* SPDX-License-Identifier: MIT */
#include "conf/parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parse digits at *p; leaves *p after them. -EINVAL on no digits/overflow. */
static int digits(const char **p, unsigned long *out)
{
	const char *s = *p;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	unsigned long v = 0;
	while (isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (0xffffffffUL - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int kaon__parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out,
		      char *why, size_t whylen)
{
	const char *p = skip_ws(s);
	unsigned long v;
	int rc = digits(&p, &v);
	p = skip_ws(p);
	if (rc < 0 || *p) {
		snprintf(why, whylen, "'%s' is not a whole number%s", s,
			 rc == -ERANGE ? " (too large)" : "");
		return -EINVAL;
	}
	if (v < min || v > max) {
		snprintf(why, whylen, "%lu is out of range %lu..%lu", v, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int kaon__parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int kaon__parse_netmask(const char *s, uint32_t *out)
{
	uint32_t m;
	if (s[0] == '/') {
		const char *p = s + 1;
		unsigned long bits;
		if (digits(&p, &bits) < 0 || *p || bits > 32)
			return -EINVAL;
		m = bits ? 0xffffffffu << (32 - bits) : 0;
	} else {
		struct in_addr a;
		if (inet_pton(AF_INET, s, &a) != 1)
			return -EINVAL;
		m = ntohl(a.s_addr);
		if (m & (~m >> 1)) /* a zero bit above a one bit */
			return -EINVAL;
	}
	*out = htonl(m);
	return 0;
}

static int add_port(uint16_t *ports, int cap, int *n, unsigned long v, char *why, size_t whylen)
{
	for (int i = 0; i < *n; i++) {
		if (ports[i] == v) {
			snprintf(why, whylen, "port %lu listed twice", v);
			return -EINVAL;
		}
	}
	if (*n >= cap) {
		snprintf(why, whylen, "more than %d ports", cap);
		return -EINVAL;
	}
	ports[(*n)++] = (uint16_t)v;
	return 0;
}

int kaon__parse_ports(const char *s, uint16_t *ports, int cap, int *n, char *why,
		      size_t whylen)
{
	const char *p = skip_ws(s);
	*n = 0;
	if (!*p) {
		snprintf(why, whylen, "empty port list");
		return -EINVAL;
	}
	for (;;) {
		unsigned long lo, hi;
		if (digits(&p, &lo) < 0 || lo < 1 || lo > 65535) {
			snprintf(why, whylen, "bad port list '%s' (ports are 1..65535, e.g. 80, 8080, 9000-9010)", s);
			*n = 0;
			return -EINVAL;
		}
		hi = lo;
		p = skip_ws(p);
		if (*p == '-') {
			p = skip_ws(p + 1);
			if (digits(&p, &hi) < 0 || hi < lo || hi > 65535) {
				snprintf(why, whylen, "bad port range in '%s'", s);
				*n = 0;
				return -EINVAL;
			}
			p = skip_ws(p);
		}
		for (unsigned long v = lo; v <= hi; v++) {
			if (add_port(ports, cap, n, v, why, whylen) < 0) {
				*n = 0;
				return -EINVAL;
			}
		}
		if (!*p)
			return 0;
		if (*p != ',') {
			snprintf(why, whylen, "bad port list '%s' (separate ports with commas)", s);
			*n = 0;
			return -EINVAL;
		}
		p = skip_ws(p + 1);
	}
}

int kaon__parse_range(const char *s, unsigned long min, unsigned long max, unsigned long *lo,
		      unsigned long *hi, char *why, size_t whylen)
{
	const char *p = skip_ws(s);
	if (digits(&p, lo) < 0 || *(p = skip_ws(p)) != '-') {
		snprintf(why, whylen, "'%s' is not a range LO-HI", s);
		return -EINVAL;
	}
	p = skip_ws(p + 1);
	if (digits(&p, hi) < 0 || *skip_ws(p)) {
		snprintf(why, whylen, "'%s' is not a range LO-HI", s);
		return -EINVAL;
	}
	if (*lo > *hi || *lo < min || *hi > max) {
		snprintf(why, whylen, "range %lu-%lu must lie within %lu-%lu with LO <= HI", *lo,
			 *hi, min, max);
		return -EINVAL;
	}
	return 0;
}
