/* The stack's secrets (getrandom(2), never rte_rand(), whose state DPDK
 * seeds from 32 bits), SipHash, and the choices made with them. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "net_int.h"
#include "secret.h"

/* SipHash-2-4 (Aumasson & Bernstein) over whole 64-bit words. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);      \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);      \
	} while (0)

uint64_t kn_siphash(const uint64_t k[2], const uint64_t *m, unsigned n)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	for (unsigned i = 0; i <= n; i++) {
		uint64_t w = i < n ? m[i] : (uint64_t)(8 * n) << 56;
		v3 ^= w;
		SIPROUND;
		SIPROUND;
		v0 ^= w;
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int kn_secrets_init(struct kn_secrets *sc, const uint64_t master[2])
{
	memset(sc, 0, sizeof(*sc));
	if (master[0] || master[1]) {
		/* Derived, one key per use: the ISN key stays the master so that
		 * a configured secret gives the ISNs it always gave. */
		for (unsigned i = 0; i < KN_KEY_MAX; i++) {
			uint64_t in[2] = {0x6b616f6e2d6b6579ULL, i}; /* "kaon-key" */
			sc->key[i][0] = i == KN_KEY_ISN ? master[0] : kn_siphash(master, in, 2);
			in[1] |= 1ULL << 32;
			sc->key[i][1] = i == KN_KEY_ISN ? master[1] : kn_siphash(master, in, 2);
		}
		return 0;
	}
	uint8_t *p = (uint8_t *)sc->key;
	size_t want = sizeof(sc->key), got = 0;
	while (got < want) {
		ssize_t n = getrandom(p + got, want - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

uint64_t kn_rand(struct kn_stack *s)
{
	uint64_t c = s->sec.rand_ctr++;
	return kn_siphash(s->sec.key[KN_KEY_RAND], &c, 1);
}

uint16_t kn_eph_port(struct kn_stack *s, uint32_t rip, uint16_t rport,
		     bool (*busy)(struct kn_stack *, uint16_t, uint32_t, uint16_t))
{
	uint32_t lo = s->conf.eph_port_lo, hi = s->conf.eph_port_hi;
	if (lo == 0 || hi < lo) {
		lo = 49152;
		hi = 65535;
	}
	uint32_t num = hi - lo + 1;
	uint32_t offset, *perturb;
	if (rip == 0) {
		/* No destination yet (a UDP bind): a random start, as Linux
		 * udp_lib_get_port. */
		offset = (uint32_t)kn_rand(s);
		perturb = NULL;
	} else {
		/* F(local addr, remote addr, remote port, secret) picks where a
		 * destination's sequence starts; G() picks its counter. */
		uint64_t m[2] = {(uint64_t)s->conf.ip << 32 | rip, rport};
		uint64_t h = kn_siphash(s->sec.key[KN_KEY_PORT], m, 2);
		offset = (uint32_t)h;
		perturb = &s->eph_perturb[(h >> 32) % KN_EPH_TABLE];
	}
	uint32_t base = offset + (perturb ? *perturb : 0);
	for (uint32_t i = 0; i < num; i++) {
		uint16_t port = (uint16_t)(lo + (base + i) % num);
		if (busy(s, port, rip, rport))
			continue;
		/* Several stacks share the port: only a port whose replies
		 * come back to this one (not for UDP binds: no peer yet). */
		if (rip && s->conf.eph_ok && !s->conf.eph_ok(s->conf.eph_arg, rip, rport, port))
			continue;
		/* Step past it by a small random amount so that consecutive
		 * ports to one destination are not consecutive numbers (Linux
		 * 5.17+: "tcp: add small random increments to the source port"). */
		if (perturb)
			*perturb += i + 1 + (uint32_t)(kn_rand(s) & 7);
		return port;
	}
	return 0;
}
