/* Ethernet II: demultiplex by EtherType, prepend headers on output. */
#include <string.h>

#include "net_int.h"

static const uint8_t bcast[KN_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static inline bool mac_eq(const uint8_t *a, const uint8_t *b)
{
	uint32_t a4, b4;
	uint16_t a2, b2;
	memcpy(&a4, a, 4);
	memcpy(&b4, b, 4);
	memcpy(&a2, a + 4, 2);
	memcpy(&b2, b + 4, 2);
	return ((a4 ^ b4) | (uint32_t)(a2 ^ b2)) == 0;
}

static __attribute__((noinline)) void eth_input_full(struct kn_stack *s, struct rte_mbuf *m)
{
	s->st.eth_rx++;
	if (KN_UNLIKELY(kn_pullup(m, sizeof(struct kn_eth_hdr)) != 0)) {
		kn_drop(s, m, KN_DROP_ETH_TRUNCATED);
		return;
	}
	const struct kn_eth_hdr *eh = rte_pktmbuf_mtod(m, const struct kn_eth_hdr *);
	if (KN_UNLIKELY(!mac_eq(eh->dst, s->mac) && !mac_eq(eh->dst, bcast))) {
		kn_drop(s, m, KN_DROP_ETH_NOT_FOR_US);
		return;
	}
	uint16_t type = rte_be_to_cpu_16(eh->type);
	kn_adj_pulled(m, sizeof(struct kn_eth_hdr));
	if (KN_LIKELY(type == KN_ETHERTYPE_IP4))
		kn_ip4_input(s, m);
	else if (type == KN_ETHERTYPE_ARP)
		kn_arp_input(s, m);
	else
		kn_drop(s, m, KN_DROP_ETH_UNKNOWN_TYPE);
}

/* The common frame first: IPv4 to our address, its header in the first
 * segment; no frame to set up on the way to kn_ip4_input. */
void kn_eth_input(struct kn_stack *s, struct rte_mbuf *m)
{
	const struct kn_eth_hdr *eh = rte_pktmbuf_mtod(m, const struct kn_eth_hdr *);
	if (KN_LIKELY(m->data_len >= sizeof(*eh) && mac_eq(eh->dst, s->mac) &&
		      eh->type == rte_cpu_to_be_16(KN_ETHERTYPE_IP4))) {
		s->st.eth_rx++;
		kn_adj_pulled(m, sizeof(*eh));
		kn_ip4_input(s, m);
		return;
	}
	eth_input_full(s, m);
}
