/**
 * Turns a stage's losses into one weighted objective over a batch: the per-layer internal terms
 * (attention-kl, cls-cosine, hidden-mse, value-relation on each active layer pair), embedding-mse
 * on the embedding outputs, and the output terms (soft-label, hard-label): one function per loss of
 * the vocabulary (src/config/loss-vocabulary.ts). The weights are the stage's (src/distill/plan.ts
 * decides them). Every term is returned by name and layer so the trainer can log it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertOutputs } from '../model/bert';
import {
  attentionKl,
  clsCosine,
  hardLabel,
  hardLabelRegression,
  hiddenMse,
  softLabel,
  softLabelRegression,
  valueRelation,
} from './losses';
import { LayerPair } from './mapping';
import { StageLosses } from './plan';
import {
  LOSSES,
  LOSS_NAME_BY_KEY,
  UNCACHED_KEYS,
  type LossKey,
  type LossName,
  type LossSpec,
} from '../config/loss-vocabulary';

export interface LossTerm {
  name: LossName;
  /** The student layer, for internal terms. */
  layer?: number;
  weight: number;
  value: tf.Scalar;
}

export interface ObjectiveContext {
  /**
   * The terms to compute and their current weights (absent: not computed). A scheduled weight may
   * reach 0 within a stage; the term is still computed and logged, at weight 0.
   */
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
  /** TinyBERT's fit_dense for hidden-mse and embedding-mse when hidden sizes differ. */
  hiddenProjection?: { weight: tf.Tensor2D; bias: tf.Tensor1D };
}

/**
 * The hidden-state, attention and value indices a forward pass must keep for these pairs, and for
 * the stage's losses: value vectors for value-relation, the embedding output (hidden state 0) for
 * embedding-mse.
 */
export function keepFor(
  layers: readonly LayerPair[],
  side: 'student' | 'teacher',
  losses: StageLosses = {},
): { hiddenStates: number[]; attentions: number[]; values: number[] } {
  const ks = layers.map((p) => p[side]);
  const hiddenStates = losses.embeddingMse !== undefined && !ks.includes(0) ? [0, ...ks] : ks;
  return {
    hiddenStates,
    attentions: ks.map((k) => k - 1),
    values: losses.valueRelation !== undefined ? ks.map((k) => k - 1) : [],
  };
}

/** Whether the stage needs the teacher's full hidden states or value vectors, which the teacher cache does not hold. */
export function needsFullTeacherOutputs(losses: StageLosses): boolean {
  return UNCACHED_KEYS.some((k) => losses[k] !== undefined);
}

export function clsVector(hidden: tf.Tensor3D): tf.Tensor2D {
  const [b, , h] = hidden.shape;
  return tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, h]), [b, h]);
}

/** What a term's function reads; `pair` is set for the per-layer terms. */
interface TermInputs {
  ctx: ObjectiveContext;
  student: BertOutputs;
  teacher: () => BertOutputs;
  attentionMask: tf.Tensor2D;
  labels: tf.Tensor1D | undefined;
  pair?: LayerPair;
}

function valuesOf(o: BertOutputs, k: number, who: string): tf.Tensor4D {
  const v = o.values?.[k - 1];
  if (!v)
    throw new Error(`objective: value-relation needs the ${who}'s value vectors of layer ${k} (forward keep.values)`);
  return v;
}

/** Each loss's function, unweighted, by its key; where it applies is the vocabulary's `place`. */
const TERMS: Readonly<Record<LossKey, (x: TermInputs) => tf.Scalar>> = {
  attentionKl: ({ ctx, student, teacher, attentionMask, pair }) => {
    const t = teacher().attentions[pair!.teacher - 1];
    return attentionKl(t, student.attentions[pair!.student - 1], attentionMask, { headAverage: ctx.headAverage });
  },
  clsCosine: ({ ctx, student, teacher, pair }) => {
    const t = clsVector(teacher().hiddenStates[pair!.teacher]);
    return clsCosine(t, clsVector(student.hiddenStates[pair!.student]), ctx.projection);
  },
  hiddenMse: ({ ctx, student, teacher, attentionMask, pair }) =>
    hiddenMse(
      teacher().hiddenStates[pair!.teacher],
      student.hiddenStates[pair!.student],
      attentionMask,
      ctx.hiddenProjection,
    ),
  valueRelation: ({ student, teacher, attentionMask, pair }) =>
    valueRelation(
      valuesOf(teacher(), pair!.teacher, 'teacher'),
      valuesOf(student, pair!.student, 'student'),
      attentionMask,
    ),
  embeddingMse: ({ ctx, student, teacher, attentionMask }) =>
    hiddenMse(teacher().hiddenStates[0], student.hiddenStates[0], attentionMask, ctx.hiddenProjection),
  softLabel: ({ ctx, student, teacher }) => {
    const t = teacher().logits;
    return ctx.regression ? softLabelRegression(t, student.logits) : softLabel(t, student.logits, ctx.temperature);
  },
  hardLabel: ({ ctx, student, labels }) => {
    if (!labels) throw new Error('objective: hard-label needs gold labels');
    return ctx.regression ? hardLabelRegression(student.logits, labels) : hardLabel(student.logits, labels);
  },
};

/**
 * Every term the stage trains, unweighted, plus the weighted total: embedding-mse, then the
 * per-layer terms pair by pair, then the output terms. `labels` holds gold class ids (or scores)
 * as float32 [batch].
 */
export function objectiveTerms(
  ctx: ObjectiveContext,
  student: BertOutputs,
  teacher: BertOutputs | undefined,
  attentionMask: tf.Tensor2D,
  labels: tf.Tensor1D | undefined,
): { total: tf.Scalar; terms: LossTerm[] } {
  const terms: LossTerm[] = [];
  const needTeacher = () => {
    if (!teacher) throw new Error('objective: this stage needs teacher outputs');
    return teacher;
  };
  const add = (key: LossKey, pair?: LayerPair): void => {
    const weight = ctx.losses[key];
    if (weight === undefined) return;
    const value = TERMS[key]({ ctx, student, teacher: needTeacher, attentionMask, labels, pair });
    terms.push({ name: LOSS_NAME_BY_KEY[key], ...(pair ? { layer: pair.student } : {}), weight, value });
  };
  const at = (place: LossSpec['place']) => LOSSES.filter((l) => l.place === place);
  for (const l of at('embedding')) add(l.key);
  for (const pair of ctx.layers) for (const l of at('layer')) add(l.key, pair);
  for (const l of at('output')) add(l.key);
  if (terms.length === 0) throw new Error('objective: the stage has no active loss term');
  const total = terms.map((t) => tf.mul(t.value, t.weight) as tf.Scalar).reduce((a, b) => tf.add(a, b) as tf.Scalar);
  return { total, terms };
}
