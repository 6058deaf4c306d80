/* SPDX-License-Identifier: MIT */
/* One rtnetlink request and its answer, on a socket of its own. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "bif/bif_nl.h"

int bif_nl_attr(struct nlmsghdr *h, size_t cap, unsigned short type, const void *data,
		size_t len)
{
	size_t off = NLMSG_ALIGN(h->nlmsg_len);
	struct rtattr *a;

	if (off + RTA_SPACE(len) > cap)
		return -ENOSPC;
	a = (struct rtattr *)((char *)h + off);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return 0;
}

/* 1: the answer is complete; 0: read more; < 0: error. */
static int walk(const char *buf, size_t n, uint32_t seq, bif_nl_cb cb, void *arg, int *result)
{
	size_t off = 0;

	/* NLMSG_OK/NLMSG_NEXT, spelt out without their signed arithmetic. */
	while (off < n && n - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)(const void *)(buf + off);

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			return -EPROTO;
		off += NLMSG_ALIGN(h->nlmsg_len);
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EPROTO;
			return e->error < 0 ? e->error : 1;
		}
		if (cb) {
			int r = cb(h, arg);

			if (r)
				*result = r;
		}
		if (!(h->nlmsg_flags & NLM_F_MULTI))
			return 1;
	}
	return 0;
}

int bif_nl_talk(struct nlmsghdr *req, bif_nl_cb cb, void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	static __thread uint32_t seq;
	char buf[16384] __attribute__((aligned(8)));
	int fd, rc = 0, result = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	req->nlmsg_seq = ++seq;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	while (rc == 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			rc = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			if (errno == EINTR)
				rc = 0;
			continue;
		}
		rc = walk(buf, (size_t)n, req->nlmsg_seq, cb, arg, &result);
	}
out:
	close(fd);
	return rc < 0 ? rc : result;
}
