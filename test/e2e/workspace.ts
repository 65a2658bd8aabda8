/**
 * The workspace a user would open: a tiny generated teacher checkpoint, a data folder cut from the
 * real SST-2 files, a valid `*.distill.json`, and workspace settings that point the extension at
 * the Node running the tests and the wasm backend (no native TF.js needed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { customSst2Task, writeConfig, writeSmallVocab } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

export interface E2eWorkspace {
  dir: string;
  /** The valid config, `tiny.distill.json`. */
  config: string;
}

/** Student 1 layer ↔ teacher 2; pid: one layer stage and a classification stage. */
export const TEACHER_LAYERS = 2;
/** Wide enough that a step costs tens of milliseconds. */
export const TEACHER_HIDDEN = 128;
export const STUDENT_LAYERS = 1;

export function tinyConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    task: {
      name: 'custom',
      maxSeqLen: 48,
      custom: {
        train: 'data/train.tsv',
        dev: 'data/dev.tsv',
        format: 'tsv',
        textA: 'sentence',
        label: 'label',
        labels: ['0', '1'],
      },
    },
    teacher: { checkpoint: 'teacher' },
    student: { layers: STUDENT_LAYERS },
    mapping: [[1, 2]],
    algorithm: 'pid',
    // 256 steps of ~80 ms (about 20 s on 2 idle cores, more beside code-server and Chromium): long
    // enough that the test's Stop lands mid-run, short enough for CI.
    stages: { epochsPerLayer: 16, classificationEpochs: 16 },
    optim: { lr: 5e-4, batchSize: 8, seed: 3 },
    eval: { everySteps: 16 },
    checkpoint: { everySteps: 32, keep: 2 },
    backend: 'wasm',
    runsDir: 'runs',
    ...extra,
  };
}

export function makeWorkspace(dir: string, o: { nodePath: string; settings?: Record<string, unknown> }): E2eWorkspace {
  fs.mkdirSync(dir, { recursive: true });
  customSst2Task(dir, 64, 16);
  const vocab = writeSmallVocab(path.join(dir, 'vocab.txt'), [
    path.join(dir, 'data', 'train.tsv'),
    path.join(dir, 'data', 'dev.tsv'),
  ]);
  writeTinyCheckpoint(path.join(dir, 'teacher'), {
    vocabFile: vocab,
    layers: TEACHER_LAYERS,
    hidden: TEACHER_HIDDEN,
    heads: 2,
    intermediate: 2 * TEACHER_HIDDEN,
  });
  fs.rmSync(vocab);
  const config = writeConfig(dir, 'tiny', tinyConfig());
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, '.vscode', 'settings.json'),
    JSON.stringify(
      {
        'distillery.nodePath': o.nodePath,
        'distillery.backend': 'wasm',
        ...o.settings,
      },
      null,
      2,
    ),
  );
  return { dir, config };
}

/** A config whose mapping names a teacher layer the 2-layer teacher does not have. */
export function writeBadMappingConfig(dir: string): string {
  return writeConfig(dir, 'bad-mapping', tinyConfig({ name: 'bad-mapping', mapping: [[1, 5]] }));
}

/**
 * A finished run folder in `ws/runs/` from the demo's recorded events (test/fixtures/events), as
 * the trainer wrote them, with its run folder path rewritten; with `config`, also its resolved
 * config.json. Returns the run folder.
 */
export function writeRecordedRun(ws: string, algo: 'soft' | 'pid' | 'sid', config?: Record<string, unknown>): string {
  const lines = fs
    .readFileSync(path.join(__dirname, '..', 'fixtures', 'events', `demo-${algo}.events.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const runId = (JSON.parse(lines[0]) as { runId: string }).runId;
  const runDir = path.join(ws, 'runs', runId);
  fs.mkdirSync(runDir, { recursive: true });
  const events = lines.map((l) => {
    const e = JSON.parse(l) as { runDir?: string };
    if (e.runDir) e.runDir = runDir;
    return JSON.stringify(e);
  });
  fs.writeFileSync(path.join(runDir, 'events.jsonl'), events.join('\n') + '\n');
  fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({ status: 'finished' }));
  if (config) fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2));
  return runDir;
}
