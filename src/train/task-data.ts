/**
 * Loads a run's train and dev data (GLUE or custom), tokenises it once, and applies the
 * configured training fraction (a seeded subset, kept in file order) for data-scarcity runs.
 */
import { ResolvedTask } from '../config/types';
import { readCustomDataset } from '../data/custom';
import { Dataset } from '../data/examples';
import { Encoding } from '../data/encoding';
import { readGlueSplit } from '../data/glue';
import { GLUE_TASKS, MetricName } from '../data/tasks';
import { WordPieceTokenizer } from '../data/tokenizer';
import { createRng, shuffleInPlace } from '../data/batching';

/** What the trainer needs to know about the task, GLUE or custom. */
export interface TaskInfo {
  name: string;
  labels: string[];
  isRegression: boolean;
  metrics: MetricName[];
  mainMetric: MetricName;
  /** Outputs of the task head. */
  numLabels: number;
}

export interface TokenisedSplit {
  dataset: Dataset;
  encodings: Encoding[];
  /** Gold label (class id or score) per example; null when unlabelled. */
  labels: (number | null)[];
}

export interface TaskData {
  info: TaskInfo;
  train: TokenisedSplit;
  dev: TokenisedSplit;
}

export function readTaskDatasets(task: ResolvedTask): { info: TaskInfo; train: Dataset; dev: Dataset } {
  if (task.name === 'custom') {
    const c = task.custom!;
    const mapping = {
      textA: String(c.textA),
      textB: c.textB === undefined ? undefined : String(c.textB),
      label: String(c.label),
    };
    const train = readCustomDataset(c.train, mapping, {
      format: c.format,
      labels: c.labels,
      regression: c.regression,
      split: 'train',
    });
    // The dev set must use the training set's class ids.
    const dev = readCustomDataset(c.dev, mapping, {
      format: c.format,
      labels: train.labels,
      regression: c.regression,
      split: 'dev',
    });
    const binary = !c.regression && train.labels.length === 2;
    const info: TaskInfo = {
      name: 'custom',
      labels: train.labels,
      isRegression: c.regression,
      metrics: c.regression ? ['pearson', 'spearman'] : binary ? ['accuracy', 'f1'] : ['accuracy'],
      mainMetric: c.regression ? 'pearson' : 'accuracy',
      numLabels: c.regression ? 1 : train.labels.length,
    };
    return { info, train, dev };
  }
  const spec = GLUE_TASKS[task.name];
  const info: TaskInfo = {
    name: spec.name,
    labels: spec.labels,
    isRegression: spec.isRegression,
    metrics: spec.metrics,
    mainMetric: spec.mainMetric,
    numLabels: spec.isRegression ? 1 : spec.labels.length,
  };
  return {
    info,
    train: readGlueSplit(spec, task.dataDir!, 'train'),
    dev: readGlueSplit(spec, task.dataDir!, task.evalSplit),
  };
}

/** A seeded subset of `fraction` of the examples (at least one), in file order. */
export function subsetIndices(n: number, fraction: number, seed: number): number[] {
  if (fraction >= 1) return Array.from({ length: n }, (_, i) => i);
  const keep = Math.max(1, Math.round(n * fraction));
  const order = shuffleInPlace(
    Array.from({ length: n }, (_, i) => i),
    createRng(seed),
  );
  return order.slice(0, keep).sort((a, b) => a - b);
}

function tokenise(dataset: Dataset, tokenizer: WordPieceTokenizer, maxLen: number): TokenisedSplit {
  return {
    dataset,
    encodings: dataset.examples.map((ex) => tokenizer.encode(ex.textA, ex.textB, maxLen)),
    labels: dataset.examples.map((ex) => ex.label),
  };
}

/**
 * The splits as the run uses them: the training set cut to task.trainFraction (the seeded subset
 * of subsetIndices); the rows left out are held out, and nothing of the run may learn from them.
 */
export function readRunDatasets(task: ResolvedTask, seed: number): { info: TaskInfo; train: Dataset; dev: Dataset } {
  const { info, train, dev } = readTaskDatasets(task);
  const kept = subsetIndices(train.examples.length, task.trainFraction, seed);
  return { info, train: { ...train, examples: kept.map((i) => train.examples[i]) }, dev };
}

export function loadTaskData(task: ResolvedTask, tokenizer: WordPieceTokenizer, seed: number): TaskData {
  const { info, train, dev } = readRunDatasets(task, seed);
  return { info, train: tokenise(train, tokenizer, task.maxSeqLen), dev: tokenise(dev, tokenizer, task.maxSeqLen) };
}
