/* SPDX-License-Identifier: MIT */
/*
 * Many cores on one port, shared nothing: a group of vcpus, each running
 * the busy-poll engine over its own queue pair and its own stack instance.
 * The group is written while it starts and read-only afterwards; what the
 * cores say to each other (a listen that must reach every core) goes as
 * coroutines started on the other core, never as a call into its stack.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sock/user_impl.h"

static _Atomic int stopping; /* a group is stopping: no more cross-core calls */
static struct kaon_user_group *default_group; /* kaon_user_start()'s */

unsigned kaon_user_group_cores(const struct kaon_user_group *g)
{
	return g ? g->n : 0;
}

kaon_vcpu *kaon_user_group_vcpu(const struct kaon_user_group *g, unsigned core)
{
	return g && core < g->n ? g->vcpu[core] : NULL;
}

int kaon__user_group_each(struct kaon_user_group *g, unsigned self, kaon_fn fn, void *arg)
{
	if (!g || g->n < 2 || atomic_load(&stopping))
		return 0;
	kaon_co *co[KAON_DPDK_MAX_QUEUES];
	int rc = 0;
	for (unsigned i = 0; i < g->n; i++) {
		co[i] = NULL;
		if (i == self)
			continue;
		int r = kaon_go_on(g->vcpu[i], &co[i], NULL, fn, arg);
		if (r < 0 && r != -ESHUTDOWN && !rc)
			rc = r;
	}
	for (unsigned i = 0; i < g->n; i++) {
		void *res = NULL;
		if (co[i] && kaon_join(co[i], KAON_FOREVER, &res) == 0 && res && !rc)
			rc = (int)(intptr_t)res;
	}
	return rc;
}

void kaon_user_group_stop(struct kaon_user_group *g)
{
	if (!g)
		return;
	/* Listeners closing while their vcpus stop must not start work on
	 * a vcpu already gone: the engines free what is left. */
	atomic_store(&stopping, 1);
	for (unsigned i = 0; i < g->n; i++)
		if (g->vcpu[i])
			kaon_vcpu_stop(g->vcpu[i]);
	/* Queues no engine took (a core that failed to start). */
	for (unsigned i = 0; i < g->n; i++)
		kaon_dpdk_port_close(g->q[i]);
	if (default_group == g)
		default_group = NULL;
	free(g);
	atomic_store(&stopping, 0);
}

int kaon_user_group_start(struct kaon_user_group **out, const kaon_config *c, uint16_t port,
			  const kaon_vcpu_opts *vo, const int *cpus, int ncpus)
{
	unsigned n = c->dpdk.cores ? c->dpdk.cores : 1;
	struct kaon_user_group *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->conf = c;
	g->port = port;
	g->n = n;
	char err[512];
	int rc = kaon_dpdk_port_open_mq(g->q, n, c, port, 3000, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "kaon: %s\n", err);
		free(g);
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		g->opts[i] = (struct kaon_user_opts){ .conf = c, .port = port, .group = g, .core = i };
		kaon_vcpu_opts o;
		if (vo)
			o = *vo;
		else
			kaon_vcpu_opts_init(&o);
		o.engine = &kaon_engine_user;
		o.engine_arg = &g->opts[i];
		if (ncpus > 0)
			o.cpu = cpus[i % (unsigned)ncpus];
		rc = kaon_vcpu_start(&g->vcpu[i], &o);
		if (rc < 0) {
			fprintf(stderr, "kaon: cannot start core %u of %u: %s\n", i, n, strerror(-rc));
			g->vcpu[i] = NULL;
			kaon_user_group_stop(g);
			return rc;
		}
	}
	*out = g;
	return 0;
}

/* ---------------------------------------------------- the process's group */

static kaon_config start_conf;

int kaon_user_start(const char *path, const kaon_vcpu_opts *vo, const int *cpus, int ncpus)
{
	if (default_group)
		return -EALREADY;
	/* The config and EAL as kaon_user_setup() does them. */
	int rc = kaon__user_setup_conf(path, &start_conf);
	if (rc < 0)
		return rc;
	struct kaon_user_group *g;
	rc = kaon_user_group_start(&g, &start_conf, 0, vo, cpus, ncpus);
	if (rc < 0) {
		kaon_user_teardown();
		return rc;
	}
	default_group = g;
	return 0;
}

void kaon_user_stop(void)
{
	if (default_group) {
		kaon_user_group_stop(default_group);
		kaon_user_teardown();
	}
}

static struct kaon_user_group *my_group(void)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	return e && e->group ? e->group : default_group;
}

unsigned kaon_user_cores(void)
{
	struct kaon_user_group *g = my_group();
	if (g)
		return g->n;
	return kaon__user_engine_self() ? 1 : 0;
}

unsigned kaon_user_core(void)
{
	struct kaon_user_engine *e = kaon__user_engine_self();
	return e ? e->core : 0;
}

int kaon_user_go_on(unsigned core, kaon_co **out, const kaon_co_opts *opts, kaon_fn fn,
		    void *arg)
{
	struct kaon_user_group *g = my_group();
	if (!g && core == 0 && kaon__user_engine_self())
		return kaon_go_on(kaon_vcpu_self(), out, opts, fn, arg); /* one core, no group */
	if (!g || core >= g->n || !g->vcpu[core])
		return -ENODEV;
	return kaon_go_on(g->vcpu[core], out, opts, fn, arg);
}
