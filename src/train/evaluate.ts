/**
 * Evaluation on the dev set: the task metrics, and — the paper's question "is the student's inside
 * like the teacher's?" — per mapped layer pair the dev attention-KL and [CLS] cosine distance
 * between student and teacher.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertModel } from '../model/bert';
import { toBertInputs, disposeInputs } from '../model/inputs';
import { makeBatch } from '../data/batching';
import { computeMetrics } from '../metrics/metrics';
import { attentionKl, clsCosine } from '../distill/losses';
import { LayerPair } from '../distill/mapping';
import { clsVector } from '../distill/objective';
import { TaskInfo, TokenisedSplit } from './task-data';

export interface LayerSimilarity {
  student: number;
  teacher: number;
  attentionKl: number;
  clsCosine: number;
}

export interface EvalOutcome {
  metrics: Record<string, number>;
  mainMetric: { name: string; value: number };
  perLayer: LayerSimilarity[];
  predictions: number[];
}

export interface EvalModels {
  student: BertModel;
  teacher?: BertModel;
  pairs: readonly LayerPair[];
  headAverage: boolean;
  projection?: tf.Tensor2D;
}

/** Batches of dev example indices, grouped by length so little padding is computed. */
export function evalBatches(split: TokenisedSplit, batchSize: number): number[][] {
  const order = split.encodings.map((_, i) => i).sort((a, b) => split.encodings[a].inputIds.length - split.encodings[b].inputIds.length || a - b);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

export async function evaluate(models: EvalModels, task: TaskInfo, split: TokenisedSplit, batchSize: number, padId: number): Promise<EvalOutcome> {
  const n = split.encodings.length;
  const predictions = new Array<number>(n);
  const sums = models.pairs.map(() => ({ kl: 0, cos: 0 }));
  let weight = 0;
  const keepS = { hiddenStates: models.pairs.map((p) => p.student), attentions: models.pairs.map((p) => p.student - 1) };
  const keepT = { hiddenStates: models.pairs.map((p) => p.teacher), attentions: models.pairs.map((p) => p.teacher - 1) };
  for (const rows of evalBatches(split, batchSize)) {
    const batch = makeBatch(rows.map((i) => split.encodings[i]), rows.map((i) => split.labels[i]), rows, padId);
    const inputs = toBertInputs(batch);
    const [logits, layerValues] = tf.tidy(() => {
      const s = models.student.forward(inputs, { training: false, keep: models.teacher ? keepS : { hiddenStates: [], attentions: [] } });
      const values: tf.Scalar[] = [];
      if (models.teacher) {
        const t = models.teacher.forward(inputs, { training: false, keep: keepT });
        for (const p of models.pairs) {
          values.push(attentionKl(t.attentions[p.teacher - 1], s.attentions[p.student - 1], inputs.attentionMask, { headAverage: models.headAverage }));
          values.push(clsCosine(clsVector(t.hiddenStates[p.teacher]), clsVector(s.hiddenStates[p.student]), models.projection));
        }
      }
      return [s.logits, values.length ? (tf.stack(values) as tf.Tensor1D) : tf.zeros([0])] as [tf.Tensor2D, tf.Tensor1D];
    });
    const [rowsOut, lv] = await Promise.all([logits.array(), layerValues.data()]);
    tf.dispose([logits, layerValues]);
    disposeInputs(inputs);
    rowsOut.forEach((row, j) => {
      predictions[rows[j]] = task.isRegression ? row[0] : row.indexOf(Math.max(...row));
    });
    models.pairs.forEach((_, i) => {
      sums[i].kl += lv[2 * i] * rows.length;
      sums[i].cos += lv[2 * i + 1] * rows.length;
    });
    weight += rows.length;
  }
  const labelled = split.labels.every((l) => l !== null);
  const metrics = labelled ? (computeMetrics(task, predictions, split.labels as number[]) as Record<string, number>) : {};
  return {
    metrics,
    mainMetric: { name: task.mainMetric, value: metrics[task.mainMetric] ?? NaN },
    perLayer: models.teacher
      ? models.pairs.map((p, i) => ({ student: p.student, teacher: p.teacher, attentionKl: sums[i].kl / weight, clsCosine: sums[i].cos / weight }))
      : [],
    predictions,
  };
}
