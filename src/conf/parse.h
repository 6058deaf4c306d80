/* SPDX-License-Identifier: MIT */
/* Value parsers for the config file. Each returns 0 or -EINVAL, and on
 * failure writes a short reason into @p why. */
#ifndef KAON_CONF_PARSE_H
#define KAON_CONF_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A decimal integer in [min, max], nothing else on the line. */
int kaon__parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out,
		      char *why, size_t whylen);
/* 0/1, yes/no, on/off, true/false. */
int kaon__parse_bool(const char *s, int *out);
/* a.b.c.d with contiguous one bits, or /N (0..32); network byte order. */
int kaon__parse_netmask(const char *s, uint32_t *out);
/* "80, 8080, 9000-9010": ports 1..65535, no duplicates, at most @p cap. */
int kaon__parse_ports(const char *s, uint16_t *ports, int cap, int *n, char *why,
		      size_t whylen);
/* "LO-HI" within [min, max], LO <= HI. */
int kaon__parse_range(const char *s, unsigned long min, unsigned long max, unsigned long *lo,
		      unsigned long *hi, char *why, size_t whylen);

#endif
