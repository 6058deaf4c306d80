/* SPDX-License-Identifier: MIT */
/* F-Stack's config file (f-stack.conf, config.ini), read as kaon's: each key
 * F-Stack knows is mapped onto the kaon key that means the same, checked by
 * kaon's own rules (config.c), or reported. A key kaon has no use for gets a
 * warning naming it and its line; a key whose meaning kaon cannot honour
 * (IPv6, VLANs, bonding, several ports, KNI) refuses the file. [vdevN]
 * sections become virtio_user devices, as F-Stack makes them. Keys not in
 * the file keep kaon's defaults, not F-Stack's. docs/config.md has the table. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/loader.h"
#include "conf/parse.h"

#define fail kaon__conf_fail
#define warn kaon__conf_warn

/* Set kaon's [ksection] kname from F-Stack's [section] name, so that an
 * error names both. */
static int map(struct loader *l, const char *section, const char *name, const char *ksection,
	       const char *kname, const char *value)
{
	l->fs_section = section;
	l->fs_key = name;
	int rc = kaon__conf_set(l, ksection, kname, value);
	l->fs_section = l->fs_key = NULL;
	return rc;
}

static int ignore(struct loader *l, const char *section, const char *name, const char *why)
{
	warn(l, l->line, section, name, "ignored: %s", why);
	return 1;
}

/* A 0/1 switch where one value is what kaon does anyway and the other is
 * ignored (with @p why) or refused (@p refuse). */
static int switch_key(struct loader *l, const char *section, const char *name,
		      const char *value, int kaon_does, int refuse, const char *why)
{
	int b;
	if (kaon__parse_bool(value, &b) < 0)
		return fail(l, l->line, section, name, "'%s' is not 0 or 1", value);
	if (b == kaon_does)
		return 1;
	if (refuse)
		return fail(l, l->line, section, name, "%s", why);
	return ignore(l, section, name, why);
}

static unsigned long number(struct loader *l, const char *section, const char *name,
			    const char *value, unsigned long min, unsigned long max, int *ok)
{
	char why[128];
	unsigned long v = 0;
	*ok = kaon__parse_ulong(value, min, max, &v, why, sizeof(why)) == 0;
	if (!*ok)
		fail(l, l->line, section, name, "%s", why);
	return v;
}

/* lcore_mask: hexadecimal, any length, optional 0x -> "0,2,3" for EAL -l. */
static int lcore_mask(struct loader *l, const char *section, const char *name,
		      const char *value)
{
	const char *p = value;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	size_t n = strlen(p);
	if (!n || n > 256)
		return fail(l, l->line, section, name, "'%s' is not a hexadecimal core mask",
			    value);
	char list[KAON_CONF_STR] = "";
	size_t used = 0;
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = p[n - 1 - i];
		if (!isxdigit((unsigned char)ch))
			return fail(l, l->line, section, name,
				    "'%s' is not a hexadecimal core mask", value);
		unsigned nib = (unsigned)(isdigit((unsigned char)ch) ? ch - '0'
								     : tolower((unsigned char)ch) - 'a' + 10);
		for (unsigned b = 0; b < 4; b++) {
			if (!(nib & (1u << b)))
				continue;
			int w = snprintf(list + used, sizeof(list) - used, "%s%zu", count ? "," : "",
					 i * 4 + b);
			if (w < 0 || (size_t)w >= sizeof(list) - used)
				return fail(l, l->line, section, name, "too many cores for kaon");
			used += (size_t)w;
			count++;
		}
	}
	if (!count)
		return fail(l, l->line, section, name, "'%s' names no core", value);
	l->n_lcores = count;
	l->lcore_line = l->line;
	return map(l, section, name, "dpdk", "lcores", list);
}

/* allow / pci_whitelist: F-Stack takes a comma-separated list. */
static int allow_list(struct loader *l, const char *section, const char *name,
		      const char *value)
{
	char buf[KAON_CONF_STR * 2];
	if (strlen(value) >= sizeof(buf))
		return fail(l, l->line, section, name, "too long");
	strcpy(buf, value);
	char *save = NULL;
	int any = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		char *e = t + strlen(t);
		while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		if (!*t)
			continue;
		if (!map(l, section, name, "dpdk", "allow", t))
			return 0;
		any = 1;
	}
	if (!any)
		return fail(l, l->line, section, name, "empty device list");
	return 1;
}

/* Why kaon has no use for a key, by name; NULL: not in the table. */
struct why {
	const char *name, *why;
};

static const char *lookup(const struct why *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t->why;
	return NULL;
}

static const struct why dpdk_ignored[] = {
	{ "tso", "kaon chooses offloads from what the NIC offers" },
	{ "lro", "kaon chooses offloads from what the NIC offers" },
	{ "tx_csum_offoad_skip", "kaon chooses offloads from what the NIC offers" },
	{ "vlan_strip", "kaon configures no VLAN offload" },
	{ "symmetric_rss", "kaon uses one rx queue per port" },
	{ "base_virtaddr", "kaon passes no --base-virtaddr" },
	{ "thread_mode", "kaon is always one process" },
	{ "mtu_enable", "kaon's MTU is [portN] mtu" },
	{ "max_mtu", "kaon's MTU is [portN] mtu" },
	{ "mbuf_mode", "kaon sizes its mbufs itself" },
	{ "fstack_log_level", "F-Stack's own log" },
	{ "fstack_log_file_prefix", "F-Stack's own log" },
	{ NULL, NULL },
};

static int dpdk_key(struct loader *l, const char *s, const char *name, const char *value)
{
	static const char *const same[] = { "memory", "no_huge", "file_prefix", "log_level",
					     "idle_sleep" };
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		if (!strcmp(name, same[i]))
			return map(l, s, name, "dpdk", name, value);
	if (!strcmp(name, "lcore_mask"))
		return lcore_mask(l, s, name, value);
	if (!strcmp(name, "channel"))
		return map(l, s, name, "dpdk", "mem_channels", value);
	if (!strcmp(name, "allow") || !strcmp(name, "pci_whitelist"))
		return allow_list(l, s, name, value);
	if (!strcmp(name, "pkt_tx_delay")) {
		int ok;
		unsigned long v = number(l, s, name, value, 0, 1000000, &ok);
		if (!ok)
			return 0;
		if (v > 100) {
			/* F-Stack holds frames at most 100 us whatever the file says. */
			warn(l, l->line, s, name, "%lu: F-Stack caps it at 100, so does kaon", v);
			value = "100";
		}
		return map(l, s, name, "dpdk", "pkt_tx_delay", value);
	}
	if (!strcmp(name, "port_list")) {
		const char *p = value;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strcmp(p, "0") != 0)
			return fail(l, l->line, s, name,
				    "'%s': kaon drives one port per process, DPDK port 0 (port_list=0)",
				    value);
		l->port = 0;
		return 1;
	}
	if (!strcmp(name, "nb_vdev")) {
		int ok;
		unsigned long v = number(l, s, name, value, 0, KAON_CONF_MAX_DEVARGS, &ok);
		if (!ok)
			return 0;
		if (l->nb_vdev_line)
			return fail(l, l->line, s, name, "given twice");
		l->nb_vdev = (int)v;
		l->nb_vdev_line = l->line;
		return 1;
	}
	if (!strcmp(name, "nb_bond")) {
		int ok;
		unsigned long v = number(l, s, name, value, 0, 1024, &ok);
		if (!ok || v == 0)
			return ok;
		return fail(l, l->line, s, name, "kaon does not bond ports");
	}
	if (!strcmp(name, "vlan_filter"))
		return fail(l, l->line, s, name, "kaon has no VLAN support");
	if (!strcmp(name, "promiscuous"))
		return switch_key(l, s, name, value, 0, 0,
				  "kaon leaves promiscuous mode off: it takes frames to its own MAC "
				  "and broadcast");
	if (!strcmp(name, "numa_on"))
		return switch_key(l, s, name, value, 1, 0,
				  "kaon always puts a port's buffers on the port's NUMA node");
	const char *why = lookup(dpdk_ignored, name);
	return ignore(l, s, name, why ? why : "not a key of F-Stack's [dpdk] that kaon knows");
}

static int port_key(struct loader *l, const char *s, unsigned port, const char *name,
		    const char *value)
{
	if (port != l->port) {
		warn(l, l->line, s, name, "ignored: port %u is not in port_list", port);
		return 1;
	}
	if (!strcmp(name, "addr") || !strcmp(name, "netmask") || !strcmp(name, "gateway") ||
	    !strcmp(name, "mtu"))
		return map(l, s, name, "port0", name, value);
	if (!strcmp(name, "broadcast")) {
		struct in_addr a;
		if (inet_pton(AF_INET, value, &a) != 1)
			return fail(l, l->line, s, name, "'%s' is not an IPv4 address", value);
		l->broadcast = a.s_addr;
		l->broadcast_line = l->line;
		return 1;
	}
	if (!strcmp(name, "if_name"))
		return ignore(l, s, name, "kaon names the device in [dpdk] allow or vdev");
	if (!strcmp(name, "lcore_list"))
		return ignore(l, s, name, "one vcpu drives kaon's port");
	if (!strcmp(name, "vip_ifname"))
		return ignore(l, s, name, "kaon has no virtual addresses");
	if (!strcmp(name, "addr6") || !strcmp(name, "prefix_len") || !strcmp(name, "gateway6") ||
	    !strcmp(name, "vip_addr6") || !strcmp(name, "vip_prefix_len"))
		return fail(l, l->line, s, name, "kaon has no IPv6");
	if (!strcmp(name, "vip_addr"))
		return fail(l, l->line, s, name, "kaon has one IPv4 address per port, no virtual ones");
	if (!strcmp(name, "slave_port_list"))
		return fail(l, l->line, s, name, "kaon does not bond ports");
	if (!strcmp(name, "ipfw_pr"))
		return fail(l, l->line, s, name, "kaon has no policy routing");
	return ignore(l, s, name, "not a key of F-Stack's [portN] that kaon knows");
}

/* FreeBSD tunables with a kaon [tcp] key of the same meaning. */
static int sysctl_key(struct loader *l, const char *s, const char *name, const char *value)
{
	int ok;
	char buf[32];
	if (!strcmp(name, "kern.ipc.maxsockets"))
		return map(l, s, name, "tcp", "max_sockets", value);
	if (!strcmp(name, "net.inet.tcp.sendspace"))
		return map(l, s, name, "tcp", "sndbuf", value);
	if (!strcmp(name, "net.inet.tcp.recvspace"))
		return map(l, s, name, "tcp", "rcvbuf", value);
	if (!strcmp(name, "net.inet.tcp.rexmit_min")) /* ms, as kaon's */
		return map(l, s, name, "tcp", "rto_min", value);
	if (!strcmp(name, "net.inet.tcp.msl")) {
		/* ms; TIME_WAIT lasts two of them. */
		unsigned long v = number(l, s, name, value, 0, 120000, &ok);
		if (!ok)
			return 0;
		snprintf(buf, sizeof(buf), "%lu", 2 * v);
		return map(l, s, name, "tcp", "time_wait", buf);
	}
	if (!strcmp(name, "net.inet.tcp.delacktime")) {
		unsigned long v = number(l, s, name, value, 0, 500, &ok);
		if (!ok)
			return 0;
		snprintf(buf, sizeof(buf), "%lu", v * 1000);
		return map(l, s, name, "tcp", "delayed_ack", buf);
	}
	if (!strcmp(name, "net.inet.tcp.delayed_ack")) {
		int b;
		if (kaon__parse_bool(value, &b) < 0)
			return fail(l, l->line, s, name, "'%s' is not 0 or 1", value);
		l->delayed_ack_off = !b;
		return 1;
	}
	if (!strcmp(name, "net.inet.tcp.keepidle")) {
		/* ms; FreeBSD's default always_keepalive=1 applies it to every
		 * connection, as kaon's keepalive does. */
		unsigned long v = number(l, s, name, value, 0, 86400000, &ok);
		if (!ok)
			return 0;
		snprintf(buf, sizeof(buf), "%lu", (v + 999) / 1000);
		return map(l, s, name, "tcp", "keepalive", buf);
	}
	if (!strcmp(name, "net.inet.tcp.syncookies"))
		return switch_key(l, s, name, value, 1, 0,
				  "kaon always answers with SYN cookies past [tcp] syn_backlog");
	return ignore(l, s, name, "a FreeBSD tunable with no kaon counterpart");
}

/* [vdevN]: a virtio_user device, as F-Stack builds it (its config.ini and
 * dpdk_args_setup): --vdev=virtio_userN,path=P[,queues=Q][,cq=C]
 * [,queue_size=S][,mac=M], with F-Stack's rules: [dpdk] nb_vdev comes first,
 * sections past it have no effect. Kaon checks each value here, so that a
 * mistake names its line rather than surfacing as an EAL error, and puts
 * the device together when the whole file is read (vdevs_whole). */
enum { V_PATH = 1, V_QUEUES = 2, V_QSIZE = 4, V_MAC = 8, V_CQ = 16, V_IFACE = 32 };

/* "00:1b:21:0a:0b:0c", a unicast address (a port's own). */
static int mac_ok(const char *v)
{
	unsigned b[6];
	char end;
	if (strlen(v) != 17 ||
	    sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return 0;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? v[i] != ':' : !isxdigit((unsigned char)v[i]))
			return 0;
	return !(b[0] & 1) && (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]);
}

static int vdev_key(struct loader *l, const char *s, long id, const char *name, const char *value)
{
	if (!l->nb_vdev_line || !l->nb_vdev)
		return fail(l, l->line, s, name,
			    "[dpdk] nb_vdev must come first and count this device (F-Stack "
			    "refuses it too)");
	if (id >= l->nb_vdev) {
		warn(l, l->line, s, name, "ignored: beyond [dpdk] nb_vdev=%d (F-Stack ignores it too)",
		     l->nb_vdev);
		return 1;
	}
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = { { "path", V_PATH }, { "queues", V_QUEUES }, { "queue_size", V_QSIZE },
		      { "mac", V_MAC },   { "cq", V_CQ },         { "iface", V_IFACE } };
	unsigned bit = 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(name, known[i].name))
			bit = known[i].bit;
	if (!bit)
		return fail(l, l->line, s, name,
			    "not a key of F-Stack's [vdevN] (path, queues, queue_size, mac, cq, iface)");
	struct fs_vdev *v = &l->vdev[id];
	if (v->seen & bit)
		return fail(l, l->line, s, name, "given twice");
	if (!v->line)
		v->line = l->line;
	v->seen |= bit;
	int ok = 1;
	switch (bit) {
	case V_PATH:
		/* A comma or '=' would end the devargs' value early. */
		if (!*value || strpbrk(value, ",= \t"))
			return fail(l, l->line, s, name,
				    "'%s' is not a path virtio_user can take (empty, or a comma, "
				    "'=' or blank in it)", value);
		if (strlen(value) >= sizeof(v->path) - 80)
			return fail(l, l->line, s, name, "longer than %zu characters",
				    sizeof(v->path) - 81);
		strcpy(v->path, value);
		return 1;
	case V_QUEUES:
		v->queues = number(l, s, name, value, 1, 1024, &ok);
		return ok;
	case V_QSIZE:
		v->queue_size = number(l, s, name, value, 1, 32768, &ok);
		if (ok && (v->queue_size & (v->queue_size - 1)))
			return fail(l, l->line, s, name,
				    "%lu is not a power of two (a virtio ring's size)", v->queue_size);
		return ok;
	case V_CQ:
		v->cq = number(l, s, name, value, 0, 1, &ok);
		return ok;
	case V_MAC:
		if (!mac_ok(value))
			return fail(l, l->line, s, name,
				    "'%s' is not a unicast MAC address (xx:xx:xx:xx:xx:xx)", value);
		strcpy(v->mac, value);
		return 1;
	default: /* V_IFACE */
		return ignore(l, s, name,
			      "F-Stack does not pass it to DPDK either (its sample says not to "
			      "set it)");
	}
}

/* Each [vdevN] below nb_vdev as kaon's [dpdk] vdev = virtio_userN,... */
static void vdevs_whole(struct loader *l)
{
	if (!l->nb_vdev)
		return;
	if (l->c->dpdk.n_allow) {
		fail(l, l->nb_vdev_line, "dpdk", "nb_vdev",
		     "F-Stack starts DPDK with --no-pci when it builds vdevs, so [dpdk] "
		     "allow/pci_whitelist would name nothing: give one or the other");
		return;
	}
	for (int i = 0; i < l->nb_vdev && !l->failed; i++) {
		struct fs_vdev *v = &l->vdev[i];
		char sec[16];
		snprintf(sec, sizeof(sec), "vdev%d", i);
		if (!v->line) {
			fail(l, l->nb_vdev_line, "dpdk", "nb_vdev", "%d, but there is no [%s] section",
			     l->nb_vdev, sec);
			return;
		}
		if (!(v->seen & V_PATH)) {
			fail(l, v->line, sec, "path",
			     "missing: virtio_user needs the vhost-user socket or /dev/vhost-net");
			return;
		}
		/* virtio_user refuses several queue pairs without a control queue;
		 * F-Stack's sample says cq defaults to 1 then. */
		unsigned long cq = (v->seen & V_CQ) ? v->cq : v->queues > 1;
		if (v->queues > 1 && !cq) {
			fail(l, v->line, sec, "cq",
			     "0 with queues=%lu: virtio_user needs its control queue for more than "
			     "one queue pair", v->queues);
			return;
		}
		char args[KAON_CONF_STR];
		size_t n = (size_t)snprintf(args, sizeof(args), "virtio_user%d,path=%s", i, v->path);
		if (v->queues)
			n += (size_t)snprintf(args + n, sizeof(args) - n, ",queues=%lu", v->queues);
		if (cq)
			n += (size_t)snprintf(args + n, sizeof(args) - n, ",cq=%lu", cq);
		if (v->queue_size)
			n += (size_t)snprintf(args + n, sizeof(args) - n, ",queue_size=%lu",
					      v->queue_size);
		if (v->mac[0])
			snprintf(args + n, sizeof(args) - n, ",mac=%s", v->mac);
		int line = l->line;
		l->line = v->line;
		map(l, sec, "path", "dpdk", "vdev", args);
		l->line = line;
	}
	if (!l->failed && l->nb_vdev > 1)
		warn(l, l->nb_vdev_line, "dpdk", "nb_vdev",
		     "%d devices: kaon drives DPDK port 0 (virtio_user0), as port_list=0 says",
		     l->nb_vdev);
}

/* [sectionN] -> N; -1 if @p section is not prefix + digits. */
static long numbered(const char *section, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(section, prefix, n) || !section[n])
		return -1;
	char *end;
	long v = strtol(section + n, &end, 10);
	return *end || v < 0 || !isdigit((unsigned char)section[n]) ? -1 : v;
}

int kaon__fstack_set(void *user, const char *s, const char *name, const char *value)
{
	struct loader *l = user;
	if (l->failed)
		return 0;
	if (!*s)
		return fail(l, l->line, NULL, NULL, "key '%s' outside any section", name);
	long n;
	if (!strcmp(s, "dpdk"))
		return dpdk_key(l, s, name, value);
	if ((n = numbered(s, "port")) >= 0)
		return port_key(l, s, (unsigned)n, name, value);
	if (!strcmp(s, "freebsd.boot") || !strcmp(s, "freebsd.sysctl"))
		return sysctl_key(l, s, name, value);
	if (!strcmp(s, "pcap")) {
		if (!strcmp(name, "enable"))
			return switch_key(l, s, name, value, 0, 0,
					  "kaon writes no pcap files itself; capture a running kaon "
					  "with dpdk-dumpcap (docs/deploy.md)");
		return ignore(l, s, name, "kaon writes no pcap files itself");
	}
	if (!strcmp(s, "kni")) {
		if (!strcmp(name, "enable"))
			return switch_key(l, s, name, value, 0, 1,
					  "kaon shares a NIC with the kernel through its own "
					  "[bifurcation] section (docs/bifurcation.md), not KNI");
		return ignore(l, s, name, "[kni] is off");
	}
	if (!strcmp(s, "stack") && !strcmp(name, "kernel_coexist"))
		return switch_key(l, s, name, value, 0, 1,
				  "kaon shares a NIC with the kernel through [bifurcation]");
	if ((n = numbered(s, "vdev")) >= 0)
		return vdev_key(l, s, n, name, value);
	if (numbered(s, "bond") >= 0)
		return fail(l, l->line, s, name, "kaon builds no devices from F-Stack's [bondN] sections");
	if (numbered(s, "vlan") >= 0)
		return fail(l, l->line, s, name, "kaon has no VLAN support");
	if (!strcmp(s, "rss_check"))
		return ignore(l, s, name, "kaon uses one rx queue per port");
	return ignore(l, s, name, "a section neither F-Stack nor kaon knows");
}

void kaon__fstack_check_whole(struct loader *l)
{
	kaon_config *c = l->c;
	vdevs_whole(l);
	if (l->failed)
		return;
	if (l->delayed_ack_off)
		c->tcp.delayed_ack_us = 0;
	if (l->n_lcores > 1)
		warn(l, l->lcore_line, "dpdk", "lcore_mask",
		     "%d cores: F-Stack runs a process per core, kaon's user-space stack one vcpu "
		     "(EAL gets -l %s)", l->n_lcores, c->dpdk.lcores);
	if (l->broadcast && c->port0.has_addr) {
		uint32_t want = c->port0.addr | ~c->port0.netmask;
		if (l->broadcast != want) {
			char a[INET_ADDRSTRLEN];
			struct in_addr w = { .s_addr = want };
			inet_ntop(AF_INET, &w, a, sizeof(a));
			char sec[16];
			snprintf(sec, sizeof(sec), "port%u", l->port);
			fail(l, l->broadcast_line, sec, "broadcast",
			     "is not addr's broadcast address %s (kaon derives it from addr and "
			     "netmask)", a);
		}
	}
}

int kaon__fstack_sniff(FILE *f)
{
	char line[512];
	char section[64] = "";
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[') {
			size_t n = strcspn(p + 1, "]");
			snprintf(section, sizeof(section), "%.*s", (int)n, p + 1);
			found = !strncmp(section, "freebsd.", 8);
			continue;
		}
		size_t k = strcspn(p, "= \t");
		found = !strcmp(section, "dpdk") &&
			((k == 10 && !strncmp(p, "lcore_mask", k)) ||
			 (k == 9 && !strncmp(p, "port_list", k)));
	}
	rewind(f);
	return found;
}
