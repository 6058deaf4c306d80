/* SPDX-License-Identifier: MIT */
/*
 * Kernel sockets that bifurcation would starve, found through /proc/net of
 * a private network namespace (so only this test's sockets are there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bif_test.h"
#include "kaon/bif.h"

static kaon_config conf(int has_addr)
{
	kaon_config c;

	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_XDP;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 5353;
	c.bif.local_port_lo = 40000;
	c.bif.local_port_hi = 40099;
	c.port0.addr = htonl(0xc6120002);
	c.port0.has_addr = has_addr;
	return c;
}

/* A socket of @p type bound to @p ip:@p port (IPv4 text, or "::" for IPv6). */
static int sock_on(int type, const char *ip, uint16_t port, int do_listen)
{
	int fd, one = 1;

	if (strchr(ip, ':')) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

		fd = socket(AF_INET6, type, 0);
		assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

		fd = socket(AF_INET, type, 0);
		assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	if (do_listen)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static int conflicts(int has_addr, char *err, size_t errlen)
{
	kaon_config c = conf(has_addr);

	err[0] = 0;
	return kaon_bif_kernel_conflicts(&c, err, errlen);
}

static void expect_conflict(int fd, int has_addr, const char *what)
{
	char err[256];

	assert_int_equal(conflicts(has_addr, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, what));
	close(fd);
	assert_int_equal(conflicts(has_addr, err, sizeof(err)), 0);
}

static void test_none(void **state)
{
	char err[256];
	int a = sock_on(SOCK_STREAM, "0.0.0.0", 22, 1), b = sock_on(SOCK_DGRAM, "0.0.0.0", 53, 0);
	int d = sock_on(SOCK_STREAM, "127.0.0.1", 80, 1);
	int e = sock_on(SOCK_STREAM, "198.18.0.3", 80, 1);

	(void)state;
	assert_int_equal(conflicts(1, err, sizeof(err)), 0);
	close(a), close(b), close(d), close(e);
}

static void test_found(void **state)
{
	(void)state;
	expect_conflict(sock_on(SOCK_STREAM, "0.0.0.0", 80, 1), 1, "TCP listening socket is bound to port 80");
	expect_conflict(sock_on(SOCK_STREAM, "198.18.0.2", 80, 1), 1, "port 80");
	expect_conflict(sock_on(SOCK_STREAM, "::", 80, 1), 1, "tcp6");
	expect_conflict(sock_on(SOCK_DGRAM, "0.0.0.0", 5353, 0), 1, "UDP socket is bound to port 5353");
	expect_conflict(sock_on(SOCK_DGRAM, "::", 40050, 0), 1, "port 40050");
	/* A kernel connection from a port in kaon's range (its replies would
	 * go to kaon). A bound, unconnected TCP socket is not listed and
	 * receives nothing anyway. */
	int l = sock_on(SOCK_STREAM, "198.18.0.2", 22, 1), cl, sv;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(22) };

	inet_pton(AF_INET, "198.18.0.2", &to.sin_addr);
	cl = sock_on(SOCK_STREAM, "198.18.0.2", 40099, 0);
	assert_int_equal(connect(cl, (struct sockaddr *)&to, sizeof(to)), 0);
	sv = accept(l, NULL, NULL);
	assert_true(sv >= 0);
	close(l);
	close(sv);
	char err[256];
	assert_int_equal(conflicts(1, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "TCP socket is bound to port 40099"));
	close(cl); /* closing, then gone: no conflict once it is */
	int rc = -EADDRINUSE;
	for (int i = 0; i < 100 && rc != 0; i++) {
		rc = conflicts(1, err, sizeof(err));
		if (rc != 0)
			usleep(10000);
	}
	assert_int_equal(rc, 0);
	/* Without an address filter, any address but loopback is kaon's. */
	expect_conflict(sock_on(SOCK_STREAM, "198.18.0.3", 80, 1), 0, "port 80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_found),
	};
	bif_netns(1);
	if (bif_sh("ip addr add 198.18.0.2/24 dev bif0 && ip addr add 198.18.0.3/24 dev bif0") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
