/* SPDX-License-Identifier: MIT */
/**
 * @file kaon/ref.h
 * A buffer lent to a stack instead of copied: who to tell when the stack
 * lets go of it (kaon_sendv_ref in kaon/sock.h, kn_tcp_sendv_ref in
 * kaon/net.h).
 */
#ifndef KAON_REF_H
#define KAON_REF_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kaon_ref {
	void (*release)(void *arg); /**< NULL: the piece is copied */
	void *arg;
} kaon_ref;

#ifdef __cplusplus
}
#endif
#endif
