/*
 * The attention KL loss (src/distill/losses.ts, attentionKl) and its gradient.
 */
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "kernels.h"

typedef struct {
  const float *t, *s, *mask;
  float *out;       /* gradient w.r.t. s (grad only) */
  double *row_sums; /* per row (forward only) */
  int64_t heads, q, k;
  float eps, t_eps, scale;
} akl_ctx;

/* Row r of [batch, heads, q, k] and its mask row: the batch index. */
#define AKL_ROW_BATCH(c, r) ((r) / ((c)->heads * (c)->q))

/*
 * Σ_k mask[b,k]·(t·ln max(t, t_eps) − t·ln max(s, eps)) per query row whose own mask is set; rows
 * and keys with mask 0 add nothing, whatever their values.
 */
HOT static void akl_rows(void *p, int64_t lo, int64_t hi) {
  akl_ctx *c = (akl_ctx *)p;
  const int64_t K = c->k;
  const float eps = c->eps, teps = c->t_eps;
  for (int64_t r = lo; r < hi; r++) {
    const int64_t b = AKL_ROW_BATCH(c, r), qi = r % c->q;
    const float *km = c->mask + b * K;
    if (km[qi] == 0.0f) {
      c->row_sums[r] = 0.0;
      continue;
    }
    const float *t = c->t + r * K, *s = c->s + r * K;
    /* A float sum per row (in vector lanes: a double one does not vectorise), double across rows. */
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t j = 0; j < K; j++) {
      float tj = t[j], sj = s[j];
      float tc = tj < teps ? teps : tj, sc = sj < eps ? eps : sj;
      float term = tj * log_positive(tc) - tj * log_positive(sc);
      acc += km[j] != 0.0f ? term : 0.0f;
    }
    c->row_sums[r] = acc;
  }
}

/* ∂/∂s of scale·(the sum above): −scale·t/s where s ≥ eps (the clamp passes no gradient below it). */
HOT static void akl_grad_rows(void *p, int64_t lo, int64_t hi) {
  akl_ctx *c = (akl_ctx *)p;
  const int64_t K = c->k;
  const float eps = c->eps, scale = c->scale;
  for (int64_t r = lo; r < hi; r++) {
    const int64_t b = AKL_ROW_BATCH(c, r), qi = r % c->q;
    const float *km = c->mask + b * K;
    float *o = c->out + r * K;
    if (km[qi] == 0.0f) {
      memset(o, 0, (size_t)K * sizeof(float));
      continue;
    }
    const float *t = c->t + r * K, *s = c->s + r * K;
    for (int64_t j = 0; j < K; j++) {
      float sj = s[j];
      float g = -(scale * t[j]) / sj;
      o[j] = (km[j] != 0.0f && sj >= eps) ? g : 0.0f;
    }
  }
}

/*
 * attentionKl(t, s, mask, batch, heads, q, k, eps, tEps) → the masked sum (a number, summed in
 * double); attentionKlGrad(t, s, mask, out, batch, heads, q, k, eps, scale). t and s are
 * [batch, heads, q, k], mask [batch, k] with q = k (self-attention), views from offset 0.
 */
static napi_value attention_kl_common(napi_env env, napi_callback_info info, bool grad) {
  float *t, *s, *mask, *out = NULL;
  size_t lt, ls, lm, lo_ = 0;
  int64_t batch, heads, q, k;
  double eps, last;
  bool bad = grad ? read_args(env, info, "ffffiiiidd", &t, &lt, &s, &ls, &mask, &lm, &out, &lo_, &batch, &heads, &q, &k, &eps, &last)
                  : read_args(env, info, "fffiiiidd", &t, &lt, &s, &ls, &mask, &lm, &batch, &heads, &q, &k, &eps, &last);
  if (bad) {
    return throw_type(env, grad ? "attentionKlGrad: expected (t, s, mask, out, batch, heads, q, k, eps, scale)"
                                : "attentionKl: expected (t, s, mask, batch, heads, q, k, eps, tEps)");
  }
  int64_t rows = batch * heads * q, n = rows * k;
  if (batch < 0 || heads < 1 || q < 1 || k < 1 || q != k || (int64_t)lt < n || (int64_t)ls < n || (int64_t)lm < batch * k ||
      (grad && (int64_t)lo_ < n)) {
    return throw_range(env, "attentionKl: sizes do not match the arrays");
  }
  akl_ctx c = {t, s, mask, out, NULL, heads, q, k, (float)eps, grad ? 0.0f : (float)last, grad ? (float)last : 0.0f};
  if (grad) {
    parallel_for(rows, k * 4, 1, akl_grad_rows, &c);
    return NULL;
  }
  c.row_sums = (double *)malloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
  if (!c.row_sums) return throw_error(env, "attentionKl: out of memory");
  parallel_for(rows, k * 8, 1, akl_rows, &c);
  double total = 0.0;
  for (int64_t r = 0; r < rows; r++) total += c.row_sums[r];
  free(c.row_sums);
  return make_double(env, total);
}

napi_value attention_kl(napi_env env, napi_callback_info info) { return attention_kl_common(env, info, false); }
napi_value attention_kl_grad(napi_env env, napi_callback_info info) { return attention_kl_common(env, info, true); }
