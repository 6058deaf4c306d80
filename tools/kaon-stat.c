/* SPDX-License-Identifier: MIT */
/*
 * kaon-stat: a running kaon's counters, read from DPDK's telemetry socket
 * (the /kaon/... commands kaon registers), printed like `netstat -s`, or as
 * one JSON object with --json.
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

static const char *const cmds[] = { "/kaon/stats", "/kaon/drops", "/kaon/engine", "/kaon/port" };
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--file-prefix P | --socket PATH] [--json] [--all]\n"
		"Print the counters of a running kaon (its stack, every drop reason, its\n"
		"engine and its port), read through DPDK's telemetry socket.\n"
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

/* Print the flat dictionary that is the value of the reply's one key,
 * `{"CMD": {"name": number, ...}}`, as "    value name" lines. A kaon that
 * does not know the command answers `{"CMD": null}`: nothing printed.
 * @return 0, or -1 when the reply is not of that shape. */
static int print_dict(const char *title, const char *reply, int all)
{
	const char *p = strchr(reply, ':');
	if (!p)
		return -1;
	p = skip_ws(p + 1);
	if (!strncmp(p, "null", 4))
		return 0;
	if (*p != '{')
		return -1;
	printf("%s:\n", title);
	p = skip_ws(p + 1);
	while (*p == '"') {
		const char *name = p + 1, *end = strchr(name, '"');
		if (!end)
			return -1;
		p = skip_ws(end + 1);
		if (*p != ':')
			return -1;
		p = skip_ws(p + 1);
		char *num_end;
		unsigned long long v = strtoull(p, &num_end, 10);
		if (num_end == p)
			return -1;
		if (v || all)
			printf("    %llu %.*s\n", v, (int)(end - name), name);
		p = skip_ws(num_end);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return *p == '}' ? 0 : -1;
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
	static const char *const titles[] = { "Stack", "Drops", "Engine", "Port" };
	if (json)
		putchar('{');
	for (size_t i = 0; i < NCMDS; i++) {
		ssize_t n = ask(fd, cmds[i], buf, sizeof(buf));
		if (n < 0)
			return 1;
		if (json) {
			/* Each reply is {"CMD": VALUE}: join their insides. */
			char *open = strchr(buf, '{'), *close = strrchr(buf, '}');
			if (!open || !close || close < open) {
				fprintf(stderr, PROG ": %s: not JSON: %s\n", cmds[i], buf);
				return 1;
			}
			*close = 0;
			printf("%s%s", i ? ", " : "", open + 1);
		} else if (print_dict(titles[i], buf, all) < 0) {
			fprintf(stderr, PROG ": %s: unexpected reply: %.200s\n", cmds[i], buf);
			return 1;
		}
	}
	if (json)
		printf("}\n");
	close(fd);
	return 0;
}
