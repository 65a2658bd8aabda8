// The native training kernels (src/model/fast-kernels/training-kernels.ts) against the op-by-op
// paths they replace, on wasm and cpu: softmax and its gradient, the attention-KL loss and its
// gradients (padding, head averaging, zeros below the clamps, NaN where it must and must not
// show), AdamW bit for bit over several steps, gradient clipping's Σx² against the exact norm,
// Transpose for every permutation of a 4-D tensor (sharing data when a permutation moves only
// size-1 axes), Slice and row GatherV2. Needs the addon (built here when a compiler and OpenBLAS
// are present; skipped, with the reason, otherwise).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { KernelMode, setKernelMode, resetKernelMode } from '../../src/model/fast-kernels';
import { collapsePermutation, SOFTMAX_KERNEL } from '../../src/model/fast-kernels/training-kernels';
import { softmax } from '../../src/model/softmax';
import { attentionKl } from '../../src/distill/losses';
import { AdamW } from '../../src/train/optimizer';
import { onBackend, relErr, setUpKernelBackends } from '../helpers/tensors';

let blasReason: string | undefined;

before(async () => {
  blasReason = await setUpKernelBackends();
});

after(() => {
  setKernelMode('stock');
  resetKernelMode();
});

const BACKENDS = ['wasm', 'cpu'] as const;

/** f under the stock kernels (the reference ops) and under the native ones: [reference, native]. */
function both<T>(f: () => T): [T, T] {
  setKernelMode('stock');
  const ref = f();
  setKernelMode('blas');
  const got = f();
  setKernelMode('stock');
  return [ref, got];
}

/** [batch, seq] with the last `pad[b]` positions of row b padded. */
function paddingMask(batch: number, seq: number, pad: number[]): tf.Tensor2D {
  const m = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) for (let s = 0; s < seq - pad[b]; s++) m[b * seq + s] = 1;
  return tf.tensor2d(m, [batch, seq], 'int32');
}

/** Attention-like probabilities [b, h, s, s]: a softmax of random scores with padded keys at exactly 0. */
function attentionMaps(b: number, h: number, s: number, mask: tf.Tensor2D, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const bias = tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -3.4e38), [b, 1, 1, s]);
    return tf.softmax(tf.add(tf.mul(tf.randomNormal([b, h, s, s], 0, 1, 'float32', seed), 3), bias)) as tf.Tensor4D;
  });
}

test('native softmax and its gradient equal tf.softmax, with masked keys at exactly 0', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  for (const backend of BACKENDS) {
    await onBackend(backend, () => {
      const before = tf.memory().numTensors;
      const mask = paddingMask(3, 37, [0, 5, 36]);
      const scores = tf.tidy(() =>
        tf.add(
          tf.mul(tf.randomNormal([3, 4, 37, 37], 0, 1, 'float32', 1), 4),
          tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -3.4e38), [3, 1, 1, 37]),
        ),
      );
      const w = tf.randomNormal([3, 4, 37, 37], 0, 1, 'float32', 2);
      const run = () =>
        tf.tidy(() => {
          const r = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(softmax(x), w)))(scores);
          return [softmax(scores), r.grad];
        });
      const [[refY, refG], [y, g]] = both(run);
      setKernelMode('blas');
      assert.ok(tf.getKernel(SOFTMAX_KERNEL, backend), 'the native kernel is registered in blas mode');
      setKernelMode('stock');
      assert.ok(relErr(y, refY) < 2e-7, `${backend} softmax: ${relErr(y, refY)}`);
      assert.ok(relErr(g, refG) < 1e-6, `${backend} softmax gradient: ${relErr(g, refG)}`);
      const yv = y.dataSync();
      const mv = mask.dataSync();
      for (let b = 0; b < 3; b++)
        for (let i = 0; i < 4 * 37; i++)
          for (let k = 0; k < 37; k++) {
            if (mv[b * 37 + k] === 0) assert.equal(yv[(b * 4 * 37 + i) * 37 + k], 0, 'a masked key gets exactly 0');
          }
      tf.dispose([refY, refG, y, g, mask, scores, w]);
      assert.equal(tf.memory().numTensors, before, `${backend}: no tensors leak`);
    });
  }
});

test('native attention KL equals the op-by-op loss: value, student and teacher gradients, head averaging', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  for (const backend of BACKENDS) {
    await onBackend(backend, () => {
      const mask = paddingMask(3, 19, [0, 4, 11]);
      const teacher = attentionMaps(3, 4, 19, mask, 3);
      // Student maps with some exact zeros on real keys: below the clamp, no gradient passes there.
      const student = tf.tidy(() => {
        const s = attentionMaps(3, 4, 19, mask, 4);
        const holes = tf.cast(tf.greater(tf.randomUniform(s.shape, 0, 1, 'float32', 5), 0.05), 'float32');
        return tf.mul(s, holes) as tf.Tensor4D;
      });
      for (const headAverage of [false, true]) {
        const run = () =>
          tf.tidy(() => {
            const f = (tt: tf.Tensor, ss: tf.Tensor) =>
              attentionKl(tt as tf.Tensor4D, ss as tf.Tensor4D, mask, { headAverage });
            const { value, grads } = tf.valueAndGrads(f)([teacher, student]);
            return [value, grads[0], grads[1]];
          });
        const [[rv, rgt, rgs], [v, gt, gs]] = both(run);
        const what = `${backend}${headAverage ? ', head-averaged' : ''}`;
        assert.ok(
          Math.abs(v.dataSync()[0] - rv.dataSync()[0]) <= 1e-6 * Math.abs(rv.dataSync()[0]),
          `${what} value ${v.dataSync()[0]} vs ${rv.dataSync()[0]}`,
        );
        assert.ok(v.dataSync()[0] > 0.1, `${what}: a real difference is measured`);
        assert.ok(relErr(gs, rgs) < 1e-6, `${what} student gradient: ${relErr(gs, rgs)}`);
        assert.ok(relErr(gt, rgt) < 1e-5, `${what} teacher gradient: ${relErr(gt, rgt)}`);
        tf.dispose([rv, rgt, rgs, v, gt, gs]);
      }
      // Identical maps: KL 0, up to the log's rounding.
      const [same, sameRef] = both(() => attentionKl(teacher, teacher, mask));
      assert.ok(
        Math.abs(same.dataSync()[0]) < 1e-6 && Math.abs(sameRef.dataSync()[0]) < 1e-6,
        `KL(A ‖ A) = ${same.dataSync()[0]}`,
      );
      tf.dispose([mask, teacher, student, same, sameRef]);
    });
  }
});

test('native attention KL: padded rows and keys add nothing whatever their values; a NaN on a real key is a NaN loss', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  setKernelMode('blas');
  const mask = paddingMask(2, 6, [0, 2]);
  const teacher = attentionMaps(2, 2, 6, mask, 6);
  const student = attentionMaps(2, 2, 6, mask, 7);
  const clean = attentionKl(teacher, student, mask).dataSync()[0];
  // NaN in a padded key column and in a padded query row of batch 1 (positions 4 and 5).
  const poison = (where: (q: number, k: number) => boolean) =>
    tf.tidy(() => {
      const v = student.dataSync().slice();
      for (let h = 0; h < 2; h++)
        for (let q = 0; q < 6; q++) for (let k = 0; k < 6; k++) if (where(q, k)) v[((1 * 2 + h) * 6 + q) * 6 + k] = NaN;
      return tf.tensor4d(v, student.shape);
    });
  const padded = poison((q, k) => q >= 4 || k >= 4);
  assert.equal(attentionKl(teacher, padded, mask).dataSync()[0], clean, 'padding ignored whatever its values');
  const real = poison((q, k) => q === 1 && k === 2);
  assert.ok(Number.isNaN(attentionKl(teacher, real, mask).dataSync()[0]), 'a NaN on a real position reaches the loss');
  // An empty batch and an all-padding batch are 0, not NaN.
  assert.equal(attentionKl(teacher, student, tf.zeros([2, 6], 'int32') as tf.Tensor2D).dataSync()[0], 0);
  tf.dispose([mask, teacher, student, padded, real]);
  setKernelMode('stock');
});

test('native AdamW gives bit-identical parameters and moments to the op-by-op update over 6 steps', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  for (const backend of BACKENDS) {
    await onBackend(backend, () => {
      const shapes: Array<[string, number[]]> = [
        ['layer.dense.weight', [33, 70]],
        ['layer.dense.bias', [70]],
        ['LayerNorm.weight', [70]],
        ['tiny.weight', [3]],
      ];
      const run = (mode: KernelMode, weightDecay: number) => {
        setKernelMode(mode);
        const vars = shapes.map(([name, shape], i) => ({
          name,
          variable: tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 10 + i)),
        }));
        const opt = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay });
        for (let step = 0; step < 6; step++) {
          const grads = Object.fromEntries(
            shapes.map(([name, shape], i) => [
              name,
              tf.randomNormal(shape, 0, step + 1, 'float32', 1 + 100 * step + i),
            ]),
          );
          opt.applyGradients(grads, 1e-3 * (step + 1));
          tf.dispose(Object.values(grads));
        }
        const state = opt.getState();
        const params = vars.map((v) => (v.variable.dataSync() as Float32Array).slice());
        opt.dispose();
        for (const v of vars) v.variable.dispose();
        setKernelMode('stock');
        return { params, state };
      };
      for (const wd of [0.01, 0]) {
        const ref = run('stock', wd);
        const got = run('blas', wd);
        got.params.forEach((p, i) => assert.deepEqual(p, ref.params[i], `${backend} wd ${wd}: ${shapes[i][0]}`));
        assert.deepEqual(got.state, ref.state, `${backend} wd ${wd}: moments`);
        assert.ok(got.params[0].some((x) => x !== 0));
      }
    });
  }
});

test('collapsePermutation drops size-1 axes and merges axes that stay neighbours', () => {
  assert.deepEqual(collapsePermutation([30522, 256], [0, 1]), { shape: [7813632], perm: [0] });
  assert.deepEqual(collapsePermutation([4, 1, 5], [1, 0, 2]), { shape: [20], perm: [0] });
  assert.deepEqual(collapsePermutation([32, 128, 4, 64], [0, 2, 1, 3]), {
    shape: [32, 128, 4, 64],
    perm: [0, 2, 1, 3],
  });
  assert.deepEqual(collapsePermutation([2, 3, 4, 5], [2, 3, 0, 1]), { shape: [6, 20], perm: [1, 0] });
  assert.deepEqual(collapsePermutation([2, 3, 4, 5], [0, 3, 1, 2]), { shape: [2, 12, 5], perm: [0, 2, 1] });
  assert.deepEqual(collapsePermutation([1, 1], [1, 0]), { shape: [1], perm: [0] });
});

test('native Transpose equals the stock kernel for every permutation of a 4-D tensor; order-keeping ones share data', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  const perms: number[][] = [];
  const permute = (prefix: number[], rest: number[]): void => {
    if (rest.length === 0) perms.push(prefix);
    for (const r of rest)
      permute(
        [...prefix, r],
        rest.filter((x) => x !== r),
      );
  };
  permute([], [0, 1, 2, 3]);
  for (const backend of BACKENDS) {
    await onBackend(backend, () => {
      const x = tf.randomNormal([6, 7, 8, 13], 0, 1, 'float32', 20);
      for (const perm of perms) {
        const [ref, got] = both(() => tf.transpose(x, perm));
        assert.deepEqual(got.shape, ref.shape);
        assert.deepEqual(got.dataSync(), ref.dataSync(), `${backend} perm ${perm}`);
        tf.dispose([ref, got]);
      }
      // Only size-1 axes move: the same data under a new shape, no copy.
      const y = tf.randomNormal([1, 300, 1, 20], 0, 1, 'float32', 21);
      setKernelMode('blas');
      const shared = tf.transpose(y, [2, 1, 0, 3]);
      const identity = tf.transpose(tf.reshape(y, [300, 20]), [0, 1]);
      assert.equal(shared.dataId, y.dataId);
      assert.deepEqual(shared.shape, [1, 300, 1, 20]);
      assert.deepEqual(shared.dataSync(), y.dataSync());
      assert.deepEqual(identity.dataSync(), y.dataSync());
      tf.dispose([shared, identity]);
      // The shared data outlives the input it came from.
      const kept = tf.transpose(y, [0, 2, 1, 3]);
      const values = y.dataSync().slice();
      y.dispose();
      assert.deepEqual(kept.dataSync(), values);
      tf.dispose([kept, x]);
      setKernelMode('stock');
    });
  }
});

test('gradient clipping with the native sum of squares gives the norm of tf.norm and the same clipped gradients', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  const { clipByGlobalNorm } = await import('../../src/train/optimizer');
  for (const backend of BACKENDS) {
    await onBackend(backend, () => {
      // One gradient spanning several of the kernel's blocks (65 536 values), one tiny, one empty.
      const grads = {
        big: tf.randomNormal([3, 70001], 0, 0.01, 'float32', 30),
        small: tf.randomNormal([5], 0, 2, 'float32', 31),
        empty: tf.zeros([0, 4]),
      };
      const [ref, got] = both(() => clipByGlobalNorm(grads, 1));
      // The exact norm, in double: the native sum (float lanes of 1 024 squares, then double) is
      // within float rounding of it; TF.js's float32 sum of 210 000 squares drifts ~1e-5.
      let exact = 0;
      for (const g of Object.values(grads)) for (const v of g.dataSync()) exact += v * v;
      exact = Math.sqrt(exact);
      assert.ok(Math.abs(got.norm - exact) <= 1e-6 * exact, `${backend}: native norm ${got.norm} vs exact ${exact}`);
      assert.ok(Math.abs(ref.norm - exact) <= 1e-4 * exact, `${backend}: tf.norm ${ref.norm} vs exact ${exact}`);
      assert.ok(ref.norm > 1, 'the case clips');
      for (const name of Object.keys(grads))
        assert.ok(relErr(got.grads[name], ref.grads[name]) < 1e-4, `${backend} ${name}`);
      tf.dispose([...Object.values(grads), ...Object.values(ref.grads), ...Object.values(got.grads)]);
    });
  }
});

test('native Slice and row GatherV2 equal the stock kernels; a bad index is still an error', async (t) => {
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  for (const backend of BACKENDS) {
    await onBackend(backend, () => {
      const x = tf.randomNormal([9, 33, 5, 7], 0, 1, 'float32', 40);
      const flat = tf.reshape(x, [-1]);
      // [begin, size]: the [CLS] slice, interior boxes, -1 sizes, a contiguous block, 1-D.
      const slices: Array<[tf.Tensor, number[], number[]]> = [
        [x, [0, 0, 0, 0], [9, 1, 5, 7]],
        [x, [2, 3, 1, 0], [6, 25, 4, 7]],
        [x, [1, 0, 2, 3], [-1, -1, -1, 4]],
        [x, [3, 0, 0, 0], [4, 33, 5, 7]],
        [flat, [100], [9000]],
        [tf.reshape(x, [297, 35]), [5, 2], [200, 30]],
      ];
      for (const [input, begin, size] of slices) {
        const [ref, got] = both(() => tf.slice(input, begin, size));
        assert.deepEqual(got.shape, ref.shape);
        assert.deepEqual(got.dataSync(), ref.dataSync(), `${backend} slice ${begin} ${size}`);
        tf.dispose([ref, got]);
      }
      // Its gradient (a pad) is unchanged.
      const [g0, g1] = both(() =>
        tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.slice(v, [0, 0, 0, 0], [9, 1, 5, 7]))))(x),
      );
      assert.deepEqual(g1.dataSync(), g0.dataSync());
      const table = tf.randomNormal([3000, 24], 0, 1, 'float32', 41);
      const ids = tf.tensor2d(
        Array.from({ length: 400 }, (_, i) => (i * 7919) % 3000),
        [20, 20],
        'int32',
      );
      const [r, g] = both(() => tf.gather(table, ids));
      assert.deepEqual(g.shape, [20, 20, 24]);
      assert.deepEqual(g.dataSync(), r.dataSync(), `${backend} gather`);
      setKernelMode('blas');
      assert.throws(() => tf.gather(table, tf.tensor1d([2, 3000], 'int32')), /not in \[0, 2999\]/);
      setKernelMode('stock');
      tf.dispose([x, flat, g0, g1, table, ids, r, g]);
    });
  }
});
