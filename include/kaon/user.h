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
 * ready), due stack timers, tx flush. Every poll_kernel_us it also polls the
 * vcpu's kernel fds (epoll, timeout 0), so kernel sockets and pipes keep
 * working beside the stack. With KAON_STATS=1 in the environment, a vcpu
 * prints its stack's counters when it stops.
 */
#ifndef KAON_USER_H
#define KAON_USER_H

#include <stdint.h>
#include <stdio.h>

#include "kaon/config.h"
#include "kaon/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kn_stack;

struct kaon_user_opts {
	const kaon_config *conf;   /**< [port0] and [tcp] settings; required */
	uint16_t port;             /**< DPDK port id */
	unsigned poll_kernel_us;   /**< 0: default 20 */
	unsigned link_wait_ms;     /**< wait for link up at start; 0: default 3000 */
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

#ifdef __cplusplus
}
#endif
#endif
