/* SPDX-License-Identifier: MIT */
#include "serve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaon/io.h"
#include "kaon/sync.h"
#ifdef KAON_TOOLS_HAVE_CONFIG
#include "kaon/config.h"
#endif
#ifdef KAON_TOOLS_HAVE_USER
#include "kaon/user.h"
#endif
#include "cli.h"

#define EMFILE_BACKOFF_NS (10 * 1000 * 1000)

/* Until the vcpu stops: one coroutine per accepted connection. */
static void *acceptor(void *arg)
{
	struct serve *sv = arg;
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.detached = 1;
	co.name = sv->conn_name;
	for (;;) {
		kaon_sock *s;
		int r = kaon_accept(sv->ls, &s, NULL, KAON_FOREVER);
		if (r == -ECANCELED)
			break;
		if (r < 0) {
			sv->accept_errors++;
			/* Out of descriptors or memory: the others keep being
			 * served; try again a little later. */
			if (kaon_sleep_until(kaon_deadline_in(EMFILE_BACKOFF_NS)) < 0)
				break;
			continue;
		}
		sv->accepted++;
		struct serve_conn *cn = malloc(sizeof(*cn));
		if (cn) {
			cn->owner = sv->owner;
			cn->s = s;
		}
		if (!cn || kaon_go(NULL, &co, sv->conn, cn) < 0) {
			free(cn);
			kaon_close(s);
			sv->spawn_errors++;
		}
	}
	return NULL;
}

void serve_check_config(const char *prog, const char *path)
{
#ifdef KAON_TOOLS_HAVE_CONFIG
	static kaon_config c;
	char err[512];
	if (kaon_config_load(&c, path, 0, err, sizeof(err)) < 0)
		cli_fail(prog, "--config: %s", err);
#else
	FILE *f = fopen(path, "r");
	if (!f)
		cli_fail(prog, "--config: cannot read %s: %s", path, strerror(errno));
	fclose(f);
#endif
}

int serve_flags_check(const char *prog, struct serve_flags *f, kaon_addr *addr,
		      const kaon_engine_ops **engine)
{
	if (f->port < 0)
		cli_fail(prog, "--port is required");
	int user = cli_stack(prog, f->stack, f->config);
	unsigned cores = 1;
#if defined(KAON_TOOLS_HAVE_CONFIG) && defined(KAON_TOOLS_HAVE_USER)
	if (user) {
		/* kaon's stack: a vcpu per core of [dpdk] cores. */
		static kaon_config c;
		char err[512];
		if (kaon_config_load(&c, f->config, 1, err, sizeof(err)) < 0)
			cli_fail(prog, "--config: %s", err);
		cores = c.dpdk.cores;
		if (f->nvcpus == 1)
			f->nvcpus = cores;
	}
#endif
	if (user && f->nvcpus != (long long)cores)
		cli_fail(prog, "--stack user: one vcpu per core of [dpdk] cores (%u), not --vcpus %lld",
			 cores, f->nvcpus);
	if (user && f->port == 0)
		cli_fail(prog, "--stack user: give a --port (the stack does not pick one)");
	if (user && !f->host_given)
		f->host = "0.0.0.0";
	if (f->config && !user)
		serve_check_config(prog, f->config);
	if (kaon_addr_parse(addr, f->host, (uint16_t)f->port) < 0)
		cli_fail(prog, "--addr: '%s' is not a numeric IPv4 or IPv6 address", f->host);
	*engine = user ? NULL : kaon_io_engine_pick(f->stack);
	return user;
}

void serve_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_raise_nofile(1L << 20); /* as many connections as the hard limit allows */
}

static int cannot_listen(const char *prog, const kaon_addr *addr, int err)
{
	char a[KAON_ADDR_STRLEN];
	fprintf(stderr, "%s: cannot listen on %s: %s\n", prog,
		kaon_addr_format(addr, a, sizeof(a)), strerror(-err));
	return 2;
}

static int start_acceptor(const char *prog, struct serve *sv, kaon_fn fn)
{
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.detached = 1;
	co.name = "acceptor";
	int r = kaon_go_on(sv->v, NULL, &co, fn, sv);
	if (r < 0) {
		fprintf(stderr, "%s: cannot start the acceptor: %s\n", prog, strerror(-r));
		return 1;
	}
	return 0;
}

int serve_start(const char *prog, struct serve **sv, int n, kaon_addr *addr,
		const kaon_engine_ops *engine, const int *cpus, int ncpus)
{
	kaon_listen_opts lo;
	kaon_listen_opts_init(&lo);
	lo.reuseport = n > 1;
	for (int i = 0; i < n; i++) {
		int r = kaon_listen(&sv[i]->ls, addr, &lo);
		if (r < 0)
			return cannot_listen(prog, addr, r);
		/* Port 0: the others bind the port the first one got. */
		if (i == 0 && (r = kaon_sock_local(sv[0]->ls, addr)) < 0) {
			fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(-r));
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		kaon_vcpu_opts vo;
		kaon_vcpu_opts_init(&vo);
		vo.name = sv[i]->vcpu_name;
		vo.cpu = ncpus ? cpus[i % ncpus] : -1;
		vo.engine = engine;
		int r = kaon_vcpu_start(&sv[i]->v, &vo);
		if (r < 0) {
			sv[i]->v = NULL;
			fprintf(stderr, "%s: cannot start vcpu %d (engine %s): %s\n", prog, i,
				engine->name, strerror(-r));
			return 1;
		}
		if ((r = start_acceptor(prog, sv[i], acceptor)) != 0)
			return r;
	}
	return 0;
}

#ifdef KAON_TOOLS_HAVE_USER
/* The user-space stack lives on its vcpu: listen there, then accept. */
static kaon_sem listened;

static void *user_listener(void *arg)
{
	struct serve *sv = arg;
	kaon_listen_opts lo;
	kaon_listen_opts_init(&lo);
	sv->listen_err = kaon_listen(&sv->ls, &sv->addr, &lo);
	kaon_sem_post(&listened);
	if (sv->listen_err < 0)
		return NULL;
	if (sv->listening)
		sv->listening(sv);
	acceptor(sv); /* until the vcpu stops */
	kaon_close(sv->ls);
	sv->ls = NULL;
	return NULL;
}

static void *wait_listened(void *arg)
{
	int n = arg ? *(int *)arg : 1;
	for (int i = 0; i < n; i++)
		kaon_sem_wait(&listened, kaon_deadline_in(10 * 1000000000LL));
	return NULL;
}

int serve_start_user_cores(const char *prog, struct serve **sv, int n, const kaon_addr *addr,
			   const char *config, const int *cpus, int ncpus)
{
	kaon_vcpu_opts vo;
	kaon_vcpu_opts_init(&vo);
	vo.name = sv[0]->vcpu_name;
	if (kaon_user_start(config, &vo, cpus, ncpus) < 0)
		return 2; /* it said why */
	kaon_sem_init(&listened, 0);
	kaon_co_opts co;
	kaon_co_opts_init(&co);
	co.detached = 1;
	co.name = "acceptor";
	/* Each core listens and accepts the connections steered to it; the
	 * vcpus are the group's (kaon_user_stop() stops them). */
	for (int i = 0; i < n; i++) {
		sv[i]->addr = *addr;
		sv[i]->v = NULL;
		int r = kaon_user_go_on((unsigned)i, NULL, &co, user_listener, sv[i]);
		if (r < 0) {
			fprintf(stderr, "%s: cannot start the acceptor of core %d: %s\n", prog, i,
				strerror(-r));
			return 1;
		}
	}
	kaon_run(NULL, wait_listened, &n, NULL); /* this thread is no vcpu */
	for (int i = 0; i < n; i++)
		if (sv[i]->listen_err < 0)
			return cannot_listen(prog, addr, sv[i]->listen_err);
	return 0;
}

int serve_start_user(const char *prog, struct serve *sv, const kaon_addr *addr,
		     const char *config, const int *cpus, int ncpus)
{
	kaon_vcpu_opts vo;
	kaon_vcpu_opts_init(&vo);
	vo.name = sv->vcpu_name;
	vo.cpu = ncpus ? cpus[0] : -1;
	if (kaon_user_setup(&vo, config) < 0)
		return 2; /* it said why: file, line and key */
	kaon_sem_init(&listened, 0);
	sv->addr = *addr;
	int r = kaon_vcpu_start(&sv->v, &vo);
	if (r < 0) {
		sv->v = NULL;
		fprintf(stderr, "%s: cannot start the user-space stack: %s\n", prog, strerror(-r));
		return 1;
	}
	if ((r = start_acceptor(prog, sv, user_listener)) != 0)
		return r;
	kaon_run(NULL, wait_listened, NULL, NULL); /* this thread is no vcpu */
	return sv->listen_err < 0 ? cannot_listen(prog, addr, sv->listen_err) : 0;
}
#endif
