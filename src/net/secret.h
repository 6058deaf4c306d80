/* Keyed hashes and the stack's secrets: SipHash, keys from getrandom(2),
 * RFC 6056 ephemeral ports, and a keyed generator for small random choices. */
#ifndef KN_SECRET_H
#define KN_SECRET_H

#include <stdbool.h>
#include <stdint.h>

struct kn_stack;

/* One 128-bit SipHash key per use, so that what one use lets an observer
 * learn says nothing about another. */
enum kn_key {
	KN_KEY_ISN,      /* RFC 6528 ISNs */
	KN_KEY_COOKIE,   /* SYN cookies */
	KN_KEY_TS,       /* per-connection timestamp offsets */
	KN_KEY_PORT,     /* RFC 6056 ephemeral ports */
	KN_KEY_IPID,     /* IPv4 ID buckets */
	KN_KEY_ICMP,     /* ICMP error rate-limit buckets */
	KN_KEY_RAND,     /* kn_rand() */
	KN_KEY_MAX
};

struct kn_secrets {
	uint64_t key[KN_KEY_MAX][2];
	uint64_t rand_ctr;
};

/* SipHash-2-4 of @n 64-bit words. */
uint64_t kn_siphash(const uint64_t k[2], const uint64_t *m, unsigned n);

/* Fill the keys: from @master when it is non-zero (tests want the same
 * stack twice), else from getrandom(2). @return 0 or -1 if the kernel has
 * no entropy to give. */
int kn_secrets_init(struct kn_secrets *sc, const uint64_t master[2]);

/* A keyed pseudo-random 64-bit value (SipHash in counter mode): for choices
 * an off-path observer must not predict (port steps, rate-limit budgets). */
uint64_t kn_rand(struct kn_stack *s);

/* RFC 6056 §3.3.4 (algorithm 4, as Linux __inet_hash_connect): a free
 * ephemeral port in conf.eph_port_lo..hi for a flow to @rip:@rport;
 * @busy(s, port, rip, rport) says whether a port is taken. @return 0 if
 * every port is. */
uint16_t kn_eph_port(struct kn_stack *s, uint32_t rip, uint16_t rport,
		     bool (*busy)(struct kn_stack *, uint16_t, uint32_t, uint16_t));

#endif
