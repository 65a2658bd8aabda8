// The layouts real pre-trained checkpoints come in (sentence-transformers roots, wrapper-prefixed
// tensor names, int64 buffers, no pooler), each on a small made checkpoint: the loader must read
// the same weights as from the plain Hugging Face folder, say what it did, and refuse what it cannot use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { resolveModelFolder } from '../../src/model/model-folder';
import { validateConfig } from '../../src/validate/validate';
import { startRun } from '../../src/train/run';
import { isUserError, UserError } from '../../src/util/errors';
import { customSst2Task, eventsOf, tmpDir, writeConfig } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import { writeVariant } from '../helpers/checkpoint-variants';

const MAX_POS = 64;

/** A tiny bare encoder (as a pre-trained checkpoint comes: no classifier head) in the plain layout. */
function baseCheckpoint(): string {
  const dir = path.join(tmpDir('distillery-layouts-'), 'plain');
  writeTinyCheckpoint(dir, {
    layers: 2,
    hidden: 32,
    heads: 2,
    intermediate: 64,
    maxPositions: MAX_POS,
    withoutHead: true,
  });
  return dir;
}

function assertSameTensors(a: ReturnType<typeof loadCheckpoint>, b: ReturnType<typeof loadCheckpoint>): void {
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name)!;
    assert.deepEqual(u.shape, t.shape, name);
    assert.deepEqual(u.data, t.data, name);
  }
  assert.deepEqual(a.config, b.config);
}

function throwsUser(fn: () => unknown, message: RegExp, where?: RegExp): UserError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(isUserError(caught), `expected a UserError, got ${String(caught)}`);
  assert.match(caught.message, message);
  if (where) assert.match(caught.where ?? '', where);
  return caught;
}

test('a sentence-transformers root with the encoder in 0_Transformer/ (listed in modules.json) loads as the plain folder', () => {
  const plain = baseCheckpoint();
  const root = path.join(path.dirname(plain), 'st');
  const inner = writeVariant(plain, root, { layout: 'st-subfolder' });
  const ref = loadCheckpoint(plain);
  const ck = loadCheckpoint(root);
  assertSameTensors(ref, ck);
  assert.equal(ck.dir, inner);
  assert.equal(ck.vocabFile, path.join(inner, 'vocab.txt'));
  assert.ok(
    ck.notes.some((n) =>
      /sentence-transformers model: read the BERT encoder from 0_Transformer\/ \(modules\.json\)/.test(n),
    ),
    ck.notes.join('\n'),
  );
  assert.equal(ck.hasPooler, true);
});

test('without modules.json, a 0_Transformer/ subfolder is still found; a root holding the model is read in place', () => {
  const plain = baseCheckpoint();
  const unlisted = path.join(path.dirname(plain), 'unlisted');
  writeVariant(plain, unlisted, { layout: 'st-subfolder-unlisted' });
  assertSameTensors(loadCheckpoint(plain), loadCheckpoint(unlisted));
  assert.equal(resolveModelFolder(unlisted).dir, path.join(unlisted, '0_Transformer'));

  const inRoot = path.join(path.dirname(plain), 'in-root');
  writeVariant(plain, inRoot, { layout: 'st-root' });
  const ck = loadCheckpoint(inRoot);
  assertSameTensors(loadCheckpoint(plain), ck);
  assert.equal(ck.dir, inRoot);
  assert.equal(resolveModelFolder(inRoot).note, undefined);
});

test('a modules.json without a Transformer module, or naming a folder without config.json, is refused naming modules.json', () => {
  const plain = baseCheckpoint();
  const root = path.join(path.dirname(plain), 'st');
  writeVariant(plain, root, { layout: 'st-subfolder' });
  const modules = path.join(root, 'modules.json');
  const listed = JSON.parse(fs.readFileSync(modules, 'utf8')) as Array<{ path: string; type: string }>;

  fs.writeFileSync(modules, JSON.stringify(listed.slice(1)));
  const e1 = throwsUser(
    () => loadCheckpoint(root),
    /lists no Transformer module \(types: sentence_transformers\.models\.Pooling\)/,
    /modules\.json$/,
  );
  assert.match(e1.fix ?? '', /sentence_transformers\.models\.Transformer/);

  fs.writeFileSync(modules, JSON.stringify([{ ...listed[0], path: '2_Missing' }, listed[1]]));
  throwsUser(
    () => loadCheckpoint(root),
    /places the Transformer module in "2_Missing", but that folder has no config\.json/,
    /modules\.json$/,
  );

  fs.writeFileSync(modules, '{ not json');
  throwsUser(() => loadCheckpoint(root), /modules\.json cannot be read as JSON/, /modules\.json$/);
});

test('wrapper prefixes (0.auto_model., model., module.), TF-style gamma/beta and int64 position_ids buffers are read as the plain names', () => {
  const plain = baseCheckpoint();
  const ref = loadCheckpoint(plain);
  const variants: Array<[string, (n: string) => string, string]> = [
    // A SentenceTransformer's own state_dict.
    ['sentence-transformers state_dict', (n) => `0.auto_model.${n}`, '0.auto_model.'],
    // A BertModel saved as the `model` attribute of a wrapper, with TF-style LayerNorm names.
    [
      'model. + gamma/beta',
      (n) =>
        `model.${n.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta')}`,
      'model.',
    ],
    // DataParallel around BertForSequenceClassification-style names.
    ['module.bert.', (n) => `module.bert.${n}`, 'module.bert.'],
  ];
  for (const [label, rename, prefix] of variants) {
    const dest = path.join(path.dirname(plain), label.replace(/[^a-z]+/gi, '-'));
    writeVariant(plain, dest, { rename, positionIdsPrefix: prefix, maxPositions: MAX_POS });
    const ck = loadCheckpoint(dest);
    assertSameTensors(ref, ck);
    const notes = ck.notes.join('\n');
    assert.match(notes, /read \d+ tensors without their wrapper prefix/, label);
    assert.doesNotMatch(notes, /position_ids|ignored \d+ tensors/, `${label}: the buffer is dropped silently`);
    if (label.includes('gamma')) assert.match(notes, /read 10 TF-style LayerNorm gamma\/beta tensors as weight\/bias/);
  }
});

test('an encoder without a pooler gets a fresh, reproducible one (with a note); a head without its pooler is refused', () => {
  const plain = baseCheckpoint();
  const ref = loadCheckpoint(plain);
  const dest = path.join(path.dirname(plain), 'no-pooler');
  writeVariant(plain, dest, { layout: 'st-subfolder', rename: (n) => (n.startsWith('pooler.') ? null : n) });
  const ck = loadCheckpoint(dest);
  assert.equal(ck.hasPooler, false);
  assert.match(ck.notes.join('\n'), /no pooler in model\.safetensors: a freshly initialised one \(normal, std 0\.02\)/);
  const w = ck.tensors.get('bert.pooler.dense.weight')!;
  const b = ck.tensors.get('bert.pooler.dense.bias')!;
  assert.deepEqual(w.shape, [32, 32]);
  assert.ok(b.data.every((v) => v === 0));
  const std = Math.sqrt(w.data.reduce((s, v) => s + v * v, 0) / w.data.length);
  assert.ok(std > 0.015 && std < 0.025, `pooler std ${std}`);
  assert.deepEqual(
    loadCheckpoint(dest).tensors.get('bert.pooler.dense.weight')!.data,
    w.data,
    'the same pooler on every load',
  );
  // Everything else is the checkpoint's own.
  for (const [name, t] of ref.tensors)
    if (!name.startsWith('bert.pooler.')) assert.deepEqual(ck.tensors.get(name)!.data, t.data, name);

  // A classifier trained on a pooler that is not there cannot be used as it is.
  const headed = path.join(path.dirname(plain), 'headed');
  writeTinyCheckpoint(headed, { layers: 2, hidden: 32, heads: 2, intermediate: 64, maxPositions: MAX_POS });
  const headNoPooler = path.join(path.dirname(plain), 'head-no-pooler');
  writeVariant(headed, headNoPooler, { rename: (n) => (n.startsWith('bert.pooler.') ? null : n) });
  throwsUser(() => loadCheckpoint(headNoPooler), /has a classifier head but no pooler/, /model\.safetensors$/);
  const half = path.join(path.dirname(plain), 'half-pooler');
  writeVariant(plain, half, { rename: (n) => (n === 'pooler.dense.bias' ? null : n) });
  throwsUser(() => loadCheckpoint(half), /has "bert\.pooler\.dense\.weight" but not "bert\.pooler\.dense\.bias"/);
});

test('validate accepts a sentence-transformers root as teacher.train.from, and a run fine-tunes it (tokenizer from 0_Transformer/)', async () => {
  const plain = baseCheckpoint();
  const work = path.dirname(plain);
  const root = path.join(work, 'st');
  writeVariant(plain, root, {
    layout: 'st-subfolder',
    rename: (n) => (n.startsWith('pooler.') ? null : `0.auto_model.${n}`),
    positionIdsPrefix: '0.auto_model.',
  });
  const config = {
    task: { ...customSst2Task(work, 24, 16), maxSeqLen: 32 },
    teacher: { train: { from: 'st', epochs: 1, lr: 1e-3, batchSize: 8 } },
    student: { layers: 1 },
    algorithm: 'soft',
    optim: { seed: 3, batchSize: 8 },
    backend: 'wasm',
    runsDir: 'runs',
  };
  const file = writeConfig(work, 'st', config);
  const checked = validateConfig(fs.readFileSync(file, 'utf8'), file);
  assert.deepEqual(
    checked.problems.filter((p) => p.severity === 'error').map((p) => p.message),
    [],
  );

  const r = await startRun(file, { teacherOnly: true, stop: { requested: null } });
  assert.equal(r.status, 'finished', JSON.stringify(eventsOf(r.runDir, 'run-failed')));
  const logs = eventsOf(r.runDir, 'log')
    .map((e) => e.message)
    .join('\n');
  assert.match(logs, /teacher base: sentence-transformers model: read the BERT encoder from 0_Transformer\//);
  assert.match(logs, /teacher base: no pooler in model\.safetensors/);
  assert.ok(eventsOf(r.runDir, 'eval').length >= 1);
  // The fine-tuned teacher is a complete BertForSequenceClassification, with its pooler and the base's vocabulary.
  const teacher = loadCheckpoint(path.join(r.runDir, 'teacher'));
  assert.equal(teacher.hasHead, true);
  assert.equal(teacher.hasPooler, true);
  assert.deepEqual(fs.readFileSync(teacher.vocabFile!), fs.readFileSync(path.join(root, '0_Transformer', 'vocab.txt')));
});
