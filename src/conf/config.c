/* SPDX-License-Identifier: MIT */
/* The config file: inih reads the INI syntax, this file checks every value
 * and says precisely what is wrong. */
#include "kaon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/loader.h"
#include "conf/parse.h"

void kaon_config_defaults(kaon_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->dpdk.lcores, "0");
	c->dpdk.memory_mb = 256;
	strcpy(c->dpdk.file_prefix, "kaon");
	c->dpdk.log_level = 5;
	c->dpdk.nb_mbufs = 16383;
	c->dpdk.rx_desc = 1024;
	c->dpdk.tx_desc = 1024;
	c->dpdk.cores = 1;
	c->port0.netmask = htonl(0xffffff00u);
	c->port0.mtu = 1500;
	c->tcp.rcvbuf = 256 * 1024;
	c->tcp.sndbuf = 256 * 1024;
	c->tcp.delayed_ack_us = 1000;
	c->tcp.time_wait_ms = 2000;
	c->tcp.syn_retries = 5;
	c->tcp.rto_min_ms = 200;
	c->tcp.rto_max_ms = 60000;
	c->tcp.max_sockets = 65536;
	c->tcp.nodelay = 1;
	c->tcp.syn_backlog = 1024;
	c->tcp.congestion = KAON_CC_CUBIC;
	c->bif.local_port_lo = 40000;
	c->bif.local_port_hi = 59999;
}

/* Where a message points: the key as the file spells it, and for an F-Stack
 * key mapped onto one of kaon's, kaon's name too. */
static void where_key(const struct loader *l, const char *section, const char *key,
		      char *buf, size_t len)
{
	if (l->fs_section && key && (strcmp(l->fs_section, section) || strcmp(l->fs_key, key)))
		snprintf(buf, len, "[%s] %s (kaon's [%s] %s)", l->fs_section, l->fs_key,
			 section, key);
	else if (l->fs_section && key)
		snprintf(buf, len, "[%s] %s", l->fs_section, l->fs_key);
	else if (key)
		snprintf(buf, len, "[%s] %s", section, key);
	else if (section)
		snprintf(buf, len, "[%s]", section);
	else
		buf[0] = 0;
}

int kaon__conf_fail(struct loader *l, int line, const char *section, const char *key,
		    const char *fmt, ...)
{
	if (l->failed)
		return 0;
	l->failed = 1;
	l->fail_line = line;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	char where[64] = "";
	if (line > 0)
		snprintf(where, sizeof(where), "%d:", line);
	char name[256];
	where_key(l, section, key, name, sizeof(name));
	if (name[0])
		snprintf(l->err, l->errlen, "%s:%s %s: %s", l->c->path, where, name, what);
	else
		snprintf(l->err, l->errlen, "%s:%s %s", l->c->path, where, what);
	return 0;
}

void kaon__conf_warn(struct loader *l, int line, const char *section, const char *key,
		     const char *fmt, ...)
{
	if (!l->warn || l->failed)
		return;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	char name[256];
	where_key(l, section, key, name, sizeof(name));
	fprintf(l->warn, "%s:%d: warning: %s%s%s\n", l->c->path, line, name, name[0] ? ": " : "",
		what);
}

#define fail kaon__conf_fail

/* Every key: its section, name, id (for duplicate detection), kind and
 * where it goes. */
enum kind { K_STR, K_UINT, K_BOOL, K_IP4, K_NETMASK, K_PORTS, K_RANGE, K_BIFMODE, K_LOGLEVEL, K_CC };

struct key {
	const char *section, *name;
	enum kind kind;
	int repeatable;
	size_t off;          /* offset in kaon_config */
	unsigned long min, max;
	size_t count_off;    /* K_STR repeatable / K_PORTS: where the count lives */
};

#define F(field) offsetof(kaon_config, field)
static const struct key keys[] = {
	{ "dpdk", "lcores", K_STR, 0, F(dpdk.lcores), 0, 0, 0 },
	{ "dpdk", "allow", K_STR, 1, F(dpdk.allow), 0, 0, F(dpdk.n_allow) },
	{ "dpdk", "vdev", K_STR, 1, F(dpdk.vdev), 0, 0, F(dpdk.n_vdev) },
	{ "dpdk", "memory", K_UINT, 0, F(dpdk.memory_mb), 16, 1 << 20, 0 },
	{ "dpdk", "no_huge", K_BOOL, 0, F(dpdk.no_huge), 0, 1, 0 },
	{ "dpdk", "file_prefix", K_STR, 0, F(dpdk.file_prefix), 0, 0, 0 },
	{ "dpdk", "mem_channels", K_UINT, 0, F(dpdk.mem_channels), 0, 32, 0 },
	{ "dpdk", "log_level", K_LOGLEVEL, 0, F(dpdk.log_level), 1, 8, 0 },
	{ "dpdk", "pkt_tx_delay", K_UINT, 0, F(dpdk.pkt_tx_delay_us), 0, 1000000, 0 },
	{ "dpdk", "idle_sleep", K_UINT, 0, F(dpdk.idle_sleep_us), 0, 1000000, 0 },
	{ "dpdk", "nb_mbufs", K_UINT, 0, F(dpdk.nb_mbufs), 1023, 1u << 24, 0 },
	{ "dpdk", "rx_desc", K_UINT, 0, F(dpdk.rx_desc), 64, 32768, 0 },
	{ "dpdk", "tx_desc", K_UINT, 0, F(dpdk.tx_desc), 64, 32768, 0 },
	{ "dpdk", "cores", K_UINT, 0, F(dpdk.cores), 1, 64, 0 },
	{ "dpdk", "rx_queues", K_UINT, 0, F(dpdk.rx_queues), 0, 64, 0 },
	{ "dpdk", "soft_rss", K_BOOL, 0, F(dpdk.soft_rss), 0, 1, 0 },
	{ "port0", "addr", K_IP4, 0, F(port0.addr), 0, 0, 0 },
	{ "port0", "netmask", K_NETMASK, 0, F(port0.netmask), 0, 0, 0 },
	{ "port0", "gateway", K_IP4, 0, F(port0.gateway), 0, 0, 0 },
	{ "port0", "mtu", K_UINT, 0, F(port0.mtu), 576, 9000, 0 },
	{ "tcp", "rcvbuf", K_UINT, 0, F(tcp.rcvbuf), 4096, 1u << 30, 0 },
	{ "tcp", "sndbuf", K_UINT, 0, F(tcp.sndbuf), 4096, 1u << 30, 0 },
	{ "tcp", "delayed_ack", K_UINT, 0, F(tcp.delayed_ack_us), 0, 500000, 0 },
	{ "tcp", "time_wait", K_UINT, 0, F(tcp.time_wait_ms), 0, 240000, 0 },
	{ "tcp", "syn_retries", K_UINT, 0, F(tcp.syn_retries), 1, 20, 0 },
	{ "tcp", "rto_min", K_UINT, 0, F(tcp.rto_min_ms), 1, 60000, 0 },
	{ "tcp", "rto_max", K_UINT, 0, F(tcp.rto_max_ms), 100, 600000, 0 },
	{ "tcp", "keepalive", K_UINT, 0, F(tcp.keepalive_s), 0, 86400, 0 },
	{ "tcp", "max_sockets", K_UINT, 0, F(tcp.max_sockets), 1, 1u << 22, 0 },
	{ "tcp", "nodelay", K_BOOL, 0, F(tcp.nodelay), 0, 1, 0 },
	{ "tcp", "syn_backlog", K_UINT, 0, F(tcp.syn_backlog), 1, 1u << 20, 0 },
	{ "tcp", "rcv_mem", K_UINT, 0, F(tcp.rcv_mem), 0, 1u << 24, 0 },
	{ "tcp", "snd_mem", K_UINT, 0, F(tcp.snd_mem), 0, 1u << 24, 0 },
	{ "tcp", "congestion", K_CC, 0, F(tcp.congestion), 0, 0, 0 },
	{ "bifurcation", "mode", K_BIFMODE, 0, F(bif.mode), 0, 0, 0 },
	{ "bifurcation", "tcp_ports", K_PORTS, 0, F(bif.tcp_ports), 0, 0, F(bif.n_tcp_ports) },
	{ "bifurcation", "udp_ports", K_PORTS, 0, F(bif.udp_ports), 0, 0, F(bif.n_udp_ports) },
	{ "bifurcation", "local_ports", K_RANGE, 0, F(bif.local_port_lo), 1024, 65535, 0 },
};
#undef F

static const char *const sections[] = { "dpdk", "port0", "tcp", "bifurcation" };

int kaon__conf_set(void *user, const char *section, const char *name, const char *value)
{
	struct loader *l = user;
	if (l->failed)
		return 0;
	int known_section = 0;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		known_section |= !strcmp(section, sections[i]);
	if (!*section)
		return fail(l, l->line, NULL, NULL, "key '%s' outside any section", name);
	if (!known_section)
		return fail(l, l->line, section, NULL,
			    "unknown section (known: dpdk, port0, tcp, bifurcation)");
	const struct key *k = NULL;
	size_t id = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) {
			k = &keys[i];
			id = i;
			break;
		}
	}
	if (!k)
		return fail(l, l->line, section, name, "unknown key");
	if (!k->repeatable && (l->seen & (1ULL << id)))
		return fail(l, l->line, section, name, "given twice");
	l->seen |= 1ULL << id;
	char *base = (char *)l->c;
	void *dst = base + k->off;
	char why[128] = "";
	unsigned long u;
	switch (k->kind) {
	case K_STR: {
		if (!*value)
			return fail(l, l->line, section, name, "empty value");
		if (strlen(value) >= KAON_CONF_STR)
			return fail(l, l->line, section, name, "longer than %d characters",
				    KAON_CONF_STR - 1);
		if (k->repeatable) {
			int *n = (int *)(base + k->count_off);
			if (*n >= KAON_CONF_MAX_DEVARGS)
				return fail(l, l->line, section, name, "more than %d of these",
					    KAON_CONF_MAX_DEVARGS);
			dst = (char *)dst + (size_t)*n * KAON_CONF_STR;
			(*n)++;
		}
		strcpy(dst, value);
		return 1;
	}
	case K_UINT:
	case K_LOGLEVEL:
		if (kaon__parse_ulong(value, k->min, k->max, &u, why, sizeof(why)) < 0)
			return fail(l, l->line, section, name, "%s", why);
		if (k->kind == K_LOGLEVEL)
			*(int *)dst = (int)u;
		else
			*(unsigned *)dst = (unsigned)u;
		return 1;
	case K_BOOL: {
		int b;
		if (kaon__parse_bool(value, &b) < 0)
			return fail(l, l->line, section, name,
				    "'%s' is not a boolean (0/1, yes/no, on/off, true/false)", value);
		*(int *)dst = b;
		return 1;
	}
	case K_IP4: {
		struct in_addr a;
		if (inet_pton(AF_INET, value, &a) != 1)
			return fail(l, l->line, section, name, "'%s' is not an IPv4 address",
				    value);
		*(uint32_t *)dst = a.s_addr;
		if (!strcmp(name, "addr")) {
			l->c->port0.has_addr = 1;
			l->addr_line = l->line;
		} else {
			l->gateway_line = l->line;
		}
		return 1;
	}
	case K_NETMASK: {
		uint32_t m;
		if (kaon__parse_netmask(value, &m) < 0)
			return fail(l, l->line, section, name,
				    "'%s' is not a netmask (a.b.c.d with contiguous bits, or /N)",
				    value);
		*(uint32_t *)dst = m;
		return 1;
	}
	case K_PORTS: {
		int *n = (int *)(base + k->count_off);
		if (kaon__parse_ports(value, dst, KAON_CONF_MAX_PORTS, n, why, sizeof(why)) < 0)
			return fail(l, l->line, section, name, "%s", why);
		return 1;
	}
	case K_RANGE: {
		unsigned long lo, hi;
		if (kaon__parse_range(value, k->min, k->max, &lo, &hi, why, sizeof(why)) < 0)
			return fail(l, l->line, section, name, "%s", why);
		l->c->bif.local_port_lo = (uint16_t)lo;
		l->c->bif.local_port_hi = (uint16_t)hi;
		return 1;
	}
	case K_CC:
		if (!strcmp(value, "cubic"))
			l->c->tcp.congestion = KAON_CC_CUBIC;
		else if (!strcmp(value, "newreno"))
			l->c->tcp.congestion = KAON_CC_NEWRENO;
		else
			return fail(l, l->line, section, name,
				    "'%s' is not a congestion control (cubic, newreno)", value);
		return 1;
	case K_BIFMODE:
		if (!strcmp(value, "off"))
			l->c->bif.mode = KAON_BIF_OFF;
		else if (!strcmp(value, "xdp"))
			l->c->bif.mode = KAON_BIF_XDP;
		else if (!strcmp(value, "rte_flow"))
			l->c->bif.mode = KAON_BIF_RTE_FLOW;
		else
			return fail(l, l->line, section, name,
				    "'%s' is not a mode (off, xdp, rte_flow)", value);
		return 1;
	}
	return fail(l, l->line, section, name, "internal: unhandled kind");
}

/* inih's reader: counts lines, and refuses lines that would not fit its
 * buffer (it would split them into two lines otherwise). */
static char *reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	if (l->long_line)
		return NULL;
	if (!fgets(str, num, l->f))
		return NULL;
	l->line++;
	size_t n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(l->f)) {
		l->long_line = 1;
		return NULL;
	}
	return str;
}

/* Checks that need the whole file. */
static void check_whole(struct loader *l, int need_port)
{
	kaon_config *c = l->c;
	if (need_port && !c->port0.has_addr)
		fail(l, 0, "port0", "addr", "missing (the user-space stack needs an address)");
	if (c->port0.gateway && c->port0.has_addr &&
	    (c->port0.gateway & c->port0.netmask) != (c->port0.addr & c->port0.netmask))
		fail(l, l->gateway_line, "port0", "gateway", "not in the subnet of addr/netmask");
	if (c->tcp.rto_min_ms > c->tcp.rto_max_ms)
		fail(l, 0, "tcp", "rto_min", "larger than rto_max");
	if (c->bif.mode != KAON_BIF_OFF && c->bif.n_tcp_ports + c->bif.n_udp_ports == 0)
		fail(l, 0, "bifurcation", "tcp_ports",
		     "bifurcation is on but no tcp_ports or udp_ports are given");
	if (c->bif.mode == KAON_BIF_OFF && c->bif.n_tcp_ports + c->bif.n_udp_ports > 0)
		fail(l, 0, "bifurcation", "mode", "ports are given but mode is off");
	if (c->dpdk.n_allow == 0 && c->dpdk.n_vdev == 0 && need_port)
		fail(l, 0, "dpdk", NULL, "no device: give at least one vdev or allow");
	for (int i = 0; i < c->bif.n_tcp_ports; i++)
		if (c->bif.tcp_ports[i] >= c->bif.local_port_lo &&
		    c->bif.tcp_ports[i] <= c->bif.local_port_hi)
			fail(l, 0, "bifurcation", "tcp_ports",
			     "port %u lies in local_ports %u-%u", c->bif.tcp_ports[i],
			     c->bif.local_port_lo, c->bif.local_port_hi);
}

int kaon_config_load(kaon_config *c, const char *path, int need_port, char *err,
		     size_t errlen)
{
	return kaon_config_load_warn(c, path, need_port, stderr, err, errlen);
}

int kaon_config_load_warn(kaon_config *c, const char *path, int need_port, FILE *warn,
			  char *err, size_t errlen)
{
	kaon_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path ? path : "");
	if (errlen)
		err[0] = 0;
	if (!path || !*path) {
		snprintf(err, errlen, "config: no file name given");
		return -EINVAL;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return e == EACCES ? -EACCES : -ENOENT;
	}
	struct loader l = { .c = c, .f = f, .err = err, .errlen = errlen, .warn = warn };
	l.fstack = kaon__fstack_sniff(f);
	c->fstack = l.fstack;
	int rc = ini_parse_stream(reader, &l, l.fstack ? kaon__fstack_set : kaon__conf_set, &l);
	int read_error = ferror(f);
	fclose(f);
	/* inih goes on after a syntax error; an earlier syntax error wins over
	 * what we found in a later line. */
	if (rc > 0 && l.failed && rc < l.fail_line)
		l.failed = 0;
	if (!l.failed) {
		if (l.long_line)
			fail(&l, l.line, NULL, NULL, "line longer than %d characters",
			     INI_MAX_LINE - 2);
		else if (read_error)
			fail(&l, 0, NULL, NULL, "read error");
		else if (rc > 0)
			fail(&l, rc, NULL, NULL,
			     "not an INI line (expected [section], key = value or a ; comment)");
		else if (rc < 0)
			fail(&l, 0, NULL, NULL, "out of memory while parsing");
		else {
			if (l.fstack)
				kaon__fstack_check_whole(&l);
			check_whole(&l, need_port);
		}
	}
	if (l.failed) {
		char saved[KAON_CONF_STR];
		snprintf(saved, sizeof(saved), "%s", c->path);
		kaon_config_defaults(c);
		snprintf(c->path, sizeof(c->path), "%s", saved);
		return -EINVAL;
	}
	return 0;
}

unsigned kaon_conf_af_packet_frames(const char *vdev)
{
	const char *f = strstr(vdev, "framecnt=");
	if (!f)
		return KAON_AF_PACKET_FRAMES;
	unsigned long n = strtoul(f + 9, NULL, 0);
	return n ? (unsigned)n : KAON_AF_PACKET_FRAMES;
}

static int push(char **argv, int nargv, int *argc, char *buf, size_t buflen, size_t *used,
		const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int push(char **argv, int nargv, int *argc, char *buf, size_t buflen, size_t *used,
		const char *fmt, ...)
{
	if (*argc + 1 >= nargv)
		return -ENOSPC;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, buflen - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= buflen - *used)
		return -ENOSPC;
	argv[(*argc)++] = buf + *used;
	argv[*argc] = NULL;
	*used += (size_t)n + 1;
	return 0;
}

int kaon_config_eal_argv(const kaon_config *c, const char *prog, char **argv, int nargv,
			 char *buf, size_t buflen)
{
	int argc = 0;
	size_t used = 0;
	int rc = 0;
#define P(...) do { if ((rc = push(argv, nargv, &argc, buf, buflen, &used, __VA_ARGS__)) < 0) return rc; } while (0)
	P("%s", prog ? prog : "kaon");
	P("-l");
	P("%s", c->dpdk.lcores);
	P("-m");
	P("%u", c->dpdk.memory_mb);
	if (c->dpdk.no_huge)
		P("--no-huge");
	if (c->dpdk.mem_channels) {
		P("-n");
		P("%u", c->dpdk.mem_channels);
	}
	P("--file-prefix=%s", c->dpdk.file_prefix);
	P("--log-level=%d", c->dpdk.log_level);
	for (int i = 0; i < c->dpdk.n_vdev; i++) {
		const char *v = c->dpdk.vdev[i];
		/* af_packet's ring is its only receive buffer: the PMD's default
		 * of 512 frames overflows, uncounted, when a few hundred
		 * connections send a segment each at once (the kernel drops and
		 * the peers wait for retransmission timeouts). */
		if (!strncmp(v, "net_af_packet", 13) && !strstr(v, "framecnt="))
			P("--vdev=%s,framecnt=%u", v, KAON_AF_PACKET_FRAMES);
		else
			P("--vdev=%s", v);
	}
	for (int i = 0; i < c->dpdk.n_allow; i++)
		P("-a%s", c->dpdk.allow[i]);
	if (c->dpdk.n_allow == 0)
		P("--no-pci");
#undef P
	return argc;
}
