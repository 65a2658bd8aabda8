/* The argument reader of every entry point (see args.h), and the helpers for throwing and returning. */
#include "args.h"

#include <stdarg.h>
#include <string.h>

/* A typed array of this element type: its data and length in elements (a subarray view starts where it should). */
static bool typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return false;
  napi_typedarray_type type;
  void *ptr = NULL;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, &buffer, &offset) != napi_ok || type != want) return false;
  *data = ptr;
  return true;
}

static bool int_list(napi_env env, napi_value v, int64_t *out, uint32_t *len) {
  if (napi_get_array_length(env, v, len) != napi_ok || *len < 1 || *len > ARGS_LIST_MAX) return false;
  for (uint32_t i = 0; i < *len; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_int64(env, e, &out[i]) != napi_ok) return false;
  }
  return true;
}

uint32_t read_args(napi_env env, napi_callback_info info, const char *fmt, ...) {
  napi_value argv[ARGS_MAX];
  size_t want = strlen(fmt), argc = ARGS_MAX;
  if (want > ARGS_MAX || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return ARGS_BAD_COUNT;
  va_list ap;
  va_start(ap, fmt);
  uint32_t bad = 0;
  for (size_t i = 0; i < want; i++) {
    bool ok = false;
    switch (fmt[i]) {
      case 'f': {
        float **p = va_arg(ap, float **);
        size_t *n = va_arg(ap, size_t *);
        ok = typed_array(env, argv[i], napi_float32_array, (void **)p, n);
        break;
      }
      case 'F': {
        float **p = va_arg(ap, float **);
        size_t *n = va_arg(ap, size_t *);
        bool *given = va_arg(ap, bool *);
        napi_valuetype t;
        if (napi_typeof(env, argv[i], &t) != napi_ok) break;
        *given = t != napi_null && t != napi_undefined;
        ok = !*given || typed_array(env, argv[i], napi_float32_array, (void **)p, n);
        break;
      }
      case 'I': {
        int32_t **p = va_arg(ap, int32_t **);
        size_t *n = va_arg(ap, size_t *);
        ok = typed_array(env, argv[i], napi_int32_array, (void **)p, n);
        break;
      }
      case 'i': ok = napi_get_value_int64(env, argv[i], va_arg(ap, int64_t *)) == napi_ok; break;
      case 'u': ok = napi_get_value_uint32(env, argv[i], va_arg(ap, uint32_t *)) == napi_ok; break;
      case 'd': ok = napi_get_value_double(env, argv[i], va_arg(ap, double *)) == napi_ok; break;
      case 'b': ok = napi_get_value_bool(env, argv[i], va_arg(ap, bool *)) == napi_ok; break;
      case 'l': {
        int64_t *values = va_arg(ap, int64_t *);
        uint32_t *count = va_arg(ap, uint32_t *);
        ok = int_list(env, argv[i], values, count);
        break;
      }
      default: break; /* a format this file does not know: the caller's bug, reported as a bad argument */
    }
    if (!ok) bad |= ARG_BIT(i);
  }
  va_end(ap);
  return bad;
}

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

napi_value make_double(napi_env env, double value) {
  napi_value out;
  if (napi_create_double(env, value, &out) != napi_ok) return throw_error(env, "distillery_blas: N-API call failed");
  return out;
}

napi_value make_int32(napi_env env, int32_t value) {
  napi_value out;
  if (napi_create_int32(env, value, &out) != napi_ok) return throw_error(env, "distillery_blas: N-API call failed");
  return out;
}
