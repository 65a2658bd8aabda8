// The trainer's bookkeeping: no tensor leaks over a thousand steps, early stopping on a plateau,
// stages that end on their best weights, and `distillery export` (from best/ and, before any
// evaluation, from the newest checkpoint).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRun } from '../../src/train/run';
import { StopSignal } from '../../src/train/loop';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { loadTrainingCheckpoint } from '../../src/train/checkpoint-store';
import {
  customSst2Task,
  events,
  eventsOf,
  malformedEventLines,
  runCli,
  runInfo,
  stopWhen,
  tmpDir,
  writeConfig,
  writeSmallVocab,
} from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

let work: string;

before(() => {
  work = tmpDir('distillery-misc-');
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 4, seed: 21 });
});

function config(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    task: customSst2Task(work, 24, 24),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    mapping: 'every-other',
    optim: { lr: 5e-4, batchSize: 8, seed: 2, dropout: 0.1 },
    backend: 'wasm',
    runsDir: 'runs',
    ...extra,
  };
}

const noStop = (): StopSignal => ({ requested: null });

test('no tensor leaks: the live tensor count is the same at step 10, step 1000 and every step in between', async () => {
  const dir = path.join(work, 'leak');
  const task = { ...customSst2Task(dir, 16, 8), maxSeqLen: 32 };
  const vocab = writeSmallVocab(path.join(dir, 'vocab.txt'), [
    path.join(dir, 'data', 'train.tsv'),
    path.join(dir, 'data', 'dev.tsv'),
  ]);
  writeTinyCheckpoint(path.join(dir, 'teacher'), {
    vocabFile: vocab,
    layers: 2,
    hidden: 16,
    heads: 2,
    intermediate: 32,
    maxPositions: 32,
  });
  // One stage with every loss, a narrower random student (so cls-cosine trains a projection),
  // dropout, evaluations with attention samples, best saves and periodic checkpoints.
  const file = writeConfig(dir, 'leak', {
    task,
    teacher: { checkpoint: 'teacher' },
    student: { layers: 1, hiddenSize: 8, heads: 2, intermediateSize: 16, init: 'random' },
    mapping: [[1, 2]],
    algorithm: 'custom',
    losses: { hardLabel: 1 },
    stages: {
      custom: [{ losses: ['attention-kl', 'cls-cosine', 'soft-label', 'hard-label'], epochs: 250, selectBest: true }],
    },
    optim: { lr: 1e-3, batchSize: 4, seed: 3, dropout: 0.1 },
    eval: { everySteps: 50 },
    checkpoint: { everySteps: 100, keep: 1 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: noStop() });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  const steps = eventsOf(ev, 'step');
  assert.equal(steps.length, 1000);
  assert.ok(steps[0].terms.some((t) => t.name === 'cls-cosine'));
  assert.equal(eventsOf(ev, 'eval').length, 20);
  assert.ok(eventsOf(ev, 'attention-sample').length === 20);
  const at10 = steps[9].liveTensors;
  assert.equal(typeof at10, 'number');
  const differing = steps
    .slice(9)
    .filter((s) => s.liveTensors !== at10)
    .map((s) => `${s.step}: ${s.liveTensors}`);
  assert.deepEqual(differing, [], `live tensors at step 10: ${at10}`);
  assert.equal(steps[999].liveTensors, at10);
});

test('early stopping: a stage that stops improving ends on a plateau after `patience` evaluations', async () => {
  // A learning rate too small to change anything: every evaluation after the first is no better.
  const file = writeConfig(
    work,
    'plateau',
    config({
      algorithm: 'pid',
      losses: { hardLabel: 1 },
      stages: { epochsPerLayer: 5, classificationEpochs: 5, patience: 1 },
      optim: { lr: 1e-12, batchSize: 8, seed: 2, warmup: 0 },
    }),
  );
  const outcome = await startRun(file, { stop: noStop() });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  assert.deepEqual(
    eventsOf(ev, 'stage-finished').map((s) => [s.stage, s.reason]),
    [
      [0, 'plateau'],
      [1, 'plateau'],
      [2, 'plateau'],
    ],
  );
  const evals = eventsOf(ev, 'eval');
  assert.deepEqual(
    evals.map((e) => e.stage),
    [0, 0, 1, 1, 2, 2],
    'two evaluations per stage: the first, then one without improvement',
  );
  assert.deepEqual(
    evals.map((e) => e.epoch),
    [1, 2, 1, 2, 1, 2],
  );
  assert.equal(eventsOf(ev, 'step').length, 3 * 2 * 3, '2 epochs of 3 steps in each of 3 stages');
  // Internal stages report the best of their own dev loss.
  const finished = eventsOf(ev, 'stage-finished');
  const devLoss = (e: (typeof evals)[number], k: number) =>
    e.perLayer.filter((l) => l.student === k).reduce((a, l) => a + l.attentionKl + l.clsCosine, 0);
  assert.ok(Math.abs(finished[0].bestLoss! - devLoss(evals[0], 1)) < 1e-9);
  assert.ok(Math.abs(finished[1].bestLoss! - devLoss(evals[2], 2)) < 1e-9);
  // The best is the first classification evaluation (a tie is not an improvement).
  assert.deepEqual(
    evals.filter((e) => e.isBest).map((e) => e.step),
    [evals[4].step],
  );
  assert.equal(eventsOf(ev, 'run-finished')[0].best?.step, evals[4].step);
});

let selectBestRun: string;

test("a selectBest stage ends on the weights of its best evaluation; the run's best comes from classification stages only", async () => {
  const file = writeConfig(
    work,
    'select-best',
    config({
      algorithm: 'custom',
      losses: { hardLabel: 1 },
      stages: {
        custom: [
          { name: 'labels', losses: ['soft-label', 'hard-label'], epochs: 3, selectBest: true },
          { name: 'attention', losses: ['attention-kl'], epochs: 1 },
        ],
      },
      optim: { lr: 2e-2, batchSize: 8, seed: 2, dropout: 0.1 },
    }),
  );
  const outcome = await startRun(file, { stop: noStop() });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  selectBestRun = outcome.runDir;
  const ev = events(outcome.runDir);
  assert.deepEqual(malformedEventLines(outcome.runDir), []);
  const evals = eventsOf(ev, 'eval');
  const stage0 = evals.filter((e) => e.stage === 0);
  assert.equal(stage0.length, 3);
  const bestValue = Math.max(...stage0.map((e) => e.mainMetric.value));
  const bestStep = stage0.find((e) => e.mainMetric.value === bestValue)!.step;
  const restored = eventsOf(ev, 'log').filter((l) => /best evaluation/.test(l.message));
  assert.equal(restored.length, 1);
  assert.match(restored[0].message, new RegExp(`at step ${bestStep}$`));
  // The stage-end checkpoint holds the best evaluation's weights, which are also best/'s.
  const stageEnd = eventsOf(ev, 'checkpoint').find((c) => c.reason === 'stage-end' && c.step === stage0[2].step)!;
  const ck = loadTrainingCheckpoint(stageEnd.path);
  const best = loadCheckpoint(path.join(outcome.runDir, 'best'));
  for (const name of ['bert.encoder.layer.1.attention.self.query.weight', 'classifier.weight']) {
    assert.deepEqual(ck.weights.get(name)!.data, best.tensors.get(name)!.data, name);
  }
  // The internal stage's evaluations are never the run's best.
  assert.ok(evals.filter((e) => e.stage === 1).every((e) => !e.isBest));
  assert.equal(eventsOf(ev, 'run-finished')[0].best?.step, bestStep);
});

test('export --out --json: the exported student reads back with the same logits', () => {
  assert.ok(selectBestRun, 'needs the run of the previous test');
  const out = path.join(work, 'exported');
  const r = runCli(['export', selectBestRun, '--out', out, '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    dir: string;
    source: string;
    maxLogitDiff: number;
    parameters: number;
    backend: string;
  };
  assert.equal(report.dir, out);
  assert.equal(report.source, path.join(selectBestRun, 'best'));
  assert.ok(report.maxLogitDiff <= 1e-6, `maxLogitDiff ${report.maxLogitDiff}`);
  assert.equal(report.backend, 'wasm');
  const back = loadCheckpoint(out);
  const best = loadCheckpoint(path.join(selectBestRun, 'best'));
  assert.equal(back.config.numHiddenLayers, 2);
  assert.equal(
    report.parameters,
    [...back.tensors.values()].reduce((a, t) => a + t.data.length, 0),
  );
  for (const [name, t] of best.tensors) assert.deepEqual(back.tensors.get(name)?.data, t.data, name);
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json'])
    assert.ok(fs.existsSync(path.join(out, f)), f);
});

test("a run stopped before its first evaluation exports from its checkpoint, with the student's own shape", async () => {
  // A student with more heads than the teacher: the export must not take the teacher's head count.
  const file = writeConfig(
    work,
    'early-stop-export',
    config({
      algorithm: 'soft',
      student: { layers: 2, heads: 4, init: 'random' },
      mapping: 'uniform',
    }),
  );
  const stop: StopSignal = { requested: null };
  // Stop after step 2, as a SIGTERM would.
  const watcher = stopWhen(stop, (e) => e.type === 'step' && e.step === 2);
  const outcome = await startRun(file, { stop, stdout: watcher });
  assert.equal(outcome.status, 'stopped');
  assert.equal(runInfo(outcome.runDir).status, 'stopped');
  const ev = events(outcome.runDir);
  assert.equal(eventsOf(ev, 'step').length, 2);
  assert.deepEqual(
    eventsOf(ev, 'run-stopped').map((e) => e.signal),
    ['SIGTERM'],
  );
  assert.equal(fs.existsSync(path.join(outcome.runDir, 'best')), false);

  const out = path.join(work, 'exported-early');
  const r = runCli(['export', outcome.runDir, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { source: string; maxLogitDiff: number };
  assert.match(report.source, /checkpoints[/\\]step-00000002$/);
  assert.ok(report.maxLogitDiff <= 1e-6);
  const back = loadCheckpoint(out);
  assert.equal(back.config.numAttentionHeads, 4);
  assert.equal(back.config.numHiddenLayers, 2);
  assert.equal(back.config.hiddenDropoutProb, 0.1);
  const ck = loadTrainingCheckpoint(path.join(outcome.runDir, 'checkpoints', 'step-00000002'));
  assert.deepEqual(
    back.tensors.get('bert.encoder.layer.0.attention.self.key.weight')!.data,
    ck.weights.get('bert.encoder.layer.0.attention.self.key.weight')!.data,
  );
});

test('with eval.everySteps, a stage whose last step falls between evaluations is evaluated at its end', async () => {
  const file = writeConfig(
    work,
    'every-steps',
    config({ algorithm: 'hard', stages: { classificationEpochs: 1 }, eval: { everySteps: 2 } }),
  );
  const outcome = await startRun(file, { stop: noStop() });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  assert.equal(eventsOf(ev, 'step').length, 3);
  assert.deepEqual(
    eventsOf(ev, 'eval').map((e) => e.step),
    [2, 3],
  );
});

test('a teacher already trained into a shared output folder is used as is, with no teacher stage in the plan', async () => {
  const shared = path.join(work, 'shared-teacher');
  writeTinyCheckpoint(shared, { layers: 4, seed: 8 });
  fs.writeFileSync(path.join(shared, 'READY'), 'trained by an earlier run\n');
  const file = writeConfig(
    work,
    'shared-teacher',
    config({
      algorithm: 'soft',
      stages: { classificationEpochs: 1 },
      teacher: {
        train: {
          from: 'scratch',
          architecture: { layers: 4, hiddenSize: 32, heads: 2, intermediateSize: 64, maxPositions: 64 },
          epochs: 3,
        },
        output: 'shared-teacher',
      },
    }),
  );
  const outcome = await startRun(file, { stop: noStop() });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  assert.deepEqual(
    eventsOf(ev, 'run-started')[0].plan.stages.map((s) => [s.index, s.kind]),
    [[0, 'classification']],
  );
  assert.deepEqual(
    eventsOf(ev, 'step').map((s) => [s.step, s.stage]),
    [
      [1, 0],
      [2, 0],
      [3, 0],
    ],
  );
  assert.ok(eventsOf(ev, 'log').some((l) => /already trained/.test(l.message)));
  assert.equal(fs.existsSync(path.join(outcome.runDir, 'teacher-checkpoints')), false);
});
