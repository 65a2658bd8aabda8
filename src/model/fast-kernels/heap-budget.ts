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
 * Student-sized float32 copies alive during the update: the clipped gradients plus AdamW's
 * temporaries, which src/train/optimizer.ts frees only when its one tidy over every variable ends
 * (measured: ~15 copies; a tidy per variable would bring it to ~2 + the largest variable's share).
 */
export const OPTIMIZER_PEAK_COPIES = 15;

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
  const optimizerPhaseBytes = persistentBytes + 4 * OPTIMIZER_PEAK_COPIES * student.params;
  const peak = forwardPhaseBytes >= optimizerPhaseBytes ? 'forward' : 'optimizer';
  return { batchSize: batch, seqLen: seq, persistentBytes, forwardPhaseBytes, optimizerPhaseBytes, totalBytes: Math.max(forwardPhaseBytes, optimizerPhaseBytes), peak };
}

const USABLE = (): number => WASM_HEAP_LIMIT_BYTES * WASM_HEAP_USABLE_FRACTION;
const gib = (n: number): string => (n / 1024 ** 3).toFixed(1);

/** The largest batch (≥ 1) whose estimate fits the usable wasm heap at `seq`; 0 when none does. */
export function largestFittingBatch(teacher: ModelSize | null, student: ModelSize, seq: number, path: ActivationPath = activationPath()): number {
  const fits = (b: number): boolean => estimateStepMemory(teacher, student, b, seq, path).totalBytes <= USABLE();
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

function tooBig(what: string, needBytes: number, optimizerBound: boolean, fit: number, seq: number, fields: { batch: string; seq: string }): UserError {
  const message = `${what} needs about ${gib(needBytes)} GiB, more than the wasm backend's ${gib(USABLE())} GiB usable heap (its hard limit is 4 GiB; past it the process aborts)`;
  if (optimizerBound) {
    return new UserError(`${message}: the optimizer update of a student this size does not fit at any batch size`, {
      where: 'student',
      fix: 'train a smaller student (fewer layers, a narrower width or a smaller vocabulary), or use the tensorflow backend (no 4 GiB heap)',
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
 * wasm backend; others have no fixed heap). `fields` name the settings in the message.
 */
export function assertStepFitsWasmHeap(
  teacher: ModelSize | null, student: ModelSize, batch: number, seq: number,
  fields: { batch: string; seq: string } = { batch: 'optim.batchSize', seq: 'task.maxSeqLen' },
  backendName: string = tf.getBackend(),
): void {
  if (backendName !== 'wasm') return;
  const est = estimateStepMemory(teacher, student, batch, seq);
  if (est.totalBytes <= USABLE()) return;
  throw tooBig(`a training step of ${batch} sequences × ${seq} tokens`, est.totalBytes, est.optimizerPhaseBytes > USABLE(), largestFittingBatch(teacher, student, seq), seq, fields);
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
  const optimizer = training ? 4 * OPTIMIZER_PEAK_COPIES * params : 0;
  const need = liveBytes + Math.max(grads + batch * perRow, optimizer);
  if (need <= USABLE()) return;
  const fit = Math.floor((USABLE() - liveBytes - grads) / perRow);
  throw tooBig(`a ${training ? 'training' : 'forward'} pass over ${batch} sequences × ${seq} tokens`, need, liveBytes + optimizer > USABLE(), fit, seq, { batch: 'optim.batchSize', seq: 'task.maxSeqLen' });
}

/** The wasm heap's current size (it only grows, so this is its peak so far); null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength ?? null;
}
