// Bad configs, bad data and bad checkpoints: clear errors (file:line:col or file:line, and a fix),
// exit code 2 for user errors, and nothing lost — no half-made run folder for a config that does
// not validate, config.json intact and the last good checkpoint kept when a run fails.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTrainingCheckpoint } from '../../src/train/checkpoint-store';
import {
  customSst2Task,
  events,
  eventsOf,
  malformedEventLines,
  runCli,
  runFolders,
  runInfo,
  tmpDir,
  writeConfig,
} from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

let work: string;

before(() => {
  work = tmpDir('distillery-errors-');
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 4, seed: 3 });
  customSst2Task(work, 24, 16);
});

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task: customSst2Task(work, 24, 16),
    teacher: { checkpoint: path.join(work, 'teacher') },
    student: { layers: 2 },
    mapping: 'every-other',
    algorithm: 'hard',
    stages: { classificationEpochs: 1 },
    optim: { lr: 5e-4, batchSize: 8, seed: 1 },
    backend: 'wasm',
    runsDir: 'runs',
    ...extra,
  };
}

/** The text at a reported file:line:col of a config. */
function textAt(file: string, line: number, col: number): string {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    [line - 1].slice(col - 1);
}

interface BadConfigCase {
  name: string;
  config: Record<string, unknown>;
  message: RegExp;
  /** What the reported position must point at. */
  at: RegExp;
  fix: RegExp;
}

const badConfigs = (): BadConfigCase[] => [
  {
    name: 'mapping-out-of-range',
    config: config({
      mapping: [
        [1, 2],
        [2, 9],
      ],
    }),
    message: /teacher layer 9|9.*(out of range|does not exist)/i,
    at: /^9/,
    fix: /1 (to|and|-|–) ?4|layers? from 1/i,
  },
  {
    name: 'student-deeper',
    config: config({ student: { layers: 6 }, mapping: 'uniform' }),
    message: /6 layers|deeper|more layers/i,
    at: /^6/,
    fix: /4|fewer|at most/i,
  },
  {
    name: 'missing-teacher',
    config: config({ teacher: { checkpoint: 'no-such-teacher' } }),
    message: /not found.*no-such-teacher/,
    at: /^"no-such-teacher"/,
    fix: /check the path/,
  },
  {
    name: 'pytorch-teacher',
    config: config({ teacher: { checkpoint: 'torch-teacher' } }),
    message: /pytorch_model\.bin but no model\.safetensors/,
    at: /^"torch-teacher"/,
    fix: /convert it.*safetensors/,
  },
];

test('validate and train refuse bad configs with file:line:col, a fix and exit code 2, and create no run folder', () => {
  // A teacher folder saved by torch only: config.json, vocab.txt and pytorch_model.bin.
  const torch = path.join(work, 'torch-teacher');
  fs.mkdirSync(torch, { recursive: true });
  for (const f of ['config.json', 'vocab.txt']) fs.copyFileSync(path.join(work, 'teacher', f), path.join(torch, f));
  fs.writeFileSync(path.join(torch, 'pytorch_model.bin'), Buffer.from('PK\u0003\u0004 not really a zip'));

  for (const c of badConfigs()) {
    const file = writeConfig(work, c.name, { ...c.config, runsDir: `runs-${c.name}` });
    const v = runCli(['validate', file]);
    assert.equal(v.code, 2, `${c.name}: validate exit code\n${v.stdout}${v.stderr}`);
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const loc = new RegExp(`${escaped}:(\\d+):(\\d+): (.*)`).exec(v.stdout);
    assert.ok(loc, `${c.name}: validate names file:line:col\n${v.stdout}`);
    assert.match(loc[3], c.message, `${c.name}: message`);
    assert.match(loc[3], /\(fix: .+\)/, `${c.name}: a fix`);
    assert.match(loc[3], c.fix, `${c.name}: the fix says what to do`);
    assert.match(textAt(file, Number(loc[1]), Number(loc[2])), c.at, `${c.name}: the position points at the culprit`);
    assert.match(v.stdout, /1 error/);

    const t = runCli(['train', file, '--backend', 'wasm']);
    assert.equal(t.code, 2, `${c.name}: train exit code\n${t.stderr}`);
    assert.ok(
      t.stderr.includes(`${file}:${loc[1]}:${loc[2]}: `),
      `${c.name}: train reports the same position\n${t.stderr}`,
    );
    assert.match(t.stderr, /fix: /);
    assert.doesNotMatch(t.stderr, /^\s+at /m, 'no stack trace for a user error');
    assert.deepEqual(runFolders(path.join(work, `runs-${c.name}`)), [], `${c.name}: no run folder`);
  }
});

test('a malformed data row fails the run naming file:line; config.json survives; after fixing the file, resume finishes', () => {
  const dir = path.join(work, 'bad-data');
  const task = customSst2Task(dir, 24, 16);
  const train = path.join(dir, 'data', 'train.tsv');
  const good = fs.readFileSync(train, 'utf8');
  const lines = good.split('\n');
  lines[7] = 'a sentence whose label column is missing';
  fs.writeFileSync(train, lines.join('\n'));
  const file = writeConfig(dir, 'bad-data', config({ task }));

  const r = runCli(['train', file, '--backend', 'wasm']);
  assert.equal(r.code, 2, r.stderr);
  const [runDir] = runFolders(path.join(dir, 'runs'));
  const failed = eventsOf(runDir, 'run-failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0].where, `${train}:8`);
  assert.match(failed[0].reason, /expected 2 tab-separated columns/);
  assert.ok(failed[0].fix);
  assert.match(r.stderr, new RegExp(`train\\.tsv:8`));
  assert.equal(runInfo(runDir).status, 'failed');
  // config.json is intact: it still validates, and resolves to what the run started with.
  const v = runCli(['validate', path.join(runDir, 'config.json'), '--json']);
  assert.equal(v.code, 0, v.stdout);
  assert.deepEqual(
    (JSON.parse(v.stdout) as { resolved: unknown }).resolved,
    JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')),
  );

  // A run folder with no weights cannot be exported.
  const ex = runCli(['export', runDir, '--backend', 'wasm']);
  assert.equal(ex.code, 2);
  assert.match(ex.stderr, /no student weights yet/);
  assert.match(ex.stderr, /fix: /);

  fs.writeFileSync(train, good);
  const resumed = runCli(['resume', runDir, '--backend', 'wasm']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(runInfo(runDir).status, 'finished');
  assert.equal(eventsOf(runDir, 'run-finished').length, 1);
});

test('a truncated teacher model.safetensors fails the run with an error naming the file', () => {
  const dir = path.join(work, 'truncated');
  const teacher = path.join(dir, 'teacher');
  writeTinyCheckpoint(teacher, { layers: 4, seed: 3 });
  const weights = path.join(teacher, 'model.safetensors');
  const bytes = fs.readFileSync(weights);
  fs.writeFileSync(weights, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const file = writeConfig(
    dir,
    'truncated',
    config({ task: customSst2Task(dir, 24, 16), teacher: { checkpoint: 'teacher' } }),
  );

  assert.equal(runCli(['validate', file]).code, 0, 'validate does not read tensors');
  const r = runCli(['train', file, '--backend', 'wasm']);
  assert.equal(r.code, 2, r.stderr);
  assert.ok(r.stderr.includes(weights), `the error names ${weights}:\n${r.stderr}`);
  assert.match(r.stderr, /truncat|shorter|ends|too short|bytes/i);
  const [runDir] = runFolders(path.join(dir, 'runs'));
  assert.equal(runInfo(runDir).status, 'failed');
  const failed = eventsOf(runDir, 'run-failed')[0];
  assert.ok(failed.where?.includes('model.safetensors') || failed.reason.includes(weights), JSON.stringify(failed));
});

test('NaN weights in the student make the run fail on a non-finite loss naming the term and layer; the last good checkpoint stays', () => {
  const dir = path.join(work, 'nan');
  // A 2-layer student whose second layer is NaN: stage 1 of pid (layer 1) trains fine, stage 2 cannot.
  writeTinyCheckpoint(path.join(dir, 'nan-student'), {
    layers: 2,
    seed: 4,
    poison: (t) => {
      t.get('bert.encoder.layer.1.attention.self.query.weight')!.data.fill(NaN);
    },
  });
  const file = writeConfig(
    dir,
    'nan',
    config({
      task: customSst2Task(dir, 24, 16),
      student: { layers: 2, init: { checkpoint: 'nan-student' } },
      algorithm: 'pid',
      stages: { epochsPerLayer: 1, classificationEpochs: 1 },
      checkpoint: { everySteps: 2, keep: 2 },
    }),
  );
  const r = runCli(['train', file, '--backend', 'wasm']);
  assert.equal(r.code, 1, r.stderr);
  const [runDir] = runFolders(path.join(dir, 'runs'));
  const ev = events(runDir);
  const failed = eventsOf(ev, 'run-failed');
  assert.equal(failed.length, 1);
  assert.match(failed[0].reason, /attention-kl loss of student layer 2 became non-finite at step 4\b/);
  assert.equal(failed[0].where, 'attention-kl');
  assert.match(r.stderr, /attention-kl loss of student layer 2/);
  assert.equal(runInfo(runDir).status, 'failed');

  // Stage 1 (3 steps) finished with finite losses; the failing step 4 wrote nothing.
  const steps = eventsOf(ev, 'step');
  assert.deepEqual(
    steps.map((s) => s.step),
    [1, 2, 3],
  );
  assert.ok(steps.every((s) => Number.isFinite(s.loss)));
  const last = eventsOf(ev, 'checkpoint')
    .filter((c) => c.reason !== 'best')
    .pop()!;
  assert.equal(last.step, 3);
  assert.equal(failed[0].lastCheckpoint, last.path);
  const ck = loadTrainingCheckpoint(last.path);
  assert.equal(ck.state.position.globalStep, 3);
  assert.ok(
    ck.weights.get('bert.encoder.layer.0.attention.self.query.weight')!.data.every(Number.isFinite),
    'the trained layer is finite',
  );
  // Every event, NaN evaluations included, still reads back for the extension.
  assert.deepEqual(malformedEventLines(runDir), []);
  const nanEval = eventsOf(ev, 'eval').find((e) => e.perLayer.some((l) => Number.isNaN(l.clsCosine)));
  assert.ok(nanEval, 'the dev similarity of the NaN layer travels as NaN');
});
