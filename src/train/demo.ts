/**
 * `distillery demo`: with no files and no network, generates a task that needs attention
 * (src/data/demo-task.ts), trains a teacher on all of it, then distils students from that same
 * teacher with `soft`, `pid` and `sid`, each with several seeds, and compares them.
 *
 * The students are distilled in the data-scarce setting, where the paper's internal losses matter:
 * they start from random weights and see only DEMO_STUDENT_SENTENCES of the training sentences.
 * With all of them, or initialised from the teacher's layers, every student reaches the teacher's
 * dev accuracy on this task and the comparison shows nothing but attention-KL. The table reports
 * each algorithm's mean and its spread over the seeds, so a difference can be told from seed noise.
 * The configs and run folders stay on disk for the extension to open.
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
  /** The teacher-only run. */
  teacher: RunSummary | undefined;
  /** The students' runs, seed by seed (soft, pid, sid for each). */
  runs: RunSummary[];
  outcomes: RunOutcome[];
  table: string;
}

export const DEMO_ALGORITHMS = ['soft', 'pid', 'sid'] as const;
export type DemoAlgorithm = (typeof DEMO_ALGORITHMS)[number];

/** Training sentences the students are distilled on (the teacher trains on all of them). */
export const DEMO_STUDENT_SENTENCES = 100;

/** Student seeds: each algorithm runs once per seed (init, data subset, order), all from one teacher. */
export function demoSeeds(quick: boolean): number[] {
  return quick ? [1] : [1, 2, 3];
}

export interface DemoConfigs {
  /** Trains the teacher only (`train --teacher-only`), into `teacher/`. */
  teacher: object;
  /** Each algorithm's student config for a seed. */
  student(algorithm: DemoAlgorithm, seed: number): object;
}

export function demoConfigs(quick: boolean): DemoConfigs {
  const base = {
    task: {
      name: 'custom',
      maxSeqLen: 32,
      custom: {
        train: 'data/train.tsv',
        dev: 'data/dev.tsv',
        format: 'tsv',
        textA: 'sentence',
        label: 'label',
        labels: ['0', '1'],
      },
    },
    mapping: 'every-other',
    losses: { attentionKl: 1, clsCosine: 1, softLabel: { weight: 1, temperature: 2 } },
    runsDir: 'runs',
  };
  const teacher = {
    ...base,
    name: 'demo-teacher',
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 4, hiddenSize: 64, heads: 4, intermediateSize: 128, maxPositions: 64 },
        vocab: 'data/vocab.txt',
        // it reaches 1.0 dev accuracy within 2 epochs of the 2000 sentences
        epochs: 3,
        lr: 1e-3,
        batchSize: 32,
      },
      output: 'teacher',
    },
    // (the student fields a config needs; --teacher-only stops before any student)
    student: { layers: 2 },
    algorithm: 'soft',
    optim: { lr: 1e-3, batchSize: 32, warmup: 0.1, seed: 7, dropout: 0 },
  };
  const student = (algorithm: DemoAlgorithm, seed: number): object => ({
    ...base,
    name: `demo-${algorithm}-s${seed}`,
    task: { ...base.task, trainFraction: DEMO_STUDENT_SENTENCES / demoDataSizes(quick).train },
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2, init: 'random' },
    algorithm,
    // few sentences: many short epochs (a pass over 100 sentences is 4 steps)
    stages: { epochsPerLayer: quick ? 6 : 8, classificationEpochs: 20 },
    eval: { everySteps: 8 },
    optim: { lr: 1e-3, batchSize: 32, warmup: 0.1, seed, dropout: 0 },
  });
  return { teacher, student };
}

export function demoDataSizes(quick: boolean): { train: number; dev: number } {
  return quick ? { train: 1000, dev: 200 } : { train: 2000, dev: 400 };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const dir = path.resolve(o.dir);
  fs.mkdirSync(dir, { recursive: true });
  const sizes = demoDataSizes(o.quick);
  const data = path.join(dir, 'data');
  if (!fs.existsSync(path.join(data, 'train.tsv'))) {
    generateDemoTask(data, { trainSize: sizes.train, devSize: sizes.dev, seed: 2020 });
    o.stderr.write(
      `generated the demo task in ${data} (${sizes.train} train / ${sizes.dev} dev sentences): "in 'the X chased the Y', is X a predator?"\n`,
    );
  }
  const configs = demoConfigs(o.quick);
  const outcomes: RunOutcome[] = [];
  const run = async (name: string, config: object, teacherOnly: boolean): Promise<boolean> => {
    const file = path.join(dir, `${name}.distill.json`);
    writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n');
    o.stderr.write(
      `\n== ${name}: distillery train ${path.relative(process.cwd(), file) || file}${teacherOnly ? ' --teacher-only' : ''}\n`,
    );
    const outcome = await startRun(file, {
      stderr: o.stderr,
      interactive: o.interactive,
      stop: o.stop,
      backend: o.backend,
      teacherOnly,
    });
    outcomes.push(outcome);
    return outcome.status === 'finished';
  };
  let ok = await run('teacher', configs.teacher, true);
  const seeds = demoSeeds(o.quick);
  for (const seed of seeds) {
    for (const algo of DEMO_ALGORITHMS) {
      if (ok) ok = await run(seeds.length > 1 ? `${algo}-s${seed}` : algo, configs.student(algo, seed), false);
    }
  }
  const summaries = outcomes.map((r) => summariseRun(r.runDir));
  const teacher = summaries[0];
  const runs = summaries.slice(1);
  return {
    dir,
    teacherDir: path.join(dir, 'teacher'),
    teacher,
    runs,
    outcomes,
    table: comparisonTable(runs, teacher, { students: DEMO_STUDENT_SENTENCES, trainSize: sizes.train }),
  };
}

/** Mean and (sample) standard deviation. */
export function meanAndSpread(xs: readonly number[]): { mean: number; sd: number; min: number; max: number } {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * A Markdown table, one row per algorithm: the best dev metric as mean ± standard deviation over
 * the seeds with every seed's value, the per-layer attention-KL and [CLS] distance (means), steps
 * and time (per run). Below it, whether the difference to soft is beyond the seeds' spread.
 */
export function comparisonTable(
  runs: RunSummary[],
  teacher?: RunSummary,
  data?: { students: number; trainSize: number },
): string {
  const algos = [...new Set(runs.map((r) => r.algorithm ?? '?'))];
  const maxLayers = Math.max(0, ...runs.map((r) => r.lastPerLayer.length));
  const layerCols = Array.from(
    { length: maxLayers },
    (_, i) => `attn-KL L${runs.find((r) => r.lastPerLayer[i])?.lastPerLayer[i].student ?? i + 1}`,
  );
  const seeds = Math.max(0, ...algos.map((a) => runs.filter((r) => r.algorithm === a).length));
  const head = [
    'algorithm',
    seeds > 1 ? `dev metric (mean ± sd, ${seeds} seeds)` : 'dev metric',
    ...(seeds > 1 ? ['per seed'] : []),
    'student params',
    ...layerCols,
    'mean [CLS] cos dist',
    'steps',
    'time',
  ];
  const stats = new Map<string, ReturnType<typeof meanAndSpread>>();
  const rows = algos.map((algo) => {
    const group = runs.filter((r) => (r.algorithm ?? '?') === algo);
    const done = group.filter((r) => r.best);
    const values = done.map((r) => r.best!.value);
    const m = meanAndSpread(values);
    if (values.length) stats.set(algo, m);
    const metric = done[0]?.best?.metric;
    const mean = (f: (r: RunSummary) => number | undefined): number =>
      meanAndSpread(group.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v))).mean;
    const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : '');
    const cos = mean((r) =>
      r.lastPerLayer.length ? r.lastPerLayer.reduce((a, l) => a + l.clsCosine, 0) / r.lastPerLayer.length : undefined,
    );
    const secs = mean((r) => (r.durationMs !== undefined ? r.durationMs / 1000 : undefined));
    return [
      algo,
      values.length === 0
        ? (group[0]?.status ?? '?')
        : seeds > 1
          ? `${metric} ${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}`
          : `${metric} ${m.mean.toFixed(4)}`,
      ...(seeds > 1 ? [values.map((v) => v.toFixed(3)).join(' / ')] : []),
      group[0]?.studentParams?.toLocaleString('en-US') ?? '?',
      ...Array.from({ length: maxLayers }, (_, i) => fmt(mean((r) => r.lastPerLayer[i]?.attentionKl))),
      fmt(cos),
      String(Math.round(mean((r) => r.steps))),
      Number.isFinite(secs) ? `${secs.toFixed(0)}s` : '',
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [line(head), line(head.map(() => '---')), ...rows.map(line)];
  const t = teacher?.teacherMetric;
  if (t)
    out.push(
      '',
      `teacher (${teacher?.teacherParams?.toLocaleString('en-US')} params, all ${data?.trainSize ?? '?'} training sentences): dev ${t.name} ${t.value.toFixed(4)}`,
    );
  if (data)
    out.push(
      `students: 2 layers from random weights, distilled on ${data.students} of the ${data.trainSize} training sentences (the data-scarce setting).`,
    );
  const soft = stats.get('soft');
  if (soft && seeds > 1) {
    for (const [algo, m] of stats) {
      if (algo === 'soft') continue;
      const diff = m.mean - soft.mean;
      // beyond seed noise: the two ranges of seeds do not overlap
      const beyond = diff > 0 ? m.min > soft.max : m.max < soft.min;
      out.push(
        `${algo} − soft: ${diff >= 0 ? '+' : ''}${diff.toFixed(4)} (${beyond ? 'beyond the seed spread: every seed of one is above every seed of the other' : 'within the seed spread: the seeds overlap'})`,
      );
    }
  } else if (seeds === 1) {
    out.push('one seed per algorithm (--quick): differences may be seed noise; the full demo runs 3 seeds.');
  }
  out.push(
    '',
    'attn-KL: dev KL(teacher ‖ student) of the attention maps per mapped student layer (lower = closer to the teacher).',
  );
  return out.join('\n');
}
