/**
 * The ops the model, the losses and the optimizer call where a backend may run something faster
 * than a composite of stock TF.js ops. As TF.js picks a kernel by backend, each op here runs the
 * implementation registered for the active backend (./fast-kernels registers them when it installs
 * its kernels), else its composite. Callers never ask which kernels or backend are loaded.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamWAttrs, AttentionKlAttrs } from './fast-kernels/training-kernels';

/** A variable with its AdamW moments. */
export interface AdamWState {
  variable: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
}

export interface Ops {
  /** x [n, in] · w [in, out] + b. */
  linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D;
  /** Q·Kᵀ [b, heads, s, s] from the queries [b, heads, s, d] and the keys' projection [b·s, heads·d]. */
  attentionScores(q: tf.Tensor4D, keys: tf.Tensor2D): tf.Tensor4D;
  /** LayerNorm over the last axis. */
  layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D;
  /** Inverted dropout; a seed string makes the mask reproducible. */
  dropout(x: tf.Tensor, rate: number, seed: string | undefined): tf.Tensor;
  /** Exact (erf) GELU. */
  gelu(x: tf.Tensor): tf.Tensor;
  /** Softmax over the last axis. */
  softmax(x: tf.Tensor): tf.Tensor;
  /** Σ over the unmasked rows and keys of A_T·log A_T − A_T·log A_S (mask [batch, keys], float32). */
  attentionKlSum(teacher: tf.Tensor4D, student: tf.Tensor4D, mask: tf.Tensor2D, attrs: AttentionKlAttrs): tf.Scalar;
  /** One AdamW update of a variable and its moments, in place. */
  adamW(state: AdamWState, grad: tf.Tensor, attrs: AdamWAttrs): void;
  /** The L2 norm of all values, a scalar. */
  l2Norm(x: tf.Tensor): tf.Scalar;
}

const registered = new Map<string, Partial<Ops>>();

/**
 * Sets the implementations a backend runs (replacing those registered before); ops left out run
 * their composites. Registered implementations take float32 tensors: other dtypes run the composite.
 */
export function registerOps(backendName: string, impls: Partial<Ops>): void {
  registered.set(backendName, impls);
}

function float32OrNotTensor(a: unknown): boolean {
  return !(a instanceof tf.Tensor) || a.dtype === 'float32';
}

/** The op `name`: the active backend's registered implementation, else `composite`. */
export function defineOp<K extends keyof Ops>(name: K, composite: Ops[K]): Ops[K] {
  const op = (...args: unknown[]): unknown => {
    const impl = registered.get(tf.getBackend())?.[name];
    const f = impl && args.every(float32OrNotTensor) ? impl : composite;
    return (f as (...a: unknown[]) => unknown)(...args);
  };
  return op as Ops[K];
}

/** [b·s, heads·d] → [b, heads, s, d], `perm` [0, 2, 1, 3]; [0, 2, 3, 1] gives [b, heads, d, s]. */
export function splitHeads(x: tf.Tensor2D, heads: number, seq: number, perm: number[] = [0, 2, 1, 3]): tf.Tensor4D {
  const [rows, width] = x.shape;
  return tf.transpose(tf.reshape(x, [rows / seq, seq, heads, width / heads]), perm);
}

export const linear = defineOp('linear', (x, w, b) => tf.add(tf.matMul(x, w), b));

/** The keys split into heads and multiplied as a transposed operand. */
export const attentionScores = defineOp('attentionScores', (q, keys) =>
  tf.matMul(q, splitHeads(keys, q.shape[1], q.shape[2]), false, true),
);

export const layerNorm = defineOp('layerNorm', (x, gamma, beta, eps) => {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
});

export const dropout = defineOp('dropout', (x, rate, seed) => tf.dropout(x, rate, undefined, seed));
