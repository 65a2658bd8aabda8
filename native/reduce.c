/*
 * Reductions, accumulated in double.
 * sumRows(x, out, rows, cols): out[j] = Σ_r x[r·cols + j] (the bias gradient). Views from offset 0.
 * sumSquares(x, n) → Σ x², a number (gradient norms): float sums of 1 024 squares in vector lanes,
 *   added up in double.
 */
#include <stdlib.h>

#include "kernels.h"

typedef struct { const float *x; double *acc; int64_t rows, cols; } sum_ctx;

/* Column range [lo, hi) of the row sums: each thread owns whole columns, so no reduction across threads. */
HOT static void sum_cols(void *p, int64_t lo, int64_t hi) {
  sum_ctx *c = (sum_ctx *)p;
  double *acc = c->acc;
  for (int64_t r = 0; r < c->rows; r++) {
    const float *xr = c->x + r * c->cols;
    for (int64_t j = lo; j < hi; j++) acc[j] += xr[j];
  }
}

napi_value sum_rows(napi_env env, napi_callback_info info) {
  float *x, *o;
  size_t lx, lo_;
  int64_t rows, cols;
  if (read_args(env, info, "ffii", &x, &lx, &o, &lo_, &rows, &cols)) return throw_type(env, "sumRows: expected (x, out, rows, cols)");
  if (rows < 0 || cols < 0 || (int64_t)lx < rows * cols || (int64_t)lo_ < cols) return throw_range(env, "sumRows: sizes do not match the arrays");
  double *acc = (double *)calloc((size_t)(cols > 0 ? cols : 1), sizeof(double));
  if (!acc) return throw_error(env, "sumRows: out of memory");
  sum_ctx c = {x, acc, rows, cols};
  parallel_for(cols, rows, 16, sum_cols, &c);
  for (int64_t j = 0; j < cols; j++) o[j] = (float)acc[j];
  free(acc);
  return NULL;
}

#define SQ_BLOCK 65536
#define SQ_LANE_BLOCK 1024

typedef struct { const float *x; int64_t n; double *partial; } sumsq_ctx;

/* Blocks lo..hi: float sums of 1 024 squares in vector lanes, added up in double. */
HOT static void sumsq_blocks(void *p, int64_t lo, int64_t hi) {
  sumsq_ctx *c = (sumsq_ctx *)p;
  for (int64_t blk = lo; blk < hi; blk++) {
    int64_t from = blk * SQ_BLOCK, to = from + SQ_BLOCK < c->n ? from + SQ_BLOCK : c->n;
    double acc = 0.0;
    for (int64_t i = from; i < to; i += SQ_LANE_BLOCK) {
      int64_t end = i + SQ_LANE_BLOCK < to ? i + SQ_LANE_BLOCK : to;
      const float *x = c->x;
      float lane = 0.0f;
#pragma omp simd reduction(+ : lane)
      for (int64_t j = i; j < end; j++) lane += x[j] * x[j];
      acc += lane;
    }
    c->partial[blk] = acc;
  }
}

/* sumSquares(x, n) → Σ x², a number. */
napi_value sum_squares(napi_env env, napi_callback_info info) {
  float *x;
  size_t lx;
  int64_t n;
  if (read_args(env, info, "fi", &x, &lx, &n)) return throw_type(env, "sumSquares: expected (x, n)");
  if (n < 0 || (int64_t)lx < n) return throw_range(env, "sumSquares: n exceeds the array");
  int64_t blocks = (n + SQ_BLOCK - 1) / SQ_BLOCK;
  double *partial = (double *)calloc((size_t)(blocks > 0 ? blocks : 1), sizeof(double));
  if (!partial) return throw_error(env, "sumSquares: out of memory");
  sumsq_ctx c = {x, n, partial};
  parallel_for(blocks, SQ_BLOCK, 1, sumsq_blocks, &c);
  double total = 0.0;
  for (int64_t b = 0; b < blocks; b++) total += partial[b];
  free(partial);
  return make_double(env, total);
}
