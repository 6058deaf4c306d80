/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/user.h
 * kaon's own TCP/IP stack under the socket API: the busy-polling engine a
 * vcpu runs to drive one DPDK port and one stack instance, and the "user"
 * socket stack (kaon_listen_opts.stack = "user", or any socket made on a vcpu
 * running this engine).
 *
 * Set-up: start DPDK's EAL once per process (kaon_dpdk_eal_init), then start
 * a vcpu with .engine = &kaon_engine_user and .engine_arg pointing to a
 * struct kaon_user_opts that outlives the vcpu. One port per vcpu.
 *
 * The engine's poll() is one pass of the busy loop of DESIGN.md: tx flush of
 * what coroutines wrote, rx burst -> stack -> socket events (coroutines made
 * ready), due stack timers, tx flush. Kernel sockets and pipes keep working
 * beside the stack through kaon_io_*'s fallback (poll, then short sleeps).
 * With KAON_STATS=1 in the environment, a vcpu prints its stack's counters
 * when it stops.
 */
#ifndef KAON_USER_H
#define KAON_USER_H

#include <stdint.h>
#include <stdio.h>

#include "kaon/co.h"
#include "kaon/config.h"
#include "kaon/engine.h"
#include "kaon/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kn_stack;
struct kaon_user_group;

struct kaon_user_opts {
	const kaon_config *conf;   /**< [port0] and [tcp] settings; required */
	uint16_t port;             /**< DPDK port id */
	unsigned poll_kernel_us;   /**< unused (kept for source compatibility) */
	unsigned link_wait_ms;     /**< wait for link up at start; 0: default 3000 */
	/** Several cores on one port (kaon_user_group_start() fills these in):
	 * the group, and which of its cores (queue pair) this vcpu is. NULL:
	 * the vcpu opens the port alone, one queue pair. */
	struct kaon_user_group *group;
	unsigned core;
};

/** The busy-polling engine over a DPDK port and kaon's stack. */
extern const kaon_engine_ops kaon_engine_user;

/**
 * The short way: load the config file @p path (which must give [port0] addr
 * and a device), start DPDK's EAL from its [dpdk] section, and set @p vo's
 * engine to the user-space stack on the first port. Once per process.
 * Problems are printed to stderr (file, line, key).
 * @return 0; -EINVAL (bad file, or EAL refused it); -ENOENT/-EACCES (cannot
 *         read the file); -EALREADY (called twice).
 */
int kaon_user_setup(kaon_vcpu_opts *vo, const char *path);

/** Undo kaon_user_setup() once every vcpu using it has stopped. */
void kaon_user_teardown(void);

/**
 * Print the non-zero counters and drop reasons of stack @p s to @p f, one
 * "name value" per line, each line prefixed with @p prefix.
 */
void kaon_user_stats_print(FILE *f, const struct kn_stack *s, const char *prefix);

/** The stack instance of the calling vcpu (NULL if it runs another engine). */
struct kn_stack *kaon_user_stack(void);

/* ------------------------------------------------------- many cores */

/**
 * One stack per core on one port, shared nothing: @p c->dpdk.cores vcpus,
 * vcpu i running the busy-poll engine over queue pair i of port @p port
 * with a stack instance of its own (connections, timers, buffer budget,
 * mempool). Frames reach their flow's core by the NIC's RSS, or through
 * software steering where the device cannot hash (kaon_dpdk_port_open_mq).
 *
 * On such a group a listen opens the listener on every core (reuseport):
 * the same listen made later on another core takes that core's listener,
 * and each core accepts the connections whose SYN it received; a
 * connection stays on its core. An outgoing connection gets a source port
 * whose replies the port delivers to the calling core.
 *
 * @p vo: template for the vcpus (stack size, name; cpu overridden by
 * @p cpus[i % ncpus] when @p ncpus > 0). @p c must outlive the group.
 * @return 0; -EINVAL; -ENOMEM; the port's or an engine's error (printed).
 */
int kaon_user_group_start(struct kaon_user_group **g, const kaon_config *c, uint16_t port,
			  const kaon_vcpu_opts *vo, const int *cpus, int ncpus);

/** Stop every core's vcpu (kaon_vcpu_stop), then close the port. */
void kaon_user_group_stop(struct kaon_user_group *g);

/** Cores of @p g, and the vcpu of core @p core (NULL past the end). */
unsigned kaon_user_group_cores(const struct kaon_user_group *g);
kaon_vcpu *kaon_user_group_vcpu(const struct kaon_user_group *g, unsigned core);

/**
 * The short way for many cores: kaon_user_setup()'s config and EAL start,
 * then kaon_user_group_start() on the first port with [dpdk] cores cores.
 * Once per process; kaon_user_stop() undoes it.
 */
int kaon_user_start(const char *path, const kaon_vcpu_opts *vo, const int *cpus, int ncpus);
void kaon_user_stop(void);

/** Cores of the group the calling vcpu belongs to (else kaon_user_start()'s;
 * 0 when there is none), and the calling vcpu's core (0 elsewhere). */
unsigned kaon_user_cores(void);
unsigned kaon_user_core(void);

/**
 * kaon_go_on() on core @p core of the calling vcpu's group (else of
 * kaon_user_start()'s): start fn(arg) there. The coroutine uses that core's
 * stack; sockets stay on the core that made them.
 * @return as kaon_go_on(); -ENODEV when there is no such core.
 */
int kaon_user_go_on(unsigned core, kaon_co **out, const kaon_co_opts *opts, kaon_fn fn,
		    void *arg);

/**
 * Hand a socket of the calling core to other cores: @p out is a stand-in
 * for @p s that any vcpu may use as it would @p s. The connection stays in
 * the calling core's stack (its frames keep arriving there); each call made
 * through the stand-in from another vcpu runs on this core, in a coroutine
 * the caller waits for (kaon_go_on + kaon_join: a remote push and a wake-up
 * each way, a few microseconds). Connections accepted through a stand-in
 * listener are stand-ins too. kaon_close(@p out) closes @p s and frees the
 * stand-in; @p s is not to be used or closed directly after.
 * @return 0; -EINVAL: not on a vcpu; -ENOMEM.
 */
int kaon_user_forward(kaon_sock *s, kaon_sock **out);

#ifdef __cplusplus
}
#endif
#endif
