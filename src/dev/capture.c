/* SPDX-License-Identifier: MIT */
/* Packet capture of a running kaon: rte_pdump_init() lets DPDK's
 * dpdk-dumpcap (a secondary process on kaon's --file-prefix) ask kaon's
 * ports for a copy of every frame they receive and send, into pcapng. It
 * costs nothing until a capture starts: pdump then adds ethdev rx/tx
 * callbacks that copy frames into dumpcap's ring. */
#include "dev/capture.h"

#include <stdio.h>

#include <rte_eal.h>
#include <rte_errno.h>

#if __has_include(<rte_pdump.h>)
#include <rte_pdump.h>
#define HAVE_PDUMP 1
#endif

static int pdump_on;

void kaon__capture_init(void)
{
#ifdef HAVE_PDUMP
	/* Only a primary process serves capture requests (a secondary kaon
	 * would be dumpcap's peer, not its server). */
	if (pdump_on || rte_eal_process_type() != RTE_PROC_PRIMARY)
		return;
	if (rte_pdump_init() < 0) {
		/* Capture is a debugging aid: kaon runs without it. */
		fprintf(stderr, "kaon: warning: packet capture unavailable (rte_pdump_init: %s)\n",
			rte_strerror(rte_errno));
		return;
	}
	pdump_on = 1;
#endif
}

void kaon__capture_fini(void)
{
#ifdef HAVE_PDUMP
	if (pdump_on)
		rte_pdump_uninit();
	pdump_on = 0;
#endif
}
