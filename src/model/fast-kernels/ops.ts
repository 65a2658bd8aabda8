/**
 * The op implementations (../ops.ts) that ./index.ts registers with its kernel paths: the native
 * addon's fused kernels (their gradients are registered beside them), and the key layout of the
 * products the wasm and cpu backends run fastest without BLAS.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Ops } from '../ops';
import { splitHeads } from '../ops';
import { DROPOUT_KERNEL, GELU_KERNEL, LAYER_NORM_KERNEL } from './elementwise';
import {
  ADAMW_KERNEL,
  ATTENTION_KL_KERNEL,
  SOFTMAX_KERNEL,
  SUM_ROWS_KERNEL,
  SUM_SQUARES_KERNEL,
} from './training-kernels';

type GradArgs = Array<tf.Tensor | tf.GradSaveFunc>;

/**
 * x·w + b as one BLAS call that starts from the bias (no separate pass adding it), with the
 * gradient the two ops would have: it keeps only x and w (TF.js's own fused op also keeps its
 * output, for activations this layer does not have).
 */
const biasedProduct = tf.customGrad((...args: GradArgs) => {
  const [x, w, b] = args as tf.Tensor2D[];
  (args[3] as tf.GradSaveFunc)([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, ws, false, true), tf.matMul(xs, d, true, false), tf.sum(d, 0)];
    },
  };
});

/**
 * x·w + b as TensorFlow's MatMul and Add, with the bias gradient as the native column sum (one
 * pass, about twice as fast as TensorFlow's Sum at [4096, 3072]: test/perf/tensorflow-linear.perf.ts).
 * The products stay TensorFlow's: OpenBLAS sgemm on its memory measured no faster there. Like
 * biasedProduct it keeps only x and w for the gradient (the Add's own gradient would keep the
 * product too: 0.6 GiB of a `base` step's peak, docs/performance.md).
 */
const tensorflowLinear = tf.customGrad((...args: GradArgs) => {
  const [x, w, b] = args as tf.Tensor2D[];
  (args[3] as tf.GradSaveFunc)([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [
        tf.matMul(d, ws, false, true),
        tf.matMul(xs, d, true, false),
        run(SUM_ROWS_KERNEL, { x: d }) as tf.Tensor,
      ];
    },
  };
});

/** Two 32-bit FNV-1a hashes of a dropout seed string: the native kernel's 64-bit seed. */
function seedWords(seed: string): [number, number] {
  let hi = 0x811c9dc5;
  let lo = 0x050c5d1f;
  for (let i = 0; i < seed.length; i++) {
    const c = seed.charCodeAt(i);
    hi = Math.imul(hi ^ c, 0x01000193) >>> 0;
    lo = Math.imul(lo ^ c, 0x01000193) >>> 0;
    lo = Math.imul(lo ^ (lo >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return [hi, lo];
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs?: object) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);

/** The ops of the native addon's kernels, for a backend they are registered on. */
export const NATIVE_OPS: Partial<Ops> = {
  linear: (x, w, b) => biasedProduct(x, w, b) as tf.Tensor2D,
  // LayerNorm, GELU and softmax: one pass forward and one backward each, instead of about 9 + 20,
  // 5 + 10 and 1 + 4 ops. Their gradients are registered with the kernels.
  layerNorm: (x, gamma, beta, eps) => run(LAYER_NORM_KERNEL, { x, gamma, beta }, { eps }) as tf.Tensor2D,
  gelu: (x) => run(GELU_KERNEL, { x }) as tf.Tensor,
  softmax: (x) => run(SOFTMAX_KERNEL, { x }) as tf.Tensor,
  // One pass each way (the backward recomputes the mask from the seed). The kernel's own
  // counter-based masks differ from tf.dropout's, but a seed still makes them reproducible.
  dropout: (x, rate, seed) => {
    const [seedHi, seedLo] = seedWords(seed ?? `${Math.random()}:${Date.now()}`);
    return run(DROPOUT_KERNEL, { x }, { rate, seedHi, seedLo }) as tf.Tensor;
  },
  // The same sum in one pass, rows and keys with mask 0 skipped, and its gradient in one more.
  attentionKlSum: (teacher, student, mask, attrs) =>
    run(ATTENTION_KL_KERNEL, { teacher, student, mask }, attrs) as tf.Scalar,
  // The same operations in the same order as the composite, in one pass.
  adamW: (state, grad, attrs) => {
    const [p, m, v] = run(ADAMW_KERNEL, { param: state.variable, grad, m: state.m, v: state.v }, attrs) as tf.Tensor[];
    state.m.assign(m);
    state.v.assign(v);
    state.variable.assign(p);
    tf.dispose([p, m, v]);
  },
  // One pass of Σ x² (tf.norm makes three).
  l2Norm: (x) => tf.sqrt(run(SUM_SQUARES_KERNEL, { x }) as tf.Tensor) as tf.Scalar,
};

/**
 * The native ops on the tensorflow backend (on TensorFlow's memory, ./tensorflow-memory.ts), but
 * `linear` keeps TensorFlow's MatMul and bias add, with only the bias gradient native.
 * DISTILLERY_TF_LINEAR=stock leaves `linear` the composite (for A/B measurements).
 */
export function tensorflowOps(): Partial<Ops> {
  const { linear: _linear, ...rest } = NATIVE_OPS;
  if (process.env.DISTILLERY_TF_LINEAR === 'stock') return rest;
  return { ...rest, linear: (x, w, b) => tensorflowLinear(x, w, b) as tf.Tensor2D };
}

/**
 * The ops of the wasm and cpu kernels without BLAS: their products are far faster with K laid out
 * as Kᵀ than with a transposed operand (which BLAS and the native backends take for free).
 */
export const KEY_LAYOUT_OPS: Partial<Ops> = {
  attentionScores: (q, keys) => tf.matMul(q, splitHeads(keys, q.shape[1], q.shape[2], [0, 2, 3, 1])),
};
