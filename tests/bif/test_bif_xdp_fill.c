/* SPDX-License-Identifier: MIT */
/*
 * Finding kaon's XDP program on an interface, filling its maps from a
 * config, reading them back; detaching it (and refusing to detach a
 * program that is not kaon's). In a private network namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/if_link.h>
#include <net/if.h>

#include "kaon/bif.h"
#include "kaon_xdp_abi.h"
#include "xdp_test.h"

#define IF "bif0"

static int prog_fd;
static struct bpf_object *obj;

static int ifindex(void)
{
	return (int)if_nametoindex(IF);
}

static uint32_t attached(void)
{
	uint32_t id = 0;

	assert_int_equal(bpf_xdp_query_id(ifindex(), 0, &id), 0);
	return id;
}

static int bit(const struct kaon_xdp_ports *p, unsigned port)
{
	return (p->bits[port >> 3] >> (port & 7)) & 1;
}

static void read_back(struct kaon_xdp_cfg *cfg, struct kaon_xdp_ports *tcp,
		      struct kaon_xdp_ports *udp)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, KAON_XDP_CFG_MAP),
					     &zero, cfg), 0);
	assert_int_equal(bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, KAON_XDP_TCP_MAP),
					     &zero, tcp), 0);
	assert_int_equal(bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, KAON_XDP_UDP_MAP),
					     &zero, udp), 0);
}

static void test_no_program(void **state)
{
	kaon_config c;
	char err[256] = "";

	(void)state;
	kaon_config_defaults(&c);
	assert_int_equal(kaon_bif_xdp_fill("nosuch0", &c, err, sizeof(err)), -ENODEV);
	assert_int_equal(kaon_bif_xdp_fill(IF, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no XDP program"));
	assert_int_equal(kaon_bif_xdp_detach(IF), 0);
	assert_int_equal(kaon_bif_xdp_detach("nosuch0"), -ENODEV);
}

static void test_fill_and_refill(void **state)
{
	static struct kaon_xdp_ports tcp, udp;
	struct kaon_xdp_cfg cfg;
	kaon_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(bpf_xdp_attach(ifindex(), prog_fd, 0, NULL), 0);
	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_XDP;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 65535;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 0;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 5353;
	c.bif.local_port_lo = 61000;
	c.bif.local_port_hi = 65000;
	c.port0.addr = htonl(0xc6120002);
	c.port0.has_addr = 1;
	assert_int_equal(kaon_bif_xdp_fill(IF, &c, err, sizeof(err)), 0);
	read_back(&cfg, &tcp, &udp);
	assert_int_equal(cfg.flags, KAON_XDP_F_ENABLED | KAON_XDP_F_ADDR);
	assert_int_equal(cfg.addr, htonl(0xc6120002));
	assert_int_equal(cfg.local_lo, 61000);
	assert_int_equal(cfg.local_hi, 65000);
	for (unsigned p = 0; p < 65536; p++) {
		assert_int_equal(bit(&tcp, p), p == 80 || p == 65535);
		assert_int_equal(bit(&udp, p), p == 0 || p == 5353);
	}

	/* A second fill replaces the first one entirely. */
	c.bif.n_tcp_ports = 0;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 8080;
	c.bif.n_udp_ports = 0;
	c.port0.has_addr = 0;
	assert_int_equal(kaon_bif_xdp_fill(IF, &c, err, sizeof(err)), 0);
	read_back(&cfg, &tcp, &udp);
	assert_int_equal(cfg.flags, KAON_XDP_F_ENABLED);
	assert_false(bit(&tcp, 80));
	assert_true(bit(&tcp, 8080));
	assert_false(bit(&udp, 5353));

	c.bif.local_port_lo = 2000, c.bif.local_port_hi = 1000;
	assert_int_equal(kaon_bif_xdp_fill(IF, &c, err, sizeof(err)), -EINVAL);
}

static void test_detach(void **state)
{
	(void)state;
	assert_true(attached() != 0);
	assert_int_equal(kaon_bif_xdp_detach(IF), 1);
	assert_int_equal(attached(), 0);
	assert_int_equal(kaon_bif_xdp_detach(IF), 0);
	/* A stale program in generic (skb) mode is found and removed too. */
	assert_int_equal(bpf_xdp_attach(ifindex(), prog_fd, XDP_FLAGS_SKB_MODE, NULL), 0);
	assert_true(attached() != 0);
	assert_int_equal(kaon_bif_xdp_detach(IF), 1);
	assert_int_equal(attached(), 0);
}

/* Someone else's program: not filled, not detached. */
static void test_foreign_program(void **state)
{
	const struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	kaon_config c;
	char err[256] = "";
	int fd;

	(void)state;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "other_prog", "GPL", pass, 2, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_xdp_attach(ifindex(), fd, 0, NULL), 0);
	kaon_config_defaults(&c);
	assert_int_equal(kaon_bif_xdp_fill(IF, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "other_prog"));
	assert_int_equal(kaon_bif_xdp_detach(IF), -EBUSY);
	assert_true(attached() != 0);
	assert_int_equal(bpf_xdp_detach(ifindex(), 0, NULL), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_program),
		cmocka_unit_test(test_fill_and_refill),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_foreign_program),
	};
	int rc;

	bif_netns(1);
	obj = xt_load(&prog_fd);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	bpf_object__close(obj);
	return rc;
}
