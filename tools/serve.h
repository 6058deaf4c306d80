/* SPDX-License-Identifier: MIT */
/*
 * What every server tool (kaon-echo, kaon-httpd) does the same way: a
 * listener and a vcpu per server, or one vcpu on kaon's own stack that
 * listens there, and an acceptor that starts one coroutine per connection.
 */
#ifndef KAON_TOOLS_SERVE_H
#define KAON_TOOLS_SERVE_H

#include <signal.h>
#include <stdint.h>

#include "kaon/co.h"
#include "kaon/engine.h"
#include "kaon/sock.h"

struct serve {
	kaon_sock *ls;
	kaon_vcpu *v;
	kaon_addr addr;       /* user stack: the listener is made on the vcpu */
	int listen_err;
	/* Counted by the acceptor, on the server's vcpu. A connection whose
	 * coroutine could not start was closed at once (spawn_errors). */
	uint64_t accepted, accept_errors, spawn_errors;
	kaon_fn conn;         /* per connection, given a serve_conn it frees */
	const char *conn_name;
	const char *vcpu_name;
	void *owner;          /* the tool's state for this server */
	/* User stack: run on the vcpu once listening, before accepting (or NULL). */
	void (*listening)(struct serve *sv);
};

/* What a connection's coroutine gets (malloc'd: it frees it). */
struct serve_conn {
	void *owner;
	kaon_sock *s;
};

/* The flags every server tool takes: --stack --addr --port --config --vcpus. */
struct serve_flags {
	const char *stack, *host, *config;
	int host_given;
	long long port, nvcpus; /* port -1: not given */
};

/* Check the flags together (a bad mix is cli_fail: exit 2), check a
 * --config given to a kernel stack, and resolve the address (f->host
 * becomes 0.0.0.0 on kaon's stack unless --addr was given) and the kernel
 * engine (NULL for kaon's). @return 1 for kaon's stack, 0 for the kernel's. */
int serve_flags_check(const char *prog, struct serve_flags *f, kaon_addr *addr,
		      const kaon_engine_ops **engine);

/* SIGINT and SIGTERM into @p sigs, blocked before the vcpu threads start
 * (they inherit the mask: the main thread takes them with sigwait);
 * SIGPIPE ignored; the descriptor limit raised as far as it goes. */
void serve_signals(sigset_t *sigs);

/* A --config given to a kernel stack is still checked: file, line and key
 * of a bad one, exit 2. */
void serve_check_config(const char *prog, const char *path);

/* Kernel stacks: @p n listeners on @p addr (port 0: all take the first one's,
 * written back to @p addr), then a vcpu with an acceptor for each.
 * @return 0 or the exit status (2: cannot listen); the caller cleans up. */
int serve_start(const char *prog, struct serve **sv, int n, kaon_addr *addr,
		const kaon_engine_ops *engine, const int *cpus, int ncpus);

#ifdef KAON_TOOLS_HAVE_USER
/* kaon's stack: one vcpu from @p config that listens on @p addr and accepts.
 * @return 0 or the exit status, as serve_start. */
int serve_start_user(const char *prog, struct serve *sv, const kaon_addr *addr,
		     const char *config, const int *cpus, int ncpus);

/* kaon's stack on [dpdk] cores = @p n cores (kaon_user_start): a listener
 * and an acceptor per core. The vcpus are the group's: stop them with
 * kaon_user_stop(). @return as serve_start. */
int serve_start_user_cores(const char *prog, struct serve **sv, int n, const kaon_addr *addr,
			   const char *config, const int *cpus, int ncpus);
#endif

#endif
