// The trainer's wasm heap check at the start of each phase (src/train/heap-check.ts): a batch the
// 4 GiB heap cannot hold fails the run before its first step, with a UserError naming the setting
// and the largest batch that fits; a normal run still trains. The full runs below use shapes that
// really exceed the heap's estimate, and fail before anything that size is allocated.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/model/backend';
import { BertModel } from '../../src/model/bert';
import {
  estimateEvalMemory,
  estimateStepMemory,
  largestFittingBatch,
  largestFittingEvalBatch,
} from '../../src/model/fast-kernels/heap-budget';
import { assertPhaseFitsWasmHeap, phaseMemoryPlan } from '../../src/train/heap-check';
import { TaskData } from '../../src/train/task-data';
import { startRun } from '../../src/train/run';
import { StopSignal } from '../../src/train/loop';
import { UserError, isUserError } from '../../src/util/errors';
import { events, eventsOf, tmpDir, writeConfig } from '../helpers/train-fixtures';
import { writeTinyCheckpoint, tinyBertConfig } from '../helpers/tiny-checkpoint';

before(async () => {
  await initBackend('wasm');
});

const noStop = (): StopSignal => ({ requested: null });

function encodings(rows: number, len: number): TaskData['train'] {
  const enc = { tokens: [], inputIds: new Array<number>(len).fill(5), tokenTypeIds: new Array<number>(len).fill(0) };
  return {
    encodings: Array.from({ length: rows }, () => enc),
    labels: new Array<number>(rows).fill(0),
  } as unknown as TaskData['train'];
}

function refusal(f: () => void): UserError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(isUserError(err), `expected a UserError, got ${String(err)}`);
  return err;
}

test("with a stand-in heap limit: the largest training and evaluation batches are checked, naming the phase's setting and the largest batch that fits", () => {
  const teacher = BertModel.randomInit({ ...tinyBertConfig({ layers: 4 }), vocabSize: 200 }, 1);
  const student = BertModel.randomInit({ ...tinyBertConfig({ layers: 2 }), vocabSize: 200 }, 2);
  const size = (m: BertModel) => ({ config: m.config, params: m.parameterCounts().total });
  try {
    const setup = {
      phase: 'student' as const,
      model: student,
      teacher,
      batchSize: 32,
      evalBatchSize: 64,
      data: { train: encodings(100, 40), dev: encodings(50, 60) } as TaskData,
    };
    const plan = phaseMemoryPlan(setup);
    // A full batch padded to the longest example; evaluation at most as many rows as dev has.
    assert.deepEqual(
      [plan.train, plan.eval],
      [
        { batch: 32, seq: 40 },
        { batch: 50, seq: 60 },
      ],
    );
    // A heap on which 5 training rows of 40 tokens fit and 6 do not.
    const limit = Math.ceil(estimateStepMemory(size(teacher), size(student), 5, 40).totalBytes / 0.9) + 1;
    assert.equal(largestFittingBatch(size(teacher), size(student), 40, undefined, limit), 5);
    const err = refusal(() => assertPhaseFitsWasmHeap(plan, { backend: 'wasm', limitBytes: limit }));
    assert.equal(err.where, 'optim.batchSize');
    assert.match(
      err.message,
      /a training step of 32 sequences × 40 tokens needs about \d+ MiB, more than the wasm backend's \d+ MiB usable heap/,
    );
    assert.equal(err.fix, 'set optim.batchSize to at most 5 (at 40 tokens), or lower task.maxSeqLen');
    assert.doesNotThrow(() =>
      assertPhaseFitsWasmHeap(
        { ...plan, train: { batch: 5, seq: 40 }, eval: null },
        { backend: 'wasm', limitBytes: limit },
      ),
    );
    // Other backends have no fixed heap.
    assert.doesNotThrow(() => assertPhaseFitsWasmHeap(plan, { backend: 'cpu', limitBytes: limit }));

    // The evaluation batch: forward passes only, so more rows fit than in training.
    const evalLimit = Math.ceil(estimateEvalMemory(size(teacher), size(student), 7, 60).totalBytes / 0.9) + 1;
    const evalFit = largestFittingEvalBatch(size(teacher), size(student), 60, undefined, evalLimit);
    assert.equal(evalFit, 7);
    const small = { ...plan, train: { batch: 1, seq: 40 } };
    const evalErr = refusal(() => assertPhaseFitsWasmHeap(small, { backend: 'wasm', limitBytes: evalLimit }));
    assert.equal(evalErr.where, 'eval.batchSize');
    assert.match(evalErr.message, /an evaluation batch of 50 sequences × 60 tokens/);
    assert.equal(evalErr.fix, 'set eval.batchSize to at most 7 (at 60 tokens), or lower task.maxSeqLen');

    // Teacher training names its own batch size.
    const teacherPlan = phaseMemoryPlan({ ...setup, phase: 'teacher', model: teacher, teacher: undefined });
    assert.equal(teacherPlan.teacher, null);
    const tErr = refusal(() => assertPhaseFitsWasmHeap(teacherPlan, { backend: 'wasm', limitBytes: 64 * 2 ** 20 }));
    assert.equal(tErr.where, 'teacher.train.batchSize');
    assert.match(
      tErr.fix ?? '',
      /^set teacher\.train\.batchSize to at most \d+ \(at 40 tokens\), or lower task\.maxSeqLen$/,
    );
    assert.equal(
      refusal(() => assertPhaseFitsWasmHeap(teacherPlan, { backend: 'wasm', limitBytes: 2 ** 16 })).where,
      'teacher.train',
    );

    // A heap the weights and moments alone overflow: no batch size helps.
    const none = refusal(() => assertPhaseFitsWasmHeap(plan, { backend: 'wasm', limitBytes: 2 ** 16 }));
    assert.equal(none.where, 'student');
    assert.match(none.message, /at any batch size/);
  } finally {
    teacher.dispose();
    student.dispose();
  }
});

// ---- full runs: the real 4 GiB limit, shapes beyond it --------------------------------------

const LONG = Array.from({ length: 60 }, () => 'the film is a charming and often affecting journey').join(' ');
const SHORT = 'a charming film';

function writeTsv(file: string, rows: number, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    ['sentence\tlabel', ...Array.from({ length: rows }, (_, i) => `${text}\t${i % 2}`)].join('\n') + '\n',
  );
}

function longTask(
  dir: string,
  train: { rows: number; long: boolean },
  dev: { rows: number; long: boolean },
): Record<string, unknown> {
  writeTsv(path.join(dir, 'data', 'train.tsv'), train.rows, train.long ? LONG : SHORT);
  writeTsv(path.join(dir, 'data', 'dev.tsv'), dev.rows, dev.long ? LONG : SHORT);
  return {
    name: 'custom',
    maxSeqLen: 512,
    custom: {
      train: 'data/train.tsv',
      dev: 'data/dev.tsv',
      format: 'tsv',
      textA: 'sentence',
      label: 'label',
      labels: ['0', '1'],
    },
  };
}

async function refusedRun(
  dir: string,
  config: Record<string, unknown>,
): Promise<{ failed: ReturnType<typeof eventsOf<'run-failed'>>[number]; steps: number; ms: number }> {
  const file = writeConfig(dir, 'too-big', { algorithm: 'pid', backend: 'wasm', runsDir: 'runs', ...config });
  const t0 = Date.now();
  const outcome = await startRun(file, { stop: noStop() });
  const ms = Date.now() - t0;
  assert.equal(outcome.status, 'failed');
  assert.ok(isUserError(outcome.error), `a UserError, got ${String(outcome.error)}`);
  const ev = events(outcome.runDir);
  return { failed: eventsOf(ev, 'run-failed')[0], steps: eventsOf(ev, 'step').length, ms };
}

test(
  'a student batch the wasm heap cannot hold fails the run before its first step, naming optim.batchSize',
  { timeout: 120_000 },
  async () => {
    const dir = tmpDir('distillery-heap-train-');
    writeTinyCheckpoint(path.join(dir, 'teacher'), { layers: 4, maxPositions: 512 });
    // 96 rows × 512 tokens: ~6 GiB of student activations by the estimate.
    const r = await refusedRun(dir, {
      task: longTask(dir, { rows: 96, long: true }, { rows: 4, long: false }),
      teacher: { checkpoint: 'teacher' },
      student: { layers: 2 },
      mapping: 'every-other',
      optim: { batchSize: 96, seed: 1 },
    });
    assert.equal(r.steps, 0);
    assert.equal(r.failed.where, 'optim.batchSize');
    assert.match(
      r.failed.reason,
      /a training step of 96 sequences × 512 tokens needs about [\d.]+ GiB, more than the wasm backend's 3\.6 GiB usable heap/,
    );
    assert.match(
      r.failed.fix ?? '',
      /^set optim\.batchSize to at most \d+ \(at 512 tokens\), or lower task\.maxSeqLen$/,
    );
    const fit = Number(/at most (\d+)/.exec(r.failed.fix ?? '')![1]);
    assert.ok(fit >= 1 && fit < 96, `largest batch ${fit}`);
  },
);

test(
  'an evaluation batch too big fails at the start too, not at the first evaluation, naming eval.batchSize',
  { timeout: 120_000 },
  async () => {
    const dir = tmpDir('distillery-heap-eval-');
    writeTinyCheckpoint(path.join(dir, 'teacher'), { layers: 4, maxPositions: 512 });
    // Training batches are small and short; evaluation takes 160 dev rows × 512 tokens at once.
    const r = await refusedRun(dir, {
      task: longTask(dir, { rows: 8, long: false }, { rows: 160, long: true }),
      teacher: { checkpoint: 'teacher' },
      student: { layers: 2 },
      mapping: 'every-other',
      optim: { batchSize: 4, seed: 1 },
      eval: { batchSize: 160 },
    });
    assert.equal(r.steps, 0, 'no training step ran before the refusal');
    assert.equal(r.failed.where, 'eval.batchSize');
    assert.match(
      r.failed.fix ?? '',
      /^set eval\.batchSize to at most \d+ \(at 512 tokens\), or lower task\.maxSeqLen$/,
    );
  },
);

test(
  'teacher training checks its own batch before its first step, naming teacher.train.batchSize',
  { timeout: 120_000 },
  async () => {
    const dir = tmpDir('distillery-heap-teacher-');
    const r = await refusedRun(dir, {
      task: longTask(dir, { rows: 96, long: true }, { rows: 4, long: false }),
      teacher: {
        train: {
          from: 'scratch',
          architecture: { layers: 2, hiddenSize: 32, heads: 2, intermediateSize: 64, maxPositions: 512 },
          epochs: 1,
          lr: 1e-3,
          batchSize: 96,
        },
        output: 'teachers/t',
      },
      student: { layers: 1 },
      optim: { batchSize: 8, seed: 1 },
    });
    assert.equal(r.steps, 0);
    assert.equal(r.failed.where, 'teacher.train.batchSize');
    assert.match(
      r.failed.fix ?? '',
      /^set teacher\.train\.batchSize to at most \d+ \(at 512 tokens\), or lower task\.maxSeqLen$/,
    );
  },
);

test('a run whose batches fit trains as before', { timeout: 120_000 }, async () => {
  const dir = tmpDir('distillery-heap-ok-');
  writeTinyCheckpoint(path.join(dir, 'teacher'), { layers: 2, maxPositions: 64 });
  const file = writeConfig(dir, 'fits', {
    task: { ...longTask(dir, { rows: 16, long: false }, { rows: 8, long: false }), maxSeqLen: 32 },
    teacher: { checkpoint: 'teacher' },
    student: { layers: 1 },
    mapping: [[1, 2]],
    algorithm: 'custom',
    stages: { custom: [{ losses: ['attention-kl', 'soft-label', 'hard-label'], epochs: 2 }] },
    losses: { hardLabel: 1 },
    optim: { batchSize: 4, seed: 1 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: noStop() });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const ev = events(outcome.runDir);
  assert.equal(eventsOf(ev, 'step').length, 8);
  assert.ok(eventsOf(ev, 'eval').length >= 1);
});
