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

/* A fresh stack at now = 1000 s, timestamps off; @tweak (may be NULL)
 * adjusts the conf before the stack is made. */
void th_setup(void (*tweak)(struct kn_stack_conf *));
/* Destroy it and check that every mbuf went back to the pool. */
int th_teardown(void **st);
/* Advance the clock, run timers, flush. */
void tick(int64_t dt);
/* The peer sends a segment (with TCP options, for the second). */
void peer_send(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
	       uint32_t len);
void peer_send_opts(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		    const uint8_t *opt, uint8_t optlen);
/* The next segment the stack sent, parsed and checksum-checked.
 * @return false if it sent nothing. */
bool take_seg(struct kt_seg *s);

#endif
