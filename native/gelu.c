/*
 * gelu(x, xOff, out, outOff, n): x·½(1 + erf(x/√2)), in the float operation order of src/model/gelu.ts,
 *   erf from the rational gelu.ts falls back on (so the loop vectorises; error ~4e-7).
 * geluGrad(dy, dyOff, x, xOff, out, outOff, n): dy·(Φ(x) + x·φ(x)).
 */
#include "fastmath.h"
#include "kernels.h"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

typedef struct { const float *x, *dy; float *out; } gelu_ctx;

HOT static void gelu_range(void *p, int64_t lo, int64_t hi) {
  gelu_ctx *c = (gelu_ctx *)p;
  const float *xs = c->x;
  float *out = c->out;
  for (int64_t i = lo; i < hi; i++) {
    float x = xs[i];
    float cdf = (erf_rational(x * INV_SQRT2) + 1.0f) * 0.5f;
    out[i] = x * cdf;
  }
}

HOT static void gelu_grad_range(void *p, int64_t lo, int64_t hi) {
  gelu_ctx *c = (gelu_ctx *)p;
  const float *xs = c->x, *dy = c->dy;
  float *out = c->out;
  for (int64_t i = lo; i < hi; i++) {
    float x = xs[i];
    float pdf = exp_nonpositive((x * x) * -0.5f) * INV_SQRT_2PI;
    float cdf = (erf_rational(x * INV_SQRT2) + 1.0f) * 0.5f;
    out[i] = dy[i] * (cdf + x * pdf);
  }
}

static napi_value gelu_common(napi_env env, napi_callback_info info, bool grad) {
  float *x, *out, *dy = NULL;
  size_t lx, lo_, ldy = 0;
  int64_t xOff, oOff, dyOff = 0, n;
  bool bad = grad ? read_args(env, info, "fififii", &dy, &ldy, &dyOff, &x, &lx, &xOff, &out, &lo_, &oOff, &n)
                  : read_args(env, info, "fifii", &x, &lx, &xOff, &out, &lo_, &oOff, &n);
  if (bad) return throw_type(env, grad ? "geluGrad: expected (dy, dyOff, x, xOff, out, outOff, n)" : "gelu: expected (x, xOff, out, outOff, n)");
  if (n < 0 || xOff < 0 || oOff < 0 || dyOff < 0 || xOff + n > (int64_t)lx || oOff + n > (int64_t)lo_ || (grad && dyOff + n > (int64_t)ldy)) {
    return throw_range(env, "gelu: a range lies outside its array");
  }
  gelu_ctx c = {x + xOff, grad ? dy + dyOff : NULL, out + oOff};
  parallel_for(n, 8, 16, grad ? gelu_grad_range : gelu_range, &c);
  return NULL;
}

napi_value gelu(napi_env env, napi_callback_info info) { return gelu_common(env, info, false); }
napi_value gelu_grad(napi_env env, napi_callback_info info) { return gelu_common(env, info, true); }
