// The CLI's top level, run as a user would (bin/distillery.js → dist/cli.js): a user error is a
// message and a fix, never a stack trace; an internal error is ONE line that says it is a bug,
// where the log with the stack was written, and how to report it (issue #19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureCliBuilt, expectUserError, runCli } from '../helpers/run-cli';
import { internalErrorLine, reportInternalError } from '../../src/cli/crash-report';

test('user errors: a message and a fix, no stack trace', () => {
  ensureCliBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cli-errors-'));
  expectUserError(runCli(['train', path.join(dir, 'missing.distill.json')]), 'train');
  fs.mkdirSync(path.join(dir, 'model'));
  fs.writeFileSync(path.join(dir, 'model', 'config.json'), '{"model_type": "bert", "num_labels": 1e308}');
  expectUserError(runCli(['inspect', path.join(dir, 'model'), '--text', 'hi']), 'inspect');
  expectUserError(runCli(['export', dir]), 'export');
  // A step count that would run for ever is refused like any other bad flag.
  assert.match(
    expectUserError(runCli(['bench', '--shape', 'tiny', '--repeats', '1e308']), 'bench'),
    /--repeats: must be an integer from 1 to 10000/,
  );
});

test('an internal error prints one line naming the bug, the log file with the stack, and how to report it', () => {
  ensureCliBuilt();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-crash-'));
  const r = runCli(['validate', 'whatever.distill.json'], {
    env: { DISTILLERY_TEST_INTERNAL_ERROR: 'validate', TMPDIR: tmp },
  });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^distillery validate: internal error \(a bug in Distillery, not in your input\): Error: deliberate internal error/,
  );
  assert.match(lines[0], /report it/);
  const log = /the stack trace is in (\S+);/.exec(lines[0])?.[1];
  assert.ok(log, lines[0]);
  assert.equal(path.dirname(log), tmp, 'the log is in the temporary folder ($TMPDIR)');
  const text = fs.readFileSync(log, 'utf8');
  assert.match(text, /^Distillery \S+ internal error/);
  assert.match(text, /command: distillery "validate" "whatever\.distill\.json"/);
  assert.match(text, /^\s+at /m, 'the log has the stack');
  // Written atomically: no temporary file is left beside it.
  assert.deepEqual(fs.readdirSync(tmp), [path.basename(log)]);
});

test('the log goes into a given folder (a run folder), else the temporary folder; the line says when none could be written', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-crash-dir-'));
  const err = new Error('boom', { cause: new TypeError('inner') });
  const line = reportInternalError('train', err, { version: '0.0.0', argv: ['train', 'x'], dir });
  const log = /the stack trace is in (\S+);/.exec(line)?.[1] ?? '';
  assert.equal(path.dirname(log), dir);
  assert.match(fs.readFileSync(log, 'utf8'), /caused by:\nTypeError: inner/);
  assert.match(
    internalErrorLine('train', 'a\nb', undefined),
    /: a; the stack trace could not be written to a log file; please report it/,
  );
});

test('an internal error during a run: one line naming the bug, the log with the stack in the run folder, the run marked failed', () => {
  ensureCliBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-crash-run-'));
  const teacher = path.join(dir, 'teacher');
  fs.mkdirSync(teacher);
  fs.writeFileSync(
    path.join(teacher, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 2,
      hidden_size: 32,
      num_attention_heads: 4,
      intermediate_size: 64,
      id2label: { 0: 'a', 1: 'b' },
    }),
  );
  for (const f of ['model.safetensors', 'vocab.txt']) fs.writeFileSync(path.join(teacher, f), '');
  fs.mkdirSync(path.join(dir, 'SST-2'));
  for (const f of ['train.tsv', 'dev.tsv']) fs.writeFileSync(path.join(dir, 'SST-2', f), 'sentence\tlabel\nfine\t1\n');
  const file = path.join(dir, 'run.distill.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ task: { name: 'sst2', dataDir: 'SST-2' }, teacher: { checkpoint: 'teacher' }, algorithm: 'soft' }),
  );
  const r = runCli(['train', file, '--backend', 'cpu'], { env: { DISTILLERY_TEST_INTERNAL_ERROR: 'run' } });
  assert.equal(r.status, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace on the terminal');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('distillery train:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^distillery train: internal error \(a bug in Distillery, not in your input\): Error: deliberate internal error in a run/,
  );
  const log = /the stack trace is in (\S+);/.exec(lines[0])?.[1] ?? '';
  const runDir = path.dirname(log);
  assert.equal(path.dirname(runDir), path.join(dir, 'runs'), 'the log is in the run folder');
  assert.match(fs.readFileSync(log, 'utf8'), /^\s+at /m);
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).status, 'failed');
});
