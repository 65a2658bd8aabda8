/**
 * Evaluation on the dev set: the task metrics, and — the paper's question "is the student's inside
 * like the teacher's?" — per mapped layer pair the dev attention-KL and [CLS] cosine distance
 * between student and teacher, and the dev hidden-mse, value-relation and embedding-mse when the
 * run trains them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertModel } from '../model/bert';
import { toBertInputs, disposeInputs } from '../model/inputs';
import { makeBatch } from '../data/batching';
import { computeMetrics } from '../metrics/metrics';
import { attentionKl, clsCosine, hiddenMse, valueRelation } from '../distill/losses';
import { LayerPair } from '../distill/mapping';
import { topRowsFor } from '../distill/objective';
import { TaskInfo, TokenisedSplit } from './task-data';

export interface LayerSimilarity {
  student: number;
  teacher: number;
  attentionKl: number;
  clsCosine: number;
  hiddenMse?: number;
  valueRelation?: number;
}

export interface EvalOutcome {
  metrics: Record<string, number>;
  mainMetric: { name: string; value: number };
  perLayer: LayerSimilarity[];
  /** Present when EvalModels.terms.embeddingMse is set and there is a teacher. */
  embeddingMse?: number;
  predictions: number[];
}

export interface EvalModels {
  student: BertModel;
  teacher?: BertModel;
  pairs: readonly LayerPair[];
  headAverage: boolean;
  projection?: tf.Tensor2D;
  /** The optional terms to measure as well (those the run trains). */
  terms?: { hiddenMse?: boolean; valueRelation?: boolean; embeddingMse?: boolean };
  hiddenProjection?: { weight: tf.Tensor2D; bias: tf.Tensor1D };
}

/** Batches of dev example indices, grouped by length so little padding is computed. */
export function evalBatches(split: TokenisedSplit, batchSize: number): number[][] {
  const order = split.encodings
    .map((_, i) => i)
    .sort((a, b) => split.encodings[a].inputIds.length - split.encodings[b].inputIds.length || a - b);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

export async function evaluate(
  models: EvalModels,
  task: TaskInfo,
  split: TokenisedSplit,
  batchSize: number,
  padId: number,
): Promise<EvalOutcome> {
  const n = split.encodings.length;
  const predictions = new Array<number>(n);
  const extra = models.terms ?? {};
  // Per pair: attention-kl, cls-cosine, then the optional terms in this order.
  const perPair = 2 + (extra.hiddenMse ? 1 : 0) + (extra.valueRelation ? 1 : 0);
  const sums = models.pairs.map(() => new Array<number>(perPair).fill(0));
  let embeddingSum = 0;
  let weight = 0;
  const layerIdx = (side: 'student' | 'teacher') => models.pairs.map((p) => p[side] - 1);
  // Full hidden states only where hidden-mse or embedding-mse reads them; cls-cosine reads [CLS] rows.
  const keepFor = (side: 'student' | 'teacher') => ({
    hiddenStates: [...(extra.embeddingMse ? [0] : []), ...(extra.hiddenMse ? models.pairs.map((p) => p[side]) : [])],
    cls: models.pairs.map((p) => p[side]),
    attentions: layerIdx(side),
    values: extra.valueRelation ? layerIdx(side) : [],
  });
  const none = { hiddenStates: [], attentions: [] };
  const keepS = models.teacher ? keepFor('student') : none;
  const keepT = keepFor('teacher');
  for (const rows of evalBatches(split, batchSize)) {
    const batch = makeBatch(
      rows.map((i) => split.encodings[i]),
      rows.map((i) => split.labels[i]),
      rows,
      padId,
    );
    const inputs = toBertInputs(batch);
    const [logits, layerValues] = tf.tidy(() => {
      const s = models.student.forward(inputs, {
        training: false,
        keep: keepS,
        topRows: topRowsFor(keepS, models.student.config.numHiddenLayers),
      });
      const values: tf.Scalar[] = [];
      if (models.teacher) {
        const t = models.teacher.forward(inputs, {
          training: false,
          keep: keepT,
          topRows: topRowsFor(keepT, models.teacher.config.numHiddenLayers),
        });
        for (const p of models.pairs) {
          values.push(
            attentionKl(t.attentions[p.teacher - 1], s.attentions[p.student - 1], inputs.attentionMask, {
              headAverage: models.headAverage,
            }),
          );
          // Widths differ and no run term trains a projection for cls-cosine: nothing to compare through.
          const comparable =
            models.projection !== undefined || models.student.config.hiddenSize === models.teacher.config.hiddenSize;
          values.push(comparable ? clsCosine(t.cls[p.teacher], s.cls[p.student], models.projection) : tf.scalar(NaN));
          if (extra.hiddenMse)
            values.push(
              hiddenMse(
                t.hiddenStates[p.teacher],
                s.hiddenStates[p.student],
                inputs.attentionMask,
                models.hiddenProjection,
              ),
            );
          if (extra.valueRelation)
            values.push(valueRelation(t.values![p.teacher - 1], s.values![p.student - 1], inputs.attentionMask));
        }
        if (extra.embeddingMse)
          values.push(hiddenMse(t.hiddenStates[0], s.hiddenStates[0], inputs.attentionMask, models.hiddenProjection));
      }
      return [s.logits, values.length ? (tf.stack(values) as tf.Tensor1D) : tf.zeros([0])] as [
        tf.Tensor2D,
        tf.Tensor1D,
      ];
    });
    const [rowsOut, lv] = await Promise.all([logits.array(), layerValues.data()]);
    tf.dispose([logits, layerValues]);
    disposeInputs(inputs);
    rowsOut.forEach((row, j) => {
      predictions[rows[j]] = task.isRegression ? row[0] : row.indexOf(Math.max(...row));
    });
    if (models.teacher) {
      // Example-weighted means over batches (the losses are means over their batch).
      models.pairs.forEach((_, i) => {
        for (let j = 0; j < perPair; j++) sums[i][j] += lv[perPair * i + j] * rows.length;
      });
      if (extra.embeddingMse) embeddingSum += lv[perPair * models.pairs.length] * rows.length;
    }
    weight += rows.length;
  }
  const labelled = split.labels.every((l) => l !== null);
  const metrics = labelled
    ? (computeMetrics(task, predictions, split.labels as number[]) as Record<string, number>)
    : {};
  return {
    metrics,
    mainMetric: { name: task.mainMetric, value: metrics[task.mainMetric] ?? NaN },
    perLayer: models.teacher
      ? models.pairs.map((p, i) => {
          const m = sums[i].map((x) => x / weight);
          let j = 2;
          return {
            student: p.student,
            teacher: p.teacher,
            attentionKl: m[0],
            clsCosine: m[1],
            ...(extra.hiddenMse ? { hiddenMse: m[j++] } : {}),
            ...(extra.valueRelation ? { valueRelation: m[j++] } : {}),
          };
        })
      : [],
    ...(models.teacher && extra.embeddingMse ? { embeddingMse: embeddingSum / weight } : {}),
    predictions,
  };
}
