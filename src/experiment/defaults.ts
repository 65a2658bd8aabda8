/**
 * Defaults for a new experiment that come from its data and its teacher path, not from constants:
 * the sequence length the data needs (the longest dev example, tokenised with the vocabulary the
 * run will use), a learning rate that fits fine-tuning or training from scratch, teacher epochs
 * sized by the training set, parameter counts, and how long an epoch will take on this machine.
 * Plain Node (no vscode, no TF.js), so the CLI can use it and tests cover it directly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stepFlops, type BenchShape } from '../bench/shapes';
import type { ResolvedTask } from '../config/types';
import type { Dataset } from '../data/examples';
import { WordPieceTokenizer } from '../data/tokenizer';
import { buildWordPieceVocab } from '../data/vocab-builder';
import { parseHfConfig } from '../model/hf-config';
import { readTaskDatasets } from '../train/task-data';

/** Where the teacher comes from: a model already trained on the task, a base BERT to fine-tune, or none. */
export type TeacherPath = 'checkpoint' | 'fine-tune' | 'scratch';

/** The encoder's shape, enough to count parameters and matrix-product FLOPs. */
export interface EncoderShape {
  layers: number;
  hiddenSize: number;
  heads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
}

/** BERT's position table: sequences are never longer. */
export const MAX_SEQ_LEN_CAP = 512;
/** Sequence lengths are rounded up to a multiple of this (tidy numbers; SIMD-friendly widths). */
export const SEQ_LEN_MULTIPLE = 8;
/** The vocabulary a scratch teacher gets when none is given: what train/run.ts builds. */
export const SCRATCH_VOCAB_SIZE = 8000;
/** The architecture New Experiment proposes for a teacher trained from scratch. */
export const SCRATCH_TEACHER = { layers: 4, hiddenSize: 256, heads: 4, intermediateSize: 1024 } as const;
export const DEFAULT_BATCH_SIZE = 32;

/** A measured token count rounded up to a multiple of 8, at least 16 and at most 512. */
export function roundSeqLen(tokens: number): number {
  const rounded = Math.ceil(Math.max(1, tokens) / SEQ_LEN_MULTIPLE) * SEQ_LEN_MULTIPLE;
  return Math.min(MAX_SEQ_LEN_CAP, Math.max(16, rounded));
}

/** Word pieces of the longest example, [CLS] and [SEP]s included (no truncation). */
export function longestExampleTokens(data: Dataset, tokenizer: WordPieceTokenizer): number {
  let longest = 0;
  for (const ex of data.examples) {
    const n =
      tokenizer.tokenize(ex.textA).length + 2 + (ex.textB === undefined ? 0 : tokenizer.tokenize(ex.textB).length + 1);
    if (n > longest) longest = n;
  }
  return longest;
}

/**
 * Learning rates by path. Fine-tuning a pre-trained BERT uses BERT's recipe (Devlin et al.: 2e-5
 * to 5e-5); a model trained from random weights needs a rate ten times higher or more to move in
 * a few epochs (small BERTs train at 1e-4 to 1e-3). A student initialised from a scratch teacher's
 * layers is fine-tuned from a small model, so it sits between the two.
 */
export function learningRates(p: TeacherPath): { teacher?: number; student: number } {
  switch (p) {
    case 'checkpoint':
      return { student: 5e-5 };
    case 'fine-tune':
      return { teacher: 3e-5, student: 5e-5 };
    case 'scratch':
      return { teacher: 5e-4, student: 2e-4 };
  }
}

/** Optimizer steps a scratch teacher should get at least, spread over its epochs. */
export const SCRATCH_TARGET_STEPS = 4000;

/**
 * Teacher epochs by path and training-set size. Fine-tuning: BERT's 3 epochs, 2 on a large set
 * (≥ 50 000 rows: more steps than fine-tuning needs). From scratch: enough epochs for about
 * SCRATCH_TARGET_STEPS steps, between 2 and 20, so a small set is seen often and a large one
 * is not gone over for hours.
 */
export function teacherEpochs(
  p: TeacherPath,
  trainExamples: number,
  batchSize = DEFAULT_BATCH_SIZE,
): number | undefined {
  if (p === 'checkpoint') return undefined;
  if (p === 'fine-tune') return trainExamples >= 50_000 ? 2 : 3;
  const stepsPerEpoch = Math.max(1, Math.ceil(trainExamples / batchSize));
  return Math.min(20, Math.max(2, Math.ceil(SCRATCH_TARGET_STEPS / stepsPerEpoch)));
}

/** Parameters of a BERT encoder with pooler and classification head (what countParameters counts). */
export function parameterCount(s: EncoderShape, numLabels: number): number {
  const h = s.hiddenSize;
  const f = s.intermediateSize;
  const embeddings = (s.vocabSize + s.maxPositions + 2) * h + 2 * h;
  const layer = 4 * (h * h + h) + 2 * h + (h * f + f) + (f * h + h) + 2 * h;
  return embeddings + s.layers * layer + (h * h + h) + (h * numLabels + numLabels);
}

/** The same shape with fewer layers (a student keeps its teacher's widths by default). */
export function studentShape(teacher: EncoderShape, layers: number): EncoderShape {
  return { ...teacher, layers };
}

/**
 * Matrix-product FLOPs of one training step of each phase (the bench's formula,
 * src/bench/shapes.ts), averaged over the given batch lengths: batches are padded to their own
 * longest example, so a step's cost follows the data, not maxSeqLen.
 */
export function phaseStepFlops(
  teacher: EncoderShape,
  studentLayers: number,
  seqLens: readonly number[],
  batchSize: number,
  numLabels: number,
): { teacherTraining: number; distillation: number } {
  let teacherTraining = 0;
  let distillation = 0;
  const lens = seqLens.length > 0 ? seqLens : [MAX_SEQ_LEN_CAP];
  for (const seqLen of lens) {
    const shape: BenchShape = {
      name: 'reference',
      teacherLayers: teacher.layers,
      studentLayers,
      hiddenSize: teacher.hiddenSize,
      heads: teacher.heads,
      intermediateSize: teacher.intermediateSize,
      vocabSize: teacher.vocabSize,
      batchSize,
      seqLen,
      numLabels,
    };
    const f = stepFlops(shape);
    // training the teacher: its forward and backward (2× forward), no second model
    teacherTraining += 3 * f.teacherForward;
    distillation += f.total;
  }
  return { teacherTraining: teacherTraining / lens.length, distillation: distillation / lens.length };
}

/** Training examples sampled to estimate batch lengths (tokenising all of a large set would take seconds). */
export const LENGTH_SAMPLE = 4096;

/**
 * The padded length of typical training batches: a sample of the training set in batches of
 * `batchSize` (in a scrambled order, as training visits them), each padded to its
 * longest example and cut at maxSeqLen.
 * Rows are taken evenly spread over the file, then scrambled with a fixed permutation.
 */
export function sampleBatchLengths(
  data: Dataset,
  tokenizer: WordPieceTokenizer,
  batchSize: number,
  maxSeqLen: number,
): number[] {
  const n = data.examples.length;
  const take = Math.min(n, LENGTH_SAMPLE);
  const lens: number[] = [];
  for (let k = 0; k < take; k++) {
    const ex = data.examples[Math.floor((k * n) / take)];
    const t =
      tokenizer.tokenize(ex.textA).length + 2 + (ex.textB === undefined ? 0 : tokenizer.tokenize(ex.textB).length + 1);
    lens.push(Math.min(t, maxSeqLen));
  }
  // scramble deterministically so a sorted file does not give sorted batches
  for (let i = lens.length - 1; i > 0; i--) {
    const j = (i * 2654435761) % (i + 1);
    [lens[i], lens[j]] = [lens[j], lens[i]];
  }
  const out: number[] = [];
  for (let i = 0; i < lens.length; i += batchSize) out.push(Math.max(...lens.slice(i, i + batchSize)));
  return out;
}

/** A measured speed: matrix-product GFLOP/s of the distillation step (`distillery bench --json`: step.gflopsPerSec). */
export interface MeasuredSpeed {
  gflopsPerSec: number;
  /** "wasm+blas", "cpu"…: what was measured. */
  backend: string;
}

export interface EpochEstimate {
  steps: number;
  seconds: number;
}

/**
 * Time per epoch from the step's FLOPs and a measured speed. Element-wise work is not counted
 * by the bench's FLOPs either, so the measured GFLOP/s already includes its cost on shapes near
 * the bench's; far from them the estimate is rougher (it says ≈).
 */
export function estimateEpoch(
  trainExamples: number,
  batchSize: number,
  flopsPerStep: number,
  speed: MeasuredSpeed,
): EpochEstimate {
  const steps = Math.ceil(trainExamples / batchSize);
  return { steps, seconds: (steps * flopsPerStep) / (speed.gflopsPerSec * 1e9) };
}

/** "45 s", "12 min", "3.2 h". */
export function formatEstimate(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** "11.2 M", "79 k". */
export function formatParams(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} k`;
  return String(n);
}

/** The data side of an experiment, as New Experiment knows it. */
export type TaskSource =
  | { kind: 'glue'; name: ResolvedTask['name']; dataDir: string }
  | { kind: 'custom'; train: string; dev: string; textA: string; textB?: string; label: string };

/** The teacher side: a folder (checkpoint or base to fine-tune) or a scratch architecture. */
export type TeacherSource =
  | { path: 'checkpoint' | 'fine-tune'; dir: string }
  | {
      path: 'scratch';
      architecture: {
        layers: number;
        hiddenSize: number;
        heads: number;
        intermediateSize: number;
        maxPositions?: number;
      };
      vocab?: string;
    };

export interface ExperimentDefaults {
  trainExamples: number;
  devExamples: number;
  numLabels: number;
  /** The longest dev example in word pieces of the run's vocabulary. */
  longestDevTokens: number;
  maxSeqLen: number;
  /** Where the vocabulary came from, for the explanation ("vocab.txt of models/x", "built from the training set"). */
  vocabulary: string;
  lr: { teacher?: number; student: number };
  teacherEpochs?: number;
  teacher: EncoderShape;
  teacherParams: number;
  studentParams: number;
  batchSize: number;
  flopsPerStep: { teacherTraining: number; distillation: number };
}

function resolvedTask(t: TaskSource): ResolvedTask {
  const base = { maxSeqLen: MAX_SEQ_LEN_CAP, trainFraction: 1, evalSplit: 'dev' as const };
  if (t.kind === 'glue') return { ...base, name: t.name, dataDir: t.dataDir };
  return {
    ...base,
    name: 'custom',
    custom: {
      train: t.train,
      dev: t.dev,
      format: formatOf(t.train),
      textA: t.textA,
      ...(t.textB ? { textB: t.textB } : {}),
      label: t.label,
      regression: false,
    },
  };
}

function formatOf(file: string): 'csv' | 'tsv' | 'jsonl' {
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  if (/\.(tsv|tab)$/i.test(file)) return 'tsv';
  return 'csv';
}

/** A Hugging Face folder's architecture, from its config.json; the error names the file and the fix. */
export function readFolderShape(dir: string): EncoderShape {
  const file = path.join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(
      `${file}: cannot read the model's config.json (${(e as Error).message}); choose a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt)`,
      { cause: e },
    );
  }
  const c = parseHfConfig(json, file);
  return {
    layers: c.numHiddenLayers,
    hiddenSize: c.hiddenSize,
    heads: c.numAttentionHeads,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    maxPositions: c.maxPositionEmbeddings,
  };
}

/**
 * Reads the data (train and dev), picks the vocabulary the run will use (the teacher's or base
 * folder's vocab.txt; for a scratch teacher the given one, or one built from the training set as
 * the trainer will), and derives the defaults. Throws when a file cannot be read.
 */
export function deriveExperimentDefaults(o: {
  task: TaskSource;
  teacher: TeacherSource;
  studentLayers: number;
  batchSize?: number;
}): ExperimentDefaults {
  const batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
  const { info, train, dev } = readTaskDatasets(resolvedTask(o.task));
  let tokenizer: WordPieceTokenizer;
  let vocabulary: string;
  let teacher: EncoderShape;
  if (o.teacher.path === 'scratch') {
    if (o.teacher.vocab) {
      tokenizer = WordPieceTokenizer.fromVocabFile(o.teacher.vocab);
      vocabulary = o.teacher.vocab;
    } else {
      const texts = train.examples.flatMap((e) => (e.textB === undefined ? [e.textA] : [e.textA, e.textB]));
      tokenizer = new WordPieceTokenizer(
        buildWordPieceVocab(texts, { maxSize: SCRATCH_VOCAB_SIZE, lowercase: true }),
        {},
        'the vocabulary built from the training set',
      );
      vocabulary = `built from the training set (${tokenizer.vocabSize} tokens)`;
    }
    const a = o.teacher.architecture;
    teacher = {
      layers: a.layers,
      hiddenSize: a.hiddenSize,
      heads: a.heads,
      intermediateSize: a.intermediateSize,
      vocabSize: tokenizer.vocabSize,
      maxPositions: a.maxPositions ?? MAX_SEQ_LEN_CAP,
    };
  } else {
    tokenizer = WordPieceTokenizer.fromModelDir(o.teacher.dir);
    vocabulary = `vocab.txt of ${o.teacher.dir}`;
    teacher = readFolderShape(o.teacher.dir);
  }
  const longestDevTokens = longestExampleTokens(dev, tokenizer);
  const maxSeqLen = Math.min(roundSeqLen(longestDevTokens), teacher.maxPositions);
  const numLabels = info.numLabels;
  return {
    trainExamples: train.examples.length,
    devExamples: dev.examples.length,
    numLabels,
    longestDevTokens,
    maxSeqLen,
    vocabulary,
    lr: learningRates(o.teacher.path),
    teacherEpochs: teacherEpochs(o.teacher.path, train.examples.length, batchSize),
    teacher,
    teacherParams: parameterCount(teacher, numLabels),
    studentParams: parameterCount(studentShape(teacher, o.studentLayers), numLabels),
    batchSize,
    flopsPerStep: phaseStepFlops(
      teacher,
      o.studentLayers,
      sampleBatchLengths(train, tokenizer, batchSize, maxSeqLen),
      batchSize,
      numLabels,
    ),
  };
}

/** The lines New Experiment shows before it writes the config: sizes, and time per epoch when measured. */
export function describeDefaults(
  d: ExperimentDefaults,
  teacherPath: TeacherPath,
  speed: MeasuredSpeed | undefined,
): { teacher: string; student: string; data: string } {
  const est = (flops: number): string => {
    if (!speed) return 'time per epoch not measured';
    const e = estimateEpoch(d.trainExamples, d.batchSize, flops, speed);
    return `≈ ${formatEstimate(e.seconds)} per epoch (${e.steps.toLocaleString('en-US')} steps, ${speed.backend})`;
  };
  const teacherTime =
    teacherPath === 'checkpoint'
      ? 'ready (not trained)'
      : `trains ${d.teacherEpochs} epoch(s) at lr ${d.lr.teacher}, ${est(d.flopsPerStep.teacherTraining)}`;
  return {
    teacher: `teacher ${formatParams(d.teacherParams)} parameters (${d.teacher.layers} layers, hidden ${d.teacher.hiddenSize}): ${teacherTime}`,
    student: `student ${formatParams(d.studentParams)} parameters: distils at lr ${d.lr.student}, ${est(d.flopsPerStep.distillation)}`,
    data: `${d.trainExamples.toLocaleString('en-US')} train / ${d.devExamples.toLocaleString('en-US')} dev examples; longest dev example ${d.longestDevTokens} tokens (vocabulary ${d.vocabulary}) → maxSeqLen ${d.maxSeqLen}`,
  };
}
