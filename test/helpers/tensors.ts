// Helpers for tests that compare kernels: run on another backend, and a relative error.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

/** f with `name` as the active backend, then back to wasm. */
export async function onBackend<T>(name: 'wasm' | 'cpu', f: () => T | Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = () => undefined; // the cpu backend's tfjs-node advert
  try { await tf.setBackend(name); } finally { console.warn = warn; }
  try { return await f(); } finally { await tf.setBackend('wasm'); }
}

/** max |a − b| / (1 + max |b|): float32 rounding of sums of a few hundred terms stays ~1e-6. */
export function relErr(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / (1 + scale);
}
