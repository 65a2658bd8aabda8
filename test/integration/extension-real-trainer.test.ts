// The run manager against the real trainer (bin/distillery.js, wasm backend, a tiny teacher):
// start, see it running from its folder, Stop (SIGTERM: checkpoint, then exit), Resume to the end,
// then `export` as a one-shot CLI job. Guards the contract the fake trainer stands in for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { RunManager } from '../../src/extension/run-manager';
import { runCliJob } from '../../src/extension/cli-job';
import { isHostMessage } from '../../src/protocol/webview-messages';
import { toWireAll } from '../../src/extension/wire';
import {
  CLI,
  customSst2Task,
  ensureCliBuilt,
  events,
  tmpDir,
  writeConfig,
  writeSmallVocab,
} from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

async function waitFor(cond: () => boolean, what: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('real trainer: start, stop with a checkpoint, resume to the end, export', { timeout: 240_000 }, async () => {
  ensureCliBuilt();
  const work = tmpDir('distillery-ext-real-');
  const task = customSst2Task(work, 48, 16);
  const vocab = writeSmallVocab(path.join(work, 'vocab.txt'), [
    path.join(work, 'data', 'train.tsv'),
    path.join(work, 'data', 'dev.tsv'),
  ]);
  writeTinyCheckpoint(path.join(work, 'teacher'), {
    vocabFile: vocab,
    layers: 2,
    hidden: 32,
    heads: 2,
    intermediate: 64,
  });
  const configFile = writeConfig(work, 'tiny', {
    name: 'tiny',
    task,
    teacher: { checkpoint: 'teacher' },
    student: { layers: 1 },
    mapping: [[1, 2]],
    algorithm: 'pid',
    stages: { epochsPerLayer: 3, classificationEpochs: 3 },
    optim: { lr: 5e-4, batchSize: 8, seed: 3 },
    backend: 'wasm',
    runsDir: 'runs',
  });

  const logs: string[] = [];
  const manager = new RunManager({
    cliPath: () => CLI,
    nodePath: () => process.execPath,
    env: () => process.env,
    graceMs: () => 60_000,
  });
  manager.onDidLog(({ message }) => logs.push(message));
  const launch = manager.start(configFile, { cwd: work });
  await waitFor(
    () => !!launch.runDir && manager.store.events(launch.runDir).filter((e) => e.type === 'step').length >= 3,
    'three steps',
    120_000,
  );
  const runDir = launch.runDir!;
  assert.equal(path.dirname(runDir), path.join(work, 'runs'));
  const running = manager.store.state(runDir)!;
  assert.equal(running.status, 'running');
  assert.equal(running.live, true);
  assert.equal(running.pid, launch.process.pid, "run.json carries the child's pid");
  assert.equal(running.algorithm, 'pid');
  assert.ok(running.stages.length >= 2);

  assert.equal(await manager.stop(runDir), 'stopped');
  await manager.whenIdle();
  assert.equal(launch.exit?.killed, false, 'the trainer obeyed SIGTERM within the grace period');
  const stopped = manager.store.state(runDir)!;
  assert.equal(
    stopped.status,
    'stopped',
    JSON.stringify({ exit: launch.exit, message: stopped.message, log: logs.slice(-5) }),
  );
  assert.equal(stopped.crashed, false);
  assert.equal(stopped.resumable, true);

  const resumed = manager.resume(runDir, { cwd: work });
  await resumed.process.exited;
  await manager.whenIdle();
  assert.equal(resumed.exit?.code, 0, logs.slice(-10).join('\n'));
  const done = manager.store.state(runDir)!;
  assert.equal(done.status, 'finished');
  assert.ok(done.best, 'the best evaluation');
  assert.ok(
    done.stages.every((s) => s.progress === 'done'),
    JSON.stringify(done.stages),
  );
  // The store read exactly what the trainer wrote, and a dashboard snapshot of it is a valid message.
  assert.deepEqual(manager.store.events(runDir), events(runDir));
  const init = JSON.parse(
    JSON.stringify({
      type: 'init',
      view: 'run',
      runs: [
        {
          runId: done.runId,
          runDir,
          label: done.label,
          status: done.status,
          events: toWireAll(manager.store.events(runDir)),
        },
      ],
    }),
  );
  assert.equal(isHostMessage(init), true);

  const r = await runCliJob({
    nodePath: process.execPath,
    args: [CLI, 'export', runDir, '--out', path.join(work, 'exported'), '--json', '--backend', 'wasm'],
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderrTail.join('\n'));
  const result = JSON.parse(r.stdout) as { dir: string; maxLogitDiff: number };
  assert.equal(result.dir, path.join(work, 'exported'));
  assert.ok(result.maxLogitDiff < 1e-4);
});
