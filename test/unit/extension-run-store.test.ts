import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventFileTail, parseLineRecovering } from '../../src/extension/event-tail';
import { listRunFolders, RunStore } from '../../src/extension/run-store';
import { createEvent, encodeEvent, TrainerEvent, TrainerEventBody } from '../../src/protocol/events';

const ev = (body: TrainerEventBody): TrainerEvent => createEvent('r1', body) as TrainerEvent;
const line = (body: TrainerEventBody): string => encodeEvent(ev(body)) + '\n';
const log = (n: number): string => line({ type: 'log', level: 'info', message: `m${n}` });
const messages = (events: TrainerEvent[]): string[] => events.map((e) => (e.type === 'log' ? e.message : e.type));

function runFolder(): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-store-')), 'runs', 'r1');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

test('EventFileTail: only new events each read; a partial last line waits for its newline', () => {
  const dir = runFolder();
  const file = path.join(dir, 'events.jsonl');
  const tail = new EventFileTail(file);
  assert.deepEqual(tail.read(), { events: [], reset: false, badLines: 0 }, 'no file yet');
  fs.writeFileSync(file, log(1) + log(2));
  assert.deepEqual(messages(tail.read().events), ['m1', 'm2']);
  assert.deepEqual(tail.read().events, []);
  const third = log(3);
  fs.appendFileSync(file, third.slice(0, 10));
  assert.deepEqual(tail.read().events, [], 'half a line is not an event yet');
  fs.appendFileSync(
    file,
    third.slice(10) + 'not json\n' + line({ type: 'brand-new-thing' } as unknown as TrainerEventBody),
  );
  const r = tail.read();
  assert.deepEqual(messages(r.events), ['m3']);
  assert.equal(r.badLines, 1, 'the stray line counts as bad; an unknown event type does not');
  assert.equal(tail.position, fs.statSync(file).size);
});

test('EventFileTail: a truncated or replaced file starts over; multi-byte characters split across reads survive', () => {
  const dir = runFolder();
  const file = path.join(dir, 'events.jsonl');
  const tail = new EventFileTail(file);
  fs.writeFileSync(file, log(1) + log(2) + log(3));
  assert.equal(tail.read().events.length, 3);
  fs.writeFileSync(file, log(9));
  const r = tail.read();
  assert.equal(r.reset, true);
  assert.deepEqual(messages(r.events), ['m9']);

  const unicode = line({ type: 'log', level: 'info', message: 'naïve café — 東京' });
  const bytes = Buffer.from(unicode, 'utf8');
  const cut = bytes.indexOf(Buffer.from('東')) + 1; // inside a 3-byte character
  fs.appendFileSync(file, bytes.subarray(0, cut));
  assert.deepEqual(tail.read().events, []);
  fs.appendFileSync(file, bytes.subarray(cut));
  assert.deepEqual(messages(tail.read().events), ['naïve café — 東京']);
});

test('a run killed mid-line and then resumed: the fragment is dropped, the event appended after it is kept', () => {
  const fragment = log(1).slice(0, 25);
  const glued = fragment + log(2).trimEnd();
  const r = parseLineRecovering(glued);
  assert.equal(r.bad, true);
  assert.equal(r.event?.type, 'log');
  assert.equal(r.event?.type === 'log' && r.event.message, 'm2');
  assert.deepEqual(parseLineRecovering('{"v":1,"ty'), { bad: true });
});

test('RunStore: reads run.json, events and checkpoints; reports only changes; notices a removed folder', () => {
  const dir = runFolder();
  const store = new RunStore(() => false);
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ id: 'r1', status: 'running', pid: 123, startedAt: '2025-01-01T00:00:00Z' }),
  );
  fs.writeFileSync(path.join(dir, 'events.jsonl'), log(1));
  const first = store.refresh(dir);
  assert.ok(first);
  assert.equal(first.appended.length, 1);
  assert.equal(first.state?.status, 'stopped', 'pid 123 is dead in this test');
  assert.equal(first.state?.crashed, true);
  assert.equal(store.refresh(dir), undefined, 'nothing changed');

  fs.mkdirSync(path.join(dir, 'checkpoints', 'step-00000010'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'checkpoints', '.step-00000020.tmp'), { recursive: true });
  const withCkpt = store.refresh(dir);
  assert.deepEqual(
    withCkpt?.state?.checkpoints.map((c) => c.step),
    [10],
    'temporary folders are not checkpoints',
  );
  assert.equal(withCkpt?.state?.resumable, true);

  assert.deepEqual(listRunFolders(path.dirname(dir)), [dir]);
  assert.equal(store.findById('r1')?.runDir, dir);
  fs.rmSync(dir, { recursive: true });
  const gone = store.refresh(dir);
  assert.equal(gone?.removed, true);
  assert.equal(store.has(dir), false);
});

test('RunStore: a run this window attached shows running until its process exits, whatever run.json says', () => {
  const dir = runFolder();
  const store = new RunStore(() => false);
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ status: 'running', pid: 555 }));
  store.refresh(dir);
  assert.equal(store.attach(dir, 555)?.state?.status, 'running');
  assert.equal(store.checkLiveness().length, 0, 'a live attached process is not re-checked');
  const after = store.detach(dir, { code: 143, signal: null, stopRequested: true, killed: false });
  assert.equal(after?.state?.status, 'stopped');
  assert.equal(after?.state?.crashed, false);
});

test('RunStore: events stay in memory only while retained; the incremental fold equals a fold of the whole file', () => {
  const dir = runFolder();
  const file = path.join(dir, 'events.jsonl');
  const store = new RunStore(() => false);
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ status: 'finished' }));
  fs.writeFileSync(file, log(1) + log(2));
  store.refresh(dir);
  store.retain(dir);
  fs.appendFileSync(file, log(3));
  store.refresh(dir);
  const kept = store.events(dir);
  assert.deepEqual(messages([...kept]), ['m1', 'm2', 'm3']);
  assert.equal(store.events(dir), kept, 'the same array while retained');
  store.release(dir);
  fs.appendFileSync(file, log(4) + log(5).slice(0, 12));
  store.refresh(dir);
  assert.notEqual(store.events(dir), kept);
  assert.deepEqual(
    messages([...store.events(dir)]),
    ['m1', 'm2', 'm3', 'm4'],
    'read from the file, without the partial line',
  );

  const steps = [1, 2, 3].map((n) =>
    line({
      type: 'step',
      step: n,
      stage: 0,
      epoch: 1,
      lr: 1e-4,
      loss: 1 / n,
      terms: [],
      gradNorm: 1,
      examplesPerSec: 5,
      elapsedMs: n,
    }),
  );
  fs.appendFileSync(file, '\n' + steps.join(''));
  store.refresh(dir);
  const incremental = store.state(dir);
  const whole = new RunStore(() => false);
  whole.refresh(dir);
  assert.deepEqual(incremental, whole.state(dir));
  assert.equal(incremental?.step, 3);
});
