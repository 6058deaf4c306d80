/* SPDX-License-Identifier: MIT */
/*
 * kaon's local port range against the kernel's ephemeral ports, in a
 * private network namespace (both sysctls are per namespace).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bif_test.h"
#include "kaon/bif.h"

static void put(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, v, strlen(v)), (ssize_t)strlen(v));
	close(fd);
}

static void get(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap - 1);
	assert_true(n >= 0);
	buf[n] = 0;
	close(fd);
}

#define RANGE "/proc/sys/net/ipv4/ip_local_port_range"
#define RESERVED "/proc/sys/net/ipv4/ip_local_reserved_ports"

static void test_claim(void **state)
{
	char err[256] = "", buf[256];

	(void)state;
	put(RANGE, "32768 60999");
	put(RESERVED, "8080");
	/* Outside the kernel's range: nothing to do. */
	assert_int_equal(kaon_bif_local_ports_claim(61000, 65535, 0, err, sizeof(err)), 0);
	assert_int_equal(kaon_bif_local_ports_claim(1024, 32767, 0, err, sizeof(err)), 0);
	/* Overlap, no permission to reserve: a clear refusal. */
	assert_int_equal(kaon_bif_local_ports_claim(40000, 59999, 0, err, sizeof(err)),
			 -EADDRINUSE);
	assert_non_null(strstr(err, "ip_local_reserved_ports=8080,40000-59999"));
	/* Reserve it: the old reservation stays, the new one is added. */
	assert_int_equal(kaon_bif_local_ports_claim(40000, 59999, 1, err, sizeof(err)), 0);
	get(RESERVED, buf, sizeof(buf));
	assert_string_equal(buf, "8080,40000-59999\n");
	/* Now covered: accepted without writing. */
	assert_int_equal(kaon_bif_local_ports_claim(40000, 59999, 0, err, sizeof(err)), 0);
	assert_int_equal(kaon_bif_local_ports_claim(45000, 45010, 0, err, sizeof(err)), 0);
	assert_int_equal(kaon_bif_local_ports_claim(39999, 45010, 0, err, sizeof(err)),
			 -EADDRINUSE);
	assert_int_equal(kaon_bif_local_ports_claim(5, 4, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(kaon_bif_local_ports_claim(0, 4, 0, err, sizeof(err)), -EINVAL);
}

/* The point of it all: the kernel no longer picks a port kaon owns. */
static void test_kernel_avoids_reserved(void **state)
{
	char err[256] = "";

	(void)state;
	put(RANGE, "40000 40009");
	put(RESERVED, "\n");
	assert_int_equal(kaon_bif_local_ports_claim(40000, 40007, 1, err, sizeof(err)), 0);
	for (int i = 0; i < 20; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t len = sizeof(a);

		assert_true(fd >= 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
		assert_true(ntohs(a.sin_port) >= 40008 && ntohs(a.sin_port) <= 40009);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_kernel_avoids_reserved),
	};
	bif_netns(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
