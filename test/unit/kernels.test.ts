// The UnsortedSegmentSum kernel registered for wasm (the embedding gradient) and exact GELU (both
// the native Erf kernel and the erf built from ops), on the wasm backend; the stock cpu backend
// serves as a second opinion.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { registerMissingKernels } from '../../src/model/kernels';
import { erf, erfFromOps, gelu, hasNativeErf, ErfImpl } from '../../src/model/gelu';

// math.erf(k / 16) for k = 0..80 from CPython (/usr/bin/python3), i.e. x in [0, 5] step 1/16
// (exact in float32); erf is odd, so negative x mirror these.
const ERF_BY_SIXTEENTHS = [
  0.0, 0.07043197772238707, 0.1403162048013338, 0.20911767705937584, 0.2763263901682369, 0.341468633501595,
  0.4041169094348223, 0.463898135749933, 0.5204998778130465, 0.5736744566155919, 0.623240882188418, 0.6690846628860813,
  0.7111556336535151, 0.749464025586362, 0.7840750610598597, 0.8151024010343998, 0.8427007929497149, 0.8670582694349528,
  0.8883882317017078, 0.9069217197816865, 0.9229001282564582, 0.9365685747113888, 0.9481700727820903, 0.95794060605646,
  0.9661051464753108, 0.9728746138209335, 0.9784437332399837, 0.982989716601978, 0.9866716712191824, 0.9896306257947752,
  0.9919900576701199, 0.9938568063952132, 0.9953222650189527, 0.9964637508747902, 0.9973459706405177,
  0.9980225088163892, 0.9985372834133188, 0.9989259267092776, 0.9992170617821089, 0.9994334567454198, 0.999593047982555,
  0.9997098311383266, 0.9997946242638588, 0.9998557114825746, 0.9998993780778803, 0.9999303492456073,
  0.9999521451602562, 0.9999673647128524, 0.9999779095030014, 0.9999851585892071, 0.9999901032653747, 0.999993449849224,
  0.9999956972205363, 0.9999971946873958, 0.9999981847185726, 0.9999988341746511, 0.9999992569016276, 0.999999529912161,
  0.9999997048598075, 0.9999998160959875, 0.9999998862727434, 0.9999999302015868, 0.999999957486056, 0.9999999743008093,
  0.9999999845827421, 0.9999999908210709, 0.9999999945765992, 0.999999996819877, 0.9999999981494259, 0.9999999989312964,
  0.9999999993875167, 0.9999999996516503, 0.9999999998033839, 0.9999999998898706, 0.9999999999387839, 0.999999999966232,
  0.9999999999815149, 0.9999999999899583, 0.9999999999945866, 0.999999999997104, 0.9999999999984626,
];
// Tiny arguments, where a formula of the form 1 - (...) would lose all relative accuracy.
const ERF_TINY: Array<[number, number]> = [
  [2 ** -10, 0.0011019324300718147],
  [2 ** -20, 1.0761062308265404e-6],
];

const XS: number[] = [];
const ERFS: number[] = [];
for (let k = -80; k <= 80; k++) {
  XS.push(k / 16);
  ERFS.push(Math.sign(k) * ERF_BY_SIXTEENTHS[Math.abs(k)]);
}
for (const [x, e] of ERF_TINY) {
  XS.push(x, -x);
  ERFS.push(e, -e);
}

let cpuRegistered = false;

/** Runs `f` on the stock cpu backend and returns to wasm (both stay registered in this process). */
async function onCpu<T>(f: () => T): Promise<T> {
  if (!cpuRegistered) {
    await import('@tensorflow/tfjs-backend-cpu');
    cpuRegistered = true;
  }
  const warn = console.warn;
  console.warn = () => undefined; // the cpu backend advertises tfjs-node when it starts
  try {
    await tf.setBackend('cpu');
  } finally {
    console.warn = warn;
  }
  try {
    return f();
  } finally {
    await tf.setBackend('wasm');
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A deterministic pseudo-random fill, so the test needs no seeded tf.random state. */
function filled(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

before(async () => {
  await initBackend('wasm');
  registerMissingKernels();
});

test('registerMissingKernels registers UnsortedSegmentSum for wasm and is idempotent', () => {
  assert.ok(tf.getKernel('UnsortedSegmentSum', 'wasm'));
  const warnings: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args);
  try {
    registerMissingKernels();
    registerMissingKernels();
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(warnings, [], 'a second registration would make tfjs warn "already registered"');
});

test('UnsortedSegmentSum on wasm: sums rows by id, drops out-of-range ids, matches hand and cpu results', async () => {
  const x = [
    [1, 2, 3],
    [10, 20, 30],
    [100, 200, 300],
    [7, 7, 7],
    [9, 9, 9],
    [0.5, 0.25, 0.125],
  ];
  const ids = [2, 0, 2, -1, 4, 1]; // -1 and 4 (= numSegments) are dropped
  const expected = [
    [10, 20, 30],
    [0.5, 0.25, 0.125],
    [101, 202, 303],
    [0, 0, 0],
  ];
  const wasmOut = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d(x), tf.tensor1d(ids, 'int32'), 4).arraySync());
  assert.deepEqual(wasmOut, expected);
  const cpuOut = await onCpu(() =>
    tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d(x), tf.tensor1d(ids, 'int32'), 4).arraySync()),
  );
  assert.deepEqual(wasmOut, cpuOut);

  // int32 values, and segment ids over the two leading dimensions of a rank-3 input.
  const xi = tf.tensor3d(
    [
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ],
    [2, 2, 2],
    'int32',
  );
  const ids2 = tf.tensor2d(
    [
      [1, 0],
      [1, 1],
    ],
    [2, 2],
    'int32',
  );
  // tfjs types segmentIds as 1-D, but the kernel contract (and TensorFlow's) allows a prefix shape.
  const out = tf.unsortedSegmentSum(xi, ids2 as unknown as tf.Tensor1D, 3);
  assert.equal(out.dtype, 'int32');
  assert.deepEqual(out.arraySync(), [
    [3, 4],
    [1 + 5 + 7, 2 + 6 + 8],
    [0, 0],
  ]);
  tf.dispose([xi, ids2, out]);
});

test('UnsortedSegmentSum on cpu is replaced by the single pass: float32 row-order sums, the stock formula to rounding', async () => {
  const n = 300;
  const inner = 7;
  const segments = 50;
  const xs = Float32Array.from({ length: n * inner }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
  const idv = Int32Array.from({ length: n }, (_, i) => ((i * 37) % (segments + 3)) - 1); // includes -1 and ≥ segments
  await onCpu(() => undefined); // loads the cpu backend package, whose kernel is then replaced
  registerMissingKernels();
  assert.equal(
    (tf.getKernel('UnsortedSegmentSum', 'cpu')?.kernelFunc as { name?: string }).name,
    'unsortedSegmentSumCpu',
  );
  const [ours, stock] = await onCpu(() =>
    tf.tidy(() => {
      const x = tf.tensor2d(xs, [n, inner]);
      const ids = tf.tensor1d(idv, 'int32');
      const fast = tf.unsortedSegmentSum(x, ids, segments);
      // The stock cpu kernel's own formula: per segment, sum(x · [ids == s]) over the rows.
      const rows = Array.from({ length: segments }, (_, s) =>
        tf.sum(tf.mul(x, tf.expandDims(tf.cast(tf.equal(ids, s), 'float32'), 1)), 0),
      );
      return [Array.from(fast.dataSync()), Array.from(tf.stack(rows).dataSync())];
    }),
  );
  // Float32 sums in row order, by hand: exactly what the single pass computes.
  const hand = new Float32Array(segments * inner);
  idv.forEach((id, i) => {
    if (id < 0 || id >= segments) return;
    for (let j = 0; j < inner; j++) hand[id * inner + j] = Math.fround(hand[id * inner + j] + xs[i * inner + j]);
  });
  assert.deepEqual(ours, Array.from(hand));
  // The stock formula reduces in another order: equal to float32 rounding.
  assert.ok(maxAbsDiff(ours, stock) < 1e-5, `vs stock ${maxAbsDiff(ours, stock)}`);
});

test('embedding (tf.gather) gradient on wasm equals the hand computation and the cpu backend', async () => {
  const vocab = 7;
  const dim = 5;
  const table = filled(vocab * dim, 1);
  const ids = [
    [1, 3, 1],
    [6, 0, 1],
  ];
  const weights = filled(2 * 3 * dim, 2);
  const grad = () =>
    tf.tidy(() => {
      const t = tf.tensor2d(table, [vocab, dim]);
      const w = tf.tensor3d(weights, [2, 3, dim]);
      const idx = tf.tensor2d(ids, [2, 3], 'int32');
      const g = tf.grad((tt: tf.Tensor) => tf.sum(tf.mul(tf.gather(tt, idx), w)))(t);
      return Array.from(g.dataSync());
    });
  const expected = new Float64Array(vocab * dim);
  ids.flat().forEach((id, pos) => {
    for (let j = 0; j < dim; j++) expected[id * dim + j] += weights[pos * dim + j];
  });
  const wasmGrad = grad();
  assert.ok(maxAbsDiff(wasmGrad, expected) < 1e-6, 'wasm gradient vs hand computation');
  assert.ok(maxAbsDiff(wasmGrad, await onCpu(grad)) < 1e-6, 'wasm gradient vs cpu backend');
});

test('embedding gradient over a 30522-row vocabulary takes one pass, not one per row', () => {
  const before = tf.memory().numTensors;
  const start = Date.now();
  const sum = tf.tidy(() => {
    const table = tf.zeros([30522, 64]);
    const idx = tf.tensor2d(
      Int32Array.from({ length: 32 * 128 }, (_, i) => (i * 7919) % 30522),
      [32, 128],
      'int32',
    );
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx)))(table);
    return tf.sum(g).dataSync()[0];
  });
  const seconds = (Date.now() - start) / 1000;
  assert.equal(sum, 32 * 128 * 64);
  // The stock cpu kernel loops over all 30522 segments (tens of seconds); one pass takes milliseconds.
  assert.ok(seconds < 3, `took ${seconds} s`);
  assert.equal(tf.memory().numTensors, before);
});

test('erf: native kernel and the ops fallback agree with math.erf to float32 accuracy', () => {
  assert.equal(hasNativeErf('wasm'), true);
  assert.equal(hasNativeErf('no-such-backend'), false);
  const x = tf.tensor1d(XS);
  const native = erf(x, 'native');
  const fromOps = erfFromOps(x);
  const auto = erf(x);
  // Float32 spacing near 1 is 6e-8; the fallback's rational is evaluated in float32 (~4e-7).
  assert.ok(maxAbsDiff(native.dataSync(), ERFS) < 2e-7, `native: ${maxAbsDiff(native.dataSync(), ERFS)}`);
  assert.ok(maxAbsDiff(fromOps.dataSync(), ERFS) < 5e-7, `ops: ${maxAbsDiff(fromOps.dataSync(), ERFS)}`);
  assert.deepEqual(auto.dataSync(), native.dataSync());
  // Relative accuracy for tiny arguments (no cancellation against 1).
  const n = XS.length;
  for (let i = n - 4; i < n; i++) {
    assert.ok(Math.abs(fromOps.dataSync()[i] / ERFS[i] - 1) < 1e-6, `ops at x = ${XS[i]}`);
    assert.ok(Math.abs(native.dataSync()[i] / ERFS[i] - 1) < 1e-6, `native at x = ${XS[i]}`);
  }
  // Far tails saturate at ±1 rather than overshooting.
  const tails = erfFromOps(tf.tensor1d([-30, -6, 6, 30])).dataSync();
  assert.deepEqual(Array.from(tails), [-1, -1, 1, 1]);
  tf.dispose([x, native, fromOps, auto]);
});

for (const impl of ['native', 'ops'] as ErfImpl[]) {
  test(`gelu (${impl} erf): value x·Φ(x) and gradient Φ(x) + x·φ(x) against math.erf`, () => {
    const x = tf.tensor1d(XS);
    const value = gelu(x, impl);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(gelu(t, impl)))(x);
    const wantValue = XS.map((v) => v * 0.5 * (1 + erfSeries(v / Math.SQRT2)));
    const wantGrad = XS.map(
      (v) => 0.5 * (1 + erfSeries(v / Math.SQRT2)) + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI),
    );
    const tol = impl === 'native' ? 2e-7 : 5e-7;
    for (let i = 0; i < XS.length; i++) {
      const scale = Math.max(1, Math.abs(XS[i]));
      assert.ok(
        Math.abs(value.dataSync()[i] - wantValue[i]) <= tol * scale,
        `value at ${XS[i]}: ${value.dataSync()[i]} vs ${wantValue[i]}`,
      );
      assert.ok(
        Math.abs(grad.dataSync()[i] - wantGrad[i]) <= 2 * tol * scale,
        `gradient at ${XS[i]}: ${grad.dataSync()[i]} vs ${wantGrad[i]}`,
      );
    }
    // Not the tanh approximation: at x = -2.5 that would give -0.01508, exact GELU gives -0.01552.
    const at = XS.indexOf(-2.5);
    assert.ok(Math.abs(value.dataSync()[at] - -0.015524) < 1e-5);
    tf.dispose([x, value, grad]);
  });
}

/**
 * erf by its Maclaurin series, for the GELU references, which need erf(x/√2) off the table's grid.
 * For |z| ≤ 3.6 the terms peak near 1e4, so cancellation costs ~1e-12; checked against the table.
 */
function erfSeries(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

test('the series used for GELU references reproduces the math.erf table', () => {
  for (let i = 0; i < XS.length; i++) {
    if (Math.abs(XS[i]) > 3.6) continue;
    assert.ok(Math.abs(erfSeries(XS[i]) - ERFS[i]) < 1e-10, `series at ${XS[i]}`);
  }
});

test('gelu on the cpu backend (its own Erf kernel) matches wasm', async () => {
  const wasmValues = tf.tidy(() => Array.from(gelu(tf.tensor1d(XS)).dataSync()));
  const cpuValues = await onCpu(() => tf.tidy(() => Array.from(gelu(tf.tensor1d(XS)).dataSync())));
  // tfjs-cpu's erf is Abramowitz–Stegun 7.1.26 (1.5e-7).
  assert.ok(maxAbsDiff(wasmValues, cpuValues) < 1e-6);
});
