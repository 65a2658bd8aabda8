/**
 * Every default of the run config, in one place. The JSON Schema repeats the constant ones as
 * `default` (for hover and completion); a test keeps the two in step. Defaults that depend on
 * other fields are functions.
 */
import type {
  Algorithm,
  AttentionKlHeads,
  BackendRequestName,
  CachePrecisionName,
  EvalSplit,
  MappingStrategy,
} from './types';
import { LOSSES, type LossName } from './loss-vocabulary';

export const DEFAULTS = {
  task: { maxSeqLen: 128, trainFraction: 1, evalSplit: 'dev' as EvalSplit },
  customTask: { regression: false },
  architecture: { maxPositions: 512 },
  student: { init: 'teacher-layers' as const },
  losses: {
    attentionKl: 1,
    attentionKlHeads: 'match' as AttentionKlHeads,
    clsCosine: 1,
    softLabel: { weight: 1, temperature: 1 },
    // The TinyBERT / MiniLM terms are off unless asked for, so the paper's runs stay as they were.
    hiddenMse: 0,
    embeddingMse: 0,
    valueRelation: 0,
  },
  stages: { epochsPerLayer: 1, internalAllEpochs: 3, classificationEpochs: 3, patience: null as number | null },
  // BERT's fine-tuning recipe (Devlin et al.): AdamW, eps 1e-6, weight decay 0.01, 10% warmup.
  optim: {
    lr: 5e-5,
    batchSize: 32,
    warmup: 0.1,
    weightDecay: 0.01,
    maxGradNorm: 1,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-6,
    seed: 42,
  },
  checkpoint: { keep: 2 },
  teacherCache: { enabled: false, maxMiB: 1024, attentionPrecision: 'float32' as CachePrecisionName },
  backend: 'auto' as BackendRequestName,
  runsDir: 'runs',
} as const;

/** Half the teacher's layers (a 12-layer teacher gets a 6-layer student), at least 1. */
export function defaultStudentLayers(teacherLayers: number): number {
  return Math.max(1, Math.floor(teacherLayers / 2));
}

/** every-other when the teacher is exactly twice as deep, else uniform spacing. */
export function defaultMapping(studentLayers: number, teacherLayers: number): MappingStrategy {
  return teacherLayers === 2 * studentLayers ? 'every-other' : 'uniform';
}

/** Gold labels drive the 'hard' algorithms; elsewhere they are off unless asked for. */
export function defaultHardLabelWeight(algorithm: Algorithm): number {
  return algorithm === 'hard' || algorithm === 'hard+soft' ? 1 : 0;
}

export function defaultEvalBatchSize(trainBatchSize: number): number {
  return trainBatchSize;
}

export function defaultCustomStageName(index: number): string {
  return `stage ${index + 1}`;
}

/**
 * A custom stage with an output loss (soft-label, hard-label) is a classification stage and, like
 * the built-in algorithms' classification stages, ends on the weights of its best evaluation; an
 * internal-only stage ends on its last weights.
 */
export function defaultSelectBest(losses: readonly LossName[]): boolean {
  return LOSSES.some((l) => l.place === 'output' && losses.includes(l.name));
}
