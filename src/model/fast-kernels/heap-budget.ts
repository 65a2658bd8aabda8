/**
 * Memory of a training step, estimated from the shape before it runs. The wasm backend keeps every
 * tensor in one WebAssembly heap of at most 4 GiB that never shrinks; a step that does not fit
 * aborts the process (`Aborted()`) and leaves the backend unusable, so the trainer refuses such a
 * batch up front with a UserError that says which setting to lower.
 *
 * The estimate counts float32 tensors alive at the peak: the weights of both models, the student's
 * gradients and AdamW moments, and the activations the forward passes keep (TF.js frees a forward
 * pass's intermediates only when its tidy scope ends, and the gradient tape holds the student's
 * until backward is done). The per-layer activation counts come from the ops in bert.ts; the
 * backward factor was fitted to wasm heap sizes measured by `distillery bench` (docs/performance.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BertConfig } from '../config';
import { UserError } from '../../util/errors';
import { LAYER_NORM_KERNEL } from './elementwise';

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

/** The activation path the installed wasm kernels give (fused with the native addon). */
export function activationPath(): ActivationPath {
  return tf.getKernel(LAYER_NORM_KERNEL, 'wasm') ? 'fused' : 'ops';
}

/**
 * Peak bytes of one step at [batch, seq]: a student trained against a teacher (distillation), or
 * `teacher` null for training a model alone.
 */
export function estimateStepMemory(teacher: ModelSize | null, student: ModelSize, batch: number, seq: number, path: ActivationPath = activationPath()): StepMemoryEstimate {
  const factor = BACKWARD_PEAK_FACTOR[path];
  const persistentBytes = 4 * (student.params + (teacher?.params ?? 0)) + 4 * 2 * student.params;
  const studentActs = 4 * forwardValues(student.config, batch, seq, true) * factor;
  // The teacher's forward pass runs (and frees its intermediates) before the student's.
  const teacherActs = teacher ? 4 * forwardValues(teacher.config, batch, seq, false) * (factor / BACKWARD_PEAK_FACTOR.fused) : 0;
  const forwardPhaseBytes = persistentBytes + Math.max(4 * student.params + studentActs, teacherActs);
  const optimizerPhaseBytes = persistentBytes + optimizerTransientBytes(student.config, student.params);
  const peak = forwardPhaseBytes >= optimizerPhaseBytes ? 'forward' : 'optimizer';
  return { batchSize: batch, seqLen: seq, persistentBytes, forwardPhaseBytes, optimizerPhaseBytes, totalBytes: Math.max(forwardPhaseBytes, optimizerPhaseBytes), peak };
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
export function estimateEvalMemory(teacher: ModelSize | null, student: ModelSize, batch: number, seq: number, path: ActivationPath = activationPath()): EvalMemoryEstimate {
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

const fmtBytes = (n: number): string => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`);

/** The largest batch (≥ 1) whose `bytesAt(batch)` fits in `usable`; 0 when none does. */
function largestBatchUnder(bytesAt: (batch: number) => number, usable: number): number {
  const fits = (b: number): boolean => bytesAt(b) <= usable;
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (fits(hi) && hi < 1 << 16) { lo = hi; hi *= 2; }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid; else hi = mid;
  }
  return lo;
}

/** The largest training batch (≥ 1) whose estimate fits the usable wasm heap at `seq`; 0 when none does. */
export function largestFittingBatch(teacher: ModelSize | null, student: ModelSize, seq: number, path: ActivationPath = activationPath(), limitBytes: number = WASM_HEAP_LIMIT_BYTES): number {
  return largestBatchUnder((b) => estimateStepMemory(teacher, student, b, seq, path).totalBytes, usableHeapBytes(limitBytes));
}

/** The largest evaluation batch (≥ 1) that fits the usable wasm heap at `seq`; 0 when none does. */
export function largestFittingEvalBatch(teacher: ModelSize | null, student: ModelSize, seq: number, path: ActivationPath = activationPath(), limitBytes: number = WASM_HEAP_LIMIT_BYTES): number {
  return largestBatchUnder((b) => estimateEvalMemory(teacher, student, b, seq, path).totalBytes, usableHeapBytes(limitBytes));
}

/** The settings a refusal names: batch size, sequence length, and the model trained (default `student`). */
export interface HeapFields { batch: string; seq: string; model?: string }

function tooBig(what: string, needBytes: number, modelBound: boolean, fit: number, seq: number, fields: HeapFields, limitBytes: number = WASM_HEAP_LIMIT_BYTES): UserError {
  const message = `${what} needs about ${fmtBytes(needBytes)}, more than the wasm backend's ${fmtBytes(usableHeapBytes(limitBytes))} usable heap (its hard limit is ${fmtBytes(limitBytes)}; past it the process aborts)`;
  if (modelBound) {
    const model = fields.model ?? 'student';
    return new UserError(`${message}: the weights and optimizer update of a model this size do not fit at any batch size`, {
      where: model,
      fix: `train a smaller model under ${model} (fewer layers, a narrower width or a smaller vocabulary), or use the tensorflow backend (no 4 GiB heap)`,
    });
  }
  return new UserError(message, {
    where: fields.batch,
    fix: fit >= 1
      ? `set ${fields.batch} to at most ${fit} (at ${seq} tokens), or lower ${fields.seq}`
      : `lower ${fields.seq}: even one sequence of ${seq} tokens does not fit; or use a smaller model`,
  });
}

/**
 * Throws a UserError when a training step of this shape would not fit the wasm heap (only on the
 * wasm backend; others have no fixed heap). `fields` name the settings in the message;
 * `limitBytes` stands in for the 4 GiB heap (tests).
 */
export function assertStepFitsWasmHeap(
  teacher: ModelSize | null, student: ModelSize, batch: number, seq: number,
  fields: HeapFields = { batch: 'optim.batchSize', seq: 'task.maxSeqLen' },
  backendName: string = tf.getBackend(),
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  if (backendName !== 'wasm') return;
  const usable = usableHeapBytes(limitBytes);
  const est = estimateStepMemory(teacher, student, batch, seq);
  if (est.totalBytes <= usable) return;
  throw tooBig(`a training step of ${batch} sequences × ${seq} tokens`, est.totalBytes, est.optimizerPhaseBytes > usable, largestFittingBatch(teacher, student, seq, undefined, limitBytes), seq, fields, limitBytes);
}

/** As assertStepFitsWasmHeap, for an evaluation batch (forward passes only, mid-stage). */
export function assertEvalFitsWasmHeap(
  teacher: ModelSize | null, student: ModelSize, batch: number, seq: number,
  fields: HeapFields = { batch: 'eval.batchSize', seq: 'task.maxSeqLen' },
  backendName: string = tf.getBackend(),
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  if (backendName !== 'wasm') return;
  const usable = usableHeapBytes(limitBytes);
  const est = estimateEvalMemory(teacher, student, batch, seq);
  if (est.totalBytes <= usable) return;
  throw tooBig(`an evaluation batch of ${batch} sequences × ${seq} tokens`, est.totalBytes, est.persistentBytes > usable, largestFittingEvalBatch(teacher, student, seq, undefined, limitBytes), seq, fields, limitBytes);
}

/**
 * The guard BertModel.forward runs on wasm before a pass: the bytes alive now (weights, moments,
 * teacher outputs…) plus what this pass and what follows it will add: its activations, and for a
 * training pass the backward peak, the gradients and the optimizer update.
 */
export function assertForwardFitsWasmHeap(config: BertConfig, params: number, batch: number, seq: number, training: boolean, liveBytes: number): void {
  const path = activationPath();
  const perRow = 4 * forwardValues(config, 1, seq, training) * (training ? BACKWARD_PEAK_FACTOR[path] : 1);
  const grads = training ? 4 * params : 0;
  const optimizer = training ? optimizerTransientBytes(config, params) : 0;
  const need = liveBytes + Math.max(grads + batch * perRow, optimizer);
  const usable = usableHeapBytes();
  if (need <= usable) return;
  const fit = Math.floor((usable - liveBytes - grads) / perRow);
  throw tooBig(`a ${training ? 'training' : 'forward'} pass over ${batch} sequences × ${seq} tokens`, need, liveBytes + optimizer > usable, fit, seq, { batch: 'optim.batchSize', seq: 'task.maxSeqLen' });
}

/** The wasm heap's current size (it only grows, so this is its peak so far); null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength ?? null;
}
