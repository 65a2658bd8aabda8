/* AdamW (src/train/optimizer.ts): one update of a parameter and its two moments. */
#include <math.h>

#include "kernels.h"

typedef struct {
  const float *p, *g, *m, *v;
  float *po, *mo, *vo;
  float b1, c1, b2, c2, bc2, eps, step_size, decay;
  bool decays;
} adamw_ctx;

/*
 * torch.optim.AdamW's single-tensor update, one rounding per operation in torch's order (the file
 * is built with -ffp-contract=off, so no multiply-add is fused): the same float32 results as the
 * op-by-op path.
 */
HOT static void adamw_loop(const float *restrict pw, const float *restrict gw, const float *restrict mw, const float *restrict vw,
                           float *restrict po, float *restrict mo, float *restrict vo, int64_t lo, int64_t hi, float b1, float c1,
                           float b2, float c2, float bc2, float eps, float ss, float decay) {
  for (int64_t i = lo; i < hi; i++) {
    float g = gw[i];
    float m = mw[i] * b1 + g * c1;
    float v = vw[i] * b2 + (g * c2) * g;
    float denom = sqrtf(v) / bc2 + eps;
    float update = (m * ss) / denom;
    mo[i] = m;
    vo[i] = v;
    po[i] = pw[i] * decay - update;
  }
}

/* (The loop takes its pointers and scalars as restrict arguments: read through the context, GCC does not vectorise it.) */
static void adamw_range(void *p, int64_t lo, int64_t hi) {
  const adamw_ctx *c = (const adamw_ctx *)p;
  adamw_loop(c->p, c->g, c->m, c->v, c->po, c->mo, c->vo, lo, hi, c->b1, c->c1, c->b2, c->c2, c->bc2, c->eps, c->step_size,
             c->decays ? c->decay : 1.0f /* x·1 is x exactly */);
}

/*
 * adamw(p, g, m, v, pOut, mOut, vOut, n, beta1, 1 − beta1, beta2, 1 − beta2, √(bias correction 2),
 *       eps, step size, decay factor or NaN for none): every scalar rounded to float32 first.
 */
napi_value adamw(napi_env env, napi_callback_info info) {
  float *p, *g, *m, *v, *po, *mo, *vo;
  size_t lp, lg, lm, lv, lpo, lmo, lvo;
  int64_t n;
  double b1, c1, b2, c2, bc2, eps, ss, decay;
  if (read_args(env, info, "fffffffidddddddd", &p, &lp, &g, &lg, &m, &lm, &v, &lv, &po, &lpo, &mo, &lmo, &vo, &lvo, &n, &b1, &c1,
                &b2, &c2, &bc2, &eps, &ss, &decay)) {
    return throw_type(env, "adamw: expected (p, g, m, v, pOut, mOut, vOut, n, beta1, 1-beta1, beta2, 1-beta2, bc2Sqrt, eps, stepSize, decay)");
  }
  if (n < 0 || (int64_t)lp < n || (int64_t)lg < n || (int64_t)lm < n || (int64_t)lv < n || (int64_t)lpo < n || (int64_t)lmo < n ||
      (int64_t)lvo < n) {
    return throw_range(env, "adamw: n exceeds an array");
  }
  adamw_ctx c = {p, g, m, v, po, mo, vo, (float)b1, (float)c1, (float)b2, (float)c2, (float)bc2, (float)eps, (float)ss,
                 decay == decay ? (float)decay : 1.0f, decay == decay};
  parallel_for(n, 4, 16, adamw_range, &c);
  return NULL;
}
