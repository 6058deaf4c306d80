/* SPDX-License-Identifier: MIT */
/* kaon_addr: numeric IPv4/IPv6 addresses, no name lookups. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kaon/sock.h"

int kaon_addr_parse(kaon_addr *a, const char *host, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (!host || !*host || !strcmp(host, "*"))
		host = "0.0.0.0";
	else if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a->u.in4.sin_addr) == 1) {
		a->u.in4.sin_family = AF_INET;
		a->u.in4.sin_port = htons(port);
		a->len = sizeof(a->u.in4);
		return 0;
	}
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) == 1) {
		a->u.in6.sin6_family = AF_INET6;
		a->u.in6.sin6_port = htons(port);
		a->len = sizeof(a->u.in6);
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -EINVAL;
}

uint16_t kaon_addr_port(const kaon_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return ntohs(a->u.in4.sin_port);
	if (a->u.sa.sa_family == AF_INET6)
		return ntohs(a->u.in6.sin6_port);
	return 0;
}

char *kaon_addr_format(const kaon_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (!len)
		return buf;
	if (a->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->u.in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, (unsigned)kaon_addr_port(a));
	} else if (a->u.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)kaon_addr_port(a));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}
