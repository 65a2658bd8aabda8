/*
 * binary(op, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, out, outOff, rows, cols)
 *   out[r·cols + j] = a[aOff + r·aRowStride + j·aColStride] op b[…], op 0 add, 1 sub, 2 mul, 3 div;
 *   strides express same-shape (cols, 1), scalar (0, 0), repeated row (0, 1), per-row scalar (1, 0).
 */
#include "kernels.h"

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

napi_value binary(napi_env env, napi_callback_info info) {
  float *a, *b, *out;
  size_t la, lb, lo_;
  int64_t op, aOff, ars, acs, bOff, brs, bcs, oOff, rows, cols;
  if (read_args(env, info, "ifiiifiiifiii", &op, &a, &la, &aOff, &ars, &acs, &b, &lb, &bOff, &brs, &bcs, &out, &lo_, &oOff, &rows, &cols)) {
    return throw_type(env, "binary: expected (op, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, out, outOff, rows, cols)");
  }
  if (op < 0 || op > 3 || rows < 0 || cols < 0 || ars < 0 || acs < 0 || acs > 1 || brs < 0 || bcs < 0 || bcs > 1 || aOff < 0 || bOff < 0 || oOff < 0) {
    return throw_range(env, "binary: bad op, size or stride");
  }
  if (rows == 0 || cols == 0) return NULL;
  if (operand_end(aOff, rows, cols, ars, acs) > (int64_t)la || operand_end(bOff, rows, cols, brs, bcs) > (int64_t)lb ||
      oOff + rows * cols > (int64_t)lo_) {
    return throw_range(env, "binary: an operand range lies outside its array");
  }
  binary_ctx c = {(int)op, a + aOff, b + bOff, out + oOff, ars, acs, brs, bcs, cols};
  int64_t align = cols >= 16 ? 1 : (16 + cols - 1) / cols;
  parallel_for(rows, cols, align, binary_rows, &c);
  return NULL;
}
