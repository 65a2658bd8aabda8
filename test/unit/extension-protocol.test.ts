import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHostMessage, isWebviewMessage, HostMessage, RunSnapshot } from '../../src/protocol/webview-messages';
import { createEvent, parseEventLine, TrainerEvent, TrainerEventBody } from '../../src/protocol/events';
import { Clock, EventBatcher } from '../../src/extension/event-batcher';
import {
  contentSecurityPolicy,
  dashboardHtml,
  isInside,
  makeNonce,
  parsePanelState,
} from '../../src/extension/dashboard-html';
import { toWire, toWireAll } from '../../src/extension/wire';

const ev = (body: TrainerEventBody): TrainerEvent => createEvent('run-1', body) as TrainerEvent;
const step = (n: number, loss = 0.5): TrainerEvent =>
  ev({
    type: 'step',
    step: n,
    stage: 0,
    epoch: 1,
    lr: 1e-4,
    loss,
    terms: [{ name: 'soft-label', value: loss, weight: 1 }],
    gradNorm: 1,
    examplesPerSec: 10,
    elapsedMs: n,
  });

/** What the webview receives: VS Code sends postMessage payloads as JSON. */
const overTheWire = <T>(x: T): unknown => JSON.parse(JSON.stringify(x));

test('isWebviewMessage: every message the contract allows, and nothing malformed', () => {
  for (const m of [
    { type: 'ready' },
    { type: 'stop-run', runId: 'a' },
    { type: 'resume-run', runId: 'a' },
    { type: 'reveal', path: 'student' },
    { type: 'add-to-compare' },
    { type: 'error', message: 'boom' },
  ])
    assert.equal(isWebviewMessage(m), true, JSON.stringify(m));
  for (const m of [
    null,
    undefined,
    'ready',
    [],
    {},
    { type: 'stop-run' },
    { type: 'stop-run', runId: '' },
    { type: 'resume-run', runId: 3 },
    { type: 'reveal' },
    { type: 'reveal', path: 5 },
    { type: 'error' },
    { type: 'delete-everything' },
  ])
    assert.equal(isWebviewMessage(m), false, JSON.stringify(m));
});

test("the host's init and events messages pass the webview's guard after JSON serialization", () => {
  const events = [
    ev({ type: 'stage-started', stage: 0, name: 'layer 1', kind: 'internal', epochs: 1, stepsPlanned: 4 }),
    step(1),
    step(2),
    ev({
      type: 'attention-sample',
      step: 2,
      tokens: ['[CLS]', 'a'],
      layers: [
        {
          student: 1,
          teacher: 2,
          teacherMaps: [
            [
              [0.5, 0.5],
              [1, 0],
            ],
          ],
          studentMaps: [
            [
              [0.4, 0.6],
              [0.9, 0.1],
            ],
          ],
        },
      ],
    }),
  ];
  const run: RunSnapshot = {
    runId: 'run-1',
    runDir: '/ws/runs/run-1',
    label: 'sst2-sid',
    status: 'running',
    events: toWireAll(events),
  };
  const init: HostMessage = { type: 'init', view: 'run', runs: [run] };
  assert.equal(isHostMessage(overTheWire(init)), true);
  assert.equal(isHostMessage(overTheWire({ type: 'events', runId: 'run-1', events: toWireAll([step(3)]) })), true);
  assert.equal(
    isHostMessage(
      overTheWire({ type: 'run-status', runId: 'run-1', status: 'stopped', message: 'stopped by SIGTERM' }),
    ),
    true,
  );
  // Finite events go as they are, without a copy.
  assert.equal(toWire(events[1]), events[1]);
});

test("a diverged step (NaN loss) crosses JSON in the trainer's wire form and revives to NaN", () => {
  const bad = step(7, NaN);
  const plain = overTheWire(bad) as { loss: unknown };
  assert.equal(plain.loss, null, 'plain JSON loses NaN: the reason for toWire');
  const wired = overTheWire(toWire(bad));
  assert.equal((wired as { loss: unknown }).loss, 'NaN');
  const revived = parseEventLine(JSON.stringify(wired));
  assert.ok(revived.event && revived.event.type === 'step');
  assert.ok(Number.isNaN(revived.event.loss));
  assert.ok(Number.isNaN(revived.event.terms[0].value));
  // The original event is untouched.
  assert.ok(Number.isNaN(bad.type === 'step' ? bad.loss : 0));
});

/** A clock the test moves by hand. */
class ManualClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
    this.t = end;
  }
}

test('EventBatcher: the first events go at once, the rest at most every 100 ms, in order, per run', () => {
  const clock = new ManualClock();
  const sent: Array<{ t: number; runId: string; steps: number[] }> = [];
  const b = new EventBatcher(
    (runId, events) =>
      sent.push({ t: clock.now(), runId, steps: events.map((e) => (e.type === 'step' ? e.step : -1)) }),
    100,
    clock,
  );
  b.push('a', [step(1)]);
  assert.deepEqual(sent, [{ t: 0, runId: 'a', steps: [1] }]);
  // A trainer logging a step every 5 ms for one second.
  for (let i = 2; i <= 201; i++) {
    clock.advance(5);
    b.push('a', [step(i)]);
    if (i % 50 === 0) b.push('b', [step(i)]);
  }
  clock.advance(200);
  const toA = sent.filter((s) => s.runId === 'a');
  assert.deepEqual(
    toA.flatMap((s) => s.steps),
    Array.from({ length: 201 }, (_, i) => i + 1),
  );
  const flushTimes = [...new Set(sent.map((s) => s.t))];
  assert.ok(flushTimes.length <= 12, `${flushTimes.length} flushes in ~1.2 s`);
  for (let i = 1; i < flushTimes.length; i++) assert.ok(flushTimes[i] - flushTimes[i - 1] >= 100);
  assert.deepEqual(
    sent.filter((s) => s.runId === 'b').flatMap((s) => s.steps),
    [50, 100, 150, 200],
  );
  assert.equal(b.pendingCount, 0);
  // clear() drops pending events (the webview gets a full init instead).
  b.push('a', [step(300)]);
  b.push('a', [step(301)]);
  b.clear();
  clock.advance(500);
  assert.ok(!sent.some((s) => s.steps.includes(301)));
});

test('dashboard HTML: strict CSP with a nonce, no remote or inline code, escaped title', () => {
  const nonce = makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{16,}$/);
  assert.notEqual(makeNonce(), nonce);
  const html = dashboardHtml({
    cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
    nonce,
    scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js',
    styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.css',
    title: 'Distillery: <sst2> & "sid"',
    view: 'compare',
  });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? '';
  assert.equal(csp, contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', nonce));
  assert.match(csp, /^default-src 'none'; /);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const scripts = [...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
  assert.equal(scripts.length, 1);
  assert.ok(scripts[0].includes(`nonce="${nonce}"`) && scripts[0].includes('dist/webview.js'));
  assert.match(html, /<title>Distillery: &lt;sst2&gt; &amp; &quot;sid&quot;<\/title>/);
  assert.match(html, /data-view="compare"/);
  assert.match(html, /id="root"/);
});

test('panel state after a reload: the shapes a webview may keep; reveal requests stay inside run folders', () => {
  assert.deepEqual(parsePanelState({ view: 'compare', runDirs: ['/a', '/b', '/a'] }), {
    view: 'compare',
    runDirs: ['/a', '/b'],
  });
  assert.deepEqual(parsePanelState({ view: 'run', runs: [{ runDir: '/a', events: [] }] }), {
    view: 'run',
    runDirs: ['/a'],
  });
  assert.deepEqual(parsePanelState({ runDir: '/x' }), { view: 'run', runDirs: ['/x'] });
  // The webview's own UI state (tab, zoom…) names no run: the host falls back to what it remembered.
  assert.equal(parsePanelState({ tab: 'training', layer: 0 }), undefined);
  assert.equal(parsePanelState(null), undefined);

  assert.equal(isInside('/ws/runs/a/student/config.json', ['/ws/runs/a']), true);
  assert.equal(isInside('/ws/runs/a', ['/ws/runs/a']), true);
  assert.equal(isInside('/ws/runs/ab/x', ['/ws/runs/a']), false);
  assert.equal(isInside('/ws/runs/a/../../../etc/passwd', ['/ws/runs/a']), false);
  assert.equal(isInside('C:\\ws\\runs\\a\\best', ['C:\\ws\\runs\\a'], '\\'), true);
});
