// `distillery inspect`, run as a user runs it, against an independent PyTorch model
// (test/reference/make_reference.py, built from torch's own modules and saved in the Hugging Face
// layout): the CLI's tokens, ids, logits, attention probabilities and per-layer [CLS] states for a
// text are what torch computes for the same text. Plus the readable output and the user errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';
import { ensureCliBuilt, expectUserError, runCli } from '../helpers/run-cli';
import type { InspectResult } from '../../src/cli/verbs/inspect';

import { PYTHON } from '../helpers/python';
const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'make_reference.py');

interface TorchOutputs {
  logits: number[][];
  cls_hidden_states: number[][][];
  attentions: number[][][][][];
}

interface Expected {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  float32: TorchOutputs;
  float64: TorchOutputs;
}

let tmp: string;

before(() => {
  ensureCliBuilt();
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (r.status !== 0) {
    assert.fail(
      `${PYTHON} cannot import torch and numpy; the reference tests need the venv's PyTorch: run \`bash scripts/setup-python.sh\``,
    );
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-cli-inspect-'));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A PyTorch reference checkpoint whose inputs are `text` (and `pair`) tokenised by its vocabulary. */
function makeReference(
  name: string,
  text: string,
  pair: string | undefined,
  args: string[],
): { dir: string; expected: Expected } {
  const dir = path.join(tmp, name);
  const textArgs = ['--text', text, ...(pair === undefined ? [] : ['--text-pair', pair])];
  const r = spawnSync(PYTHON, [SCRIPT, dir, ...args, ...textArgs], { encoding: 'utf8' });
  assert.equal(r.status, 0, `make_reference.py failed:\n${r.stderr}`);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
  return { dir, expected };
}

function inspectJson(dir: string, text: string, pair?: string, extra: string[] = []): InspectResult {
  const args = [
    'inspect',
    dir,
    '--text',
    text,
    ...(pair === undefined ? [] : ['--text-pair', pair]),
    ...extra,
    '--json',
    '--backend',
    'wasm',
  ];
  const r = runCli(args);
  assert.equal(r.status, 0, `distillery ${args.join(' ')} failed:\n${r.stderr}`);
  assert.match(r.stderr, /backend: wasm/);
  return JSON.parse(r.stdout) as InspectResult;
}

function maxAbsDiff(actual: unknown[], expected: unknown[]): number {
  const a = actual.flat(Infinity as 1) as number[];
  const e = expected.flat(Infinity as 1) as number[];
  assert.equal(a.length, e.length, 'element count');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - e[i]));
  return m;
}

/** The CLI's numbers against torch's, in float32 and in float64 (the exact answer). */
function checkAgainstTorch(got: InspectResult, expected: Expected, layers: number): void {
  assert.equal(got.backend, 'wasm');
  assert.deepEqual(got.inputIds, expected.inputs.input_ids[0]);
  assert.deepEqual(got.tokenTypeIds, expected.inputs.token_type_ids[0]);
  assert.equal(got.tokens.length, got.inputIds.length);
  assert.equal(got.attentions.length, layers);
  assert.equal(got.hiddenCls.length, layers + 1);
  for (const [precision, want] of [
    ['float32', expected.float32],
    ['float64', expected.float64],
  ] as const) {
    const logitsErr = maxAbsDiff(got.logits, want.logits[0]);
    assert.ok(logitsErr <= 1e-4, `logits vs torch ${precision}: ${logitsErr}`);
    for (let k = 0; k < layers; k++) {
      // torch: [layer][batch][head][query][key]; the CLI: [layer][head][query][key] of its one input.
      const err = maxAbsDiff(got.attentions[k], want.attentions[k][0]);
      assert.ok(err <= 1e-5, `layer ${k + 1} attention probabilities vs torch ${precision}: ${err}`);
    }
    for (let k = 0; k <= layers; k++) {
      const err = maxAbsDiff(got.hiddenCls[k], want.cls_hidden_states[k][0]);
      assert.ok(err <= 1e-4, `[CLS] after ${k === 0 ? 'the embeddings' : `layer ${k}`} vs torch ${precision}: ${err}`);
    }
  }
}

test('inspect matches PyTorch on a sentence pair: tokens, ids, logits, attentions, [CLS] states (2 layers, 4 heads)', () => {
  const text = 'The cat sat on the mat.';
  const pair = 'A dog ran fast!';
  const ref = makeReference('pair', text, pair, [
    '--seed',
    '3',
    '--layers',
    '2',
    '--hidden',
    '32',
    '--heads',
    '4',
    '--num-labels',
    '2',
  ]);
  const got = inspectJson(ref.dir, text, pair);
  // The reference vocabulary has no punctuation: "." and "!" are [UNK].
  assert.deepEqual(got.tokens, [
    '[CLS]',
    'the',
    'cat',
    'sat',
    'on',
    'the',
    'mat',
    '[UNK]',
    '[SEP]',
    'a',
    'dog',
    'ran',
    'fast',
    '[UNK]',
    '[SEP]',
  ]);
  assert.deepEqual(got.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  checkAgainstTorch(got, ref.expected, 2);
  assert.equal(got.model.layers, 2);
  assert.equal(got.model.heads, 4);
  assert.equal(got.probabilities.length, 2);
  assert.ok(Math.abs(got.probabilities[0] + got.probabilities[1] - 1) < 1e-9);
  const best = got.logits[0] >= got.logits[1] ? 0 : 1;
  assert.equal(got.prediction, `LABEL_${best}`);
});

test('inspect matches PyTorch on one sentence with a regression head (3 layers, 3 heads, eps 1e-5)', () => {
  const text = 'it was not a very good movie';
  const ref = makeReference('single', text, undefined, [
    '--seed',
    '4',
    '--layers',
    '3',
    '--hidden',
    '48',
    '--heads',
    '3',
    '--intermediate',
    '80',
    '--eps',
    '1e-5',
    '--num-labels',
    '1',
    '--max-pos',
    '24',
    '--std',
    '0.15',
  ]);
  const got = inspectJson(ref.dir, text);
  assert.deepEqual(got.tokens, ['[CLS]', 'it', 'was', 'not', 'a', 'very', 'good', 'movie', '[SEP]']);
  assert.ok(got.tokenTypeIds.every((t) => t === 0));
  checkAgainstTorch(got, ref.expected, 3);
  assert.deepEqual(got.probabilities, [], 'a regression head has no class probabilities');
  assert.equal(got.prediction, got.logits[0]);
});

test('inspect prints a readable summary without --json, and --max-len truncates', () => {
  const dir = path.join(tmp, 'pair');
  assert.ok(fs.existsSync(dir), 'runs after the first test');
  const text = 'the small dog was very fast';
  const r = runCli(['inspect', dir, '--text', text, '--backend', 'wasm']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tokens\s+\[CLS\] the small dog was very fast \[SEP\]$/m);
  assert.match(r.stdout, /^logits\s+\[-?\d+\.\d{4}, -?\d+\.\d{4}\]$/m);
  assert.match(r.stdout, /^prediction\s+LABEL_[01]$/m);
  assert.match(r.stdout, /^backend\s+wasm$/m);
  assert.match(r.stdout, /^ {2}layer 2: /m, 'per-layer attention summary');
  assert.throws(() => JSON.parse(r.stdout), 'the summary is not JSON');

  const truncated = inspectJson(dir, text, undefined, ['--max-len', '4']);
  assert.deepEqual(truncated.tokens, ['[CLS]', 'the', 'small', '[SEP]']);
  assert.equal(truncated.attentions[0][0].length, 4, 'attention maps are 4 × 4');
  assert.equal(truncated.attentions[0][0][0].length, 4);
});

test('inspect: user errors exit 2 with a message and no stack trace', () => {
  const missing = path.join(tmp, 'no-such-model');
  let err = expectUserError(runCli(['inspect', missing, '--text', 'hi', '--backend', 'wasm']), 'inspect');
  assert.ok(err.includes(missing), 'names the folder');
  assert.match(err, /does not exist/);

  const ref = path.join(tmp, 'pair');
  assert.ok(fs.existsSync(ref), 'runs after the first test');
  err = expectUserError(runCli(['inspect', ref, '--backend', 'wasm']), 'inspect');
  assert.match(err, /--text/);

  // A folder as transformers' older save_pretrained leaves it: config.json + pytorch_model.bin.
  const pickled = path.join(tmp, 'pickled');
  fs.mkdirSync(pickled);
  fs.copyFileSync(path.join(ref, 'config.json'), path.join(pickled, 'config.json'));
  fs.copyFileSync(path.join(ref, 'vocab.txt'), path.join(pickled, 'vocab.txt'));
  fs.writeFileSync(path.join(pickled, 'pytorch_model.bin'), 'not really a pickle');
  err = expectUserError(runCli(['inspect', pickled, '--text', 'hi', '--backend', 'wasm']), 'inspect');
  assert.ok(err.includes('pytorch_model.bin'), 'names the file');
  assert.match(err, /safetensors/);
  assert.match(err, /convert/);

  err = expectUserError(runCli(['inspect', ref, '--text', 'hi', '--backend', 'gpu']), 'inspect');
  assert.match(err, /unknown backend "gpu"/);
  err = expectUserError(
    runCli(['inspect', ref, '--text', 'a', '--text-pair', 'b', '--max-len', '2', '--backend', 'wasm']),
    'inspect',
  );
  assert.match(err, /--max-len: must be an integer of at least 3/);
});
