/* SPDX-License-Identifier: MIT */
/*
 * Receive-side scaling in software: the Toeplitz hash a NIC computes over a
 * flow's addresses and ports (Microsoft's RSS specification), and the
 * redirection table that turns a hash into a queue. kaon uses it to steer
 * frames a device could not hash to the core that owns their flow, and to
 * pick source ports whose replies the NIC will put on the calling core's
 * queue.
 */
#include "kaon/dpdk.h"

/*
 * 0x6d5a repeated: with this key the hash of (a, b, pa, pb) equals the hash
 * of (b, a, pb, pa), because the key is periodic every 16 bits and the
 * addresses and ports swap on 32- and 16-bit boundaries. Both directions of
 * a connection land on one queue. (Woo and Park, "Scalable TCP session
 * monitoring with symmetric receive-side scaling", 2012.)
 */
const uint8_t kaon_rss_key_sym[KAON_RSS_KEY_MAX] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

uint32_t kaon_toeplitz(const uint8_t *key, unsigned keylen, const uint8_t *data, unsigned len)
{
	/* For each input bit set, XOR in the 32 key bits that start at that
	 * bit's position: v is that window, slid one bit per input bit. */
	uint32_t h = 0;
	uint32_t v = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	for (unsigned i = 0; i < len; i++) {
		uint8_t next = i + 4 < keylen ? key[i + 4] : 0;
		for (int b = 7; b >= 0; b--) {
			if (data[i] & (1u << b))
				h ^= v;
			v = v << 1 | ((next >> b) & 1u);
		}
	}
	return h;
}

uint32_t kaon_rss_hash_tcp4(const uint8_t *key, unsigned keylen, uint32_t sip, uint32_t dip,
			    uint16_t sport, uint16_t dport)
{
	/* The input is the header fields as they are on the wire: source
	 * address, destination address, source port, destination port. */
	uint8_t in[12] = {
		(uint8_t)(sip >> 24), (uint8_t)(sip >> 16), (uint8_t)(sip >> 8), (uint8_t)sip,
		(uint8_t)(dip >> 24), (uint8_t)(dip >> 16), (uint8_t)(dip >> 8), (uint8_t)dip,
		(uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
	};
	return kaon_toeplitz(key, keylen, in, sizeof(in));
}
