/*
 * distillery_blas: a minimal N-API addon over a system CBLAS (OpenBLAS on Debian/Ubuntu). Its
 * kernels run directly on the memory of JavaScript typed arrays (the wasm backend's heap, or the
 * cpu backend's arrays), so TF.js kernels can use an optimised GEMM and multithreaded element-wise
 * loops without copying operands. Plain C against node_api.h (shipped with Node): no npm dependency.
 *
 * This file registers the entry points; each is documented in its own file (native/README.md):
 *   gemm.c          sgemm, setThreads, threads, config
 *   binary.c        binary (add, sub, mul, div with broadcasting strides)
 *   gelu.c          gelu, geluGrad
 *   dropout.c       dropout
 *   layernorm.c     layerNorm, layerNormGrad
 *   reduce.c        sumRows, sumSquares
 *   softmax.c       softmax, softmaxGrad
 *   attention_kl.c  attentionKl, attentionKlGrad
 *   adamw.c         adamw
 *   copy.c          stridedCopy, gatherRows
 * and here: setElementwiseThreads(n), elementwiseThreads(), the threads of every kernel but the
 * products (pool.c). Arguments are read by args.c.
 */
#include "kernels.h"

static napi_value set_ew_threads(napi_env env, napi_callback_info info) {
  int64_t n = 0;
  if (read_args(env, info, "i", &n) || n < 1 || n > MAX_EW_THREADS) {
    return throw_range(env, "setElementwiseThreads: expected an integer in [1, 16]");
  }
  pool_set_threads((int)n);
  return NULL;
}

static napi_value get_ew_threads(napi_env env, napi_callback_info info) {
  (void)info;
  return make_int32(env, pool_threads());
}

static napi_value init(napi_env env, napi_value exports) {
  pool_init();
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
