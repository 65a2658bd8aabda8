// The host ↔ webview message contract (src/protocol/webview-messages.ts): the guards accept every
// valid message shape and reject malformed ones, including messages that carry bad trainer events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent, encodeEvent, type TrainerEvent } from '../../src/protocol/events';
import {
  decodeHostMessage,
  EXPORT_MAX_CHARS,
  exportRequestProblem,
  hostMessageProblem,
  isHostMessage,
  isRunSnapshot,
  isWebviewMessage,
  type HostMessage,
  type RunSnapshot,
  type WebviewMessage,
} from '../../src/protocol/webview-messages';

const FIXTURES = join(__dirname, '..', 'fixtures', 'events');

function fixture(name: string): TrainerEvent[] {
  return readFileSync(join(FIXTURES, `demo-${name}.events.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TrainerEvent);
}

const step = createEvent('run-1', {
  type: 'step',
  step: 1,
  stage: 0,
  epoch: 1,
  lr: 1e-4,
  loss: 0.5,
  terms: [{ name: 'attention-kl', layer: 1, value: 0.5, weight: 1 }],
  gradNorm: 1,
  examplesPerSec: 100,
  elapsedMs: 10,
});
const log = createEvent('run-1', { type: 'log', level: 'info', message: 'hello' });
const snapshot: RunSnapshot = {
  runId: 'run-1',
  runDir: '/runs/run-1',
  label: 'run 1',
  status: 'running',
  events: [step, log],
};

test('valid host messages pass, including every recorded demo event', () => {
  const sid = fixture('sid');
  const valid: HostMessage[] = [
    { type: 'init', view: 'run', runs: [snapshot] },
    { type: 'init', view: 'compare', runs: [] },
    {
      type: 'init',
      view: 'compare',
      runs: ['soft', 'pid', 'sid'].map((n) => ({
        runId: n,
        runDir: `/runs/${n}`,
        label: n,
        status: 'finished' as const,
        events: fixture(n),
      })),
    },
    { type: 'events', runId: 'run-1', events: [] },
    { type: 'events', runId: sid[0].runId, events: sid },
    { type: 'run-status', runId: 'run-1', status: 'failed', message: 'exited with code 1' },
    { type: 'run-status', runId: 'run-1', status: 'unknown' },
  ];
  for (const m of valid) {
    assert.equal(hostMessageProblem(m), undefined, JSON.stringify(m).slice(0, 120));
    assert.ok(isHostMessage(m));
  }
  assert.equal(sid.filter((e) => e.type === 'step').length, 76, 'the sid fixture has all its steps');
});

test('malformed host messages are rejected with a reason', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    ['init', /not an object/],
    [[{ type: 'init' }], /not an object/],
    [{}, /unknown message type undefined/],
    [{ type: 'hello' }, /unknown message type "hello"/],
    [{ type: 'init', view: 'table', runs: [] }, /view must be/],
    [{ type: 'init', view: 'run' }, /runs must be an array/],
    [{ type: 'init', view: 'run', runs: [{ ...snapshot, status: 'paused' }] }, /runs\[0\] is not a valid run snapshot/],
    [{ type: 'init', view: 'run', runs: [{ ...snapshot, runId: '' }] }, /runs\[0\]/],
    [{ type: 'init', view: 'run', runs: [{ ...snapshot, label: 3 }] }, /runs\[0\]/],
    [{ type: 'init', view: 'run', runs: [snapshot, { ...snapshot, events: [{ ...step, loss: 'low' }] }] }, /runs\[1\]/],
    [{ type: 'events', runId: 'run-1' }, /events must be an array/],
    [{ type: 'events', runId: 7, events: [] }, /runId/],
    [
      { type: 'events', runId: 'run-1', events: [step, { type: 'step', step: 'x' }] },
      /events\[1\] is not a valid trainer event/,
    ],
    [{ type: 'events', runId: 'run-1', events: [{ ...log, type: 'telemetry' }] }, /events\[0\]/],
    [
      { type: 'events', runId: 'run-1', events: [{ ...step, terms: [{ name: 'mse', value: 1, weight: 1 }] }] },
      /events\[0\]/,
    ],
    [{ type: 'run-status', runId: 'run-1', status: 'paused' }, /unknown status "paused"/],
    [{ type: 'run-status', runId: 'run-1', status: 'failed', message: 42 }, /message must be a string/],
    [{ type: 'run-status', status: 'failed' }, /runId/],
  ];
  for (const [m, reason] of cases) {
    assert.equal(isHostMessage(m), false, JSON.stringify(m));
    assert.match(hostMessageProblem(m) ?? '', reason, JSON.stringify(m));
  }
});

test('events in wire form ("NaN", "Infinity" for a diverged run) are revived by decodeHostMessage', () => {
  const wire = JSON.parse(
    encodeEvent({
      ...step,
      loss: NaN,
      terms: [{ name: 'attention-kl', layer: 1, value: -Infinity, weight: 1 }],
    } as TrainerEvent),
  ) as unknown;
  assert.equal((wire as { loss: unknown }).loss, 'NaN');
  const message = { type: 'events', runId: 'run-1', events: [step, wire] };
  assert.equal(isHostMessage(message), false, 'the typed guard stays strict');
  const decoded = decodeHostMessage(message);
  assert.ok(decoded.message && decoded.message.type === 'events');
  const revived = decoded.message.events[1];
  assert.ok(revived.type === 'step' && Number.isNaN(revived.loss) && revived.terms[0].value === -Infinity);
  assert.equal(decoded.message.events[0], step, 'valid events are passed through as they are');
  assert.equal((wire as { loss: unknown }).loss, 'NaN', 'the input is not modified');

  const init = decodeHostMessage({ type: 'init', view: 'run', runs: [{ ...snapshot, events: [wire] }] });
  assert.ok(init.message && init.message.type === 'init');
  const e = init.message.runs[0].events[0];
  assert.ok(e.type === 'step' && Number.isNaN(e.loss));
  // strings where no number may be non-finite are still errors
  assert.match(
    decodeHostMessage({ type: 'events', runId: 'run-1', events: [{ ...step, step: 'NaN' }] }).problem ?? '',
    /events\[0\]/,
  );
  assert.match(decodeHostMessage({ type: 'nope' }).problem ?? '', /unknown message type/);
  assert.deepEqual(decodeHostMessage({ type: 'run-status', runId: 'r', status: 'running' }).message, {
    type: 'run-status',
    runId: 'r',
    status: 'running',
  });
});

test('run snapshots need every field with the right type', () => {
  assert.ok(isRunSnapshot(snapshot));
  assert.ok(isRunSnapshot({ ...snapshot, runDir: '', events: [] }), 'an empty run dir and no events are fine');
  for (const key of ['runId', 'runDir', 'label', 'status', 'events']) {
    const copy: Record<string, unknown> = { ...snapshot };
    delete copy[key];
    assert.equal(isRunSnapshot(copy), false, `missing ${key}`);
  }
});

test('webview messages: valid ones pass, malformed ones do not', () => {
  const valid: WebviewMessage[] = [
    { type: 'ready' },
    { type: 'stop-run', runId: 'r' },
    { type: 'resume-run', runId: 'r' },
    { type: 'reveal', path: '/runs/r' },
    { type: 'add-to-compare' },
    { type: 'error', message: '' },
  ];
  for (const m of valid) assert.ok(isWebviewMessage(m), JSON.stringify(m));
  const invalid: unknown[] = [
    undefined,
    'ready',
    { type: 'READY' },
    { type: 'stop-run' },
    { type: 'stop-run', runId: '' },
    { type: 'resume-run', runId: 3 },
    { type: 'reveal', path: '' },
    { type: 'reveal' },
    { type: 'error' },
    { type: 'error', message: { text: 'x' } },
    { type: 'init', view: 'run', runs: [] },
  ];
  for (const m of invalid) assert.equal(isWebviewMessage(m), false, JSON.stringify(m));
});

test('export messages: a chart exported as png, svg or csv passes; wrong types, bad names, huge or non-PNG data do not', () => {
  const png = 'data:image/png;base64,iVBORw0KGgo=';
  const valid: WebviewMessage[] = [
    { type: 'export', format: 'png', chart: 'loss', data: png, runId: 'r' },
    { type: 'export', format: 'svg', chart: 'compare-loss', data: '<svg xmlns="http://www.w3.org/2000/svg"/>' },
    { type: 'export', format: 'csv', chart: 'attention-student-l1_h2.v2', data: 'step,total\r\n1,0.5\r\n' },
  ];
  for (const m of valid) {
    assert.equal(exportRequestProblem(m), undefined, JSON.stringify(m));
    assert.ok(isWebviewMessage(m));
  }
  const ok = valid[2] as unknown as Record<string, unknown>;
  const cases: [unknown, RegExp][] = [
    [{ ...ok, format: 'pdf' }, /unknown format "pdf"/],
    [{ ...ok, format: 3 }, /unknown format/],
    [{ ...ok, format: undefined }, /unknown format/],
    [{ ...ok, chart: '' }, /file-name-safe/],
    [{ ...ok, chart: '../../.bashrc' }, /file-name-safe/],
    [{ ...ok, chart: 'a/b' }, /file-name-safe/],
    [{ ...ok, chart: 'a\\b' }, /file-name-safe/],
    [{ ...ok, chart: '.hidden' }, /file-name-safe/],
    [{ ...ok, chart: 'a..b' }, /file-name-safe/],
    [{ ...ok, chart: 'loss chart' }, /file-name-safe/],
    [{ ...ok, chart: 'x'.repeat(81) }, /file-name-safe/],
    [{ ...ok, chart: ['loss'] }, /file-name-safe/],
    [{ ...ok, runId: '' }, /runId/],
    [{ ...ok, runId: 7 }, /runId/],
    [{ ...ok, data: '' }, /data must be/],
    [{ ...ok, data: { text: 'x' } }, /data must be/],
    [{ ...ok, data: 'x'.repeat(EXPORT_MAX_CHARS + 1) }, /over \d+ characters/],
    [{ ...ok, format: 'png', data: 'iVBORw0KGgo=' }, /data:image\/png;base64/],
    [{ ...ok, format: 'png', data: 'data:image/svg+xml;base64,PHN2Zy8+' }, /data:image\/png;base64/],
    [{ type: 'export' }, /unknown format/],
  ];
  for (const [m, reason] of cases) {
    assert.equal(isWebviewMessage(m), false, JSON.stringify(m).slice(0, 120));
    assert.match(exportRequestProblem(m) ?? '', reason, JSON.stringify(m).slice(0, 120));
  }
});

test('the protocol module imports nothing at run time but the events module (it ships in the webview bundle)', () => {
  const source = readFileSync(join(__dirname, '..', '..', 'src', 'protocol', 'webview-messages.ts'), 'utf8');
  const imports = [...source.matchAll(/^import\s+(type\s+)?.*from\s+'([^']+)'/gm)]
    .filter((m) => !m[1])
    .map((m) => m[2]);
  assert.deepEqual(imports, ['./events']);
});
