/* SPDX-License-Identifier: MIT */
/* The config file: a full valid file, defaults, and one bad file per way of
 * being wrong, each refused with file, line and key named. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kaon/config.h"
#include "test_util.h"

static char path[64];

static void write_file(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/kaon-conf-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const char *text, int need_port, char *err, size_t errlen, kaon_config *c)
{
	write_file(text);
	int rc = kaon_config_load(c, path, need_port, err, errlen);
	unlink(path);
	return rc;
}

static void t_full(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	const char *text = "; kaon on the veth testbed\n"
			   "[dpdk]\n"
			   "lcores = 1\n"
			   "vdev = net_af_xdp0,iface=veth-srv,start_queue=0\n"
			   "vdev = net_tap0\n"
			   "memory = 512\n"
			   "no_huge = yes\n"
			   "file_prefix = kaon-test\n"
			   "log_level = 4\n"
			   "pkt_tx_delay = 0\n"
			   "idle_sleep = 0\n"
			   "[port0]\n"
			   "addr = 198.18.0.2\n"
			   "netmask = 255.255.255.0\n"
			   "gateway = 198.18.0.1\n"
			   "mtu = 1500\n"
			   "[tcp]\n"
			   "rcvbuf = 131072 ; inline comment\n"
			   "delayed_ack = 0\n"
			   "time_wait = 100\n"
			   "syn_backlog = 4096\n"
			   "nodelay = off\n"
			   "congestion = newreno\n"
			   "[bifurcation]\n"
			   "mode = xdp\n"
			   "tcp_ports = 80, 8080, 9000-9002\n"
			   "local_ports = 30000-39999\n";
	assert_int_equal(load(text, 1, err, sizeof(err), &c), 0);
	assert_string_equal(c.dpdk.lcores, "1");
	assert_int_equal(c.dpdk.n_vdev, 2);
	assert_string_equal(c.dpdk.vdev[1], "net_tap0");
	assert_int_equal(c.dpdk.memory_mb, 512);
	assert_int_equal(c.dpdk.no_huge, 1);
	assert_int_equal(c.port0.addr, inet_addr("198.18.0.2"));
	assert_int_equal(c.port0.gateway, inet_addr("198.18.0.1"));
	assert_int_equal(c.tcp.rcvbuf, 131072);
	assert_int_equal(c.tcp.sndbuf, 256 * 1024); /* default kept */
	assert_int_equal(c.tcp.nodelay, 0);
	assert_int_equal(c.tcp.syn_backlog, 4096);
	assert_int_equal(c.tcp.congestion, KAON_CC_NEWRENO);
	assert_int_equal(c.bif.mode, KAON_BIF_XDP);
	assert_int_equal(c.bif.n_tcp_ports, 5);
	assert_int_equal(c.bif.tcp_ports[4], 9002);
	assert_int_equal(c.bif.local_port_lo, 30000);

	char *argv[32], buf[1024];
	int argc = kaon_config_eal_argv(&c, "kaon-echo", argv, 32, buf, sizeof(buf));
	assert_true(argc > 0);
	assert_null(argv[argc]);
	int saw_nohuge = 0, saw_vdev = 0, saw_nopci = 0;
	for (int i = 0; i < argc; i++) {
		saw_nohuge |= !strcmp(argv[i], "--no-huge");
		saw_vdev |= !strcmp(argv[i], "--vdev=net_tap0");
		saw_nopci |= !strcmp(argv[i], "--no-pci");
	}
	assert_true(saw_nohuge && saw_vdev && saw_nopci);
	assert_int_equal(kaon_config_eal_argv(&c, "x", argv, 3, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(kaon_config_eal_argv(&c, "x", argv, 32, buf, 10), -ENOSPC);
}

static void t_defaults_and_kernel_only(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	/* Kernel back ends need no port: an empty file is fine. */
	assert_int_equal(load("", 0, err, sizeof(err), &c), 0);
	assert_int_equal(c.port0.has_addr, 0);
	assert_int_equal(c.port0.mtu, 1500);
	assert_int_equal(c.tcp.time_wait_ms, 2000);
	assert_int_equal(c.tcp.congestion, KAON_CC_CUBIC);
	assert_int_equal(c.bif.mode, KAON_BIF_OFF);
	assert_int_equal(kaon_config_load(&c, "/nonexistent/kaon.conf", 0, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/kaon.conf: cannot open"));
	assert_int_equal(kaon_config_load(&c, NULL, 0, err, sizeof(err)), -EINVAL);
}

struct bad {
	const char *text;
	const char *want; /* substring of the message after the path */
};

static void t_bad_files(void **s)
{
	(void)s;
	static const struct bad cases[] = {
		{ "[dpdk]\nlcores = 0\nbogus = 1\n", ":3: [dpdk] bogus: unknown key" },
		{ "[nosuch]\na = 1\n", ":2: [nosuch]: unknown section" },
		{ "lcores = 1\n", ":1: key 'lcores' outside any section" },
		{ "[dpdk]\nmemory = lots\n", ":2: [dpdk] memory: 'lots' is not a whole number" },
		{ "[dpdk]\nmemory = 99999999999999999999\n", "[dpdk] memory: '99999999999999999999' is not a whole number (too large)" },
		{ "[dpdk]\nmemory = 4\n", ":2: [dpdk] memory: 4 is out of range 16..1048576" },
		{ "[dpdk]\nmemory = -5\n", "[dpdk] memory: '-5' is not a whole number" },
		{ "[dpdk]\nmemory = 64\nmemory = 128\n", ":3: [dpdk] memory: given twice" },
		{ "[dpdk]\nno_huge = maybe\n", ":2: [dpdk] no_huge: 'maybe' is not a boolean" },
		{ "[dpdk]\nlcores =\n", ":2: [dpdk] lcores: empty value" },
		{ "[port0]\naddr = 198.18.0.256\n", ":2: [port0] addr: '198.18.0.256' is not an IPv4 address" },
		{ "[port0]\naddr = 198.18.0.2\nnetmask = 255.0.255.0\n", ":3: [port0] netmask: '255.0.255.0' is not a netmask" },
		{ "[port0]\naddr = 198.18.0.2\nnetmask = /33\n", "[port0] netmask: '/33' is not a netmask" },
		{ "[port0]\naddr = 198.18.0.2\nnetmask = /25\ngateway = 198.18.0.200\n", ":4: [port0] gateway: not in the subnet" },
		{ "[port0]\nmtu = 100000\n", "[port0] mtu: 100000 is out of range 576..9000" },
		{ "[tcp]\nrto_min = 5000\nrto_max = 1000\n", "[tcp] rto_min: larger than rto_max" },
		{ "[bifurcation]\nmode = ebpf\n", ":2: [bifurcation] mode: 'ebpf' is not a mode" },
		{ "[tcp]\ncongestion = bbr\n",
		  ":2: [tcp] congestion: 'bbr' is not a congestion control (cubic, newreno)" },
		{ "[tcp]\ncongestion = CUBIC\n", "'CUBIC' is not a congestion control" },
		{ "[bifurcation]\nmode = xdp\n", "[bifurcation] tcp_ports: bifurcation is on but no" },
		{ "[bifurcation]\nmode = xdp\ntcp_ports = 80, 0\n", ":3: [bifurcation] tcp_ports: bad port list" },
		{ "[bifurcation]\nmode = xdp\ntcp_ports = 80, 80\n", "tcp_ports: port 80 listed twice" },
		{ "[bifurcation]\nmode = xdp\ntcp_ports = 80 8080\n", "separate ports with commas" },
		{ "[bifurcation]\nmode = xdp\ntcp_ports = 9000-8000\n", "bad port range" },
		{ "[bifurcation]\nmode = xdp\ntcp_ports = 1-65535\n", "more than 64 ports" },
		{ "[bifurcation]\nmode = xdp\ntcp_ports = 45000\n", "port 45000 lies in local_ports 40000-59999" },
		{ "[bifurcation]\nlocal_ports = 5000-100\n", "range 5000-100 must lie within" },
		{ "[bifurcation]\nlocal_ports = 100\n", "'100' is not a range LO-HI" },
		{ "[bifurcation]\ntcp_ports = 80\n", "[bifurcation] mode: ports are given but mode is off" },
		{ "[dpdk]\nthis line has no equals sign\n", ":2: not an INI line" },
		{ "[dpdk\nlcores = 1\n", ":1: not an INI line" },
		{ "\x01\x02\xff\xfe binary\n", ":1: not an INI line" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kaon_config c;
		char err[512];
		int rc = load(cases[i].text, 0, err, sizeof(err), &c);
		if (rc != -EINVAL || !strstr(err, cases[i].want) || !strstr(err, path)) {
			print_message("case %zu: rc %d, message '%s', wanted '%s'\n", i, rc, err,
				      cases[i].want);
			fail();
		}
		/* A refused file leaves nothing half-applied. */
		assert_int_equal(c.dpdk.memory_mb, 256);
		assert_int_equal(c.bif.n_tcp_ports, 0);
	}
}

static void t_needs_port(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	assert_int_equal(load("[dpdk]\nvdev = net_tap0\n", 1, err, sizeof(err), &c), -EINVAL);
	assert_non_null(strstr(err, "[port0] addr: missing"));
	assert_int_equal(load("[port0]\naddr = 198.18.0.2\n", 1, err, sizeof(err), &c), -EINVAL);
	assert_non_null(strstr(err, "[dpdk]: no device"));
}

static void t_long_line(void **s)
{
	(void)s;
	char text[4096];
	strcpy(text, "[dpdk]\nfile_prefix = ");
	size_t n = strlen(text);
	memset(text + n, 'x', 1000);
	strcpy(text + n + 1000, "\nlcores = 1\n");
	kaon_config c;
	char err[512];
	assert_int_equal(load(text, 0, err, sizeof(err), &c), -EINVAL);
	assert_non_null(strstr(err, ":2: line longer than"));
}

/* The shipped files must stay loadable. */
static void t_shipped_files(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	assert_int_equal(kaon_config_load(&c, KAON_SOURCE_DIR "/kaon.conf.example", 0, err,
					  sizeof(err)), 0);
	assert_int_equal(kaon_config_load(&c, KAON_SOURCE_DIR "/conf/testbed.conf", 1, err,
					  sizeof(err)), 0);
	assert_int_equal(c.port0.addr, inet_addr("198.18.0.2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_full),
		cmocka_unit_test(t_defaults_and_kernel_only),
		cmocka_unit_test(t_bad_files),
		cmocka_unit_test(t_needs_port),
		cmocka_unit_test(t_long_line),
		cmocka_unit_test(t_shipped_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
