/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/config.h
 * kaon's configuration file: one INI file close in spirit to F-Stack's
 * f-stack.conf. Sections [dpdk], [port0], [tcp] and [bifurcation]; every key
 * is documented in kaon.conf.example. A bad file is refused whole, with one
 * message naming the file, the line and the key; unknown sections and keys
 * are errors, and so is a key given twice (except the repeatable `vdev` and
 * `allow`). F-Stack's f-stack.conf is read too, its keys mapped onto kaon's
 * (kaon_config_load_warn()).
 */
#ifndef KAON_CONFIG_H
#define KAON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KAON_CONF_MAX_DEVARGS 8   /**< vdev= and allow= lines each */
#define KAON_CONF_MAX_PORTS 64    /**< tcp_ports and udp_ports each */
#define KAON_CONF_STR 192         /**< longest string value + 1 */

enum kaon_bif_mode {
	KAON_BIF_OFF = 0,   /**< kaon owns the whole port */
	KAON_BIF_XDP,       /**< af_xdp PMD + kaon's XDP program */
	KAON_BIF_RTE_FLOW,  /**< isolated mode + flow rules */
};

/** [tcp] congestion */
enum kaon_cc {
	KAON_CC_CUBIC = 0,  /**< RFC 9438 (default) */
	KAON_CC_NEWRENO,    /**< RFC 5681, RFC 6582 */
};

/** af_packet's ring, in frames, unless the vdev names its framecnt. */
#define KAON_AF_PACKET_FRAMES 4096

typedef struct kaon_config {
	char path[KAON_CONF_STR];
	int fstack;                            /**< the file was F-Stack's format */

	struct {
		char lcores[KAON_CONF_STR];        /**< EAL -l, default "0" */
		char allow[KAON_CONF_MAX_DEVARGS][KAON_CONF_STR];
		int n_allow;
		char vdev[KAON_CONF_MAX_DEVARGS][KAON_CONF_STR];
		int n_vdev;
		unsigned memory_mb;                /**< EAL -m, default 256 */
		int no_huge;                       /**< EAL --no-huge, default 0 */
		unsigned mem_channels;             /**< EAL -n, 0 (default): EAL's own */
		char file_prefix[KAON_CONF_STR];   /**< EAL --file-prefix, default "kaon" */
		int log_level;                     /**< EAL --log-level, 1..8, default 5 */
		unsigned pkt_tx_delay_us;          /**< tx batching delay, default 0 */
		unsigned idle_sleep_us;            /**< sleep when idle, default 0 (spin) */
		unsigned nb_mbufs;                 /**< mempool size, default 16383 */
		unsigned rx_desc, tx_desc;         /**< ring sizes, default 1024 */
		unsigned cores;                    /**< stack instances, one per core and
						    *   queue pair; default 1 */
		unsigned rx_queues;                /**< receive queues; 0 (default): one per core */
		int soft_rss;                      /**< steer in software even where the NIC hashes */
	} dpdk;

	struct {
		uint32_t addr;                     /**< network byte order; required */
		uint32_t netmask;                  /**< network byte order; default /24 */
		uint32_t gateway;                  /**< 0: none */
		unsigned mtu;                      /**< default 1500 */
		int has_addr;
	} port0;

	struct {
		unsigned rcvbuf, sndbuf;           /**< bytes per socket, default 256 KiB */
		unsigned delayed_ack_us;           /**< 0: ACK at once; default 1000 */
		unsigned time_wait_ms;             /**< TIME_WAIT duration, default 2000 */
		unsigned syn_retries;              /**< default 5 */
		unsigned rto_min_ms, rto_max_ms;   /**< default 200, 60000 */
		unsigned keepalive_s;              /**< 0: off (default) */
		unsigned max_sockets;              /**< default 65536 */
		unsigned rcv_mem, snd_mem;         /**< stack-wide buffer budget, mbufs; 0 (default): from nb_mbufs */
		int nodelay;                       /**< Nagle off (1, default) or on */
		unsigned syn_backlog;              /**< half-open per listener before
						    *   SYN cookies, default 1024 */
		enum kaon_cc congestion;           /**< congestion control, default CUBIC */
	} tcp;

	struct {
		enum kaon_bif_mode mode;
		uint16_t tcp_ports[KAON_CONF_MAX_PORTS];
		int n_tcp_ports;
		uint16_t udp_ports[KAON_CONF_MAX_PORTS];
		int n_udp_ports;
		uint16_t local_port_lo, local_port_hi; /**< default 40000-59999 */
	} bif;
} kaon_config;

/** Fill @p c with every default (no address: port0.has_addr = 0). */
void kaon_config_defaults(kaon_config *c);

/**
 * Read and check @p path. On failure @p c is left with defaults and @p err
 * holds one line: "FILE:LINE: [section] key: what is wrong" (LINE and key
 * when they apply).
 *
 * @param need_port  non-zero: [port0] addr must be given (the user-space
 *                   stack needs it; kernel back ends do not).
 * @return 0; -ENOENT or -EACCES (cannot open); -EINVAL (bad content).
 */
int kaon_config_load(kaon_config *c, const char *path, int need_port, char *err,
		     size_t errlen);

/**
 * kaon_config_load(), with warnings to @p warn (kaon_config_load() uses
 * stderr; NULL: none). Only F-Stack files warn: an F-Stack file (one with a
 * [freebsd.boot] or [freebsd.sysctl] section, or [dpdk] lcore_mask or
 * port_list) is read by mapping its keys onto kaon's (docs/config.md, "F-Stack's
 * f-stack.conf"); a key kaon ignores gets one warning line "FILE:LINE:
 * warning: [section] key: ...", a key kaon cannot honour fails the load.
 */
int kaon_config_load_warn(kaon_config *c, const char *path, int need_port, FILE *warn,
			  char *err, size_t errlen);

/**
 * The EAL arguments the [dpdk] section stands for, as a NULL-terminated argv
 * (argv[0] = @p prog) in @p buf / @p argv. @return argc, or -ENOSPC when
 * @p nargv or @p buflen is too small.
 */
int kaon_config_eal_argv(const kaon_config *c, const char *prog, char **argv, int nargv,
			 char *buf, size_t buflen);

/** The frames of an af_packet vdev's ring: its framecnt= or the default kaon
 * gives it (KAON_AF_PACKET_FRAMES). */
unsigned kaon_conf_af_packet_frames(const char *vdev_args);

#ifdef __cplusplus
}
#endif
#endif
