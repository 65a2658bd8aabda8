/*
 * Branch-free float erf, exp and log with no library calls, so the loops that use them (gelu.c,
 * softmax.c, attention_kl.c) vectorise. Inline: each file gets its own copy in its hot loop.
 */
#ifndef DISTILLERY_FASTMATH_H
#define DISTILLERY_FASTMATH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* erf as in src/model/gelu.ts: Eigen's odd/even rational on [−4, 4], ±1 beyond; error ~4e-7. */
static inline float erf_rational(float x) {
  float xc = x > 4.0f ? 4.0f : x; /* two plain selects: the loops stay branch-free */
  xc = xc < -4.0f ? -4.0f : xc;
  float x2 = xc * xc;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return xc * p / q;
}

/* exp for x ≤ 0 (Cephes expf: range reduction by ln 2, degree-6 polynomial; ~1 ulp). */
static inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  /* n = round(x / ln 2) by the 1.5·2^23 trick: no float→int conversion inside the rounding. */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r2 + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return y * two_n;
}

/* ln x for x > 0 (Cephes logf: x = m·2^e, m in [√½, √2), degree-8 polynomial; ~1 ulp for normal x). NaN stays NaN. */
static inline float log_positive(float x) {
  int32_t bits;
  memcpy(&bits, &x, sizeof bits);
  float e = (float)(((bits >> 23) & 0xff) - 126);
  bits = (bits & 0x007fffff) | 0x3f000000; /* the mantissa as a float in [0.5, 1) */
  float m;
  memcpy(&m, &bits, sizeof m);
  bool low = m < 0.707106781186547524f;
  e = low ? e - 1.0f : e;
  m = (low ? m + m : m) - 1.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  float r = m + y + 0.693359375f * e;
  return x != x ? x : r;
}

/* e^x for x ≤ 0 that gives exactly 0 below the float range (the masked scores of a softmax). */
static inline float exp_nonpositive_or_zero(float x) {
  float y = exp_nonpositive(x);
  return x < -87.0f ? 0.0f : y;
}

#endif
