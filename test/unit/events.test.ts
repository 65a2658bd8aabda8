import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createEvent,
  encodeEvent,
  EventLineSplitter,
  eventProblem,
  isTrainerEvent,
  parseEventLine,
  PROTOCOL_VERSION,
  TrainerEvent,
  TrainerEventBody,
  TrainerEventType,
} from '../../src/protocol/events';
import type { ResolvedConfig } from '../../src/config/types';

const RUN = '2024-05-01-sst2-sid';
const TIME = new Date('2024-05-01T12:00:00.000Z');
const counts = { embeddings: 23837184, encoder: 85054464, pooler: 590592, head: 1538, total: 109483778 };

/** One event of every type, with optional fields filled where they exist. */
const BODIES: Record<TrainerEventType, TrainerEventBody> = {
  'run-started': {
    type: 'run-started',
    runDir: '/w/runs/x',
    config: { algorithm: 'sid' } as unknown as ResolvedConfig,
    backend: { kind: 'wasm', skipped: ['tensorflow-gpu: no CUDA', 'tensorflow: libtensorflow missing'] },
    params: {
      teacher: counts,
      student: { ...counts, encoder: counts.encoder / 2, total: counts.total - counts.encoder / 2 },
    },
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
        { index: 1, name: 'classifier', kind: 'classification', layers: [], losses: ['soft-label'], epochs: 3 },
      ],
    },
    dataset: { train: 67349, eval: 872 },
    resumedFrom: { checkpoint: '/w/runs/x/checkpoints/400', step: 400 },
  },
  'stage-started': {
    type: 'stage-started',
    stage: 0,
    name: 'layer 1',
    kind: 'internal',
    epochs: 1,
    stepsPlanned: 2105,
  },
  step: {
    type: 'step',
    step: 17,
    stage: 0,
    epoch: 1,
    lr: 3.2e-5,
    loss: 0.75,
    terms: [
      { name: 'attention-kl', layer: 1, value: 0.5, weight: 1 },
      { name: 'soft-label', value: 0.25, weight: 1 },
    ],
    gradNorm: 1.5,
    examplesPerSec: 41.2,
    elapsedMs: 12034,
  },
  eval: {
    type: 'eval',
    step: 2105,
    stage: 0,
    epoch: 1,
    split: 'dev',
    metrics: { accuracy: 0.91, f1: 0.9 },
    mainMetric: { name: 'accuracy', value: 0.91 },
    perLayer: [{ student: 1, teacher: 2, attentionKl: 0.12, clsCosine: 0.03 }],
    isBest: true,
  },
  checkpoint: { type: 'checkpoint', step: 2105, path: '/w/runs/x/checkpoints/2105', reason: 'stage-end' },
  'attention-sample': {
    type: 'attention-sample',
    step: 2105,
    tokens: ['[CLS]', 'good', '[SEP]'],
    layers: [
      {
        student: 1,
        teacher: 2,
        teacherMaps: [
          [
            [0.5, 0.25, 0.25],
            [0, 1, 0],
            [0.2, 0.3, 0.5],
          ],
        ],
        studentMaps: [
          [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ],
        ],
      },
    ],
  },
  'stage-finished': { type: 'stage-finished', stage: 0, reason: 'plateau', bestLoss: 0.11 },
  warning: { type: 'warning', message: 'dev set has 3 empty lines', code: 'data.empty-lines' },
  log: { type: 'log', level: 'info', message: 'loaded teacher' },
  'run-finished': {
    type: 'run-finished',
    best: { metric: 'accuracy', value: 0.91, step: 2105 },
    studentDir: '/w/runs/x/student',
    durationMs: 360000,
    summary: 'student 6L: accuracy 0.910 (teacher 0.927)',
  },
  'run-failed': {
    type: 'run-failed',
    reason: 'out of memory',
    where: 'teacher forward',
    fix: 'lower optim.batchSize',
    lastCheckpoint: '/w/runs/x/checkpoints/400',
  },
  'run-stopped': { type: 'run-stopped', signal: 'SIGINT', checkpoint: null },
};

const EVENTS: TrainerEvent[] = Object.values(BODIES).map((b) => createEvent(RUN, b, TIME) as TrainerEvent);

test('createEvent stamps version, time and run id', () => {
  const e = createEvent(RUN, { type: 'log', level: 'warn', message: 'hi' }, TIME);
  assert.deepEqual(e, {
    v: PROTOCOL_VERSION,
    time: '2024-05-01T12:00:00.000Z',
    runId: RUN,
    type: 'log',
    level: 'warn',
    message: 'hi',
  });
  assert.equal(PROTOCOL_VERSION, 1);
});

test('every event type round-trips through one line of JSON', () => {
  assert.equal(EVENTS.length, 12);
  for (const e of EVENTS) {
    const line = encodeEvent(e);
    assert.ok(!line.includes('\n') && !line.endsWith('\r'), e.type);
    assert.ok(isTrainerEvent(e), `${e.type}: ${eventProblem(e)}`);
    assert.deepEqual(parseEventLine(line), { event: e }, e.type);
  }
});

test('newlines inside strings stay on one line; non-finite losses survive the trip', () => {
  const e = createEvent(
    RUN,
    {
      type: 'step',
      step: 3,
      stage: 1,
      epoch: 1,
      lr: 1e-5,
      loss: NaN,
      terms: [{ name: 'cls-cosine', layer: 2, value: Infinity, weight: 1 }],
      gradNorm: -Infinity,
      examplesPerSec: 10,
      elapsedMs: 5,
    },
    TIME,
  ) as TrainerEvent;
  const line = encodeEvent(e);
  assert.ok(!line.includes('\n'));
  assert.deepEqual(parseEventLine(line).event, e);
  const log = createEvent(RUN, { type: 'log', level: 'error', message: 'line one\nNaN' }, TIME) as TrainerEvent;
  const encoded = encodeEvent(log);
  assert.equal(encoded.split('\n').length, 1);
  // 'NaN' as text in a message stays text: only measured fields are revived.
  assert.deepEqual(parseEventLine(encoded).event, log);
  const tokens = createEvent(
    RUN,
    { type: 'attention-sample', step: 1, tokens: ['NaN'], layers: [] },
    TIME,
  ) as TrainerEvent;
  assert.deepEqual(parseEventLine(encodeEvent(tokens)).event, tokens);
});

test('unknown event types and newer shapes are tolerated, not errors', () => {
  const future = parseEventLine(
    JSON.stringify({ v: 1, type: 'gpu-memory', time: TIME.toISOString(), runId: RUN, bytes: 5 }),
  );
  assert.equal(future.error, undefined);
  assert.equal(future.event, undefined);
  assert.equal(future.unknown?.type, 'gpu-memory');
  // A v2 trainer that reshaped 'step': passed on as unknown rather than rejected.
  const v2 = parseEventLine(JSON.stringify({ v: 2, type: 'step', time: TIME.toISOString(), runId: RUN, step: '17' }));
  assert.equal(v2.unknown?.type, 'step');
  assert.equal(v2.unknown?.v, 2);
  // A v2 event that still fits v1's shape is read as an event (extra fields kept).
  const v2ok = parseEventLine(JSON.stringify({ ...EVENTS[1], v: 2, extra: true }));
  assert.equal(v2ok.event?.type, 'stage-started');
});

test('malformed lines are errors with a reason; blank lines are nothing', () => {
  assert.deepEqual(parseEventLine('   '), {});
  assert.match(
    parseEventLine('Hi there 👋. Looks like you are running TensorFlow.js in Node.js').error ?? '',
    /not JSON/,
  );
  assert.match(parseEventLine('[1,2]').error ?? '', /JSON object/);
  assert.match(parseEventLine('{"v":1}').error ?? '', /no "type"/);
  assert.match(parseEventLine('{"type":"log","level":"info","message":"x"}').error ?? '', /version/);
  const bad = parseEventLine(JSON.stringify({ ...EVENTS[2], loss: 'high' }));
  assert.match(bad.error ?? '', /malformed 'step' event: field 'loss'/);
  const cut = encodeEvent(EVENTS[2]).slice(0, 40);
  assert.match(parseEventLine(cut).error ?? '', /not JSON/);
});

test('isTrainerEvent rejects malformed objects', () => {
  const step = EVENTS[2] as unknown as Record<string, unknown>;
  const without = (k: string): Record<string, unknown> =>
    Object.fromEntries(Object.entries(step).filter(([key]) => key !== k));
  for (const x of [
    null,
    42,
    'step',
    [],
    {},
    without('runId'),
    without('time'),
    without('v'),
    without('gradNorm'),
    { ...step, step: 1.5 },
    { ...step, type: 'nope' },
    { ...step, terms: [{ name: 'mse', value: 1, weight: 1 }] },
    { ...step, terms: [{ name: 'soft-label', value: 1 }] },
    { ...step, terms: 'none' },
  ]) {
    assert.equal(isTrainerEvent(x), false, JSON.stringify(x));
  }
  const byType = Object.fromEntries(EVENTS.map((e) => [e.type, e as unknown as Record<string, unknown>]));
  const broken: [TrainerEventType, Record<string, unknown>][] = [
    ['run-started', { plan: { stages: [{ index: 0, name: 'x', kind: 'warmup', layers: [], losses: [], epochs: 1 }] } }],
    ['run-started', { params: { teacher: counts } }],
    ['eval', { metrics: { accuracy: 'high' } }],
    ['eval', { isBest: 'yes' }],
    ['checkpoint', { reason: 'because' }],
    ['attention-sample', { layers: [{ student: 1, teacher: 2, teacherMaps: [[0.5]], studentMaps: [[[0.5]]] }] }],
    ['stage-finished', { reason: 'bored' }],
    ['log', { level: 'loud' }],
    ['run-finished', { studentDir: 7 }],
    ['run-failed', { reason: undefined }],
    ['run-stopped', { checkpoint: 3 }],
  ];
  for (const [type, patch] of broken) {
    const x = { ...byType[type], ...patch };
    assert.equal(isTrainerEvent(x), false, `${type} ${JSON.stringify(patch)}`);
    assert.ok(eventProblem(x));
  }
  assert.equal(isTrainerEvent({ ...byType['run-stopped'], checkpoint: '/w/c' }), true);
});

test('the splitter joins partial lines, splits several lines per chunk, strips CRLF and keeps the tail', () => {
  const lines = EVENTS.map(encodeEvent);
  const stream = lines.join('\r\n') + '\r\n';
  // Feed it in awkward pieces, including a cut between '\r' and '\n'.
  const s = new EventLineSplitter();
  const out: string[] = [];
  const cuts = [1, 7, 200, 201, 202, 950, 951, 2000];
  let prev = 0;
  for (const c of [...cuts.filter((x) => x < stream.length), stream.length]) {
    out.push(...s.push(stream.slice(prev, c)));
    prev = c;
  }
  assert.equal(s.flush(), undefined);
  assert.deepEqual(out, lines);
  assert.deepEqual(
    out.map((l) => parseEventLine(l).event),
    EVENTS,
  );

  const many = new EventLineSplitter();
  assert.deepEqual(many.push('a\nb\n\nc'), ['a', 'b', '']);
  assert.deepEqual(many.push('d\n'), ['cd']);
  assert.deepEqual(many.push('tail without newline'), []);
  assert.equal(many.flush(), 'tail without newline');
  assert.equal(many.flush(), undefined);
});

test('the splitter decodes Buffers with multi-byte characters cut across chunks', () => {
  const e = createEvent(RUN, { type: 'log', level: 'info', message: 'naïve café ✓ 👋' }, TIME) as TrainerEvent;
  const bytes = Buffer.from(`${encodeEvent(e)}\n${encodeEvent(e)}`, 'utf8');
  const s = new EventLineSplitter();
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 3) out.push(...s.push(bytes.subarray(i, i + 3)));
  assert.equal(out.length, 1);
  assert.deepEqual(parseEventLine(out[0]).event, e);
  // The process died before the final newline: flush hands back the last, complete-looking line.
  const tail = s.flush();
  assert.ok(tail);
  assert.deepEqual(parseEventLine(tail).event, e);
});
