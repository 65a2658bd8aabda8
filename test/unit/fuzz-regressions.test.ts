// One test per bug the fuzzers (test/unit/fuzz-*.test.ts) found, each the shrunk counterexample, so
// the bug stays fixed even if the random search would not hit it again (issue #19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as os from 'node:os';
import { validateConfig } from '../../src/validate/validate';
import { eventProblem, parseEventLine } from '../../src/protocol/events';

const FILE = path.join(os.tmpdir(), 'fuzz-regression.distill.json');

test("an unclosed comment at the very end: the syntax error's range stays inside the text", () => {
  const text = '{ "algorithm": "sid" }/*';
  const { problems } = validateConfig(text, FILE);
  assert.ok(problems.length > 0);
  for (const p of problems) {
    assert.ok(p.range && p.range.offset + p.range.length <= text.length, JSON.stringify(p));
  }
});

test('an event line whose type is "__proto__" (or another Object.prototype member) is not a known event', () => {
  for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const line = JSON.stringify({ v: 1, time: '2026-11-26T02:08:55.672Z', runId: 'r', type, stage: 0 });
    const r = parseEventLine(line);
    assert.equal(r.event, undefined, type);
    assert.equal(r.unknown?.type, type);
    assert.equal(eventProblem(JSON.parse(line)), `unknown event type '${type}'`);
  }
});

test('a measured field holding "constructor" stays a string (only "NaN", "Infinity", "-Infinity" are revived)', () => {
  const line = JSON.stringify({
    v: 2,
    time: '2026-11-26T02:08:55.672Z',
    runId: 'r',
    type: 'eval',
    step: 1,
    metrics: { accuracy: 'constructor' },
    loss: 'toString',
  });
  const r = parseEventLine(line);
  const raw = r.unknown?.raw as { metrics: Record<string, unknown>; loss: unknown } | undefined;
  assert.equal(raw?.metrics.accuracy, 'constructor');
  assert.equal(raw?.loss, 'toString');
});
