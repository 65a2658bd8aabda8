// The real pre-trained checkpoint (all-MiniLM-L6-v2, fetched by scripts/fetch-pretrained.sh), as
// the study's teachers start from it: `distillery inspect --json` gives transformers' own
// BertForSequenceClassification numbers on it (test/reference/pretrained_reference.py), on a
// save_pretrained export with a head, and on the fetched sentence-transformers folder as it is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';
import { PRETRAINED_DIR, pretrainedMissing } from '../helpers/pretrained';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import type { InspectResult } from '../../src/cli/verbs/inspect';

const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'pretrained_reference.py');
const PY_MODULES = ['torch', 'transformers', 'safetensors'];
const skip = pretrainedMissing() || (pythonHas(...PY_MODULES) ? false : pythonMissing(...PY_MODULES));

interface Expected {
  input_ids: number[];
  token_type_ids: number[];
  logits: number[];
  cls_hidden_states: number[][];
  attentions: number[][][][];
  transformers: string;
}

const TEXT = "The teacher's attention maps are what the student learns to copy.";
const PAIR = 'Does a smaller student learn them?';
let tmp: string;
let exportDir: string;
let expected: Expected;

before(() => {
  if (skip) return;
  ensureCliBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-pretrained-parity-'));
  exportDir = path.join(tmp, 'with-head');
  const r = spawnSync(
    PYTHON,
    [SCRIPT, PRETRAINED_DIR, exportDir, '--text', TEXT, '--text-pair', PAIR, '--labels', '2', '--seed', '0'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `pretrained_reference.py failed:\n${r.stderr}`);
  expected = JSON.parse(fs.readFileSync(path.join(exportDir, 'expected.json'), 'utf8')) as Expected;
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function inspect(dir: string): InspectResult {
  const args = ['inspect', dir, '--text', TEXT, '--text-pair', PAIR, '--json', '--backend', 'wasm'];
  const r = runCli(args);
  assert.equal(r.status, 0, `distillery ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as InspectResult;
}

function maxAbsDiff(actual: unknown[], want: unknown[]): number {
  const a = actual.flat(Infinity as 1) as number[];
  const e = want.flat(Infinity as 1) as number[];
  assert.equal(a.length, e.length, 'element count');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - e[i]));
  return m;
}

/** Checks the encoder's numbers; returns the largest differences, for the test's diagnostics. */
function checkEncoder(got: InspectResult): { attention: number; cls: number } {
  assert.deepEqual(got.inputIds, expected.input_ids, "token ids (transformers' tokenizer.json vs our WordPiece)");
  assert.deepEqual(got.tokenTypeIds, expected.token_type_ids);
  assert.equal(got.model.layers, 6);
  assert.equal(got.model.hidden, 384);
  assert.equal(got.attentions.length, 6);
  const worst = { attention: 0, cls: 0 };
  for (let k = 0; k < 6; k++) {
    const err = maxAbsDiff(got.attentions[k], expected.attentions[k]);
    assert.ok(err <= 1e-5, `layer ${k + 1} attention probabilities vs transformers ${expected.transformers}: ${err}`);
    worst.attention = Math.max(worst.attention, err);
  }
  for (let k = 0; k <= 6; k++) {
    const err = maxAbsDiff(got.hiddenCls[k], expected.cls_hidden_states[k]);
    assert.ok(err <= 1e-4, `[CLS] after ${k === 0 ? 'the embeddings' : `layer ${k}`} vs transformers: ${err}`);
    worst.cls = Math.max(worst.cls, err);
  }
  return worst;
}

test(
  'inspect on all-MiniLM-L6-v2 with a head (saved by transformers) matches BertForSequenceClassification within 1e-4 on logits',
  { skip },
  (t) => {
    const got = inspect(exportDir);
    const worst = checkEncoder(got);
    const err = maxAbsDiff(got.logits, expected.logits);
    assert.ok(
      err <= 1e-4,
      `logits ${JSON.stringify(got.logits)} vs transformers ${JSON.stringify(expected.logits)}: ${err}`,
    );
    t.diagnostic(
      `max |difference| vs transformers ${expected.transformers}: logits ${err.toExponential(1)}, [CLS] states ${worst.cls.toExponential(1)}, attention ${worst.attention.toExponential(1)}`,
    );
    // The head is of unit scale, so the logits are far from 0 and the check is not vacuous.
    assert.ok(Math.max(...expected.logits.map(Math.abs)) > 0.1);
    assert.deepEqual(got.notes, []);
  },
);

test(
  'inspect reads the fetched sentence-transformers folder as it is: the same encoder numbers, a new head noted',
  { skip },
  () => {
    assert.ok(
      fs.existsSync(path.join(PRETRAINED_DIR, 'modules.json')),
      'the fetched folder is a sentence-transformers root',
    );
    const got = inspect(PRETRAINED_DIR);
    checkEncoder(got);
    assert.ok(
      got.notes.some((n) => /no classifier head/.test(n)),
      got.notes.join('\n'),
    );
  },
);
