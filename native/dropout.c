/*
 * dropout(x, out, n, rate, seedHi, seedLo): x·(1/(1 − rate)) where the element's counter-based
 *   uniform (a hash of the seed and its index) is ≥ rate, else 0; the gradient is the same call
 *   on dy with the same seed (the mask is recomputed, never stored). Views from offset 0.
 */
#include "kernels.h"

typedef struct { const float *x; float *out; uint32_t seed_hi, seed_lo; float rate, scale; } drop_ctx;

/* lowbias32 (Wellons): a 32-bit integer hash with good avalanche, cheap enough to vectorise. */
static inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* A counter-based stream: element i's uniform depends only on (seed, i), so ranges are independent. */
static inline float uniform_at(uint32_t seed_hi, uint32_t seed_lo, uint32_t i) {
  uint32_t h = hash32(hash32(i ^ seed_lo) + seed_hi);
  return (float)(h >> 8) * (1.0f / 16777216.0f); /* 24 bits: exact floats in [0, 1) */
}

HOT static void dropout_range(void *p, int64_t lo, int64_t hi) {
  drop_ctx *c = (drop_ctx *)p;
  const float *x = c->x;
  float *out = c->out;
  const uint32_t shi = c->seed_hi, slo = c->seed_lo;
  const float rate = c->rate, scale = c->scale;
  for (int64_t i = lo; i < hi; i++) {
    float keep = uniform_at(shi, slo, (uint32_t)i) >= rate ? scale : 0.0f;
    out[i] = x[i] * keep;
  }
}

napi_value dropout(napi_env env, napi_callback_info info) {
  float *x, *o;
  size_t lx, lo_;
  int64_t n;
  double rate;
  uint32_t hi, lo;
  if (read_args(env, info, "ffiduu", &x, &lx, &o, &lo_, &n, &rate, &hi, &lo)) return throw_type(env, "dropout: expected (x, out, n, rate, seedHi, seedLo)");
  if (n < 0 || n > 0xffffffffLL || (int64_t)lx < n || (int64_t)lo_ < n || !(rate >= 0 && rate < 1)) {
    return throw_range(env, "dropout: bad size or rate");
  }
  float keep = 1.0f - (float)rate;
  drop_ctx c = {x, o, hi, lo, (float)rate, 1.0f / keep};
  parallel_for(n, 2, 16, dropout_range, &c);
  return NULL;
}
