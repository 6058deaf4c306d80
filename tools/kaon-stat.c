/* SPDX-License-Identifier: MIT */
/*
 * kaon-stat: a running kaon's counters, read from DPDK's telemetry socket
 * (the /kaon/... commands kaon registers), printed like `netstat -s` (with
 * `ss -s`'s line for the TCP states), or as one JSON object with --json:
 * {"/kaon/stats": {...}, "/kaon/tcp": {...}, ..., "/kaon/port,0": {...}}.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

#define PROG "kaon-stat"
/* DPDK's telemetry replies are at most this long (it says so when we connect). */
#define REPLY_MAX 65536

static const char *const cmds[] = { "/kaon/stats", "/kaon/tcp", "/kaon/drops", "/kaon/engine",
				     "/kaon/port" };
/* Ports asked about one by one (/kaon/port,N), at most. */
#define RTE_PORTS_MAX 32
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--file-prefix P | --socket PATH] [--json] [--all]\n"
		"Print the counters of a running kaon (its stack, its TCBs in each TCP state,\n"
		"every drop reason, its engine, its ports summed and each port's own\n"
		"counters and non-zero xstats), read through DPDK's telemetry socket.\n"
		"  --file-prefix P  the kaon's [dpdk] file_prefix (default kaon)\n"
		"  --socket PATH    the telemetry socket itself\n"
		"  --json           one JSON object: {\"/kaon/stats\": {...}, ...}\n"
		"  --all            also print counters that are zero\n");
}

/* Where DPDK's EAL puts the runtime directory of prefix @p prefix. */
static void socket_path(char *buf, size_t len, const char *prefix)
{
	const char *dir = "/var/run";
	if (getuid() != 0) {
		dir = getenv("XDG_RUNTIME_DIR");
		if (!dir)
			dir = "/tmp";
	}
	snprintf(buf, len, "%s/dpdk/%s/dpdk_telemetry.v2", dir, prefix);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, PROG ": socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, PROG ": cannot connect to %s: %s (is kaon running on its own "
				"stack, with this file prefix?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send @p cmd, read its reply into @p buf. @return its length or -1. */
static ssize_t ask(int fd, const char *cmd, char *buf, size_t len)
{
	if (write(fd, cmd, strlen(cmd)) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", cmd, strerror(errno));
		return -1;
	}
	ssize_t n = read(fd, buf, len - 1);
	if (n <= 0) {
		fprintf(stderr, PROG ": %s: %s\n", cmd, n < 0 ? strerror(errno) : "no reply");
		return -1;
	}
	buf[n] = 0;
	return n;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/* One entry of a flat dictionary: a number, or a string (no escapes: the
 * values kaon and DPDK put there have none). */
struct entry {
	const char *name;
	int name_len;
	int is_str;
	const char *str;
	int str_len;
	unsigned long long v;
};

/* The value of the reply's one key, `{"CMD": VALUE}`. */
static const char *reply_value(const char *reply)
{
	const char *p = strchr(reply, ':');
	return p ? skip_ws(p + 1) : NULL;
}

/* Walk the flat dictionary at @p p ("{...}"), calling @p fn on each entry.
 * @return 0, or -1 when it is not of that shape. */
static int walk_dict(const char *p, void (*fn)(const struct entry *, void *), void *arg)
{
	if (*p != '{')
		return -1;
	p = skip_ws(p + 1);
	while (*p == '"') {
		struct entry e = { .name = p + 1 };
		const char *end = strchr(e.name, '"');
		if (!end)
			return -1;
		e.name_len = (int)(end - e.name);
		p = skip_ws(end + 1);
		if (*p != ':')
			return -1;
		p = skip_ws(p + 1);
		if (*p == '"') {
			e.is_str = 1;
			e.str = p + 1;
			end = strchr(e.str, '"');
			if (!end)
				return -1;
			e.str_len = (int)(end - e.str);
			p = end + 1;
		} else {
			char *num_end;
			e.v = strtoull(p, &num_end, 10);
			if (num_end == p)
				return -1;
			p = num_end;
		}
		fn(&e, arg);
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return *p == '}' ? 0 : -1;
}

static void print_entry(const struct entry *e, void *arg)
{
	if (!e->is_str && (e->v || *(int *)arg))
		printf("    %llu %.*s\n", e->v, e->name_len, e->name);
}

/* Print the dictionary of @p reply as "    value name" lines under @p title
 * (strings are for titles, not printed here). A kaon that does not know
 * the command answers `{"CMD": null}`: nothing printed.
 * @return 0, or -1 when the reply is not of that shape. */
static int print_dict(const char *title, const char *reply, int all)
{
	const char *p = reply_value(reply);
	if (!p)
		return -1;
	if (!strncmp(p, "null", 4))
		return 0;
	printf("%s:\n", title);
	return walk_dict(p, print_entry, &all);
}

struct lookup {
	const char *name;
	int is_str;
	unsigned long long v;
	char str[64];
	int found;
};

static void find_entry(const struct entry *e, void *arg)
{
	struct lookup *l = arg;
	if ((int)strlen(l->name) != e->name_len || strncmp(l->name, e->name, (size_t)e->name_len))
		return;
	l->found = 1;
	l->is_str = e->is_str;
	l->v = e->v;
	if (e->is_str)
		snprintf(l->str, sizeof(l->str), "%.*s", e->str_len, e->str);
}

/* The entry @p name of @p reply's dictionary; 0 if found. */
static int lookup(const char *reply, const char *name, struct lookup *l)
{
	memset(l, 0, sizeof(*l));
	l->name = name;
	const char *p = reply_value(reply);
	if (!p || walk_dict(p, find_entry, l) < 0 || !l->found)
		return -1;
	return 0;
}

/* `ss -s`'s line from /kaon/tcp: "TCP: 5 (estab 3, listen 1, timewait 1)",
 * the states that hold a TCB (all of them with --all). */
static void print_tcp_summary(const char *reply, int all)
{
	static const struct {
		const char *key, *label;
	} st[] = {
		{ "established", "estab" },   { "listen", "listen" },
		{ "syn_sent", "syn-sent" },   { "syn_received", "syn-recv" },
		{ "fin_wait_1", "fin-wait-1" }, { "fin_wait_2", "fin-wait-2" },
		{ "close_wait", "close-wait" }, { "closing", "closing" },
		{ "last_ack", "last-ack" },   { "time_wait", "timewait" },
		{ "closed", "closed" },
	};
	struct lookup l;
	if (lookup(reply, "tcbs", &l) < 0)
		return;
	printf("TCP: %llu (", l.v);
	int n = 0;
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		if (lookup(reply, st[i].key, &l) < 0 || (!l.v && !all && i > 0))
			continue;
		printf("%s%s %llu", n++ ? ", " : "", st[i].label, l.v);
	}
	printf(")\n");
}

/* DPDK's /ethdev/list: {"/ethdev/list": [0, 1]}. @return how many ids. */
static int port_ids(const char *reply, unsigned *ids, int max)
{
	const char *p = reply_value(reply);
	if (!p || *p != '[')
		return 0;
	int n = 0;
	p = skip_ws(p + 1);
	while (n < max && *p >= '0' && *p <= '9') {
		char *end;
		ids[n++] = (unsigned)strtoul(p, &end, 10);
		p = skip_ws(end);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return n;
}

/* Append one reply to the --json object under @p cmd: each reply is
 * {"CMD": VALUE}, where DPDK writes CMD without its parameters ("/kaon/port"
 * for "/kaon/port,0"), so the key is written here. @return 0 or -1. */
static int json_join(const char *cmd, char *reply, int first)
{
	char *value = (char *)reply_value(reply), *close = strrchr(reply, '}');
	if (!value || !close || close < value) {
		fprintf(stderr, PROG ": %s: not JSON: %s\n", cmd, reply);
		return -1;
	}
	*close = 0;
	printf("%s\"%s\": %s", first ? "" : ", ", cmd, value);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prefix = "kaon", *path = NULL;
	int json = 0, all = 0;
	static const struct option opts[] = {
		{ "file-prefix", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': prefix = optarg; break;
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case 'a': all = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		cli_fail(PROG, "unexpected argument '%s'", argv[optind]);
	char spath[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	if (!path) {
		socket_path(spath, sizeof(spath), prefix);
		path = spath;
	}
	int fd = connect_to(path);
	if (fd < 0)
		return 1;
	static char buf[REPLY_MAX];
	/* DPDK greets first: {"version": ..., "pid": ..., "max_output_len": ...}. */
	if (read(fd, buf, sizeof(buf) - 1) <= 0) {
		fprintf(stderr, PROG ": %s said nothing\n", path);
		return 1;
	}
	static const char *const titles[] = { "Stack", "TCP states", "Drops", "Engine", "Port" };
	if (json)
		putchar('{');
	for (size_t i = 0; i < NCMDS; i++) {
		if (ask(fd, cmds[i], buf, sizeof(buf)) < 0)
			return 1;
		if (json) {
			if (json_join(cmds[i], buf, i == 0) < 0)
				return 1;
			continue;
		}
		if (!strcmp(cmds[i], "/kaon/tcp"))
			print_tcp_summary(buf, all);
		if (print_dict(titles[i], buf, all) < 0) {
			fprintf(stderr, PROG ": %s: unexpected reply: %.200s\n", cmds[i], buf);
			return 1;
		}
	}
	/* Each port DPDK knows, by its id. */
	unsigned ids[RTE_PORTS_MAX];
	int nports = 0;
	if (ask(fd, "/ethdev/list", buf, sizeof(buf)) >= 0)
		nports = port_ids(buf, ids, RTE_PORTS_MAX);
	for (int i = 0; i < nports; i++) {
		char cmd[32], title[96];
		snprintf(cmd, sizeof(cmd), "/kaon/port,%u", ids[i]);
		if (ask(fd, cmd, buf, sizeof(buf)) < 0)
			return 1;
		if (json) {
			if (json_join(cmd, buf, 0) < 0)
				return 1;
			continue;
		}
		struct lookup name;
		if (lookup(buf, "name", &name) == 0 && name.is_str && name.str[0])
			snprintf(title, sizeof(title), "Port %u (%s)", ids[i], name.str);
		else
			snprintf(title, sizeof(title), "Port %u", ids[i]);
		if (print_dict(title, buf, all) < 0) {
			fprintf(stderr, PROG ": %s: unexpected reply: %.200s\n", cmd, buf);
			return 1;
		}
	}
	if (json)
		printf("}\n");
	close(fd);
	return 0;
}
