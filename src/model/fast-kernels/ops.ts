/**
 * The op implementations (../ops.ts) that ./index.ts registers with its kernel paths: the native
 * addon's fused kernels wrapped with their gradients, and the key layout of the products the wasm
 * and cpu backends run fastest without BLAS.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Ops } from '../ops';
import { splitHeads } from '../ops';
import { DROPOUT_KERNEL, GELU_GRAD_KERNEL, GELU_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from './elementwise';
import { ADAMW_KERNEL, ATTENTION_KL_KERNEL, SOFTMAX_GRAD_KERNEL, SOFTMAX_KERNEL, SUM_SQUARES_KERNEL } from './training-kernels';

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

const fusedLayerNormByEps = new Map<number, (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor>();

/** LayerNorm as one native kernel forward and one backward instead of about nine ops forward and twenty backward. */
function fusedLayerNorm(eps: number): (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor {
  let f = fusedLayerNormByEps.get(eps);
  if (!f) {
    f = tf.customGrad((...args: GradArgs) => {
      const [x, gamma, beta] = args as tf.Tensor[];
      (args[3] as tf.GradSaveFunc)([x, gamma]);
      return {
        value: tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, { eps }) as tf.Tensor,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy, x: saved[0], gamma: saved[1] }, { eps }) as tf.Tensor[],
      };
    }) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
    fusedLayerNormByEps.set(eps, f);
  }
  return f;
}

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

/**
 * Dropout as one native pass forward and one backward (the mask is recomputed from the seed, not
 * stored). Its masks come from the kernel's own counter-based generator, so they differ from
 * tf.dropout's, but a seed still makes them reproducible.
 */
function fusedDropout(x: tf.Tensor, rate: number, seed: string | undefined): tf.Tensor {
  const [seedHi, seedLo] = seedWords(seed ?? `${Math.random()}:${Date.now()}`);
  const attrs = { rate, seedHi, seedLo };
  const f = tf.customGrad((...args: GradArgs) => ({
    value: tf.engine().runKernel(DROPOUT_KERNEL, { x: args[0] as tf.Tensor }, attrs) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(DROPOUT_KERNEL, { x: dy }, attrs) as tf.Tensor,
  }));
  return f(x);
}

/** GELU's analytic gradient needs only x: one pass forward, one backward. */
const fusedGelu = tf.customGrad((...args: GradArgs) => {
  const input = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([input]);
  return {
    value: tf.engine().runKernel(GELU_KERNEL, { x: input }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy, x: saved[0] }) as tf.Tensor,
  };
});

/** Softmax keeping only its output for the gradient (TF.js's own gradient is four ops over the attention map). */
const fusedSoftmax = tf.customGrad((...args: GradArgs) => {
  const y = tf.engine().runKernel(SOFTMAX_KERNEL, { x: args[0] as tf.Tensor }) as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { dy, y: saved[0] }) as tf.Tensor,
  };
});

/** The ops of the native addon's kernels, for a backend they are registered on. */
export const NATIVE_OPS: Partial<Ops> = {
  linear: (x, w, b) => biasedProduct(x, w, b) as tf.Tensor2D,
  layerNorm: (x, gamma, beta, eps) => fusedLayerNorm(eps)(x, gamma, beta) as tf.Tensor2D,
  dropout: fusedDropout,
  gelu: (x) => fusedGelu(x),
  softmax: (x) => fusedSoftmax(x),
  // The same sum in one pass, rows and keys with mask 0 skipped, and its gradient in one more.
  attentionKlSum: (teacher, student, mask, attrs) =>
    tf.engine().runKernel(ATTENTION_KL_KERNEL, { teacher, student, mask }, attrs as unknown as tf.NamedAttrMap) as tf.Scalar,
  // The same operations in the same order as the composite, in one pass.
  adamW: (state, grad, attrs) => {
    const [p, m, v] = tf.engine().runKernel(ADAMW_KERNEL, { param: state.variable, grad, m: state.m, v: state.v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    state.m.assign(m);
    state.v.assign(v);
    state.variable.assign(p);
    tf.dispose([p, m, v]);
  },
  // One pass of Σ x² (tf.norm makes three).
  l2Norm: (x) => tf.sqrt(tf.engine().runKernel(SUM_SQUARES_KERNEL, { x }) as tf.Tensor) as tf.Scalar,
};

/**
 * The ops of the wasm and cpu kernels without BLAS: their products are far faster with K laid out
 * as Kᵀ than with a transposed operand (which BLAS and the native backends take for free).
 */
export const KEY_LAYOUT_OPS: Partial<Ops> = {
  attentionScores: (q, keys) => tf.matMul(q, splitHeads(keys, q.shape[1], q.shape[2], [0, 2, 3, 1])),
};
