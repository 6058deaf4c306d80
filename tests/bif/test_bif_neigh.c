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

static struct kaon_bif_neigh_stats cache_stats(struct kaon_bif_neigh_cache *c)
{
	struct kaon_bif_neigh_stats st;

	kaon_bif_neigh_cache_stats(c, &st);
	return st;
}

/* The cache follows the kernel's table by its notifications: after the one
 * dump at open, no other dump is needed to see entries come, change and go. */
static void test_cache_follows_events(void **state)
{
	struct kaon_bif_neigh_cache *c;
	uint8_t mac[6];
	struct kaon_bif_neigh_stats st;

	(void)state;
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.20 lladdr 02:aa:00:00:00:20 dev bif0 nud permanent"), 0);
	assert_int_equal(kaon_bif_neigh_cache_open(&c, "nosuch0"), -ENODEV);
	assert_int_equal(kaon_bif_neigh_cache_open(&c, "bif0"), 0);
	/* From the initial dump. */
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.20"), mac), 0);
	assert_int_equal(mac[5], 0x20);
	/* Added, changed, made stale, failed, deleted: all seen as events. */
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.21 lladdr 02:aa:00:00:00:21 dev bif0 nud reachable"), 0);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.21"), mac), 0);
	assert_int_equal(mac[5], 0x21);
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.21 lladdr 02:aa:00:00:00:99 dev bif0 nud permanent"), 0);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.21"), mac), 0);
	assert_int_equal(mac[5], 0x99);
	assert_int_equal(bif_sh("ip neigh del 198.18.0.21 dev bif0"), 0);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.21"), mac), -ENOENT);
	/* Another interface's entries are not bif0's. */
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.22 lladdr 02:aa:00:00:00:22 dev bif1 nud permanent"), 0);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.22"), mac), -ENOENT);
	st = cache_stats(c);
	assert_int_equal(st.dumps, 1);
	assert_true(st.events >= 4);
	assert_int_equal(st.overruns, 0);
	/* Polling with nothing queued reads nothing and never waits. */
	assert_int_equal(kaon_bif_neigh_cache_poll(c), 0);
	kaon_bif_neigh_cache_close(c);
}

/* A miss asks the kernel once (not on every lookup) and the answer arrives
 * as a notification; a hit on a STALE entry asks for re-confirmation. */
static void test_cache_resolves(void **state)
{
	struct kaon_bif_neigh_cache *c;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct kaon_bif_neigh_stats st;
	uint8_t mac[6], want[6];
	int rc = -ENOENT;

	(void)state;
	mac_of("bif1", want);
	assert_int_equal(kaon_bif_neigh_cache_open(&c, "bif0"), 0);
	/* Nobody has .9: asked for once, then not again within the second. */
	for (int i = 0; i < 50; i++)
		assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.9"), mac), -ENOENT);
	st = cache_stats(c);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.limited, 49);
	/* bif1 has .3: the kernel ARPs, and its answer comes as an event (on a
	 * veth pair it may already be there at the next lookup). */
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.3"), mac), -ENOENT);
	assert_int_equal(cache_stats(c).requests, 2);
	for (int i = 0; i < 200 && rc == -ENOENT; i++) {
		nanosleep(&ts, NULL);
		rc = kaon_bif_neigh_cache_lookup(c, ip("198.18.0.3"), mac);
	}
	assert_int_equal(rc, 0);
	assert_memory_equal(mac, want, 6);
	st = cache_stats(c);
	assert_int_equal(st.dumps, 1);
	assert_true(st.requests <= 3); /* once, and once more after a second at most */
	/* Broadcast and multicast are never asked for. */
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("224.0.0.1"), mac), -ENOENT);
	assert_int_equal(cache_stats(c).requests, st.requests);
	/* STALE: usable, and the kernel is asked to confirm it. */
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.23 lladdr 02:aa:00:00:00:23 dev bif0 nud stale"), 0);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.23"), mac), 0);
	assert_int_equal(mac[5], 0x23);
	assert_int_equal(cache_stats(c).requests, st.requests + 1);
	kaon_bif_neigh_cache_close(c);
}

/* More notifications than the socket buffer holds between two reads: the
 * cache notices the loss (ENOBUFS) and reads the whole table again. */
static void test_cache_overrun_dumps_again(void **state)
{
	struct kaon_bif_neigh_cache *c;
	struct kaon_bif_neigh_stats st;
	uint8_t mac[6];
	FILE *f;

	(void)state;
	assert_int_equal(kaon_bif_neigh_cache_open(&c, "bif0"), 0);
	assert_true(kaon_bif_neigh_cache_poll(c) > 0); /* the initial dump */
	f = fopen("/tmp/kaon-bif-neigh.batch", "w");
	assert_non_null(f);
	/* 3,000 events on 200 addresses of the test range (each replace
	 * changes the MAC): enough to overrun the socket's buffer. */
	for (int i = 0; i < 3000; i++)
		fprintf(f, "neigh replace 198.18.0.%d lladdr 02:bb:00:00:%02x:%02x dev bif0 nud permanent\n",
			10 + i % 200, i / 256, i % 256);
	fclose(f);
	assert_int_equal(bif_sh("ip -batch /tmp/kaon-bif-neigh.batch"), 0);
	remove("/tmp/kaon-bif-neigh.batch");
	while (kaon_bif_neigh_cache_poll(c) > 0)
		;
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.10"), mac), 0); /* 2800 */
	assert_int_equal(mac[4], 10);
	assert_int_equal(mac[5], 240);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.209"), mac), 0); /* 2999 */
	assert_int_equal(mac[4], 11);
	assert_int_equal(mac[5], 183);
	st = cache_stats(c);
	assert_true(st.overruns >= 1);
	assert_int_equal(st.dumps, 1 + st.overruns);
	assert_true(st.entries >= 200);
	kaon_bif_neigh_cache_close(c);
	assert_int_equal(bif_sh("ip neigh flush dev bif0 to 198.18.0.0/24 nud permanent"), 0);
}

/* Lookups for thousands of addresses that get no answer: the table makes
 * room by dropping unresolved entries, and the resolved ones stay. (Multicast
 * addresses, which are never asked for: the kernel's ARP table is shared by
 * every namespace on the machine, and a real flood of requests would fill
 * it for everyone.) */
static void test_cache_flood_keeps_resolved(void **state)
{
	struct kaon_bif_neigh_cache *c;
	struct kaon_bif_neigh_stats st;
	uint8_t mac[6];

	(void)state;
	assert_int_equal(bif_sh("ip neigh replace 198.18.0.30 lladdr 02:aa:00:00:00:30 dev bif0 nud permanent"), 0);
	assert_int_equal(kaon_bif_neigh_cache_open(&c, "bif0"), 0);
	for (uint32_t i = 0; i < 10000; i++)
		assert_int_equal(kaon_bif_neigh_cache_lookup(c, htonl(0xe8000000u + i), mac), -ENOENT);
	st = cache_stats(c);
	assert_int_equal(st.requests, 0);
	assert_true(st.purges >= 3);
	assert_int_equal(kaon_bif_neigh_cache_lookup(c, ip("198.18.0.30"), mac), 0);
	assert_int_equal(mac[5], 0x30);
	kaon_bif_neigh_cache_close(c);
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
		cmocka_unit_test(test_cache_follows_events),
		cmocka_unit_test(test_cache_resolves),
		cmocka_unit_test(test_cache_overrun_dumps_again),
		cmocka_unit_test(test_cache_flood_keeps_resolved),
	};
	bif_netns(1);
	/* Both ends live in this one namespace: an ARP request from a local
	 * address is dropped unless accept_local says otherwise. */
	if (bif_sh("sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.bif1.accept_local=1") != 0 ||
	    bif_sh("ip addr add 198.18.0.2/24 dev bif0 && ip addr add 198.18.0.1/24 dev bif1 && ip addr add 198.18.0.3/24 dev bif1") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
