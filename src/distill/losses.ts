/**
 * The distillation losses of Aguilar et al., "Knowledge Distillation from Internal Representations"
 * (AAAI 2020): attention KL and [CLS] cosine on matched internal layers, soft labels from the
 * teacher's logits, and hard labels from the gold data.
 *
 * Every function returns a tf.Scalar built only from differentiable TF.js ops (no data reads), so
 * it can be called inside tf.variableGrads / optimizer.minimize. Each wraps its work in tf.tidy,
 * so only the returned scalar outlives the call.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients (the union package does); these losses are for training.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { AttentionKlAttrs } from '../model/fast-kernels/training-kernels';
import { defineOp } from '../model/ops';

/**
 * Student attention probabilities are clamped to at least this before the log, so a student that
 * puts exactly 0 where the teacher puts mass gives a large but finite loss (and finite gradients)
 * instead of Inf/NaN. It is far below any probability a softmax over a real row produces.
 */
export const ATTENTION_LOG_EPSILON = 1e-12;

/** Guards the norms in clsCosine as torch.nn.functional.cosine_similarity does (eps = 1e-8). */
export const COSINE_EPSILON = 1e-8;

export interface AttentionKlOptions {
  /**
   * Compare the head-averaged maps [batch, 1, query, key] instead of head by head; needed when the
   * teacher and student have different numbers of heads.
   */
  headAverage?: boolean;
}

function assertSameShape(what: string, a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new Error(`${what}: shapes differ ([${a.join(', ')}] vs [${b.join(', ')}])`);
  }
}

const X_LOG_X_EPSILON = 1e-30;

/**
 * p·log p with 0·log 0 := 0: clamping p inside the log to 1e-30 (a normal float32) makes p = 0
 * give exactly 0, with finite gradients, and moves no value above 1e-28. (A comparison + where
 * would break tf.grad w.r.t. p, since comparisons have no registered gradient.)
 */
function xLogX(p: tf.Tensor): tf.Tensor {
  return tf.mul(p, tf.log(tf.maximum(p, X_LOG_X_EPSILON)));
}

/** The masked sum of A_T·log A_T − A_T·log A_S over valid rows and keys (a backend may fuse it). */
const attentionKlSum = defineOp('attentionKlSum', (t, s, mask, attrs) => {
  const [batch, , queries, keys] = t.shape;
  const keyMask = tf.reshape(mask, [batch, 1, 1, keys]);
  const rowMask = tf.reshape(mask, [batch, 1, queries, 1]);
  const logS = tf.log(tf.maximum(s, attrs.eps));
  const pointwise = tf.sub(xLogX(t), tf.mul(t, logS)); // A_T·log A_T − A_T·log A_S
  const perRow = tf.sum(tf.mul(pointwise, keyMask), 3, true); // [b, h, q, 1]
  return tf.sum(tf.mul(perRow, rowMask));
});

/**
 * Attention KL: per head KL(A_T ‖ A_S) = Σ_k A_T[k]·(log A_T[k] − log A_S[k]) over non-padded keys,
 * then the mean over non-padded query rows, heads and batch:
 *   Σ_{valid b,q} Σ_h KL_{b,h,q} / (heads × #valid (b,q)).
 *
 * `teacher` and `student` are attention probabilities [batch, heads, query, key]; `attentionMask`
 * is [batch, seq] with 1 for tokens and 0 for padding (seq = query = key). Padded keys and padded
 * query rows contribute nothing, whatever their values. A batch with no valid rows gives 0.
 * A_S is clamped to ATTENTION_LOG_EPSILON inside the log (see there).
 */
export function attentionKl(
  teacher: tf.Tensor4D,
  student: tf.Tensor4D,
  attentionMask: tf.Tensor2D,
  opts: AttentionKlOptions = {},
): tf.Scalar {
  const [batch, , queries, keys] = teacher.shape;
  if (opts.headAverage) {
    assertSameShape(
      'attentionKl (batch, query, key)',
      [batch, queries, keys],
      [student.shape[0], student.shape[2], student.shape[3]],
    );
  } else if (teacher.shape[1] !== student.shape[1]) {
    throw new Error(
      `attentionKl: teacher has ${teacher.shape[1]} heads and student ${student.shape[1]}; pass { headAverage: true } to compare head-averaged maps`,
    );
  } else {
    assertSameShape('attentionKl', teacher.shape, student.shape);
  }
  if (queries !== keys) throw new Error(`attentionKl: expected self-attention maps (query ${queries} ≠ key ${keys})`);
  assertSameShape('attentionKl mask [batch, seq]', attentionMask.shape, [batch, keys]);

  return tf.tidy(() => {
    const t = opts.headAverage ? tf.mean(teacher, 1, true) : teacher;
    const s = opts.headAverage ? tf.mean(student, 1, true) : student;
    const heads = opts.headAverage ? 1 : teacher.shape[1];
    const mask = tf.cast(attentionMask, 'float32');
    // max(…, 1): an all-padding batch has a zero numerator too, so the loss is 0, not NaN.
    const rows = tf.maximum(tf.mul(tf.sum(mask), heads), 1);
    const attrs: AttentionKlAttrs = { eps: ATTENTION_LOG_EPSILON, teacherEps: X_LOG_X_EPSILON };
    const total = attentionKlSum(t as tf.Tensor4D, s as tf.Tensor4D, mask as tf.Tensor2D, attrs);
    return tf.div(total, rows) as tf.Scalar;
  });
}

/**
 * [CLS] cosine loss: mean over the batch of 1 − cos(h_T, h_S). `projection` [dStudent, dTeacher]
 * maps the student vector into the teacher's width when they differ. Norms are clamped to
 * COSINE_EPSILON (as torch's cosine_similarity does), so a zero vector gives cos = 0 and finite
 * gradients.
 */
export function clsCosine(teacherCls: tf.Tensor2D, studentCls: tf.Tensor2D, projection?: tf.Tensor2D): tf.Scalar {
  if (projection) {
    assertSameShape('clsCosine projection', projection.shape, [studentCls.shape[1], teacherCls.shape[1]]);
  } else {
    assertSameShape('clsCosine (without a projection)', teacherCls.shape, studentCls.shape);
  }
  if (studentCls.shape[0] !== teacherCls.shape[0]) throw new Error('clsCosine: batch sizes differ');

  return tf.tidy(() => {
    const s = projection ? tf.matMul(studentCls, projection) : studentCls;
    // sqrt(max(‖x‖², eps²)) = max(‖x‖, eps), with a finite gradient at x = 0.
    const norm = (x: tf.Tensor): tf.Tensor =>
      tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1), COSINE_EPSILON * COSINE_EPSILON));
    const dot = tf.sum(tf.mul(teacherCls, s), 1);
    const cos = tf.div(dot, tf.mul(norm(teacherCls), norm(s)));
    return tf.mean(tf.sub(1, cos)) as tf.Scalar;
  });
}

/**
 * Soft-label loss: T² · mean_b KL(softmax(z_T/T) ‖ softmax(z_S/T)), from logSoftmax for stability.
 *
 * KL rather than cross-entropy with the teacher's probabilities: the two differ by the teacher's
 * entropy, a constant for the student, so the gradients are identical; but KL is 0 when the
 * student matches the teacher, which makes the logged value readable. The T² factor (Hinton et
 * al.) keeps gradient magnitudes comparable across temperatures.
 */
export function softLabel(teacherLogits: tf.Tensor2D, studentLogits: tf.Tensor2D, temperature: number): tf.Scalar {
  if (!(temperature > 0) || !Number.isFinite(temperature))
    throw new Error(`softLabel: temperature must be a positive number, got ${temperature}`);
  assertSameShape('softLabel', teacherLogits.shape, studentLogits.shape);
  return tf.tidy(() => {
    const logPT = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const logPS = tf.logSoftmax(tf.div(studentLogits, temperature));
    // logSoftmax is finite everywhere, so a teacher probability that underflows to 0 adds 0.
    const kl = tf.sum(tf.mul(tf.exp(logPT), tf.sub(logPT, logPS)), 1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

type Outputs = tf.Tensor1D | tf.Tensor2D;

function meanSquaredError(what: string, a: Outputs, b: Outputs): tf.Scalar {
  if (a.size !== b.size || a.shape[0] !== b.shape[0]) {
    throw new Error(`${what}: expected one value per example ([${a.shape.join(', ')}] vs [${b.shape.join(', ')}])`);
  }
  return tf.tidy(() => tf.mean(tf.squaredDifference(tf.reshape(a, [-1]), tf.reshape(b, [-1]))) as tf.Scalar);
}

/** Soft labels for regression (one output): MSE between the student's and teacher's predictions. */
export function softLabelRegression(teacherOutputs: Outputs, studentOutputs: Outputs): tf.Scalar {
  return meanSquaredError('softLabelRegression', teacherOutputs, studentOutputs);
}

/**
 * Hard-label loss: mean cross-entropy of the student's logits [batch, classes] against gold class
 * ids [batch] (int or integral float). Ids are not range-checked here (that would need a data
 * read); an id outside 0..classes−1 contributes 0, so readers must validate labels.
 */
export function hardLabel(studentLogits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const [batch, classes] = studentLogits.shape;
  if (labels.shape[0] !== batch) throw new Error(`hardLabel: ${labels.shape[0]} labels for a batch of ${batch}`);
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), classes);
    const logP = tf.logSoftmax(studentLogits);
    return tf.neg(tf.div(tf.sum(tf.mul(oneHot, logP)), batch)) as tf.Scalar;
  });
}

/** Hard labels for regression: MSE between predictions [batch, 1] and gold targets [batch]. */
export function hardLabelRegression(predictions: Outputs, targets: tf.Tensor1D): tf.Scalar {
  return meanSquaredError('hardLabelRegression', predictions, targets);
}

// ---- TinyBERT and MiniLM terms (issue #17) ---------------------------------------------------

/**
 * Hidden-state MSE (TinyBERT's hidden and embedding losses): the mean squared difference between
 * the teacher's states [batch, seq, dT] and the student's [batch, seq, dS] over non-padded tokens:
 *   Σ_{valid b,t} ‖h_T − (h_S·W + b)‖² / (#valid tokens × dT).
 * `projection` (W [dS, dT], bias [dT]) maps the student into the teacher's width when they differ,
 * as TinyBERT's fit_dense does. Padded tokens contribute nothing; a batch with none gives 0.
 * (TinyBERT's MSELoss also averages over padding; masking keeps the value independent of how much
 * padding a batch happens to have.)
 */
export function hiddenMse(
  teacher: tf.Tensor3D,
  student: tf.Tensor3D,
  attentionMask: tf.Tensor2D,
  projection?: { weight: tf.Tensor2D; bias: tf.Tensor1D },
): tf.Scalar {
  const [batch, seq, dT] = teacher.shape;
  const dS = student.shape[2];
  assertSameShape('hiddenMse (batch, seq)', [batch, seq], [student.shape[0], student.shape[1]]);
  if (projection) {
    assertSameShape('hiddenMse projection', projection.weight.shape, [dS, dT]);
    assertSameShape('hiddenMse projection bias', projection.bias.shape, [dT]);
  } else if (dS !== dT) {
    throw new Error(`hiddenMse: the student's width ${dS} differs from the teacher's ${dT}; pass a projection`);
  }
  assertSameShape('hiddenMse mask [batch, seq]', attentionMask.shape, [batch, seq]);
  return tf.tidy(() => {
    const s = projection
      ? tf.reshape(tf.add(tf.matMul(tf.reshape(student, [batch * seq, dS]), projection.weight), projection.bias), [
          batch,
          seq,
          dT,
        ])
      : student;
    const mask = tf.cast(attentionMask, 'float32');
    const perToken = tf.sum(tf.squaredDifference(teacher, s), 2); // [b, s]
    const total = tf.sum(tf.mul(perToken, mask));
    // max(…, 1): an all-padding batch has a zero numerator too, so the loss is 0, not NaN.
    return tf.div(total, tf.mul(tf.maximum(tf.sum(mask), 1), dT)) as tf.Scalar;
  });
}

/**
 * Added to the relation scores of padded keys: exp() of it is exactly 0 in float32, yet it stays
 * far from −Infinity, so log-probabilities and their differences stay finite.
 */
const RELATION_MASK_VALUE = -1e9;

/** log softmax(V·Vᵀ/√d) over keys, padded keys masked: [batch, heads, seq, seq]. */
function logValueRelation(values: tf.Tensor4D, keyBias: tf.Tensor): tf.Tensor4D {
  const d = values.shape[3];
  const scores = tf.add(tf.mul(tf.matMul(values, values, false, true), 1 / Math.sqrt(d)), keyBias);
  return tf.logSoftmax(scores) as tf.Tensor4D;
}

/**
 * The value relations R = softmax(V·Vᵀ/√d_head) themselves, [batch, heads, seq, seq], for a
 * sequence without padding: what the dashboard draws next to the attention maps.
 */
export function valueRelationMaps(values: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.exp(logValueRelation(values, tf.scalar(0))) as tf.Tensor4D);
}

/**
 * MiniLM's self-attention value relation (Wang et al., 2020): per head, R = softmax(V·Vᵀ/√d_head)
 * over keys, then KL(R_T ‖ R_S) summed over non-padded keys and averaged over non-padded query
 * rows, heads and batch, exactly as attentionKl averages. `teacher` and `student` are the value
 * vectors [batch, heads, seq, d_head] (d_head may differ, the head count may not); `attentionMask`
 * is [batch, seq]. Computed from log-softmax, so no clamping is needed. Ordinary TF.js ops on
 * purpose: the native attention-KL kernel takes probabilities and clamps the student's log, where
 * relations of large value vectors are sharp enough for the clamp to bite.
 */
export function valueRelation(teacher: tf.Tensor4D, student: tf.Tensor4D, attentionMask: tf.Tensor2D): tf.Scalar {
  const [batch, heads, seq] = teacher.shape;
  if (student.shape[1] !== heads) {
    throw new Error(
      `valueRelation: teacher has ${heads} heads and student ${student.shape[1]}; the value relation compares heads one to one`,
    );
  }
  assertSameShape('valueRelation (batch, heads, seq)', [batch, heads, seq], student.shape.slice(0, 3));
  assertSameShape('valueRelation mask [batch, seq]', attentionMask.shape, [batch, seq]);
  return tf.tidy(() => {
    const mask = tf.cast(attentionMask, 'float32');
    const keyBias = tf.reshape(tf.mul(tf.sub(1, mask), RELATION_MASK_VALUE), [batch, 1, 1, seq]);
    const logT = logValueRelation(teacher, keyBias);
    const logS = logValueRelation(student, keyBias);
    const pointwise = tf.mul(tf.exp(logT), tf.sub(logT, logS));
    const keyMask = tf.reshape(mask, [batch, 1, 1, seq]);
    const rowMask = tf.reshape(mask, [batch, 1, seq, 1]);
    const total = tf.sum(tf.mul(tf.sum(tf.mul(pointwise, keyMask), 3, true), rowMask));
    return tf.div(total, tf.maximum(tf.mul(tf.sum(mask), heads), 1)) as tf.Scalar;
  });
}
