/**
 * Turns a stage's losses into one weighted objective over a batch: the per-layer internal terms
 * (attention-kl, cls-cosine, hidden-mse, value-relation on each active layer pair), embedding-mse
 * on the embedding outputs, and the output terms (soft-label, hard-label): one function per loss of
 * the vocabulary (src/config/loss-vocabulary.ts). The weights are the stage's (src/distill/plan.ts
 * decides them). Every term is returned by name and layer so the trainer can log it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertOutputs, TopRows } from '../model/bert';
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
  FULL_ROW_KEYS,
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

/** What a forward pass keeps (BertModel.forward's `keep`), every list given. */
export interface ForwardKeepLists {
  hiddenStates: number[];
  attentions: number[];
  values: number[];
  cls: number[];
}

/**
 * What a forward pass must keep for these pairs and the stage's losses: full hidden states only
 * where a loss reads every row (the vocabulary's `fullRows`: hidden-mse on the pairs, embedding-mse
 * on hidden state 0), [CLS] rows for cls-cosine, attention maps for attention-kl, value vectors for
 * value-relation.
 */
export function keepFor(
  layers: readonly LayerPair[],
  side: 'student' | 'teacher',
  losses: StageLosses,
): ForwardKeepLists {
  const ks = layers.map((p) => p[side]);
  const on = (k: LossKey) => losses[k] !== undefined;
  const hidden = new Set<number>();
  for (const l of LOSSES) {
    if (!l.fullRows || !on(l.key)) continue;
    if (l.place === 'embedding') hidden.add(0);
    else for (const k of ks) hidden.add(k);
  }
  return {
    hiddenStates: [...hidden].sort((a, b) => a - b),
    attentions: on('attentionKl') ? ks.map((k) => k - 1) : [],
    values: on('valueRelation') ? ks.map((k) => k - 1) : [],
    cls: on('clsCosine') ? ks : [],
  };
}

/**
 * Whether a forward pass keeping `keep` may carry only the [CLS] rows through its top layer
 * (BertModel.forward's topRows): yes unless some loss reads that layer's full hidden state.
 * DISTILLERY_TOP_ROWS=full computes every row anyway (for A/B timings and checks).
 */
export function topRowsFor(keep: { hiddenStates: readonly number[] }, numLayers: number): TopRows {
  const env = process.env.DISTILLERY_TOP_ROWS;
  if (env !== undefined && env !== '' && env !== 'full' && env !== 'cls')
    throw new Error(`DISTILLERY_TOP_ROWS must be 'full' or 'cls' (the default), got ${JSON.stringify(env)}`);
  if (env === 'full') return 'all';
  return keep.hiddenStates.includes(numLayers) ? 'all' : 'cls';
}

/** Whether some of the stage's losses read every row of a layer's hidden state. */
export function readsFullRows(losses: StageLosses): boolean {
  return FULL_ROW_KEYS.some((k) => losses[k] !== undefined);
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

function clsOf(o: BertOutputs, k: number, who: string): tf.Tensor2D {
  const v = o.cls[k];
  if (!v) throw new Error(`objective: cls-cosine needs the ${who}'s [CLS] rows of layer ${k} (forward keep.cls)`);
  return v;
}

function hiddenOf(o: BertOutputs, k: number, who: string): tf.Tensor3D {
  const v = o.hiddenStates[k];
  if (!v)
    throw new Error(
      `objective: the ${who}'s full hidden state ${k} is needed (forward keep.hiddenStates, and topRows 'all' for the top layer)`,
    );
  return v;
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
  clsCosine: ({ ctx, student, teacher, pair }) =>
    clsCosine(clsOf(teacher(), pair!.teacher, 'teacher'), clsOf(student, pair!.student, 'student'), ctx.projection),
  hiddenMse: ({ ctx, student, teacher, attentionMask, pair }) =>
    hiddenMse(
      hiddenOf(teacher(), pair!.teacher, 'teacher'),
      hiddenOf(student, pair!.student, 'student'),
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
    hiddenMse(hiddenOf(teacher(), 0, 'teacher'), hiddenOf(student, 0, 'student'), attentionMask, ctx.hiddenProjection),
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
