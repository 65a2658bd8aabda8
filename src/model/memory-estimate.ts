/**
 * Memory of a training step and of an evaluation batch, estimated from the shapes alone: the pure
 * arithmetic behind the wasm heap guards (fast-kernels/heap-budget.ts), without TF.js, so that the
 * config validator can run it too (src/validate/validate.ts checks a config's batches before a run
 * folder is created). See heap-budget.ts for what the estimate counts and how it was fitted.
 */
import type { BertConfig } from './config';

/** The wasm heap's hard limit (emscripten's getHeapMax: 4 GiB − 64 KiB). */
export const WASM_HEAP_LIMIT_BYTES = 4294901760;
/** Refuse above this share of the limit: the allocator's fragmentation needs slack. */
export const WASM_HEAP_USABLE_FRACTION = 0.9;
/**
 * Peak of forward + backward relative to the forward pass's own activations, by matrix-kernel
 * path: the native addon's fused LayerNorm/GELU/dropout keep far fewer intermediates than the
 * op-by-op stock graph. Fitted to wasm heap sizes at batch 8–64 × 128 tokens (docs/performance.md).
 */
export const BACKWARD_PEAK_FACTOR = { fused: 1.6, ops: 3.0 } as const;
/**
 * Copies of the largest variable that AdamW's update keeps alive at once: src/train/optimizer.ts
 * frees each variable's temporaries before the next (three at most: two operands and a result).
 */
export const ADAMW_TEMPORARY_COPIES = 3;

export type ActivationPath = keyof typeof BACKWARD_PEAK_FACTOR;

export interface StepMemoryEstimate {
  batchSize: number;
  seqLen: number;
  /** Both models' weights and the student's AdamW moments: alive throughout. */
  persistentBytes: number;
  /** Forward and backward: the student's activations (or the teacher's, if larger) and gradients. */
  forwardPhaseBytes: number;
  /** Gradient clipping and the AdamW update. */
  optimizerPhaseBytes: number;
  /** The larger phase: the step's peak. */
  totalBytes: number;
  /** Which of the two sets the peak. */
  peak: 'forward' | 'optimizer';
}

/**
 * Float32 values one encoder layer keeps: per token 38·h + 3·f with dropout (training), 28·h + 3·f
 * without, plus per head 8·s² (scores, mask add, softmax, dropout's four intermediates) or 3·s².
 */
function layerValues(c: BertConfig, batch: number, seq: number, training: boolean): number {
  const n = batch * seq;
  const h = c.hiddenSize;
  const f = c.intermediateSize;
  const heads = c.numAttentionHeads;
  return training
    ? n * (38 * h + 3 * f) + 8 * batch * heads * seq * seq
    : n * (28 * h + 3 * f) + 3 * batch * heads * seq * seq;
}

/** Float32 values of the model's largest parameter (the word embeddings, for BERT vocabularies). */
export function largestVariableValues(c: BertConfig): number {
  const h = c.hiddenSize;
  return h * Math.max(c.vocabSize, c.maxPositionEmbeddings, c.typeVocabSize, c.intermediateSize, h, c.numLabels);
}

/**
 * Bytes the update adds on top of the weights and moments of a model with `params` parameters:
 * while clipping, the raw and the clipped gradients; then the clipped gradients and AdamW's
 * temporaries of one variable.
 */
export function optimizerTransientBytes(config: BertConfig, params: number): number {
  return 4 * (params + Math.max(params, ADAMW_TEMPORARY_COPIES * largestVariableValues(config)));
}

export function forwardValues(c: BertConfig, batch: number, seq: number, training: boolean): number {
  const embeddings = batch * seq * c.hiddenSize * (training ? 15 : 9);
  return embeddings + c.numHiddenLayers * layerValues(c, batch, seq, training);
}

/** A model's architecture and parameter count (`countParameters(config).total` from bert.ts). */
export interface ModelSize {
  config: BertConfig;
  params: number;
}

/**
 * Peak bytes of one step at [batch, seq]: a student trained against a teacher (distillation), or
 * `teacher` null for training a model alone.
 */
export function stepMemory(
  teacher: ModelSize | null,
  student: ModelSize,
  batch: number,
  seq: number,
  path: ActivationPath,
): StepMemoryEstimate {
  const factor = BACKWARD_PEAK_FACTOR[path];
  const persistentBytes = 4 * (student.params + (teacher?.params ?? 0)) + 4 * 2 * student.params;
  const studentActs = 4 * forwardValues(student.config, batch, seq, true) * factor;
  // The teacher's forward pass runs (and frees its intermediates) before the student's.
  const teacherActs = teacher
    ? 4 * forwardValues(teacher.config, batch, seq, false) * (factor / BACKWARD_PEAK_FACTOR.fused)
    : 0;
  const forwardPhaseBytes = persistentBytes + Math.max(4 * student.params + studentActs, teacherActs);
  const optimizerPhaseBytes = persistentBytes + optimizerTransientBytes(student.config, student.params);
  const peak = forwardPhaseBytes >= optimizerPhaseBytes ? 'forward' : 'optimizer';
  return {
    batchSize: batch,
    seqLen: seq,
    persistentBytes,
    forwardPhaseBytes,
    optimizerPhaseBytes,
    totalBytes: Math.max(forwardPhaseBytes, optimizerPhaseBytes),
    peak,
  };
}

export interface EvalMemoryEstimate {
  batchSize: number;
  seqLen: number;
  /** Both models' weights and the student's AdamW moments (evaluation runs mid-stage). */
  persistentBytes: number;
  /** The peak: persistent + the larger forward pass (each frees its intermediates before the next). */
  totalBytes: number;
}

/** Peak bytes of evaluating a batch of [batch, seq]: the student's forward, then the teacher's (if any). */
export function evalMemory(
  teacher: ModelSize | null,
  student: ModelSize,
  batch: number,
  seq: number,
  path: ActivationPath,
): EvalMemoryEstimate {
  // Inference keeps no tape; scaled as the teacher's forward pass in estimateStepMemory.
  const scale = BACKWARD_PEAK_FACTOR[path] / BACKWARD_PEAK_FACTOR.fused;
  const persistentBytes = 4 * (student.params + (teacher?.params ?? 0)) + 4 * 2 * student.params;
  const acts = (c: BertConfig): number => 4 * forwardValues(c, batch, seq, false) * scale;
  const totalBytes = persistentBytes + Math.max(acts(student.config), teacher ? acts(teacher.config) : 0);
  return { batchSize: batch, seqLen: seq, persistentBytes, totalBytes };
}

/** What the guards may use of a heap of `limitBytes` (default: the real wasm limit). */
export function usableHeapBytes(limitBytes: number = WASM_HEAP_LIMIT_BYTES): number {
  return limitBytes * WASM_HEAP_USABLE_FRACTION;
}

export const formatBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`;

/** The largest batch (≥ 1) whose `bytesAt(batch)` fits in `usable`; 0 when none does. */
export function largestBatchUnder(bytesAt: (batch: number) => number, usable: number): number {
  const fits = (b: number): boolean => bytesAt(b) <= usable;
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (fits(hi) && hi < 1 << 16) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Parameters of a BertForSequenceClassification: equal to bert.ts's countParameters(c).total, without TF.js. */
export function bertParameterCount(c: BertConfig): number {
  const h = c.hiddenSize;
  const f = c.intermediateSize;
  const embeddings = (c.vocabSize + c.maxPositionEmbeddings + c.typeVocabSize) * h + 2 * h;
  const layer = 4 * (h * h + h) + 2 * (2 * h) + (h * f + f) + (f * h + h);
  const pooler = h * h + h;
  const head = h * c.numLabels + c.numLabels;
  return embeddings + c.numHiddenLayers * layer + pooler + head;
}
