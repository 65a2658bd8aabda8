// The TinyBERT / MiniLM terms and the schedules in real runs (issue #17): a narrower student (so
// hidden-mse and embedding-mse go through the learned fit_dense projection) trains hidden-mse,
// embedding-mse and value-relation next to attention-kl under sid, with scheduled weights and
// temperature. Checks the plan, the step terms and their weights step by step, the temperature in
// step events, the dev measures, the projection in checkpoints and not in the export, the teacher
// cache being bypassed for these terms, and that a stopped run resumes exactly.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { resumeRun, startRun } from '../../src/train/run';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { readSafetensorsFile, toFloat32 } from '../../src/model/safetensors';
import { HIDDEN_PROJECTION_BIAS, HIDDEN_PROJECTION_WEIGHT, listCheckpoints } from '../../src/train/checkpoint-store';
import { TrainerEvent } from '../../src/protocol/events';
import {
  customSst2Task,
  events,
  eventsOf,
  malformedEventLines,
  stepSignature,
  stopWhen,
  tmpDir,
  writeConfig,
} from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

let work: string;
before(() => {
  work = tmpDir('distillery-tinybert-');
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 4, hidden: 32, heads: 2, intermediate: 64, seed: 11 });
});

// 16 examples, batch 8: 2 steps per epoch; internal stages of 2 epochs = 4 steps.
function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task: customSst2Task(work, 16, 8),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2, hiddenSize: 16, heads: 2, intermediateSize: 32, init: 'random' },
    mapping: 'every-other',
    algorithm: 'sid',
    losses: {
      attentionKl: 1,
      clsCosine: 0,
      hiddenMse: 2,
      embeddingMse: 0.5,
      valueRelation: 1,
      softLabel: { weight: 1, temperature: 4 },
      schedules: {
        hiddenMse: { shape: 'linear', to: 0 },
        valueRelation: { shape: 'cosine', from: 0, to: 1 },
        temperature: { shape: 'linear', from: 4, to: 1 },
      },
    },
    stages: { epochsPerLayer: 2, classificationEpochs: 2 },
    optim: { lr: 5e-4, batchSize: 8, seed: 3, dropout: 0.1 },
    checkpoint: { everySteps: 3, keep: 10 },
    backend: 'wasm',
    runsDir: 'runs',
    ...extra,
  };
}

const linear = (from: number, to: number, i: number, n: number) => from + ((to - from) * i) / (n - 1);
const cosine = (from: number, to: number, i: number, n: number) =>
  to + ((from - to) * (1 + Math.cos((Math.PI * i) / (n - 1)))) / 2;

let full: { runDir: string; ev: TrainerEvent[] };

test('sid with hidden-mse, embedding-mse and value-relation: terms, scheduled weights, dev measures, projection', async () => {
  const file = writeConfig(work, 'tinybert', config({ teacherCache: { enabled: true } }));
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  full = { runDir: outcome.runDir, ev };
  assert.deepEqual(malformedEventLines(outcome.runDir), []);
  const plan = eventsOf(ev, 'run-started')[0].plan.stages;
  const internal = ['attention-kl', 'hidden-mse', 'embedding-mse', 'value-relation'];
  assert.deepEqual(
    plan.map((s) => s.losses),
    [internal, internal, ['soft-label']],
  );

  const steps = eventsOf(ev, 'step');
  assert.equal(steps.length, 12);
  for (const s of steps) {
    const i = (s.step - 1) % 4; // the step within its 4-step stage
    const names = s.terms.map((t) => (t.layer !== undefined ? `${t.name}@${t.layer}` : t.name));
    const weights = Object.fromEntries(s.terms.map((t) => [t.name, t.weight]));
    assert.ok(
      s.terms.every((t) => Number.isFinite(t.value) && t.value >= 0),
      `finite, non-negative terms at step ${s.step}`,
    );
    const weighted = s.terms.reduce((a, t) => a + t.value * t.weight, 0);
    assert.ok(Math.abs(weighted - s.loss) <= 1e-4 * Math.max(1, s.loss), `loss is the weighted sum at step ${s.step}`);
    if (s.stage < 2) {
      const layers = s.stage === 0 ? [1] : [1, 2];
      assert.deepEqual(names, [
        'embedding-mse',
        ...layers.flatMap((k) => [`attention-kl@${k}`, `hidden-mse@${k}`, `value-relation@${k}`]),
      ]);
      assert.equal(weights['attention-kl'], 1);
      assert.equal(weights['embedding-mse'], 0.5);
      assert.ok(
        Math.abs(weights['hidden-mse'] - linear(2, 0, i, 4)) < 1e-12,
        `hidden-mse weight at step ${s.step}: ${weights['hidden-mse']}`,
      );
      assert.ok(
        Math.abs(weights['value-relation'] - cosine(0, 1, i, 4)) < 1e-12,
        `value-relation weight at step ${s.step}`,
      );
      assert.equal(s.temperature, undefined);
    } else {
      assert.deepEqual(names, ['soft-label']);
      assert.equal(weights['soft-label'], 1);
      assert.ok(
        Math.abs((s.temperature ?? NaN) - linear(4, 1, i, 4)) < 1e-12,
        `temperature at step ${s.step}: ${s.temperature}`,
      );
    }
  }
  // Dev: hidden-mse and value-relation per pair, embedding-mse once.
  for (const e of eventsOf(ev, 'eval')) {
    assert.ok(e.embeddingMse !== undefined && Number.isFinite(e.embeddingMse));
    for (const l of e.perLayer)
      assert.ok(Number.isFinite(l.hiddenMse) && Number.isFinite(l.valueRelation), JSON.stringify(l));
  }
  // The dashboard's sample: value relations next to the attention maps, per head, rows summing to 1.
  const samples = eventsOf(ev, 'attention-sample');
  assert.ok(samples.length > 0);
  for (const sample of samples) {
    for (const l of sample.layers) {
      const n = sample.tokens.length;
      for (const maps of [l.teacherValueRelations, l.studentValueRelations]) {
        assert.ok(maps, `value relations of layer ${l.student} at step ${sample.step}`);
        assert.deepEqual([maps.length, maps[0].length, maps[0][0].length], [2, n, n]);
        for (const row of maps.flat()) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 2e-3);
      }
      assert.notDeepEqual(l.teacherValueRelations, l.teacherMaps, 'value relations are not the attention maps');
    }
  }
  // The projection (16 → 32) is in every checkpoint and not in the export.
  const cks = listCheckpoints(path.join(outcome.runDir, 'checkpoints'));
  assert.ok(cks.length > 0);
  const st = readSafetensorsFile(path.join(cks[0], 'model.safetensors'));
  assert.deepEqual(st.entries.get(HIDDEN_PROJECTION_WEIGHT)?.shape, [16, 32]);
  assert.deepEqual(st.entries.get(HIDDEN_PROJECTION_BIAS)?.shape, [32]);
  // …and it trains: the first checkpoint's differs from the last's.
  const lastSt = readSafetensorsFile(path.join(cks[cks.length - 1], 'model.safetensors'));
  const w0 = st.entries.get(HIDDEN_PROJECTION_WEIGHT);
  const w1 = lastSt.entries.get(HIDDEN_PROJECTION_WEIGHT);
  assert.ok(w0 && w1 && cks.length > 1);
  assert.notDeepEqual([...toFloat32(w0, cks[0])], [...toFloat32(w1, cks[cks.length - 1])]);
  const student = loadCheckpoint(path.join(outcome.runDir, 'student'));
  assert.equal(student.config.hiddenSize, 16);
  assert.ok(![...student.tensors.keys()].some((k) => k.startsWith('distill.')));
});

test('a run with the new terms stopped mid-stage resumes exactly', async () => {
  assert.ok(full, 'the uninterrupted run ran');
  const file = writeConfig(work, 'tinybert-stop', config({ teacherCache: { enabled: true } }));
  const stop = { requested: null as string | null };
  // Stop inside stage 2 (after step 6), between the periodic checkpoints at 3 and 6.
  const first = await startRun(file, { stop, stdout: stopWhen(stop, (e) => e.type === 'step' && e.step === 5) });
  assert.equal(first.status, 'stopped');
  const resumed = await resumeRun(first.runDir, { stop: { requested: null } });
  assert.equal(resumed.status, 'finished', String(resumed.error));
  const ev = events(first.runDir);
  const last = new Map<number, string>();
  for (const s of eventsOf(ev, 'step'))
    last.set(s.step, stepSignature(s) + ` w=${s.terms.map((t) => t.weight).join(',')} T=${s.temperature}`);
  const want = eventsOf(full.ev, 'step').map(
    (s) => stepSignature(s) + ` w=${s.terms.map((t) => t.weight).join(',')} T=${s.temperature}`,
  );
  assert.deepEqual(
    [...last.keys()].sort((a, b) => a - b).map((k) => last.get(k)),
    want,
  );
});

test('custom stages with their own schedules: the steps of each stage carry its schedule; no value relations without value-relation', async () => {
  const file = writeConfig(
    work,
    'custom-schedules',
    config({
      algorithm: 'custom',
      losses: {
        attentionKl: 1,
        clsCosine: 0,
        hiddenMse: 2,
        softLabel: { weight: 1, temperature: 4 },
        // Run-wide: hidden-mse decays 2 → 0; the second stage grows it 0 → 3 instead.
        schedules: { hiddenMse: { shape: 'linear', to: 0 } },
      },
      stages: {
        custom: [
          { name: 'decay', losses: ['attention-kl', 'hidden-mse'], epochs: 2 },
          {
            name: 'grow',
            losses: ['hidden-mse'],
            epochs: 2,
            schedules: { hiddenMse: { shape: 'linear', from: 0, to: 3 } },
          },
          { name: 'labels', losses: ['soft-label'], epochs: 2, schedules: { temperature: { shape: 'cosine', to: 1 } } },
        ],
      },
      checkpoint: { keep: 2 },
    }),
  );
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  assert.deepEqual(malformedEventLines(outcome.runDir), []);
  assert.deepEqual(
    eventsOf(ev, 'run-started')[0].config.stages.custom?.map((st) => st.schedules),
    [
      undefined,
      { hiddenMse: { shape: 'linear', from: 0, to: 3 } },
      { temperature: { shape: 'cosine', from: 4, to: 1 } },
    ],
  );
  const steps = eventsOf(ev, 'step');
  assert.equal(steps.length, 12);
  const hidden = (stage: number) =>
    steps.filter((s) => s.stage === stage).map((s) => s.terms.find((t) => t.name === 'hidden-mse')?.weight);
  assert.deepEqual(
    hidden(0).map((w) => Math.round((w ?? NaN) * 1e9) / 1e9),
    [0, 1, 2, 3].map((i) => Math.round(linear(2, 0, i, 4) * 1e9) / 1e9),
  );
  assert.deepEqual(
    hidden(1).map((w) => Math.round((w ?? NaN) * 1e9) / 1e9),
    [0, 1, 2, 3].map((i) => Math.round(linear(0, 3, i, 4) * 1e9) / 1e9),
  );
  const temps = steps.filter((s) => s.stage === 2).map((s) => s.temperature ?? NaN);
  temps.forEach((t, i) => assert.ok(Math.abs(t - cosine(4, 1, i, 4)) < 1e-12, `temperature at step ${i}: ${t}`));
  assert.ok(steps.filter((s) => s.stage < 2).every((s) => s.temperature === undefined));
  // The run trains no value-relation: its attention samples carry the attention maps only.
  const samples = eventsOf(ev, 'attention-sample');
  assert.ok(samples.length > 0);
  assert.ok(
    samples.every((e) =>
      e.layers.every((l) => l.teacherValueRelations === undefined && l.studentValueRelations === undefined),
    ),
  );
});
