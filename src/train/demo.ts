/**
 * `distillery demo`: with no files and no network, generates a task that needs attention
 * (src/data/demo-task.ts), trains a teacher on it, distils three students from that same teacher
 * with `soft`, `pid` and `sid`, and compares them. The configs and run folders stay on disk for the
 * extension to open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateDemoTask } from '../data/demo-task';
import { writeFileAtomic } from '../util/atomic-fs';
import { StopSignal } from './loop';
import { startRun, RunOutcome } from './run';
import { RunSummary, summariseRun } from './run-summary';
import { BackendRequest } from '../model/backend';

export interface DemoOptions {
  dir: string;
  /** Smaller data and fewer epochs (for tests and a first look). */
  quick: boolean;
  backend?: BackendRequest;
  stderr: NodeJS.WritableStream;
  interactive: boolean;
  stop: StopSignal;
}

export interface DemoResult {
  dir: string;
  teacherDir: string;
  runs: RunSummary[];
  outcomes: RunOutcome[];
  table: string;
}

export const DEMO_ALGORITHMS = ['soft', 'pid', 'sid'] as const;

export function demoConfigs(quick: boolean): Record<(typeof DEMO_ALGORITHMS)[number], object> {
  const base = {
    task: {
      name: 'custom',
      maxSeqLen: 32,
      custom: { train: 'data/train.tsv', dev: 'data/dev.tsv', format: 'tsv', textA: 'sentence', label: 'label', labels: ['0', '1'] },
    },
    student: { layers: 2, init: 'teacher-layers' },
    mapping: 'every-other',
    losses: { attentionKl: 1, clsCosine: 1, softLabel: { weight: 1, temperature: 2 } },
    stages: { epochsPerLayer: 1, classificationEpochs: quick ? 2 : 3 },
    optim: { lr: 1e-3, batchSize: 32, warmup: 0.1, seed: 7, dropout: 0 },
    runsDir: 'runs',
  };
  const teacher = {
    train: {
      from: 'scratch',
      architecture: { layers: 4, hiddenSize: 64, heads: 4, intermediateSize: 128, maxPositions: 64 },
      vocab: 'data/vocab.txt',
      epochs: quick ? 3 : 4,
      lr: 1e-3,
      batchSize: 32,
    },
    output: 'teacher',
  };
  return {
    soft: { ...base, name: 'demo-soft', teacher, algorithm: 'soft' },
    pid: { ...base, name: 'demo-pid', teacher: { checkpoint: 'teacher' }, algorithm: 'pid' },
    sid: { ...base, name: 'demo-sid', teacher: { checkpoint: 'teacher' }, algorithm: 'sid' },
  };
}

export function demoDataSizes(quick: boolean): { train: number; dev: number } {
  return quick ? { train: 600, dev: 200 } : { train: 2000, dev: 400 };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const dir = path.resolve(o.dir);
  fs.mkdirSync(dir, { recursive: true });
  const sizes = demoDataSizes(o.quick);
  const data = path.join(dir, 'data');
  if (!fs.existsSync(path.join(data, 'train.tsv'))) {
    generateDemoTask(data, { trainSize: sizes.train, devSize: sizes.dev, seed: 2020 });
    o.stderr.write(`generated the demo task in ${data} (${sizes.train} train / ${sizes.dev} dev sentences): "in 'the X chased the Y', is X a predator?"\n`);
  }
  const configs = demoConfigs(o.quick);
  const outcomes: RunOutcome[] = [];
  for (const algo of DEMO_ALGORITHMS) {
    const file = path.join(dir, `${algo}.distill.json`);
    writeFileAtomic(file, JSON.stringify(configs[algo], null, 2) + '\n');
    o.stderr.write(`\n== ${algo}: distillery train ${path.relative(process.cwd(), file) || file}\n`);
    const outcome = await startRun(file, { stderr: o.stderr, interactive: o.interactive, stop: o.stop, backend: o.backend });
    outcomes.push(outcome);
    if (outcome.status !== 'finished') break;
  }
  const runs = outcomes.map((r) => summariseRun(r.runDir));
  return { dir, teacherDir: path.join(dir, 'teacher'), runs, outcomes, table: comparisonTable(runs) };
}

/** A Markdown table: one row per run. */
export function comparisonTable(runs: RunSummary[]): string {
  const teacher = runs.find((r) => r.teacherMetric)?.teacherMetric;
  const maxLayers = Math.max(0, ...runs.map((r) => r.lastPerLayer.length));
  const layerCols = Array.from({ length: maxLayers }, (_, i) => `attn-KL L${runs.find((r) => r.lastPerLayer[i])?.lastPerLayer[i].student ?? i + 1}`);
  const head = ['algorithm', 'dev metric', 'student params', ...layerCols, 'mean [CLS] cos dist', 'steps', 'time'];
  const rows = runs.map((r) => [
    r.algorithm ?? '?',
    r.best ? `${r.best.metric} ${r.best.value.toFixed(4)}` : r.status,
    r.studentParams?.toLocaleString('en-US') ?? '?',
    ...Array.from({ length: maxLayers }, (_, i) => (r.lastPerLayer[i] ? r.lastPerLayer[i].attentionKl.toFixed(4) : '')),
    r.lastPerLayer.length ? (r.lastPerLayer.reduce((a, l) => a + l.clsCosine, 0) / r.lastPerLayer.length).toFixed(4) : '',
    String(r.steps),
    r.durationMs !== undefined ? `${(r.durationMs / 1000).toFixed(0)}s` : '',
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [line(head), line(head.map(() => '---')), ...rows.map(line)];
  if (teacher) out.push('', `teacher (${runs.find((r) => r.teacherParams)?.teacherParams?.toLocaleString('en-US')} params): dev ${teacher.name} ${teacher.value.toFixed(4)}`);
  out.push('', 'attn-KL: dev KL(teacher ‖ student) of the attention maps per mapped student layer (lower = closer to the teacher).');
  return out.join('\n');
}
