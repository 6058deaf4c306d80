/* SPDX-License-Identifier: MIT */
/* F-Stack's config file read by kaon: a realistic f-stack.conf maps onto
 * kaon's keys, every key kaon does not use is named in a warning with its
 * line (none is dropped silently), and what kaon cannot honour is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kaon/config.h"
#include "test_util.h"

#define SAMPLE KAON_SOURCE_DIR "/tests/conf/f-stack.conf"

static char path[64];
static char warnings[16384];

/* Load @p file (or @p text written to a temporary file), warnings into
 * `warnings`. */
static int load_file(const char *file, int need_port, kaon_config *c, char *err, size_t errlen)
{
	FILE *w = tmpfile();
	assert_non_null(w);
	int rc = kaon_config_load_warn(c, file, need_port, w, err, errlen);
	rewind(w);
	size_t n = fread(warnings, 1, sizeof(warnings) - 1, w);
	warnings[n] = 0;
	fclose(w);
	return rc;
}

static int load(const char *text, kaon_config *c, char *err, size_t errlen)
{
	snprintf(path, sizeof(path), "/tmp/kaon-fstack-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	int rc = load_file(path, 0, c, err, errlen);
	unlink(path);
	return rc;
}

static void t_sample_maps(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	int rc = load_file(SAMPLE, 1, &c, err, sizeof(err));
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c.fstack, 1);
	assert_string_equal(c.dpdk.lcores, "2");
	assert_int_equal(c.dpdk.mem_channels, 4);
	assert_int_equal(c.dpdk.memory_mb, 1024);
	assert_string_equal(c.dpdk.file_prefix, "photon");
	assert_int_equal(c.dpdk.n_allow, 1);
	assert_string_equal(c.dpdk.allow[0], "0000:3b:00.1");
	assert_int_equal(c.dpdk.pkt_tx_delay_us, 50);
	assert_int_equal(c.port0.addr, inet_addr("198.18.0.40"));
	assert_int_equal(c.port0.netmask, inet_addr("255.255.255.0"));
	assert_int_equal(c.port0.gateway, inet_addr("198.18.0.1"));
	assert_int_equal(c.tcp.max_sockets, 262144);
	assert_int_equal(c.tcp.sndbuf, 65536);
	assert_int_equal(c.tcp.rcvbuf, 131072);
	assert_int_equal(c.tcp.time_wait_ms, 4000); /* 2 MSL */
	assert_int_equal(c.tcp.delayed_ack_us, 0);
	assert_int_equal(c.tcp.rto_min_ms, 200);    /* not in the file: kaon's default */

	char *argv[32], buf[1024];
	int argc = kaon_config_eal_argv(&c, "kaon", argv, 32, buf, sizeof(buf));
	assert_true(argc > 0);
	int saw_n = 0, saw_allow = 0, saw_l = 0;
	for (int i = 0; i + 1 < argc; i++) {
		saw_n |= !strcmp(argv[i], "-n") && !strcmp(argv[i + 1], "4");
		saw_l |= !strcmp(argv[i], "-l") && !strcmp(argv[i + 1], "2");
	}
	for (int i = 0; i < argc; i++)
		saw_allow |= !strcmp(argv[i], "-a0000:3b:00.1");
	assert_true(saw_n && saw_allow && saw_l);
}

/* Keys the sample sets that kaon honours (mapped, or what kaon does anyway). */
static const char *const honoured[] = {
	"lcore_mask", "channel", "memory", "file_prefix", "log_level", "numa_on",
	"idle_sleep", "pkt_tx_delay", "allow", "port_list", "nb_vdev", "nb_bond",
	"enable", "addr", "netmask", "broadcast", "gateway", "kern.ipc.maxsockets",
	"net.inet.tcp.sendspace", "net.inet.tcp.recvspace", "net.inet.tcp.msl",
	"net.inet.tcp.delayed_ack", NULL,
};

/* Every other key line of the sample is named in a warning with its line. */
static void t_sample_warns_each_ignored_key(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	assert_int_equal(load_file(SAMPLE, 1, &c, err, sizeof(err)), 0);
	FILE *f = fopen(SAMPLE, "r");
	assert_non_null(f);
	char line[256];
	int n = 0, ignored = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		char *eq = strchr(line, '=');
		if (line[0] == '#' || line[0] == '[' || !eq)
			continue;
		*eq = 0;
		int known = 0;
		for (int i = 0; honoured[i]; i++)
			known |= !strcmp(line, honoured[i]);
		char want[128];
		snprintf(want, sizeof(want), "f-stack.conf:%d: warning: ", n);
		char *at = strstr(warnings, want);
		if (known) {
			if (at)
				print_message("line %d (%s) is honoured but warned about\n", n, line);
			assert_null(at);
			continue;
		}
		if (!at || !strstr(at, line) || !strstr(at, "ignored")) {
			print_message("line %d (%s): no warning naming it\n%s", n, line, warnings);
			fail();
		}
		ignored++;
	}
	fclose(f);
	assert_true(ignored >= 20);
	/* The exact form of one. */
	assert_non_null(strstr(warnings, "f-stack.conf:15: warning: [dpdk] promiscuous: ignored: "));
	assert_non_null(strstr(warnings, "] net.inet.tcp.cc.algorithm: ignored: "));
}

static void t_mapped_values(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	const char *text = "[dpdk]\n"
			   "lcore_mask=0x14\n"
			   "pci_whitelist=0000:3b:00.0, 0000:3b:00.1\n"
			   "pkt_tx_delay=500\n"
			   "port_list=0\n"
			   "[port1]\n"
			   "addr=198.18.0.1\n"
			   "[freebsd.sysctl]\n"
			   "net.inet.tcp.msl=30000\n"
			   "net.inet.tcp.delacktime=40\n"
			   "net.inet.tcp.rexmit_min=30\n"
			   "net.inet.tcp.keepidle=7200000\n";
	assert_int_equal(load(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c.dpdk.lcores, "2,4");
	assert_int_equal(c.dpdk.n_allow, 2);
	assert_string_equal(c.dpdk.allow[1], "0000:3b:00.1");
	assert_int_equal(c.dpdk.pkt_tx_delay_us, 100); /* F-Stack's cap */
	assert_int_equal(c.tcp.time_wait_ms, 60000);
	assert_int_equal(c.tcp.delayed_ack_us, 40000);
	assert_int_equal(c.tcp.rto_min_ms, 30);
	assert_int_equal(c.tcp.keepalive_s, 7200);
	assert_int_equal(c.port0.has_addr, 0); /* [port1] is not port_list's */
	assert_non_null(strstr(warnings, ":4: warning: [dpdk] pkt_tx_delay: 500"));
	assert_non_null(strstr(warnings, ":7: warning: [port1] addr: ignored: port 1 is not in"));
	assert_non_null(strstr(warnings, ":2: warning: [dpdk] lcore_mask: 2 cores"));

	/* delayed_ack=0 wins over delacktime, as in FreeBSD. */
	assert_int_equal(load("[freebsd.sysctl]\nnet.inet.tcp.delacktime=40\n"
			      "net.inet.tcp.delayed_ack=0\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.tcp.delayed_ack_us, 0);
	/* A kaon file is untouched by all this. */
	assert_int_equal(load("[dpdk]\nlcores = 3\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.fstack, 0);
	assert_string_equal(warnings, "");
}

struct bad {
	const char *text, *want;
};

static void t_refused(void **s)
{
	(void)s;
	static const struct bad cases[] = {
		/* F-Stack's own sample once shipped this non-contiguous mask. */
		{ "[dpdk]\nport_list=0\n[port0]\naddr=198.18.0.2\nnetmask=255.255.225.0\n",
		  ":5: [port0] netmask: '255.255.225.0' is not a netmask" },
		{ "[dpdk]\nport_list=0\n[port0]\naddr=198.18.0.2\nnetmask=255.255.255.0\n"
		  "broadcast=198.18.0.127\n",
		  ":6: [port0] broadcast: is not addr's broadcast address 198.18.0.255" },
		{ "[dpdk]\nport_list=0-1\n", ":2: [dpdk] port_list: '0-1': kaon drives one port" },
		{ "[dpdk]\nport_list=1\n", "[dpdk] port_list: '1'" },
		{ "[dpdk]\nlcore_mask=0\n", ":2: [dpdk] lcore_mask: '0' names no core" },
		{ "[dpdk]\nlcore_mask=0xfg\n", "[dpdk] lcore_mask: '0xfg' is not a hexadecimal" },
		{ "[dpdk]\nlcore_mask=1\nnb_vdev=1\n", ":3: [dpdk] nb_vdev: 1, but there is no [vdev0]" },
		{ "[dpdk]\nlcore_mask=1\nnb_bond=2\n", ":3: [dpdk] nb_bond: kaon does not bond ports" },
		{ "[dpdk]\nlcore_mask=1\nvlan_filter=10\n", "[dpdk] vlan_filter: kaon has no VLAN" },
		{ "[dpdk]\nlcore_mask=1\nmemory=4\n", ":3: [dpdk] memory: 4 is out of range" },
		{ "[dpdk]\nlcore_mask=1\n[port0]\naddr6=2001:db8::1\n", ":4: [port0] addr6: kaon has no IPv6" },
		{ "[dpdk]\nlcore_mask=1\n[port0]\nvip_addr=198.18.0.2;198.18.0.3\n", "[port0] vip_addr: " },
		{ "[dpdk]\nlcore_mask=1\n[kni]\nenable=1\n", ":4: [kni] enable: kaon shares a NIC" },
		{ "[dpdk]\nlcore_mask=1\n[vdev0]\npath=/run/vhost0\n",
		  ":4: [vdev0] path: [dpdk] nb_vdev must come first" },
		{ "[freebsd.sysctl]\nnet.inet.tcp.sendspace=1024\n",
		  ":2: [freebsd.sysctl] net.inet.tcp.sendspace (kaon's [tcp] sndbuf): 1024 is out of range" },
		{ "[freebsd.sysctl]\nnet.inet.tcp.msl=forever\n",
		  "[freebsd.sysctl] net.inet.tcp.msl: 'forever' is not a whole number" },
		{ "[dpdk]\nlcore_mask=1\nallow=a\nallow=b\nallow=c\nallow=d\nallow=e,f,g,h,i\n",
		  ":7: [dpdk] allow: more than 8" },
		{ "[dpdk]\nlcore_mask=1\n[port0]\naddr=198.18.0.1\naddr=198.18.0.2\n",
		  ":5: [port0] addr: given twice" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kaon_config c;
		char err[512];
		int rc = load(cases[i].text, &c, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, cases[i].want) || !strstr(err, path)) {
			print_message("case %zu: rc %d, message '%s', wanted '%s'\n", i, rc, err,
				      cases[i].want);
			fail();
		}
		assert_int_equal(c.dpdk.memory_mb, 256); /* nothing half-applied */
	}
}

/* F-Stack's [vdevN] section, as its config.ini shows it (uncommented). */
#define VDEV_FILE(keys)                                                          \
	"[dpdk]\nlcore_mask=1\nport_list=0\nnb_vdev=1\n"                          \
	"[port0]\naddr=198.18.0.2\nnetmask=255.255.255.0\nbroadcast=198.18.0.255\n" \
	"gateway=198.18.0.1\n[vdev0]\n" keys

static void t_vdev_maps(void **s)
{
	(void)s;
	kaon_config c;
	char err[512];
	int rc = load(VDEV_FILE("iface=/usr/local/var/run/openvswitch/vhost-user0\n"
				"path=/var/run/openvswitch/vhost-user0\n"
				"queues=1\nqueue_size=256\nmac=00:00:00:00:00:01\ncq=0\n"),
		      &c, err, sizeof(err));
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c.dpdk.n_vdev, 1);
	assert_string_equal(c.dpdk.vdev[0], "virtio_user0,path=/var/run/openvswitch/vhost-user0,"
					    "queues=1,queue_size=256,mac=00:00:00:00:00:01");
	/* iface: F-Stack stores it and passes it nowhere; kaon says so. */
	assert_non_null(strstr(warnings, ":11: warning: [vdev0] iface: ignored: "));
	char *argv[32], buf[1024];
	int argc = kaon_config_eal_argv(&c, "kaon", argv, 32, buf, sizeof(buf));
	int saw_vdev = 0, saw_nopci = 0;
	for (int i = 0; i < argc; i++) {
		saw_vdev |= !strncmp(argv[i], "--vdev=virtio_user0,path=", 25);
		saw_nopci |= !strcmp(argv[i], "--no-pci");
	}
	assert_true(saw_vdev && saw_nopci);

	/* Only path: nothing else added. Several queues: the control queue F-Stack's
	 * sample says is the default then. */
	assert_int_equal(load(VDEV_FILE("path=/dev/vhost-net\n"), &c, err, sizeof(err)), 0);
	assert_string_equal(c.dpdk.vdev[0], "virtio_user0,path=/dev/vhost-net");
	assert_string_equal(warnings, "");
	assert_int_equal(load(VDEV_FILE("path=/run/vhost0\nqueues=4\n"), &c, err, sizeof(err)), 0);
	assert_string_equal(c.dpdk.vdev[0], "virtio_user0,path=/run/vhost0,queues=4,cq=1");

	/* Two devices, sections in any order; one past nb_vdev is ignored by name. */
	rc = load("[dpdk]\nlcore_mask=1\nnb_vdev=2\n[vdev1]\npath=/run/b\n[vdev0]\npath=/run/a\n"
		  "[vdev2]\npath=/run/c\n", &c, err, sizeof(err));
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c.dpdk.n_vdev, 2);
	assert_string_equal(c.dpdk.vdev[0], "virtio_user0,path=/run/a");
	assert_string_equal(c.dpdk.vdev[1], "virtio_user1,path=/run/b");
	assert_non_null(strstr(warnings, ":9: warning: [vdev2] path: ignored: beyond [dpdk] nb_vdev=2"));
	assert_non_null(strstr(warnings, ":3: warning: [dpdk] nb_vdev: 2 devices: kaon drives"));
}

static void t_vdev_refused(void **s)
{
	(void)s;
	static const struct bad cases[] = {
		{ VDEV_FILE("path=/run/v\nqueue_size=100\n"),
		  ":12: [vdev0] queue_size: 100 is not a power of two" },
		{ VDEV_FILE("path=/run/v\nqueue_size=65536\n"), ":12: [vdev0] queue_size: 65536 is out" },
		{ VDEV_FILE("path=/run/v\nqueues=0\n"), ":12: [vdev0] queues: 0 is out of range" },
		{ VDEV_FILE("path=/run/v\nqueues=2\ncq=0\n"),
		  ":11: [vdev0] cq: 0 with queues=2: virtio_user needs its control queue" },
		{ VDEV_FILE("path=/run/v\ncq=2\n"), ":12: [vdev0] cq: 2 is out of range" },
		{ VDEV_FILE("path=/run/v\nmac=01:00:5e:00:00:01\n"),
		  ":12: [vdev0] mac: '01:00:5e:00:00:01' is not a unicast MAC address" },
		{ VDEV_FILE("path=/run/v\nmac=00:00:00:00:00:00\n"), "[vdev0] mac: '00:00:00:00:00:00'" },
		{ VDEV_FILE("path=/run/v\nmac=0:1:2:3:4:5\n"), "[vdev0] mac: '0:1:2:3:4:5' is not" },
		{ VDEV_FILE("path=/run/v,queues=8\n"), ":11: [vdev0] path: '/run/v,queues=8' is not a path" },
		{ VDEV_FILE("queues=1\n"), ":11: [vdev0] path: missing: virtio_user needs" },
		{ VDEV_FILE("path=/run/v\nqueue_sz=256\n"),
		  ":12: [vdev0] queue_sz: not a key of F-Stack's [vdevN]" },
		{ VDEV_FILE("path=/run/v\npath=/run/w\n"), ":12: [vdev0] path: given twice" },
		{ "[dpdk]\nlcore_mask=1\nnb_vdev=9\n", ":3: [dpdk] nb_vdev: 9 is out of range" },
		{ "[dpdk]\nlcore_mask=1\nnb_vdev=1\nallow=0000:3b:00.0\n[vdev0]\npath=/run/v\n",
		  ":3: [dpdk] nb_vdev: F-Stack starts DPDK with --no-pci" },
		{ "[dpdk]\nlcore_mask=1\nnb_vdev=2\n[vdev0]\npath=/run/v\n",
		  ":3: [dpdk] nb_vdev: 2, but there is no [vdev1] section" },
		{ "[dpdk]\nlcore_mask=1\nnb_vdev=0\n[vdev0]\npath=/run/v\n",
		  ":5: [vdev0] path: [dpdk] nb_vdev must come first" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kaon_config c;
		char err[512];
		int rc = load(cases[i].text, &c, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, cases[i].want)) {
			print_message("case %zu: rc %d, message '%s', wanted '%s'\n", i, rc, err,
				      cases[i].want);
			fail();
		}
		assert_int_equal(c.dpdk.n_vdev, 0); /* nothing half-applied */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sample_maps),
		cmocka_unit_test(t_sample_warns_each_ignored_key),
		cmocka_unit_test(t_mapped_values),
		cmocka_unit_test(t_refused),
		cmocka_unit_test(t_vdev_maps),
		cmocka_unit_test(t_vdev_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
