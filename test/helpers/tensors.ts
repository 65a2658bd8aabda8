// Helpers for tests that compare kernels: set up both backends, run on another one, and a
// relative error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { loadNativeBlas } from '../../src/model/fast-kernels/native-blas';
import { REPO_ROOT } from './paths';

/**
 * Builds the native addon when a compiler and OpenBLAS are there, loads the cpu backend beside
 * wasm (the active one). Returns why the addon is unavailable, or undefined when it loaded.
 */
export async function setUpKernelBackends(): Promise<string | undefined> {
  spawnSync(process.execPath, [path.join(REPO_ROOT, 'native', 'build.mjs'), '--optional'], { stdio: 'ignore' });
  await import('@tensorflow/tfjs-backend-cpu');
  await initBackend('wasm');
  return loadNativeBlas().reason;
}

/** f with `name` as the active backend, then back to wasm. */
export async function onBackend<T>(name: 'wasm' | 'cpu', f: () => T | Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = () => undefined; // the cpu backend's tfjs-node advert
  try {
    await tf.setBackend(name);
  } finally {
    console.warn = warn;
  }
  try {
    return await f();
  } finally {
    await tf.setBackend('wasm');
  }
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
