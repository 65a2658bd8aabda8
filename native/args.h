/*
 * The one argument reader every entry point uses (args.c), and the N-API helpers around it.
 * Entry points take whole Float32Array views (a view of the wasm heap works without copying),
 * integers and numbers; each checks the ranges it needs itself after reading.
 */
#ifndef DISTILLERY_ARGS_H
#define DISTILLERY_ARGS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most arguments an entry point takes (adamw: 16, sgemm: 17). */
#define ARGS_MAX 24
/* Most integers in a list argument ('l'): stridedCopy's axes. */
#define ARGS_LIST_MAX 6
/* read_args's result bit when the count is wrong (no argument was read). */
#define ARGS_BAD_COUNT (1u << 31)
/* read_args's result bit for argument i. */
#define ARG_BIT(i) (1u << (i))

/*
 * Reads exactly strlen(fmt) arguments, one character each:
 *   'f'  a Float32Array                   float **data, size_t *length (in elements)
 *   'F'  a Float32Array, null or undefined float **data, size_t *length, bool *given (false for null/undefined)
 *   'I'  an Int32Array                    int32_t **data, size_t *length
 *   'i'  an integer                       int64_t *
 *   'u'  an unsigned 32-bit integer       uint32_t *
 *   'd'  a number                         double *
 *   'b'  a boolean                        bool *
 *   'l'  an array of 1 to ARGS_LIST_MAX integers   int64_t values[ARGS_LIST_MAX], uint32_t *count
 * Returns 0 when all are right; else ARGS_BAD_COUNT when the count is wrong, or ARG_BIT(i) set for
 * every argument i of the wrong type (all are read, so a caller can name the first kind it checks).
 */
uint32_t read_args(napi_env env, napi_callback_info info, const char *fmt, ...);

/* Throws a TypeError / RangeError / Error with this message; returns NULL for the entry point to return. */
napi_value throw_type(napi_env env, const char *msg);
napi_value throw_range(napi_env env, const char *msg);
napi_value throw_error(napi_env env, const char *msg);

/* A JavaScript number / integer, or NULL with an error thrown. */
napi_value make_double(napi_env env, double value);
napi_value make_int32(napi_env env, int32_t value);

#endif
