// `distillery train --teacher-only`: the run trains its teacher (teacher.train), marks it READY and
// stops without a student; a stopped teacher-only run resumes as one (run.json keeps the mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resumeRun, startRun } from '../../src/train/run';
import { StopSignal } from '../../src/train/loop';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { isUserError } from '../../src/util/errors';
import { subsetIndices } from '../../src/train/task-data';
import {
  customSst2Task,
  events,
  eventsOf,
  runCli,
  runInfo,
  stopWhen,
  tmpDir,
  writeConfig,
} from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

function scratchConfig(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task: { ...customSst2Task(dir, 32, 16), maxSeqLen: 32 },
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 2, hiddenSize: 16, heads: 2, intermediateSize: 32, maxPositions: 32 },
        epochs: 2,
        lr: 1e-3,
        batchSize: 8,
      },
      output: 'teachers/t',
    },
    student: { layers: 1 },
    algorithm: 'pid',
    optim: { seed: 4, batchSize: 8 },
    backend: 'wasm',
    runsDir: 'runs',
    ...extra,
  };
}

test('--teacher-only trains the teacher and no student; a stopped run resumes in the same mode', async () => {
  const dir = tmpDir('distillery-teacher-only-');
  const file = writeConfig(dir, 'teacher', scratchConfig(dir));
  const stop: StopSignal = { requested: null };
  const watcher = stopWhen(stop, (e) => e.type === 'step' && e.step === 3);
  const first = await startRun(file, { stop, stdout: watcher, teacherOnly: true });
  assert.equal(first.status, 'stopped');
  const info = JSON.parse(fs.readFileSync(path.join(first.runDir, 'run.json'), 'utf8')) as { teacherOnly?: boolean };
  assert.equal(info.teacherOnly, true);
  // The plan announced only the teacher stage.
  const started = eventsOf(first.runDir, 'run-started')[0];
  assert.deepEqual(
    started.plan.stages.map((s) => s.kind),
    ['teacher'],
  );

  // Resumed without the flag: run.json keeps the run teacher-only.
  const second = await resumeRun(first.runDir, { stop: { requested: null } });
  assert.equal(second.status, 'finished');
  assert.equal(runInfo(first.runDir).status, 'finished');
  const teacherDir = path.join(dir, 'teachers', 't');
  assert.equal(fs.existsSync(path.join(teacherDir, 'READY')), true);
  assert.equal(loadCheckpoint(teacherDir).hasHead, true);
  const ev = events(first.runDir);
  assert.equal(
    eventsOf(ev, 'stage-started').every((s) => s.kind === 'teacher'),
    true,
  );
  assert.equal(eventsOf(ev, 'step').length, 8, '2 epochs of 4 batches, 3 before the stop and 5 after');
  const done = eventsOf(ev, 'run-finished');
  assert.equal(done.length, 1);
  assert.equal(done[0].studentDir, teacherDir);
  assert.match(done[0].summary, /\(teacher only\): best dev accuracy [\d.]+ at step \d+; teacher in /);
  assert.equal(done[0].best?.metric, 'accuracy');
  for (const absent of ['student', 'best', 'checkpoints'])
    assert.equal(fs.existsSync(path.join(first.runDir, absent)), false, `${absent}/ is not made`);

  // Again from the CLI: the teacher is READY, so the run finishes at once and says so.
  const again = runCli(['train', file, '--teacher-only', '--no-events']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /teacher only\): the teacher was already trained \(READY\); teacher in /);
});

test('--teacher-only with a ready teacher (teacher.checkpoint) is refused with the fix', async () => {
  const dir = tmpDir('distillery-teacher-only-');
  writeTinyCheckpoint(path.join(dir, 'teacher'), { layers: 2 });
  const file = writeConfig(dir, 'ready', { ...scratchConfig(dir), teacher: { checkpoint: 'teacher' } });
  await assert.rejects(startRun(file, { stop: { requested: null }, teacherOnly: true }), (e: unknown) => {
    assert.ok(isUserError(e));
    assert.match(e.message, /--teacher-only trains the teacher, but this config uses a ready one/);
    assert.match(e.fix ?? '', /teacher\.train/);
    return true;
  });
  assert.equal(fs.existsSync(path.join(dir, 'runs')), false, 'no run folder is made');
  const cli = runCli(['train', file, '--teacher-only']);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /--teacher-only/);
});

test("a scratch teacher's vocabulary is built from the training rows the run uses, not the ones trainFraction holds out", async () => {
  const dir = tmpDir('distillery-teacher-vocab-');
  const seed = 4;
  const rows = 24;
  const kept = new Set(subsetIndices(rows, 0.5, seed));
  const lines = Array.from({ length: rows }, (_, i) =>
    kept.has(i)
      ? `keptword the movie ${i % 2 ? 'good' : 'bad'}\t${i % 2}`
      : `heldoutword жжж the movie ${i % 2 ? 'good' : 'bad'}\t${i % 2}`,
  );
  const task = {
    name: 'custom',
    maxSeqLen: 16,
    trainFraction: 0.5,
    custom: {
      train: 'data/train.tsv',
      dev: 'data/dev.tsv',
      format: 'tsv',
      textA: 'sentence',
      label: 'label',
      labels: ['0', '1'],
    },
  };
  const file = writeConfig(dir, 'vocab', scratchConfig(dir, { task, optim: { seed, batchSize: 8 } }));
  // After scratchConfig, which writes SST-2 slices to the same files.
  fs.writeFileSync(path.join(dir, 'data', 'train.tsv'), ['sentence\tlabel', ...lines].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'data', 'dev.tsv'), 'sentence\tlabel\nthe movie good\t1\nthe movie bad\t0\n');
  const stop: StopSignal = { requested: null };
  const outcome = await startRun(file, { stop, stdout: stopWhen(stop, (e) => e.type === 'step'), teacherOnly: true });
  assert.equal(outcome.status, 'stopped', String(outcome.error));
  const vocab = new Set(fs.readFileSync(path.join(outcome.runDir, 'vocab.txt'), 'utf8').split('\n'));
  assert.ok(vocab.has('keptword') && vocab.has('movie'), 'the words of the rows it trains on');
  assert.ok(!vocab.has('heldoutword'), 'no word only the held-out rows have');
  assert.ok(!vocab.has('ж') && !vocab.has('##ж'), 'no character only the held-out rows have');
  assert.equal(eventsOf(outcome.runDir, 'run-started')[0].dataset.train, rows / 2);
});
