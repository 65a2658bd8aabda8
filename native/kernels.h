/*
 * What every kernel file shares: the argument reader, the threads, the HOT marker, and the entry
 * points addon.c registers (one group per file, named after it).
 */
#ifndef DISTILLERY_KERNELS_H
#define DISTILLERY_KERNELS_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

#include "args.h"
#include "pool.h"

/*
 * Hot loops get an AVX2 clone next to the baseline one; the loader picks by CPU (x86-64 Linux).
 * The element-wise math has no library calls, so both clones vectorise.
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

#define ENTRY(name) napi_value name(napi_env env, napi_callback_info info)

/* gemm.c: products on OpenBLAS, and its settings */
ENTRY(sgemm);
ENTRY(set_threads);
ENTRY(get_threads);
ENTRY(get_config);
/* binary.c */
ENTRY(binary);
/* gelu.c */
ENTRY(gelu);
ENTRY(gelu_grad);
/* dropout.c */
ENTRY(dropout);
/* layernorm.c */
ENTRY(layer_norm);
ENTRY(layer_norm_grad);
/* reduce.c */
ENTRY(sum_rows);
ENTRY(sum_squares);
/* softmax.c */
ENTRY(softmax);
ENTRY(softmax_grad);
/* attention_kl.c */
ENTRY(attention_kl);
ENTRY(attention_kl_grad);
/* adamw.c */
ENTRY(adamw);
/* copy.c */
ENTRY(strided_copy);
ENTRY(gather_rows);

#undef ENTRY

#endif
