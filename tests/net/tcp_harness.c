#include "tcp_harness.h"

#include <string.h>

struct kt_cap cap;
struct kn_stack *S;
struct kn_stack_conf conf;
int64_t now;
struct kt_ev lev, cev;

void th_setup(void (*tweak)(struct kn_stack_conf *))
{
	now = 1000 * KT_SEC;
	memset(&lev, 0, sizeof(lev));
	memset(&cev, 0, sizeof(cev));
	kt_cap_init(&cap, KN_DEV_TX_MULTI_SEG);
	kt_conf(&conf, KT_US_IP);
	conf.tcp.timestamps = false; /* most tests read plain headers */
	if (tweak)
		tweak(&conf);
	S = kt_stack(&cap, &conf, now);
}

int th_teardown(void **st)
{
	(void)st;
	kn_stack_destroy(S);
	kt_cap_clear(&cap);
	kt_assert_no_leak();
	return 0;
}

void tick(int64_t dt)
{
	now += dt;
	kn_stack_timers(S, now);
	kn_stack_flush(S);
}

void peer_send(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
	       uint32_t len)
{
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = LPORT,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .data = data, .len = len};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

void peer_send_opts(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		    const uint8_t *opt, uint8_t optlen)
{
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = LPORT,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .opt = opt, .optlen = optlen};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

bool take_seg(struct kt_seg *s)
{
	kn_stack_flush(S);
	struct rte_mbuf *m = kt_cap_take(&cap);
	if (!m)
		return false;
	assert_true(kt_parse_tcp(m, s));
	assert_true(s->csum_ok);
	return true;
}
