/* SPDX-License-Identifier: MIT */
/*
 * Reading and driving the kernel's neighbour table over rtnetlink, in a
 * private network namespace: bif0 (198.18.0.2) <-> bif1 (198.18.0.1), both
 * ends in the one namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "bif_test.h"
#include "kaon/bif.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* By ioctl: /sys/class/net shows the namespace sysfs was mounted in. */
static void mac_of(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	assert_int_equal(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

static void test_lookup(void **state)
{
	const uint8_t want[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x07 };
	uint8_t mac[6] = { 0 };

	(void)state;
	assert_int_equal(kaon_bif_neigh_lookup("bif0", ip("198.18.0.7"), mac), -ENOENT);
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.7 lladdr 02:aa:bb:cc:dd:07 dev bif0 nud permanent"), 0);
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.8 lladdr 02:aa:bb:cc:dd:08 dev bif0 nud stale"), 0);
	assert_int_equal(kaon_bif_neigh_lookup("bif0", ip("198.18.0.7"), mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(kaon_bif_neigh_lookup("bif0", ip("198.18.0.8"), mac), 0);
	assert_int_equal(mac[5], 0x08);
	/* The entry belongs to bif0 only. */
	assert_int_equal(kaon_bif_neigh_lookup("bif1", ip("198.18.0.7"), mac), -ENOENT);
	assert_int_equal(kaon_bif_neigh_lookup("nosuch0", ip("198.18.0.7"), mac), -ENODEV);
	/* A failed entry is no answer. */
	assert_int_equal(bif_sh("ip neigh del 198.18.0.7 dev bif0"), 0);
	assert_int_equal(kaon_bif_neigh_lookup("bif0", ip("198.18.0.7"), mac), -ENOENT);
}

static void test_resolve(void **state)
{
	uint8_t mac[6], want[6];
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int rc = -ENOENT;

	(void)state;
	mac_of("bif1", want);
	assert_int_equal(kaon_bif_neigh_lookup("bif0", ip("198.18.0.1"), mac), -ENOENT);
	assert_int_equal(kaon_bif_neigh_resolve("bif0", ip("198.18.0.1")), 0);
	/* The kernel sends an ARP request; bif1 answers it. */
	for (int i = 0; i < 200 && rc == -ENOENT; i++) {
		nanosleep(&ts, NULL);
		rc = kaon_bif_neigh_lookup("bif0", ip("198.18.0.1"), mac);
	}
	assert_int_equal(rc, 0);
	assert_memory_equal(mac, want, 6);
	/* Asking again for a known neighbour is harmless. */
	assert_int_equal(kaon_bif_neigh_resolve("bif0", ip("198.18.0.1")), 0);
	assert_int_equal(kaon_bif_neigh_lookup("bif0", ip("198.18.0.1"), mac), 0);
}

static void test_resolve_errors(void **state)
{
	(void)state;
	assert_int_equal(kaon_bif_neigh_resolve("bif0", 0), -EINVAL);
	assert_int_equal(kaon_bif_neigh_resolve("bif0", ip("255.255.255.255")), -EINVAL);
	assert_int_equal(kaon_bif_neigh_resolve("bif0", ip("224.0.0.1")), -EINVAL);
	assert_int_equal(kaon_bif_neigh_resolve("nosuch0", ip("198.18.0.1")), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_resolve_errors),
	};
	bif_netns(1);
	/* Both ends live in this one namespace: an ARP request from a local
	 * address is dropped unless accept_local says otherwise. */
	if (bif_sh("sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.bif1.accept_local=1") != 0 ||
	    bif_sh("ip addr add 198.18.0.2/24 dev bif0 && ip addr add 198.18.0.1/24 dev bif1") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
