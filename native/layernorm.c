/*
 * layerNorm(x, gamma, beta, out, rows, cols, eps): per row (x − mean)/√(var + eps)·gamma + beta.
 * layerNormGrad(dy, x, gamma, dx, dgamma, dbeta, rows, cols, eps): its gradients (dgamma and dbeta
 *   summed over rows in double).
 * (Whole arrays from offset 0: pass subarray views.)
 */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

typedef struct { const float *x, *gamma, *beta, *dy; float *out; int64_t cols; float eps; } ln_ctx;

/* Mean and 1/√(var + eps) of one row, in double (then rounded), var as the mean squared deviation. */
static void row_stats(const float *x, int64_t cols, float eps, float *mean, float *rstd) {
  double s = 0;
  for (int64_t j = 0; j < cols; j++) s += x[j];
  float m = (float)(s / (double)cols);
  double v = 0;
  for (int64_t j = 0; j < cols; j++) { float d = x[j] - m; v += (double)d * d; }
  float var = (float)(v / (double)cols);
  *mean = m;
  *rstd = 1.0f / sqrtf(var + eps);
}

HOT static void ln_rows(void *p, int64_t lo, int64_t hi) {
  ln_ctx *c = (ln_ctx *)p;
  for (int64_t r = lo; r < hi; r++) {
    const float *x = c->x + r * c->cols;
    float *o = c->out + r * c->cols;
    float m, rs;
    row_stats(x, c->cols, c->eps, &m, &rs);
    for (int64_t j = 0; j < c->cols; j++) o[j] = (x[j] - m) * rs * c->gamma[j] + c->beta[j];
  }
}

napi_value layer_norm(napi_env env, napi_callback_info info) {
  float *x, *g, *b, *o;
  size_t lx, lg, lb, lo_;
  int64_t rows, cols;
  double eps;
  if (read_args(env, info, "ffffiid", &x, &lx, &g, &lg, &b, &lb, &o, &lo_, &rows, &cols, &eps)) {
    return throw_type(env, "layerNorm: expected (x, gamma, beta, out, rows, cols, eps)");
  }
  if (rows < 0 || cols < 1 || (int64_t)lx < rows * cols || (int64_t)lo_ < rows * cols || (int64_t)lg < cols || (int64_t)lb < cols) {
    return throw_range(env, "layerNorm: sizes do not match the arrays");
  }
  ln_ctx c = {x, g, b, NULL, o, cols, (float)eps};
  parallel_for(rows, cols * 4, 1, ln_rows, &c);
  return NULL;
}

/* Rows per block of layerNormGrad: each block sums its own dgamma/dbeta, so blocks run on any thread. */
#define LN_GRAD_BLOCK 128

typedef struct { const float *dy, *x, *g; float *dx, *scratch; double *acc; int64_t rows, cols; float eps; } ln_grad_ctx;

/* Blocks lo..hi: dx of their rows, and each block's Σ dy·xhat and Σ dy into its own accumulator. */
static void ln_grad_blocks(void *p, int64_t lo, int64_t hi) {
  ln_grad_ctx *c = (ln_grad_ctx *)p;
  const int64_t cols = c->cols;
  for (int64_t blk = lo; blk < hi; blk++) {
    double *acc = c->acc + blk * 2 * cols;
    float *xhat = c->scratch + blk * cols;
    const int64_t r_end = (blk + 1) * LN_GRAD_BLOCK < c->rows ? (blk + 1) * LN_GRAD_BLOCK : c->rows;
    for (int64_t r = blk * LN_GRAD_BLOCK; r < r_end; r++) {
      const float *xr = c->x + r * cols, *dyr = c->dy + r * cols;
      float *dxr = c->dx + r * cols;
      float m, rs;
      row_stats(xr, cols, c->eps, &m, &rs);
      double s1 = 0, s2 = 0;
      for (int64_t j = 0; j < cols; j++) {
        xhat[j] = (xr[j] - m) * rs;
        float dxh = dyr[j] * c->g[j];
        s1 += dxh;
        s2 += (double)dxh * xhat[j];
        acc[j] += (double)dyr[j] * xhat[j];
        acc[cols + j] += dyr[j];
      }
      float mean1 = (float)(s1 / (double)cols), mean2 = (float)(s2 / (double)cols);
      for (int64_t j = 0; j < cols; j++) dxr[j] = rs * (dyr[j] * c->g[j] - mean1 - xhat[j] * mean2);
    }
  }
}

/*
 * dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)), dxhat = dy·gamma, xhat = (x − mean)·rstd;
 * dgamma = Σ_rows dy·xhat, dbeta = Σ_rows dy, summed in double per block of rows, then over blocks
 * in block order (the same result whatever the thread count).
 */
napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  float *dy, *x, *g, *dx, *dg, *db;
  size_t ldy, lx, lg, ldx, ldg, ldb;
  int64_t rows, cols;
  double eps;
  if (read_args(env, info, "ffffffiid", &dy, &ldy, &x, &lx, &g, &lg, &dx, &ldx, &dg, &ldg, &db, &ldb, &rows, &cols, &eps)) {
    return throw_type(env, "layerNormGrad: expected (dy, x, gamma, dx, dgamma, dbeta, rows, cols, eps)");
  }
  int64_t n = rows * cols;
  if (rows < 0 || cols < 1 || (int64_t)ldy < n || (int64_t)lx < n || (int64_t)ldx < n || (int64_t)lg < cols || (int64_t)ldg < cols || (int64_t)ldb < cols) {
    return throw_range(env, "layerNormGrad: sizes do not match the arrays");
  }
  int64_t blocks = (rows + LN_GRAD_BLOCK - 1) / LN_GRAD_BLOCK;
  double *acc = (double *)calloc((size_t)((blocks > 0 ? blocks : 1) * 2 * cols), sizeof(double));
  float *scratch = (float *)malloc((size_t)((blocks > 0 ? blocks : 1) * cols) * sizeof(float));
  if (!acc || !scratch) {
    free(acc);
    free(scratch);
    return throw_error(env, "layerNormGrad: out of memory");
  }
  ln_grad_ctx c = {dy, x, g, dx, scratch, acc, rows, cols, (float)eps};
  parallel_for(blocks, LN_GRAD_BLOCK * cols * 4, 1, ln_grad_blocks, &c);
  for (int64_t j = 0; j < cols; j++) {
    double sg = 0, sb = 0;
    for (int64_t blk = 0; blk < blocks; blk++) {
      sg += acc[blk * 2 * cols + j];
      sb += acc[blk * 2 * cols + cols + j];
    }
    dg[j] = (float)sg;
    db[j] = (float)sb;
  }
  free(acc);
  free(scratch);
  return NULL;
}
