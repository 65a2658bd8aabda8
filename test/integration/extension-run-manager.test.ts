import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Launch, RunManager, trainerArgs } from '../../src/extension/run-manager';
import { RunChange } from '../../src/extension/run-store';
import { TrainerProcess, TrainerExit } from '../../src/extension/trainer-process';
import type { TrainerEvent } from '../../src/protocol/events';

const FAKE = path.join(__dirname, '..', 'fixtures', 'fake-trainer.js');

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-ext-'));
}

function writeConfig(dir: string, cfg: Record<string, unknown>): string {
  const file = path.join(dir, `${String(cfg.name ?? 'run')}.distill.json`);
  fs.writeFileSync(file, JSON.stringify({ runsDir: path.join(dir, 'runs'), ...cfg }));
  return file;
}

interface Harness {
  manager: RunManager;
  changes: RunChange[];
  launchChanges: Launch[];
  /** onDidAttach and onDidFinish, as `attach <id>` / `finish <id>`. */
  milestones: string[];
  logs: string[];
}

function harness(graceMs = 2000): Harness {
  const changes: RunChange[] = [];
  const launchChanges: Launch[] = [];
  const milestones: string[] = [];
  const logs: string[] = [];
  const manager = new RunManager({
    cliPath: () => FAKE,
    nodePath: () => process.execPath,
    env: () => process.env,
    graceMs: () => graceMs,
    refreshDelayMs: 5,
  });
  manager.onDidChangeRun((c) => changes.push(c));
  manager.onDidChangeLaunch((l) => launchChanges.push(l));
  manager.onDidLog(({ level, message }) => logs.push(`${level}: ${message}`));
  manager.onDidAttach((l) => milestones.push(`attach ${l.id}`));
  manager.onDidFinish((l) => milestones.push(`finish ${l.id}`));
  return { manager, changes, launchChanges, milestones, logs };
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('trainerArgs: the CLI script, the verb, the target, --events and an optional backend', () => {
  assert.deepEqual(trainerArgs('/x/bin/distillery.js', 'train', 'a.distill.json'), [
    '/x/bin/distillery.js',
    'train',
    'a.distill.json',
    '--events',
  ]);
  assert.deepEqual(trainerArgs('/c.js', 'resume', '/r', 'wasm'), [
    '/c.js',
    'resume',
    '/r',
    '--events',
    '--backend',
    'wasm',
  ]);
});

test('TrainerProcess: events across split chunks, stray lines, unknown types, and a line cut off by death', async () => {
  const dir = tmpDir();
  const events: TrainerEvent[] = [];
  const bad: string[] = [];
  const unknown: string[] = [];
  const stderr: string[] = [];
  const proc = new TrainerProcess(
    {
      nodePath: process.execPath,
      args: [FAKE, 'train', writeConfig(dir, { name: 'crashy', mode: 'crash', steps: 3 })],
      cwd: dir,
    },
    {
      onEvent: (e) => events.push(e),
      onBadLine: (l) => bad.push(l),
      onUnknownEvent: (t) => unknown.push(t),
      onStderr: (l) => stderr.push(l),
    },
  );
  const exit = await proc.exited;
  assert.equal(exit.code, 3);
  assert.equal(exit.signal, null);
  assert.equal(exit.stopRequested, false);
  assert.deepEqual(
    events.map((e) => e.type),
    ['run-started', 'stage-started', 'step', 'step', 'step'],
  );
  // The step written in two chunks arrives whole, once.
  assert.deepEqual(
    events.filter((e) => e.type === 'step').map((e) => (e as { step: number }).step),
    [1, 2, 3],
  );
  assert.deepEqual(unknown, ['gpu-temperature']);
  assert.equal(bad[0], 'some stray output');
  // The last, unterminated fragment is reported as a bad line rather than dropped or parsed.
  assert.equal(bad.length, 2);
  assert.match(bad[1], /^\{"v":1/);
  assert.ok(stderr.some((l) => l.startsWith('run crashy-')));
  assert.equal(proc.running, false);
});

test('TrainerProcess: a missing Node executable is reported as a spawn error, not a hang', async () => {
  const proc = new TrainerProcess({ nodePath: path.join(tmpDir(), 'no-such-node'), args: [], cwd: os.tmpdir() });
  const exit: TrainerExit = await proc.exited;
  assert.match(exit.spawnError ?? '', /not found/);
  assert.equal(exit.code, null);
});

test('RunManager: a finished run is found by its folder, read from events.jsonl, with checkpoints and student', async () => {
  const dir = tmpDir();
  const h = harness();
  const launch = h.manager.start(writeConfig(dir, { name: 'good', mode: 'ok', steps: 4 }), { cwd: dir });
  await launch.process.exited;
  await h.manager.whenIdle();
  assert.ok(launch.runDir?.startsWith(path.join(dir, 'runs', 'good-')));
  assert.equal(launch.exit?.code, 0);
  const state = h.manager.store.state(launch.runDir!);
  assert.ok(state);
  assert.equal(state.status, 'finished');
  assert.equal(state.live, false);
  assert.equal(state.step, 4);
  assert.equal(state.label, 'good');
  assert.deepEqual(state.best, { metric: 'accuracy', value: 0.75, step: 4 });
  assert.equal(state.checkpoints.length, 1);
  assert.equal(state.checkpoints[0].step, 4);
  assert.equal(state.studentDir, path.join(launch.runDir!, 'student'));
  assert.equal(state.stages[0].progress, 'done');
  // Every event exactly once, although each was announced on stdout and read from the file.
  const types = h.manager.store.events(launch.runDir!).map((e) => e.type);
  assert.deepEqual(types, [
    'run-started',
    'stage-started',
    'step',
    'step',
    'step',
    'step',
    'eval',
    'checkpoint',
    'stage-finished',
    'run-finished',
  ]);
  assert.ok(
    h.changes.some((c) => c.state?.status === 'running'),
    'it was seen running first',
  );
  assert.ok(
    h.logs.some((l) => l.includes('stdout: not JSON')),
    'the stray stdout line is logged',
  );
  // The launch found its folder once and ended once, although it changed many times.
  assert.deepEqual(h.milestones, [`attach ${launch.id}`, `finish ${launch.id}`]);
  assert.ok(h.launchChanges.length >= 3 && h.launchChanges.every((l) => l === launch));
  // Disposed, the manager tells nobody anything more.
  const before = h.changes.length;
  h.manager.dispose();
  fs.rmSync(launch.runDir!, { recursive: true });
  assert.equal(h.manager.refreshNow(launch.runDir!)?.removed, true);
  assert.equal(h.changes.length, before);
});

test('RunManager: a crash mid-line leaves run.json saying running; the run shows as stopped (crashed), not running', async () => {
  const dir = tmpDir();
  const h = harness();
  const launch = h.manager.start(writeConfig(dir, { name: 'crash', mode: 'crash' }), { cwd: dir });
  await launch.process.exited;
  await h.manager.whenIdle();
  const runDir = launch.runDir!;
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).status, 'running');
  const state = h.manager.store.state(runDir)!;
  assert.equal(state.status, 'failed');
  assert.match(state.message ?? '', /exited with code 3/);
  assert.equal(h.manager.store.events(runDir).filter((e) => e.type === 'step').length, 3);

  // Another window (a fresh store) only has the folder: the dead pid in run.json means crashed.
  const other = harness();
  other.manager.refreshNow(runDir);
  const seen = other.manager.store.state(runDir)!;
  assert.equal(seen.status, 'stopped');
  assert.equal(seen.crashed, true);
  assert.match(seen.message ?? '', /gone without a final event/);
});

test('RunManager: Stop sends SIGTERM; a trainer that checkpoints and exits is stopped and resumable, then resumes to the end', async () => {
  const dir = tmpDir();
  const h = harness(5000);
  const launch = h.manager.start(writeConfig(dir, { name: 'grace', mode: 'graceful' }), { cwd: dir });
  await waitFor(
    () => !!launch.runDir && h.manager.store.events(launch.runDir).some((e) => e.type === 'step'),
    'the first step',
  );
  assert.equal(h.manager.store.state(launch.runDir!)?.status, 'running');
  assert.equal(h.manager.store.state(launch.runDir!)?.live, true);
  const t0 = Date.now();
  assert.equal(await h.manager.stop(launch.runDir!), 'stopped');
  assert.ok(Date.now() - t0 < 4000, 'no SIGKILL wait for a trainer that obeys SIGTERM');
  await h.manager.whenIdle();
  assert.equal(launch.exit?.code, 143);
  assert.equal(launch.exit?.killed, false);
  const stopped = h.manager.store.state(launch.runDir!)!;
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.crashed, false);
  assert.equal(stopped.resumable, true);

  const again = h.manager.resume(launch.runDir!, { cwd: dir });
  assert.equal(again.runDir, launch.runDir, 'a resume knows its folder from the start');
  await again.process.exited;
  await h.manager.whenIdle();
  const done = h.manager.store.state(launch.runDir!)!;
  assert.equal(done.status, 'finished');
  assert.equal(h.manager.store.events(launch.runDir!).filter((e) => e.type === 'run-started').length, 2);
});

test('RunManager: a trainer that ignores SIGTERM is killed after the grace period', async () => {
  const dir = tmpDir();
  const h = harness(400);
  const launch = h.manager.start(writeConfig(dir, { name: 'hang', mode: 'hang' }), { cwd: dir });
  await waitFor(
    () => !!launch.runDir && h.manager.store.events(launch.runDir).some((e) => e.type === 'step'),
    'the first step',
  );
  const t0 = Date.now();
  await h.manager.stop(launch.runDir!);
  const waited = Date.now() - t0;
  assert.ok(waited >= 350, `waited ${waited} ms before SIGKILL`);
  assert.equal(launch.exit?.signal, 'SIGKILL');
  assert.equal(launch.exit?.killed, true);
  await h.manager.whenIdle();
  const state = h.manager.store.state(launch.runDir!)!;
  assert.equal(state.status, 'stopped');
  assert.match(state.message ?? '', /killed after the grace period/);
  assert.ok(
    h.logs.some((l) => l.includes('ignoring SIGTERM')),
    'stderr goes to the log',
  );
});

test('RunManager: a config error before any run folder exists is kept for the error message', async () => {
  const dir = tmpDir();
  const h = harness();
  const launch = h.manager.start(writeConfig(dir, { name: 'bad', mode: 'invalid' }), { cwd: dir });
  await launch.process.exited;
  assert.equal(launch.exit?.code, 2);
  assert.equal(launch.runDir, undefined);
  assert.ok(launch.stderrTail.some((l) => l.includes("unknown field 'algoritm'")));
  assert.equal(h.manager.pendingLaunches().length, 0);
  assert.equal(fs.existsSync(path.join(dir, 'runs')), false);
});

test('RunManager: a reported failure carries its reason and fix; several runs at once stay apart', async () => {
  const dir = tmpDir();
  const h = harness();
  const a = h.manager.start(writeConfig(dir, { name: 'fails', mode: 'fail' }), { cwd: dir });
  const b = h.manager.start(writeConfig(dir, { name: 'works', mode: 'ok', steps: 2 }), { cwd: dir });
  await Promise.all([a.process.exited, b.process.exited]);
  await h.manager.whenIdle();
  assert.notEqual(a.runDir, b.runDir);
  const failed = a.events.failed;
  assert.deepEqual(failed && { reason: failed.reason, where: failed.where, fix: failed.fix }, {
    reason: 'the loss became NaN at step 3',
    where: undefined,
    fix: 'lower optim.lr',
  });
  assert.equal(b.events.failed, undefined);
  const sa = h.manager.store.state(a.runDir!)!;
  assert.equal(sa.status, 'failed');
  assert.equal(sa.fix, 'lower optim.lr');
  assert.equal(h.manager.store.state(b.runDir!)?.status, 'finished');
  assert.equal(h.manager.store.states().length, 2);
});

test('RunManager: a launch whose Node cannot start is registered and announced before it finishes, once', async () => {
  const dir = tmpDir();
  const milestones: string[] = [];
  const manager = new RunManager({
    cliPath: () => FAKE,
    nodePath: () => path.join(dir, 'no-such-node'),
    env: () => process.env,
    graceMs: () => 100,
  });
  manager.onDidChangeLaunch((l) => milestones.push(`change ${l.exit ? 'exited' : 'live'}`));
  manager.onDidFinish((l) => milestones.push(`finish ${l.id}`));
  const launch = manager.start(writeConfig(dir, { name: 'x', mode: 'ok' }), { cwd: dir });
  assert.deepEqual(manager.allLaunches, [launch]);
  assert.equal(launch.exit, undefined, 'the spawn failure arrives after start() returns');
  const exit = await launch.process.exited;
  assert.match(exit.spawnError ?? '', /not found/);
  assert.equal(launch.exit, exit);
  assert.deepEqual(milestones, ['change live', 'change exited', `finish ${launch.id}`]);
  assert.equal(manager.pendingLaunches().length, 0);
});
