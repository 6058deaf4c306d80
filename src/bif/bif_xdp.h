/* SPDX-License-Identifier: MIT */
/* Finding kaon's XDP program on an interface and its maps (internal). */
#ifndef KAON_BIF_XDP_H
#define KAON_BIF_XDP_H

#include <stddef.h>

/**
 * The fd of the XDP program attached to @p ifname, checked to be kaon's
 * (by name); under libxdp's dispatcher, the kaon program it runs. @return fd >= 0; -ENODEV; -ENOENT (none attached, or a
 * program that is not kaon's: @p err says which); other negative errno.
 */
int bif_xdp_prog_fd(const char *ifname, char *err, size_t errlen);

/**
 * The fd of map @p name used by program @p prog_fd.
 * @return fd >= 0; -ENOENT (the program has no such map); negative errno.
 */
int bif_xdp_map_fd(int prog_fd, const char *name);

/** Non-zero if @p name is the name of a program kaon may detach. */
int bif_xdp_name_is_ours(const char *name);

#endif
