/* One stack under test, the test playing its TCP peer segment by segment on
 * a fake clock: what test_net_tcp*.c share. The state is global so the
 * tests read like the protocol they check (S, now, cap). */
#ifndef KAON_TESTS_TCP_HARNESS_H
#define KAON_TESTS_TCP_HARNESS_H

#include <stdbool.h>

#include "net_test.h"

#define PPORT 40000 /* the peer's port */
#define LPORT 80    /* ours */

extern struct kt_cap cap;          /* what the stack sends */
extern struct kn_stack *S;
extern struct kn_stack_conf conf;
extern int64_t now;
extern struct kt_ev lev, cev;      /* listener and connection events */
/* The peer adds a timestamp option to every segment it sends (unless the
 * options given already hold one), as Linux does; th_setup turns it on.
 * th_ts_recent: the last TSval the stack sent (take_seg records it). */
extern bool th_peer_ts;
extern uint32_t th_ts_recent;

/* A fresh stack at now = 1000 s with the default conf (timestamps on, as
 * Linux peers use them); @tweak (may be NULL)
 * adjusts the conf before the stack is made. */
void th_setup(void (*tweak)(struct kn_stack_conf *));
/* The stack's per-state gauges (kn_stats.tcp_states) match its TCBs. */
void th_check_states(void);
/* Destroy it (th_check_states first) and check that every mbuf went back to the pool. */
int th_teardown(void **st);
/* cmocka setup: th_setup(NULL). */
int th_setup_default(void **st);
/* Advance the clock, run timers, flush. */
void tick(int64_t dt);
/* The peer sends a segment (with TCP options, for the second), with a
 * timestamp option when th_peer_ts. */
void peer_send(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
	       uint32_t len);
void peer_send_opts(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		    const uint8_t *opt, uint8_t optlen);
/* The next segment the stack sent, parsed and checksum-checked.
 * @return false if it sent nothing. */
bool take_seg(struct kt_seg *s);
/* The next segment, which must be there (KT_TRACE=1 prints each). */
struct kt_seg th_take(void);

#endif
