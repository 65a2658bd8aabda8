// teacherCache in a run config (and `train --teacher-cache`): the student's losses equal an
// uncached run's step for step, later epochs are served from the cache, and the run says so.
// Equal, not bit-identical: a cached example's teacher outputs were computed in the batch (and so
// at the padded length) of its first epoch; the matrix kernels round sums of different lengths
// differently in the last bit, so later steps agree to float32 rounding (~1e-7 relative).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRun } from '../../src/train/run';
import { customSst2Task, eventsOf, tmpDir, writeConfig } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

/** Step by step: same steps, stages and terms, every loss value within `rel` relative difference. */
function assertSameLosses(runDir: string, reference: string, rel: number): void {
  const a = eventsOf(runDir, 'step');
  const b = eventsOf(reference, 'step');
  assert.equal(a.length, b.length);
  a.forEach((s, i) => {
    const r = b[i];
    assert.deepEqual(
      [s.step, s.stage, s.terms.map((x) => `${x.name}@${x.layer ?? ''}`)],
      [r.step, r.stage, r.terms.map((x) => `${x.name}@${x.layer ?? ''}`)],
    );
    const pairs: Array<[number, number]> = [
      [s.loss, r.loss],
      ...s.terms.map((x, j): [number, number] => [x.value, r.terms[j].value]),
    ];
    for (const [x, y] of pairs) assert.ok(Math.abs(x - y) <= rel * Math.abs(y), `step ${s.step}: ${x} vs ${y}`);
  });
}

test('a run with teacherCache.enabled has the losses of one without; epochs after the first hit the cache', async () => {
  const dir = tmpDir('distillery-teacher-cache-');
  writeTinyCheckpoint(path.join(dir, 'teacher'), { layers: 4, seed: 5 });
  const base = {
    task: { ...customSst2Task(dir, 24, 8), maxSeqLen: 32 },
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    algorithm: 'custom',
    stages: { custom: [{ losses: ['attention-kl', 'cls-cosine', 'soft-label'], epochs: 3 }] },
    optim: { lr: 5e-4, batchSize: 8, seed: 3, dropout: 0.1 },
    backend: 'wasm',
    runsDir: 'runs',
  };
  const plain = await startRun(writeConfig(dir, 'plain', base), { stop: { requested: null } });
  const cached = await startRun(writeConfig(dir, 'cached', { ...base, teacherCache: { enabled: true } }), {
    stop: { requested: null },
  });
  // The CLI flag turns the cache on for the run and records it in the run's config.json.
  const flagged = await startRun(writeConfig(dir, 'flagged', base), { stop: { requested: null }, teacherCache: true });
  for (const o of [plain, cached, flagged]) assert.equal(o.status, 'finished');

  assert.equal(eventsOf(plain.runDir, 'step').length, 9, '3 epochs of 3 batches');
  // The first epoch computes the teacher exactly as the uncached run does: bit-identical there.
  const firstEpoch = (runDir: string) =>
    eventsOf(runDir, 'step')
      .slice(0, 3)
      .map((s) => [s.loss, ...s.terms.map((x) => x.value)]);
  assert.deepEqual(firstEpoch(cached.runDir), firstEpoch(plain.runDir));
  assertSameLosses(cached.runDir, plain.runDir, 1e-5);
  assertSameLosses(flagged.runDir, plain.runDir, 1e-5);
  const metrics = (runDir: string) => eventsOf(runDir, 'eval').map((e) => e.metrics.accuracy);
  assert.deepEqual(metrics(cached.runDir), metrics(plain.runDir));

  const cacheLog = (runDir: string) =>
    eventsOf(runDir, 'log')
      .map((e) => e.message)
      .filter((m) => m.startsWith('teacher cache:'));
  assert.deepEqual(cacheLog(plain.runDir), []);
  // 24 examples × 3 epochs: the first epoch computes them, the next two are served from the cache.
  assert.match(
    cacheLog(cached.runDir)[0],
    /^teacher cache: 48 of 72 example passes served from the cache \(66\.7 %\), 3 teacher forward passes; 24 examples held in [\d.]+ of 1024\.0 MiB$/,
  );
  const recorded = JSON.parse(fs.readFileSync(path.join(flagged.runDir, 'config.json'), 'utf8')) as {
    teacherCache: { enabled: boolean };
  };
  assert.equal(recorded.teacherCache.enabled, true);
});
