// The replacement kernels (src/model/fast-kernels): native-BLAS and untransposed matrix products,
// leading-axis sums and row gathers equal TF.js's stock kernels (forward and gradients) within
// float32 rounding, on wasm and cpu; the mode switch installs and restores kernels; the heap
// estimate refuses a batch that would abort the wasm backend. The BLAS cases need the addon
// (built here when a compiler and OpenBLAS are present; skipped, with the reason, otherwise).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BertModel, countParameters } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import {
  installFastKernels,
  KernelMode,
  kernelsInfo,
  resetKernelMode,
  setKernelMode,
} from '../../src/model/fast-kernels';
import {
  assertStepFitsWasmHeap,
  estimateStepMemory,
  largestFittingBatch,
} from '../../src/model/fast-kernels/heap-budget';
import { isUserError, UserError } from '../../src/util/errors';
import { onBackend, relErr, setUpKernelBackends } from '../helpers/tensors';

let blasReason: string | undefined;

before(async () => {
  blasReason = await setUpKernelBackends();
});

// [a shape, b shape, transposeA, transposeB]: 2-D, every transpose, batched (attention), a batch
// against one shared matrix (either side), rank 4, and empty products (no rows, no columns, k = 0).
const PRODUCTS: Array<[number[], number[], boolean, boolean]> = [
  [[2, 3, 0], [2, 0, 4], false, false],
  [[2, 0, 5], [2, 5, 4], false, false],
  [[2, 3, 5], [2, 5, 0], false, false],
  [[2, 3, 0], [0, 4], false, false],
  [[5, 7], [7, 3], false, false],
  [[7, 5], [7, 3], true, false],
  [[5, 7], [3, 7], false, true],
  [[7, 5], [3, 7], true, true],
  [[6, 5, 7], [6, 7, 4], false, false],
  [[6, 7, 5], [6, 4, 7], true, true],
  [[6, 5, 7], [6, 4, 7], false, true],
  [[6, 5, 7], [7, 4], false, false],
  [[6, 7, 5], [7, 4], true, false],
  [[5, 7], [6, 7, 4], false, false],
  [[2, 3, 9, 16], [2, 3, 16, 9], false, false],
  [[2, 3, 9, 16], [2, 3, 9, 16], false, true],
  [[64, 48], [48, 33], false, false],
];

/** Each product (and its gradients) under `mode` against the stock kernels, on the active backend. */
function compareProducts(mode: KernelMode): number {
  let worst = 0;
  for (const [sa, sb, ta, tb] of PRODUCTS) {
    const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
    const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
    const f = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x, y, ta, tb), tf.randomNormal(tf.matMul(x, y, ta, tb).shape, 0, 1, 'float32', 3)));
    // TF.js's BatchMatMul gradient does not reduce broadcast batches: gradients for equal ranks only.
    const grads = (): tf.Tensor[] => (sa.length === sb.length ? tf.grads(f)([a, b]) : []);
    setKernelMode('stock');
    const ref = tf.matMul(a, b, ta, tb);
    const [refGa, refGb] = grads();
    const bias = tf.randomNormal([ref.shape[ref.shape.length - 1]], 0, 1, 'float32', 4);
    // Against the unfused ops: the stock wasm _FusedMatMul is wrong with a transposed operand.
    const refFused = ref.rank === 2 ? tf.tidy(() => tf.relu(tf.add(ref, bias))) : undefined;
    setKernelMode(mode);
    const got = tf.matMul(a, b, ta, tb);
    const [ga, gb] = grads();
    worst = Math.max(worst, relErr(got, ref));
    if (ga) worst = Math.max(worst, relErr(ga, refGa), relErr(gb, refGb));
    if (refFused) {
      const fused = tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: b as tf.Tensor2D,
        transposeA: ta,
        transposeB: tb,
        bias,
        activation: 'relu',
      });
      worst = Math.max(worst, relErr(fused, refFused));
      fused.dispose();
      refFused.dispose();
    }
    tf.dispose([a, b, ref, bias, got, ...[refGa, refGb, ga, gb].filter(Boolean)]);
  }
  return worst;
}

test('untransposed wasm products equal the stock kernels, forward and gradients', () => {
  const before = tf.memory().numTensors;
  const err = compareProducts('untransposed');
  assert.ok(err < 1e-5, `relative error ${err}`);
  assert.equal(kernelsInfo().wasm, 'untransposed');
  setKernelMode('stock');
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
});

test('native BLAS products equal the stock kernels on wasm and cpu, forward and gradients', async (t) => {
  if (blasReason) {
    t.skip(`native BLAS not available: ${blasReason}`);
    return;
  }
  const before = tf.memory().numTensors;
  const err = compareProducts('blas');
  assert.ok(err < 1e-5, `wasm relative error ${err}`);
  const info = kernelsInfo();
  assert.equal(info.wasm, 'blas');
  assert.match(info.blas?.config ?? '', /\S/);
  const cpuErr = await onBackend('cpu', () => compareProducts('blas'));
  assert.ok(cpuErr < 1e-5, `cpu relative error ${cpuErr}`);
  setKernelMode('stock');
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
});

test('stock mode restores the stock kernels; DISTILLERY_KERNELS picks the mode, a bad value is a UserError', () => {
  setKernelMode('untransposed');
  setKernelMode('stock');
  assert.equal(kernelsInfo().wasm, 'stock');
  assert.equal(kernelsInfo().cpu, 'stock');
  const saved = process.env.DISTILLERY_KERNELS;
  try {
    resetKernelMode();
    process.env.DISTILLERY_KERNELS = 'untransposed';
    assert.equal(installFastKernels().wasm, 'untransposed');
    process.env.DISTILLERY_KERNELS = 'fastest';
    assert.throws(
      () => installFastKernels(),
      (e: unknown) => isUserError(e) && e.where === 'DISTILLERY_KERNELS',
    );
  } finally {
    if (saved === undefined) delete process.env.DISTILLERY_KERNELS;
    else process.env.DISTILLERY_KERNELS = saved;
    setKernelMode('stock');
  }
});

test('leading-axis sums and row gathers equal the stock wasm kernels', () => {
  const x = tf.randomNormal([40, 3, 17], 0, 1, 'float32', 5);
  const table = tf.randomNormal([50, 8], 0, 1, 'float32', 6);
  const ids = tf.tensor2d(
    [
      [3, 0, 49],
      [7, 7, 1],
    ],
    [2, 3],
    'int32',
  );
  const cases = (): tf.Tensor[] => [
    tf.sum(x, 0),
    tf.sum(x, [0, 1]),
    tf.sum(x, 0, true),
    tf.sum(x, -1),
    tf.sum(x, [0, 2]),
    tf.sum(x),
    tf.gather(table, ids),
    tf.gather(table, tf.tensor1d([2, 2, 0], 'int32')),
    tf.gather(tf.cast(table, 'int32'), ids),
    tf.gather(table, tf.tensor1d([1, 0], 'int32'), 1),
  ];
  setKernelMode('stock');
  const ref = cases();
  setKernelMode('untransposed');
  const got = cases();
  got.forEach((g, i) => assert.ok(relErr(g, ref[i]) < 1e-6, `case ${i}`));
  assert.throws(() => tf.gather(table, tf.tensor1d([50], 'int32')), /not in \[0, 49\]/);
  setKernelMode('stock');
});

const tinyConfig = (layers: number, hidden: number): BertConfig => ({
  ...BERT_BASE_DEFAULTS,
  vocabSize: 30522,
  hiddenSize: hidden,
  numHiddenLayers: layers,
  numAttentionHeads: hidden / 64,
  intermediateSize: 4 * hidden,
  maxPositionEmbeddings: 512,
});
const size = (c: BertConfig) => ({ config: c, params: countParameters(c).total });

test('memory estimate: the reference shape fits the wasm heap, an oversized batch is refused with a fix', () => {
  const teacher = size(tinyConfig(4, 256));
  const student = size(tinyConfig(2, 256));
  for (const path of ['fused', 'ops'] as const) {
    const ref = estimateStepMemory(teacher, student, 32, 128, path);
    // Measured wasm heaps at 32 × 128 (docs/performance.md): 1.2 GiB fused, 1.9 GiB op by op.
    assert.ok(ref.totalBytes > 0.9 * 1024 ** 3 && ref.totalBytes < 2.2 * 1024 ** 3, `${path}: ${ref.totalBytes}`);
    assert.equal(ref.peak, 'forward');
  }
  // At batch 1 the optimizer update sets the peak.
  assert.equal(estimateStepMemory(teacher, student, 1, 128, 'fused').peak, 'optimizer');
  assert.doesNotThrow(() => assertStepFitsWasmHeap(teacher, student, 32, 128, undefined, 'wasm'));
  const fit = largestFittingBatch(teacher, student, 128);
  assert.ok(fit >= 32 && fit < 256, `largest batch ${fit}`);
  let err: unknown;
  try {
    assertStepFitsWasmHeap(teacher, student, 256, 128, undefined, 'wasm');
  } catch (e) {
    err = e;
  }
  assert.ok(isUserError(err), 'a UserError');
  assert.equal((err as UserError).where, 'optim.batchSize');
  assert.match((err as UserError).fix ?? '', new RegExp(`at most ${fit} `));
  // Other backends have no fixed heap.
  assert.doesNotThrow(() => assertStepFitsWasmHeap(teacher, student, 256, 128, undefined, 'cpu'));
  // The update adds the raw and clipped gradients, or the clipped ones and three copies of the
  // largest variable (the word embeddings), whichever is more: AdamW frees each variable's
  // temporaries before the next.
  const opt = estimateStepMemory(teacher, student, 1, 128, 'fused');
  assert.equal(opt.optimizerPhaseBytes - opt.persistentBytes, 4 * (student.params + 3 * 30522 * 256));
  // So a BERT-base-width student (6 × 768, the gpu shape) trains on wasm at small batches…
  assert.ok(largestFittingBatch(size(tinyConfig(12, 768)), size(tinyConfig(6, 768)), 128, 'fused') >= 4);
  // …while a BERT-large one's weights and moments alone exceed the heap, at any batch size.
  const big = size(tinyConfig(24, 1024));
  assert.equal(largestFittingBatch(big, big, 128), 0);
  err = undefined;
  try {
    assertStepFitsWasmHeap(big, big, 1, 128, undefined, 'wasm');
  } catch (e) {
    err = e;
  }
  assert.ok(isUserError(err) && err.where === 'student' && /any batch size/.test(err.message), String(err));
});

test('a forward pass too big for the wasm heap fails with a UserError before running, and the backend stays usable', () => {
  const c: BertConfig = { ...tinyConfig(2, 64), vocabSize: 100, numAttentionHeads: 2 };
  const model = BertModel.randomInit(c, 1);
  const big = {
    inputIds: tf.zeros([4096, 512], 'int32') as tf.Tensor2D,
    tokenTypeIds: tf.zeros([4096, 512], 'int32') as tf.Tensor2D,
    attentionMask: tf.ones([4096, 512], 'int32') as tf.Tensor2D,
  };
  let err: unknown;
  try {
    model.forward(big, { training: true });
  } catch (e) {
    err = e;
  }
  assert.ok(isUserError(err), `expected a UserError, got ${String(err)}`);
  assert.match((err as UserError).fix ?? '', /batchSize|maxSeqLen/);
  tf.dispose(Object.values(big));
  const small = {
    inputIds: tf.ones([2, 8], 'int32') as tf.Tensor2D,
    tokenTypeIds: tf.zeros([2, 8], 'int32') as tf.Tensor2D,
    attentionMask: tf.ones([2, 8], 'int32') as tf.Tensor2D,
  };
  const out = model.forward(small, { training: false });
  assert.deepEqual(out.logits.shape, [2, 2]);
  tf.dispose([out.logits, out.pooled, ...out.hiddenStates, ...out.attentions, ...Object.values(small)]);
  model.dispose();
});

test('native element-wise kernels: broadcast adds/subs/muls/divs, x², sums, GELU, LayerNorm and dropout match the ops they replace', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  const before = tf.memory().numTensors;
  const x = tf.randomNormal([64, 96], 0, 1, 'float32', 7);
  const y = tf.randomNormal([64, 96], 0, 1, 'float32', 8);
  const row = tf.randomNormal([96], 0, 1, 'float32', 9);
  const col = tf.randomNormal([64, 1], 0, 1, 'float32', 10);
  const binaries = (): tf.Tensor[] => [
    tf.add(x, y),
    tf.sub(x, row),
    tf.sub(row, x),
    tf.mul(x, col),
    tf.div(col, tf.add(x, 3)),
    tf.div(x, 2.5),
    tf.sub(1, x),
    tf.mul(tf.reshape(col, [64, 1]), tf.reshape(row, [1, 96])),
    tf.pow(x, 2),
    tf.sum(x, 0),
    tf.sum(tf.reshape(x, [8, 8, 96]), [0, 1]),
  ];
  setKernelMode('stock');
  const ref = tf.tidy(binaries);
  setKernelMode('blas');
  const got = tf.tidy(binaries);
  got.forEach((g, i) => {
    // IEEE add/sub/mul/div give identical bits; x·x may differ from powf(x, 2) in the last bit, and
    // the sums accumulate in double (at least as accurate as stock).
    const tol = i >= 8 ? 1e-6 : 0;
    assert.ok(relErr(g, ref[i]) <= tol, `binary case ${i}: ${relErr(g, ref[i])}`);
  });
  tf.dispose([...ref, ...got]);

  // The fused GELU (its rational erf) against GELU built on TF.js's Erf kernel: value and gradient.
  const { gelu } = await import('../../src/model/gelu');
  const w = tf.randomNormal([96, 96], 0, 1, 'float32', 13);
  const loss = (impl: 'auto' | 'native') => (v: tf.Tensor) => tf.sum(tf.matMul(gelu(tf.mul(v, 2), impl), w));
  const fused = tf.tidy(() => {
    const r = tf.valueAndGrad(loss('auto'))(x);
    return [r.value, r.grad];
  });
  const viaErf = tf.tidy(() => {
    const r = tf.valueAndGrad(loss('native'))(x);
    return [r.value, r.grad];
  });
  assert.ok(
    relErr(fused[0], viaErf[0]) < 1e-5 && relErr(fused[1], viaErf[1]) < 1e-5,
    `gelu: value ${relErr(fused[0], viaErf[0])}, grad ${relErr(fused[1], viaErf[1])}`,
  );
  tf.dispose([...fused, ...viaErf, w]);
  tf.dispose([x, y, row, col]);
  setKernelMode('stock');
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
});

test('BERT with the native kernels (fused LayerNorm, GELU, dropout) equals the stock-kernel model in eval and trains with reproducible dropout', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  const c: BertConfig = {
    ...BERT_BASE_DEFAULTS,
    vocabSize: 120,
    hiddenSize: 32,
    numHiddenLayers: 2,
    numAttentionHeads: 2,
    intermediateSize: 64,
    maxPositionEmbeddings: 64,
  };
  const model = BertModel.randomInit(c, 3);
  const ids = tf.tensor2d(
    [
      [101, 7, 8, 9, 102, 0],
      [101, 50, 51, 102, 0, 0],
    ],
    [2, 6],
    'int32',
  );
  const inputs = {
    inputIds: ids,
    tokenTypeIds: tf.zerosLike(ids) as tf.Tensor2D,
    attentionMask: tf.cast(tf.greater(ids, 0), 'int32') as tf.Tensor2D,
  };
  const run = (mode: KernelMode, training: boolean, seed?: number) => {
    setKernelMode(mode);
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(model.forward(inputs, { training, seed }).logits)) as tf.Scalar,
        model.trainableVariables(),
      );
      const g = Object.values(grads);
      return [value, tf.concat(g.map((x) => tf.reshape(x, [-1])))];
    });
  };
  const [sv, sg] = run('stock', false);
  const [nv, ng] = run('blas', false);
  assert.ok(relErr(nv, sv) < 1e-5, `eval value ${relErr(nv, sv)}`);
  assert.ok(relErr(ng, sg) < 1e-4, `eval gradients ${relErr(ng, sg)}`);
  const [d1] = run('blas', true, 5);
  const [d2] = run('blas', true, 5);
  const [d3] = run('blas', true, 6);
  assert.equal(d1.dataSync()[0], d2.dataSync()[0], 'a seed reproduces the dropout masks');
  assert.notEqual(d1.dataSync()[0], d3.dataSync()[0], 'another seed, other masks');
  tf.dispose([sv, sg, nv, ng, d1, d2, d3, ids, inputs.tokenTypeIds, inputs.attentionMask]);
  model.dispose();
  setKernelMode('stock');
});

test('native dropout keeps about 1 − rate of the values, scaled by 1/(1 − rate), and its gradient uses the same mask', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  setKernelMode('blas');
  const { DROPOUT_KERNEL } = await import('../../src/model/fast-kernels/elementwise');
  const x = tf.ones([200000]);
  const attrs = { rate: 0.1, seedHi: 12345, seedLo: 678 };
  const y = tf.engine().runKernel(DROPOUT_KERNEL, { x }, attrs) as tf.Tensor;
  const v = y.dataSync();
  let kept = 0;
  for (const e of v) {
    if (e !== 0) {
      kept++;
      assert.equal(e, Math.fround(1 / Math.fround(0.9)));
    }
  }
  assert.ok(Math.abs(kept / v.length - 0.9) < 0.005, `kept ${kept / v.length}`);
  const again = tf.engine().runKernel(DROPOUT_KERNEL, { x }, attrs) as tf.Tensor;
  assert.deepEqual(again.dataSync(), v);
  tf.dispose([x, y, again]);
  setKernelMode('stock');
});
