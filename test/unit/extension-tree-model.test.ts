import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configNode, runChildren, runNodes } from '../../src/extension/tree-model';
import { outlineConfig } from '../../src/extension/config-outline';
import { deriveRunState, pickActiveRun, progressText, RunInputs, statusBarText } from '../../src/extension/run-state';
import { createEvent, TrainerEvent, TrainerEventBody } from '../../src/protocol/events';
import type { ResolvedConfig } from '../../src/config/types';

const RUN = '/ws/runs/sst2-sid-20250101-120000';
const ev = (body: TrainerEventBody): TrainerEvent => createEvent('sst2-sid-20250101-120000', body) as TrainerEvent;
const params = { embeddings: 1, encoder: 2, pooler: 3, head: 4, total: 10 };

function started(extra: Partial<{ resumedFrom: { checkpoint: string; step: number } }> = {}): TrainerEvent {
  return ev({
    type: 'run-started',
    runDir: RUN,
    config: { name: 'sst2-sid', algorithm: 'sid', task: { name: 'sst2' } } as unknown as ResolvedConfig,
    backend: { kind: 'wasm', skipped: [] },
    params: { teacher: { ...params, total: 110 }, student: { ...params, total: 66 } },
    plan: {
      stages: [
        {
          index: 0,
          name: 'layer 1',
          kind: 'internal',
          layers: [[1, 2]],
          losses: ['attention-kl', 'cls-cosine'],
          epochs: 1,
        },
        {
          index: 1,
          name: 'layers 1-2',
          kind: 'internal',
          layers: [
            [1, 2],
            [2, 4],
          ],
          losses: ['attention-kl', 'cls-cosine'],
          epochs: 1,
        },
        { index: 2, name: 'classification', kind: 'classification', layers: [], losses: ['soft-label'], epochs: 3 },
      ],
    },
    dataset: { train: 100, eval: 20 },
    ...extra,
  });
}

const step = (n: number, stage: number, loss = 1 / n): TrainerEvent =>
  ev({
    type: 'step',
    step: n,
    stage,
    epoch: 1,
    lr: 1e-4,
    loss,
    terms: [],
    gradNorm: 1,
    examplesPerSec: 50,
    elapsedMs: n * 10,
  });

function inputs(events: TrainerEvent[], more: Partial<RunInputs> = {}): RunInputs {
  return { runDir: RUN, events, files: { checkpoints: [] }, ...more };
}

const dead = (): boolean => false;
const alive = (): boolean => true;

test('a running run: stage position and progress, loss, and a spinning blue icon; stop/open in its menu', () => {
  const events = [
    started(),
    ev({ type: 'stage-started', stage: 0, name: 'layer 1', kind: 'internal', epochs: 1, stepsPlanned: 10 }),
    step(1, 0),
    step(2, 0),
    step(3, 0),
  ];
  const s = deriveRunState(
    inputs(events, { info: { status: 'running', pid: 4242, startedAt: '2025-01-01T12:00:00Z' } }),
    alive,
  );
  assert.equal(s.status, 'running');
  assert.equal(s.pid, 4242);
  assert.equal(s.label, 'sst2-sid');
  assert.equal(progressText(s), 'stage 1/3 layer 1 · 30% · step 3 · loss 0.3333');
  assert.equal(statusBarText(s), '$(sync~spin) sst2-sid · stage 1/3 layer 1 · 30% · step 3 · loss 0.3333');

  const [node] = runNodes([s]);
  assert.equal(node.kind, 'run');
  assert.equal(node.label, 'sst2-sid');
  // short enough for a narrow sidebar; the whole progress line is in the tooltip
  assert.equal(node.description, '1/3 · 30%');
  assert.match(node.tooltip ?? '', /stage 1\/3 layer 1 · 30% · step 3 · loss 0\\?\.3333/);
  assert.deepEqual(node.icon, { id: 'sync~spin', color: 'charts.blue' });
  assert.equal(node.contextValue, 'run:running');
  assert.equal(node.collapsible, 'expanded');
  assert.deepEqual(node.command, { id: 'distillery.openDashboard', title: 'Open Dashboard', args: [RUN] });

  const kids = runChildren(s);
  assert.deepEqual(
    kids.map((k) => [k.label, k.description, k.icon?.id]),
    [
      ['1. layer 1', 'internal · 1↔2 · 3/10', 'play-circle'],
      ['2. layers 1-2', 'internal · 1↔2 2↔4', 'circle-large-outline'],
      ['3. classification', '', 'circle-large-outline'],
    ],
  );
  assert.match(kids[0].tooltip ?? '', /step 3 of 10/);
});

test('a finished run: best metric in the description, checkpoints newest first, best and exported student as children', () => {
  const events = [
    started(),
    ev({
      type: 'stage-started',
      stage: 2,
      name: 'classification',
      kind: 'classification',
      epochs: 3,
      stepsPlanned: 30,
    }),
    step(40, 2),
    ev({
      type: 'eval',
      step: 40,
      stage: 2,
      epoch: 1,
      split: 'dev',
      metrics: { accuracy: 0.9 },
      mainMetric: { name: 'accuracy', value: 0.9 },
      perLayer: [],
      isBest: true,
    }),
    ev({ type: 'checkpoint', step: 40, path: `${RUN}/checkpoints/step-00000040`, reason: 'best' }),
    ev({ type: 'stage-finished', stage: 2, reason: 'plateau' }),
    ev({
      type: 'run-finished',
      best: { metric: 'accuracy', value: 0.9125, step: 40 },
      studentDir: `${RUN}/student`,
      durationMs: 5000,
      summary: 'accuracy 0.9125',
    }),
  ];
  const files = {
    checkpoints: [`${RUN}/checkpoints/step-00000020`, `${RUN}/checkpoints/step-00000040`],
    studentDir: `${RUN}/student`,
    bestDir: `${RUN}/best`,
  };
  const s = deriveRunState(inputs(events, { files, info: { status: 'finished', pid: 1 } }), dead);
  assert.equal(s.status, 'finished');
  const [node] = runNodes([s]);
  assert.equal(node.description, 'accuracy 0.9125');
  assert.deepEqual(node.icon, { id: 'pass-filled', color: 'testing.iconPassed' });
  assert.equal(node.contextValue, 'run:finished:exportable:evaluable');
  const kids = runChildren(s);
  assert.deepEqual(
    kids.map((k) => k.kind),
    ['stage', 'stage', 'stage', 'checkpoints', 'best', 'student'],
  );
  assert.equal(kids[2].description, 'plateaued');
  assert.match(kids[2].tooltip ?? '', /stopped on a plateau/);
  const ckpts = kids[3].children ?? [];
  assert.deepEqual(
    ckpts.map((c) => [c.label, c.description]),
    [
      ['step 40', 'best'],
      ['step 20', undefined],
    ],
  );
  assert.equal(ckpts[0].contextValue, 'checkpoint');
  assert.equal(kids[4].contextValue, 'model:best');
  assert.equal(kids[5].contextValue, 'model:student');
  // the node carries what the Evaluate and Reveal commands act on
  assert.deepEqual(kids[5].kind === 'student' && [kids[5].path, kids[5].runDir], [`${RUN}/student`, RUN]);
});

test('run.json says running but the pid is dead: stopped (crashed), resumable when a checkpoint exists', () => {
  const events = [started(), step(1, 0), step(2, 0)];
  const s = deriveRunState(
    inputs(events, {
      info: { status: 'running', pid: 99999 },
      files: { checkpoints: [`${RUN}/checkpoints/step-00000002`] },
    }),
    dead,
  );
  assert.equal(s.status, 'stopped');
  assert.equal(s.crashed, true);
  assert.equal(s.resumable, true);
  assert.match(s.message ?? '', /pid 99999.*gone without a final event/);
  const [node] = runNodes([s]);
  assert.deepEqual(node.icon, { id: 'warning', color: 'list.warningForeground' });
  assert.equal(node.description, 'crashed at step 2');
  assert.equal(node.contextValue, 'run:stopped:resumable:exportable');
});

test('a resumed run: the new segment clears the old stop, finished stages stay done, replayed steps count once', () => {
  const events = [
    started(),
    ev({ type: 'stage-started', stage: 0, name: 'layer 1', kind: 'internal', epochs: 1, stepsPlanned: 4 }),
    step(1, 0),
    step(2, 0),
    step(3, 0),
    step(4, 0),
    ev({ type: 'stage-finished', stage: 0, reason: 'epochs' }),
    ev({ type: 'stage-started', stage: 1, name: 'layers 1-2', kind: 'internal', epochs: 1, stepsPlanned: 4 }),
    step(5, 1),
    step(6, 1),
    ev({ type: 'run-stopped', signal: 'SIGTERM', checkpoint: `${RUN}/checkpoints/step-00000005` }),
    started({ resumedFrom: { checkpoint: `${RUN}/checkpoints/step-00000005`, step: 5 } }),
    ev({ type: 'stage-started', stage: 1, name: 'layers 1-2', kind: 'internal', epochs: 1, stepsPlanned: 4 }),
    step(6, 1),
    step(7, 1),
  ];
  const s = deriveRunState(inputs(events, { attached: { pid: 77 } }), dead);
  assert.equal(s.status, 'running');
  assert.equal(s.live, true);
  assert.equal(s.stages[0].progress, 'done');
  assert.equal(s.stages[1].progress, 'active');
  assert.equal(s.stages[1].stepsDone, 3);
  assert.equal(s.step, 7);
});

test('a process this window started that ended without a final event: failed with its exit code, or stopped when asked', () => {
  const events = [started(), step(1, 0)];
  const crashed = deriveRunState(
    inputs(events, {
      info: { status: 'running', pid: 5 },
      attached: { pid: 5, exit: { code: 3, signal: null, stopRequested: false, killed: false } },
    }),
    dead,
  );
  assert.equal(crashed.status, 'failed');
  assert.match(crashed.message ?? '', /exited with code 3/);
  const killed = deriveRunState(
    inputs(events, {
      info: { status: 'running', pid: 5 },
      attached: { pid: 5, exit: { code: null, signal: 'SIGKILL', stopRequested: true, killed: true } },
    }),
    dead,
  );
  assert.equal(killed.status, 'stopped');
  assert.equal(killed.crashed, false);
  assert.match(killed.message ?? '', /killed after the grace period/);
});

test('runNodes: launches still starting first, then runs newest first; the active run prefers one started here', () => {
  const older = deriveRunState(
    {
      runDir: '/ws/runs/a',
      events: [started()],
      files: { checkpoints: [] },
      info: { status: 'running', pid: 1, startedAt: '2025-01-01T10:00:00Z', updatedAt: '2025-01-01T12:00:00Z' },
    },
    alive,
  );
  const newer = deriveRunState(
    {
      runDir: '/ws/runs/b',
      events: [started()],
      files: { checkpoints: [] },
      info: { status: 'running', pid: 2, startedAt: '2025-01-02T10:00:00Z', updatedAt: '2025-01-02T10:00:00Z' },
    },
    alive,
  );
  const nodes = runNodes([older, newer], [{ id: 3, verb: 'train', target: '/ws/sst2.distill.json' }]);
  assert.deepEqual(
    nodes.map((n) => [n.kind, n.id]),
    [
      ['launch', 'launch-3'],
      ['run', '/ws/runs/b'],
      ['run', '/ws/runs/a'],
    ],
  );
  // Stop on a launch cancels it by its number, not by parsing the node's id.
  assert.deepEqual(nodes[0].kind === 'launch' && [nodes[0].launchId, nodes[0].target], [3, '/ws/sst2.distill.json']);
  assert.equal(nodes[0].label, 'sst2');
  assert.equal(nodes[0].description, 'starting…');
  assert.equal(pickActiveRun([older, newer])?.runDir, '/ws/runs/b');
  const mine = { ...older, live: true };
  assert.equal(pickActiveRun([mine, newer])?.runDir, '/ws/runs/a');
  assert.equal(pickActiveRun([]), undefined);
});

test('Configs tree: teacher, student and the layer mapping as "student k ↔ teacher m" pairs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-tree-'));
  fs.mkdirSync(path.join(dir, 'bert-sst2'));
  fs.writeFileSync(path.join(dir, 'bert-sst2', 'config.json'), JSON.stringify({ num_hidden_layers: 12 }));
  const file = path.join(dir, 'sst2-sid.distill.json');
  const text =
    '{\n  // comments are fine\n  "task": { "name": "sst2" },\n  "teacher": { "checkpoint": "bert-sst2" },\n  "algorithm": "sid",\n}\n';
  const node = configNode(outlineConfig(text, file), dir);
  assert.equal(node.label, 'sst2-sid');
  assert.equal(node.description, 'sst2 · sid');
  assert.equal(node.contextValue, 'config');
  const [teacher, student, mapping] = node.children ?? [];
  assert.equal(teacher.label, 'Teacher: bert-sst2');
  assert.equal(teacher.description, '12 layers');
  assert.deepEqual(teacher.kind === 'config-teacher' && [teacher.configFile, teacher.teacherDir], [
    file,
    path.join(dir, 'bert-sst2'),
  ]);
  assert.equal(student.label, 'Student: 6 layers');
  assert.equal(student.description, 'half the teacher (default)');
  assert.equal(mapping.label, 'Layer mapping: every-other (default)');
  assert.deepEqual(
    mapping.children?.map((c) => c.label),
    [1, 2, 3, 4, 5, 6].map((k) => `student ${k} ↔ teacher ${2 * k}`),
  );

  const explicit = configNode(
    outlineConfig(
      '{ "teacher": { "train": { "from": "scratch", "architecture": { "layers": 4 } } }, "student": { "layers": 2 }, "mapping": [[1, 1], [2, 4]] }',
      file,
    ),
    dir,
  );
  const [t2, , m2] = explicit.children ?? [];
  assert.equal(t2.label, 'Teacher: trained from scratch');
  assert.equal(t2.description, 'trained by the run · 4 layers');
  assert.equal(m2.label, 'Layer mapping: explicit');
  assert.deepEqual(
    m2.children?.map((c) => c.label),
    ['student 1 ↔ teacher 1', 'student 2 ↔ teacher 4'],
  );

  const bad = configNode(
    outlineConfig(
      '{ "teacher": { "checkpoint": "bert-sst2" }, "student": { "layers": 5 }, "mapping": "every-other" }',
      file,
    ),
    dir,
  );
  const m3 = bad.children?.[2];
  assert.equal(m3?.description, 'cannot resolve');
  assert.match(m3?.children?.[0].label ?? '', /twice the student's layers/);

  const broken = configNode(outlineConfig('{ "task": ', file), dir);
  assert.equal(broken.description, 'does not parse');
  assert.equal(broken.children?.[0].kind, 'config-problem');
});
