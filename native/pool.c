/* The element-wise kernels' threads (see pool.h); sgemm also runs batches of small products here. */
#include "pool.h"

#include <pthread.h>
#include <unistd.h>

static int ew_threads = 2;
/* Below this many elements per thread a thread costs more than it saves (~20 µs to start). */
#define EW_GRAIN (1 << 17)

void pool_init(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  ew_threads = cores < 1 ? 1 : cores > MAX_EW_THREADS ? MAX_EW_THREADS : (int)cores;
}

int pool_threads(void) { return ew_threads; }

void pool_set_threads(int n) { ew_threads = n; }

typedef struct { range_fn fn; void *ctx; int64_t lo, hi; } ew_job;

static void *ew_run(void *p) {
  ew_job *j = (ew_job *)p;
  j->fn(j->ctx, j->lo, j->hi);
  return NULL;
}

void parallel_for_threads(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx, int threads) {
  int t = threads < 1 ? 1 : threads > MAX_EW_THREADS ? MAX_EW_THREADS : threads;
  while (t > 1 && n * work_per_item < (int64_t)t * EW_GRAIN) t--;
  if (t <= 1) {
    fn(ctx, 0, n);
    return;
  }
  int64_t chunk = (n + t - 1) / t;
  chunk = ((chunk + align - 1) / align) * align;
  pthread_t th[MAX_EW_THREADS];
  ew_job jobs[MAX_EW_THREADS];
  int started[MAX_EW_THREADS] = {0};
  for (int i = 1; i < t; i++) {
    int64_t lo = i * chunk, hi = (i + 1) * chunk < n ? (i + 1) * chunk : n;
    if (lo >= hi) break;
    jobs[i] = (ew_job){fn, ctx, lo, hi};
    started[i] = pthread_create(&th[i], NULL, ew_run, &jobs[i]) == 0;
    if (!started[i]) fn(ctx, lo, hi);
  }
  fn(ctx, 0, chunk < n ? chunk : n);
  for (int i = 1; i < t; i++)
    if (started[i]) pthread_join(th[i], NULL);
}

void parallel_for(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx) {
  parallel_for_threads(n, work_per_item, align, fn, ctx, ew_threads);
}
