/*
 * Copies: strided ones (transposes and slices) and row gathers (embedding lookups).
 */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

#define MAX_COPY_RANK ARGS_LIST_MAX

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

/*
 * stridedCopy(x, offset, out, shape, strides): out (row-major, `shape`) [i0, …] = x[offset +
 * Σ i_a·strides[a]], with up to 6 axes: a transpose (strides permuted) or a slice (offset at its
 * start). Strides are non-negative.
 */
napi_value strided_copy(napi_env env, napi_callback_info info) {
  float *x, *o;
  size_t lx, lo_;
  int64_t offset, shape[MAX_COPY_RANK], strides[MAX_COPY_RANK];
  uint32_t rank = 0, srank = 0;
  if (read_args(env, info, "fifll", &x, &lx, &offset, &o, &lo_, shape, &rank, strides, &srank) || rank != srank) {
    return throw_type(env, "stridedCopy: expected (x, offset, out, shape, strides) with shape and strides of 1 to 6 integers");
  }
  int64_t n = 1, last = offset;
  bool ok = offset >= 0;
  for (uint32_t a = 0; a < rank; a++) {
    if (shape[a] < 0 || strides[a] < 0) ok = false;
    n *= shape[a] < 0 ? 0 : shape[a];
    last += (shape[a] > 0 ? shape[a] - 1 : 0) * strides[a];
  }
  if (!ok || (int64_t)lo_ < n || (n > 0 && last >= (int64_t)lx)) {
    return throw_range(env, "stridedCopy: bad shape or strides, or a range outside its array");
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
napi_value gather_rows(napi_env env, napi_callback_info info) {
  float *x, *o;
  int32_t *ids;
  size_t lx, lo_, lids = 0;
  int64_t rows, inner;
  if (read_args(env, info, "fiIfi", &x, &lx, &rows, &ids, &lids, &o, &lo_, &inner)) {
    return throw_type(env, "gatherRows: expected (x: Float32Array, rows, ids: Int32Array, out: Float32Array, inner)");
  }
  if (rows < 0 || inner < 0 || (int64_t)lx < rows * inner || (int64_t)lo_ < (int64_t)lids * inner) {
    return throw_range(env, "gatherRows: sizes do not match the arrays");
  }
  for (size_t i = 0; i < lids; i++) {
    if (ids[i] < 0 || ids[i] >= rows) {
      char msg[96];
      snprintf(msg, sizeof msg, "gatherRows: index %d is not in [0, %lld)", ids[i], (long long)rows);
      return throw_range(env, msg);
    }
  }
  gather_ctx c = {x, ids, o, inner};
  parallel_for((int64_t)lids, inner, 1, gather_rows_range, &c);
  return NULL;
}
