// The TinyBERT / MiniLM terms (issue #17): hidden-mse (and embedding-mse, the same loss on the
// embedding output) and value-relation, and the weight/temperature schedules. Checked on
// hand-computed values, against central finite differences, and against an independent PyTorch
// reference (test/reference/internal_losses_reference.py, run here with the project's venv),
// values and gradients.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { hiddenMse, valueRelation, valueRelationMaps } from '../../src/distill/losses';
import { scheduleValue, stageProgress, type Schedule } from '../../src/distill/schedule';
import { PYTHON } from '../helpers/python';
import { assertClose, randomArray, seededRandom, value } from '../helpers/numeric';

/** tf.grad of `f` at `x` against central differences at the given flat coordinates (float32 tolerances). */
function checkGradient(
  f: (x: tf.Tensor) => tf.Scalar,
  shape: number[],
  data: Float32Array,
  coords: number[],
  eps = 1e-2,
): Float32Array {
  const analytic = tf.tidy(() => tf.grad(f)(tf.tensor(data, shape)).dataSync().slice() as Float32Array);
  assert.ok(analytic.every(Number.isFinite), 'gradient has non-finite entries');
  for (const i of coords) {
    const at = (delta: number): number => {
      const moved = data.slice();
      moved[i] += delta;
      return tf.tidy(() => f(tf.tensor(moved, shape)).dataSync()[0]);
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    const tol = 1e-2 * Math.max(Math.abs(numeric), Math.abs(analytic[i])) + 2e-4;
    assert.ok(
      Math.abs(numeric - analytic[i]) <= tol,
      `coordinate ${i}: analytic ${analytic[i]} vs finite difference ${numeric}`,
    );
  }
  return analytic;
}

interface TensorJson {
  shape: number[];
  data: number[];
}
interface ReferenceCase {
  name: string;
  kind: 'hiddenMse' | 'valueRelation';
  teacher: TensorJson;
  student: TensorJson;
  mask: TensorJson;
  weight?: TensorJson;
  bias?: TensorJson;
  expected: number;
  gradStudent: TensorJson;
  gradWeight?: TensorJson;
  gradBias?: TensorJson;
}

const t = (j: TensorJson): tf.Tensor => tf.tensor(j.data, j.shape, 'float32');

/** Largest |a − b| relative to the largest |b| (gradients compared as whole tensors). */
function relMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, 1e-12);
}

let reference: ReferenceCase[] | undefined;
function referenceCases(): ReferenceCase[] {
  if (!reference) {
    const script = path.join(__dirname, '..', 'reference', 'internal_losses_reference.py');
    const r = spawnSync(PYTHON, [script], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      assert.fail(
        `${PYTHON} ${script} failed (${(r.stderr || String(r.error)).trim().split('\n').pop()}); run \`bash scripts/setup-python.sh\` for the venv with torch and numpy`,
      );
    }
    reference = (JSON.parse(r.stdout) as { cases: ReferenceCase[] }).cases;
  }
  return reference;
}

function registerChecks(backend: 'wasm' | 'cpu'): void {
  before(async () => {
    await initBackend(backend);
  });

  test('hiddenMse: hand-computed values, padding masked, projection', () => {
    tf.tidy(() => {
      const teacher = tf.tensor3d([
        [
          [1, 2],
          [3, 4],
        ],
      ]);
      const student = tf.tensor3d([
        [
          [0, 0],
          [3, 6],
        ],
      ]);
      // Per token: (1 + 4) and (0 + 4); mean over 2 tokens × 2 dims.
      assertClose(value(hiddenMse(teacher, student, tf.tensor2d([[1, 1]]))), 9 / 4, 1e-6);
      // The padded second token does not count, whatever it holds.
      assertClose(value(hiddenMse(teacher, student, tf.tensor2d([[1, 0]]))), 5 / 2, 1e-6);
      assert.equal(
        value(hiddenMse(teacher, student, tf.tensor2d([[0, 0]]))),
        0,
        'an all-padding batch gives 0, not NaN',
      );
      // Student width 1 → 2 through W = [1, 2], b = [0, 1]: [1]→[1, 3], [2]→[2, 5].
      const proj = { weight: tf.tensor2d([[1, 2]]), bias: tf.tensor1d([0, 1]) };
      assertClose(
        value(hiddenMse(teacher, tf.tensor3d([[[1], [2]]]), tf.tensor2d([[1, 1]]), proj)),
        (0 + 1 + 1 + 1) / 4,
        1e-6,
      );
      assert.equal(value(hiddenMse(teacher, teacher, tf.tensor2d([[1, 1]]))), 0);
    });
    assert.throws(
      () =>
        hiddenMse(
          tf.zeros([1, 2, 3]) as tf.Tensor3D,
          tf.zeros([1, 2, 2]) as tf.Tensor3D,
          tf.ones([1, 2]) as tf.Tensor2D,
        ),
      /pass a projection/,
    );
  });

  test('valueRelation: hand-computed value, zero for equal values, padding masked, heads must match', () => {
    tf.tidy(() => {
      // One head, two tokens, d = 1. Teacher V = [1, 0]: relation rows softmax([1, 0]) and
      // softmax([0, 0]); student V = [0, 0]: both rows uniform. Row 0's KL, averaged over 2 rows.
      const p = Math.E / (1 + Math.E);
      const kl0 = p * Math.log(2 * p) + (1 - p) * Math.log(2 * (1 - p));
      const vt = tf.tensor4d([[[[1], [0]]]]);
      const vs = tf.tensor4d([[[[0], [0]]]]);
      assertClose(value(valueRelation(vt, vs, tf.tensor2d([[1, 1]]))), kl0 / 2, 1e-6);
      assert.ok(Math.abs(value(valueRelation(vt, vt, tf.tensor2d([[1, 1]])))) < 1e-7, 'equal values: 0');
      // With token 2 padded only row 0 over key 0 remains: one key, probability 1 on both sides.
      assert.ok(
        Math.abs(value(valueRelation(vt, tf.tensor4d([[[[5], [-9]]]]), tf.tensor2d([[1, 0]])))) < 1e-7,
        'padding masked',
      );
      assert.equal(value(valueRelation(vt, vs, tf.tensor2d([[0, 0]]))), 0, 'an all-padding batch gives 0');
      // Large values (sharp relations) stay finite: log-softmax, no clamping needed.
      const big = valueRelation(tf.tensor4d([[[[30], [-30]]]]), tf.tensor4d([[[[-30], [30]]]]), tf.tensor2d([[1, 1]]));
      assert.ok(Number.isFinite(value(big)));
      // Head widths may differ (d_T = 2, d_S = 1); the KL still needs one teacher head per student head.
      assert.ok(Number.isFinite(value(valueRelation(tf.ones([1, 1, 2, 2]) as tf.Tensor4D, vs, tf.tensor2d([[1, 1]])))));
    });
    assert.throws(
      () =>
        valueRelation(
          tf.zeros([1, 2, 2, 1]) as tf.Tensor4D,
          tf.zeros([1, 1, 2, 1]) as tf.Tensor4D,
          tf.ones([1, 2]) as tf.Tensor2D,
        ),
      /2 heads and student 1/,
    );
  });

  test("valueRelationMaps (the dashboard's maps) are softmax(V·Vᵀ/√d) per head, and their per-head KL is the loss", () => {
    const rand = seededRandom(5);
    const [heads, seq, dT, dS] = [2, 4, 3, 2];
    const t = randomArray(rand, heads * seq * dT, 2);
    const sv = randomArray(rand, heads * seq * dS, 2);
    // Plain-JS reference: row q of head h is softmax over k of (V_q · V_k) / √d.
    const reference = (v: Float32Array, d: number): number[][][] =>
      Array.from({ length: heads }, (_, h) =>
        Array.from({ length: seq }, (_, q) => {
          const dot = (a: number, b: number) => {
            let x = 0;
            for (let i = 0; i < d; i++) x += v[(h * seq + a) * d + i] * v[(h * seq + b) * d + i];
            return x / Math.sqrt(d);
          };
          const scores = Array.from({ length: seq }, (_, k) => dot(q, k));
          const max = Math.max(...scores);
          const e = scores.map((x) => Math.exp(x - max));
          const sum = e.reduce((a, b) => a + b, 0);
          return e.map((x) => x / sum);
        }),
      );
    const mapsT = tf.tidy(() => valueRelationMaps(tf.tensor4d(t, [1, heads, seq, dT])).arraySync()[0]);
    const mapsS = tf.tidy(() => valueRelationMaps(tf.tensor4d(sv, [1, heads, seq, dS])).arraySync()[0]);
    const refT = reference(t, dT);
    refT.flat(2).forEach((x, i) => assertClose(mapsT.flat(2)[i], x, 1e-5, `teacher entry ${i}`));
    reference(sv, dS)
      .flat(2)
      .forEach((x, i) => assertClose(mapsS.flat(2)[i], x, 1e-5, `student entry ${i}`));
    // Without padding, the mean over heads of each head's mean-row KL is the loss.
    let kl = 0;
    for (let h = 0; h < heads; h++) {
      for (let q = 0; q < seq; q++)
        for (let k = 0; k < seq; k++) kl += refT[h][q][k] * Math.log(refT[h][q][k] / mapsS[h][q][k]);
    }
    const loss = tf.tidy(() =>
      value(
        valueRelation(
          tf.tensor4d(t, [1, heads, seq, dT]),
          tf.tensor4d(sv, [1, heads, seq, dS]),
          tf.ones([1, seq]) as tf.Tensor2D,
        ),
      ),
    );
    assertClose(loss, kl / (heads * seq), 1e-4);
  });

  test('hiddenMse gradients (student states, projection weight and bias) match finite differences', () => {
    const rand = seededRandom(21);
    const mask = tf.tensor2d([
      [1, 1, 1],
      [1, 1, 0],
    ]);
    const teacher = tf.tensor3d(randomArray(rand, 2 * 3 * 4), [2, 3, 4]);
    const student = randomArray(rand, 2 * 3 * 4);
    const g = checkGradient((x) => hiddenMse(teacher, x as tf.Tensor3D, mask), [2, 3, 4], student, [0, 5, 13, 17, 22]);
    assert.ok(g[(1 * 3 + 2) * 4 + 1] === 0, 'a padded token has no gradient'); // === so −0 counts
    const narrow = tf.tensor3d(randomArray(rand, 2 * 3 * 2), [2, 3, 2]);
    const weight = randomArray(rand, 2 * 4);
    const bias = tf.tensor1d(randomArray(rand, 4, 0.2));
    checkGradient(
      (w) => hiddenMse(teacher, narrow, mask, { weight: w as tf.Tensor2D, bias }),
      [2, 4],
      weight,
      [0, 3, 6, 7],
    );
    const w2 = tf.tensor2d(weight, [2, 4]);
    checkGradient(
      (b) => hiddenMse(teacher, narrow, mask, { weight: w2, bias: b as tf.Tensor1D }),
      [4],
      randomArray(rand, 4, 0.2),
      [0, 1, 2, 3],
    );
    tf.dispose([mask, teacher, narrow, bias, w2]);
  });

  test('valueRelation gradient w.r.t. the student values matches finite differences; padded tokens get none', () => {
    const rand = seededRandom(22);
    const mask = tf.tensor2d([
      [1, 1, 1, 1],
      [1, 1, 1, 0],
    ]);
    const teacher = tf.tensor4d(randomArray(rand, 2 * 2 * 4 * 3, 1.5), [2, 2, 4, 3]);
    const student = randomArray(rand, 2 * 2 * 4 * 2, 1.5);
    const idx = (b: number, h: number, s: number, d: number): number => ((b * 2 + h) * 4 + s) * 2 + d;
    const g = checkGradient((x) => valueRelation(teacher, x as tf.Tensor4D, mask), [2, 2, 4, 2], student, [
      idx(0, 0, 0, 0),
      idx(0, 1, 3, 1),
      idx(1, 0, 2, 0),
      idx(1, 1, 1, 1),
      idx(1, 1, 3, 0),
    ]);
    assert.ok(g[idx(1, 1, 3, 0)] === 0, 'a padded token has no gradient');
    assert.ok(Math.abs(g[idx(0, 1, 3, 1)]) > 1e-4, 'a valid coordinate has a real gradient');
    tf.dispose([mask, teacher]);
  });

  // Measured on the 2-core machine (wasm and cpu): values within 2.2e-7 relative, gradients within
  // 2.1e-7 of their largest entry; the bounds leave an order of magnitude for other kernels.
  test('matches the PyTorch reference, values within 2e-6 and gradients within 1e-5 (relative)', () => {
    const cases = referenceCases();
    assert.equal(cases.length, 4);
    for (const c of cases) {
      const mask = t(c.mask) as tf.Tensor2D;
      const teacher = t(c.teacher);
      const weight = c.weight ? (t(c.weight) as tf.Tensor2D) : undefined;
      const bias = c.bias ? (t(c.bias) as tf.Tensor1D) : undefined;
      const loss = (s: tf.Tensor, w?: tf.Tensor, b?: tf.Tensor): tf.Scalar =>
        c.kind === 'hiddenMse'
          ? hiddenMse(
              teacher as tf.Tensor3D,
              s as tf.Tensor3D,
              mask,
              w && b ? { weight: w as tf.Tensor2D, bias: b as tf.Tensor1D } : undefined,
            )
          : valueRelation(teacher as tf.Tensor4D, s as tf.Tensor4D, mask);
      const student = t(c.student);
      const got = tf.tidy(() => value(loss(student, weight, bias)));
      assert.ok(
        Math.abs(got - c.expected) <= 2e-6 * Math.abs(c.expected) + 1e-7,
        `${c.name}: ${got} vs torch ${c.expected}`,
      );
      const grads = tf.tidy(() =>
        (weight && bias
          ? tf.grads((s, w, b) => loss(s, w, b))([student, weight, bias])
          : [tf.grad((s) => loss(s))(student)]
        ).map((x) => x.dataSync().slice()),
      );
      const expectedGrads = [c.gradStudent, c.gradWeight, c.gradBias].filter((x): x is TensorJson => x !== undefined);
      assert.equal(grads.length, expectedGrads.length);
      grads.forEach((gr, i) => {
        const err = relMaxError(gr, expectedGrads[i].data);
        assert.ok(
          err <= 1e-5,
          `${c.name}: gradient ${i} differs from torch by ${err.toExponential(2)} (relative to its largest entry)`,
        );
      });
      tf.dispose([mask, teacher, student, ...(weight ? [weight] : []), ...(bias ? [bias] : [])]);
    }
  });

  test('no tensors leak: only the returned scalar survives', () => {
    const mask = tf.tensor2d([[1, 1, 0]]);
    const h = tf.randomNormal([1, 3, 4], 0, 1, 'float32', 1) as tf.Tensor3D;
    const v = tf.randomNormal([1, 2, 3, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const out = [hiddenMse(h, h, mask), valueRelation(v, v, mask)];
    assert.equal(tf.memory().numTensors, before + out.length);
    tf.dispose([mask, h, v, ...out]);
  });
}

describe('internal losses (wasm)', () => registerChecks('wasm'));
describe('internal losses (cpu backend)', () => registerChecks('cpu'));

test('schedules: constant, linear and cosine from the first step to the last', () => {
  const steps = 5;
  const at = (s: Schedule) => Array.from({ length: steps }, (_, i) => scheduleValue(s, stageProgress(i, steps)));
  assert.deepEqual(at({ shape: 'constant', from: 2, to: 7 }), [2, 2, 2, 2, 2]);
  assert.deepEqual(at({ shape: 'linear', from: 1, to: 0 }), [1, 0.75, 0.5, 0.25, 0]);
  // TextBrewer's linear_growth_weight_scheduler: 0 → 1.
  assert.deepEqual(at({ shape: 'linear', from: 0, to: 1 }), [0, 0.25, 0.5, 0.75, 1]);
  const cos = at({ shape: 'cosine', from: 8, to: 1 });
  const expected = [8, 1 + 3.5 * (1 + Math.SQRT1_2), 4.5, 1 + 3.5 * (1 - Math.SQRT1_2), 1];
  cos.forEach((v, i) => assertClose(v, expected[i], 1e-12, `cosine step ${i}`));
  // A one-step stage stays at `from`; progress never leaves [0, 1].
  assert.equal(scheduleValue({ shape: 'linear', from: 3, to: 1 }, stageProgress(0, 1)), 3);
  assert.equal(stageProgress(9, 5), 1);
});
