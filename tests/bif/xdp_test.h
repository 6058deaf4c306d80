/* SPDX-License-Identifier: MIT */
/* Loading kaon's XDP object and crafting frames for BPF_PROG_TEST_RUN. */
#ifndef KAON_BIF_XDP_TEST_H
#define KAON_BIF_XDP_TEST_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bif_test.h"

/* Open and load bpf/kaon_xdp.o; skips the test process if it is missing or
 * the kernel refuses it (the message says why). */
static inline struct bpf_object *xt_load(int *prog_fd)
{
	struct bpf_object *obj;
	struct bpf_program *p;

	if (access(KAON_XDP_OBJ, R_OK) != 0)
		bif_skip("bpf/kaon_xdp.o was not built (clang missing?)");
	obj = bpf_object__open_file(KAON_XDP_OBJ, NULL);
	if (!obj)
		bif_skip("cannot open " KAON_XDP_OBJ);
	if (bpf_object__load(obj) != 0) {
		fprintf(stderr, "the kernel refused %s (verifier log above)\n", KAON_XDP_OBJ);
		exit(1);
	}
	p = bpf_object__find_program_by_name(obj, "kaon_xdp");
	if (!p)
		exit(1);
	*prog_fd = bpf_program__fd(p);
	return obj;
}

struct xt_ip {
	uint8_t proto;
	uint32_t dst;       /* network order */
	uint16_t dport;
	int opt_words;      /* IP options, 4-byte words (0..10) */
	uint16_t frag_off;  /* host order: flags + offset */
	uint32_t src;       /* network order; 0: 198.18.0.1 */
	uint16_t id;        /* host order */
	uint16_t sport;     /* 0: 40000 */
};

/* Ethernet + IPv4 (+ options) + TCP (20) or UDP (8) header. @return length. */
static inline size_t xt_ip4(uint8_t *b, const struct xt_ip *p)
{
	size_t ihl = 5 + (size_t)p->opt_words, l4 = p->proto == IPPROTO_UDP ? 8 : 20;
	uint8_t *ip = b + 14, *th = ip + ihl * 4;
	uint16_t tot = (uint16_t)(ihl * 4 + l4), v;
	uint32_t src = p->src ? p->src : htonl(0xc6120001); /* 198.18.0.1 */

	memset(b, 0, 14 + tot);
	memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	ip[0] = (uint8_t)(0x40 | ihl);
	v = htons(tot);
	memcpy(ip + 2, &v, 2);
	v = htons(p->id);
	memcpy(ip + 4, &v, 2);
	v = htons(p->frag_off);
	memcpy(ip + 6, &v, 2);
	ip[8] = 64;
	ip[9] = p->proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &p->dst, 4);
	memset(ip + 20, 1, (size_t)p->opt_words * 4); /* NOP options */
	v = htons(p->sport ? p->sport : 40000);
	memcpy(th, &v, 2);
	v = htons(p->dport);
	memcpy(th + 2, &v, 2);
	return 14 + tot;
}

/*
 * An ICMP message of @p type/@p code from 198.18.0.1 to @p to, quoting the
 * datagram @p q (its IP header and 8 bytes of what follows, as RFC 792
 * asks); @p quote_l4 cuts the quoted transport bytes shorter. @return length.
 */
static inline size_t xt_icmp(uint8_t *b, uint32_t to, uint8_t type, uint8_t code,
			     const struct xt_ip *q, size_t quote_l4)
{
	uint8_t inner[128];
	size_t qihl = 5 + (size_t)q->opt_words, qlen = qihl * 4 + quote_l4;
	uint16_t tot = (uint16_t)(20 + 8 + qlen), v;
	uint32_t src = htonl(0xc6120001);
	uint8_t *ip = b + 14, *ic = ip + 20;

	(void)xt_ip4(inner, q);
	memset(b, 0, 14 + tot);
	memcpy(b, inner, 14);
	ip[0] = 0x45;
	v = htons(tot);
	memcpy(ip + 2, &v, 2);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &to, 4);
	ic[0] = type;
	ic[1] = code;
	memcpy(ic + 8, inner + 14, qlen);
	return 14 + tot;
}

/* Run @p prog_fd once on the frame; @return the XDP action. */
static inline int xt_run(int prog_fd, const void *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = 1);
	int rc = bpf_prog_test_run_opts(prog_fd, &o);

	if (rc != 0) {
		fprintf(stderr, "BPF_PROG_TEST_RUN: %d (%s)\n", rc, strerror(-rc));
		return -1;
	}
	return (int)o.retval;
}

#endif
