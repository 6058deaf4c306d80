/* SPDX-License-Identifier: MIT */
/* The state of one config file being read, shared by kaon's own format
 * (config.c) and F-Stack's (fstack.c), which maps its keys onto kaon's. */
#ifndef KAON_CONF_LOADER_H
#define KAON_CONF_LOADER_H

#include <stdint.h>
#include <stdio.h>

#include "kaon/config.h"

struct loader {
	kaon_config *c;
	FILE *f;
	int line;            /* of the line inih is handling */
	int long_line;       /* a line did not fit inih's buffer */
	char *err;
	size_t errlen;
	int failed;
	/* Keys seen, to refuse duplicates: one bit per key id. */
	uint64_t seen;
	int addr_line, gateway_line;
	int fail_line;

	/* F-Stack files only (fstack.c). */
	int fstack;
	FILE *warn;                    /* NULL: warnings are not printed */
	const char *fs_section, *fs_key; /* the F-Stack key being mapped, for messages */
	unsigned port;                 /* port_list's one port: [portN] is kaon's port0 */
	uint32_t broadcast;            /* network byte order; 0: not given */
	int broadcast_line;
	int delayed_ack_off;           /* net.inet.tcp.delayed_ack = 0 */
	int delacktime_line;
	int lcore_line, n_lcores;
	/* [dpdk] nb_vdev and the [vdevN] sections: virtio_user devices, put
	 * together once the whole file is read (fstack.c). */
	int nb_vdev, nb_vdev_line;
	struct fs_vdev {
		int line;               /* of the section's first key; 0: not seen */
		unsigned seen;          /* keys given, to refuse one given twice */
		char path[KAON_CONF_STR];
		char mac[18];
		unsigned long queues, queue_size, cq;
	} vdev[KAON_CONF_MAX_DEVARGS];
};

/* Set kaon's [section] name to value, checked; 1 on success, 0 on failure
 * (l->err says why). The inih handler of kaon's own format. */
int kaon__conf_set(void *user, const char *section, const char *name, const char *value);

/* Record the first failure (later ones are dropped); returns 0 for inih. */
int kaon__conf_fail(struct loader *l, int line, const char *section, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "FILE:LINE: warning: [section] key: ..." to l->warn. */
void kaon__conf_warn(struct loader *l, int line, const char *section, const char *key,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* 1 if @p f reads as an F-Stack file: a [freebsd.*] section, or [dpdk]
 * lcore_mask or port_list. Rewinds @p f. */
int kaon__fstack_sniff(FILE *f);

/* The inih handler for F-Stack files, and the checks that need the whole
 * file (run before kaon's own). */
int kaon__fstack_set(void *user, const char *section, const char *name, const char *value);
void kaon__fstack_check_whole(struct loader *l);

#endif
