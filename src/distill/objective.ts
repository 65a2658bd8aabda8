/**
 * Turns a stage's losses into one weighted objective over a batch: the per-layer internal terms
 * (attention-kl, cls-cosine on each active layer pair) and the output terms (soft-label,
 * hard-label). The weights are the stage's (src/distill/plan.ts decides them). Every term is
 * returned by name and layer so the trainer can log it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertOutputs } from '../model/bert';
import { attentionKl, clsCosine, hardLabel, hardLabelRegression, softLabel, softLabelRegression } from './losses';
import { LayerPair } from './mapping';
import { StageLosses } from './plan';

export type LossTermName = 'attention-kl' | 'cls-cosine' | 'soft-label' | 'hard-label';

export interface LossTerm {
  name: LossTermName;
  /** The student layer, for internal terms. */
  layer?: number;
  weight: number;
  value: tf.Scalar;
}

export interface ObjectiveContext {
  /** The terms to compute and their weights (absent or ≤ 0: skipped). */
  losses: StageLosses;
  /** Softmax temperature of soft-label. */
  temperature: number;
  /** Pairs whose internal losses are active. */
  layers: readonly LayerPair[];
  regression: boolean;
  /** Compare head-averaged attention maps (teacher and student head counts differ). */
  headAverage: boolean;
  /** [dStudent, dTeacher] projection for cls-cosine when hidden sizes differ. */
  projection?: tf.Tensor2D;
}

/** The hidden-state and attention indices a forward pass must keep for these pairs. */
export function keepFor(layers: readonly LayerPair[], side: 'student' | 'teacher'): { hiddenStates: number[]; attentions: number[] } {
  const ks = layers.map((p) => p[side]);
  return { hiddenStates: ks, attentions: ks.map((k) => k - 1) };
}

export function clsVector(hidden: tf.Tensor3D): tf.Tensor2D {
  const [b, , h] = hidden.shape;
  return tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, h]), [b, h]);
}

/**
 * Every active term, unweighted, plus the weighted total. Terms with weight 0 are skipped.
 * `labels` holds gold class ids (or scores) as float32 [batch].
 */
export function objectiveTerms(
  ctx: ObjectiveContext,
  student: BertOutputs,
  teacher: BertOutputs | undefined,
  attentionMask: tf.Tensor2D,
  labels: tf.Tensor1D | undefined,
): { total: tf.Scalar; terms: LossTerm[] } {
  const terms: LossTerm[] = [];
  const w = ctx.losses;
  const needTeacher = () => {
    if (!teacher) throw new Error('objective: this stage needs teacher outputs');
    return teacher;
  };
  for (const pair of ctx.layers) {
    if (w.attentionKl !== undefined && w.attentionKl > 0) {
      const t = needTeacher().attentions[pair.teacher - 1];
      const s = student.attentions[pair.student - 1];
      terms.push({ name: 'attention-kl', layer: pair.student, weight: w.attentionKl, value: attentionKl(t, s, attentionMask, { headAverage: ctx.headAverage }) });
    }
    if (w.clsCosine !== undefined && w.clsCosine > 0) {
      const t = clsVector(needTeacher().hiddenStates[pair.teacher]);
      const s = clsVector(student.hiddenStates[pair.student]);
      terms.push({ name: 'cls-cosine', layer: pair.student, weight: w.clsCosine, value: clsCosine(t, s, ctx.projection) });
    }
  }
  if (w.softLabel !== undefined && w.softLabel > 0) {
    const t = needTeacher().logits;
    const value = ctx.regression ? softLabelRegression(t, student.logits) : softLabel(t, student.logits, ctx.temperature);
    terms.push({ name: 'soft-label', weight: w.softLabel, value });
  }
  if (w.hardLabel !== undefined && w.hardLabel > 0) {
    if (!labels) throw new Error('objective: hard-label needs gold labels');
    const value = ctx.regression ? hardLabelRegression(student.logits, labels) : hardLabel(student.logits, labels);
    terms.push({ name: 'hard-label', weight: w.hardLabel, value });
  }
  if (terms.length === 0) throw new Error('objective: the stage has no active loss term');
  const total = terms.map((t) => tf.mul(t.value, t.weight) as tf.Scalar).reduce((a, b) => tf.add(a, b) as tf.Scalar);
  return { total, terms };
}
