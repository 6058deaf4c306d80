/* SPDX-License-Identifier: MIT */
/* Coroutine-local storage: a process-wide key table, and per coroutine an
 * array allocated on first set (so coroutines that never use it pay 8 bytes). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/sched.h"

static _Atomic int nkeys;
static void (*destructors[KAON_CLS_KEYS])(void *);

int kaon_cls_key_create(void (*destructor)(void *))
{
	int k = atomic_load(&nkeys);
	do {
		if (k >= KAON_CLS_KEYS)
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak(&nkeys, &k, k + 1));
	destructors[k] = destructor;
	return k;
}

void *kaon_cls_get(kaon_cls_key key)
{
	kaon_co *co = kaon_self();
	if (!co || !co->cls || key < 0 || key >= KAON_CLS_KEYS)
		return NULL;
	return co->cls[key];
}

int kaon_cls_set(kaon_cls_key key, void *value)
{
	if (key < 0 || key >= atomic_load(&nkeys))
		return -EINVAL;
	kaon_co *co = kaon_self();
	if (!co)
		return -EPERM;
	if (!co->cls) {
		if (!value)
			return 0;
		co->cls = calloc(KAON_CLS_KEYS, sizeof(void *));
		if (!co->cls)
			return -ENOMEM;
	}
	co->cls[key] = value;
	return 0;
}

void kaon__cls_run_destructors(kaon_co *co)
{
	if (!co->cls)
		return;
	/* A destructor may set values again; a few rounds, as pthreads does. */
	for (int round = 0; round < 4; round++) {
		int again = 0;
		int n = atomic_load(&nkeys);
		for (int k = 0; k < n; k++) {
			void *val = co->cls[k];
			if (val && destructors[k]) {
				co->cls[k] = NULL;
				destructors[k](val);
				again = 1;
			}
		}
		if (!again)
			break;
	}
	free(co->cls);
	co->cls = NULL;
}
