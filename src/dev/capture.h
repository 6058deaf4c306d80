/* SPDX-License-Identifier: MIT */
#ifndef KAON_DEV_CAPTURE_H
#define KAON_DEV_CAPTURE_H

/* After rte_eal_init(): serve dpdk-dumpcap's capture requests. A failure is
 * a warning on stderr, never fatal. */
void kaon__capture_init(void);
/* Before rte_eal_cleanup(). */
void kaon__capture_fini(void);

#endif
