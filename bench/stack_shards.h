/* SPDX-License-Identifier: MIT */
/* stack-loop --shards N (stack_shards.c). */
#ifndef KAON_BENCH_STACK_SHARDS_H
#define KAON_BENCH_STACK_SHARDS_H

/* Set up @p n shards of @p conns connections each (EAL already started),
 * then @p rounds times: one shard alone, all @p n at once, @p secs each.
 * Prints per-round and min/median/max figures. @return exit status. */
int stack_loop_shards(unsigned n, unsigned rounds, double secs, unsigned conns, unsigned size,
		      int offload, int json);

#endif
