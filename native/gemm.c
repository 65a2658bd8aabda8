/*
 * Matrix products on OpenBLAS, and its settings.
 *
 * sgemm(a, aOff, b, bOff, c, cOff, transA, transB, m, n, k, batch, strideA, strideB, strideC,
 *       bias, biasOff)
 *   For i in [0, batch): C_i[m×n] = op(A_i) · op(B_i) (+ bias[n] on every row when `bias` is a
 *   Float32Array, not null), row-major, where A_i starts at element aOff + i·strideA of `a`
 *   (stride 0 broadcasts one matrix) and op(X) = Xᵀ when trans is set. Every range is checked
 *   against its array before any arithmetic.
 * setThreads(n), threads(): OpenBLAS's threads. config(): its own description.
 *
 * Batched products of small matrices run one per thread (OpenBLAS on one thread inside each):
 * its own fork-join per product cost as much as the product.
 */
#include <cblas.h>

#include "kernels.h"

/* OpenBLAS extensions (declared in its cblas.h; repeated so other CBLAS headers also compile). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

/* True when `batch` row-major rows×cols matrices, `stride` apart from `off`, fit in `length`. */
static bool in_range(int64_t off, int64_t rows, int64_t cols, int64_t batch, int64_t stride, size_t length) {
  if (off < 0 || rows < 0 || cols < 0 || batch < 1 || stride < 0) return false;
  int64_t end = off + (batch - 1) * stride + rows * cols;
  return end <= (int64_t)length;
}

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

napi_value sgemm(napi_env env, napi_callback_info info) {
  float *a, *b, *c, *bias = NULL;
  size_t la, lb, lc, lbias = 0;
  int64_t aOff, bOff, cOff, m, n, k, batch, sA, sB, sC, biasOff = 0;
  bool tA, tB, has_bias = false;
  const uint32_t bad = read_args(env, info, "fififibbiiiiiiiFi", &a, &la, &aOff, &b, &lb, &bOff, &c, &lc, &cOff, &tA, &tB, &m, &n, &k,
                                 &batch, &sA, &sB, &sC, &bias, &lbias, &has_bias, &biasOff);
  if (bad & ARGS_BAD_COUNT) return throw_type(env, "sgemm: expected 17 arguments");
  if (bad & (ARG_BIT(0) | ARG_BIT(2) | ARG_BIT(4))) return throw_type(env, "sgemm: a, b and c must be Float32Arrays");
  if (bad & ~(ARG_BIT(15) | ARG_BIT(16))) return throw_type(env, "sgemm: offsets and sizes must be integers, transposes booleans");
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || !in_range(aOff, m, k, batch, sA, la) ||
      !in_range(bOff, k, n, batch, sB, lb) || !in_range(cOff, m, n, batch, sC, lc)) {
    return throw_range(env, "sgemm: an operand range lies outside its array");
  }
  /* biasOff is read only with a bias: with null it may be anything. */
  if ((has_bias || (bad & ARG_BIT(15))) && ((bad & (ARG_BIT(15) | ARG_BIT(16))) || !in_range(biasOff, 1, n, 1, 0, lbias))) {
    return throw_range(env, "sgemm: bias must be null or a Float32Array holding n values from biasOff");
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

napi_value set_threads(napi_env env, napi_callback_info info) {
  int64_t n = 0;
  if (read_args(env, info, "i", &n) || n < 1 || n > 1024) return throw_range(env, "setThreads: expected an integer in [1, 1024]");
  openblas_set_num_threads((int)n);
  return NULL;
}

napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  return make_int32(env, openblas_get_num_threads());
}

napi_value get_config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  const char *cfg = openblas_get_config();
  if (napi_create_string_utf8(env, cfg ? cfg : "", NAPI_AUTO_LENGTH, &out) != napi_ok) return throw_error(env, "distillery_blas: N-API call failed");
  return out;
}
