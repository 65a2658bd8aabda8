// Issue #18: the stage plan alone decides which losses a stage trains and with what weight, and the
// trainer uses exactly that. A weight of 0 turns a loss off everywhere: `softLabel.weight: 0` on
// sid trains the classification stage on gold labels only (it used to train soft labels at weight 1).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../src/validate/validate';
import { resolveMapping } from '../../src/distill/mapping';
import { planFor } from '../../src/distill/plan';
import { startRun } from '../../src/train/run';
import { customSst2Task, events, eventsOf, tmpDir, writeConfig } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

function resolved(extra: Record<string, unknown>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-weights-'));
  fs.mkdirSync(path.join(dir, 'teacher'));
  fs.writeFileSync(
    path.join(dir, 'teacher', 'config.json'),
    JSON.stringify({ model_type: 'bert', num_hidden_layers: 4, num_labels: 2 }),
  );
  const text = JSON.stringify({
    task: { name: 'sst2', dataDir: 'data' },
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    ...extra,
  });
  const { config, problems } = validateConfig(text, path.join(dir, 'run.distill.json'), { checkFiles: false });
  assert.ok(config, JSON.stringify(problems));
  return config;
}

test('planFor: softLabel.weight 0 leaves soft labels out of the classification stage of sid, pid and internal-all', () => {
  for (const algorithm of ['sid', 'pid', 'internal-all']) {
    const config = resolved({ algorithm, losses: { softLabel: { weight: 0 }, hardLabel: 1 } });
    const stages = planFor(config, resolveMapping(config.mapping, 2, 4));
    const last = stages[stages.length - 1];
    assert.equal(last.kind, 'classification');
    assert.deepEqual(last.losses, { hardLabel: 1 }, `${algorithm}: gold labels only, at weight 1`);
  }
});

test('planFor: every stage carries the configured weights of the losses it trains, and only those', () => {
  const config = resolved({
    algorithm: 'sid',
    losses: { attentionKl: 0.25, clsCosine: 0, softLabel: { weight: 0.5, temperature: 2 }, hardLabel: 3 },
  });
  const stages = planFor(config, resolveMapping(config.mapping, 2, 4));
  assert.deepEqual(
    stages.map((s) => s.losses),
    [{ attentionKl: 0.25 }, { attentionKl: 0.25 }, { softLabel: 0.5, hardLabel: 3 }],
  );
  assert.equal(stages[2].temperature, 2);
  // Gold labels are off by default for internal algorithms.
  const plain = resolved({ algorithm: 'pid' });
  const last = planFor(plain, resolveMapping(plain.mapping, 2, 4)).pop();
  assert.deepEqual(last?.losses, { softLabel: 1 });
});

let work: string;
before(() => {
  work = tmpDir('distillery-weights-');
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 4, hidden: 32, heads: 2, intermediate: 64, seed: 11 });
});

test('the trainer trains what the plan says: sid with softLabel.weight 0 steps on hard-label alone, at its own weight', async () => {
  const file = writeConfig(work, 'sid-hard-only', {
    task: customSst2Task(work, 16, 8),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    mapping: 'every-other',
    algorithm: 'sid',
    losses: { softLabel: { weight: 0 }, hardLabel: 0.5, clsCosine: 0 },
    stages: { classificationEpochs: 1 },
    optim: { lr: 5e-4, batchSize: 8, seed: 5 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  const plan = eventsOf(ev, 'run-started')[0].plan.stages;
  assert.deepEqual(
    plan.map((s) => s.losses),
    [['attention-kl'], ['attention-kl'], ['hard-label']],
  );
  const steps = eventsOf(ev, 'step').filter((s) => s.stage === 2);
  assert.ok(steps.length > 0);
  for (const s of steps) {
    assert.deepEqual(
      s.terms.map((t) => [t.name, t.weight]),
      [['hard-label', 0.5]],
    );
    assert.ok(Math.abs(s.loss - 0.5 * s.terms[0].value) < 1e-6);
  }
});

test('classificationEpochs 0 on an internal algorithm trains the internal stages only, and the run still exports', async () => {
  const file = writeConfig(work, 'pid-internal-only', {
    task: customSst2Task(work, 16, 8),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    mapping: 'every-other',
    algorithm: 'pid',
    stages: { classificationEpochs: 0 },
    optim: { lr: 5e-4, batchSize: 8, seed: 5 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  assert.deepEqual(
    eventsOf(ev, 'run-started')[0].plan.stages.map((s) => s.kind),
    ['internal', 'internal'],
  );
  assert.ok(fs.existsSync(path.join(outcome.runDir, 'student', 'model.safetensors')));
});
