// The native addon's fused kernels on the `tensorflow` backend (src/model/fast-kernels/
// tensorflow-memory.ts: they read and write TensorFlow's tensor memory through the views that
// native/tfjs-node/binding.patch adds to tfjs-node's binding), against the composite ops that the
// stock kernels run on the same backend: values and gradients, no leaked tensors or handles, and a
// few distillation steps with the same losses as the wasm path's. Skipped (with the reason) where
// the backend or the addon is not built; `.ci/run` builds both and runs this file with
// DISTILLERY_REQUIRE_TENSORFLOW=1, where a skip is a failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { resetKernelMode, setKernelMode } from '../../src/model/fast-kernels';
import { loadNativeBlas } from '../../src/model/fast-kernels/native-blas';
import { GELU_KERNEL, LAYER_NORM_KERNEL } from '../../src/model/fast-kernels/elementwise';
import { SOFTMAX_KERNEL, SUM_ROWS_KERNEL } from '../../src/model/fast-kernels/training-kernels';
import { dropout, layerNorm, linear } from '../../src/model/ops';
import { gelu } from '../../src/model/gelu';
import { softmax } from '../../src/model/softmax';
import { attentionKl } from '../../src/distill/losses';
import { AdamW, clipByGlobalNorm } from '../../src/train/optimizer';
import { relErr } from '../helpers/tensors';
import { REPO_ROOT } from '../helpers/paths';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import type { BenchReport } from '../../src/bench/run-bench';

const required = process.env.DISTILLERY_REQUIRE_TENSORFLOW === '1';
let unavailable: string | undefined;

before(async () => {
  spawnSync(process.execPath, [path.join(REPO_ROOT, 'native', 'build.mjs'), '--optional'], { stdio: 'ignore' });
  const blas = loadNativeBlas();
  if (!blas.blas) {
    unavailable = `the native addon is not available: ${blas.reason}`;
    return;
  }
  try {
    await initBackend('tensorflow');
  } catch (e) {
    unavailable = `the tensorflow backend is not built (${(e as Error).message}); run \`node scripts/build-tfjs-node.mjs\``;
    return;
  }
  const info = setKernelMode('blas');
  if (info.tensorflow !== 'fused') unavailable = `no fused kernels on tensorflow: ${info.tensorflowUnavailable}`;
  setKernelMode('stock');
});

after(() => {
  if (!unavailable) setKernelMode('stock');
  resetKernelMode();
});

/** Whether to run; a skip is a failure where the backend is required. */
function ready(t: { skip(m: string): void }): boolean {
  if (!unavailable) return true;
  assert.ok(!required, unavailable);
  t.skip(unavailable);
  return false;
}

/** f under the stock kernels (the composites) and under the fused ones: [reference, fused]. */
function both<T>(f: () => T): [T, T] {
  setKernelMode('stock');
  const ref = f();
  setKernelMode('blas');
  const got = f();
  setKernelMode('stock');
  return [ref, got];
}

/** TensorFlow's own handle count (the binding's map): fused kernels' outputs must be deleted with their tensors. */
function tfHandles(): number {
  return (tf.backend() as unknown as { binding: { getNumOfTensors(): number } }).binding.getNumOfTensors();
}

/** Checks that f leaves no TF.js tensors and no TensorFlow handles behind. */
function noLeaks(what: string, f: () => void): void {
  const tensors = tf.memory().numTensors;
  const handles = tfHandles();
  f();
  assert.equal(tf.memory().numTensors, tensors, `${what}: TF.js tensors leak`);
  assert.equal(tfHandles(), handles, `${what}: TensorFlow handles leak`);
}

/** x as an output of TensorFlow (not JS values not yet handed to it), as the model's tensors are; x is disposed. */
function onTensorflow<T extends tf.Tensor>(x: T): T {
  const y = tf.add(x, 0) as T;
  x.dispose();
  return y;
}

test('fused LayerNorm and GELU on tensorflow equal the composites, values and gradients', (t) => {
  if (!ready(t)) return;
  noLeaks('layerNorm/gelu', () => {
    const x = onTensorflow(tf.randomNormal([300, 96], 0.3, 2, 'float32', 1) as tf.Tensor2D);
    const gamma = onTensorflow(tf.randomNormal([96], 1, 0.1, 'float32', 2) as tf.Tensor1D);
    const beta = onTensorflow(tf.randomNormal([96], 0, 0.1, 'float32', 3) as tf.Tensor1D);
    const w = onTensorflow(tf.randomNormal([300, 96], 0, 1, 'float32', 4));
    const run = () =>
      tf.tidy(() => {
        const ln = tf.valueAndGrads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(layerNorm(a as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-12), w)),
        )([x, gamma, beta]);
        const ge = tf.valueAndGrad((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), w)))(x);
        return [layerNorm(x, gamma, beta, 1e-12), ...ln.grads, gelu(x), ge.grad];
      });
    const [ref, got] = both(run);
    const names = ['layerNorm', 'd x', 'd gamma', 'd beta', 'gelu', 'gelu d x'];
    names.forEach((n, i) => assert.ok(relErr(got[i], ref[i]) < 1e-5, `${n}: ${relErr(got[i], ref[i])}`));
    setKernelMode('blas');
    assert.ok(tf.getKernel(LAYER_NORM_KERNEL, 'tensorflow') && tf.getKernel(GELU_KERNEL, 'tensorflow'));
    setKernelMode('stock');
    assert.equal(tf.getKernel(LAYER_NORM_KERNEL, 'tensorflow'), undefined, 'stock mode unregisters them');
    tf.dispose([x, gamma, beta, w, ...ref, ...got]);
  });
});

test('memory behind the fused kernels comes back when the event loop turns, as between training steps', async (t) => {
  if (!ready(t)) return;
  // Each call makes a 64 KiB output that a zero-copy view touched. Node frees what such a view held
  // only on a turn of the event loop, so the trainer (and the bench) take one between steps; with
  // turns every 50 calls, 4 000 calls must not keep their 250 MiB of outputs.
  const x = onTensorflow(tf.randomNormal([64, 256], 0, 1, 'float32', 9));
  setKernelMode('blas');
  try {
    const calls = async (n: number) => {
      for (let i = 1; i <= n; i++) {
        tf.dispose(gelu(x));
        if (i % 50 === 0) await new Promise<void>((r) => setImmediate(r));
      }
    };
    await calls(1000);
    const rss0 = process.memoryUsage().rss;
    await calls(4000);
    const grown = process.memoryUsage().rss - rss0;
    assert.ok(grown < 64 * 2 ** 20, `RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB over 4 000 calls`);
  } finally {
    setKernelMode('stock');
    x.dispose();
  }
});

test("linear on tensorflow (native bias gradient) equals TensorFlow's matMul + add, values and gradients", (t) => {
  if (!ready(t)) return;
  noLeaks('linear', () => {
    const x = onTensorflow(tf.randomNormal([300, 96], 0.2, 1, 'float32', 11) as tf.Tensor2D);
    const w = onTensorflow(tf.randomNormal([96, 130], 0, 0.3, 'float32', 12) as tf.Tensor2D);
    const b = onTensorflow(tf.randomNormal([130], 0, 0.5, 'float32', 13) as tf.Tensor1D);
    const u = onTensorflow(tf.randomNormal([300, 130], 0, 1, 'float32', 14));
    const run = () =>
      tf.tidy(() => {
        const g = tf.valueAndGrads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
          tf.sum(tf.mul(linear(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D), u)),
        )([x, w, b]);
        return [linear(x, w, b), g.value, ...g.grads];
      });
    const [ref, got] = both(run);
    ['x·w + b', 'Σ', 'd x', 'd w', 'd b'].forEach((n, i) =>
      assert.ok(relErr(got[i], ref[i]) < 1e-5, `${n}: ${relErr(got[i], ref[i])}`),
    );
    // The bias gradient against a sum in double precision, independent of both kernels.
    const uv = u.dataSync();
    const db = new Float64Array(130);
    for (let r = 0; r < 300; r++) for (let j = 0; j < 130; j++) db[j] += uv[r * 130 + j];
    const dbRef = tf.tensor1d(Float32Array.from(db));
    assert.ok(relErr(got[4], dbRef) < 1e-6, `d b against float64: ${relErr(got[4], dbRef)}`);
    // Values not yet handed to TensorFlow (JS-side) read the same.
    setKernelMode('blas');
    const fresh = tf.tensor2d(uv, [300, 130]);
    const sums = tf.engine().runKernel(SUM_ROWS_KERNEL, { x: fresh }) as tf.Tensor;
    assert.ok(relErr(sums, dbRef) < 1e-6, `sum rows of JS values: ${relErr(sums, dbRef)}`);
    setKernelMode('stock');
    tf.dispose([x, w, b, u, dbRef, fresh, sums, ...ref, ...got]);
  });
});

test('fused softmax and attention KL on tensorflow equal the composites, values and gradients', (t) => {
  if (!ready(t)) return;
  noLeaks('softmax/attention KL', () => {
    const [b, h, s] = [3, 4, 29];
    const m = new Int32Array(b * s);
    const pad = [0, 5, 20];
    for (let i = 0; i < b; i++) for (let j = 0; j < s - pad[i]; j++) m[i * s + j] = 1;
    const mask = tf.tensor2d(m, [b, s], 'int32');
    const bias = tf.tidy(() => tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -3.4e38), [b, 1, 1, s]));
    const scores = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([b, h, s, s], 0, 1, 'float32', 5), 3), bias));
    const teacher = tf.tidy(() =>
      tf.softmax(tf.add(tf.randomNormal([b, h, s, s], 0, 2, 'float32', 6), bias)),
    ) as tf.Tensor4D;
    const w = onTensorflow(tf.randomNormal([b, h, s, s], 0, 1, 'float32', 7));
    const run = () =>
      tf.tidy(() => {
        const sm = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(softmax(x), w)))(scores);
        const kl = tf.valueAndGrad((x: tf.Tensor) => attentionKl(teacher, softmax(x) as tf.Tensor4D, mask))(scores);
        return [softmax(scores), sm.grad, kl.value, kl.grad];
      });
    const [ref, got] = both(run);
    ['softmax', 'softmax d x', 'attention KL', 'attention KL d scores'].forEach((n, i) =>
      assert.ok(relErr(got[i], ref[i]) < 1e-5, `${n}: ${relErr(got[i], ref[i])}`),
    );
    setKernelMode('blas');
    assert.ok(tf.getKernel(SOFTMAX_KERNEL, 'tensorflow'));
    setKernelMode('stock');
    tf.dispose([mask, bias, scores, teacher, w, ...ref, ...got]);
  });
});

test('fused dropout on tensorflow: kept values scaled by 1/(1 − rate), the same mask for the gradient and a seed', (t) => {
  if (!ready(t)) return;
  setKernelMode('blas');
  noLeaks('dropout', () => {
    const x = tf.tidy(() => tf.add(tf.randomUniform([64, 200], 0, 1, 'float32', 8), 0.5));
    const rate = 0.1;
    const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => tf.sum(dropout(a, rate, 'seed-a')))(x);
    const y = dropout(x, rate, 'seed-a');
    const again = dropout(x, rate, 'seed-a');
    const other = dropout(x, rate, 'seed-b');
    const xv = x.dataSync();
    const yv = y.dataSync();
    const gv = grad.dataSync();
    let dropped = 0;
    for (let i = 0; i < xv.length; i++) {
      if (yv[i] === 0) {
        dropped++;
        assert.equal(gv[i], 0, 'no gradient where dropped');
      } else {
        assert.ok(Math.abs(yv[i] - xv[i] / (1 - rate)) <= 1e-6 * yv[i], 'kept values are scaled');
        assert.ok(Math.abs(gv[i] - 1 / (1 - rate)) < 1e-6, 'the gradient has the same mask');
      }
    }
    const share = dropped / xv.length;
    assert.ok(share > 0.08 && share < 0.12, `dropped ${share}`);
    assert.deepEqual(again.dataSync(), yv, 'a seed reproduces the mask');
    assert.notDeepEqual(other.dataSync(), yv, 'another seed, another mask');
    const sum = tf.sum(y);
    assert.ok(Math.abs(value.dataSync()[0] - sum.dataSync()[0]) < 1e-2);
    sum.dispose();
    tf.dispose([x, value, grad, y, again, other]);
  });
  setKernelMode('stock');
});

test("fused AdamW and gradient norm on tensorflow give the composites' parameters, moments and norm", (t) => {
  if (!ready(t)) return;
  const shapes: Array<[string, number[]]> = [
    ['layer.dense.weight', [33, 70]],
    ['layer.dense.bias', [70]],
    ['LayerNorm.weight', [70]],
  ];
  const run = (mode: 'stock' | 'blas') => {
    setKernelMode(mode);
    const vars = shapes.map(([name, shape], i) => ({
      name,
      variable: tf.tidy(() => tf.variable(tf.add(tf.randomNormal(shape, 0, 1, 'float32', 10 + i), 0))),
    }));
    const opt = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
    const norms: number[] = [];
    for (let step = 0; step < 4; step++) {
      const raw = Object.fromEntries(
        shapes.map(([name, shape], i) => [
          name,
          onTensorflow(tf.randomNormal(shape, 0, step + 1, 'float32', 1 + 100 * step + i)),
        ]),
      );
      const { grads, norm } = clipByGlobalNorm(raw, 5);
      norms.push(norm);
      opt.applyGradients(grads, 1e-3 * (step + 1));
      tf.dispose([...Object.values(raw), ...Object.values(grads)]);
    }
    const params = vars.map((v) => (v.variable.dataSync() as Float32Array).slice());
    opt.dispose();
    for (const v of vars) v.variable.dispose();
    setKernelMode('stock');
    return { params, norms };
  };
  noLeaks('AdamW', () => {
    const ref = run('stock');
    const got = run('blas');
    got.norms.forEach((n, i) =>
      assert.ok(Math.abs(n - ref.norms[i]) <= 1e-5 * ref.norms[i], `norm ${n} vs ${ref.norms[i]}`),
    );
    got.params.forEach((p, i) => {
      let diff = 0;
      for (let j = 0; j < p.length; j++) diff = Math.max(diff, Math.abs(p[j] - ref.params[i][j]));
      assert.ok(diff < 1e-6, `${shapes[i][0]}: ${diff}`);
    });
  });
});

test(
  "distillation steps on tensorflow with the fused kernels have the wasm path's losses",
  { timeout: 10 * 60_000 },
  (t) => {
    if (!ready(t)) return;
    ensureCliBuilt();
    const bench = (backend: string, kernels: string): BenchReport => {
      const r = runCli([
        'bench',
        '--shape',
        'tiny',
        '--backend',
        backend,
        '--kernels',
        kernels,
        '--warmup',
        '0',
        '--repeats',
        '3',
        '--json',
      ]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as BenchReport;
    };
    const fused = bench('tensorflow', 'blas');
    const wasm = bench('wasm', 'blas');
    assert.equal(fused.kernels.tensorflow, 'fused');
    // The same native dropout masks on both (the stock composites draw other masks).
    for (const k of ['first', 'last'] as const) {
      const a = fused.step.loss[k];
      const b = wasm.step.loss[k];
      assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${k} loss: tensorflow ${a}, wasm ${b}`);
    }
    assert.notEqual(fused.step.loss.first, fused.step.loss.last, 'the steps train');
  },
);
