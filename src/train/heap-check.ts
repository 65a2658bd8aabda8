/**
 * The trainer's wasm heap check at the start of a phase (teacher training, student distillation):
 * the largest training batch and the largest evaluation batch the phase will see are checked
 * against the 4 GiB wasm heap before the first step, so a run whose batch cannot fit fails at once
 * with a UserError naming the setting and the largest batch that fits, not after hours of teacher
 * training, at its first evaluation, or with the process's `Aborted()`.
 * (BertModel.forward guards each pass too; this is the early, whole-phase check.)
 */
import type { LoopSetup } from './loop';
import {
  assertEvalFitsWasmHeap,
  assertStepFitsWasmHeap,
  ModelSize,
  WASM_HEAP_LIMIT_BYTES,
} from '../model/fast-kernels/heap-budget';

/** The largest shapes one phase runs, and the models that run them. */
export interface PhaseMemoryPlan {
  phase: 'teacher' | 'student';
  /** The model this phase trains (the teacher, in the teacher phase), with its trained extras. */
  trained: ModelSize;
  /** The frozen teacher the student learns from; null when training a model alone. */
  teacher: ModelSize | null;
  /** Rows × tokens of the largest training batch: a full batch padded to the longest example. */
  train: { batch: number; seq: number };
  /** The same for evaluation; null without dev examples. */
  eval: { batch: number; seq: number } | null;
}

function longest(encodings: ReadonlyArray<{ inputIds: ArrayLike<number> }>): number {
  let n = 0;
  for (const e of encodings) n = Math.max(n, e.inputIds.length);
  return n;
}

/** The largest shapes of the phase a TrainingLoop is set up for. */
export function phaseMemoryPlan(
  s: Pick<LoopSetup, 'phase' | 'model' | 'teacher' | 'projection' | 'batchSize' | 'evalBatchSize' | 'data'>,
): PhaseMemoryPlan {
  const size = (m: NonNullable<LoopSetup['teacher']>, extra = 0): ModelSize => ({
    config: m.config,
    params: m.parameterCounts().total + extra,
  });
  const train = s.data.train.encodings;
  const dev = s.data.dev.encodings;
  return {
    phase: s.phase,
    // The cls-cosine projection is trained too: it has gradients and moments.
    trained: size(s.model, s.projection?.size ?? 0),
    teacher: s.teacher ? size(s.teacher) : null,
    train: { batch: Math.min(s.batchSize, train.length), seq: longest(train) },
    eval: dev.length > 0 ? { batch: Math.min(s.evalBatchSize, dev.length), seq: longest(dev) } : null,
  };
}

/** The config fields a refusal names, by phase. */
export function batchFields(phase: 'teacher' | 'student'): { train: string; eval: string; seq: string; model: string } {
  return phase === 'teacher'
    ? { train: 'teacher.train.batchSize', eval: 'eval.batchSize', seq: 'task.maxSeqLen', model: 'teacher.train' }
    : { train: 'optim.batchSize', eval: 'eval.batchSize', seq: 'task.maxSeqLen', model: 'student' };
}

/**
 * Throws a UserError when the phase's largest training or evaluation batch would not fit the wasm
 * heap; nothing on other backends. `limitBytes` stands in for the 4 GiB heap (tests).
 */
export function assertPhaseFitsWasmHeap(
  plan: PhaseMemoryPlan,
  opts: { backend?: string; limitBytes?: number } = {},
): void {
  const { backend } = opts; // the asserts check nothing off wasm
  const limit = opts.limitBytes ?? WASM_HEAP_LIMIT_BYTES;
  const f = batchFields(plan.phase);
  if (plan.train.batch > 0 && plan.train.seq > 0) {
    assertStepFitsWasmHeap(
      plan.teacher,
      plan.trained,
      plan.train.batch,
      plan.train.seq,
      { batch: f.train, seq: f.seq, model: f.model },
      backend,
      limit,
    );
  }
  if (plan.eval && plan.eval.seq > 0) {
    assertEvalFitsWasmHeap(
      plan.teacher,
      plan.trained,
      plan.eval.batch,
      plan.eval.seq,
      { batch: f.eval, seq: f.seq, model: f.model },
      backend,
      limit,
    );
  }
}
