/*
 * Softmax over the last axis, and its gradient.
 * softmax(x, out, rows, cols); softmaxGrad(dy, y, out, rows, cols). Views from offset 0.
 */
#include "fastmath.h"
#include "kernels.h"

typedef struct { const float *x, *dy; float *out; int64_t cols; } softmax_ctx;

HOT static void softmax_rows(void *p, int64_t lo, int64_t hi) {
  softmax_ctx *c = (softmax_ctx *)p;
  const int64_t K = c->cols;
  for (int64_t r = lo; r < hi; r++) {
    const float *x = c->x + r * K;
    float *o = c->out + r * K;
    float mx = x[0];
#pragma omp simd reduction(max : mx)
    for (int64_t j = 1; j < K; j++) mx = x[j] > mx ? x[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < K; j++) {
      float e = exp_nonpositive_or_zero(x[j] - mx);
      o[j] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < K; j++) o[j] *= inv;
  }
}

/* dx = y·(dy − Σ dy·y) per row. */
HOT static void softmax_grad_rows(void *p, int64_t lo, int64_t hi) {
  softmax_ctx *c = (softmax_ctx *)p;
  const int64_t K = c->cols;
  for (int64_t r = lo; r < hi; r++) {
    const float *y = c->x + r * K, *dy = c->dy + r * K;
    float *o = c->out + r * K;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < K; j++) dot += dy[j] * y[j];
    for (int64_t j = 0; j < K; j++) o[j] = y[j] * (dy[j] - dot);
  }
}

/* softmax(x, out, rows, cols); softmaxGrad(dy, y, out, rows, cols). Views from offset 0. */
static napi_value softmax_common(napi_env env, napi_callback_info info, bool grad) {
  float *x, *dy = NULL, *o;
  size_t lx, ldy = 0, lo_;
  int64_t rows, cols;
  bool bad = grad ? read_args(env, info, "fffii", &dy, &ldy, &x, &lx, &o, &lo_, &rows, &cols)
                  : read_args(env, info, "ffii", &x, &lx, &o, &lo_, &rows, &cols);
  if (bad) return throw_type(env, grad ? "softmaxGrad: expected (dy, y, out, rows, cols)" : "softmax: expected (x, out, rows, cols)");
  int64_t n = rows * cols;
  if (rows < 0 || cols < 1 || (int64_t)lx < n || (int64_t)lo_ < n || (grad && (int64_t)ldy < n)) {
    return throw_range(env, "softmax: sizes do not match the arrays");
  }
  softmax_ctx c = {x, dy, o, cols};
  parallel_for(rows, cols * 4, 1, grad ? softmax_grad_rows : softmax_rows, &c);
  return NULL;
}

napi_value softmax(napi_env env, napi_callback_info info) { return softmax_common(env, info, false); }
napi_value softmax_grad(napi_env env, napi_callback_info info) { return softmax_common(env, info, true); }
