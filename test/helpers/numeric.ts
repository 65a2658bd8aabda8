// Small numeric helpers the loss and optimizer tests share: a seeded generator (the same numbers on
// every run, and on the torch side of the reference tests), random arrays and closeness checks.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

/** A scalar's value; the tensor is disposed. */
export function value(x: tf.Scalar): number {
  const v = x.dataSync()[0];
  x.dispose();
  return v;
}

/** |actual − expected| ≤ relTol · max(1, |expected|). */
export function assertClose(actual: number, expected: number, relTol: number, what = ''): void {
  const tol = relTol * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected} (tol ${tol})`);
}

/** mulberry32: a tiny seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` values uniform in [−scale, scale). */
export function randomArray(rand: () => number, size: number, scale = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}
