/**
 * The Runs tree groups a sweep's runs under the sweep, one child per cell in the grid's order, with
 * the scheduler's state of each cell's task: from squeue (its output folded in by job and array
 * index) when it answers, else from the tasks/<cell> files run-cell.sh writes. Plain data, as in
 * extension-tree-model.test.ts: no VS Code, no cluster (squeue is a fake here; the real one runs in
 * sweep-slurm.test.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deriveRunState, RunState } from '../../src/extension/run-state';
import {
  applySqueue,
  cellIdOf,
  readSweepView,
  SweepSchedulerCache,
  sweepDirOf,
  squeueArgs,
} from '../../src/extension/sweep-groups';
import { groupedRunNodes, schedulerText } from '../../src/extension/sweep-tree';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

const CELLS = ['soft', 'pid', 'pid-twin', 'diverges'];

/** A sweep folder as `sweep --emit slurm` + submit.sh + run-cell.sh leave it (no weights). */
function sweepFolder(opts: { jobs?: boolean; tasks?: Record<string, string> } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-sweeptree-'));
  made.push(root);
  const dir = path.join(root, 'sweeps', 'tiny');
  fs.mkdirSync(path.join(dir, 'runs'), { recursive: true });
  const cell = (id: string, index: number, kind: string) => ({
    id,
    index,
    kind,
    config: `cells/${id}.distill.json`,
    values: {},
    status: 'pending',
    attempts: 0,
  });
  fs.writeFileSync(
    path.join(dir, 'sweep.json'),
    JSON.stringify({
      version: 1,
      name: 'tiny',
      teachers: [cell('teacher', 0, 'teacher')],
      cells: CELLS.map((id, i) => cell(id, i, 'cell')),
    }),
  );
  if (opts.jobs) {
    fs.mkdirSync(path.join(dir, 'slurm'));
    fs.writeFileSync(
      path.join(dir, 'slurm', 'jobs.tsv'),
      'teachers\t3\t2026-01-01T00:00:00Z\ncells\t4\t2026-01-01T00:00:00Z\nteachers\t6\t2026-01-02T00:00:00Z\ncells\t7\t2026-01-02T00:00:00Z\n',
    );
  }
  if (opts.tasks) {
    fs.mkdirSync(path.join(dir, 'tasks'));
    for (const [id, line] of Object.entries(opts.tasks)) fs.writeFileSync(path.join(dir, 'tasks', id), `${line}\n`);
  }
  return dir;
}

function run(
  dir: string,
  cell: string,
  status: string,
  stamp: string,
  more: { configFile?: string; pid?: number } = {},
): RunState {
  const runDir = path.join(dir, 'runs', `${cell}-${stamp}`);
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'run.json'), '{}');
  return deriveRunState(
    {
      runDir,
      files: { checkpoints: [] },
      events: [],
      // As a compute node wrote it: its own absolute path to the cell config.
      info: {
        status,
        startedAt: `2026-01-02T00:00:${stamp.slice(-2)}Z`,
        configFile: more.configFile ?? `/mnt/cluster/sweeps/tiny/cells/${cell}.distill.json`,
        ...(more.pid ? { pid: more.pid } : {}),
      },
    },
    () => false,
  );
}

test('a sweep folder: its cells in order, the job ids submit.sh recorded, the tasks run-cell.sh recorded', () => {
  const dir = sweepFolder({
    jobs: true,
    tasks: { soft: '7_0\tnode12\t2026-01-02T00:00:05Z', teacher: '6_0\tnode3\t2026-01-02T00:00:01Z' },
  });
  const v = readSweepView(dir)!;
  assert.equal(v.name, 'tiny');
  assert.deepEqual(
    v.cells.map((c) => `${c.kind}:${c.id}:${c.index}`),
    ['teacher:teacher:0', 'cell:soft:0', 'cell:pid:1', 'cell:pid-twin:2', 'cell:diverges:3'],
  );
  assert.deepEqual(v.jobs, { teachers: '6', cells: '7' }, 'the newest submission wins');
  assert.deepEqual(v.tasks.get('soft'), { task: '7_0', host: 'node12', since: '2026-01-02T00:00:05Z' });
  assert.deepEqual(squeueArgs(v), ['-h', '-t', 'all', '-r', '-j', '6,7', '-o', '%i|%T|%r']);
  assert.equal(schedulerText(v.tasks.get('soft')!), 'task 7_0 on node12');

  assert.equal(sweepDirOf(path.join(dir, 'runs', 'soft-20260102-000001')), dir);
  assert.equal(
    sweepDirOf(path.join(path.dirname(dir), 'runs', 'x')),
    undefined,
    'a runs/ folder without sweep.json is no sweep',
  );
  assert.equal(cellIdOf('/mnt/cluster/sweeps/tiny/cells/pid-twin.distill.json'), 'pid-twin');
  assert.equal(cellIdOf('/home/me/sst2.distill.json'), undefined);
  // A manifest caught mid-write is no sweep (its runs show ungrouped until the next refresh).
  fs.writeFileSync(path.join(dir, 'sweep.json'), '{"version": 1, "na');
  assert.equal(readSweepView(dir), undefined);
});

test("squeue's answer maps each array task to its cell, ranges of pending tasks included", () => {
  const v = readSweepView(sweepFolder({ jobs: true }))!;
  const out = applySqueue(
    v,
    [
      '6_0|COMPLETED|None',
      '7_0|RUNNING|None',
      '7_1|PENDING|BeginTime',
      '7_[2-3%2]|PENDING|JobArrayTaskLimit',
      '99_0|RUNNING|None',
      'garbage',
    ].join('\n'),
  );
  assert.deepEqual(out.tasks.get('teacher'), { task: '6_0', state: 'COMPLETED' });
  assert.deepEqual(out.tasks.get('soft'), { task: '7_0', state: 'RUNNING' });
  assert.deepEqual(out.tasks.get('pid'), { task: '7_1', state: 'PENDING', reason: 'BeginTime' });
  assert.deepEqual(out.tasks.get('pid-twin'), { task: '7_2', state: 'PENDING', reason: 'JobArrayTaskLimit' });
  assert.deepEqual(out.tasks.get('diverges'), { task: '7_3', state: 'PENDING', reason: 'JobArrayTaskLimit' });
  assert.equal(schedulerText(out.tasks.get('pid')!), 'Slurm PENDING (BeginTime)');
  assert.equal(v.tasks.size, 0, 'the view read from disk is not changed');
});

test('the Runs tree: a sweep node with its cells in grid order and their scheduler states; other runs stay at the top', () => {
  const dir = sweepFolder({ jobs: true, tasks: { soft: '7_0\tnode12\t2026-01-02T00:00:05Z' } });
  const states = [
    run(dir, 'teacher', 'finished', '20260102-000001'),
    // Marked running with a pid of another machine: crashed as far as this machine can tell.
    run(dir, 'soft', 'running', '20260102-000005', { pid: 999999 }),
    run(dir, 'pid', 'stopped', '20260102-000006'),
    run(dir, 'diverges', 'failed', '20260102-000007'),
    // An earlier attempt of diverges, and a run of no cell of this sweep.
    run(dir, 'diverges', 'failed', '20260102-000003'),
    deriveRunState(
      {
        runDir: '/ws/runs/sst2-sid-20250101-120000',
        files: { checkpoints: [] },
        events: [],
        info: { status: 'finished', startedAt: '2025-01-01T12:00:00Z' },
      },
      () => false,
    ),
  ];
  const v = applySqueue(
    readSweepView(dir)!,
    '6_0|COMPLETED|None\n7_0|RUNNING|None\n7_1|PENDING|BeginTime\n7_2|PENDING|JobArrayTaskLimit\n7_3|FAILED|NonZeroExitCode',
  );
  const nodes = groupedRunNodes(states, [{ id: 1, verb: 'train', target: '/ws/a.distill.json' }], new Map([[dir, v]]));
  assert.deepEqual(
    nodes.map((n) => n.kind),
    ['launch', 'sweep', 'run'],
  );
  const [, sweep, loose] = nodes;
  assert.equal(loose.kind === 'run' && loose.runDir, '/ws/runs/sst2-sid-20250101-120000');
  assert.equal(sweep.kind === 'sweep' && sweep.sweepDir, dir);
  assert.equal(sweep.label, 'tiny');
  assert.equal(sweep.id, `sweep:${dir}`);
  assert.equal(sweep.contextValue, 'sweep');
  assert.equal(sweep.description, '1/5 finished · 1 running · 1 pending · 1 failed · 1 stopped · Slurm job 6, 7');
  assert.equal(sweep.collapsible, 'expanded', 'a sweep with a running cell is open');
  assert.deepEqual(sweep.icon, { id: 'sync~spin', color: 'charts.blue' });

  const kids = sweep.children!;
  assert.deepEqual(
    kids.map((k) => `${k.kind}:${k.kind === 'run' ? path.basename(k.runDir!) : k.label}`),
    [
      'run:teacher-20260102-000001',
      'run:soft-20260102-000005',
      'run:pid-20260102-000006',
      'cell:pid-twin',
      'run:diverges-20260102-000007',
      'run:diverges-20260102-000003',
    ],
  );
  const [teacher, soft, pid, twin, diverges] = kids;
  assert.match(teacher.description!, /^Slurm COMPLETED · /);
  // squeue says the task runs, so the run is running (on the node run-cell.sh named), not crashed.
  assert.equal(soft.description, 'Slurm RUNNING · running on node12');
  assert.deepEqual(soft.icon, { id: 'sync~spin', color: 'charts.blue' });
  assert.match(soft.tooltip!, /scheduler: Slurm RUNNING, task 7_0, started 2026-01-02T00:00:05Z/);
  assert.match(pid.description!, /^Slurm PENDING \(BeginTime\) · stopped/);
  assert.equal(pid.contextValue.startsWith('run:stopped'), true, "a cell's run keeps its run menus");
  assert.equal(twin.description, 'Slurm PENDING (JobArrayTaskLimit)');
  assert.deepEqual(twin.icon, { id: 'clock', color: 'charts.yellow' });
  assert.equal(twin.kind === 'cell' && twin.configFile, path.join(dir, 'cells', 'pid-twin.distill.json'));
  assert.match(diverges.description!, /^Slurm FAILED \(NonZeroExitCode\) · failed/);
});

test('a local sweep (no scheduler files): cells grouped, runs matched by folder name when run.json names no cell config', () => {
  const dir = sweepFolder();
  const states = [
    run(dir, 'soft', 'finished', '20260102-000001', { configFile: '/elsewhere/soft.json' }),
    run(dir, 'pid-twin', 'finished', '20260102-000002', { configFile: '' }),
  ];
  const [sweep] = groupedRunNodes(states, [], new Map([[dir, readSweepView(dir)!]]));
  assert.equal(sweep.description, '1/5 finished');
  assert.deepEqual(sweep.children!.map((k) => `${k.kind}:${k.label}:${k.description}`).slice(0, 4), [
    'cell:teacher:not started',
    'cell:soft:not started',
    'cell:pid:not started',
    `run:${states[1].label}:finished`,
  ]);
  // soft's run names a config outside the sweep's cells/: listed after the cells, not as the cell.
  const outside = sweep.children![5];
  assert.equal(outside.kind === 'run' && outside.runDir, states[0].runDir);
  assert.equal(sweep.collapsible, 'collapsed');
});

test('squeue runs in the background, at most once per interval, and not again once it is missing', async () => {
  const dir = sweepFolder({ jobs: true });
  const runDir = path.join(dir, 'runs', 'soft-20260102-000001');
  fs.mkdirSync(runDir, { recursive: true });
  let clock = 0;
  const calls: string[][] = [];
  let answer: string | undefined = '7_0|RUNNING|None\n';
  let changes = 0;
  const cache = new SweepSchedulerCache(
    async (cmd, args) => {
      calls.push([cmd, ...args]);
      return answer;
    },
    () => {
      changes++;
    },
    1000,
    () => clock,
  );
  try {
    const first = cache.views([runDir]);
    assert.equal(first.get(dir)?.tasks.size, 0, 'nothing known before squeue answers');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [['squeue', '-h', '-t', 'all', '-r', '-j', '6,7', '-o', '%i|%T|%r']]);
    assert.equal(changes, 1, 'an answer refreshes the tree');
    assert.deepEqual(cache.views([runDir]).get(dir)?.tasks.get('soft'), { task: '7_0', state: 'RUNNING' });
    assert.equal(calls.length, 1, 'not asked again within the interval');
    clock = 5000;
    answer = undefined; // squeue is not installed (a laptop that sees the shared storage)
    cache.views([runDir]);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.length, 2);
    clock = 10_000;
    cache.views([runDir]);
    assert.equal(calls.length, 2, 'a missing squeue is not run again');
    assert.equal(cache.views(['/ws/runs/plain-20250101-000000']).size, 0, 'a run outside sweeps has no sweep view');
  } finally {
    cache.dispose();
  }
});
