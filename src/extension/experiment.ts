/**
 * The New Experiment flow's answers → a *.distill.json config. Pure apart from small file reads
 * (a data file's header row, a teacher's depth), so the config it writes is tested without VS Code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GLUE_TASK_NAMES, GLUE_TASKS, GlueTaskName } from '../data/tasks';
import { defaultMapping } from '../config/defaults';
import { INTERNAL_ALGORITHMS, type BuiltInAlgorithm } from '../config/types';
import { learningRates, type TaskSource, type TeacherPath, type TeacherSource } from '../experiment/defaults';

export type TeacherChoice =
  | { kind: 'checkpoint'; dir: string }
  | { kind: 'fine-tune'; from: string; epochs: number }
  | { kind: 'scratch'; layers: number; hiddenSize: number; heads: number; intermediateSize: number; epochs: number };

export type TaskChoice =
  | { kind: 'glue'; name: GlueTaskName; dataDir: string }
  | { kind: 'custom'; train: string; dev: string; textA: string; textB?: string; label: string };

export interface ExperimentAnswers {
  name: string;
  teacher: TeacherChoice;
  /** The teacher's depth when known (read from its config.json, or the scratch architecture). */
  teacherLayers?: number;
  task: TaskChoice;
  studentLayers: number;
  algorithm: BuiltInAlgorithm;
  /** The folder the config is written to; paths in it are relative to this folder. */
  configDir: string;
  /** Settings derived from the data and the teacher path (src/experiment/defaults.ts), when it could be read. */
  derived?: DerivedSettings;
}

/** What the config takes from deriveExperimentDefaults. */
export interface DerivedSettings {
  maxSeqLen: number;
  lr: { teacher?: number; student: number };
  teacherEpochs?: number;
}

/** Without readable data: BERT's usual length; the learning rate still follows the path. */
export const FALLBACK_MAX_SEQ_LEN = 128;

export function teacherPathOf(t: TeacherChoice): TeacherPath {
  return t.kind;
}

/** The teacher as the defaults module takes it. */
export function teacherSourceOf(t: TeacherChoice): TeacherSource {
  if (t.kind === 'checkpoint') return { path: 'checkpoint', dir: t.dir };
  if (t.kind === 'fine-tune') return { path: 'fine-tune', dir: t.from };
  return {
    path: 'scratch',
    architecture: { layers: t.layers, hiddenSize: t.hiddenSize, heads: t.heads, intermediateSize: t.intermediateSize },
  };
}

/** The task as the defaults module takes it. */
export function taskSourceOf(t: TaskChoice): TaskSource {
  return t.kind === 'glue' ? { kind: 'glue', name: t.name, dataDir: t.dataDir } : { ...t };
}

export const ALGORITHM_CHOICES: ReadonlyArray<{ id: BuiltInAlgorithm; label: string; detail: string }> = [
  {
    id: 'sid',
    label: 'sid — stacked internal distillation',
    detail: "Layers added one at a time, earlier ones kept in the loss, then the classifier (the paper's strongest).",
  },
  {
    id: 'pid',
    label: 'pid — progressive internal distillation',
    detail: 'One mapped layer at a time, bottom up, then the classifier.',
  },
  {
    id: 'internal-all',
    label: 'internal-all',
    detail: 'All internal losses on all mapped layers at once, then the classifier.',
  },
  {
    id: 'soft',
    label: 'soft — standard knowledge distillation',
    detail: "The teacher's soft labels only (no internal losses): the baseline.",
  },
  { id: 'hard+soft', label: 'hard+soft', detail: "Gold labels plus the teacher's soft labels." },
  { id: 'hard', label: 'hard — no teacher', detail: 'Fine-tune the student on gold labels only.' },
];

export const GLUE_CHOICES: ReadonlyArray<{ name: GlueTaskName; dirName: string; detail: string }> = GLUE_TASK_NAMES.map(
  (name) => {
    const t = GLUE_TASKS[name];
    return {
      name,
      dirName: t.dirName,
      detail: `${t.isRegression ? 'regression' : `${t.labels.length} classes`} · ${t.metrics.join(', ')}`,
    };
  },
);

/** A path as written in the config: relative to its folder (with "/"), or absolute when elsewhere. */
export function configRelative(configDir: string, p: string): string {
  const rel = path.relative(configDir, p);
  if (rel === '') return '.';
  if (path.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) return p;
  return rel.split(path.sep).join('/');
}

/** Student depths worth offering for a teacher: half (the paper's 6-of-12), a third, a quarter, … */
export function studentLayerChoices(teacherLayers: number | undefined): number[] {
  if (!teacherLayers || teacherLayers < 2) return [6, 4, 3, 2];
  const out = new Set<number>();
  for (const d of [2, 3, 4, 6]) {
    const n = Math.floor(teacherLayers / d);
    if (n >= 1) out.add(n);
  }
  return [...out].sort((a, b) => b - a);
}

export function suggestName(task: TaskChoice, algorithm: string, studentLayers: number): string {
  const t = task.kind === 'glue' ? task.name : 'custom';
  return `${t}-${algorithm.replace(/\+/g, '-')}-${studentLayers}l`;
}

/** A safe file name for the config: <slug>.distill.json */
export function experimentFileName(name: string): string {
  const slug = name
    .trim()
    .replace(/\.distill\.json$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '');
  return `${slug || 'experiment'}.distill.json`;
}

/** Whether a folder has the GLUE task's train and dev files (what validation will demand). */
export function glueFolderProblem(name: GlueTaskName, dir: string): string | undefined {
  const t = GLUE_TASKS[name];
  const needed = [t.files.train, t.files.dev].filter((f): f is string => !!f);
  const missing = needed.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length === 0) return undefined;
  if (needed.every((f) => fs.existsSync(path.join(dir, t.dirName, f))))
    return `choose the ${t.dirName} folder inside it`;
  return `it has no ${missing.join(' or ')}`;
}

/** Likely places of a GLUE task's folder in a workspace, for the folder dialog's starting point. */
export function guessGlueDataDir(workspaceRoot: string, name: GlueTaskName): string | undefined {
  const dirName = GLUE_TASKS[name].dirName;
  for (const rel of [['data', 'glue', dirName], ['glue', dirName], ['data', dirName], [dirName]]) {
    const p = path.join(workspaceRoot, ...rel);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** The column names of a CSV/TSV file's header row, or [] (JSON lines, unreadable file). */
export function readHeaderColumns(file: string): string[] {
  let first = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      first = buf.subarray(0, n).toString('utf8').split(/\r?\n/)[0] ?? '';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  if (/\.jsonl$|\.ndjson$/i.test(file)) {
    try {
      const x: unknown = JSON.parse(first);
      return x && typeof x === 'object' && !Array.isArray(x) ? Object.keys(x) : [];
    } catch {
      return [];
    }
  }
  const sep = first.includes('\t') || /\.(tsv|tab)$/i.test(file) ? '\t' : ',';
  return first
    .split(sep)
    .map((c) => c.trim().replace(/^"|"$/g, ''))
    .filter(Boolean);
}

export function buildExperimentConfig(a: ExperimentAnswers): Record<string, unknown> {
  const rel = (p: string): string => configRelative(a.configDir, p);
  const maxSeqLen = a.derived?.maxSeqLen ?? FALLBACK_MAX_SEQ_LEN;
  const lr = a.derived?.lr ?? learningRates(teacherPathOf(a.teacher));
  const task: Record<string, unknown> =
    a.task.kind === 'glue'
      ? { name: a.task.name, dataDir: rel(a.task.dataDir), maxSeqLen }
      : {
          name: 'custom',
          maxSeqLen,
          custom: {
            train: rel(a.task.train),
            dev: rel(a.task.dev),
            textA: a.task.textA,
            ...(a.task.textB ? { textB: a.task.textB } : {}),
            label: a.task.label,
          },
        };
  const t = a.teacher;
  const epochs = a.derived?.teacherEpochs ?? (t.kind === 'checkpoint' ? undefined : t.epochs);
  const teacherLr = lr.teacher !== undefined ? { lr: lr.teacher } : {};
  const teacher: Record<string, unknown> =
    t.kind === 'checkpoint'
      ? { checkpoint: rel(t.dir) }
      : t.kind === 'fine-tune'
        ? { train: { from: rel(t.from), epochs, ...teacherLr } }
        : {
            train: {
              from: 'scratch',
              architecture: {
                layers: t.layers,
                hiddenSize: t.hiddenSize,
                heads: t.heads,
                intermediateSize: t.intermediateSize,
              },
              epochs,
              ...teacherLr,
            },
          };
  const teacherLayers = t.kind === 'scratch' ? t.layers : a.teacherLayers;
  const internal = INTERNAL_ALGORITHMS.includes(a.algorithm);
  const config: Record<string, unknown> = {
    name: a.name,
    task,
    teacher,
    student: { layers: a.studentLayers, init: 'teacher-layers' },
    ...(teacherLayers && teacherLayers >= a.studentLayers
      ? { mapping: defaultMapping(a.studentLayers, teacherLayers) }
      : {}),
    algorithm: a.algorithm,
    ...(internal ? { losses: { attentionKl: 1, clsCosine: 1, softLabel: { weight: 1, temperature: 1 } } } : {}),
    ...(a.algorithm === 'sid' || a.algorithm === 'pid'
      ? { stages: { epochsPerLayer: 1, classificationEpochs: 3 } }
      : { stages: { classificationEpochs: 3 } }),
    optim: { lr: lr.student, batchSize: 32, warmup: 0.1, seed: 42 },
    backend: 'auto',
  };
  return config;
}

export function experimentText(a: ExperimentAnswers): string {
  return JSON.stringify(buildExperimentConfig(a), null, 2) + '\n';
}
