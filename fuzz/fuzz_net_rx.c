/* libFuzzer target: kaon's receive path from the Ethernet frame up.
 * Build: clang -fsanitize=fuzzer,address (see fuzz/CMakeLists.txt). Every
 * input runs against a fresh stack; at the end every mbuf must be back in
 * the pool. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <kaon/net.h>

#include "fuzz_common.h"

#define POOL_N 4096

static struct rte_mempool *pool;

static uint16_t dev_tx(struct kn_dev *d, struct rte_mbuf **p, uint16_t n)
{
	(void)d;
	for (uint16_t i = 0; i < n; i++)
		rte_pktmbuf_free(p[i]);
	return n;
}

static uint16_t dev_rx(struct kn_dev *d, struct rte_mbuf **p, uint16_t n)
{
	(void)d;
	(void)p;
	(void)n;
	return 0;
}

static const struct kn_dev_ops ops = {.rx_burst = dev_rx, .tx_burst = dev_tx};

static void on_event(void *user, unsigned ev, int err)
{
	(void)user;
	(void)ev;
	(void)err;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=kaon-fuzz-%d", (int)getpid());
	char *eal[] = {"fuzz", "--no-huge", "-m", "256", "--no-pci", prefix, "--log-level=error",
		       "--no-telemetry", "-l", "0", NULL};
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "fuzz: EAL init failed\n");
		exit(1);
	}
	pool = rte_pktmbuf_pool_create("fuzz", POOL_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool)
		exit(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kn_dev dev = {.ops = &ops, .mtu = 1500, .offloads = KN_DEV_TX_MULTI_SEG};
	memcpy(dev.mac, fz_us_mac, 6);
	struct kn_stack_conf c;
	kn_stack_conf_default(&c);
	c.ip = FZ_US_IP;
	c.netmask = 0xffffff00u;
	c.gateway = 0xc61200feu;
	c.isn_secret[0] = 1;
	c.isn_secret[1] = 2;
	c.event = on_event;
	c.frag_max_datagrams = 4;
	c.frag_max_bytes = 64 * 1024;
	c.tcp.ooo_max = 8;
	struct kn_static_arp sa = {.ip = FZ_PEER_IP};
	memcpy(sa.mac, fz_peer_mac, 6);
	c.static_arp = &sa;
	c.n_static_arp = 1;
	int64_t now = 1000000000000LL;
	int err;
	struct kn_stack *s = kn_stack_create(&c, &dev, pool, now, &err);
	if (!s)
		abort();
	struct kn_tcb *l = kn_tcp_listen(s, 80, 4, NULL, &err);
	struct kn_udp *u = kn_udp_bind(s, 53, NULL, &err);
	struct kn_tcb *a = kn_tcp_connect(s, FZ_PEER_IP, 80, 1025, NULL, &err);
	kn_stack_flush(s);

	size_t off = 0;
	while (off + 3 <= size) {
		uint32_t len = (uint32_t)(data[off] | data[off + 1] << 8) & 0x7ff;
		uint8_t ctl = data[off + 2];
		off += 3;
		if (len > size - off)
			len = (uint32_t)(size - off);
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (!m)
			abort();
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
		if (!p) {
			rte_pktmbuf_free(m);
			break;
		}
		memcpy(p, data + off, len);
		if (ctl & FZ_CTL_FIXCSUM)
			fz_fix_checksums(p, len);
		off += len;
		if (ctl >> 4)
			now += (1LL << (ctl >> 4)) * 1000000LL;
		kn_stack_input(s, m, now);
		kn_stack_timers(s, now);
		kn_stack_flush(s);
		/* Drain what the application would read; answer sometimes. */
		char buf[512];
		struct kn_tcb *t;
		while (l && (t = kn_tcp_accept(l, NULL)) != NULL) {
			(void)kn_tcp_recv(t, buf, sizeof(buf));
			if (ctl & 0x02)
				(void)kn_tcp_send(t, "reply", 5);
			if (ctl & 0x04)
				kn_tcp_close(t);
			else
				kn_tcp_abort(t);
		}
		if (a && kn_tcp_get_state(a) == KN_TCP_CLOSED) {
			kn_tcp_close(a);
			a = NULL;
		} else if (a) {
			(void)kn_tcp_recv(a, buf, sizeof(buf));
			if (ctl & 0x08)
				(void)kn_tcp_send(a, "data", 4);
		}
		if (u)
			(void)kn_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL);
		kn_stack_flush(s);
	}
	/* Let every timer run out, then tear down. */
	for (int i = 0; i < 4; i++) {
		now += 100LL * 1000000000LL;
		kn_stack_timers(s, now);
		kn_stack_flush(s);
	}
	kn_stack_destroy(s);
	if (rte_mempool_avail_count(pool) != POOL_N) {
		fprintf(stderr, "fuzz: mbuf leak: %u of %u back\n", rte_mempool_avail_count(pool), POOL_N);
		abort();
	}
	return 0;
}
