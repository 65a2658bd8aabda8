import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendKind } from '../../src/model/backend';
import {
  attentionKl,
  clsCosine,
  hardLabel,
  hardLabelRegression,
  softLabel,
  softLabelRegression,
} from '../../src/distill/losses';
import { assertClose, randomArray, seededRandom, value } from '../helpers/numeric';

const LN2 = Math.log(2);
const LN3 = Math.log(3);

/** BERT-style attention: softmax over keys with −10000 added at padded keys. */
function attentionFromLogits(logits: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor4D {
  const [b, , , k] = logits.shape;
  const bias = tf.mul(tf.sub(1, tf.reshape(mask, [b, 1, 1, k])), -10000);
  return tf.softmax(tf.add(logits, bias)) as tf.Tensor4D;
}

/**
 * Compares tf.grad of `f` at `x` with central differences (f(x + εe_i) − f(x − εe_i)) / 2ε at the
 * given flat coordinates. Float32, so ε is large-ish and the tolerance relative ~1e-2.
 */
function checkGradient(
  f: (x: tf.Tensor) => tf.Scalar,
  shape: number[],
  data: Float32Array,
  coords: number[],
  eps = 1e-2,
): void {
  const analytic = tf.tidy(() => tf.grad(f)(tf.tensor(data, shape)).dataSync().slice());
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
}

function registerGradientChecks(): void {
  test('attentionKl gradient w.r.t. student attention logits (through softmax) matches finite differences', () => {
    const rand = seededRandom(7);
    const shape = [2, 2, 4, 4];
    const size = 2 * 2 * 4 * 4;
    const mask = tf.tensor2d([
      [1, 1, 1, 1],
      [1, 1, 1, 0],
    ]);
    const teacher = attentionFromLogits(tf.tensor4d(randomArray(rand, size, 2), [2, 2, 4, 4]), mask);
    const logits = randomArray(rand, size, 1.5);
    const f = (x: tf.Tensor): tf.Scalar => attentionKl(teacher, attentionFromLogits(x as tf.Tensor4D, mask), mask);
    // Coordinates in valid rows, one at a padded key (gradient ≈ 0) and one in a padded row (exactly 0).
    const idx = (b: number, h: number, q: number, k: number): number => ((b * 2 + h) * 4 + q) * 4 + k;
    checkGradient(f, shape, logits, [
      idx(0, 0, 0, 0),
      idx(0, 1, 2, 3),
      idx(1, 0, 1, 1),
      idx(1, 1, 2, 0),
      idx(1, 1, 0, 3),
      idx(1, 0, 3, 2),
    ]);
    const g = tf.tidy(() => tf.grad(f)(tf.tensor(logits, shape)).dataSync());
    assert.ok(g[idx(1, 0, 3, 2)] === 0, 'a padded query row has no gradient'); // === so −0 counts
    assert.ok(Math.abs(g[idx(0, 1, 2, 3)]) > 1e-3, 'a valid coordinate has a real gradient');
    tf.dispose([mask, teacher]);
  });

  test('attentionKl head-averaged gradient matches finite differences', () => {
    const rand = seededRandom(8);
    const mask = tf.tensor2d([[1, 1, 1]]);
    const teacher = attentionFromLogits(tf.tensor4d(randomArray(rand, 4 * 9, 2), [1, 4, 3, 3]), mask);
    const logits = randomArray(rand, 2 * 9, 1.5);
    const f = (x: tf.Tensor): tf.Scalar =>
      attentionKl(teacher, attentionFromLogits(x as tf.Tensor4D, mask), mask, { headAverage: true });
    checkGradient(f, [1, 2, 3, 3], logits, [0, 4, 8, 10, 17]);
    tf.dispose([mask, teacher]);
  });

  test('clsCosine gradient w.r.t. the student vector and the projection matches finite differences', () => {
    const rand = seededRandom(9);
    const teacherCls = tf.tensor2d(randomArray(rand, 3 * 4), [3, 4]);
    const student = randomArray(rand, 3 * 4);
    checkGradient((x) => clsCosine(teacherCls, x as tf.Tensor2D), [3, 4], student, [0, 5, 11]);
    const studentSmall = tf.tensor2d(randomArray(rand, 3 * 2), [3, 2]);
    const projection = randomArray(rand, 2 * 4);
    checkGradient((p) => clsCosine(teacherCls, studentSmall, p as tf.Tensor2D), [2, 4], projection, [0, 3, 6]);
    tf.dispose([teacherCls, studentSmall]);
  });

  test('softLabel and hardLabel gradients w.r.t. student logits match finite differences', () => {
    const rand = seededRandom(10);
    const teacherLogits = tf.tensor2d(randomArray(rand, 4 * 3, 2), [4, 3]);
    const studentLogits = randomArray(rand, 4 * 3, 2);
    checkGradient((x) => softLabel(teacherLogits, x as tf.Tensor2D, 2), [4, 3], studentLogits, [0, 4, 8, 11]);
    checkGradient((x) => softLabel(teacherLogits, x as tf.Tensor2D, 1), [4, 3], studentLogits, [1, 6]);
    const labels = tf.tensor1d([2, 0, 1, 1]);
    checkGradient((x) => hardLabel(x as tf.Tensor2D, labels), [4, 3], studentLogits, [0, 2, 7, 9]);
    tf.dispose([teacherLogits, labels]);
  });

  test('regression loss gradients match finite differences', () => {
    const rand = seededRandom(11);
    const teacherOut = tf.tensor2d(randomArray(rand, 5), [5, 1]);
    const targets = tf.tensor1d(randomArray(rand, 5));
    const pred = randomArray(rand, 5);
    checkGradient((x) => softLabelRegression(teacherOut, x as tf.Tensor2D), [5, 1], pred, [0, 3]);
    checkGradient((x) => hardLabelRegression(x as tf.Tensor2D, targets), [5, 1], pred, [1, 4]);
    tf.dispose([teacherOut, targets]);
  });
}

interface TensorJson {
  shape: number[];
  data: number[];
}
interface ReferenceCase {
  name: string;
  kind: 'attentionKl' | 'clsCosine' | 'softLabel' | 'softLabelRegression' | 'hardLabel' | 'hardLabelRegression';
  expected: number;
  teacher?: TensorJson;
  student: TensorJson;
  mask?: TensorJson;
  projection?: TensorJson;
  labels?: TensorJson;
  headAverage?: boolean;
  temperature?: number;
}

function fromJson(t: TensorJson | undefined): tf.Tensor {
  assert.ok(t, 'fixture is missing a tensor');
  return tf.tensor(t.data, t.shape, 'float32');
}

function computeCase(c: ReferenceCase): tf.Scalar {
  const student = fromJson(c.student);
  switch (c.kind) {
    case 'attentionKl':
      return attentionKl(fromJson(c.teacher) as tf.Tensor4D, student as tf.Tensor4D, fromJson(c.mask) as tf.Tensor2D, {
        headAverage: c.headAverage,
      });
    case 'clsCosine':
      return clsCosine(
        fromJson(c.teacher) as tf.Tensor2D,
        student as tf.Tensor2D,
        c.projection ? (fromJson(c.projection) as tf.Tensor2D) : undefined,
      );
    case 'softLabel':
      return softLabel(fromJson(c.teacher) as tf.Tensor2D, student as tf.Tensor2D, c.temperature ?? 1);
    case 'softLabelRegression':
      return softLabelRegression(fromJson(c.teacher) as tf.Tensor2D, student as tf.Tensor2D);
    case 'hardLabel':
      return hardLabel(student as tf.Tensor2D, fromJson(c.labels) as tf.Tensor1D);
    case 'hardLabelRegression':
      return hardLabelRegression(student as tf.Tensor2D, fromJson(c.labels) as tf.Tensor1D);
  }
}

describe('distillation losses (wasm)', () => {
  before(async () => {
    await initBackend('wasm');
  });

  test('attentionKl: hand-computed value on a 2-token example', () => {
    // Row 0: A_T = [.5, .5], A_S = [.25, .75]: .5·ln(.5/.25) + .5·ln(.5/.75) = .5·ln 2 + .5·ln(2/3) = .5·ln(4/3) ≈ 0.143841
    // Row 1: A_T = [1, 0],   A_S = [.5, .5]:   1·ln(1/.5) + 0·(…) = ln 2 ≈ 0.693147
    // Mean over 2 rows × 1 head: (0.143841 + 0.693147) / 2 ≈ 0.418494
    const expected = (0.5 * Math.log(4 / 3) + LN2) / 2;
    const got = tf.tidy(() =>
      value(
        attentionKl(
          tf.tensor4d([
            [
              [
                [0.5, 0.5],
                [1, 0],
              ],
            ],
          ]),
          tf.tensor4d([
            [
              [
                [0.25, 0.75],
                [0.5, 0.5],
              ],
            ],
          ]),
          tf.tensor2d([[1, 1]]),
        ),
      ),
    );
    assertClose(got, expected, 1e-6);
  });

  test('attentionKl: padded keys and fully padded rows are ignored, whatever they hold', () => {
    // The 2-token example above, padded to 3 tokens, plus a second example that is all padding:
    // the valid (b, q) rows are the same two, so the value is unchanged.
    const expected = (0.5 * Math.log(4 / 3) + LN2) / 2;
    const mask = [
      [1, 1, 0],
      [0, 0, 0],
    ];
    const lossWith = (padT: number, padS: number, garbageRow: number[]): number =>
      tf.tidy(() =>
        value(
          attentionKl(
            tf.tensor4d([[[[0.5, 0.5, padT], [1, 0, padT], garbageRow]], [[garbageRow, garbageRow, garbageRow]]]),
            tf.tensor4d([
              [
                [
                  [0.25, 0.75, padS],
                  [0.5, 0.5, padS],
                  [0, 0, 0],
                ],
              ],
              [
                [
                  [0, 0, 1],
                  [1, 0, 0],
                  [0.3, 0.3, 0.4],
                ],
              ],
            ]),
            tf.tensor2d(mask),
          ),
        ),
      );
    assertClose(lossWith(0, 0, [0.2, 0.3, 0.5]), expected, 1e-6, 'zeros at padding');
    assertClose(lossWith(0.7, 0, [0.9, 0.05, 0.05]), expected, 1e-6, 'teacher mass on a padded key');
    assertClose(lossWith(0, 0.6, [0, 0, 1]), expected, 1e-6, 'student mass on a padded key');
  });

  test('attentionKl: exact zeros never give NaN/Inf; the student log is clamped at 1e-12', () => {
    // Row 0: A_T = [1, 0], A_S = [0, 1] → 1·(ln 1 − ln 1e-12) + 0 = 27.631021 (finite thanks to the clamp)
    // Row 1: A_T = [0, 1], A_S = [0, 1] → 0·(…) + 1·(ln 1 − ln 1) = 0 (0·log 0 := 0)
    // Mean over 2 rows: 13.815511
    const teacherData = [
      [
        [
          [1, 0],
          [0, 1],
        ],
      ],
    ];
    const studentData = [
      [
        [
          [0, 1],
          [0, 1],
        ],
      ],
    ];
    const got = tf.tidy(() =>
      value(attentionKl(tf.tensor4d(teacherData), tf.tensor4d(studentData), tf.tensor2d([[1, 1]]))),
    );
    assertClose(got, -Math.log(1e-12) / 2, 1e-5);
    // Gradients w.r.t. both probability maps are finite too.
    const grads = tf.tidy(() =>
      tf
        .grads((t: tf.Tensor, s: tf.Tensor) => attentionKl(t as tf.Tensor4D, s as tf.Tensor4D, tf.tensor2d([[1, 1]])))([
          tf.tensor4d(teacherData),
          tf.tensor4d(studentData),
        ])
        .map((g) => Array.from(g.dataSync())),
    );
    for (const g of grads) assert.ok(g.every(Number.isFinite), `non-finite gradient ${g}`);
    // An all-padding batch gives 0, not NaN.
    const empty = tf.tidy(() =>
      value(attentionKl(tf.tensor4d(teacherData), tf.tensor4d(studentData), tf.tensor2d([[0, 0]]))),
    );
    assert.equal(empty, 0);
  });

  test('attentionKl: head averaging compares mean maps and allows different head counts', () => {
    // Teacher heads [[1,0],[0,1]] and [[0,1],[1,0]] average to all 0.5, which equals the one
    // student head exactly → 0. Without headAverage the head counts must match.
    const teacher = tf.tensor4d([
      [
        [
          [1, 0],
          [0, 1],
        ],
        [
          [0, 1],
          [1, 0],
        ],
      ],
    ]);
    const student = tf.tensor4d([
      [
        [
          [0.5, 0.5],
          [0.5, 0.5],
        ],
      ],
    ]);
    const mask = tf.tensor2d([[1, 1]]);
    assertClose(value(attentionKl(teacher, student, mask, { headAverage: true })), 0, 1e-7);
    assert.throws(() => attentionKl(teacher, student, mask), /headAverage/);
    // Same heads: averaging first changes the value. Student head 2 = [[.25,.75],[.75,.25]];
    // averaged student = [[.375,.625],[.625,.375]] vs teacher average 0.5 everywhere:
    // per row .5·ln(.5/.375) + .5·ln(.5/.625) = .5·ln(4/3) + .5·ln(4/5) = .5·ln(16/15) ≈ 0.032269
    const student2 = tf.tensor4d([
      [
        [
          [0.5, 0.5],
          [0.5, 0.5],
        ],
        [
          [0.25, 0.75],
          [0.75, 0.25],
        ],
      ],
    ]);
    assertClose(value(attentionKl(teacher, student2, mask, { headAverage: true })), 0.5 * Math.log(16 / 15), 1e-6);
    tf.dispose([teacher, student, student2, mask]);
  });

  test('clsCosine: hand-computed values, zero vectors and projection', () => {
    // Row 0: t = [1, 0], s = [1, 1]  → cos = 1/√2 → 1 − 0.707107 = 0.292893
    // Row 1: t = [0, 2], s = [0, −3] → cos = −1   → 2
    // Mean: 1.146447
    const got = tf.tidy(() =>
      value(
        clsCosine(
          tf.tensor2d([
            [1, 0],
            [0, 2],
          ]),
          tf.tensor2d([
            [1, 1],
            [0, -3],
          ]),
        ),
      ),
    );
    assertClose(got, (1 - Math.SQRT1_2 + 2) / 2, 1e-6);
    // A zero student vector: cos = 0 (norms clamped at 1e-8) → loss 1, and a finite gradient.
    assertClose(
      tf.tidy(() => value(clsCosine(tf.tensor2d([[1, 2]]), tf.tensor2d([[0, 0]])))),
      1,
      1e-7,
    );
    const g = tf.tidy(() =>
      tf
        .grad((s: tf.Tensor) => clsCosine(tf.tensor2d([[1, 2]]), s as tf.Tensor2D))(tf.tensor2d([[0, 0]]))
        .dataSync()
        .slice(),
    );
    assert.ok(g.every(Number.isFinite), `zero-vector gradient ${g}`);
    // Projection [dS=1, dT=2]: s·P = [2]·[[1, 0]] = [2, 0], parallel to t = [3, 0] → loss 0.
    assertClose(
      tf.tidy(() => value(clsCosine(tf.tensor2d([[3, 0]]), tf.tensor2d([[2]]), tf.tensor2d([[1, 0]])))),
      0,
      1e-6,
    );
    assert.throws(() => tf.tidy(() => clsCosine(tf.tensor2d([[3, 0]]), tf.tensor2d([[2]]))), /shapes differ/);
  });

  test('softLabel: hand-computed value, T² scaling, zero when the student matches', () => {
    // p_T = softmax([0, 0]) = [.5, .5]; p_S = softmax([ln 3, 0]) = [.75, .25]
    // KL = .5·ln(.5/.75) + .5·ln(.5/.25) = .5·ln(4/3) ≈ 0.143841 (T = 1)
    const klHalf = 0.5 * Math.log(4 / 3);
    const got = tf.tidy(() => value(softLabel(tf.tensor2d([[0, 0]]), tf.tensor2d([[LN3, 0]]), 1)));
    assertClose(got, klHalf, 1e-6);
    // T = 2 with doubled logits gives the same distributions, scaled by T² = 4 → 0.575364.
    const got2 = tf.tidy(() => value(softLabel(tf.tensor2d([[0, 0]]), tf.tensor2d([[2 * LN3, 0]]), 2)));
    assertClose(got2, 4 * klHalf, 1e-6);
    // Batch mean: a second, matching example halves the value.
    const got3 = tf.tidy(() =>
      value(
        softLabel(
          tf.tensor2d([
            [0, 0],
            [5, -1],
          ]),
          tf.tensor2d([
            [LN3, 0],
            [5, -1],
          ]),
          1,
        ),
      ),
    );
    assertClose(got3, klHalf / 2, 1e-6);
    // Extreme logits: teacher probabilities underflow to 0 without NaN.
    const extreme = tf.tidy(() => value(softLabel(tf.tensor2d([[200, -200, 0]]), tf.tensor2d([[200, -200, 0]]), 1)));
    assertClose(extreme, 0, 1e-6);
    assert.throws(() => softLabel(tf.tensor2d([[0, 0]]), tf.tensor2d([[0, 0]]), 0), /temperature/);
  });

  test('hardLabel and the regression losses: hand-computed values', () => {
    // logits [ln 2, 0] → p = [2/3, 1/3]; label 0 → −ln(2/3) = 0.405465; label 1 → −ln(1/3) = 1.098612
    // Mean: 0.752039. Labels may be float or int32.
    const expected = (Math.log(1.5) + LN3) / 2;
    const logits = [
      [LN2, 0],
      [LN2, 0],
    ];
    assertClose(
      tf.tidy(() => value(hardLabel(tf.tensor2d(logits), tf.tensor1d([0, 1])))),
      expected,
      1e-6,
    );
    assertClose(
      tf.tidy(() => value(hardLabel(tf.tensor2d(logits), tf.tensor1d([0, 1], 'int32')))),
      expected,
      1e-6,
    );
    // Uniform logits over 3 classes: ln 3.
    assertClose(
      tf.tidy(() => value(hardLabel(tf.tensor2d([[0, 0, 0]]), tf.tensor1d([1])))),
      LN3,
      1e-6,
    );
    // MSE: pred [1, 2] vs target [0, 4] → (1 + 4) / 2 = 2.5
    assertClose(
      tf.tidy(() => value(hardLabelRegression(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 4])))),
      2.5,
      1e-7,
    );
    assertClose(
      tf.tidy(() => value(softLabelRegression(tf.tensor2d([[0], [4]]), tf.tensor2d([[1], [2]])))),
      2.5,
      1e-7,
    );
    assert.throws(() => hardLabelRegression(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 4, 5])), /one value per example/);
  });

  test('matches the PyTorch reference (test/reference/losses_reference.py) within 1e-5 relative', () => {
    const fixture = JSON.parse(
      readFileSync(path.join(__dirname, '..', 'reference', 'losses_reference.json'), 'utf8'),
    ) as { cases: ReferenceCase[] };
    assert.ok(fixture.cases.length >= 9);
    for (const c of fixture.cases) {
      const got = tf.tidy(() => value(computeCase(c)));
      const tol = 1e-5 * Math.abs(c.expected) + 1e-7;
      assert.ok(Math.abs(got - c.expected) <= tol, `${c.name}: ${got} vs torch ${c.expected}`);
    }
  });

  test('no tensors leak: only the returned scalar (and gradients) survive', () => {
    const mask = tf.tensor2d([[1, 1, 0]]);
    const t4 = tf.softmax(tf.randomNormal([1, 2, 3, 3], 0, 1, 'float32', 1)) as tf.Tensor4D;
    const s4 = tf.variable(tf.randomNormal([1, 2, 3, 3], 0, 1, 'float32', 2)) as tf.Variable<tf.Rank.R4>;
    const t2 = tf.randomNormal([2, 3], 0, 1, 'float32', 3) as tf.Tensor2D;
    const s2 = tf.variable(tf.randomNormal([2, 3], 0, 1, 'float32', 4)) as tf.Variable<tf.Rank.R2>;
    const labels = tf.tensor1d([0, 2]);
    const target = tf.tensor1d([0.5, -1]);
    const losses: Array<[string, () => tf.Scalar]> = [
      ['attentionKl', () => attentionKl(t4, tf.softmax(s4) as tf.Tensor4D, mask)],
      ['attentionKl headAverage', () => attentionKl(t4, tf.softmax(s4) as tf.Tensor4D, mask, { headAverage: true })],
      ['clsCosine', () => clsCosine(t2, s2)],
      ['softLabel', () => softLabel(t2, s2, 2)],
      ['hardLabel', () => hardLabel(s2, labels)],
      [
        'softLabelRegression',
        () => softLabelRegression(tf.reshape(t2, [6]) as tf.Tensor1D, tf.reshape(s2, [6]) as tf.Tensor1D),
      ],
      ['hardLabelRegression', () => hardLabelRegression(tf.slice(s2, [0, 0], [2, 1]), target)],
    ];
    for (const [name, loss] of losses) {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        loss();
      });
      assert.equal(tf.memory().numTensors, before, `${name} leaked inside tidy`);
      // variableGrads runs the loss under its own tidy: only the value and the gradients survive.
      const { value: v, grads } = tf.variableGrads(loss);
      assert.ok(Object.keys(grads).length >= 1, `${name}: no gradients`);
      assert.ok(Number.isFinite(v.dataSync()[0]), `${name}: value not finite`);
      assert.equal(
        tf.memory().numTensors,
        before + 1 + Object.keys(grads).length,
        `${name} leaked under variableGrads`,
      );
      tf.dispose([v, ...Object.values(grads)]);
    }
    tf.dispose([mask, t4, s4, t2, s2, labels, target]);
  });

  test('a loss called directly returns exactly one new tensor', () => {
    const t = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const s = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const before = tf.memory().numTensors;
    const out = [clsCosine(t, s), softLabel(t, s, 2), hardLabel(s, tf.tensor1d([0, 1]))];
    assert.equal(tf.memory().numTensors, before + out.length + 1 /* the labels tensor */);
    tf.dispose([t, s, ...out]);
  });

  registerGradientChecks();
});

describe('distillation loss gradients (cpu backend)', () => {
  before(async () => {
    await initBackend('cpu' satisfies BackendKind);
  });
  registerGradientChecks();
});
