// Exact resume through the CLI: a run that trains its teacher and then distils with pid (dropout
// on, periodic checkpoints) is killed with SIGKILL in the middle of a student stage, or stopped
// with SIGTERM in the middle of teacher training, and resumed with `distillery resume`; every loss
// term after the checkpoint, every evaluation and the exported weights must equal those of the
// same config run without interruption.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainerEvent } from '../../src/protocol/events';
import {
  customSst2Task,
  events,
  eventsOf,
  exited,
  malformedEventLines,
  runCli,
  runFolders,
  runInfo,
  spawnCli,
  stepSignature,
  tmpDir,
  waitFor,
  writeConfig,
} from '../helpers/train-fixtures';

let work: string;
// Teacher training: 2 epochs of 5 steps; pid: 2 internal stages of 10 steps, classification 10.
const TEACHER_STEPS = 10;
const TOTAL_STEPS = 40;

function config(runsDir: string): Record<string, unknown> {
  return {
    task: customSst2Task(work, 40, 24),
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 4, hiddenSize: 32, heads: 2, intermediateSize: 64, maxPositions: 64 },
        epochs: 2,
        lr: 1e-3,
        batchSize: 8,
      },
    },
    student: { layers: 2 },
    mapping: 'every-other',
    algorithm: 'pid',
    stages: { epochsPerLayer: 2, classificationEpochs: 2 },
    optim: { lr: 5e-4, batchSize: 8, seed: 9, dropout: 0.1, warmup: 0.2 },
    checkpoint: { everySteps: 3, keep: 2 },
    backend: 'wasm',
    runsDir,
  };
}

let reference: Promise<{ runDir: string; ev: TrainerEvent[] }>;

before(() => {
  work = tmpDir('distillery-resume-');
  writeConfig(work, 'reference', config('runs-reference'));
  // The uninterrupted run goes on in the background while the interrupted ones run.
  const child = spawnCli(['train', path.join(work, 'reference.distill.json'), '--backend', 'wasm'], { cwd: work });
  reference = exited(child).then((r) => {
    assert.equal(r.code, 0, `reference run failed: ${child.output.stderr}`);
    const runDir = runFolders(path.join(work, 'runs-reference'))[0];
    return { runDir, ev: events(runDir) };
  });
});

/** The events of the last process that wrote to the run (from its run-started on). */
function lastSegment(ev: TrainerEvent[]): TrainerEvent[] {
  const starts = ev.map((e, i) => (e.type === 'run-started' ? i : -1)).filter((i) => i >= 0);
  return ev.slice(starts[starts.length - 1]);
}

function sameAfter(step: number, resumed: TrainerEvent[], ref: TrainerEvent[]): void {
  const steps = (ev: TrainerEvent[]) =>
    eventsOf(ev, 'step')
      .filter((s) => s.step > step)
      .map(stepSignature);
  const got = steps(resumed);
  assert.equal(got.length, TOTAL_STEPS - step, 'the resumed run did every remaining step once');
  assert.deepEqual(got, steps(ref), 'every loss term of every step after the checkpoint');
  const evals = (ev: TrainerEvent[]) =>
    eventsOf(ev, 'eval')
      .filter((e) => e.step > step)
      .map((e) => JSON.stringify([e.step, e.stage, e.metrics, e.perLayer, e.isBest]));
  assert.deepEqual(evals(resumed), evals(ref), 'every evaluation after the checkpoint');
  const finished = (ev: TrainerEvent[]) => eventsOf(ev, 'run-finished')[0]?.best;
  assert.deepEqual(finished(resumed), finished(ref), 'the best evaluation');
}

function sameFile(a: string, b: string): boolean {
  return Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;
}

test('the reference run numbers teacher and student steps on one axis', async () => {
  const { runDir, ev } = await reference;
  assert.equal(runInfo(runDir).status, 'finished');
  const steps = eventsOf(ev, 'step');
  assert.deepEqual(
    steps.map((s) => s.step),
    Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1),
  );
  assert.deepEqual(
    eventsOf(ev, 'run-started')[0].plan.stages.map((s) => [s.index, s.kind, s.name]),
    [
      [0, 'teacher', 'teacher training'],
      [1, 'internal', 'layer 1'],
      [2, 'internal', 'layer 2'],
      [3, 'classification', 'classification'],
    ],
  );
  assert.deepEqual([...new Set(steps.map((s) => s.stage))], [0, 1, 2, 3]);
  assert.ok(steps.filter((s) => s.stage === 0).every((s) => s.terms.length === 1 && s.terms[0].name === 'hard-label'));
  assert.ok(fs.existsSync(path.join(runDir, 'teacher', 'READY')));
});

test('kill -9 in the middle of a student stage, then resume: the same losses, evaluations and weights', async () => {
  const runsDir = path.join(work, 'runs-killed');
  writeConfig(work, 'killed', config('runs-killed'));
  const child = spawnCli(['train', path.join(work, 'killed.distill.json'), '--backend', 'wasm'], { cwd: work });
  // A periodic checkpoint in the middle of the second student stage (global steps 21–30).
  const ck = await waitFor(
    () => {
      const dir = runFolders(runsDir)[0];
      return dir
        ? eventsOf(dir, 'checkpoint').find(
            (c) => c.reason === 'periodic' && c.step > TEACHER_STEPS + 10 && c.step < TEACHER_STEPS + 20,
          )
        : undefined;
    },
    120_000,
    'a periodic checkpoint in the middle of stage 2',
    child,
  );
  child.kill('SIGKILL');
  const killed = await exited(child);
  assert.equal(killed.signal, 'SIGKILL');
  const runDir = runFolders(runsDir)[0];
  assert.equal(runInfo(runDir).status, 'running', 'a killed run cannot say otherwise');
  const before = eventsOf(runDir, 'step');
  assert.ok(before.length < TOTAL_STEPS && eventsOf(runDir, 'run-finished').length === 0, 'killed before the end');

  const resumed = runCli(['resume', runDir, '--backend', 'wasm'], { cwd: work });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(runInfo(runDir).status, 'finished');
  assert.deepEqual(malformedEventLines(runDir), []);
  const ev = events(runDir);
  const last = lastSegment(ev);
  const started = eventsOf(last, 'run-started')[0];
  assert.ok(started.resumedFrom, 'run-started says where it resumed from');
  assert.ok(
    started.resumedFrom.step >= ck.step,
    `resumed from step ${started.resumedFrom.step}, at or after the checkpoint at ${ck.step}`,
  );
  assert.equal(
    eventsOf(last, 'step')[0].step,
    started.resumedFrom.step + 1,
    'the first resumed step follows the checkpoint',
  );
  assert.deepEqual(
    eventsOf(last, 'stage-started').map((s) => s.stage),
    [2, 3],
    'resumes inside stage 2 and does not redo earlier stages',
  );

  const ref = await reference;
  // Steps the killed process finished before the kill match the reference too.
  assert.deepEqual(before.map(stepSignature), eventsOf(ref.ev, 'step').slice(0, before.length).map(stepSignature));
  sameAfter(started.resumedFrom.step, last, ref.ev);
  assert.ok(
    sameFile(path.join(runDir, 'student', 'model.safetensors'), path.join(ref.runDir, 'student', 'model.safetensors')),
    'identical exported weights',
  );
});

test('SIGTERM during teacher training writes a stop checkpoint, exits 143, and resume finishes the run exactly', async () => {
  const runsDir = path.join(work, 'runs-stopped');
  writeConfig(work, 'stopped', config('runs-stopped'));
  const child = spawnCli(['train', path.join(work, 'stopped.distill.json'), '--backend', 'wasm'], { cwd: work });
  await waitFor(
    () => {
      const dir = runFolders(runsDir)[0];
      return dir && eventsOf(dir, 'step').some((s) => s.step === 3) ? true : undefined;
    },
    120_000,
    'step 3 of teacher training',
    child,
  );
  child.kill('SIGTERM');
  const r = await exited(child);
  assert.equal(r.code, 143, child.output.stderr);
  const runDir = runFolders(runsDir)[0];
  assert.equal(runInfo(runDir).status, 'stopped');
  const ev = events(runDir);
  const stop = eventsOf(ev, 'checkpoint').filter((c) => c.reason === 'stop');
  assert.equal(stop.length, 1);
  assert.ok(stop[0].step < TEACHER_STEPS, `stopped inside teacher training (step ${stop[0].step})`);
  assert.ok(stop[0].path.includes(`${path.sep}teacher-checkpoints${path.sep}`));
  const stopped = eventsOf(ev, 'run-stopped');
  assert.equal(stopped.length, 1);
  assert.equal(stopped[0].signal, 'SIGTERM');
  assert.equal(stopped[0].checkpoint, stop[0].path);
  assert.equal(eventsOf(ev, 'step').length, stop[0].step, 'no step after the stop checkpoint');
  assert.match(child.output.stderr, /distillery resume/);

  // As if the process had died in the middle of writing an event.
  fs.appendFileSync(path.join(runDir, 'events.jsonl'), '{"v":1,"time":"2026-01-01T00:00:00.000Z","type":"step","st');
  const resumed = runCli(['resume', runDir, '--backend', 'wasm'], { cwd: work });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(runInfo(runDir).status, 'finished');
  assert.equal(
    malformedEventLines(runDir).length,
    1,
    'only the torn line is lost; the resumed run starts on a line of its own',
  );
  const last = lastSegment(events(runDir));
  assert.equal(eventsOf(last, 'run-started')[0].resumedFrom?.step, stop[0].step);
  const ref = await reference;
  sameAfter(stop[0].step, last, ref.ev);
  assert.ok(
    sameFile(path.join(runDir, 'teacher', 'model.safetensors'), path.join(ref.runDir, 'teacher', 'model.safetensors')),
    'identical teacher',
  );
  assert.ok(
    sameFile(path.join(runDir, 'student', 'model.safetensors'), path.join(ref.runDir, 'student', 'model.safetensors')),
    'identical student',
  );

  // A finished run cannot be resumed again.
  const again = runCli(['resume', runDir], { cwd: work });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already finished/);
});
