/* SACK (RFC 2018, D-SACK RFC 2883) and RFC 6675 loss recovery, segment by
 * segment on a fake clock: SACK-permitted negotiated on SYN and SYN-ACK
 * (cookies too); the blocks we send for out-of-order data, most recent
 * first, and D-SACK for duplicates; hostile blocks ignored and counted;
 * recovery of three losses in one window within one round trip, partial
 * ACKs, an RTO after a lost retransmission, reordering without a spurious
 * retransmission, NewReno without SACK.
 *
 * Some checks read the TCB (flags, scoreboard), as test_net_tcp_cc does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_harness.h"
#include "net/tcp.h"
#include "net/wire.h"

#define PISN 7000000u
/* Data per full segment: MSS 1460 less the timestamp option. */
#define SMSS (1460 - 12)
#define WIN 65535

/* MSS 1460, SACK permitted. */
static const uint8_t syn_sack[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
/* MSS 1460 only. */
static const uint8_t syn_nosack[] = {2, 4, 0x05, 0xb4};

static uint8_t data[256 * 1024];

/* RFC 6675 §5 cuts the window to half the flight, RFC 5681's rule: the
 * windows these tests expect are NewReno's (CUBIC's β = 0.7 is
 * test_net_cubic's). */
static void newreno(struct kn_stack_conf *c)
{
	c->tcp.cc = KN_TCP_CC_NEWRENO;
}

static int setup_newreno(void **st)
{
	(void)st;
	th_setup(newreno);
	return 0;
}

static const struct kn_stats *stats(void)
{
	return kn_stack_stats(S);
}

static void clear(void)
{
	kn_stack_flush(S);
	kt_cap_clear(&cap);
}

/* Passive open with the SYN options @opt; @sa gets the SYN-ACK. */
static struct kn_tcb *open_passive(struct kn_tcb **lp, const uint8_t *opt, uint8_t optlen,
				   struct kt_seg *sa)
{
	int err;
	*lp = kn_tcp_listen(S, LPORT, 4, &lev, &err);
	assert_non_null(*lp);
	peer_send_opts(KN_TH_SYN, PISN, 0, WIN, opt, optlen);
	*sa = th_take();
	assert_int_equal(sa->flags, KN_TH_SYN | KN_TH_ACK);
	peer_send(KN_TH_ACK, PISN + 1, sa->seq + 1, WIN, NULL, 0);
	struct kn_tcb *c = kn_tcp_accept(*lp, &cev);
	assert_non_null(c);
	assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
	clear();
	return c;
}

static void close_all(struct kn_tcb *l, struct kn_tcb *c)
{
	if (c)
		kn_tcp_abort(c);
	if (l)
		kn_tcp_close(l);
	clear();
}

/* A SACK option (NOP, NOP, SACK) of @n blocks from @b (start, end pairs). */
static uint8_t sack_opt(uint8_t *o, unsigned n, const uint32_t *b)
{
	uint8_t k = 0;
	o[k++] = 1;
	o[k++] = 1;
	o[k++] = 5;
	o[k++] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < 2 * n; i++) {
		o[k++] = (uint8_t)(b[i] >> 24);
		o[k++] = (uint8_t)(b[i] >> 16);
		o[k++] = (uint8_t)(b[i] >> 8);
		o[k++] = (uint8_t)b[i];
	}
	return k;
}

/* The peer ACKs @ack with @n SACK blocks and window @win. */
static void ack_sack_win(uint32_t ack, uint16_t win, unsigned n, const uint32_t *b)
{
	uint8_t o[40];
	uint8_t k = n ? sack_opt(o, n, b) : 0;
	peer_send_opts(KN_TH_ACK, PISN + 1, ack, win, o, k);
}

static void ack_sack(uint32_t ack, unsigned n, const uint32_t *b)
{
	ack_sack_win(ack, WIN, n, b);
}

/* The data segments sent now: @seqs gets their sequence numbers. */
static unsigned sent(uint32_t *seqs, unsigned max)
{
	unsigned n = 0;
	struct kt_seg s;
	while (take_seg(&s)) {
		if (!s.len)
			continue;
		if (n < max)
			seqs[n] = s.seq;
		n++;
	}
	return n;
}

/* ---- negotiation ---- */

static void test_passive_negotiation(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	struct kt_seg sa;
	c = open_passive(&l, syn_sack, sizeof(syn_sack), &sa);
	assert_true(sa.has_sackok);
	assert_true(c->flags & TF_SACK);
	close_all(l, c);

	c = open_passive(&l, syn_nosack, sizeof(syn_nosack), &sa);
	assert_false(sa.has_sackok);
	assert_false(c->flags & TF_SACK);
	/* Out-of-order data gets its ACK, without blocks. */
	peer_send(KN_TH_ACK, PISN + 1 + 100, sa.seq + 1, WIN, data, 100);
	struct kt_seg a = th_take();
	assert_int_equal(a.ack, PISN + 1);
	assert_int_equal(a.nsack, 0);
	close_all(l, c);
}

static void no_sack(struct kn_stack_conf *c)
{
	c->tcp.sack = false;
}

static void test_passive_negotiation_off(void **st)
{
	th_teardown(st);
	th_setup(no_sack);
	struct kn_tcb *l, *c;
	struct kt_seg sa;
	c = open_passive(&l, syn_sack, sizeof(syn_sack), &sa);
	assert_false(sa.has_sackok);
	assert_false(c->flags & TF_SACK);
	close_all(l, c);
}

static void test_active_negotiation(void **st)
{
	(void)st;
	for (int peer = 0; peer < 2; peer++) {
		int err;
		struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
		assert_non_null(c);
		struct kt_seg syn = th_take();
		assert_int_equal(syn.flags, KN_TH_SYN);
		assert_true(syn.has_sackok);
		peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, WIN,
			       peer ? syn_sack : syn_nosack, peer ? sizeof(syn_sack) : sizeof(syn_nosack));
		assert_int_equal(kn_tcp_get_state(c), KN_TCP_ESTABLISHED);
		assert_int_equal(!!(c->flags & TF_SACK), peer);
		close_all(NULL, c);
	}
}

static void test_active_negotiation_off(void **st)
{
	th_teardown(st);
	th_setup(no_sack);
	int err;
	struct kn_tcb *c = kn_tcp_connect(S, KT_PEER_IP, PPORT, LPORT, &cev, &err);
	struct kt_seg syn = th_take();
	assert_false(syn.has_sackok);
	/* A peer that answers with SACK-permitted anyway gets no SACK. */
	peer_send_opts(KN_TH_SYN | KN_TH_ACK, PISN, syn.seq + 1, WIN, syn_sack, sizeof(syn_sack));
	assert_false(c->flags & TF_SACK);
	close_all(NULL, c);
}

static void one_syn(struct kn_stack_conf *c)
{
	c->tcp.syn_backlog = 1;
	c->tcp.syncookies = true;
}

/* A SYN from @sport with @opt (and a timestamp). */
static void syn_from(uint16_t sport, uint32_t isn, const uint8_t *opt, uint8_t optlen)
{
	uint8_t o[40];
	memcpy(o, opt, optlen);
	uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0};
	memcpy(o + optlen, ts, 12);
	struct kt_tcp t = {.src = KT_PEER_IP, .dst = KT_US_IP, .sport = sport, .dport = LPORT,
			   .seq = isn, .flags = KN_TH_SYN, .win = WIN, .opt = o,
			   .optlen = (uint8_t)(optlen + 12)};
	kn_stack_input(S, kt_tcp_frame(&t), now);
	kn_stack_flush(S);
}

/* The SYN-cookie SYN-ACK keeps SACK-permitted in the cookie: the
 * connection the ACK makes has SACK exactly when the SYN offered it. */
static void test_cookie_negotiation(void **st)
{
	th_teardown(st);
	th_setup(one_syn);
	int err;
	struct kn_tcb *l = kn_tcp_listen(S, LPORT, 8, &lev, &err);
	syn_from(30000, 1000, syn_nosack, sizeof(syn_nosack));   /* fills the SYN queue */
	clear();
	for (int sack = 0; sack < 2; sack++) {
		uint64_t cookies = stats()->tcp_syncookies_sent;
		syn_from(PPORT, PISN, sack ? syn_sack : syn_nosack,
			 sack ? sizeof(syn_sack) : sizeof(syn_nosack));
		assert_int_equal(stats()->tcp_syncookies_sent, cookies + 1);
		struct kt_seg sa = th_take();
		assert_int_equal(sa.flags, KN_TH_SYN | KN_TH_ACK);
		assert_int_equal(sa.has_sackok, sack);
		peer_send(KN_TH_ACK, PISN + 1, sa.seq + 1, WIN, NULL, 0);
		struct kn_tcb *c = kn_tcp_accept(l, &cev);
		assert_non_null(c);
		assert_int_equal(!!(c->flags & TF_SACK), sack);
		close_all(NULL, c);
	}
	assert_int_equal(stats()->tcp_syncookies_ok, 2);
	close_all(l, NULL);
}

/* ---- the receiver's blocks ---- */

static void expect_blocks(const struct kt_seg *a, unsigned n, const uint32_t *b)
{
	assert_int_equal(a->nsack, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(a->sack[i][0], b[2 * i]);
		assert_int_equal(a->sack[i][1], b[2 * i + 1]);
	}
}

/* Data at PISN + 1 + @off of @len bytes; @return the ACK it got (a
 * delayed one for in-order data). */
static struct kt_seg data_at(uint32_t iss, uint32_t off, uint32_t len)
{
	peer_send(KN_TH_ACK, PISN + 1 + off, iss + 1, WIN, data + off, len);
	kn_stack_flush(S);
	if (cap.n == 0)
		tick(100 * KT_MS);
	struct kt_seg a = th_take();
	assert_int_equal(a.flags & KN_TH_ACK, KN_TH_ACK);
	return a;
}

static void test_blocks_for_ooo_data(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	struct kt_seg sa;
	c = open_passive(&l, syn_sack, sizeof(syn_sack), &sa);
	const uint32_t P = PISN + 1;
	struct kt_seg a = data_at(sa.seq, 100, 100);
	assert_int_equal(a.ack, P);
	expect_blocks(&a, 1, (uint32_t[]){P + 100, P + 200});
	a = data_at(sa.seq, 300, 100);
	expect_blocks(&a, 2, (uint32_t[]){P + 300, P + 400, P + 100, P + 200});
	a = data_at(sa.seq, 500, 100);
	expect_blocks(&a, 3, (uint32_t[]){P + 500, P + 600, P + 300, P + 400, P + 100, P + 200});
	/* Next to timestamps, 3 blocks at most: the oldest goes. */
	a = data_at(sa.seq, 700, 100);
	assert_true(a.has_ts);
	expect_blocks(&a, 3, (uint32_t[]){P + 700, P + 800, P + 500, P + 600, P + 300, P + 400});
	/* Filling between two blocks: their union comes first. */
	a = data_at(sa.seq, 200, 100);
	expect_blocks(&a, 3, (uint32_t[]){P + 100, P + 400, P + 700, P + 800, P + 500, P + 600});
	/* The hole at RCV.NXT filled: what is still out of order. */
	a = data_at(sa.seq, 0, 100);
	assert_int_equal(a.ack, P + 400);
	expect_blocks(&a, 2, (uint32_t[]){P + 700, P + 800, P + 500, P + 600});
	assert_true(stats()->tcp_sack_blocks_tx >= 14);
	/* All in order: no blocks any more. */
	a = data_at(sa.seq, 400, 100);
	a = data_at(sa.seq, 600, 100);
	assert_int_equal(a.ack, P + 800);
	assert_int_equal(a.nsack, 0);
	close_all(l, c);
}

/* Without timestamps, 4 blocks fit. */
static void test_four_blocks_without_timestamps(void **st)
{
	(void)st;
	th_peer_ts = false;
	struct kn_tcb *l, *c;
	struct kt_seg sa;
	c = open_passive(&l, syn_sack, sizeof(syn_sack), &sa);
	assert_false(c->flags & TF_TS);
	const uint32_t P = PISN + 1;
	struct kt_seg a;
	for (uint32_t off = 100; off <= 900; off += 200)
		a = data_at(sa.seq, off, 100);
	expect_blocks(&a, 4, (uint32_t[]){P + 900, P + 1000, P + 700, P + 800, P + 500, P + 600,
					   P + 300, P + 400});
	close_all(l, c);
}

static void test_dsack_sent(void **st)
{
	(void)st;
	struct kn_tcb *l, *c;
	struct kt_seg sa;
	c = open_passive(&l, syn_sack, sizeof(syn_sack), &sa);
	const uint32_t P = PISN + 1;
	struct kt_seg a = data_at(sa.seq, 0, 100);
	assert_int_equal(a.nsack, 0);
	a = data_at(sa.seq, 300, 100);
	/* A duplicate below RCV.NXT: D-SACK first, then the queue's block. */
	a = data_at(sa.seq, 0, 100);
	assert_int_equal(a.ack, P + 100);
	expect_blocks(&a, 2, (uint32_t[]){P, P + 100, P + 300, P + 400});
	/* Reported once. */
	a = data_at(sa.seq, 500, 100);
	expect_blocks(&a, 2, (uint32_t[]){P + 500, P + 600, P + 300, P + 400});
	/* A duplicate of queued data: D-SACK, then the block holding it. */
	a = data_at(sa.seq, 300, 100);
	assert_true(a.nsack >= 2);
	assert_int_equal(a.sack[0][0], P + 300);
	assert_int_equal(a.sack[0][1], P + 400);
	assert_int_equal(a.sack[1][0], P + 300);
	assert_int_equal(a.sack[1][1], P + 400);
	/* A partly old segment: the old part is the D-SACK. */
	a = data_at(sa.seq, 50, 100);
	assert_int_equal(a.ack, P + 150);
	assert_int_equal(a.sack[0][0], P + 50);
	assert_int_equal(a.sack[0][1], P + 100);
	assert_int_equal(stats()->tcp_dsack_tx, 3);
	close_all(l, c);
}

/* ---- the sender: hostile blocks ---- */

/* The sender's segment size (SMSS with timestamps). */
static uint32_t smss;

/* A connection (SACK or not) with @n full segments in flight; @una gets
 * SND.UNA. */
static struct kn_tcb *sender(struct kn_tcb **l, unsigned n, uint32_t *una, bool sack)
{
	struct kt_seg sa;
	struct kn_tcb *c = open_passive(l, sack ? syn_sack : syn_nosack,
					sack ? sizeof(syn_sack) : sizeof(syn_nosack), &sa);
	smss = c->mss;
	assert_int_equal(smss, th_peer_ts ? SMSS : 1460);
	assert_int_equal(kn_tcp_send(c, data, n * smss), (int)(n * smss));
	uint32_t seqs[64];
	assert_int_equal(sent(seqs, 64), n);
	*una = sa.seq + 1;
	return c;
}

#define SEG(k) (una + (uint32_t)(k) * smss)

/* The start of every recovery test: @n full segments in flight on a SACK
 * connection @c (listener @l, SND.UNA @una), the counters @x, and @seqs
 * for sent(). */
#define SACK_SENDER(n)                                                      \
	struct kn_tcb *l;                                                   \
	uint32_t una;                                                       \
	struct kn_tcb *c = sender(&l, (n), &una, true);                     \
	const struct kn_stats *x = stats();                                 \
	uint32_t seqs[16];                                                  \
	(void)x

/* Segment 0 lost, 1..5 arrive: the ACKs SACK them one by one, recovery
 * starts and 0 goes again. */
static void lose_first(uint32_t una)
{
	uint32_t seqs[16];
	for (unsigned k = 2; k <= 6; k++)
		ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(k)});
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(0));
}

static void test_hostile_blocks(void **st)
{
	(void)st;
	struct kn_tcb *l;
	uint32_t una;
	struct kn_tcb *c = sender(&l, 10, &una, true);
	const struct kn_stats *x = stats();
	/* Past SND.MAX. */
	ack_sack(una, 1, (uint32_t[]){SEG(11), SEG(12)});
	assert_int_equal(x->tcp_sack_bad_blocks, 1);
	/* Ending before it starts (wrapped), and empty. */
	ack_sack(una, 2, (uint32_t[]){SEG(5), SEG(3), SEG(4), SEG(4)});
	assert_int_equal(x->tcp_sack_bad_blocks, 3);
	/* Half the sequence space away. */
	ack_sack(una, 1, (uint32_t[]){una + 0x80000000u, una + 0x80000000u + smss});
	assert_int_equal(x->tcp_sack_bad_blocks, 4);
	/* Below SND.UNA, not the first block (so no D-SACK). */
	ack_sack(una, 2, (uint32_t[]){SEG(3), SEG(4), una - 3000, una - 2000});
	assert_int_equal(x->tcp_sack_bad_blocks, 5);
	assert_int_equal(c->sb_n, 1);
	assert_int_equal(c->sb[0].start, SEG(3));
	assert_int_equal(c->sb[0].end, SEG(4));
	/* Straddling SND.MAX. */
	ack_sack(una, 1, (uint32_t[]){SEG(9), SEG(11)});
	assert_int_equal(x->tcp_sack_bad_blocks, 6);
	assert_int_equal(c->sb_n, 1);
	/* A block cut short (14 bytes): the option is ignored, the ACK taken. */
	uint8_t o[16] = {1, 1, 5, 14};
	uint32_t b[2] = {SEG(5), SEG(6)};
	sack_opt(o, 1, b);
	o[3] = 14;
	peer_send_opts(KN_TH_ACK, PISN + 1, SEG(1), WIN, o, 16);
	assert_int_equal(x->tcp_sack_bad_blocks, 7);
	assert_int_equal(c->snd_una, SEG(1));
	assert_int_equal(c->sb_n, 1);
	/* A SACK option longer than the header (a fifth block): the segment
	 * is malformed and dropped, as any such option. */
	uint8_t big[40] = {5, 42};
	uint64_t badopt = kt_drops(S, KN_DROP_TCP_BAD_OPTION);
	peer_send_opts(KN_TH_ACK, PISN + 1, SEG(2), WIN, big, 40);
	assert_int_equal(kt_drops(S, KN_DROP_TCP_BAD_OPTION), badopt + 1);
	assert_int_equal(c->snd_una, SEG(1));
	/* A first block below the ACK is a D-SACK: counted, not SACKed. */
	ack_sack(SEG(1), 1, (uint32_t[]){una, SEG(1)});
	assert_int_equal(x->tcp_dsack_rx, 1);
	/* ... and so is one inside the second block. */
	ack_sack(SEG(1), 2, (uint32_t[]){SEG(3), SEG(4), SEG(3), SEG(4)});
	assert_int_equal(x->tcp_dsack_rx, 2);
	assert_int_equal(c->sb_n, 1);
	assert_int_equal(x->tcp_sack_bad_blocks, 7);
	/* Nothing of it made a retransmission. */
	assert_int_equal(x->tcp_rexmt, 0);
	assert_int_equal(x->tcp_recoveries, 0);
	close_all(l, c);
}

/* Two SACK options in one segment (no timestamps: 4 blocks fit): all
 * four blocks are taken. */
static void test_two_sack_options(void **st)
{
	(void)st;
	th_peer_ts = false;
	struct kn_tcb *l;
	uint32_t una;
	struct kn_tcb *c = sender(&l, 10, &una, true);
	uint8_t o[40];
	uint8_t n = sack_opt(o, 2, (uint32_t[]){SEG(2), SEG(3), SEG(4), SEG(5)});
	n = (uint8_t)(n + sack_opt(o + n, 2, (uint32_t[]){SEG(6), SEG(7), SEG(8), SEG(9)}));
	peer_send_opts(KN_TH_ACK, PISN + 1, una, WIN, o, n);
	assert_int_equal(stats()->tcp_sack_blocks_rx, 4);
	assert_int_equal(c->sb_n, 4);
	assert_int_equal(stats()->tcp_sack_bad_blocks, 0);
	close_all(l, c);
}

/* SACK blocks from a peer that never agreed to SACK: ignored, counted. */
static void test_blocks_without_agreement(void **st)
{
	(void)st;
	struct kn_tcb *l;
	uint32_t una;
	struct kn_tcb *c = sender(&l, 4, &una, false);
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(2)});
	assert_int_equal(stats()->tcp_sack_bad_blocks, 1);
	assert_int_equal(c->sb_n, 0);
	close_all(l, c);
}

/* ---- the sender: recovery ---- */

/* Segments 2, 5 and 8 of 10 lost: all three are resent before any of
 * them can be acknowledged (one round trip), partial ACKs send nothing
 * the scoreboard does not call for, no RTO. */
static void test_three_losses_one_rtt(void **st)
{
	(void)st;
	SACK_SENDER(10);
	ack_sack(SEG(1), 0, NULL);
	ack_sack(SEG(2), 0, NULL);
	assert_int_equal(sent(seqs, 16), 0);
	/* 3, 4 and 6 arrive: the third duplicate ACK starts recovery, and
	 * segment 2 goes again. */
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(3), SEG(4)});
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(3), SEG(5)});
	assert_int_equal(sent(seqs, 16), 0);
	ack_sack(SEG(2), 2, (uint32_t[]){SEG(6), SEG(7), SEG(3), SEG(5)});
	assert_true(c->flags & TF_INRECOVERY);
	assert_true(c->flags & TF_SACK_RECOV);
	assert_int_equal(x->tcp_sack_recoveries, 1);
	assert_int_equal(c->cwnd, 4 * smss);          /* half of 8 in flight */
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(2));
	/* 7: pipe still fills cwnd. */
	ack_sack(SEG(2), 2, (uint32_t[]){SEG(6), SEG(8), SEG(3), SEG(5)});
	assert_int_equal(sent(seqs, 16), 0);
	/* 9: segment 5 is lost (three SACKed above it); 8 is not yet, but
	 * lies below SACKed data: NextSeg's rule 3 sends it too. */
	ack_sack(SEG(2), 3, (uint32_t[]){SEG(9), SEG(10), SEG(6), SEG(8), SEG(3), SEG(5)});
	assert_int_equal(sent(seqs, 16), 2);
	assert_int_equal(seqs[0], SEG(5));
	assert_int_equal(seqs[1], SEG(8));
	/* The retransmissions arrive: partial ACKs, nothing more to send. */
	ack_sack(SEG(5), 2, (uint32_t[]){SEG(6), SEG(8), SEG(9), SEG(10)});
	assert_true(c->flags & TF_INRECOVERY);
	assert_int_equal(sent(seqs, 16), 0);
	ack_sack(SEG(8), 1, (uint32_t[]){SEG(9), SEG(10)});
	assert_true(c->flags & TF_INRECOVERY);
	assert_int_equal(sent(seqs, 16), 0);
	ack_sack(SEG(10), 0, NULL);
	assert_false(c->flags & (TF_INRECOVERY | TF_SACK_RECOV | TF_SB));
	assert_int_equal(c->cwnd, c->ssthresh);
	assert_int_equal(x->tcp_rexmt, 3);
	assert_int_equal(x->tcp_rexmt_timeouts, 0);
	assert_int_equal(c->snd_una, c->snd_max);
	close_all(l, c);
}

/* Segment 0 lost, 1..5 SACKed, the rest still out: when the
 * retransmission of 0 is acknowledged, pipe has room and NextSeg's rule 2
 * sends new data. */
static void test_new_data_in_recovery(void **st)
{
	(void)st;
	SACK_SENDER(10);
	assert_int_equal(kn_tcp_send(c, data, 4 * smss), (int)(4 * smss));  /* waits for cwnd */
	assert_int_equal(sent(seqs, 16), 0);
	/* The first two duplicates send 10 and 11 (RFC 3042 limited
	 * transmit), the third starts recovery with 12 in flight. */
	for (unsigned k = 2; k <= 6; k++)
		ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(k)});
	assert_true(c->flags & TF_SACK_RECOV);
	assert_int_equal(c->cwnd, 6 * smss);
	assert_int_equal(sent(seqs, 16), 3);
	assert_int_equal(seqs[0], SEG(10));
	assert_int_equal(seqs[1], SEG(11));
	assert_int_equal(seqs[2], SEG(0));
	/* 0..7 acknowledged: pipe 4 (8..11), room for two new segments. */
	ack_sack(SEG(8), 0, NULL);
	assert_true(c->flags & TF_SACK_RECOV);
	assert_int_equal(sent(seqs, 16), 2);
	assert_int_equal(seqs[0], SEG(12));
	assert_int_equal(seqs[1], SEG(13));
	assert_int_equal(stats()->tcp_sack_rescues, 0);
	close_all(l, c);
}

/* The same with nothing new to send: 6..9 lie above everything SACKed,
 * so no ACK can show them lost; the rescue retransmission (RFC 6675
 * rule 4) resends the last segment, once. */
static void test_rescue_retransmission(void **st)
{
	(void)st;
	SACK_SENDER(10);
	lose_first(una);
	ack_sack(SEG(6), 0, NULL);
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(9));
	assert_int_equal(stats()->tcp_sack_rescues, 1);
	ack_sack(SEG(7), 0, NULL);
	assert_int_equal(sent(seqs, 16), 0);
	assert_int_equal(stats()->tcp_sack_rescues, 1);
	ack_sack(SEG(10), 0, NULL);
	assert_false(c->flags & TF_INRECOVERY);
	assert_int_equal(stats()->tcp_rexmt_timeouts, 0);
	close_all(l, c);
}

/* The rescue resends the last segment sent, not the end of what the
 * application wrote: here more waits behind a window that ends at SND.MAX
 * (found by fuzz_net_rx: data past the peer's window). */
static void test_rescue_within_window(void **st)
{
	(void)st;
	SACK_SENDER(10);
	assert_int_equal(kn_tcp_send(c, data, 20 * smss), (int)(20 * smss));
	assert_int_equal(sent(seqs, 16), 0);
	for (unsigned k = 2; k <= 6; k++)
		ack_sack_win(una, (uint16_t)(10 * smss), 1, (uint32_t[]){SEG(1), SEG(k)});
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(0));
	ack_sack_win(SEG(6), (uint16_t)(4 * smss), 0, NULL);
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(9));
	assert_int_equal(stats()->tcp_sack_rescues, 1);
	close_all(l, c);
}

/* The rescue's original was only in flight (the 1%-loss echo at
 * 0 ms: every D-SACK kaon received was a rescue's, 50-170 us after the
 * original): its D-SACK is counted, but shows no reordering, so the next
 * loss starts recovery at once. Before, TF_REORD was set and every later
 * loss of the connection waited SRTT/4 (3-24 ms in that echo). */
static void test_rescue_dsack_not_reordering(void **st)
{
	(void)st;
	SACK_SENDER(10);
	tick(80 * KT_MS);          /* SRTT 80 ms: a reordering wait would be 20 ms */
	lose_first(una);
	ack_sack(SEG(6), 0, NULL);
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(9));            /* the rescue */
	ack_sack(SEG(10), 1, (uint32_t[]){SEG(9), SEG(10)});
	assert_false(c->flags & TF_REORD);
	assert_int_equal(x->tcp_dsack_rx, 1);
	assert_int_equal(x->tcp_dsack_rescues, 1);
	/* A loss in the next window: recovery at once, no wait. */
	assert_int_equal(kn_tcp_send(c, data, 6 * smss), (int)(6 * smss));
	unsigned n = sent(seqs, 16);
	assert_true(n >= 5);
	ack_sack(SEG(10), 1, (uint32_t[]){SEG(11), SEG(15)});
	assert_int_equal(x->tcp_reo_waits, 0);
	assert_int_equal(x->tcp_sack_recoveries, 2);
	n = sent(seqs, 16);
	bool resent = false;
	for (unsigned i = 0; i < n && i < 16; i++)
		resent |= seqs[i] == SEG(10);
	assert_true(resent);
	close_all(l, c);
}

/* Segment 0 lost, and its retransmission too; the rescue (9, whose
 * original was only in flight) goes after it and is reported as a
 * duplicate while 0 is still missing: ACKs come in send order, so the
 * retransmission is lost, and 0 goes again at once. Before, nothing went
 * until the RTO (190 ms gaps in the 1%-loss echo at 0 ms). */
static void test_rescue_dsack_finds_lost_retransmission(void **st)
{
	(void)st;
	SACK_SENDER(10);
	lose_first(una);
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(7)});
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(9));            /* the rescue */
	ack_sack(una, 2, (uint32_t[]){SEG(9), SEG(10), SEG(1), SEG(10)});
	assert_int_equal(x->tcp_dsack_rescues, 1);
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(0));
	assert_int_equal(x->tcp_rexmt_lost, 1);
	assert_int_equal(x->tcp_rexmt_timeouts, 0);
	/* once: another copy of that ACK sends nothing */
	ack_sack(una, 2, (uint32_t[]){SEG(9), SEG(10), SEG(1), SEG(10)});
	assert_int_equal(sent(seqs, 16), 0);
	ack_sack(SEG(10), 0, NULL);
	assert_false(c->flags & TF_INRECOVERY);
	assert_int_equal(x->tcp_rexmt_timeouts, 0);
	close_all(l, c);
}

/* ... but not where the path reorders: the hole may still come. */
static void test_rescue_dsack_reordering_path(void **st)
{
	(void)st;
	SACK_SENDER(10);
	c->flags |= TF_REORD;        /* a D-SACK of a fast retransmit came before */
	lose_first(una);
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(7)});
	while (sent(seqs, 16))
		;
	ack_sack(una, 2, (uint32_t[]){SEG(9), SEG(10), SEG(1), SEG(10)});
	assert_int_equal(sent(seqs, 16), 0);
	assert_int_equal(stats()->tcp_rexmt_lost, 0);
	close_all(l, c);
}

/* One D-SACK in the option of several ACKs (a GSO receiver copies it into
 * every segment it cuts) is one duplicate. Here the retransmission of 0
 * was needed (its original lost), the rescue of 9 was not: 7 copies of the
 * rescue's D-SACK undid the reduction before, as if both retransmissions
 * had been duplicates. */
static void test_dsack_copies_count_once(void **st)
{
	(void)st;
	SACK_SENDER(10);
	lose_first(una);
	uint32_t cut = c->ssthresh;
	ack_sack(SEG(6), 0, NULL);
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(9));
	for (int i = 0; i < 7; i++)
		ack_sack(SEG(10), 1, (uint32_t[]){SEG(9), SEG(10)});
	assert_int_equal(x->tcp_dsack_undos, 0);
	assert_int_equal(c->ssthresh, cut);
	assert_int_equal(x->tcp_dsack_rx, 1);
	assert_int_equal(x->tcp_dsack_repeats, 6);
	close_all(l, c);
}

/* Nothing comes back: the data segments the retransmission timer sends
 * (into @seqs, 16 at most). */
static unsigned sent_after_rto(uint32_t *seqs)
{
	unsigned n = 0;
	for (int i = 0; i < 20 && n == 0; i++) {
		tick(100 * KT_MS);
		n = sent(seqs, 16);
	}
	return n;
}

/* The retransmission is lost too: the RTO resends SND.UNA with cwnd one
 * segment and keeps the scoreboard (RFC 6675 §5.1 allows it; Linux's
 * tcp_enter_loss marks only the unSACKed data lost): what the peer SACKed
 * is not sent again. */
static void test_rto_after_lost_retransmission(void **st)
{
	(void)st;
	SACK_SENDER(10);
	/* 0, 1 and 3..9 arrive: one ACK says so, and shows 2 lost (IsLost
	 * before any duplicate ACK). */
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(3), SEG(10)});
	assert_true(c->flags & TF_SACK_RECOV);
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(2));
	/* Nothing more comes back. */
	unsigned n = sent_after_rto(seqs);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], SEG(2));
	assert_int_equal(x->tcp_rexmt_timeouts, 1);
	assert_int_equal(x->tcp_rto_in_recovery, 1);
	assert_true(c->flags & TF_LOSS);
	assert_int_equal(c->sb_n, 1);
	assert_int_equal(c->cwnd, smss);
	/* The peer had the rest: one ACK ends it. */
	ack_sack(SEG(10), 0, NULL);
	assert_int_equal(c->snd_una, c->snd_max);
	assert_false(c->flags & (TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS | TF_SB));
	assert_int_equal(sent(seqs, 16), 0);
	close_all(l, c);
}

/* Two holes (0 and 5), both retransmissions lost, then the RTO: only the
 * holes go again, never the SACKed 1..4 and 6..9. Before, the timeout
 * cleared the scoreboard and resent 6..9 go-back-N (at the wire's 200
 * Mbit bottleneck half of all retransmissions came back as D-SACKs). */
static void test_rto_resends_only_holes(void **st)
{
	(void)st;
	SACK_SENDER(10);
	ack_sack(una, 2, (uint32_t[]){SEG(6), SEG(10), SEG(1), SEG(5)});
	assert_true(c->flags & TF_SACK_RECOV);
	assert_int_equal(sent(seqs, 16), 2);
	assert_int_equal(seqs[0], SEG(0));
	assert_int_equal(seqs[1], SEG(5));
	unsigned n = sent_after_rto(seqs);
	assert_int_equal(x->tcp_rexmt_timeouts, 1);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], SEG(0));
	/* 0 arrives: the ACK jumps to the next hole, which goes (cwnd 2). */
	ack_sack(SEG(5), 1, (uint32_t[]){SEG(6), SEG(10)});
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(5));
	ack_sack(SEG(10), 0, NULL);
	assert_int_equal(sent(seqs, 16), 0);
	assert_false(c->flags & (TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS));
	assert_int_equal(x->tcp_rexmt, 4);
	assert_int_equal(x->tcp_sack_reneged, 0);
	close_all(l, c);
}

/* A slow start that overflowed a drop-tail queue loses every other
 * segment: 100 segments, the odd ones lost, 50 SACKed ranges. The
 * scoreboard held 32 and forgot the ranges above them, so the RTO took
 * the segments they covered for lost and resent them (at the wire's 200
 * Mbit bottleneck 1,266 of 2,428 retransmissions came back as D-SACKs
 * after two such timeouts). */
static void test_rto_many_ranges(void **st)
{
	(void)st;
	static const uint8_t syn_ws[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
	struct kn_tcb *l;
	struct kt_seg sa;
	struct kn_tcb *c = open_passive(&l, syn_ws, sizeof(syn_ws), &sa);
	const struct kn_stats *x = stats();
	smss = c->mss;
	uint32_t una = sa.seq + 1;
	assert_int_equal(kn_tcp_send(c, data, 100 * smss), (int)(100 * smss));
	c->cwnd = 100 * smss;    /* as if slow start had got there */
	kn_tcp_output(c);
	uint32_t seqs[128];
	assert_int_equal(sent(seqs, 128), 100);
	/* The even ones arrive; ACKs report up to three ranges, the newest
	 * first, as a receiver does. */
	for (unsigned k = 2; k < 100; k += 2) {
		uint32_t b[6];
		unsigned nb = 0;
		for (unsigned j = k; j >= 2 && nb < 3; j -= 2, nb++) {
			b[2 * nb] = SEG(j);
			b[2 * nb + 1] = SEG(j + 1);
		}
		ack_sack(SEG(1), nb, b);
	}
	while (sent(seqs, 128))
		;
	unsigned n = sent_after_rto(seqs);
	assert_int_equal(n, 1);
	assert_int_equal(x->tcp_rexmt_timeouts, 1);
	/* Each retransmission of an odd segment arrives in turn and the
	 * ACK takes the even one above it too: no even one is ever resent. */
	for (unsigned k = 1; k < 100; k += 2) {
		ack_sack(SEG(k + 2 <= 100 ? k + 2 : 100), 0, NULL);
		while ((n = sent(seqs, 128)) > 0)
			for (unsigned i = 0; i < n && i < 128; i++)
				assert_int_equal((seqs[i] - una) / smss % 2, 1);
	}
	assert_int_equal(c->snd_una, c->snd_max);
	close_all(l, c);
}

/* Nothing SACKed when the RTO fires (0..4 lost, the ACKs for 5..9 lost
 * too): the blocks the first retransmission's ACK brings are not resent.
 * Before, with no scoreboard at the timeout, the resending went on
 * go-back-N over 5..9 (the D-SACKs of bench/run wan's 1% rows). */
static void test_rto_empty_scoreboard(void **st)
{
	(void)st;
	SACK_SENDER(10);
	unsigned n = sent_after_rto(seqs);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], SEG(0));
	assert_int_equal(x->tcp_rto_sb_kept, 0);
	ack_sack(SEG(1), 1, (uint32_t[]){SEG(5), SEG(10)});
	assert_int_equal(sent(seqs, 16), 2);
	assert_int_equal(seqs[0], SEG(1));
	assert_int_equal(seqs[1], SEG(2));
	ack_sack(SEG(3), 1, (uint32_t[]){SEG(5), SEG(10)});
	assert_int_equal(sent(seqs, 16), 2);
	assert_int_equal(seqs[0], SEG(3));
	assert_int_equal(seqs[1], SEG(4));
	ack_sack(SEG(10), 0, NULL);
	assert_int_equal(sent(seqs, 16), 0);
	assert_int_equal(x->tcp_rexmt, 5);
	assert_int_equal(c->snd_una, c->snd_max);
	assert_false(c->flags & (TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS));
	close_all(l, c);
}

/* After the RTO the peer's ACK stops at the start of a block it had
 * SACKed: it dropped that data (reneged, as kaon's own receiver may when
 * it prunes its out-of-order queue). The scoreboard goes, and everything
 * from there is resent. */
static void test_rto_reneged(void **st)
{
	(void)st;
	SACK_SENDER(10);
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(10)});
	assert_int_equal(sent(seqs, 16), 1);
	unsigned n = sent_after_rto(seqs);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], SEG(0));
	ack_sack(SEG(1), 0, NULL);
	assert_int_equal(x->tcp_sack_reneged, 1);
	assert_int_equal(c->sb_n, 0);
	assert_int_equal(sent(seqs, 16), 2);     /* cwnd 2, from SEG(1) */
	assert_int_equal(seqs[0], SEG(1));
	assert_int_equal(seqs[1], SEG(2));
	ack_sack(SEG(3), 0, NULL);
	assert_int_equal(sent(seqs, 16), 4);
	assert_int_equal(seqs[0], SEG(3));
	for (unsigned k = 7; k <= 10; k++)
		ack_sack(SEG(k), 0, NULL);
	while (sent(seqs, 16))
		;
	assert_int_equal(c->snd_una, c->snd_max);
	assert_false(c->flags & (TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS));
	close_all(l, c);
}

/* A tail lost after the RTO: nothing is SACKed above 8 and 9, and the
 * timeout marks them lost with the rest (no rescue needed), the FIN too. */
static void test_rto_tail_and_fin(void **st)
{
	(void)st;
	SACK_SENDER(10);
	assert_int_equal(kn_tcp_shutdown(c), 0);
	struct kt_seg f = th_take();
	assert_true(f.flags & KN_TH_FIN);
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(8)});
	while (take_seg(&f))
		;                 /* 0, and the rescue (9 with the FIN) */
	unsigned n = sent_after_rto(seqs);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], SEG(0));
	assert_true(c->flags & TF_LOSS);
	/* 1..7 were there: 8, 9 and the FIN go, as the window allows. */
	ack_sack(SEG(8), 0, NULL);
	assert_true(take_seg(&f));
	assert_int_equal(f.seq, SEG(8));
	assert_true(take_seg(&f));
	assert_int_equal(f.seq, SEG(9));
	assert_true(f.flags & KN_TH_FIN);
	assert_false(take_seg(&f));
	ack_sack(SEG(10) + 1, 0, NULL);
	assert_false(c->flags & (TF_INRECOVERY | TF_SACK_RECOV | TF_LOSS));
	close_all(l, c);
}

/* Segment 0 arrives after 1 and 2: two duplicate ACKs with two segments
 * SACKed are reordering, not loss (DupThresh 3). */
static void test_reordering_no_spurious_rexmt(void **st)
{
	(void)st;
	SACK_SENDER(10);
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(2)});
	ack_sack(una, 1, (uint32_t[]){SEG(1), SEG(3)});
	assert_int_equal(sent(seqs, 16), 0);
	ack_sack(SEG(3), 0, NULL);
	assert_false(c->flags & TF_SB);
	/* 4 comes after 5 and 6, in the same way. */
	ack_sack(SEG(4), 0, NULL);
	ack_sack(SEG(4), 1, (uint32_t[]){SEG(5), SEG(6)});
	ack_sack(SEG(4), 1, (uint32_t[]){SEG(5), SEG(7)});
	ack_sack(SEG(10), 0, NULL);
	assert_int_equal(sent(seqs, 16), 0);
	assert_int_equal(stats()->tcp_rexmt, 0);
	assert_int_equal(stats()->tcp_recoveries, 0);
	assert_int_equal(c->snd_una, c->snd_max);
	close_all(l, c);
}

/* Once a D-SACK showed the path reorders, DupThresh SACKed segments
 * above a hole start recovery only after the reordering window (SRTT / 4,
 * RFC 8985's reo_wnd): a segment held back by the path and overtaken by
 * the rest of its burst is not resent if it comes in that time. Before,
 * it was (the D-SACKs of bench/run wan's 50 ms / 2% + reordering row). */
static void test_reordering_window(void **st)
{
	(void)st;
	SACK_SENDER(10);
	/* 80 ms later (SRTT 10 ms, the window 2.5 ms), a duplicate of segment
	 * 0 reported: the path reorders. */
	tick(80 * KT_MS);
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(0), SEG(1)});
	assert_int_equal(x->tcp_dsack_rx, 1);
	assert_true(c->flags & TF_REORD);
	/* 3..5 overtake 2: lost by DupThresh, but the window is waited. */
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(3), SEG(6)});
	assert_int_equal(sent(seqs, 16), 0);
	assert_false(c->flags & TF_INRECOVERY);
	assert_int_equal(x->tcp_reo_waits, 1);
	/* 2 comes: nothing was resent, no recovery. */
	ack_sack(SEG(6), 0, NULL);
	assert_int_equal(x->tcp_reo_avoided, 1);
	assert_int_equal(x->tcp_rexmt, 0);
	assert_int_equal(x->tcp_recoveries, 0);
	/* 6 lost for real: resent when the window ends (a timer, no ACK). */
	ack_sack(SEG(6), 1, (uint32_t[]){SEG(7), SEG(10)});
	assert_int_equal(sent(seqs, 16), 0);
	unsigned n = 0;
	for (int i = 0; i < 50 && n == 0; i++) {
		tick(KT_MS);
		n = sent(seqs, 16);
	}
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], SEG(6));
	assert_true(c->flags & TF_SACK_RECOV);
	assert_int_equal(x->tcp_rexmt_timeouts, 0);
	/* The RTO is back where it was: nothing fires while the
	 * retransmission is on its way. */
	assert_true(c->t_rexmt > now + 100 * KT_MS);
	ack_sack(SEG(10), 0, NULL);
	assert_false(c->flags & (TF_INRECOVERY | TF_REO));
	assert_int_equal(x->tcp_rexmt, 1);
	close_all(l, c);
}

/* ... but not where SRTT / 4 is below the timer's 1 ms tick: there the
 * wait is many round trips. */
static void test_reordering_window_short_path(void **st)
{
	(void)st;
	SACK_SENDER(10);
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(0), SEG(1)});
	assert_true(c->flags & TF_REORD);
	assert_true(c->srtt < 4 * KT_MS);
	ack_sack(SEG(2), 1, (uint32_t[]){SEG(3), SEG(6)});
	assert_int_equal(sent(seqs, 16), 1);
	assert_int_equal(seqs[0], SEG(2));
	assert_int_equal(stats()->tcp_reo_waits, 0);
	close_all(l, c);
}

/* Without SACK: NewReno, as before. */
static void test_newreno_without_sack(void **st)
{
	(void)st;
	struct kn_tcb *l;
	uint32_t una;
	struct kn_tcb *c = sender(&l, 10, &una, false);
	uint32_t seqs[16];
	for (int i = 0; i < 4; i++)          /* an ACK, three duplicates */
		ack_sack(SEG(2), 0, NULL);
	assert_true(c->flags & TF_INRECOVERY);
	assert_false(c->flags & TF_SACK_RECOV);
	assert_int_equal(stats()->tcp_sack_recoveries, 0);
	assert_int_equal(stats()->tcp_recoveries, 1);
	assert_true(sent(seqs, 16) >= 1);
	assert_int_equal(seqs[0], SEG(2));
	/* A partial ACK resends the next hole (RFC 6582). */
	ack_sack(SEG(5), 0, NULL);
	assert_true(sent(seqs, 16) >= 1);
	assert_int_equal(seqs[0], SEG(5));
	ack_sack(SEG(10), 0, NULL);
	assert_false(c->flags & TF_INRECOVERY);
	close_all(l, c);
}

int main(void)
{
	int rc = kt_eal_init("net-sack", 8192);
	if (rc)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passive_negotiation, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_passive_negotiation_off, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_active_negotiation, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_active_negotiation_off, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_cookie_negotiation, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_blocks_for_ooo_data, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_four_blocks_without_timestamps, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_dsack_sent, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_blocks, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_two_sack_options, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_blocks_without_agreement, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_three_losses_one_rtt, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_new_data_in_recovery, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rescue_retransmission, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rescue_dsack_not_reordering, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_dsack_copies_count_once, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rescue_dsack_finds_lost_retransmission, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rescue_dsack_reordering_path, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rescue_within_window, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rto_after_lost_retransmission, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rto_resends_only_holes, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rto_empty_scoreboard, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rto_many_ranges, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rto_reneged, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_rto_tail_and_fin, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_reordering_no_spurious_rexmt, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_reordering_window, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_reordering_window_short_path, setup_newreno, th_teardown),
		cmocka_unit_test_setup_teardown(test_newreno_without_sack, setup_newreno, th_teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	kt_eal_fini();
	return rc;
}
