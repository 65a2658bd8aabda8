/**
 * The GLUE tasks: where their files are, which columns hold text and label, the label order
 * (the same as Hugging Face's GLUE processors, so checkpoints trained elsewhere line up) and the
 * metrics GLUE reports for each.
 */
export type MetricName = 'accuracy' | 'f1' | 'matthews' | 'pearson' | 'spearman';

export type Split = 'train' | 'dev' | 'dev_mismatched' | 'test';

export interface ColumnSpec {
  /** 0-based column index, used when the file has no header (CoLA) or as a check. */
  index: number;
  /** Header name, when the file has a header. */
  header?: string;
}

export interface TaskSpec {
  name: GlueTaskName;
  /** Canonical folder name in the GLUE download (e.g. "SST-2"). */
  dirName: string;
  /** File name per split. */
  files: Partial<Record<Split, string>>;
  hasHeader: boolean;
  textA: ColumnSpec;
  textB?: ColumnSpec;
  /** Column of the label in labelled splits; for MNLI the last column (gold_label). */
  label: ColumnSpec | 'last';
  /** Class names in id order; empty for regression. */
  labels: string[];
  isRegression: boolean;
  metrics: MetricName[];
  /** The metric used to pick the best checkpoint. */
  mainMetric: MetricName;
}

export const GLUE_TASK_NAMES = ['cola', 'sst2', 'mrpc', 'qqp', 'stsb', 'mnli', 'qnli', 'rte', 'wnli'] as const;
export type GlueTaskName = (typeof GLUE_TASK_NAMES)[number];

const std = { train: 'train.tsv', dev: 'dev.tsv', test: 'test.tsv' };

export const GLUE_TASKS: Record<GlueTaskName, TaskSpec> = {
  cola: {
    name: 'cola',
    dirName: 'CoLA',
    files: std,
    hasHeader: false,
    textA: { index: 3 },
    label: { index: 1 },
    labels: ['0', '1'],
    isRegression: false,
    metrics: ['matthews', 'accuracy'],
    mainMetric: 'matthews',
  },
  sst2: {
    name: 'sst2',
    dirName: 'SST-2',
    files: std,
    hasHeader: true,
    textA: { index: 0, header: 'sentence' },
    label: { index: 1, header: 'label' },
    labels: ['0', '1'],
    isRegression: false,
    metrics: ['accuracy'],
    mainMetric: 'accuracy',
  },
  mrpc: {
    name: 'mrpc',
    dirName: 'MRPC',
    files: std,
    hasHeader: true,
    textA: { index: 3, header: '#1 String' },
    textB: { index: 4, header: '#2 String' },
    label: { index: 0, header: 'Quality' },
    labels: ['0', '1'],
    isRegression: false,
    metrics: ['f1', 'accuracy'],
    mainMetric: 'f1',
  },
  qqp: {
    name: 'qqp',
    dirName: 'QQP',
    files: std,
    hasHeader: true,
    textA: { index: 3, header: 'question1' },
    textB: { index: 4, header: 'question2' },
    label: { index: 5, header: 'is_duplicate' },
    labels: ['0', '1'],
    isRegression: false,
    metrics: ['accuracy', 'f1'],
    mainMetric: 'accuracy',
  },
  stsb: {
    name: 'stsb',
    dirName: 'STS-B',
    files: std,
    hasHeader: true,
    textA: { index: 7, header: 'sentence1' },
    textB: { index: 8, header: 'sentence2' },
    label: { index: 9, header: 'score' },
    labels: [],
    isRegression: true,
    metrics: ['pearson', 'spearman'],
    mainMetric: 'pearson',
  },
  mnli: {
    name: 'mnli',
    dirName: 'MNLI',
    files: {
      train: 'train.tsv',
      dev: 'dev_matched.tsv',
      dev_mismatched: 'dev_mismatched.tsv',
      test: 'test_matched.tsv',
    },
    hasHeader: true,
    textA: { index: 8, header: 'sentence1' },
    textB: { index: 9, header: 'sentence2' },
    label: 'last',
    labels: ['contradiction', 'entailment', 'neutral'],
    isRegression: false,
    metrics: ['accuracy'],
    mainMetric: 'accuracy',
  },
  qnli: {
    name: 'qnli',
    dirName: 'QNLI',
    files: std,
    hasHeader: true,
    textA: { index: 1, header: 'question' },
    textB: { index: 2, header: 'sentence' },
    label: { index: 3, header: 'label' },
    labels: ['entailment', 'not_entailment'],
    isRegression: false,
    metrics: ['accuracy'],
    mainMetric: 'accuracy',
  },
  rte: {
    name: 'rte',
    dirName: 'RTE',
    files: std,
    hasHeader: true,
    textA: { index: 1, header: 'sentence1' },
    textB: { index: 2, header: 'sentence2' },
    label: { index: 3, header: 'label' },
    labels: ['entailment', 'not_entailment'],
    isRegression: false,
    metrics: ['accuracy'],
    mainMetric: 'accuracy',
  },
  wnli: {
    name: 'wnli',
    dirName: 'WNLI',
    files: std,
    hasHeader: true,
    textA: { index: 1, header: 'sentence1' },
    textB: { index: 2, header: 'sentence2' },
    label: { index: 3, header: 'label' },
    labels: ['0', '1'],
    isRegression: false,
    metrics: ['accuracy'],
    mainMetric: 'accuracy',
  },
};

/** Accepts "sst2", "SST-2", "sst-2", "STS-B"…; undefined for an unknown name. */
export function findGlueTask(name: string): TaskSpec | undefined {
  const key = name.toLowerCase().replace(/[-_\s]/g, '');
  return (GLUE_TASKS as Record<string, TaskSpec>)[key];
}
