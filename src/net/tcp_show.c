/* The connection table as text, in the spirit of `ss -tin`: one line per
 * TCB with its sequence space, windows, queues and timers, for an operator
 * (or a test) looking at a connection that does not move. */
#include <stdio.h>
#include <inttypes.h>

#include "tcp.h"

/* A deadline as milliseconds from now, "-" when off. */
static void show_timer(FILE *f, const char *name, int64_t at, int64_t now)
{
	if (at)
		fprintf(f, " %s:%.1fms", name, (double)(at - now) / 1e6);
}

static void show_ip(FILE *f, uint32_t a, uint16_t port)
{
	fprintf(f, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, port);
}

int kn_stack_dump_tcbs(const struct kn_stack *s, FILE *f)
{
	int n = 0;
	const struct kn_tcb *t;
	TAILQ_FOREACH(t, &s->all, all_link) {
		fprintf(f, "%-11s ", kn_tcp_state_name((enum kn_tcp_state)t->state));
		show_ip(f, t->lip, t->lport);
		fputc(' ', f);
		show_ip(f, t->rip, t->rport);
		if (t->state == KN_TCP_LISTEN) {
			fprintf(f, " synq %u acceptq %u backlog %u\n", t->synq_n, t->acceptq_n,
				t->backlog);
			n++;
			continue;
		}
		/* Sequence numbers relative to the ISNs, as `tcpdump -S` does not. */
		fprintf(f,
			" una %u nxt %u max %u snd_wnd %u cwnd %u ssthresh %u mss %u"
			" rcv_nxt %u rcv_adv +%d rcv_win %u sndq %u/%umb rcvq %u/%umb ooo %u/%umb"
			" rxt %u dupacks %u flags %#x ev %#x%s",
			t->snd_una - t->iss, t->snd_nxt - t->iss, t->snd_max - t->iss, t->snd_wnd,
			t->cwnd, t->ssthresh, t->mss, t->rcv_nxt - t->irs,
			(int)(t->rcv_adv - t->rcv_nxt), kn_tcp_rcv_window(t), t->sndq_bytes,
			t->snd_nmb, t->rcvq_bytes, kn_mbuf_nsegs(t->rcvq), t->ooo_n, t->ooo_nmb, t->rxtshift,
			t->dupacks, t->flags, t->ev.pending, t->ev.mem_wait ? " mem_wait" : "");
		show_timer(f, "rexmt", t->t_rexmt, s->now);
		show_timer(f, "persist", t->t_persist, s->now);
		show_timer(f, "delack", t->t_delack, s->now);
		show_timer(f, "keep", t->t_keep, s->now);
		show_timer(f, "2msl", t->t_2msl, s->now);
		if (t->last_rx)
			fprintf(f, " last_rx:%.1fms", (double)(s->now - t->last_rx) / 1e6);
		fputc('\n', f);
		n++;
	}
	fprintf(f, "mem rcv %" PRIu64 " snd %" PRIu64 " waiters %s\n",
		(uint64_t)s->st.mem_rcv_used, (uint64_t)s->st.mem_snd_used,
		TAILQ_EMPTY(&s->mem_waiters) ? "none" : "some");
	return n;
}
