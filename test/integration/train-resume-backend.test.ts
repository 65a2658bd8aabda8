// Resuming on another backend (or other matrix kernels) still trains, but cannot replay the
// uninterrupted run bit for bit: the run says so in a warning that names how to resume exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { resumeMismatch, resumeRun, startRun } from '../../src/train/run';
import type { RunStartedEvent } from '../../src/protocol/events';
import { StopSignal } from '../../src/train/loop';
import { customSst2Task, eventsOf, stopWhen, tmpDir, writeConfig } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

const started = (kind: string, kernels?: string): Pick<RunStartedEvent, 'backend'> => ({
  backend: { kind, skipped: [], ...(kernels ? { kernels } : {}) },
});

test('resumeMismatch: same backend and kernels is silent; a change names both and the exact way back', () => {
  assert.equal(resumeMismatch(started('wasm', 'blas'), 'wasm', 'blas'), undefined);
  // Runs written before the kernels were recorded: only the backend can be compared.
  assert.equal(resumeMismatch(started('wasm'), 'wasm', 'untransposed'), undefined);
  const kernels = resumeMismatch(started('wasm', 'blas'), 'wasm', 'untransposed');
  assert.match(kernels ?? '', /started on wasm with blas kernels and resumes on wasm with untransposed kernels/);
  assert.match(kernels ?? '', /resume with --backend wasm and DISTILLERY_KERNELS=blas for an exact continuation/);
  const backend = resumeMismatch(started('tensorflow-gpu', 'stock'), 'cpu', 'untransposed');
  assert.match(backend ?? '', /started on tensorflow-gpu with stock kernels and resumes on cpu/);
});

test('a run stopped on wasm and resumed on cpu warns once, then finishes', async () => {
  const dir = tmpDir('distillery-resume-backend-');
  writeTinyCheckpoint(path.join(dir, 'teacher'), { layers: 2, seed: 8 });
  const file = writeConfig(dir, 'switch', {
    task: { ...customSst2Task(dir, 16, 8), maxSeqLen: 32 },
    teacher: { checkpoint: 'teacher' },
    student: { layers: 1 },
    algorithm: 'soft',
    stages: { classificationEpochs: 2 },
    optim: { batchSize: 8, seed: 1 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const stop: StopSignal = { requested: null };
  const watcher = stopWhen(stop, (e) => e.type === 'step');
  const first = await startRun(file, { stop, stdout: watcher });
  assert.equal(first.status, 'stopped');
  const [start] = eventsOf(first.runDir, 'run-started');
  assert.equal(start.backend.kind, 'wasm');
  assert.ok(
    ['blas', 'untransposed', 'stock'].includes(start.backend.kernels ?? ''),
    `kernels recorded: ${start.backend.kernels}`,
  );

  const second = await resumeRun(first.runDir, { stop: { requested: null }, backend: 'cpu' });
  assert.equal(second.status, 'finished');
  const warnings = eventsOf(first.runDir, 'warning').filter((w) => w.code === 'resume-backend');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /started on wasm with \w+ kernels and resumes on cpu with \w+ kernels/);
  assert.equal(eventsOf(first.runDir, 'run-started')[1].backend.kind, 'cpu');
});
