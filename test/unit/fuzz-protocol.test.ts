// Property-based tests (fast-check) of what crosses process and webview boundaries: random and
// mutated event lines through the trainer-event parser (src/protocol/events.ts), and random and
// malformed messages through both message validators (src/protocol/webview-messages.ts). A
// reader never throws on what it receives; what it accepts passes the strict checks (issue #19).
// FUZZ_RUNS / FUZZ_SEED / FUZZ_PATH: see test/helpers/fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  encodeEvent,
  EventLineSplitter,
  isTrainerEvent,
  parseEventLine,
  TrainerEvent,
} from '../../src/protocol/events';
import {
  decodeHostMessage,
  hostMessageProblem,
  isHostMessage,
  isWebviewMessage,
} from '../../src/protocol/webview-messages';
import { checkProperty, jsonish, nastyNumber } from '../helpers/fuzz';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'events');
/** Real events of three demo runs: every event type the trainer writes. */
const EVENTS: TrainerEvent[] = fs
  .readdirSync(FIXTURES)
  .flatMap((f) => fs.readFileSync(path.join(FIXTURES, f), 'utf8').split('\n'))
  .map((l) => parseEventLine(l).event)
  .filter((e): e is TrainerEvent => e !== undefined);

// ---- mutations of JSON values ---------------------------------------------------------------

type Path = (string | number)[];

function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

interface Edit {
  pick: number;
  value: unknown;
  kind: 'set' | 'delete' | 'number';
}
const edit: fc.Arbitrary<Edit> = fc.record({
  pick: fc.nat(),
  value: fc.oneof(jsonish, fc.constantFrom('NaN', 'Infinity', '-Infinity', '__proto__', 'constructor')),
  kind: fc.constantFrom<Edit['kind']>('set', 'delete', 'number'),
});

function mutate(v: unknown, edits: readonly Edit[]): unknown {
  const root = structuredClone(v);
  for (const e of edits) {
    const ps = paths(root).filter((p) => p.length > 0);
    if (ps.length === 0) return e.value;
    const p = ps[e.pick % ps.length];
    let parent = root as Record<string | number, unknown>;
    for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = p[p.length - 1];
    if (e.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else {
      parent[key] = e.kind === 'number' && typeof e.value !== 'number' ? e.pick : e.value;
    }
  }
  return root;
}

const event: fc.Arbitrary<TrainerEvent> = fc.constantFrom(...EVENTS);
const mutatedEvent: fc.Arbitrary<unknown> = fc
  .tuple(event, fc.array(edit, { minLength: 1, maxLength: 3 }))
  .map(([e, edits]) => mutate(e, edits));

/** Checks a parse result: the shape is one of the documented outcomes, an event is a valid one. */
function assertParsed(line: string): void {
  const r = parseEventLine(line);
  const outcomes = [r.event, r.unknown, r.error].filter((x) => x !== undefined).length;
  assert.ok(outcomes <= 1, `several outcomes for ${line}`);
  if (line.trim() !== '') assert.equal(outcomes, 1, `no outcome for ${JSON.stringify(line)}`);
  if (r.event) {
    assert.ok(isTrainerEvent(r.event), `parsed an event that is not valid: ${line}`);
    // What was read writes back to a line that reads the same.
    assert.deepEqual(parseEventLine(encodeEvent(r.event)).event, r.event);
  }
}

// ---- properties -----------------------------------------------------------------------------

test('the event fixtures cover every event type the trainer writes', () => {
  const types = new Set(EVENTS.map((e) => e.type));
  for (const t of ['run-started', 'stage-started', 'step', 'eval', 'checkpoint', 'stage-finished', 'run-finished'])
    assert.ok(types.has(t as TrainerEvent['type']), t);
});

test('fuzz: parseEventLine never throws on random, mutated or cut lines, and accepts only valid events', () => {
  const line = fc.oneof(
    { arbitrary: mutatedEvent.map((e) => JSON.stringify(e) ?? ''), weight: 5 },
    {
      arbitrary: fc.tuple(event, fc.nat()).map(([e, n]) => {
        const s = encodeEvent(e);
        return s.slice(0, n % (s.length + 1));
      }),
      weight: 1,
    },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    { arbitrary: jsonish.map((v) => JSON.stringify(v) ?? ''), weight: 1 },
    { arbitrary: fc.tuple(event, nastyNumber).map(([e, x]) => encodeEvent({ ...e, v: x } as TrainerEvent)), weight: 1 },
  );
  checkProperty(fc.property(line, assertParsed), 3000);
});

test('fuzz: EventLineSplitter gives the same lines however a byte stream is chunked', () => {
  const arb = fc.record({
    lines: fc.array(fc.oneof(event.map(encodeEvent), fc.string({ maxLength: 10 })), { maxLength: 6 }),
    eol: fc.constantFrom('\n', '\r\n'),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
  });
  checkProperty(
    fc.property(arb, ({ lines, eol, cuts }) => {
      const bytes = Buffer.from(lines.map((l) => l + eol).join(''), 'utf8');
      const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const splitter = new EventLineSplitter();
      const got: string[] = [];
      let prev = 0;
      for (const c of [...at, bytes.length]) {
        got.push(...splitter.push(new Uint8Array(bytes.subarray(prev, c))));
        prev = c;
      }
      const tail = splitter.flush();
      if (tail !== undefined) got.push(tail);
      // The same as one chunk: every "\n" ends a line, a "\r" before it is dropped.
      const whole = bytes
        .toString('utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => l.replace(/\r$/, ''));
      assert.deepEqual(got, whole);
      for (const l of got) assertParsed(l);
    }),
    1500,
  );
});

test('fuzz: the host-message validators never throw; a decoded message passes the strict check', () => {
  const valid = fc.oneof(
    fc.record({
      type: fc.constant('init'),
      view: fc.constantFrom('run', 'compare'),
      runs: fc.array(
        fc.record({
          runId: fc.constantFrom('r1', 'r2'),
          runDir: fc.constant('/runs/r1'),
          label: fc.constant('r1'),
          status: fc.constantFrom('running', 'finished', 'failed', 'stopped', 'unknown'),
          events: fc.array(event, { maxLength: 3 }),
        }),
        { maxLength: 2 },
      ),
    }),
    fc.record({ type: fc.constant('events'), runId: fc.constant('r1'), events: fc.array(event, { maxLength: 4 }) }),
    fc.record({
      type: fc.constant('run-status'),
      runId: fc.constant('r1'),
      status: fc.constantFrom('running', 'failed'),
      message: fc.string({ maxLength: 5 }),
    }),
  );
  const message = fc.oneof(
    {
      arbitrary: fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([m, edits]) => mutate(m, edits)),
      weight: 5,
    },
    // Over JSON, as postMessage delivers it: non-finite numbers in wire form.
    {
      arbitrary: valid.map(
        (m) =>
          JSON.parse(
            JSON.stringify(m, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
          ) as unknown,
      ),
      weight: 2,
    },
    { arbitrary: fc.anything(), weight: 1 },
  );
  checkProperty(
    fc.property(message, (m) => {
      const problem = hostMessageProblem(m);
      assert.equal(isHostMessage(m), problem === undefined);
      assert.ok(problem === undefined || (typeof problem === 'string' && problem.length > 0));
      const decoded = decodeHostMessage(m);
      if (decoded.message)
        assert.equal(
          hostMessageProblem(decoded.message),
          undefined,
          'decodeHostMessage gave a message the strict check refuses',
        );
      else assert.ok(decoded.problem.length > 0);
      if (problem === undefined) assert.ok(decoded.message, 'a valid message does not decode');
    }),
    2000,
  );
});

test('fuzz: the webview-message validator never throws and accepts only well-typed messages', () => {
  const valid = fc.oneof(
    fc.constant({ type: 'ready' }),
    fc.constant({ type: 'add-to-compare' }),
    fc.record({ type: fc.constantFrom('stop-run', 'resume-run'), runId: fc.string({ minLength: 1, maxLength: 5 }) }),
    fc.record({ type: fc.constant('reveal'), path: fc.string({ minLength: 1, maxLength: 5 }) }),
    fc.record({ type: fc.constant('error'), message: fc.string({ maxLength: 5 }) }),
    fc.record({
      type: fc.constant('export'),
      format: fc.constantFrom('svg', 'csv'),
      chart: fc.constantFrom('loss', 'attention-student-l1-mean-step76', 'lr'),
      data: fc.string({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({
      type: fc.constant('export'),
      format: fc.constant('png'),
      chart: fc.constant('loss'),
      data: fc.constant('data:image/png;base64,iVBORw0KGgo='),
    }),
  );
  const message = fc.oneof(
    fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 2 })).map(([m, edits]) => mutate(m, edits)),
    fc.anything(),
    valid,
  );
  checkProperty(
    fc.property(message, (m) => {
      if (!isWebviewMessage(m)) return;
      const x = m as Record<string, unknown>;
      switch (x.type) {
        case 'stop-run':
        case 'resume-run':
          assert.ok(typeof x.runId === 'string' && x.runId.length > 0);
          break;
        case 'reveal':
          assert.ok(typeof x.path === 'string' && x.path.length > 0);
          break;
        case 'error':
          assert.equal(typeof x.message, 'string');
          break;
        case 'export':
          assert.ok(['png', 'svg', 'csv'].includes(String(x.format)));
          assert.ok(
            typeof x.chart === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(x.chart) && !x.chart.includes('..'),
            String(x.chart),
          );
          assert.ok(typeof x.data === 'string' && x.data.length > 0);
          assert.ok(x.format !== 'png' || (x.data as string).startsWith('data:image/png;base64,'));
          assert.ok(x.runId === undefined || (typeof x.runId === 'string' && x.runId.length > 0));
          break;
        default:
          assert.ok(x.type === 'ready' || x.type === 'add-to-compare', String(x.type));
      }
    }),
    2000,
  );
});
