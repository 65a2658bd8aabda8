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
import {
  ActivationPath,
  BACKWARD_PEAK_FACTOR,
  EvalMemoryEstimate,
  evalMemory,
  formatBytes,
  forwardValues,
  largestBatchUnder,
  ModelSize,
  optimizerTransientBytes,
  StepMemoryEstimate,
  stepMemory,
  usableHeapBytes,
  WASM_HEAP_LIMIT_BYTES,
} from '../memory-estimate';
import { UserError } from '../../util/errors';
import { LAYER_NORM_KERNEL } from './elementwise';

// The pure estimate lives in ../memory-estimate.ts (no TF.js); its API is re-exported here.
export {
  ADAMW_TEMPORARY_COPIES,
  BACKWARD_PEAK_FACTOR,
  forwardValues,
  largestVariableValues,
  optimizerTransientBytes,
  usableHeapBytes,
  WASM_HEAP_LIMIT_BYTES,
  WASM_HEAP_USABLE_FRACTION,
} from '../memory-estimate';
export type { ActivationPath, EvalMemoryEstimate, ModelSize, StepMemoryEstimate } from '../memory-estimate';

/** The activation path the installed wasm kernels give (fused with the native addon). */
export function activationPath(): ActivationPath {
  return tf.getKernel(LAYER_NORM_KERNEL, 'wasm') ? 'fused' : 'ops';
}

/**
 * Peak bytes of one step at [batch, seq]: a student trained against a teacher (distillation), or
 * `teacher` null for training a model alone.
 */
export function estimateStepMemory(
  teacher: ModelSize | null,
  student: ModelSize,
  batch: number,
  seq: number,
  path: ActivationPath = activationPath(),
): StepMemoryEstimate {
  return stepMemory(teacher, student, batch, seq, path);
}

/** Peak bytes of evaluating a batch of [batch, seq]: the student's forward, then the teacher's (if any). */
export function estimateEvalMemory(
  teacher: ModelSize | null,
  student: ModelSize,
  batch: number,
  seq: number,
  path: ActivationPath = activationPath(),
): EvalMemoryEstimate {
  return evalMemory(teacher, student, batch, seq, path);
}

/** The largest training batch (≥ 1) whose estimate fits the usable wasm heap at `seq`; 0 when none does. */
export function largestFittingBatch(
  teacher: ModelSize | null,
  student: ModelSize,
  seq: number,
  path: ActivationPath = activationPath(),
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): number {
  return largestBatchUnder(
    (b) => estimateStepMemory(teacher, student, b, seq, path).totalBytes,
    usableHeapBytes(limitBytes),
  );
}

/** The largest evaluation batch (≥ 1) that fits the usable wasm heap at `seq`; 0 when none does. */
export function largestFittingEvalBatch(
  teacher: ModelSize | null,
  student: ModelSize,
  seq: number,
  path: ActivationPath = activationPath(),
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): number {
  return largestBatchUnder(
    (b) => estimateEvalMemory(teacher, student, b, seq, path).totalBytes,
    usableHeapBytes(limitBytes),
  );
}

/** The settings a refusal names: batch size, sequence length, and the model trained (default `student`). */
export interface HeapFields {
  batch: string;
  seq: string;
  model?: string;
}

function tooBig(
  what: string,
  needBytes: number,
  modelBound: boolean,
  fit: number,
  seq: number,
  fields: HeapFields,
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): UserError {
  const message = `${what} needs about ${formatBytes(needBytes)}, more than the wasm backend's ${formatBytes(usableHeapBytes(limitBytes))} usable heap (its hard limit is ${formatBytes(limitBytes)}; past it the process aborts)`;
  if (modelBound) {
    const model = fields.model ?? 'student';
    return new UserError(
      `${message}: the weights and optimizer update of a model this size do not fit at any batch size`,
      {
        where: model,
        fix: `train a smaller model under ${model} (fewer layers, a narrower width or a smaller vocabulary), or use the tensorflow backend (no 4 GiB heap)`,
      },
    );
  }
  return new UserError(message, {
    where: fields.batch,
    fix:
      fit >= 1
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
  teacher: ModelSize | null,
  student: ModelSize,
  batch: number,
  seq: number,
  fields: HeapFields = { batch: 'optim.batchSize', seq: 'task.maxSeqLen' },
  backendName: string = tf.getBackend(),
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  if (backendName !== 'wasm') return;
  const usable = usableHeapBytes(limitBytes);
  const est = estimateStepMemory(teacher, student, batch, seq);
  if (est.totalBytes <= usable) return;
  throw tooBig(
    `a training step of ${batch} sequences × ${seq} tokens`,
    est.totalBytes,
    est.optimizerPhaseBytes > usable,
    largestFittingBatch(teacher, student, seq, undefined, limitBytes),
    seq,
    fields,
    limitBytes,
  );
}

/** As assertStepFitsWasmHeap, for an evaluation batch (forward passes only, mid-stage). */
export function assertEvalFitsWasmHeap(
  teacher: ModelSize | null,
  student: ModelSize,
  batch: number,
  seq: number,
  fields: HeapFields = { batch: 'eval.batchSize', seq: 'task.maxSeqLen' },
  backendName: string = tf.getBackend(),
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  if (backendName !== 'wasm') return;
  const usable = usableHeapBytes(limitBytes);
  const est = estimateEvalMemory(teacher, student, batch, seq);
  if (est.totalBytes <= usable) return;
  throw tooBig(
    `an evaluation batch of ${batch} sequences × ${seq} tokens`,
    est.totalBytes,
    est.persistentBytes > usable,
    largestFittingEvalBatch(teacher, student, seq, undefined, limitBytes),
    seq,
    fields,
    limitBytes,
  );
}

/**
 * The guard BertModel.forward runs before a pass (only on the wasm backend): the bytes alive now
 * (weights, moments, teacher outputs…) plus what this pass and what follows it will add: its
 * activations, and for a training pass the backward peak, the gradients and the optimizer update.
 */
export function assertForwardFitsWasmHeap(
  config: BertConfig,
  params: number,
  batch: number,
  seq: number,
  training: boolean,
): void {
  if (tf.getBackend() !== 'wasm') return;
  const liveBytes = tf.memory().numBytes;
  const path = activationPath();
  const perRow = 4 * forwardValues(config, 1, seq, training) * (training ? BACKWARD_PEAK_FACTOR[path] : 1);
  const grads = training ? 4 * params : 0;
  const optimizer = training ? optimizerTransientBytes(config, params) : 0;
  const need = liveBytes + Math.max(grads + batch * perRow, optimizer);
  const usable = usableHeapBytes();
  if (need <= usable) return;
  const fit = Math.floor((usable - liveBytes - grads) / perRow);
  throw tooBig(
    `a ${training ? 'training' : 'forward'} pass over ${batch} sequences × ${seq} tokens`,
    need,
    liveBytes + optimizer > usable,
    fit,
    seq,
    { batch: 'optim.batchSize', seq: 'task.maxSeqLen' },
  );
}

/** The wasm heap's current size (it only grows, so this is its peak so far); null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength ?? null;
}
