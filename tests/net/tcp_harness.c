#include "tcp_harness.h"

#include <string.h>

#include "net/tcp.h"
#include "net/wire.h"

struct kt_cap cap;
struct kn_stack *S;
struct kn_stack_conf conf;
int64_t now;
struct kt_ev lev, cev;
bool th_peer_ts;
uint32_t th_ts_recent;

void th_setup(void (*tweak)(struct kn_stack_conf *))
{
	now = 1000 * KT_SEC;
	memset(&lev, 0, sizeof(lev));
	memset(&cev, 0, sizeof(cev));
	kt_cap_init(&cap, KN_DEV_TX_MULTI_SEG);
	kt_conf(&conf, KT_US_IP);
	th_peer_ts = true;
	th_ts_recent = 0;
	if (tweak)
		tweak(&conf);
	S = kt_stack(&cap, &conf, now);
}

void th_check_states(void)
{
	uint64_t n[KN_TCP_NSTATES] = {0};
	struct kn_tcb *t;
	TAILQ_FOREACH(t, &S->all, all_link)
		n[t->state]++;
	const struct kn_stats *st = kn_stack_stats(S);
	for (int i = 0; i < KN_TCP_NSTATES; i++) {
		if (st->tcp_states[i] != n[i])
			print_message("%s: counted %llu, there are %llu\n",
				      kn_tcp_state_name((enum kn_tcp_state)i),
				      (unsigned long long)st->tcp_states[i], (unsigned long long)n[i]);
		assert_int_equal(st->tcp_states[i], n[i]);
	}
}

int th_teardown(void **st)
{
	(void)st;
	th_check_states();
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

/* The peer's options: @opt, plus a timestamp option (RFC 7323 §3.2) when
 * the peer uses them and @opt has none. @return the length. */
static uint8_t peer_opts(uint8_t flags, const uint8_t *opt, uint8_t optlen, uint8_t out[40])
{
	bool has_ts = false;
	for (uint8_t i = 0; i < optlen;) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1 || i + 1 >= optlen || opt[i + 1] < 2) {
			i++;
			continue;
		}
		has_ts |= opt[i] == 8;
		i = (uint8_t)(i + opt[i + 1]);
	}
	if (optlen)
		memcpy(out, opt, optlen);
	if (!th_peer_ts || has_ts || optlen + 12 > 40)
		return optlen;
	/* The peer's clock ticks in milliseconds; it echoes what it last saw. */
	uint32_t val = (uint32_t)(now / KT_MS) + 7;
	uint32_t ecr = (flags & KN_TH_ACK) ? th_ts_recent : 0;
	uint8_t *o = out + optlen;
	o[0] = o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	for (int i = 0; i < 4; i++) {
		o[4 + i] = (uint8_t)(val >> (24 - 8 * i));
		o[8 + i] = (uint8_t)(ecr >> (24 - 8 * i));
	}
	return (uint8_t)(optlen + 12);
}

void peer_send(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
	       uint32_t len)
{
	uint8_t o[40];
	uint8_t ol = peer_opts(flags, NULL, 0, o);
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = LPORT,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .data = data, .len = len,
			   .opt = o, .optlen = ol};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

void peer_send_opts(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		    const uint8_t *opt, uint8_t optlen)
{
	uint8_t o[40];
	uint8_t ol = peer_opts(flags, opt, optlen, o);
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = PPORT, .dport = LPORT,
			   .seq = seq, .ack = ack, .flags = flags, .win = win, .opt = o, .optlen = ol};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

int th_setup_default(void **st)
{
	(void)st;
	th_setup(NULL);
	return 0;
}

struct kt_seg th_take(void)
{
	struct kt_seg s;
	assert_true(take_seg(&s));
	if (getenv("KT_TRACE"))
		fprintf(stderr, "seg seq=%u ack=%u flags=%#x len=%u win=%u nsack=%u (left %u)\n",
			s.seq, s.ack, s.flags, s.len, s.win, s.nsack, cap.n);
	return s;
}

bool take_seg(struct kt_seg *s)
{
	kn_stack_flush(S);
	struct rte_mbuf *m = kt_cap_take(&cap);
	if (!m)
		return false;
	assert_true(kt_parse_tcp(m, s));
	assert_true(s->csum_ok);
	if (s->has_ts)
		th_ts_recent = s->tsval;
	return true;
}
