/* SPDX-License-Identifier: MIT */
/* A minimal rtnetlink request/response loop (internal). */
#ifndef KAON_BIF_NL_H
#define KAON_BIF_NL_H

#include <stddef.h>

#include <linux/netlink.h>

/* Called for each message of the answer; a non-zero return is kept as the
 * result of bif_nl_talk() (the rest of a dump is still read). */
typedef int (*bif_nl_cb)(const struct nlmsghdr *h, void *arg);

/**
 * Send @p req on a fresh NETLINK_ROUTE socket and read the answer up to
 * NLMSG_DONE or the ACK/error, with a 1 s timeout per read.
 * @return the last non-zero @p cb result, else 0; the negative errno of an
 *         NLMSG_ERROR; -ETIMEDOUT; other negative errno.
 */
int bif_nl_talk(struct nlmsghdr *req, bif_nl_cb cb, void *arg);

/** Append attribute @p type to @p h (buffer of @p cap bytes). @return 0 or -ENOSPC. */
int bif_nl_attr(struct nlmsghdr *h, size_t cap, unsigned short type, const void *data,
		size_t len);

#endif
