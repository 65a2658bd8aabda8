/*
 * The addon's threads (pool.c): a range of items split into contiguous pieces, one per thread, each
 * thread started for the call and joined before it returns (plain pthreads: no spinning pool
 * competing with OpenBLAS's own threads).
 */
#ifndef DISTILLERY_POOL_H
#define DISTILLERY_POOL_H

#include <stdint.h>

/* Most threads one call uses. */
#define MAX_EW_THREADS 16

/* Runs items [lo, hi) of a call; ctx is the kernel's own arguments. */
typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi);

/*
 * Runs fn over [0, n) in up to `threads` contiguous pieces of `align`-multiple size; fewer threads
 * when each would get less than EW_GRAIN units of work (n·work_per_item in all). The calling
 * thread runs the first piece.
 */
void parallel_for_threads(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx, int threads);

/* parallel_for_threads over the element-wise kernels' threads (pool_threads()). */
void parallel_for(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx);

/* The element-wise kernels' threads: one per core (at most MAX_EW_THREADS) until set. */
void pool_init(void);
int pool_threads(void);
void pool_set_threads(int n);

#endif
