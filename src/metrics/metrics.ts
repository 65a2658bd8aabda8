/**
 * The GLUE metrics. Definitions follow scikit-learn / SciPy (what GLUE's reference evaluation
 * uses), with one deliberate difference: where those return NaN for a constant input (Pearson,
 * Spearman), these return 0, so that metric values stay JSON numbers and "best checkpoint"
 * comparisons keep working. Matthews is 0 for a zero denominator, as in scikit-learn.
 */
import type { MetricName } from '../data/tasks';

function checkPair(predictions: ArrayLike<number>, labels: ArrayLike<number>, what: string): void {
  if (predictions.length !== labels.length) {
    throw new Error(`${what}: ${predictions.length} predictions but ${labels.length} labels`);
  }
  if (labels.length === 0) throw new Error(`${what}: no examples`);
}

/** Fraction of predictions equal to their label. */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair(predictions, labels, 'accuracy');
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct / labels.length;
}

/** Binary F1 with class 1 as the positive class; 0 when there are no positives at all. */
export function f1Binary(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair(predictions, labels, 'f1');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === 1;
    const t = labels[i] === 1;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

/** Matthews correlation coefficient, multiclass (scikit-learn's formula); 0 when undefined. */
export function matthews(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair(predictions, labels, 'matthews');
  const predCount = new Map<number, number>();
  const trueCount = new Map<number, number>();
  let correct = 0;
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    predCount.set(predictions[i], (predCount.get(predictions[i]) ?? 0) + 1);
    trueCount.set(labels[i], (trueCount.get(labels[i]) ?? 0) + 1);
    if (predictions[i] === labels[i]) correct++;
  }
  let sumPT = 0;
  for (const [k, t] of trueCount) sumPT += t * (predCount.get(k) ?? 0);
  let sumPP = 0;
  for (const p of predCount.values()) sumPP += p * p;
  let sumTT = 0;
  for (const t of trueCount.values()) sumTT += t * t;
  const cov = correct * n - sumPT;
  const denom = Math.sqrt((n * n - sumPP) * (n * n - sumTT));
  return denom === 0 ? 0 : cov / denom;
}

/** Pearson correlation; 0 when either side is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(x, y, 'pearson');
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  // Clamp: rounding can push a perfect correlation a hair past ±1.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, ties sharing the average of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && values[order[j]] === values[order[i]]) j++;
    const rank = (i + 1 + j) / 2; // mean of ranks i+1 … j
    for (let k = i; k < j; k++) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

/** Spearman rank correlation (Pearson of average ranks); 0 when either side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(x, y, 'spearman');
  return pearson(averageRanks(x), averageRanks(y));
}

const METRICS: Record<MetricName, (p: ArrayLike<number>, l: ArrayLike<number>) => number> = {
  accuracy,
  f1: f1Binary,
  matthews,
  pearson,
  spearman,
};

/**
 * The task's metrics, and only those. Predictions are class ids (already arg-maxed) for
 * classification and scores for regression.
 */
export function computeMetrics(
  task: { metrics: readonly MetricName[] },
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): Partial<Record<MetricName, number>> {
  const out: Partial<Record<MetricName, number>> = {};
  for (const m of task.metrics) out[m] = METRICS[m](predictions, labels);
  return out;
}
