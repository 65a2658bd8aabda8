/**
 * The run config (`*.distill.json`): `DistillConfig` is what a user writes (most fields optional),
 * `ResolvedConfig` is the same shape with every default filled and every path absolute. A resolved
 * config is itself a valid config, so `runs/<id>/config.json` can be validated and re-run as is.
 * Fields without a default (run name, dropout, eval/checkpoint intervals…) stay optional in both.
 *
 * Nothing here may import code at run time but the loss vocabulary (which imports nothing): the
 * webview imports these types through the protocol.
 */
import type { GlueTaskName } from '../data/tasks';
import { LOSS_KEYS, type LossName } from './loss-vocabulary';

/** A loss weight's or the temperature's path over a stage (evaluated by distill/schedule.ts). */
export const SCHEDULE_SHAPES = ['constant', 'linear', 'cosine'] as const;
export type ScheduleShape = (typeof SCHEDULE_SHAPES)[number];

export interface Schedule {
  shape: ScheduleShape;
  /** The value at the stage's first step. */
  from: number;
  /** The value at the stage's last step (a constant schedule stays at `from`). */
  to: number;
}

/** The algorithms with a built-in stage plan (src/distill/plan.ts planStages). */
export const BUILT_IN_ALGORITHMS = ['hard', 'soft', 'hard+soft', 'internal-all', 'pid', 'sid'] as const;
export type BuiltInAlgorithm = (typeof BUILT_IN_ALGORITHMS)[number];
/** How the run trains the student; each expands into a stage plan (`custom`: `stages.custom`). */
export const ALGORITHMS = [...BUILT_IN_ALGORITHMS, 'custom'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
/** Algorithms whose plan distils internal representations (attention-kl, cls-cosine, …) layer by layer. */
export const INTERNAL_ALGORITHMS: readonly Algorithm[] = ['internal-all', 'pid', 'sid'];

/** What `losses.schedules` can schedule: each loss weight, and the soft-label temperature. */
export const SCHEDULE_KEYS = [...LOSS_KEYS, 'temperature'] as const;
export type ScheduleKey = (typeof SCHEDULE_KEYS)[number];

export const MAPPING_STRATEGIES = ['every-other', 'uniform', 'last-layers'] as const;
export type MappingStrategy = (typeof MAPPING_STRATEGIES)[number];
/** [student layer, teacher layer], both 1-based: a LayerPair (src/distill/mapping.ts) as configs and events write it. */
export type LayerPairSpec = [number, number];
export type MappingSpec = MappingStrategy | LayerPairSpec[];

/** The same list as `BACKEND_CHOICES` in src/model/backend.ts (kept apart: that module loads TF.js). */
export const BACKEND_REQUESTS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendRequestName = (typeof BACKEND_REQUESTS)[number];

export const DATA_FORMATS = ['tsv', 'csv', 'jsonl'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

export const EVAL_SPLITS = ['dev', 'dev_mismatched'] as const;
export type EvalSplit = (typeof EVAL_SPLITS)[number];

/** How attention-kl compares maps when teacher and student head counts differ. */
export const ATTENTION_KL_HEADS = ['match', 'average'] as const;
export type AttentionKlHeads = (typeof ATTENTION_KL_HEADS)[number];

/** A column's header name (CSV/TSV files always start with a header row) or a JSON-lines field. */
export type ColumnRef = string;

export interface CustomTaskConfig {
  train: string;
  dev: string;
  /** Default: from the file extension (.csv; .tsv/.tab; .jsonl/.ndjson), as src/data/custom.ts reads it. */
  format?: DataFormat;
  textA: ColumnRef;
  textB?: ColumnRef;
  label: ColumnRef;
  /** Class names in id order; default: the distinct labels of the training file, sorted. */
  labels?: string[];
  regression?: boolean;
}

export interface TaskConfig {
  /** A GLUE task (any spelling `findGlueTask` accepts) or "custom". */
  name: string;
  dataDir?: string;
  maxSeqLen?: number;
  trainFraction?: number;
  evalSplit?: EvalSplit;
  custom?: CustomTaskConfig;
}

export interface Architecture {
  layers: number;
  hiddenSize: number;
  heads: number;
  intermediateSize: number;
  maxPositions?: number;
}

export interface ScratchTeacherTraining {
  from: 'scratch';
  architecture: Architecture;
  /** WordPiece vocab.txt; default: the trainer builds one from the training rows it uses (the task.trainFraction subset). */
  vocab?: string;
  epochs: number;
  lr?: number;
  batchSize?: number;
}

export interface FineTuneTeacherTraining {
  /** A Hugging Face BERT folder (config.json, model.safetensors, vocab.txt) to fine-tune. */
  from: string;
  epochs: number;
  lr?: number;
  batchSize?: number;
}

export type TeacherTraining = ScratchTeacherTraining | FineTuneTeacherTraining;

/** A ready fine-tuned teacher, or one the run trains first. */
export type TeacherConfig =
  { checkpoint: string } | { train: TeacherTraining; /** Default: the run folder's teacher/. */ output?: string };

export type StudentInit = 'teacher-layers' | 'random' | { checkpoint: string };

export interface StudentConfig {
  layers?: number;
  hiddenSize?: number;
  heads?: number;
  intermediateSize?: number;
  init?: StudentInit;
}

export interface SoftLabelConfig {
  weight?: number;
  temperature?: number;
}

/** A value over each stage: `from` at its first step, `to` at its last (src/distill/schedule.ts). */
export interface ScheduleConfig {
  shape: ScheduleShape;
  /** Default: the configured weight (or temperature). */
  from?: number;
  /** Needed for linear and cosine; default for constant: `from`. */
  to?: number;
}

export interface LossesConfig {
  attentionKl?: number;
  attentionKlHeads?: AttentionKlHeads;
  clsCosine?: number;
  softLabel?: SoftLabelConfig;
  /** Default: 1 for the 'hard' and 'hard+soft' algorithms, else 0. */
  hardLabel?: number;
  /** TinyBERT's hidden-state MSE on mapped layers; default 0 (off). */
  hiddenMse?: number;
  /** TinyBERT's embedding-output MSE (layer 0); default 0 (off). */
  embeddingMse?: number;
  /** MiniLM's value-relation KL on mapped layers; default 0 (off). */
  valueRelation?: number;
  schedules?: Partial<Record<ScheduleKey, ScheduleConfig>>;
}

export interface CustomStageConfig {
  name?: string;
  /**
   * Student layers whose mapped pairs the per-layer internal losses (attention-kl, cls-cosine,
   * hidden-mse, value-relation) use; default: every mapped layer. Ignored, with a warning, on a
   * stage without them.
   */
  layers?: number[];
  losses: LossName[];
  epochs: number;
  patience?: number | null;
  /** Default: true for a stage with an output loss (soft-label, hard-label), else false (defaultSelectBest). */
  selectBest?: boolean;
  /**
   * Schedules for this stage only, by the same keys as losses.schedules; each replaces that key's
   * losses.schedules entry here. A key must be a loss this stage trains (temperature: soft-label).
   */
  schedules?: Partial<Record<ScheduleKey, ScheduleConfig>>;
}

export interface StagesConfig {
  epochsPerLayer?: number;
  internalAllEpochs?: number;
  classificationEpochs?: number;
  patience?: number | null;
  custom?: CustomStageConfig[];
}

export interface OptimConfig {
  lr?: number;
  batchSize?: number;
  /** In [0, 1): a fraction of each stage's steps; an integer ≥ 1: a number of steps. */
  warmup?: number;
  weightDecay?: number;
  /** 0 turns gradient clipping off. */
  maxGradNorm?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  seed?: number;
  /** Default: the checkpoint's own hidden/attention dropout. */
  dropout?: number;
}

export interface EvalConfig {
  /** Default: evaluate at the end of every epoch. */
  everySteps?: number;
  /** Default: optim.batchSize. */
  batchSize?: number;
}

export interface CheckpointConfig {
  /** Default: only at stage ends, on a new best and on stop. */
  everySteps?: number;
  keep?: number;
}

export const CACHE_PRECISIONS = ['float32', 'float16'] as const;
export type CachePrecisionName = (typeof CACHE_PRECISIONS)[number];

/** The teacher-output cache (src/train/teacher-cache.ts). */
export interface TeacherCacheConfig {
  enabled?: boolean;
  maxMiB?: number;
  attentionPrecision?: CachePrecisionName;
}

/** A config as written (after JSONC parsing and schema validation). */
export interface DistillConfig {
  $schema?: string;
  name?: string;
  task: TaskConfig;
  teacher: TeacherConfig;
  student?: StudentConfig;
  mapping?: MappingSpec;
  algorithm: Algorithm;
  losses?: LossesConfig;
  stages?: StagesConfig;
  optim?: OptimConfig;
  eval?: EvalConfig;
  checkpoint?: CheckpointConfig;
  teacherCache?: TeacherCacheConfig;
  backend?: BackendRequestName;
  runsDir?: string;
}

// ---- resolved -------------------------------------------------------------------------------

export interface ResolvedCustomTask {
  train: string;
  dev: string;
  format: DataFormat;
  textA: ColumnRef;
  textB?: ColumnRef;
  label: ColumnRef;
  labels?: string[];
  regression: boolean;
}

export interface ResolvedTask {
  /** Canonical: "SST-2" becomes "sst2". */
  name: GlueTaskName | 'custom';
  /** Absolute; present for GLUE tasks. */
  dataDir?: string;
  maxSeqLen: number;
  trainFraction: number;
  evalSplit: EvalSplit;
  /** Present when name is "custom". */
  custom?: ResolvedCustomTask;
}

export type ResolvedArchitecture = Required<Architecture>;

export interface ResolvedScratchTeacherTraining {
  from: 'scratch';
  architecture: ResolvedArchitecture;
  vocab?: string;
  epochs: number;
  lr: number;
  batchSize: number;
}

export interface ResolvedFineTuneTeacherTraining {
  /** Absolute path of the base checkpoint folder. */
  from: string;
  epochs: number;
  lr: number;
  batchSize: number;
}

export type ResolvedTeacherTraining = ResolvedScratchTeacherTraining | ResolvedFineTuneTeacherTraining;

export type ResolvedTeacher = { checkpoint: string } | { train: ResolvedTeacherTraining; output?: string };

export interface ResolvedStudent {
  layers: number;
  hiddenSize: number;
  heads: number;
  intermediateSize: number;
  init: StudentInit;
}

export interface ResolvedLosses {
  attentionKl: number;
  attentionKlHeads: AttentionKlHeads;
  clsCosine: number;
  softLabel: { weight: number; temperature: number };
  hardLabel: number;
  hiddenMse: number;
  embeddingMse: number;
  valueRelation: number;
  /** Present when the config schedules something; every entry with `from` and `to` filled. */
  schedules?: Partial<Record<ScheduleKey, Schedule>>;
}

export interface ResolvedCustomStage {
  name: string;
  /** Present exactly when the stage has a per-layer internal loss (attention-kl, cls-cosine, hidden-mse, value-relation). */
  layers?: number[];
  losses: LossName[];
  epochs: number;
  patience: number | null;
  selectBest: boolean;
  /** The stage's own schedules (present when it has any), every entry with `from` and `to` filled. */
  schedules?: Partial<Record<ScheduleKey, Schedule>>;
}

export interface ResolvedStages {
  epochsPerLayer: number;
  internalAllEpochs: number;
  classificationEpochs: number;
  patience: number | null;
  custom?: ResolvedCustomStage[];
}

export interface ResolvedOptim {
  lr: number;
  batchSize: number;
  warmup: number;
  weightDecay: number;
  maxGradNorm: number;
  beta1: number;
  beta2: number;
  eps: number;
  seed: number;
  dropout?: number;
}

export interface ResolvedConfig {
  name?: string;
  task: ResolvedTask;
  teacher: ResolvedTeacher;
  student: ResolvedStudent;
  /** Still a spec: the layer-mapping module expands strategies into pairs. */
  mapping: MappingSpec;
  algorithm: Algorithm;
  losses: ResolvedLosses;
  stages: ResolvedStages;
  optim: ResolvedOptim;
  eval: { everySteps?: number; batchSize: number };
  checkpoint: { everySteps?: number; keep: number };
  teacherCache: Required<TeacherCacheConfig>;
  backend: BackendRequestName;
  /** Absolute. */
  runsDir: string;
}

export function isScratchTraining(
  t: TeacherTraining | ResolvedTeacherTraining,
): t is ScratchTeacherTraining | ResolvedScratchTeacherTraining {
  return t.from === 'scratch';
}
