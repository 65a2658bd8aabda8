/**
 * `sweep --emit slurm` on a real Slurm cluster (the single node of scripts/setup-slurm.sh; .ci/run
 * starts it). A tiny grid — a shared scratch teacher and 4 cells of 1-layer students — is emitted,
 * then submitted with the emitted slurm/submit.sh:
 *   - the teacher array runs first; the cells array waits on it (afterok) and then runs 2 at once;
 *   - one running cell (pid) is requeued with `scontrol requeue`, as a preemption would: its
 *     trainer checkpoints on SIGTERM, the task goes back to PENDING, and the new attempt resumes
 *     the same run folder and ends with exactly the losses of its uninterrupted twin (the same
 *     config but for checkpoint.everySteps);
 *   - one cell starts its student from a truncated checkpoint (validation reads only headers, so
 *     it accepts it): its task FAILS with the trainer's message in the task's log, the others
 *     finish, and `report` lists it as failed;
 *   - the states squeue and scontrol report are those docs/sweeps.md describes;
 *   - submitting again skips the finished cells and leaves the failed one alone;
 *   - a teacher that fails leaves its cells PENDING (DependencyNeverSatisfied), none of them run.
 * Without a cluster the tests skip, naming the reason; with CI=true a missing cluster fails them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { generateDemoTask } from '../../src/data/demo-task';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import { readManifest } from '../../src/sweep/sweep-folder';
import { applySqueue, readSweepView, squeueArgs } from '../../src/extension/sweep-groups';
import { groupedRunNodes } from '../../src/extension/sweep-tree';
import { RunStore } from '../../src/extension/run-store';
import { buildReport } from '../../src/sweep/report';
import { main } from '../../src/cli/main';
import type { TrainerEvent } from '../../src/protocol/events';
import { CLI, ensureCliBuilt, events, eventsOf, tmpDir } from '../helpers/train-fixtures';
import { REPO_ROOT } from '../helpers/paths';

// ---- the cluster -------------------------------------------------------------------------------

const SETUP_CONF = path.join(REPO_ROOT, '.cache', 'slurm', 'slurm.conf');
const SLURM_CONF = process.env.SLURM_CONF ?? (fs.existsSync(SETUP_CONF) ? SETUP_CONF : undefined);
// The node:test context variable would make a node child think it is a test file.
const { NODE_TEST_CONTEXT: _ignored, ...inherited } = process.env;
const ENV: NodeJS.ProcessEnv = { ...inherited, ...(SLURM_CONF ? { SLURM_CONF } : {}) };

function sh(cmd: string, args: string[], timeout = 30_000): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { env: ENV, encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** Why there is no usable cluster here, or undefined when there is one. */
function clusterProblem(): string | undefined {
  const which = sh('sh', ['-c', 'command -v sbatch squeue scontrol']);
  if (which.code !== 0) return 'the Slurm commands (sbatch, squeue, scontrol) are not installed';
  const info = sh('sinfo', ['-h', '-N', '-o', '%t'], 10_000);
  if (info.code !== 0)
    return `sinfo does not reach a controller (${(info.err.trim().split('\n').pop() ?? '').slice(0, 160)})`;
  if (!/^(idle|mix|alloc)/.test(info.out.trim())) return `the node is not usable (state "${info.out.trim()}")`;
  return undefined;
}

const problem = clusterProblem();
const IN_CI = process.env.CI === 'true';
const skip =
  problem && !IN_CI
    ? `no Slurm cluster: ${problem}; start one with \`bash scripts/setup-slurm.sh start\` (with CI=true this is a failure)`
    : false;

function requireCluster(): void {
  if (problem) assert.fail(`CI=true needs the Slurm cluster of scripts/setup-slurm.sh: ${problem}`);
}

/** `squeue -t all` for the given jobs: task id ("7_1") → state and reason. */
function queue(jobs: string[]): Map<string, { state: string; reason: string }> {
  const r = sh('squeue', ['-h', '-t', 'all', '-r', '-j', jobs.join(','), '-o', '%i|%T|%r']);
  const out = new Map<string, { state: string; reason: string }>();
  for (const line of r.out.trim().split('\n').filter(Boolean)) {
    const [id, state, reason] = line.split('|');
    out.set(id, { state, reason });
  }
  return out;
}

/** `scontrol show job -o <id>` as key=value pairs (one line per task for an array). */
function showJob(id: string): Array<Record<string, string>> {
  const r = sh('scontrol', ['show', 'job', '-o', id]);
  return r.out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) =>
      Object.fromEntries(
        line
          .split(' ')
          .filter((kv) => kv.includes('='))
          .map((kv) => {
            const i = kv.indexOf('=');
            return [kv.slice(0, i), kv.slice(i + 1)];
          }),
      ),
    );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${logTails()}`);
    await sleep(everyMs);
  }
}

/** The end of every task log, for failure messages. */
function logTails(): string {
  const logs = out ? path.join(out, 'logs') : '';
  if (!logs || !fs.existsSync(logs)) return '(no task logs)';
  return fs
    .readdirSync(logs)
    .sort()
    .map((n) => `--- ${n}\n${fs.readFileSync(path.join(logs, n), 'utf8').split('\n').slice(-12).join('\n')}`)
    .join('\n');
}

// ---- the sweep ---------------------------------------------------------------------------------

const VICTIM = 'pid';
const TWIN = 'pid-twin';
const CORRUPT = 'corrupt';

/**
 * A checkpoint of the sweep's shapes whose model.safetensors is cut in half: its header (all that
 * validation reads) is intact, so only running the cell finds the damage.
 */
function corruptCheckpoint(dir: string, layers: number): void {
  writeTinyCheckpoint(dir, {
    vocabFile: path.join(path.dirname(dir), 'vocab.txt'),
    layers,
    hidden: 32,
    heads: 2,
    intermediate: 64,
    maxPositions: 32,
    std: 0.02,
  });
  const file = path.join(dir, 'model.safetensors');
  fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
}

function sweepFixture(): { dir: string; file: string } {
  const dir = tmpDir('distillery-slurm-');
  generateDemoTask(path.join(dir, 'data'), { trainSize: 480, devSize: 32, seed: 5 });
  corruptCheckpoint(path.join(dir, 'data', 'corrupt-student'), 1);
  corruptCheckpoint(path.join(dir, 'data', 'corrupt-base'), 2);
  const base = {
    task: {
      name: 'custom',
      maxSeqLen: 24,
      custom: {
        train: 'data/train.tsv',
        dev: 'data/dev.tsv',
        format: 'tsv',
        textA: 'sentence',
        label: 'label',
        labels: ['0', '1'],
      },
    },
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 2, hiddenSize: 32, heads: 2, intermediateSize: 64, maxPositions: 32 },
        vocab: 'data/vocab.txt',
        epochs: 1,
        lr: 1e-3,
        batchSize: 32,
      },
    },
    student: { layers: 1 },
    stages: { epochsPerLayer: 1, classificationEpochs: 2 },
    optim: { lr: 1e-3, batchSize: 32, dropout: 0 },
    checkpoint: { everySteps: 4 },
    backend: 'wasm',
  };
  const grid = {
    algorithms: [
      'soft',
      'pid',
      // The same training as "pid" (checkpoints do not change the arithmetic): the reference for the requeued cell.
      { name: 'pid twin', algorithm: 'pid', set: { 'checkpoint.everySteps': 5 } },
      // Valid, but its student's weights are truncated: a failure that only running the cell finds.
      { name: 'corrupt', algorithm: 'soft', set: { 'student.init': { checkpoint: 'data/corrupt-student' } } },
    ],
  };
  const file = path.join(dir, 'slurm.sweep.json');
  fs.writeFileSync(file, JSON.stringify({ name: 'slurm-ci', base, grid }, null, 2));
  return { dir, file };
}

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  err.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return {
    io: { stdout: out, stderr: err, stdin: new PassThrough(), interactive: false },
    text: () => ({ stdout, stderr }),
  };
}

let dir = '';
let out = '';
let teachersJob = '';
let cellsJob = '';
/** Task index of each cell in the cells array. */
const index = new Map<string, number>();
/** The squeue state right after submitting, and the victim's while it waited to be started again. */
let justSubmitted = new Map<string, { state: string; reason: string }>();
let requeued: { state: string; reason: string } | undefined;
let submittedDependency = '';
let finalStates = new Map<string, { state: string; reason: string }>();

function runDirOf(cell: string): string {
  const m = readManifest(out);
  const runs = fs
    .readdirSync(path.join(out, 'runs'))
    .filter((n) => n.startsWith(`${cell}-`) && /^\d{8}-\d{6}/.test(n.slice(cell.length + 1)))
    .sort();
  assert.ok(m && runs.length > 0, `cell ${cell} has a run folder`);
  return path.join(out, 'runs', runs[runs.length - 1]);
}

function taskLog(cell: string): string {
  return fs.readFileSync(path.join(out, 'logs', `slurm-${cellsJob}_${index.get(cell)}.out`), 'utf8');
}

function allDone(): boolean {
  return sh('squeue', ['-h', '-j', `${teachersJob},${cellsJob}`, '-o', '%i']).out.trim() === '';
}

before(async () => {
  if (skip || problem) return;
  ensureCliBuilt();
  ({ dir } = sweepFixture());
  out = path.join(dir, 'sweep');
  const cli = io();
  const code = await main(
    [
      'sweep',
      path.join(dir, 'slurm.sweep.json'),
      '--out',
      out,
      '--emit',
      'slurm',
      '--concurrency',
      '2',
      '--cpus',
      '1',
      '--mem',
      '1G',
      '--time',
      '00:15:00',
      // In this process the CLI's own script is the test runner's: name the real one.
      '--cli',
      `${process.execPath} ${CLI}`,
    ],
    cli.io,
  );
  assert.equal(code, 0, cli.text().stderr);
  for (const line of fs.readFileSync(path.join(out, 'cells.tsv'), 'utf8').trim().split('\n')) {
    const [i, id] = line.split('\t');
    index.set(id, Number(i));
  }
  const submit = spawnSync('sh', [path.join(out, 'slurm', 'submit.sh')], {
    env: ENV,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(submit.status, 0, submit.stderr);
  teachersJob = /^teachers: job (\d+)$/m.exec(submit.stdout)?.[1] ?? '';
  cellsJob = /^cells: job (\d+)$/m.exec(submit.stdout)?.[1] ?? '';
  assert.ok(teachersJob && cellsJob, submit.stdout);
  justSubmitted = queue([teachersJob, cellsJob]);
  submittedDependency = showJob(cellsJob)[0]?.Dependency ?? '';

  // Preempt the victim once it is training: after its first steps, before it can finish.
  const victimTask = `${cellsJob}_${index.get(VICTIM)}`;
  await waitFor(
    `a few steps of ${VICTIM}`,
    () => {
      const runs = fs.existsSync(path.join(out, 'runs'))
        ? fs.readdirSync(path.join(out, 'runs')).filter((n) => n.startsWith(`${VICTIM}-2`))
        : [];
      if (runs.length === 0) return undefined;
      const steps = eventsOf(path.join(out, 'runs', runs[0]), 'step');
      return steps.length >= 2 ? true : undefined;
    },
    120_000,
    50,
  );
  const rq = sh('scontrol', ['requeue', victimTask]);
  assert.equal(rq.code, 0, `scontrol requeue ${victimTask}: ${rq.err}`);
  // Slurm holds a requeued task back (BeginTime = now + 2 minutes); start it as soon as it is pending.
  requeued = await waitFor(
    `${victimTask} pending again`,
    () => {
      const s = queue([cellsJob]).get(victimTask);
      return s && s.state === 'PENDING' ? s : undefined;
    },
    60_000,
    200,
  );
  const release = sh('scontrol', ['update', `JobId=${victimTask}`, 'StartTime=now']);
  assert.equal(release.code, 0, release.err);

  await waitFor('every task to end', () => (allDone() ? true : undefined), 240_000, 500);
  finalStates = queue([teachersJob, cellsJob]);
});

/** Jobs and folders of the later tests, cleaned up at the end. */
const extraJobs: string[] = [];
const made: string[] = [];

after(() => {
  const jobs = [teachersJob, cellsJob, ...extraJobs].filter(Boolean);
  if (jobs.length) sh('scancel', jobs);
  for (const d of [dir, ...made].filter(Boolean)) fs.rmSync(d, { recursive: true, force: true });
});

test('the teacher array runs first and the cells array waits on it (afterok)', { skip, timeout: 300_000 }, () => {
  requireCluster();
  const cellsNow = [...justSubmitted.entries()].filter(([id]) => id.startsWith(`${cellsJob}_`));
  // Right after submit.sh the cells are PENDING on the teacher job (squeue's reason turns from None
  // to Dependency at the scheduler's next pass).
  assert.ok(
    cellsNow.length > 0 && cellsNow.every(([, s]) => s.state === 'PENDING' && /^(None|Dependency)$/.test(s.reason)),
    JSON.stringify(cellsNow),
  );
  assert.match(submittedDependency, new RegExp(`^afterok:${teachersJob}(_\\*)?\\(unfulfilled\\)$`));
  const [teacher] = showJob(teachersJob);
  const cells = showJob(cellsJob);
  assert.equal(cells.length, 4);
  const teacherEnd = Date.parse(teacher.EndTime);
  for (const c of cells) {
    assert.ok(
      Date.parse(c.StartTime) >= teacherEnd,
      `cell task ${c.ArrayTaskId} started (${c.StartTime}) after the teacher ended (${teacher.EndTime})`,
    );
    assert.ok(c.Dependency === '(null)' || /afterok/.test(c.Dependency ?? ''), c.Dependency);
  }
  assert.equal(fs.existsSync(path.join(out, 'teachers', 'teacher', 'READY')), true);
  // submit.sh recorded both job ids for the extension; run-cell.sh recorded each cell's task.
  const jobs = fs
    .readFileSync(path.join(out, 'slurm', 'jobs.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('\t').slice(0, 2));
  assert.deepEqual(jobs, [
    ['teachers', teachersJob],
    ['cells', cellsJob],
  ]);
  assert.equal(
    fs.readFileSync(path.join(out, 'tasks', 'soft'), 'utf8').split('\t')[0],
    `${cellsJob}_${index.get('soft')}`,
  );
});

test(
  'every cell but the corrupt one finishes; squeue and scontrol show the states the docs describe',
  { skip, timeout: 60_000 },
  () => {
    requireCluster();
    assert.deepEqual(finalStates.get(`${teachersJob}_0`), { state: 'COMPLETED', reason: 'None' });
    for (const [cell, i] of index) {
      const s = finalStates.get(`${cellsJob}_${i}`);
      if (cell === CORRUPT) assert.deepEqual(s, { state: 'FAILED', reason: 'NonZeroExitCode' }, cell);
      else assert.deepEqual(s, { state: 'COMPLETED', reason: 'None' }, cell);
    }
    const failed = showJob(`${cellsJob}_${index.get(CORRUPT)}`)[0];
    assert.equal(failed.JobState, 'FAILED');
    assert.equal(
      failed.ExitCode,
      '2:0',
      'the trainer exits 2 when bad input (here a damaged checkpoint) fails the run',
    );
    // A requeued task waits as PENDING (reason BeginTime: Slurm delays its restart) until it starts again.
    assert.deepEqual(requeued, { state: 'PENDING', reason: 'BeginTime' });
    const victim = showJob(`${cellsJob}_${index.get(VICTIM)}`)[0];
    assert.equal(victim.JobState, 'COMPLETED');
    assert.equal(victim.Restarts, '1', 'the victim task ran twice');
    for (const cell of ['soft', VICTIM, TWIN]) {
      const info = JSON.parse(fs.readFileSync(path.join(runDirOf(cell), 'run.json'), 'utf8')) as { status: string };
      assert.equal(info.status, 'finished', cell);
    }

    // What the VS Code Runs view asks squeue, and how it reads the real answer.
    const view = readSweepView(out)!;
    const args = squeueArgs(view)!;
    const answer = sh('squeue', args);
    assert.equal(answer.code, 0, answer.err);
    const seen = applySqueue(view, answer.out).tasks;
    assert.deepEqual(
      Object.fromEntries([...seen].map(([id, t]) => [id, `${t.task} ${t.state}${t.reason ? ` ${t.reason}` : ''}`])),
      {
        teacher: `${teachersJob}_0 COMPLETED`,
        soft: `${cellsJob}_${index.get('soft')} COMPLETED`,
        pid: `${cellsJob}_${index.get(VICTIM)} COMPLETED`,
        'pid-twin': `${cellsJob}_${index.get(TWIN)} COMPLETED`,
        corrupt: `${cellsJob}_${index.get(CORRUPT)} FAILED NonZeroExitCode`,
      },
    );
    // And the Runs tree it draws from the real run folders (read as the extension's store reads them).
    const store = new RunStore();
    for (const name of fs.readdirSync(path.join(out, 'runs'))) store.refresh(path.join(out, 'runs', name));
    const [sweep] = groupedRunNodes(store.states(), [], new Map([[out, applySqueue(view, answer.out)]]));
    assert.equal(sweep.kind, 'sweep');
    assert.equal(sweep.description, `4/5 finished · 1 failed · Slurm job ${teachersJob}, ${cellsJob}`);
    assert.deepEqual(
      sweep.children!.map((k) => `${k.label}: ${k.description?.split(' · ')[0]}`),
      [
        'teacher: Slurm COMPLETED',
        'soft: Slurm COMPLETED',
        'pid: Slurm COMPLETED',
        'pid-twin: Slurm COMPLETED',
        'corrupt: Slurm FAILED (NonZeroExitCode)',
      ],
    );
  },
);

test(
  'a requeued cell resumes from its checkpoint and ends with the losses of an uninterrupted run',
  { skip, timeout: 60_000 },
  () => {
    requireCluster();
    const victimRun = runDirOf(VICTIM);
    assert.equal(
      fs.readdirSync(path.join(out, 'runs')).filter((n) => n.startsWith(`${VICTIM}-2`)).length,
      1,
      'the second attempt resumed the same run folder',
    );
    const starts = eventsOf(victimRun, 'run-started');
    assert.equal(starts.length, 2, 'started, then resumed');
    assert.ok(starts[1].resumedFrom && starts[1].resumedFrom.step > 0, 'the second attempt resumed from a checkpoint');
    assert.equal(
      eventsOf(victimRun, 'run-stopped').length,
      1,
      'the requeue stopped the trainer with SIGTERM (it wrote a checkpoint)',
    );
    assert.equal(eventsOf(victimRun, 'run-finished').length, 1);
    // The task log holds both attempts (--open-mode=append): the SIGTERM checkpoint, then the resume.
    const log = taskLog(VICTIM);
    assert.match(log, /DUE TO JOB REQUEUE/);
    assert.match(log, /SIGTERM: writing a checkpoint/);
    assert.match(log, /cell pid: resuming /);

    // Same losses as the twin, step by step (the last value logged for each step), and the same result.
    const byStep = (run: string): Map<number, string> =>
      new Map(eventsOf(run, 'step').map((e) => [e.step, `${e.loss} ${e.terms.map((t) => t.value).join(' ')}`]));
    const mine = byStep(victimRun);
    const twin = byStep(runDirOf(TWIN));
    assert.ok(mine.size > 10);
    assert.deepEqual(
      [...mine.entries()].sort((a, b) => a[0] - b[0]),
      [...twin.entries()].sort((a, b) => a[0] - b[0]),
    );
    const finished = (run: string): TrainerEvent | undefined =>
      events(run)
        .filter((e) => e.type === 'run-finished')
        .pop();
    const a = finished(victimRun);
    const b = finished(runDirOf(TWIN));
    assert.ok(a?.type === 'run-finished' && b?.type === 'run-finished');
    assert.deepEqual(a.best, b.best);
  },
);

test(
  "a corrupt cell fails its task with the trainer's message; report aggregates the rest and lists it as failed",
  { skip, timeout: 60_000 },
  async () => {
    requireCluster();
    const log = taskLog(CORRUPT);
    assert.match(log, /run failed: .*corrupt-student\/model\.safetensors: not a valid safetensors file/);
    assert.match(log, /fix: the file is truncated or corrupt/);
    const info = JSON.parse(fs.readFileSync(path.join(runDirOf(CORRUPT), 'run.json'), 'utf8')) as { status: string };
    assert.equal(info.status, 'failed');

    const cli = io();
    assert.equal(await main(['report', out], cli.io), 0, cli.text().stderr);
    assert.match(cli.text().stdout + cli.text().stderr, /4\/5 cells finished, 1 failed/);
    const r = buildReport(out);
    assert.deepEqual(
      r.results.rows.map((x) => x.label),
      ['teacher', 'soft', 'pid', 'pid twin', 'corrupt'],
    );
    for (const row of r.results.rows.filter((x) => !x.teacher && x.label !== 'corrupt'))
      assert.equal(row.values[0]?.n, 1, row.label);
    assert.match(r.markdown, /`corrupt`: failed \([^)]*not a valid safetensors file/);
    assert.match(r.markdown, /5 cells \(4 student, 1 shared teacher\)[^\n]*4 finished, 1 failed/);
  },
);

test(
  'submitting the sweep again skips the finished cells and leaves the failed one alone',
  { skip, timeout: 120_000 },
  async () => {
    requireCluster();
    const runsBefore = fs.readdirSync(path.join(out, 'runs')).sort();
    const eventsBefore = events(runDirOf(CORRUPT)).length;
    const submit = spawnSync('sh', [path.join(out, 'slurm', 'submit.sh')], {
      env: ENV,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(submit.status, 0, submit.stderr);
    const t = /^teachers: job (\d+)$/m.exec(submit.stdout)?.[1] ?? '';
    const c = /^cells: job (\d+)$/m.exec(submit.stdout)?.[1] ?? '';
    extraJobs.push(t, c);
    await waitFor(
      'the resubmitted tasks to end',
      () => (sh('squeue', ['-h', '-j', `${t},${c}`, '-o', '%i']).out.trim() === '' ? true : undefined),
      90_000,
      500,
    );
    const q = queue([t, c]);
    assert.equal(q.get(`${t}_0`)?.state, 'COMPLETED');
    for (const [cell, i] of index)
      assert.equal(q.get(`${c}_${i}`)?.state, cell === CORRUPT ? 'FAILED' : 'COMPLETED', cell);
    assert.deepEqual(fs.readdirSync(path.join(out, 'runs')).sort(), runsBefore, 'no new run folders');
    assert.equal(events(runDirOf(CORRUPT)).length, eventsBefore, 'the failed run was not resumed');
    const log = (cell: string) => fs.readFileSync(path.join(out, 'logs', `slurm-${c}_${index.get(cell)}.out`), 'utf8');
    assert.match(log('soft'), /cell soft: already finished/);
    assert.match(log(CORRUPT), /cell corrupt: its run failed .*DISTILLERY_RETRY_FAILED=1/);
    assert.deepEqual(
      fs
        .readFileSync(path.join(out, 'slurm', 'jobs.tsv'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[1]),
      [teachersJob, cellsJob, t, c],
    );
  },
);

test(
  'a failed teacher leaves the cells PENDING (DependencyNeverSatisfied) instead of running them',
  { skip, timeout: 120_000 },
  async () => {
    requireCluster();
    const { dir: d, file } = sweepFixture();
    made.push(d);
    // The teacher is fine-tuned from a truncated checkpoint (as the corrupt cell starts from one); one cell depends on it.
    const sweep = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      name: string;
      base: { teacher: unknown };
      grid: unknown;
    };
    sweep.name = 'slurm-ci-bad-teacher';
    sweep.base.teacher = { train: { from: 'data/corrupt-base', epochs: 1, lr: 1e-3, batchSize: 32 } };
    sweep.grid = { algorithms: ['soft'] };
    fs.writeFileSync(file, JSON.stringify(sweep));
    const o = path.join(d, 'sweep');
    const cli = io();
    assert.equal(
      await main(
        [
          'sweep',
          file,
          '--out',
          o,
          '--emit',
          'slurm',
          '--cpus',
          '1',
          '--mem',
          '1G',
          '--cli',
          `${process.execPath} ${CLI}`,
        ],
        cli.io,
      ),
      0,
      cli.text().stderr,
    );
    const submit = spawnSync('sh', [path.join(o, 'slurm', 'submit.sh')], {
      env: ENV,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(submit.status, 0, submit.stderr);
    const t = /^teachers: job (\d+)$/m.exec(submit.stdout)?.[1] ?? '';
    const c = /^cells: job (\d+)$/m.exec(submit.stdout)?.[1] ?? '';
    extraJobs.push(t, c);
    const states = await waitFor(
      'the teacher to fail',
      () => {
        const q = queue([t, c]);
        return q.get(`${t}_0`)?.state === 'FAILED' && q.get(`${c}_0`)?.reason === 'DependencyNeverSatisfied'
          ? q
          : undefined;
      },
      90_000,
      500,
    );
    assert.deepEqual(states.get(`${c}_0`), { state: 'PENDING', reason: 'DependencyNeverSatisfied' });
    assert.match(
      fs.readFileSync(path.join(o, 'logs', `slurm-${t}_0.out`), 'utf8'),
      /run failed: .*corrupt-base\/model\.safetensors: not a valid safetensors file/,
    );
    assert.equal(
      fs.existsSync(path.join(o, 'runs')) && fs.readdirSync(path.join(o, 'runs')).some((n) => n.startsWith('soft-')),
      false,
      'no cell ran',
    );
    sh('scancel', [c]);
  },
);
