// One test per bug the fuzzers (test/fuzz-*.test.ts) found, each the shrunk counterexample, so
// the bug stays fixed even if the random search would not hit it again (issue #19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as os from 'node:os';
import { validateConfig } from '../src/config/validate';

const FILE = path.join(os.tmpdir(), 'fuzz-regression.distill.json');

test('an unclosed comment at the very end: the syntax error\'s range stays inside the text', () => {
  const text = '{ "algorithm": "sid" }/*';
  const { problems } = validateConfig(text, FILE);
  assert.ok(problems.length > 0);
  for (const p of problems) {
    assert.ok(p.range && p.range.offset + p.range.length <= text.length, JSON.stringify(p));
  }
});
