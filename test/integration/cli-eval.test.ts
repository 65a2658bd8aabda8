// `distillery eval`, run as a user runs it, on the real GLUE dev sets (SST-2, STS-B, CoLA) with small
// random checkpoints that use the real bert-base-uncased vocabulary: metrics, the predictions file
// (GLUE submission layout, file order), checkpoints without a head, and the user errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GLUE_DIR } from '../helpers/paths';
import { ensureCliBuilt, expectUserError, runCli } from '../helpers/run-cli';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import type { EvalResult } from '../../src/cli/verbs/eval';

// 2 layers of 4 heads, 128 positions (the CLI's default maxSeqLen), BERT's initializer std.
const SHAPE = { layers: 2, heads: 4, maxPositions: 128, std: 0.02 };
let tmp: string;
let classifier: string;
let regressor: string;
let headless: string;

before(() => {
  ensureCliBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-cli-eval-'));
  classifier = path.join(tmp, 'classifier');
  regressor = path.join(tmp, 'regressor');
  headless = path.join(tmp, 'headless');
  writeTinyCheckpoint(classifier, { ...SHAPE, numLabels: 2, seed: 11 });
  writeTinyCheckpoint(regressor, { ...SHAPE, regression: true, seed: 12 });
  writeTinyCheckpoint(headless, { ...SHAPE, withoutHead: true, seed: 13 });
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function evalJson(args: string[]): EvalResult {
  const r = runCli(['eval', ...args, '--json', '--backend', 'wasm']);
  assert.equal(r.status, 0, `distillery eval ${args.join(' ')} failed:\n${r.stderr}`);
  assert.match(r.stderr, /backend: wasm/);
  return JSON.parse(r.stdout) as EvalResult;
}

/** Data rows of a GLUE TSV (header dropped when it has one), split into cells. */
function readTsv(file: string, hasHeader: boolean): string[][] {
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  return (hasHeader ? lines.slice(1) : lines).map((l) => l.replace(/\r$/, '').split('\t'));
}

/** The predictions file: its header and the rows after it. */
function readPredictions(file: string): { header: string; rows: string[][] } {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  return { header: lines[0], rows: lines.slice(1).map((l) => l.split('\t')) };
}

test('eval SST-2 dev: accuracy over 872 examples and a predictions file in file order', () => {
  const predFile = path.join(tmp, 'sst2.tsv');
  const result = evalJson([
    classifier,
    '--task',
    'sst2',
    '--data',
    path.join(GLUE_DIR, 'SST-2'),
    '--predictions',
    predFile,
  ]);
  assert.equal(result.task, 'sst2');
  assert.equal(result.split, 'dev');
  assert.equal(result.examples, 872);
  assert.equal(result.file, path.join(GLUE_DIR, 'SST-2', 'dev.tsv'));
  assert.deepEqual(Object.keys(result.metrics), ['accuracy']);
  const accuracy = result.metrics.accuracy;
  assert.ok(accuracy >= 0 && accuracy <= 1, `accuracy ${accuracy}`);
  assert.deepEqual(result.notes, [], 'a checkpoint with a head needs no note');

  const { header, rows } = readPredictions(predFile);
  assert.equal(header, 'index\tprediction');
  assert.equal(rows.length, 872);
  rows.forEach((row, i) => {
    assert.equal(row.length, 2);
    assert.equal(row[0], String(i), 'rows in file order');
    assert.ok(row[1] === '0' || row[1] === '1', `label name, got "${row[1]}"`);
  });
  // The file's predictions are the ones scored: against the gold labels in dev.tsv, in the same order.
  const gold = readTsv(path.join(GLUE_DIR, 'SST-2', 'dev.tsv'), true).map((cells) => cells[1]);
  assert.equal(gold.length, 872);
  const correct = rows.filter((row, i) => row[1] === gold[i]).length;
  assert.equal(correct / 872, accuracy);

  // Another batch size (other padding, other grouping) gives the same predictions: the readable output agrees.
  const r = runCli([
    'eval',
    classifier,
    '--task',
    'SST-2',
    '--data',
    path.join(GLUE_DIR, 'SST-2'),
    '--batch-size',
    '7',
    '--backend',
    'wasm',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^sst2 dev \(872 examples, backend wasm\)$/m);
  assert.match(r.stdout, new RegExp(`^ {2}accuracy +${accuracy.toFixed(4).replace('.', '\\.')}$`, 'm'));
});

test('eval STS-B dev with a regression checkpoint: pearson and spearman, 1500 numeric predictions', () => {
  const predFile = path.join(tmp, 'stsb.tsv');
  const result = evalJson([
    regressor,
    '--task',
    'stsb',
    '--data',
    path.join(GLUE_DIR, 'STS-B'),
    '--predictions',
    predFile,
  ]);
  assert.equal(result.examples, 1500);
  assert.deepEqual(Object.keys(result.metrics).sort(), ['pearson', 'spearman']);
  for (const [name, v] of Object.entries(result.metrics))
    assert.ok(Number.isFinite(v) && v >= -1 && v <= 1, `${name} ${v}`);
  const { header, rows } = readPredictions(predFile);
  assert.equal(header, 'index\tprediction');
  assert.equal(rows.length, 1500);
  rows.forEach((row, i) => {
    assert.equal(row[0], String(i));
    assert.match(row[1], /^-?\d+\.\d{3}$/, 'a score with three decimals');
  });
});

test('eval CoLA dev with a checkpoint without a head: matthews, and a note that the head is random', () => {
  const result = evalJson([headless, '--task', 'cola', '--data', path.join(GLUE_DIR, 'CoLA')]);
  assert.equal(result.examples, readTsv(path.join(GLUE_DIR, 'CoLA', 'dev.tsv'), false).length);
  assert.equal(result.examples, 1043);
  assert.ok('matthews' in result.metrics && 'accuracy' in result.metrics, JSON.stringify(result.metrics));
  const m = result.metrics.matthews;
  assert.ok(Number.isFinite(m) && m >= -1 && m <= 1, `matthews ${m}`);
  assert.ok(
    result.notes.some((n) => /no trained task head/.test(n) && /random/.test(n)),
    JSON.stringify(result.notes),
  );
});

test('eval on an unlabelled test split: predictions but no metrics, and a note that says why', () => {
  const data = path.join(tmp, 'sst2-test');
  fs.mkdirSync(data);
  // The GLUE SST-2 test layout: an index column, then the sentence.
  fs.writeFileSync(
    path.join(data, 'test.tsv'),
    'index\tsentence\n0\ta gripping film\n1\ta dull , lifeless film\n2\tfine\n',
  );
  const predFile = path.join(data, 'predictions.tsv');
  const r = runCli([
    'eval',
    classifier,
    '--task',
    'sst2',
    '--data',
    data,
    '--split',
    'test',
    '--predictions',
    predFile,
    '--backend',
    'wasm',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^sst2 test \(3 examples, backend wasm\)$/m);
  assert.match(r.stderr, /note: the test split has no labels/, 'the reason there are no metrics reaches the user');
  const { header, rows } = readPredictions(predFile);
  assert.equal(header, 'index\tprediction');
  assert.deepEqual(
    rows.map((row) => row[0]),
    ['0', '1', '2'],
  );
  assert.ok(rows.every((row) => row[1] === '0' || row[1] === '1'));
});

test('eval: user errors exit 2 with a message that says what to change', () => {
  const sst2 = path.join(GLUE_DIR, 'SST-2');
  let err = expectUserError(
    runCli(['eval', classifier, '--task', 'sst-3', '--data', sst2, '--backend', 'wasm']),
    'eval',
  );
  assert.match(err, /unknown task "sst-3"/);
  assert.match(err, /did you mean sst2/);

  err = expectUserError(runCli(['eval', classifier, '--task', 'sst2', '--backend', 'wasm']), 'eval');
  assert.match(err, /--data/);

  // A folder without the task's files: the message names the file it looked for.
  const empty = path.join(tmp, 'empty-data');
  fs.mkdirSync(empty);
  err = expectUserError(runCli(['eval', classifier, '--task', 'sst2', '--data', empty, '--backend', 'wasm']), 'eval');
  assert.ok(err.includes(path.join(empty, 'dev.tsv')), err);

  const nowhere = path.join(tmp, 'no-such-folder');
  err = expectUserError(runCli(['eval', classifier, '--task', 'sst2', '--data', nowhere, '--backend', 'wasm']), 'eval');
  assert.ok(err.includes(nowhere), err);
  assert.doesNotMatch(err, /task\.dataDir/, 'eval names its flags, not config fields');

  // Another task's files: the hint names --task and --data.
  err = expectUserError(
    runCli(['eval', classifier, '--task', 'sst2', '--data', path.join(GLUE_DIR, 'CoLA'), '--backend', 'wasm']),
    'eval',
  );
  assert.match(err, /this looks like a CoLA file, not SST-2; check --task and --data/);

  // A 2-class checkpoint cannot answer a regression task.
  err = expectUserError(
    runCli(['eval', classifier, '--task', 'stsb', '--data', path.join(GLUE_DIR, 'STS-B'), '--backend', 'wasm']),
    'eval',
  );
  assert.match(err, /2 outputs but the task needs 1/);

  err = expectUserError(
    runCli(['eval', classifier, '--task', 'sst2', '--data', sst2, '--split', 'dev_mismatched', '--backend', 'wasm']),
    'eval',
  );
  assert.match(err, /no split "dev_mismatched"/);
  err = expectUserError(
    runCli(['eval', classifier, '--task', 'sst2', '--data', sst2, '--batch-size', '0', '--backend', 'wasm']),
    'eval',
  );
  assert.match(err, /--batch-size/);
});
