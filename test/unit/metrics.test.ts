import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy,
  averageRanks,
  computeMetrics,
  f1Binary,
  matthews,
  pearson,
  spearman,
} from '../../src/metrics/metrics';
import { GLUE_TASKS } from '../../src/data/tasks';

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

// Reference vectors and values from /usr/bin/python3 with numpy (seeded default_rng(7)), not from
// this code: accuracy = mean(yp == yt); F1 = 2TP/(2TP+FP+FN) from counted TP/FP/FN; binary MCC =
// (TP·TN − FP·FN)/sqrt(product of margins); multiclass MCC = covariance of one-hot matrices
// (Gorodkin's R_K); Pearson = np.corrcoef; Spearman = np.corrcoef of ranks computed as
// #(v < a) + (#(v == a) + 1)/2.
const BIN_LABELS = [
  1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
  1,
];
const BIN_PREDS = [
  1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1,
  1,
];
const MC_LABELS = [1, 1, 1, 1, 1, 2, 2, 0, 1, 1, 1, 0, 0, 1, 2, 0, 1, 2, 2, 0, 0, 2, 0, 0, 1, 2, 0, 1, 1, 0];
const MC_PREDS = [2, 1, 0, 1, 1, 2, 2, 0, 1, 1, 1, 0, 0, 1, 2, 0, 1, 2, 2, 0, 1, 2, 0, 0, 1, 0, 2, 1, 1, 2];
const X = [
  2.5, 2.5, 2.0, 2.5, 0.0, 1.0, 3.0, -0.0, 3.5, 0.5, 3.5, 1.5, 3.5, 2.5, 0.5, 4.0, 4.0, 2.5, 2.0, 2.5, 1.5, 4.0, 2.0,
  2.5, 1.5,
];
const Y = [
  2.0, 1.0, 3.5, 2.5, 1.0, 1.0, 2.5, -0.5, 3.0, 0.5, 3.0, 1.0, 2.0, 1.5, 2.0, 3.5, 3.0, 3.0, 3.5, 1.0, 1.5, 3.5, 0.0,
  3.0, 1.5,
];
const X_RANKS = [15, 15, 10, 15, 1.5, 5, 19, 1.5, 21, 3.5, 21, 7, 21, 15, 3.5, 24, 24, 15, 10, 15, 7, 24, 10, 15, 7];

test('metrics match numpy reference values', () => {
  close(accuracy(BIN_PREDS, BIN_LABELS), 0.8);
  close(f1Binary(BIN_PREDS, BIN_LABELS), 0.8461538461538461);
  close(matthews(BIN_PREDS, BIN_LABELS), 0.5790660241435861);
  close(matthews(MC_PREDS, MC_LABELS), 0.6990159847033323);
  close(pearson(X, Y), 0.6797914874318444);
  assert.deepEqual(Array.from(averageRanks(X)), X_RANKS);
  close(spearman(X, Y), 0.6477233828895377);
});

test('hand-computed small cases', () => {
  // TP=2 FP=1 FN=1 TN=1: acc 3/5, F1 = 4/6, MCC = (2·1 − 1·1)/sqrt(3·3·2·2) = 1/6.
  const p = [1, 1, 1, 0, 0];
  const t = [1, 1, 0, 1, 0];
  close(accuracy(p, t), 0.6);
  close(f1Binary(p, t), 4 / 6);
  close(matthews(p, t), 1 / 6);
  // Perfect and inverted predictions.
  close(matthews([0, 1, 0, 1], [0, 1, 0, 1]), 1);
  close(matthews([1, 0, 1, 0], [0, 1, 0, 1]), -1);
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
  close(pearson([1, 2, 3], [3, 2, 1]), -1);
  // Spearman is 1 for any monotone relation; ties get average ranks.
  close(spearman([1, 2, 3, 4], [1, 8, 27, 1000]), 1);
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
});

test('degenerate inputs give 0, not NaN', () => {
  // All predictions one class: MCC denominator is 0 (sklearn returns 0).
  assert.equal(matthews([1, 1, 1, 1], [0, 1, 0, 1]), 0);
  // No positives anywhere: F1 is 0 (sklearn's zero_division default).
  assert.equal(f1Binary([0, 0, 0], [0, 0, 0]), 0);
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), 0);
  assert.equal(spearman([1, 2, 3], [5, 5, 5]), 0);
});

test('length mismatch and empty input are programming errors', () => {
  assert.throws(() => accuracy([1, 0], [1]), /2 predictions but 1 labels/);
  assert.throws(() => pearson([], []), /no examples/);
});

test('computeMetrics returns exactly the task metrics', () => {
  const cola = computeMetrics(GLUE_TASKS.cola, BIN_PREDS, BIN_LABELS);
  assert.deepEqual(Object.keys(cola).sort(), ['accuracy', 'matthews']);
  close(cola.matthews ?? NaN, 0.5790660241435861);
  const mrpc = computeMetrics(GLUE_TASKS.mrpc, BIN_PREDS, BIN_LABELS);
  assert.deepEqual(Object.keys(mrpc).sort(), ['accuracy', 'f1']);
  close(mrpc.f1 ?? NaN, 0.8461538461538461);
  const stsb = computeMetrics(GLUE_TASKS.stsb, X, Y);
  assert.deepEqual(Object.keys(stsb).sort(), ['pearson', 'spearman']);
  close(stsb.spearman ?? NaN, 0.6477233828895377);
  assert.deepEqual(computeMetrics({ metrics: ['accuracy'] }, [0, 1], [0, 0]), { accuracy: 0.5 });
});
