// Every algorithm end to end on real SST-2 text with a tiny random teacher that uses the real
// bert-base-uncased vocabulary: the plan in run-started, stage and step events with the loss terms
// each stage should train, evaluations with per-layer similarity, the best checkpoint and the
// exported student.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRun } from '../../src/train/run';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { PlannedStage, TrainerEvent } from '../../src/protocol/events';
import { BERT_VOCAB } from '../helpers/paths';
import {
  customSst2Task,
  events,
  eventsOf,
  malformedEventLines,
  runInfo,
  SST2_DIR,
  tmpDir,
  writeConfig,
} from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

const quiet = { stop: { requested: null } };
let work: string;

before(() => {
  work = tmpDir('distillery-algos-');
  // Teacher: 4 layers of width 32; student: 2 layers, every-other mapping (1↔2, 2↔4).
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 4, hidden: 32, heads: 2, intermediate: 64, seed: 11 });
  customSst2Task(work, 24, 24);
});

const L1: [number, number] = [1, 2];
const L2: [number, number] = [2, 4];

function baseConfig(algorithm: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task: customSst2Task(work, 24, 24),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    mapping: 'every-other',
    algorithm,
    stages: { classificationEpochs: 1 },
    optim: { lr: 5e-4, batchSize: 8, seed: 5, dropout: 0.1 },
    backend: 'wasm',
    runsDir: 'runs',
    ...extra,
  };
}

type Term = string; // 'attention-kl@1', 'soft-label'

/** Runs a config and checks everything a finished run must have; returns its events. */
async function runAndCheck(
  name: string,
  config: Record<string, unknown>,
  plan: Array<Omit<PlannedStage, 'index'>>,
  termsByStage: Term[][],
  metricNames = ['accuracy', 'f1'],
): Promise<{ runDir: string; ev: TrainerEvent[] }> {
  const file = writeConfig(work, name, config);
  const outcome = await startRun(file, quiet);
  assert.equal(outcome.status, 'finished', `run ${name} did not finish: ${String(outcome.error)}`);
  const runDir = outcome.runDir;
  assert.equal(runInfo(runDir).status, 'finished');
  const ev = events(runDir);
  assert.deepEqual(malformedEventLines(runDir), []);

  const started = eventsOf(ev, 'run-started');
  assert.equal(started.length, 1);
  assert.deepEqual(
    started[0].plan.stages,
    plan.map((s, index) => ({ index, ...s })),
    'the plan in run-started',
  );
  assert.equal(started[0].backend.kind, 'wasm');

  // Stages start and finish in order, each once.
  assert.deepEqual(
    eventsOf(ev, 'stage-started').map((e) => [e.stage, e.name, e.kind]),
    plan.map((s, i) => [i, s.name, s.kind]),
  );
  assert.deepEqual(
    eventsOf(ev, 'stage-finished').map((e) => [e.stage, e.reason]),
    plan.map((_, i) => [i, 'epochs']),
  );

  // Steps: numbered 1..n without gaps, each with exactly its stage's loss terms, all finite.
  const steps = eventsOf(ev, 'step');
  assert.deepEqual(
    steps.map((s) => s.step),
    steps.map((_, i) => i + 1),
  );
  for (const s of steps) {
    const terms = s.terms.map((t) => (t.layer !== undefined ? `${t.name}@${t.layer}` : t.name));
    assert.deepEqual(terms, termsByStage[s.stage], `loss terms of step ${s.step} (stage ${s.stage})`);
    assert.ok(
      s.terms.every((t) => Number.isFinite(t.value)) && Number.isFinite(s.loss),
      `finite losses at step ${s.step}`,
    );
    const weighted = s.terms.reduce((a, t) => a + t.value * t.weight, 0);
    assert.ok(
      Math.abs(weighted - s.loss) <= 1e-4 * Math.max(1, Math.abs(s.loss)),
      `loss ${s.loss} is the weighted sum of its terms (${weighted})`,
    );
  }
  // Every stage ran steps; tensors do not pile up within a stage.
  for (let i = 0; i < plan.length; i++) {
    const own = steps.filter((s) => s.stage === i);
    assert.ok(own.length > 0, `stage ${i} ran steps`);
    assert.equal(
      new Set(own.map((s) => s.liveTensors)).size,
      1,
      `liveTensors constant within stage ${i}: ${own.map((s) => s.liveTensors)}`,
    );
  }

  // Evaluations: one per stage epoch, with task metrics and per-layer similarity for both pairs.
  const evals = eventsOf(ev, 'eval');
  assert.equal(
    evals.length,
    plan.reduce((a, s) => a + s.epochs, 0),
  );
  for (const e of evals) {
    assert.deepEqual(Object.keys(e.metrics).sort(), metricNames);
    assert.equal(e.mainMetric.name, 'accuracy');
    assert.deepEqual(
      e.perLayer.map((l) => [l.student, l.teacher]),
      [L1, L2],
    );
    for (const l of e.perLayer)
      assert.ok(
        Number.isFinite(l.attentionKl) && l.attentionKl >= 0 && Number.isFinite(l.clsCosine),
        JSON.stringify(l),
      );
  }
  // The best: chosen among the classification stages' evaluations, saved, and reported.
  const finished = eventsOf(ev, 'run-finished');
  assert.equal(finished.length, 1);
  const best = finished[0].best;
  assert.ok(best, 'run-finished reports the best evaluation');
  const bestEval = evals.find((e) => e.isBest && e.step === best.step);
  assert.ok(bestEval, 'the best step is an evaluation marked isBest');
  assert.equal(plan[bestEval.stage].kind === 'internal', false, 'the best comes from a classification stage');
  assert.equal(bestEval.mainMetric.value, best.value);
  assert.ok(eventsOf(ev, 'checkpoint').some((c) => c.reason === 'best' && c.step === best.step));
  assert.ok(fs.existsSync(path.join(runDir, 'best', 'model.safetensors')));

  // The exported student: Hugging Face layout, 2 layers, the task head, the real vocabulary.
  const studentDir = path.join(runDir, 'student');
  assert.equal(finished[0].studentDir, studentDir);
  const student = loadCheckpoint(studentDir);
  assert.equal(student.config.numHiddenLayers, 2);
  assert.equal(student.config.hiddenSize, 32);
  assert.equal(student.hasHead, true);
  assert.equal(student.config.numLabels, 2);
  assert.equal(fs.readFileSync(path.join(studentDir, 'vocab.txt'), 'utf8'), fs.readFileSync(BERT_VOCAB, 'utf8'));
  for (const [, t] of student.tensors) assert.ok(t.data.every(Number.isFinite));
  return { runDir, ev };
}

const classification = (losses: PlannedStage['losses'], epochs = 1): Omit<PlannedStage, 'index'> => ({
  name: 'classification',
  kind: 'classification',
  layers: [],
  losses,
  epochs,
});
const internal = (name: string, layers: Array<[number, number]>, epochs = 1): Omit<PlannedStage, 'index'> => ({
  name,
  kind: 'internal',
  layers,
  losses: ['attention-kl', 'cls-cosine'],
  epochs,
});
const internalTerms = (...layers: number[]) => layers.flatMap((k) => [`attention-kl@${k}`, `cls-cosine@${k}`]);

test('hard: one classification stage on gold labels', async () => {
  await runAndCheck('hard', baseConfig('hard'), [classification(['hard-label'])], [['hard-label']]);
});

test("soft: one classification stage on the teacher's soft labels", async () => {
  await runAndCheck(
    'soft',
    baseConfig('soft', { stages: { classificationEpochs: 2 } }),
    [classification(['soft-label'], 2)],
    [['soft-label']],
  );
});

test('hard+soft: gold and soft labels together', async () => {
  await runAndCheck(
    'hard-soft',
    baseConfig('hard+soft'),
    [classification(['soft-label', 'hard-label'])],
    [['soft-label', 'hard-label']],
  );
});

test('internal-all: every mapped layer at once, then classification', async () => {
  await runAndCheck(
    'internal-all',
    baseConfig('internal-all', { stages: { internalAllEpochs: 1, classificationEpochs: 1 } }),
    [internal('all layers', [L1, L2]), classification(['soft-label'])],
    [internalTerms(1, 2), ['soft-label']],
  );
});

test('pid: one layer per stage, bottom-up, then classification (with hard labels when weighted)', async () => {
  await runAndCheck(
    'pid',
    baseConfig('pid', { losses: { hardLabel: 0.5 } }),
    [internal('layer 1', [L1]), internal('layer 2', [L2]), classification(['soft-label', 'hard-label'])],
    [internalTerms(1), internalTerms(2), ['soft-label', 'hard-label']],
  );
});

test('sid on the real SST-2 folder (GLUE task): stacked layers, then classification', async () => {
  const { runDir, ev } = await runAndCheck(
    'sid',
    {
      ...baseConfig('sid'),
      // 40 of SST-2's 67,349 training sentences; the full 872-sentence dev set.
      task: { name: 'SST-2', dataDir: SST2_DIR, maxSeqLen: 64, trainFraction: 40 / 67349 },
      eval: { batchSize: 128 },
    },
    [internal('layer 1', [L1]), internal('layers 1-2', [L1, L2]), classification(['soft-label'])],
    [internalTerms(1), internalTerms(1, 2), ['soft-label']],
    ['accuracy'],
  );
  const started = eventsOf(ev, 'run-started')[0];
  assert.deepEqual(started.dataset, { train: 40, eval: 872 });
  assert.equal(started.config.task.name, 'sst2');
  const sample = eventsOf(ev, 'attention-sample');
  assert.ok(sample.length > 0 && sample[0].tokens[0] === '[CLS]' && sample[0].layers.length === 2);
  assert.ok(fs.existsSync(path.join(runDir, 'student', 'config.json')));
});

test('custom stage list: named stages, chosen layers and losses', async () => {
  await runAndCheck(
    'custom',
    baseConfig('custom', {
      losses: { hardLabel: 1 },
      stages: {
        custom: [
          { name: 'top attention', losses: ['attention-kl'], layers: [2], epochs: 1 },
          { name: 'cls and labels', losses: ['cls-cosine', 'soft-label', 'hard-label'], epochs: 2 },
          { name: 'labels only', losses: ['hard-label'], epochs: 1 },
        ],
      },
    }),
    [
      { name: 'top attention', kind: 'internal', layers: [L2], losses: ['attention-kl'], epochs: 1 },
      {
        name: 'cls and labels',
        kind: 'classification',
        layers: [L1, L2],
        losses: ['cls-cosine', 'soft-label', 'hard-label'],
        epochs: 2,
      },
      { name: 'labels only', kind: 'classification', layers: [], losses: ['hard-label'], epochs: 1 },
    ],
    [['attention-kl@2'], ['cls-cosine@1', 'cls-cosine@2', 'soft-label', 'hard-label'], ['hard-label']],
  );
});
