/* SPDX-License-Identifier: MIT */
/*
 * End to end through DPDK's af_xdp PMD: kaon's program loaded by the PMD
 * (xdp_prog=), filled by kaon_bif_xdp_fill(), one address shared with the
 * kernel. Two network namespaces of this process's own making: this one
 * (bif0, 198.18.0.2, kernel + DPDK) and a peer's (bif1, 198.18.0.1), made
 * by a forked child with unshare(), so nothing is named and nothing is left
 * behind. Checked:
 * - a program left attached by a killed run is removed first;
 * - TCP to port 80 and UDP to 5353 reach DPDK and not the kernel;
 * - the kernel still answers ping (and ARP) and serves TCP 7000 and UDP
 *   5354 on the same address, content-checked;
 * - after the port is closed, port 80 reaches the kernel again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <linux/if_link.h>
#include <net/if.h>

#include "kaon/bif.h"
#include "xdp_test.h"

#define SRV_IP "198.18.0.2"

static pid_t peer;
static int to_peer = -1, from_peer = -1;

/* ---- the peer, in its own namespace -------------------------------- */

static int peer_tcp(uint16_t port, const char *msg, int want_echo)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 3 };
	char buf[64] = "";
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
	size_t len = strlen(msg);

	inet_pton(AF_INET, SRV_IP, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    send(fd, msg, len, 0) == (ssize_t)len)
		ok = !want_echo || (recv(fd, buf, sizeof(buf), MSG_WAITALL) == (ssize_t)len &&
				    memcmp(buf, msg, len) == 0);
	close(fd);
	return ok;
}

static void peer_udp(uint16_t port, const char *msg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, SRV_IP, &a.sin_addr);
	sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a));
	close(fd);
}

/* A SYN to port 80 that nobody in the kernel will answer. */
static int peer_syn(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, SRV_IP, &a.sin_addr);
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	return fd;
}

static void peer_main(int in, int out)
{
	char c;
	uint8_t res = 0;
	int syn;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWNET) != 0)
		_exit(2);
	c = 'r';
	if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1) /* bif1 set up, DPDK on */
		_exit(3);
	if (system("ping -c 2 -i 0.2 -W 2 -q " SRV_IP " >/dev/null") == 0)
		res |= 1;
	if (peer_tcp(7000, "kernel-7000", 1))
		res |= 2;
	peer_udp(5353, "dpdk-5353");
	peer_udp(5354, "kernel-5354");
	syn = peer_syn(80);
	if (write(out, &res, 1) != 1 || read(in, &c, 1) != 1) /* DPDK gone */
		_exit(4);
	close(syn);
	res = peer_tcp(80, "kernel-80", 1) ? 4 : 0;
	if (write(out, &res, 1) != 1)
		_exit(5);
	_exit(0);
}

static void start_peer(void)
{
	int a[2], b[2];
	char c;

	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	peer = fork();
	assert_true(peer >= 0);
	if (peer == 0) {
		close(a[1]);
		close(b[0]);
		peer_main(a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	to_peer = a[1];
	from_peer = b[0];
	assert_int_equal(read(from_peer, &c, 1), 1);
	assert_int_equal(bif_sh("ip link set bif1 netns %d", (int)peer), 0);
	assert_int_equal(bif_sh("nsenter -t %d -n sh -c 'ip link set lo up && ip link set bif1 up "
				"&& ip addr add 198.18.0.1/24 dev bif1 && "
				"(ethtool -K bif1 tx off >/dev/null 2>&1 || true)'",
				(int)peer), 0);
	assert_int_equal(bif_sh("ip addr add " SRV_IP "/24 dev bif0"), 0);
}

/* ---- kaon's side ----------------------------------------------------- */

static int listen_on(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, SRV_IP, &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* Kind of frame: 80 = TCP to port 80, 5353 = UDP to 5353, 0 = other. */
static int classify(struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t ihl;

	if (m->data_len < 14 + 20 + 4 || p[12] != 0x08 || p[13] != 0x00)
		return 0;
	ihl = (size_t)(p[14] & 0xf) * 4;
	if (m->data_len < 14 + ihl + 4)
		return 0;
	uint16_t dport = (uint16_t)(p[14 + ihl + 2] << 8 | p[14 + ihl + 3]);
	if (p[23] == IPPROTO_TCP && dport == 80)
		return 80;
	if (p[23] == IPPROTO_UDP && dport == 5353)
		return 5353;
	return 0;
}

/* Echo one TCP connection on @p lfd; @return bytes echoed (0 if none yet). */
static int echo_once(int lfd, char *got, size_t cap)
{
	int c = accept4(lfd, NULL, NULL, 0);
	struct timeval tv = { .tv_sec = 2 };
	ssize_t n;

	if (c < 0)
		return 0;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(c, got, cap - 1, 0);
	if (n > 0) {
		got[n] = 0;
		send(c, got, (size_t)n, 0);
	}
	close(c);
	return n > 0 ? (int)n : 0;
}

static uint16_t port_id;

static void test_shared_interface(void **state)
{
	int l7000 = listen_on(SOCK_STREAM, 7000), u5353 = listen_on(SOCK_DGRAM, 5353);
	int u5354 = listen_on(SOCK_DGRAM, 5354), l80;
	int dpdk80 = 0, dpdk5353 = 0, others = 0, peer_res = -1;
	char tcp_got[64] = "", udp_got[64] = "", junk[64];
	struct kaon_bif_xdp_stats st;
	struct timespec t0, t;
	uint8_t r;
	char c = 'g';

	(void)state;
	assert_int_equal(write(to_peer, &c, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf[] = {
			{ .fd = l7000, .events = POLLIN },
			{ .fd = u5354, .events = POLLIN },
			{ .fd = from_peer, .events = POLLIN },
		};
		struct rte_mbuf *m[32];
		uint16_t n = rte_eth_rx_burst(port_id, 0, m, 32);

		for (uint16_t i = 0; i < n; i++) {
			int k = classify(m[i]);

			dpdk80 += k == 80, dpdk5353 += k == 5353, others += k == 0;
			rte_pktmbuf_free(m[i]);
		}
		if (poll(pf, 3, 1) > 0) {
			if (pf[0].revents)
				echo_once(l7000, tcp_got, sizeof(tcp_got));
			if (pf[1].revents) {
				ssize_t k = recv(u5354, udp_got, sizeof(udp_got) - 1, 0);
				udp_got[k > 0 ? k : 0] = 0;
			}
			if (pf[2].revents && read(from_peer, &r, 1) == 1)
				peer_res = r;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (peer_res >= 0 && dpdk80 > 0 && dpdk5353 > 0 && udp_got[0])
			break;
		if (t.tv_sec - t0.tv_sec > 8)
			break;
	}
	assert_int_equal(kaon_bif_xdp_stats("bif0", &st), 0);
	fprintf(stderr, "dpdk: tcp80 %d udp5353 %d other %d; xdp: seen %lu owned %lu "
			"not_ip4 %lu other %lu; peer %d\n",
		dpdk80, dpdk5353, others, (unsigned long)st.seen, (unsigned long)st.owned,
		(unsigned long)st.not_ip4, (unsigned long)st.other, peer_res);
	assert_true(peer_res >= 0);
	assert_true(peer_res & 1);             /* ping: ARP and ICMP by the kernel */
	assert_true(peer_res & 2);             /* kernel TCP 7000, echoed */
	assert_string_equal(tcp_got, "kernel-7000");
	assert_string_equal(udp_got, "kernel-5354");
	assert_true(dpdk80 > 0);               /* the SYN(s) to port 80 */
	assert_int_equal(dpdk5353, 1);
	assert_int_equal(others, 0);           /* DPDK saw only what it owns */
	assert_true(recv(u5353, junk, sizeof(junk), MSG_DONTWAIT) < 0); /* not the kernel's */
	assert_true(st.owned >= 2 && st.not_ip4 >= 1);

	/* Hand-back: closing the port detaches the program (kaon_bif_xdp_detach
	 * for whatever the PMD leaves); then port 80 is the kernel's again. */
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
	assert_true(kaon_bif_xdp_detach("bif0") >= 0);
	uint32_t id = 1;
	assert_int_equal(bpf_xdp_query_id((int)if_nametoindex("bif0"), 0, &id), 0);
	assert_int_equal(id, 0);
	l80 = listen_on(SOCK_STREAM, 80);
	assert_int_equal(write(to_peer, &c, 1), 1);
	tcp_got[0] = 0;
	peer_res = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (peer_res < 0) {
		struct pollfd pf[] = { { .fd = l80, .events = POLLIN },
				       { .fd = from_peer, .events = POLLIN } };

		if (poll(pf, 2, 100) > 0) {
			if (pf[0].revents)
				echo_once(l80, tcp_got, sizeof(tcp_got));
			if (pf[1].revents && read(from_peer, &r, 1) == 1)
				peer_res = r;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 8)
			break;
	}
	assert_int_equal(peer_res, 4);
	assert_string_equal(tcp_got, "kernel-80");
	close(l80), close(l7000), close(u5353), close(u5354);
}

/* As a killed run would leave it: kaon's program attached, nobody home. */
static void leave_stale_program(void)
{
	int fd;
	struct bpf_object *obj = xt_load(&fd);

	assert_int_equal(bpf_xdp_attach((int)if_nametoindex("bif0"), fd, 0, NULL), 0);
	bpf_object__close(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_interface),
	};
	char rundir[256], prefix[64], vdev[512], *argv[16], err[256] = "";
	struct rte_eth_conf pc;
	struct rte_mempool *mp;
	kaon_config c;
	int argc = 0, rc, status;

	bif_netns(1);
	if (access(KAON_XDP_OBJ, R_OK) != 0)
		bif_skip("bpf/kaon_xdp.o was not built");
	start_peer();
	leave_stale_program();
	if (kaon_bif_xdp_detach("bif0") != 1) {
		fprintf(stderr, "the stale program was not removed\n");
		return 1;
	}

	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-bif-%d", (int)getpid());
	snprintf(vdev, sizeof(vdev), "--vdev=net_af_xdp0,iface=bif0,xdp_prog=%s", KAON_XDP_OBJ);
	argv[argc++] = "test_bif_afxdp";
	argv[argc++] = "--no-huge";
	argv[argc++] = "-m";
	argv[argc++] = "256";
	argv[argc++] = prefix;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--log-level=3";
	argv[argc++] = vdev;
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0)
		bif_skip("DPDK's EAL did not start");
	if (rte_eth_dev_get_port_by_name("net_af_xdp0", &port_id) != 0)
		bif_skip("the af_xdp PMD did not make a port");
	mp = rte_pktmbuf_pool_create("bif", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	memset(&pc, 0, sizeof(pc));
	if (!mp || rte_eth_dev_configure(port_id, 1, 1, &pc) != 0 ||
	    rte_eth_rx_queue_setup(port_id, 0, 1024, 0, NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup(port_id, 0, 1024, 0, NULL) != 0 ||
	    rte_eth_dev_start(port_id) != 0) {
		fprintf(stderr, "af_xdp port set-up failed\n");
		return 1;
	}
	kaon_config_defaults(&c);
	c.bif.mode = KAON_BIF_XDP;
	c.bif.tcp_ports[c.bif.n_tcp_ports++] = 80;
	c.bif.udp_ports[c.bif.n_udp_ports++] = 5353;
	inet_pton(AF_INET, SRV_IP, &c.port0.addr);
	c.port0.has_addr = 1;
	if (kaon_bif_xdp_fill("bif0", &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "kaon_bif_xdp_fill: %s\n", err);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	bif_rm_tree(rundir);
	kill(peer, SIGKILL);
	waitpid(peer, &status, 0);
	return rc;
}
