/*
 * distillery_blas: a minimal N-API addon over a system CBLAS (OpenBLAS on Debian/Ubuntu). It runs
 * single-precision matrix products directly on the memory of JavaScript typed arrays (the wasm
 * backend's heap, or the cpu backend's arrays), so TF.js matrix kernels can use an optimised GEMM
 * without copying operands. Plain C against node_api.h (shipped with Node): no npm dependency.
 *
 * sgemm(a, aOff, b, bOff, c, cOff, transA, transB, m, n, k, batch, strideA, strideB, strideC,
 *       bias, biasOff)
 *   For i in [0, batch): C_i[m×n] = op(A_i) · op(B_i) (+ bias[n] on every row when `bias` is a
 *   Float32Array, not null), row-major, where A_i starts at element aOff + i·strideA of `a`
 *   (stride 0 broadcasts one matrix) and op(X) = Xᵀ when trans is set. Every range is checked
 *   against its array before any arithmetic.
 * setThreads(n), threads(), config()
 *
 * Element-wise kernels on the same kind of memory, split over up to `elementwiseThreads` threads
 * for large arrays (plain pthreads: no spinning thread pool competing with OpenBLAS's):
 * binary(op, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, out, outOff, rows, cols)
 *   out[r·cols + j] = a[aOff + r·aRowStride + j·aColStride] op b[…], op 0 add, 1 sub, 2 mul, 3 div;
 *   strides express same-shape (cols, 1), scalar (0, 0), repeated row (0, 1), per-row scalar (1, 0).
 * gelu(x, xOff, out, outOff, n): x·½(1 + erf(x/√2)), in the float operation order of src/model/gelu.ts,
 *   erf from the rational gelu.ts falls back on (so the loop vectorises; error ~4e-7).
 * geluGrad(dy, dyOff, x, xOff, out, outOff, n): dy·(Φ(x) + x·φ(x)).
 * layerNorm(x, gamma, beta, out, rows, cols, eps): per row (x − mean)/√(var + eps)·gamma + beta.
 * layerNormGrad(dy, x, gamma, dx, dgamma, dbeta, rows, cols, eps): its gradients (dgamma and dbeta
 *   summed over rows in double).
 * dropout(x, out, n, rate, seedHi, seedLo): x·(1/(1 − rate)) where the element's counter-based
 *   uniform (a hash of the seed and its index) is ≥ rate, else 0; the gradient is the same call
 *   on dy with the same seed (the mask is recomputed, never stored).
 * sumRows(x, out, rows, cols): out[j] = Σ_r x[r·cols + j], accumulated in double.
 * Training kernels (src/model/fast-kernels/training-kernels.ts), each documented where defined:
 * softmax, softmaxGrad, attentionKl, attentionKlGrad, adamw, sumSquares, stridedCopy (transposes
 * and slices), gatherRows.
 * (These take whole arrays from offset 0: pass subarray views.)
 * setElementwiseThreads(n), elementwiseThreads()
 *
 * Batched products of small matrices run one per thread (OpenBLAS on one thread inside each):
 * its own fork-join per product cost as much as the product.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

/*
 * Hot loops get an AVX2 clone next to the baseline one; the loader picks by CPU (x86-64 Linux).
 * The element-wise math has no library calls, so both clones vectorise.
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

/* OpenBLAS extensions (declared in its cblas.h; repeated so other CBLAS headers also compile). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

#define CHECK(call)                                                         \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      napi_throw_error(env, NULL, "distillery_blas: N-API call failed");    \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

static bool float_array(napi_env env, napi_value v, float **data, size_t *length) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return false;
  napi_typedarray_type type;
  void *ptr = NULL;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, &buffer, &offset) != napi_ok) return false;
  if (type != napi_float32_array) return false;
  *data = (float *)ptr;
  return true;
}

static bool get_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static bool get_bool(napi_env env, napi_value v, bool *out) {
  return napi_get_value_bool(env, v, out) == napi_ok;
}

/* ---- argument reading ---- */

/*
 * Reads exactly strlen(fmt) arguments: 'f' a Float32Array (float **, size_t *length), 'i' an
 * integer (int64_t *), 'd' a number (double *). False when the count or a type is wrong.
 */
static bool read_args(napi_env env, napi_callback_info info, const char *fmt, ...) {
  napi_value argv[24];
  size_t want = strlen(fmt), argc = 24;
  if (want > 24 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return false;
  va_list ap;
  va_start(ap, fmt);
  bool ok = true;
  for (size_t i = 0; ok && i < want; i++) {
    switch (fmt[i]) {
      case 'f': {
        float **p = va_arg(ap, float **);
        size_t *n = va_arg(ap, size_t *);
        ok = float_array(env, argv[i], p, n);
        break;
      }
      case 'i': ok = get_i64(env, argv[i], va_arg(ap, int64_t *)); break;
      case 'd': ok = napi_get_value_double(env, argv[i], va_arg(ap, double *)) == napi_ok; break;
      default: ok = false;
    }
  }
  va_end(ap);
  return ok;
}

/* The last element index a batch of row-major matrices touches, +1. */
static bool in_range(int64_t off, int64_t rows, int64_t cols, int64_t batch, int64_t stride, size_t length) {
  if (off < 0 || rows < 0 || cols < 0 || batch < 1 || stride < 0) return false;
  int64_t end = off + (batch - 1) * stride + rows * cols;
  return end <= (int64_t)length;
}

typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi);
static void parallel_for_threads(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx, int threads);

/* Products of at most this many multiply-adds are run one per thread when batched (see sgemm). */
#define SMALL_GEMM (1 << 22)

typedef struct {
  const float *a, *b, *bias;
  float *c;
  bool tA, tB;
  int64_t m, n, k, sA, sB, sC;
} gemm_batch_ctx;

/* Products lo..hi of a batch: C_i = op(A_i)·op(B_i) (+ bias on every row). */
static void gemm_items(void *p, int64_t lo, int64_t hi) {
  const gemm_batch_ctx *g = (const gemm_batch_ctx *)p;
  const int64_t m = g->m, n = g->n, k = g->k;
  const int lda = g->tA ? (int)m : (int)k;
  const int ldb = g->tB ? (int)k : (int)n;
  for (int64_t i = lo; i < hi; i++) {
    float *ci = g->c + i * g->sC;
    if (g->bias) {
      for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) ci[r * n + j] = g->bias[j];
    } else if (k == 0) {
      for (int64_t j = 0; j < m * n; j++) ci[j] = 0.0f;
    }
    if (k == 0) continue;
    cblas_sgemm(CblasRowMajor, g->tA ? CblasTrans : CblasNoTrans, g->tB ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, g->a + i * g->sA, lda, g->b + i * g->sB, ldb, g->bias ? 1.0f : 0.0f, ci, (int)n);
  }
}

static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 17) {
    napi_throw_type_error(env, NULL, "sgemm: expected 17 arguments");
    return NULL;
  }
  float *a, *b, *c;
  size_t la, lb, lc;
  if (!float_array(env, argv[0], &a, &la) || !float_array(env, argv[2], &b, &lb) || !float_array(env, argv[4], &c, &lc)) {
    napi_throw_type_error(env, NULL, "sgemm: a, b and c must be Float32Arrays");
    return NULL;
  }
  int64_t aOff, bOff, cOff, m, n, k, batch, sA, sB, sC;
  bool tA, tB;
  if (!get_i64(env, argv[1], &aOff) || !get_i64(env, argv[3], &bOff) || !get_i64(env, argv[5], &cOff) ||
      !get_bool(env, argv[6], &tA) || !get_bool(env, argv[7], &tB) || !get_i64(env, argv[8], &m) ||
      !get_i64(env, argv[9], &n) || !get_i64(env, argv[10], &k) || !get_i64(env, argv[11], &batch) ||
      !get_i64(env, argv[12], &sA) || !get_i64(env, argv[13], &sB) || !get_i64(env, argv[14], &sC)) {
    napi_throw_type_error(env, NULL, "sgemm: offsets and sizes must be integers, transposes booleans");
    return NULL;
  }
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || !in_range(aOff, m, k, batch, sA, la) ||
      !in_range(bOff, k, n, batch, sB, lb) || !in_range(cOff, m, n, batch, sC, lc)) {
    napi_throw_range_error(env, NULL, "sgemm: an operand range lies outside its array");
    return NULL;
  }
  float *bias = NULL;
  size_t lbias = 0;
  int64_t biasOff = 0;
  napi_valuetype bias_type;
  CHECK(napi_typeof(env, argv[15], &bias_type));
  if (bias_type != napi_null && bias_type != napi_undefined) {
    if (!float_array(env, argv[15], &bias, &lbias) || !get_i64(env, argv[16], &biasOff) || !in_range(biasOff, 1, n, 1, 0, lbias)) {
      napi_throw_range_error(env, NULL, "sgemm: bias must be null or a Float32Array holding n values from biasOff");
      return NULL;
    }
  }
  if (m == 0 || n == 0) return NULL;
  gemm_batch_ctx g = {a + aOff, b + bOff, bias ? bias + biasOff : NULL, c + cOff, tA, tB, m, n, k, sA, sB, sC};
  const int blas_threads = openblas_get_num_threads();
  if (batch >= 2 && blas_threads > 1 && k > 0 && m * n * k <= SMALL_GEMM) {
    /*
     * Many small products (attention's, per batch and head): OpenBLAS would fork and join its
     * threads inside each one, which costs about as much as the product. Instead the batch is
     * split over as many threads, each running whole products on one OpenBLAS thread.
     */
    openblas_set_num_threads(1);
    parallel_for_threads(batch, m * n * k / 8, 1, gemm_items, &g, blas_threads);
    openblas_set_num_threads(blas_threads);
  } else {
    gemm_items(&g, 0, batch);
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n = 0;
  if (argc != 1 || !get_i64(env, argv[0], &n) || n < 1 || n > 1024) {
    napi_throw_range_error(env, NULL, "setThreads: expected an integer in [1, 1024]");
    return NULL;
  }
  openblas_set_num_threads((int)n);
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

static napi_value get_config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  const char *cfg = openblas_get_config();
  CHECK(napi_create_string_utf8(env, cfg ? cfg : "", NAPI_AUTO_LENGTH, &out));
  return out;
}

/* ---- element-wise kernels ---- */

static int ew_threads = 2;
#define MAX_EW_THREADS 16
/* Below this many elements per thread a thread costs more than it saves (~20 µs to start). */
#define EW_GRAIN (1 << 17)

typedef struct { range_fn fn; void *ctx; int64_t lo, hi; } ew_job;

static void *ew_run(void *p) {
  ew_job *j = (ew_job *)p;
  j->fn(j->ctx, j->lo, j->hi);
  return NULL;
}

/* Runs fn over [0, n) in up to `threads` contiguous pieces of `align`-multiple size. */
static void parallel_for_threads(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx, int threads) {
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

/* parallel_for_threads over the element-wise kernels' threads. */
static void parallel_for(int64_t n, int64_t work_per_item, int64_t align, range_fn fn, void *ctx) {
  parallel_for_threads(n, work_per_item, align, fn, ctx, ew_threads);
}

typedef struct {
  int op;
  const float *a, *b;
  float *out;
  int64_t ars, acs, brs, bcs, cols;
} binary_ctx;

#define BINARY_LOOP(EXPR)                                                             \
  for (int64_t r = lo; r < hi; r++) {                                                 \
    const float *ar = c->a + r * c->ars;                                              \
    const float *br = c->b + r * c->brs;                                              \
    float *o = c->out + r * c->cols;                                                  \
    if (c->acs && c->bcs)                                                             \
      for (int64_t j = 0; j < c->cols; j++) { float x = ar[j], y = br[j]; o[j] = EXPR; } \
    else if (c->acs)                                                                  \
      for (int64_t j = 0; j < c->cols; j++) { float x = ar[j], y = br[0]; o[j] = EXPR; } \
    else if (c->bcs)                                                                  \
      for (int64_t j = 0; j < c->cols; j++) { float x = ar[0], y = br[j]; o[j] = EXPR; } \
    else                                                                              \
      for (int64_t j = 0; j < c->cols; j++) { float x = ar[0], y = br[0]; o[j] = EXPR; } \
  }

HOT static void binary_rows(void *p, int64_t lo, int64_t hi) {
  binary_ctx *c = (binary_ctx *)p;
  switch (c->op) {
    case 0: BINARY_LOOP(x + y); break;
    case 1: BINARY_LOOP(x - y); break;
    case 2: BINARY_LOOP(x * y); break;
    default: BINARY_LOOP(x / y); break;
  }
}

/* Elements operand i touches at most: its last index + 1. */
static int64_t operand_end(int64_t off, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return off + (rows - 1) * rs + (cols - 1) * cs + 1;
}

static napi_value binary(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *a, *b, *out;
  size_t la, lb, lo_;
  int64_t op, aOff, ars, acs, bOff, brs, bcs, oOff, rows, cols;
  if (argc != 13 || !get_i64(env, argv[0], &op) || !float_array(env, argv[1], &a, &la) || !get_i64(env, argv[2], &aOff) ||
      !get_i64(env, argv[3], &ars) || !get_i64(env, argv[4], &acs) || !float_array(env, argv[5], &b, &lb) ||
      !get_i64(env, argv[6], &bOff) || !get_i64(env, argv[7], &brs) || !get_i64(env, argv[8], &bcs) ||
      !float_array(env, argv[9], &out, &lo_) || !get_i64(env, argv[10], &oOff) || !get_i64(env, argv[11], &rows) ||
      !get_i64(env, argv[12], &cols)) {
    napi_throw_type_error(env, NULL, "binary: expected (op, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, out, outOff, rows, cols)");
    return NULL;
  }
  if (op < 0 || op > 3 || rows < 0 || cols < 0 || ars < 0 || acs < 0 || acs > 1 || brs < 0 || bcs < 0 || bcs > 1 || aOff < 0 || bOff < 0 || oOff < 0) {
    napi_throw_range_error(env, NULL, "binary: bad op, size or stride");
    return NULL;
  }
  if (rows == 0 || cols == 0) return NULL;
  if (operand_end(aOff, rows, cols, ars, acs) > (int64_t)la || operand_end(bOff, rows, cols, brs, bcs) > (int64_t)lb ||
      oOff + rows * cols > (int64_t)lo_) {
    napi_throw_range_error(env, NULL, "binary: an operand range lies outside its array");
    return NULL;
  }
  binary_ctx c = {(int)op, a + aOff, b + bOff, out + oOff, ars, acs, brs, bcs, cols};
  int64_t align = cols >= 16 ? 1 : (16 + cols - 1) / cols;
  parallel_for(rows, cols, align, binary_rows, &c);
  return NULL;
}


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
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t want = grad ? 7 : 5;
  float *x, *out, *dy = NULL;
  size_t lx, lo_, ldy = 0;
  int64_t xOff, oOff, dyOff = 0, n;
  int k = 0;
  bool ok = argc == want;
  if (ok && grad) ok = float_array(env, argv[k], &dy, &ldy) && get_i64(env, argv[k + 1], &dyOff), k += 2;
  ok = ok && float_array(env, argv[k], &x, &lx) && get_i64(env, argv[k + 1], &xOff) && float_array(env, argv[k + 2], &out, &lo_) &&
       get_i64(env, argv[k + 3], &oOff) && get_i64(env, argv[k + 4], &n);
  if (!ok) {
    napi_throw_type_error(env, NULL, grad ? "geluGrad: expected (dy, dyOff, x, xOff, out, outOff, n)" : "gelu: expected (x, xOff, out, outOff, n)");
    return NULL;
  }
  if (n < 0 || xOff < 0 || oOff < 0 || dyOff < 0 || xOff + n > (int64_t)lx || oOff + n > (int64_t)lo_ || (grad && dyOff + n > (int64_t)ldy)) {
    napi_throw_range_error(env, NULL, "gelu: a range lies outside its array");
    return NULL;
  }
  gelu_ctx c = {x + xOff, grad ? dy + dyOff : NULL, out + oOff};
  parallel_for(n, 8, 16, grad ? gelu_grad_range : gelu_range, &c);
  return NULL;
}

static napi_value gelu(napi_env env, napi_callback_info info) { return gelu_common(env, info, false); }
static napi_value gelu_grad(napi_env env, napi_callback_info info) { return gelu_common(env, info, true); }

/* A Float32Array argument as a pointer and length (a subarray view starts where it should). */
static bool arg_f32(napi_env env, napi_value v, float **p, size_t *n) { return float_array(env, v, p, n); }

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

static napi_value layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *g, *b, *o;
  size_t lx, lg, lb, lo_;
  int64_t rows, cols;
  double eps;
  if (argc != 7 || !arg_f32(env, argv[0], &x, &lx) || !arg_f32(env, argv[1], &g, &lg) || !arg_f32(env, argv[2], &b, &lb) ||
      !arg_f32(env, argv[3], &o, &lo_) || !get_i64(env, argv[4], &rows) || !get_i64(env, argv[5], &cols) ||
      napi_get_value_double(env, argv[6], &eps) != napi_ok) {
    napi_throw_type_error(env, NULL, "layerNorm: expected (x, gamma, beta, out, rows, cols, eps)");
    return NULL;
  }
  if (rows < 0 || cols < 1 || (int64_t)lx < rows * cols || (int64_t)lo_ < rows * cols || (int64_t)lg < cols || (int64_t)lb < cols) {
    napi_throw_range_error(env, NULL, "layerNorm: sizes do not match the arrays");
    return NULL;
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
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  float *dy, *x, *g, *dx, *dg, *db;
  size_t ldy, lx, lg, ldx, ldg, ldb;
  int64_t rows, cols;
  double eps;
  if (!read_args(env, info, "ffffffiid", &dy, &ldy, &x, &lx, &g, &lg, &dx, &ldx, &dg, &ldg, &db, &ldb, &rows, &cols, &eps)) {
    napi_throw_type_error(env, NULL, "layerNormGrad: expected (dy, x, gamma, dx, dgamma, dbeta, rows, cols, eps)");
    return NULL;
  }
  int64_t n = rows * cols;
  if (rows < 0 || cols < 1 || (int64_t)ldy < n || (int64_t)lx < n || (int64_t)ldx < n || (int64_t)lg < cols || (int64_t)ldg < cols || (int64_t)ldb < cols) {
    napi_throw_range_error(env, NULL, "layerNormGrad: sizes do not match the arrays");
    return NULL;
  }
  int64_t blocks = (rows + LN_GRAD_BLOCK - 1) / LN_GRAD_BLOCK;
  double *acc = (double *)calloc((size_t)((blocks > 0 ? blocks : 1) * 2 * cols), sizeof(double));
  float *scratch = (float *)malloc((size_t)((blocks > 0 ? blocks : 1) * cols) * sizeof(float));
  if (!acc || !scratch) {
    free(acc);
    free(scratch);
    napi_throw_error(env, NULL, "layerNormGrad: out of memory");
    return NULL;
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

static napi_value dropout(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *o;
  size_t lx, lo_;
  int64_t n;
  double rate;
  uint32_t hi, lo;
  if (argc != 6 || !arg_f32(env, argv[0], &x, &lx) || !arg_f32(env, argv[1], &o, &lo_) || !get_i64(env, argv[2], &n) ||
      napi_get_value_double(env, argv[3], &rate) != napi_ok || napi_get_value_uint32(env, argv[4], &hi) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &lo) != napi_ok) {
    napi_throw_type_error(env, NULL, "dropout: expected (x, out, n, rate, seedHi, seedLo)");
    return NULL;
  }
  if (n < 0 || n > 0xffffffffLL || (int64_t)lx < n || (int64_t)lo_ < n || !(rate >= 0 && rate < 1)) {
    napi_throw_range_error(env, NULL, "dropout: bad size or rate");
    return NULL;
  }
  float keep = 1.0f - (float)rate;
  drop_ctx c = {x, o, hi, lo, (float)rate, 1.0f / keep};
  parallel_for(n, 2, 16, dropout_range, &c);
  return NULL;
}

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

static napi_value sum_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *o;
  size_t lx, lo_;
  int64_t rows, cols;
  if (argc != 4 || !arg_f32(env, argv[0], &x, &lx) || !arg_f32(env, argv[1], &o, &lo_) || !get_i64(env, argv[2], &rows) ||
      !get_i64(env, argv[3], &cols)) {
    napi_throw_type_error(env, NULL, "sumRows: expected (x, out, rows, cols)");
    return NULL;
  }
  if (rows < 0 || cols < 0 || (int64_t)lx < rows * cols || (int64_t)lo_ < cols) {
    napi_throw_range_error(env, NULL, "sumRows: sizes do not match the arrays");
    return NULL;
  }
  double *acc = (double *)calloc((size_t)(cols > 0 ? cols : 1), sizeof(double));
  if (!acc) {
    napi_throw_error(env, NULL, "sumRows: out of memory");
    return NULL;
  }
  sum_ctx c = {x, acc, rows, cols};
  parallel_for(cols, rows, 16, sum_cols, &c);
  for (int64_t j = 0; j < cols; j++) o[j] = (float)acc[j];
  free(acc);
  return NULL;
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

/* ---- attention KL (src/distill/losses.ts, attentionKl) ---- */

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
  bool ok = grad ? read_args(env, info, "ffffiiiidd", &t, &lt, &s, &ls, &mask, &lm, &out, &lo_, &batch, &heads, &q, &k, &eps, &last)
                 : read_args(env, info, "fffiiiidd", &t, &lt, &s, &ls, &mask, &lm, &batch, &heads, &q, &k, &eps, &last);
  if (!ok) {
    napi_throw_type_error(env, NULL, grad ? "attentionKlGrad: expected (t, s, mask, out, batch, heads, q, k, eps, scale)"
                                          : "attentionKl: expected (t, s, mask, batch, heads, q, k, eps, tEps)");
    return NULL;
  }
  int64_t rows = batch * heads * q, n = rows * k;
  if (batch < 0 || heads < 1 || q < 1 || k < 1 || q != k || (int64_t)lt < n || (int64_t)ls < n || (int64_t)lm < batch * k ||
      (grad && (int64_t)lo_ < n)) {
    napi_throw_range_error(env, NULL, "attentionKl: sizes do not match the arrays");
    return NULL;
  }
  akl_ctx c = {t, s, mask, out, NULL, heads, q, k, (float)eps, grad ? 0.0f : (float)last, grad ? (float)last : 0.0f};
  if (grad) {
    parallel_for(rows, k * 4, 1, akl_grad_rows, &c);
    return NULL;
  }
  c.row_sums = (double *)malloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
  if (!c.row_sums) {
    napi_throw_error(env, NULL, "attentionKl: out of memory");
    return NULL;
  }
  parallel_for(rows, k * 8, 1, akl_rows, &c);
  double total = 0.0;
  for (int64_t r = 0; r < rows; r++) total += c.row_sums[r];
  free(c.row_sums);
  napi_value result;
  CHECK(napi_create_double(env, total, &result));
  return result;
}

static napi_value attention_kl(napi_env env, napi_callback_info info) { return attention_kl_common(env, info, false); }
static napi_value attention_kl_grad(napi_env env, napi_callback_info info) { return attention_kl_common(env, info, true); }

/* ---- softmax over the last axis, and its gradient ---- */

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
  bool ok = grad ? read_args(env, info, "fffii", &dy, &ldy, &x, &lx, &o, &lo_, &rows, &cols)
                 : read_args(env, info, "ffii", &x, &lx, &o, &lo_, &rows, &cols);
  if (!ok) {
    napi_throw_type_error(env, NULL, grad ? "softmaxGrad: expected (dy, y, out, rows, cols)" : "softmax: expected (x, out, rows, cols)");
    return NULL;
  }
  int64_t n = rows * cols;
  if (rows < 0 || cols < 1 || (int64_t)lx < n || (int64_t)lo_ < n || (grad && (int64_t)ldy < n)) {
    napi_throw_range_error(env, NULL, "softmax: sizes do not match the arrays");
    return NULL;
  }
  softmax_ctx c = {x, dy, o, cols};
  parallel_for(rows, cols * 4, 1, grad ? softmax_grad_rows : softmax_rows, &c);
  return NULL;
}

static napi_value softmax(napi_env env, napi_callback_info info) { return softmax_common(env, info, false); }
static napi_value softmax_grad(napi_env env, napi_callback_info info) { return softmax_common(env, info, true); }

/* ---- AdamW (src/train/optimizer.ts) ---- */

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
static napi_value adamw(napi_env env, napi_callback_info info) {
  float *p, *g, *m, *v, *po, *mo, *vo;
  size_t lp, lg, lm, lv, lpo, lmo, lvo;
  int64_t n;
  double b1, c1, b2, c2, bc2, eps, ss, decay;
  if (!read_args(env, info, "fffffffidddddddd", &p, &lp, &g, &lg, &m, &lm, &v, &lv, &po, &lpo, &mo, &lmo, &vo, &lvo, &n, &b1, &c1,
                 &b2, &c2, &bc2, &eps, &ss, &decay)) {
    napi_throw_type_error(env, NULL, "adamw: expected (p, g, m, v, pOut, mOut, vOut, n, beta1, 1-beta1, beta2, 1-beta2, bc2Sqrt, eps, stepSize, decay)");
    return NULL;
  }
  if (n < 0 || (int64_t)lp < n || (int64_t)lg < n || (int64_t)lm < n || (int64_t)lv < n || (int64_t)lpo < n || (int64_t)lmo < n ||
      (int64_t)lvo < n) {
    napi_throw_range_error(env, NULL, "adamw: n exceeds an array");
    return NULL;
  }
  adamw_ctx c = {p, g, m, v, po, mo, vo, (float)b1, (float)c1, (float)b2, (float)c2, (float)bc2, (float)eps, (float)ss,
                 decay == decay ? (float)decay : 1.0f, decay == decay};
  parallel_for(n, 4, 16, adamw_range, &c);
  return NULL;
}

/* ---- strided copies (transpose, slice) and row gathers ---- */

#define MAX_COPY_RANK 6

typedef struct {
  const float *x;
  float *out;
  int rank;
  int64_t out_shape[MAX_COPY_RANK];
  int64_t in_stride[MAX_COPY_RANK]; /* the input stride of each output axis */
} strided_ctx;

/* Output rows (all axes but the last) lo..hi: each a run of the last axis, contiguous or strided in x. */
HOT static void strided_rows(void *p, int64_t lo, int64_t hi) {
  strided_ctx *c = (strided_ctx *)p;
  const int R = c->rank;
  const int64_t inner = c->out_shape[R - 1], step = c->in_stride[R - 1];
  for (int64_t r = lo; r < hi; r++) {
    int64_t rem = r, src = 0;
    for (int a = R - 2; a >= 0; a--) {
      src += (rem % c->out_shape[a]) * c->in_stride[a];
      rem /= c->out_shape[a];
    }
    float *o = c->out + r * inner;
    const float *x = c->x + src;
    if (step == 1) {
      memcpy(o, x, (size_t)inner * sizeof(float));
    } else {
      for (int64_t j = 0; j < inner; j++) o[j] = x[j * step];
    }
  }
}

/* An array of 1 to MAX_COPY_RANK integers. */
static bool int_list(napi_env env, napi_value v, int64_t *out, uint32_t *len) {
  if (napi_get_array_length(env, v, len) != napi_ok || *len < 1 || *len > MAX_COPY_RANK) return false;
  for (uint32_t i = 0; i < *len; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || !get_i64(env, e, &out[i])) return false;
  }
  return true;
}

/*
 * stridedCopy(x, offset, out, shape, strides): out (row-major, `shape`) [i0, …] = x[offset +
 * Σ i_a·strides[a]], with up to 6 axes: a transpose (strides permuted) or a slice (offset at its
 * start). Strides are non-negative.
 */
static napi_value strided_copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *o;
  size_t lx, lo_;
  int64_t offset, shape[MAX_COPY_RANK], strides[MAX_COPY_RANK];
  uint32_t rank = 0, srank = 0;
  if (argc != 5 || !float_array(env, argv[0], &x, &lx) || !get_i64(env, argv[1], &offset) || !float_array(env, argv[2], &o, &lo_) ||
      !int_list(env, argv[3], shape, &rank) || !int_list(env, argv[4], strides, &srank) || rank != srank) {
    napi_throw_type_error(env, NULL, "stridedCopy: expected (x, offset, out, shape, strides) with shape and strides of 1 to 6 integers");
    return NULL;
  }
  int64_t n = 1, last = offset;
  bool ok = offset >= 0;
  for (uint32_t a = 0; a < rank; a++) {
    if (shape[a] < 0 || strides[a] < 0) ok = false;
    n *= shape[a] < 0 ? 0 : shape[a];
    last += (shape[a] > 0 ? shape[a] - 1 : 0) * strides[a];
  }
  if (!ok || (int64_t)lo_ < n || (n > 0 && last >= (int64_t)lx)) {
    napi_throw_range_error(env, NULL, "stridedCopy: bad shape or strides, or a range outside its array");
    return NULL;
  }
  if (n == 0) return NULL;
  strided_ctx c = {x + offset, o, (int)rank, {0}, {0}};
  for (uint32_t a = 0; a < rank; a++) {
    c.out_shape[a] = shape[a];
    c.in_stride[a] = strides[a];
  }
  const int64_t inner = shape[rank - 1];
  parallel_for(n / inner, inner, 1, strided_rows, &c);
  return NULL;
}

typedef struct { const float *x; const int32_t *ids; float *out; int64_t inner; } gather_ctx;

static void gather_rows_range(void *p, int64_t lo, int64_t hi) {
  gather_ctx *c = (gather_ctx *)p;
  for (int64_t i = lo; i < hi; i++) memcpy(c->out + i * c->inner, c->x + (int64_t)c->ids[i] * c->inner, (size_t)c->inner * sizeof(float));
}

/* gatherRows(x, rows, ids, out, inner): out[i, :] = x[ids[i], :] over rows of `inner` values; ids are checked. */
static napi_value gather_rows(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *o;
  size_t lx, lo_, lids = 0;
  int64_t rows, inner;
  bool is_ta = false;
  napi_typedarray_type type = napi_float32_array;
  void *ids_ptr = NULL;
  napi_value buffer;
  size_t byte_offset;
  bool ok = argc == 5 && float_array(env, argv[0], &x, &lx) && get_i64(env, argv[1], &rows) && napi_is_typedarray(env, argv[2], &is_ta) == napi_ok &&
            is_ta && napi_get_typedarray_info(env, argv[2], &type, &lids, &ids_ptr, &buffer, &byte_offset) == napi_ok &&
            type == napi_int32_array && float_array(env, argv[3], &o, &lo_) && get_i64(env, argv[4], &inner);
  if (!ok) {
    napi_throw_type_error(env, NULL, "gatherRows: expected (x: Float32Array, rows, ids: Int32Array, out: Float32Array, inner)");
    return NULL;
  }
  const int32_t *ids = (const int32_t *)ids_ptr;
  if (rows < 0 || inner < 0 || (int64_t)lx < rows * inner || (int64_t)lo_ < (int64_t)lids * inner) {
    napi_throw_range_error(env, NULL, "gatherRows: sizes do not match the arrays");
    return NULL;
  }
  for (size_t i = 0; i < lids; i++) {
    if (ids[i] < 0 || ids[i] >= rows) {
      char msg[96];
      snprintf(msg, sizeof msg, "gatherRows: index %d is not in [0, %lld)", ids[i], (long long)rows);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
  }
  gather_ctx c = {x, ids, o, inner};
  parallel_for((int64_t)lids, inner, 1, gather_rows_range, &c);
  return NULL;
}

/* ---- sum of squares (gradient norms) ---- */

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
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  float *x;
  size_t lx;
  int64_t n;
  if (!read_args(env, info, "fi", &x, &lx, &n)) {
    napi_throw_type_error(env, NULL, "sumSquares: expected (x, n)");
    return NULL;
  }
  if (n < 0 || (int64_t)lx < n) {
    napi_throw_range_error(env, NULL, "sumSquares: n exceeds the array");
    return NULL;
  }
  int64_t blocks = (n + SQ_BLOCK - 1) / SQ_BLOCK;
  double *partial = (double *)calloc((size_t)(blocks > 0 ? blocks : 1), sizeof(double));
  if (!partial) {
    napi_throw_error(env, NULL, "sumSquares: out of memory");
    return NULL;
  }
  sumsq_ctx c = {x, n, partial};
  parallel_for(blocks, SQ_BLOCK, 1, sumsq_blocks, &c);
  double total = 0.0;
  for (int64_t b = 0; b < blocks; b++) total += partial[b];
  free(partial);
  napi_value result;
  CHECK(napi_create_double(env, total, &result));
  return result;
}

static napi_value set_ew_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n = 0;
  if (argc != 1 || !get_i64(env, argv[0], &n) || n < 1 || n > MAX_EW_THREADS) {
    napi_throw_range_error(env, NULL, "setElementwiseThreads: expected an integer in [1, 16]");
    return NULL;
  }
  ew_threads = (int)n;
  return NULL;
}

static napi_value get_ew_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_int32(env, ew_threads, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  ew_threads = cores < 1 ? 1 : cores > MAX_EW_THREADS ? MAX_EW_THREADS : (int)cores;
  napi_property_descriptor props[] = {
    {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"threads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"config", NULL, get_config, NULL, NULL, NULL, napi_enumerable, NULL},
    {"binary", NULL, binary, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gelu", NULL, gelu, NULL, NULL, NULL, napi_enumerable, NULL},
    {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dropout", NULL, dropout, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sumRows", NULL, sum_rows, NULL, NULL, NULL, napi_enumerable, NULL},
    {"attentionKl", NULL, attention_kl, NULL, NULL, NULL, napi_enumerable, NULL},
    {"attentionKlGrad", NULL, attention_kl_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"softmax", NULL, softmax, NULL, NULL, NULL, napi_enumerable, NULL},
    {"softmaxGrad", NULL, softmax_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"adamw", NULL, adamw, NULL, NULL, NULL, napi_enumerable, NULL},
    {"stridedCopy", NULL, strided_copy, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gatherRows", NULL, gather_rows, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sumSquares", NULL, sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setElementwiseThreads", NULL, set_ew_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"elementwiseThreads", NULL, get_ew_threads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
