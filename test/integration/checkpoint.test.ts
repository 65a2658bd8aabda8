import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { parseHfConfig, toHfConfig } from '../../src/model/hf-config';
import { expectedTensorShapes, loadCheckpoint, saveCheckpoint } from '../../src/model/checkpoint';
import { NamedTensor, NamedTensors, numel } from '../../src/model/named-tensors';
import { readSafetensorsFile, serializeSafetensors } from '../../src/model/safetensors';
import { UserError } from '../../src/util/errors';

import { PYTHON } from '../helpers/python';
const hasTorch =
  spawnSync(
    PYTHON,
    ['-c', 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("torch") and u.find_spec("numpy") else 1)'],
    { encoding: 'utf8' },
  ).status === 0;
const needsTorch = { skip: hasTorch ? false : `${PYTHON} with torch and numpy is not available` };

const TINY: BertConfig = {
  ...BERT_BASE_DEFAULTS,
  vocabSize: 40,
  hiddenSize: 8,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 12,
  maxPositionEmbeddings: 16,
  numLabels: 3,
  labels: ['negative', 'neutral', 'positive'],
};

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-ckpt-'));
}

/** mulberry32: a tiny seeded PRNG, so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Tensors of the right shapes filled with random bit patterns (NaN payloads, subnormals and all). */
function randomTensors(config: BertConfig, withHead: boolean, seed = 1): NamedTensors {
  const next = rng(seed);
  const out: NamedTensors = new Map();
  for (const [name, shape] of expectedTensorShapes(config, withHead)) {
    const u = new Uint32Array(numel(shape));
    for (let i = 0; i < u.length; i++) u[i] = next();
    out.set(name, { shape, data: new Float32Array(u.buffer) });
  }
  return out;
}

function bitsOf(t: NamedTensor): Uint32Array {
  return new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
}

function assertSameTensors(got: NamedTensors, want: NamedTensors): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name)!;
    assert.deepEqual(g.shape, w.shape, name);
    assert.ok(
      Buffer.from(bitsOf(g).buffer, g.data.byteOffset, g.data.byteLength).equals(
        Buffer.from(bitsOf(w).buffer, w.data.byteOffset, w.data.byteLength),
      ),
      `${name} differs`,
    );
  }
}

function sha256(t: NamedTensor): string {
  return createHash('sha256')
    .update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))
    .digest('hex');
}

/** Asserts a UserError whose message matches every pattern, with `where` when given. */
function throwsUser(fn: () => unknown, patterns: RegExp | RegExp[], where?: string): UserError {
  let caught: UserError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e instanceof Error ? e.stack : String(e)}`);
    for (const re of Array.isArray(patterns) ? patterns : [patterns]) assert.match(e.message, re);
    if (where !== undefined) assert.equal(e.where, where);
    caught = e;
    return true;
  });
  return caught!;
}

/** A saved tiny checkpoint (with a 3-class head unless withHead is false). */
function savedTiny(withHead = true, config: BertConfig = TINY): { dir: string; tensors: NamedTensors } {
  const dir = path.join(tmpDir(), 'model');
  const tensors = randomTensors(config, withHead);
  saveCheckpoint(dir, config, tensors, {});
  return { dir, tensors };
}

interface RawEntry {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Writes a safetensors file with arbitrary dtypes (serializeSafetensors only writes F32). */
function writeRaw(file: string, entries: RawEntry[]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from(new BigUint64Array([BigInt(json.length)]).buffer),
      json,
      ...entries.map((e) => Buffer.from(e.bytes)),
    ]),
  );
}

function rewriteWeights(dir: string, edit: (t: NamedTensors) => void): void {
  const file = path.join(dir, 'model.safetensors');
  const st = readSafetensorsFile(file);
  const tensors: NamedTensors = new Map();
  for (const [name, e] of st.entries)
    tensors.set(name, { shape: e.shape, data: new Float32Array(e.bytes.slice().buffer) });
  edit(tensors);
  fs.writeFileSync(file, serializeSafetensors(tensors));
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c));
}

// ---------------------------------------------------------------------------------------------
// config.json

const BERT_BASE_UNCASED_CONFIG = {
  architectures: ['BertForMaskedLM'],
  attention_probs_dropout_prob: 0.1,
  gradient_checkpointing: false,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  model_type: 'bert',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  transformers_version: '4.6.0.dev0',
  type_vocab_size: 2,
  use_cache: true,
  vocab_size: 30522,
};

test("parseHfConfig reads bert-base-uncased's config.json, and fills HF defaults for an empty one", () => {
  assert.deepEqual(parseHfConfig(BERT_BASE_UNCASED_CONFIG, 'config.json'), BERT_BASE_DEFAULTS);
  assert.deepEqual(parseHfConfig({}, 'config.json'), BERT_BASE_DEFAULTS);
  const small = parseHfConfig(
    { hidden_size: 256, num_attention_heads: 4, num_hidden_layers: 4, intermediate_size: 1024, pad_token_id: null },
    'c',
  );
  assert.equal(small.hiddenSize, 256);
  assert.equal(small.padTokenId, 0);
  assert.equal(small.vocabSize, 30522);
});

test('parseHfConfig derives labels and the problem type like transformers does', () => {
  const three = parseHfConfig({ id2label: { 2: 'c', 0: 'a', 1: 'b' }, label2id: { a: 0, b: 1, c: 2 } }, 'c');
  assert.deepEqual(
    [three.numLabels, three.labels, three.problemType],
    [3, ['a', 'b', 'c'], 'single_label_classification'],
  );
  const byCount = parseHfConfig({ num_labels: 4 }, 'c');
  assert.deepEqual(byCount.labels, ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3']);
  const byLabel2id = parseHfConfig({ label2id: { yes: 1, no: 0 } }, 'c');
  assert.deepEqual(byLabel2id.labels, ['no', 'yes']);
  const oneOutput = parseHfConfig({ num_labels: 1 }, 'c');
  assert.deepEqual([oneOutput.numLabels, oneOutput.problemType, oneOutput.labels], [1, 'regression', ['LABEL_0']]);
  const regression = parseHfConfig({ problem_type: 'regression' }, 'c');
  assert.deepEqual([regression.numLabels, regression.problemType], [1, 'regression']);
  const stsb = parseHfConfig({ problem_type: 'regression', id2label: { 0: 'score' } }, 'c');
  assert.deepEqual(stsb.labels, ['score']);
});

test('parseHfConfig refuses what our BERT does not compute, with the field and file named', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ hidden_act: 'gelu_new' }, /hidden_act is "gelu_new"; only "gelu" \(exact, erf-based\)/],
    [{ hidden_act: 'relu' }, /hidden_act is "relu"/],
    [{ model_type: 'roberta' }, /model_type is "roberta"; only "bert"/],
    [{ position_embedding_type: 'relative_key' }, /position_embedding_type is "relative_key"/],
    [{ is_decoder: true }, /encoder-only/],
    [{ hidden_size: 100, num_attention_heads: 12 }, /hidden_size 100 is not a multiple of num_attention_heads 12/],
    [{ num_hidden_layers: 0 }, /num_hidden_layers must be an integer from 1 to 48, got 0/],
    [{ num_hidden_layers: 1e308 }, /num_hidden_layers must be an integer from 1 to 48, got 1e\+308/],
    [{ vocab_size: 12.5 }, /vocab_size must be an integer from 1 to 1000000, got 12.5/],
    [{ intermediate_size: '3072' }, /intermediate_size must be an integer from 1 to 16384, got "3072"/],
    [{ pad_token_id: 40000 }, /pad_token_id 40000 is not below vocab_size 30522/],
    [{ hidden_dropout_prob: 1.5 }, /hidden_dropout_prob must be a number in \[0, 1\)/],
    [{ layer_norm_eps: 0 }, /layer_norm_eps must be a positive number/],
    [{ id2label: { 0: 'a', 2: 'c' } }, /id2label must map the ids 0\.\.1, found id "2"/],
    [{ id2label: ['a', 'b'] }, /id2label must be an object/],
    [{ id2label: { 0: 'a', 1: 7 } }, /label names must be strings/],
    [{ id2label: { 0: 'a', 1: 'b' }, num_labels: 3 }, /num_labels is 3 but id2label names 2 labels/],
    [{ num_labels: 0 }, /num_labels must be an integer from 1 to 100000/],
    // Was a RangeError (an array of 1e308 default label names).
    [{ num_labels: 1e308 }, /num_labels must be an integer from 1 to 100000, got 1e\+308/],
    [{ problem_type: 'multi_label_classification' }, /multi_label_classification" is not supported/],
    [{ problem_type: 'ranking' }, /problem_type "ranking" is not one of/],
    [{ problem_type: 'regression', num_labels: 2 }, /regression needs exactly one output/],
    [{ problem_type: 'single_label_classification', num_labels: 1 }, /needs at least 2 labels/],
    [[], /must be a JSON object/],
  ];
  for (const [json, re] of bad) throwsUser(() => parseHfConfig(json, '/m/config.json'), re, '/m/config.json');
});

// Every attribute transformers' BertConfig (configuration_bert.py) plus the PretrainedConfig
// attributes save_pretrained writes for a fine-tuned classifier.
const HF_BERT_CONFIG_KEYS = [
  'architectures',
  'attention_probs_dropout_prob',
  'classifier_dropout',
  'hidden_act',
  'hidden_dropout_prob',
  'hidden_size',
  'id2label',
  'initializer_range',
  'intermediate_size',
  'label2id',
  'layer_norm_eps',
  'max_position_embeddings',
  'model_type',
  'num_attention_heads',
  'num_hidden_layers',
  'pad_token_id',
  'position_embedding_type',
  'problem_type',
  'torch_dtype',
  'transformers_version',
  'type_vocab_size',
  'use_cache',
  'vocab_size',
];

test('toHfConfig writes every BertConfig field, sorted, and parseHfConfig reads it back unchanged', () => {
  const hf = toHfConfig(TINY, 'BertForSequenceClassification');
  assert.deepEqual(Object.keys(hf), HF_BERT_CONFIG_KEYS);
  assert.deepEqual(hf.architectures, ['BertForSequenceClassification']);
  assert.deepEqual(hf.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
  assert.deepEqual(hf.label2id, { negative: 0, neutral: 1, positive: 2 });
  assert.equal(hf.classifier_dropout, null);
  assert.equal(hf.torch_dtype, 'float32');
  assert.equal(hf.model_type, 'bert');
  assert.deepEqual(parseHfConfig(JSON.parse(JSON.stringify(hf)), 'c'), TINY);
  const reg: BertConfig = { ...TINY, numLabels: 1, labels: ['LABEL_0'], problemType: 'regression' };
  const hfReg = toHfConfig(reg, 'BertModel');
  assert.equal(hfReg.problem_type, 'regression');
  assert.deepEqual(hfReg.architectures, ['BertModel']);
  assert.deepEqual(parseHfConfig(JSON.parse(JSON.stringify(hfReg)), 'c'), reg);
});

// ---------------------------------------------------------------------------------------------
// tensor names

test("expectedTensorShapes lists BertForSequenceClassification's parameters (bert-base: 109,483,778)", () => {
  const withHead = expectedTensorShapes(BERT_BASE_DEFAULTS, true);
  assert.equal(withHead.size, 5 + 12 * 16 + 2 + 2);
  const total = [...withHead.values()].reduce((s, shape) => s + numel(shape), 0);
  assert.equal(total, 109_483_778);
  assert.deepEqual(withHead.get('bert.encoder.layer.11.intermediate.dense.weight'), [3072, 768]);
  assert.deepEqual(withHead.get('bert.encoder.layer.0.output.dense.weight'), [768, 3072]);
  assert.deepEqual(withHead.get('classifier.weight'), [2, 768]);
  const encoder = expectedTensorShapes(BERT_BASE_DEFAULTS, false);
  assert.equal(
    [...encoder.values()].reduce((s, shape) => s + numel(shape), 0),
    109_482_240,
  ); // BertModel
  assert.ok(!encoder.has('classifier.weight') && encoder.has('bert.pooler.dense.weight'));
});

// ---------------------------------------------------------------------------------------------
// round trips

test('save → load is bit-exact, keeps names and config, and writes the tokenizer files', () => {
  const root = tmpDir();
  const vocab = path.join(root, 'my-vocab.txt');
  fs.writeFileSync(vocab, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n');
  const dir = path.join(root, 'student');
  const tensors = randomTensors(TINY, true, 42);
  saveCheckpoint(dir, TINY, tensors, { vocabFile: vocab, tokenizerConfig: { doLowerCase: false } });
  assert.deepEqual(fs.readdirSync(root).sort(), ['my-vocab.txt', 'student'], 'no temp folders left behind');
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    'config.json',
    'model.safetensors',
    'special_tokens_map.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);

  const loaded = loadCheckpoint(dir);
  assert.equal(loaded.dir, dir);
  assert.deepEqual(loaded.config, TINY);
  assert.equal(loaded.hasHead, true);
  assert.deepEqual(loaded.notes, []);
  assertSameTensors(loaded.tensors, tensors);
  assert.equal(loaded.vocabFile, path.join(dir, 'vocab.txt'));
  assert.equal(fs.readFileSync(loaded.vocabFile!, 'utf8'), fs.readFileSync(vocab, 'utf8'));
  assert.equal(loaded.tokenizerFile, undefined);
  assert.equal(loaded.doLowerCase, false);

  const tok = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(tok.tokenizer_class, 'BertTokenizer');
  assert.equal(tok.do_lower_case, false);
  assert.equal(tok.model_max_length, TINY.maxPositionEmbeddings);
  const special = JSON.parse(fs.readFileSync(path.join(dir, 'special_tokens_map.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual(special, {
    cls_token: '[CLS]',
    mask_token: '[MASK]',
    pad_token: '[PAD]',
    sep_token: '[SEP]',
    unk_token: '[UNK]',
  });
  fs.rmSync(root, { recursive: true, force: true });
});

test('saving over an existing checkpoint replaces it whole; a failed save leaves it untouched', () => {
  const { dir } = savedTiny();
  const second = randomTensors(TINY, true, 99);
  saveCheckpoint(dir, TINY, second, {});
  assertSameTensors(loadCheckpoint(dir).tensors, second);
  const broken = new Map(second);
  broken.delete('bert.pooler.dense.bias');
  assert.throws(() => saveCheckpoint(dir, TINY, broken, {}), /"bert\.pooler\.dense\.bias" is missing/);
  const misshapen = new Map(second);
  misshapen.set('classifier.bias', { shape: [2], data: new Float32Array(2) });
  assert.throws(() => saveCheckpoint(dir, TINY, misshapen, {}), /"classifier\.bias" has shape \[2\].*expected \[3\]/);
  const extra = new Map(second);
  extra.set('bert.encoder.layer.2.output.dense.bias', { shape: [8], data: new Float32Array(8) });
  assert.throws(
    () => saveCheckpoint(dir, TINY, extra, {}),
    /unexpected tensors "bert\.encoder\.layer\.2\.output\.dense\.bias"/,
  );
  assertSameTensors(loadCheckpoint(dir).tensors, second);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['model']);
});

test('an encoder without a head is saved as BertModel (unprefixed) and loads with a note about the new head', () => {
  const { dir, tensors } = savedTiny(false);
  const hf = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(hf.architectures, ['BertModel']);
  const stored = [...readSafetensorsFile(path.join(dir, 'model.safetensors')).entries.keys()];
  assert.ok(stored.includes('embeddings.word_embeddings.weight') && !stored.some((n) => n.startsWith('bert.')));

  const plain = loadCheckpoint(dir);
  assert.equal(plain.hasHead, false);
  assertSameTensors(plain.tensors, tensors);
  assert.deepEqual(plain.notes, [
    'no classifier head in model.safetensors: a freshly initialised 3-class head will be used',
  ]);

  const forTask = loadCheckpoint(dir, { numLabels: 2, labels: ['0', '1'] });
  assert.deepEqual(
    [forTask.config.numLabels, forTask.config.labels, forTask.config.problemType],
    [2, ['0', '1'], 'single_label_classification'],
  );
  assert.match(forTask.notes.join('\n'), /freshly initialised 2-class head/);
  const forRegression = loadCheckpoint(dir, { regression: true });
  assert.deepEqual([forRegression.config.numLabels, forRegression.config.problemType], [1, 'regression']);
  assert.match(forRegression.notes.join('\n'), /regression head \(1 output\)/);
});

test("a head matching the task loads, with the task's label names; a head of another size is refused", () => {
  const { dir } = savedTiny(true);
  const ok = loadCheckpoint(dir, { numLabels: 3, labels: ['a', 'b', 'c'] });
  assert.equal(ok.hasHead, true);
  assert.deepEqual(ok.config.labels, ['a', 'b', 'c']);
  assert.match(
    ok.notes.join('\n'),
    /config\.json names the labels \["negative","neutral","positive"\]; using the task's names/,
  );
  const e = throwsUser(
    () => loadCheckpoint(dir, { numLabels: 2 }),
    /classifier has 3 outputs but the task needs 2/,
    path.join(dir, 'model.safetensors'),
  );
  assert.match(e.fix ?? '', /without a classifier head/);
  throwsUser(() => loadCheckpoint(dir, { regression: true }), /has 3 outputs but the task needs 1 \(regression\)/);
});

// ---------------------------------------------------------------------------------------------
// checkpoints written by others

// Writes, with torch + struct only, what HF exports look like in the wild: BertForPreTraining with
// TF-style gamma/beta names, fp16/bf16 weights, an int64 position_ids buffer and cls.* heads; or a
// BertModel with unprefixed names. Prints the sha256 of every parameter's float32 bytes by canonical name.
const WRITE_FOREIGN_PY = String.raw`
import json, struct, sys, hashlib
import torch
H, I, L, V, P, T = 8, 12, 2, 40, 16, 2
torch.manual_seed(0)
params = []
def add(name, *shape): params.append((name, list(shape)))
def lin(n, o, i): add(n + '.weight', o, i); add(n + '.bias', o)
def ln(n): add(n + '.gamma', H); add(n + '.beta', H)
add('bert.embeddings.word_embeddings.weight', V, H); add('bert.embeddings.position_embeddings.weight', P, H)
add('bert.embeddings.token_type_embeddings.weight', T, H); ln('bert.embeddings.LayerNorm')
for l in range(L):
  p = 'bert.encoder.layer.%d.' % l
  for m in ('query', 'key', 'value'): lin(p + 'attention.self.' + m, H, H)
  lin(p + 'attention.output.dense', H, H); ln(p + 'attention.output.LayerNorm')
  lin(p + 'intermediate.dense', I, H); lin(p + 'output.dense', H, I); ln(p + 'output.LayerNorm')
lin('bert.pooler.dense', H, H)
def write(out_dir, flavour):
  entries, expect = [], {}
  dtypes = [(torch.float32, 'F32'), (torch.float16, 'F16'), (torch.bfloat16, 'BF16')]
  for k, (name, shape) in enumerate(params):
      t = torch.randn(*shape)
      tdt, sdt = dtypes[k % 3]
      t = t.to(tdt)
      raw = (t.view(torch.int16) if tdt == torch.bfloat16 else t).numpy().tobytes()
      canon = name.replace('.gamma', '.weight').replace('.beta', '.bias')
      stored = name if flavour == 'pretraining' else canon[len('bert.'):]
      entries.append((stored, sdt, shape, raw))
      expect[canon] = hashlib.sha256(t.float().numpy().tobytes()).hexdigest()
  if flavour == 'pretraining':
      entries.append(('bert.embeddings.position_ids', 'I64', [1, P], torch.arange(P).unsqueeze(0).numpy().tobytes()))
      entries.append(('cls.predictions.bias', 'F32', [V], torch.zeros(V).numpy().tobytes()))
      entries.append(('cls.seq_relationship.weight', 'F32', [2, H], torch.zeros(2, H).numpy().tobytes()))
  header, off, blobs = {'__metadata__': {'format': 'pt'}}, 0, []
  for name, dt, shape, raw in entries:
      header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
      off += len(raw); blobs.append(raw)
  h = json.dumps(header).encode()
  open(out_dir + '/model.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
  # Google's original BERT configs name only the architecture.
  json.dump({'hidden_size': H, 'intermediate_size': I, 'num_hidden_layers': L, 'num_attention_heads': 2,
                        'vocab_size': V, 'max_position_embeddings': P, 'type_vocab_size': T, 'hidden_act': 'gelu'},
                      open(out_dir + '/config.json', 'w'))
  return expect
print(json.dumps({flavour: write(out_dir, flavour) for out_dir, flavour in zip(sys.argv[1::2], sys.argv[2::2])}))
`;

type Flavour = 'pretraining' | 'bertmodel';
let foreign: { dirs: Record<Flavour, string>; expect: Record<Flavour, Record<string, string>> } | undefined;
/** Both flavours in one Python run: importing torch takes seconds. */
function foreignCheckpoints(): NonNullable<typeof foreign> {
  if (!foreign) {
    const dirs = { pretraining: tmpDir(), bertmodel: tmpDir() };
    const r = spawnSync(
      PYTHON,
      ['-c', WRITE_FOREIGN_PY, dirs.pretraining, 'pretraining', dirs.bertmodel, 'bertmodel'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    foreign = { dirs, expect: JSON.parse(r.stdout) as Record<Flavour, Record<string, string>> };
  }
  return foreign;
}

for (const flavour of ['pretraining', 'bertmodel'] as const) {
  test(
    `loads a ${flavour} checkpoint written independently with torch (fp16/bf16, ${flavour === 'pretraining' ? 'gamma/beta, buffers, cls.* heads' : 'unprefixed names'})`,
    needsTorch,
    () => {
      const dir = foreignCheckpoints().dirs[flavour];
      const expect = foreignCheckpoints().expect[flavour];
      const loaded = loadCheckpoint(dir, { numLabels: 2 });
      assert.equal(loaded.hasHead, false);
      assert.deepEqual([...loaded.tensors.keys()].sort(), Object.keys(expect).sort());
      for (const [name, t] of loaded.tensors)
        assert.equal(sha256(t), expect[name], `${name} decodes differently from torch's .float()`);
      const notes = loaded.notes.join('\n');
      assert.match(notes, /freshly initialised 2-class head/);
      assert.match(notes, /converted F16\/BF16 weights to float32/);
      if (flavour === 'pretraining') {
        assert.match(notes, /ignored the pre-training heads \(2 cls\.\* tensors\)/);
        assert.match(notes, /read 10 TF-style LayerNorm gamma\/beta tensors as weight\/bias/);
        assert.doesNotMatch(notes, /position_ids/);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  );
}

// ---------------------------------------------------------------------------------------------
// HF compatibility of what we write, checked in Python from the config alone

// Rebuilds BertForSequenceClassification's module tree with torch.nn (same attribute names as
// transformers' modeling_bert.py), derives the parameter names/shapes from it, and loads our
// safetensors into it with strict=True. Prints the sha256 of each loaded parameter.
const VERIFY_HF_PY = String.raw`
import json, struct, sys, hashlib
import torch
from torch import nn
d = sys.argv[1]
cfg = json.load(open(d + '/config.json'))
required = ['architectures', 'attention_probs_dropout_prob', 'classifier_dropout', 'hidden_act', 'hidden_dropout_prob',
  'hidden_size', 'initializer_range', 'intermediate_size', 'layer_norm_eps', 'max_position_embeddings', 'model_type',
  'num_attention_heads', 'num_hidden_layers', 'pad_token_id', 'position_embedding_type', 'type_vocab_size', 'use_cache',
  'vocab_size', 'id2label', 'label2id', 'problem_type', 'torch_dtype', 'transformers_version']
missing = [k for k in required if k not in cfg]
assert not missing, 'config.json lacks ' + str(missing)
assert cfg['model_type'] == 'bert' and cfg['hidden_act'] == 'gelu' and cfg['position_embedding_type'] == 'absolute'
assert cfg['architectures'] == ['BertForSequenceClassification'], cfg['architectures']
id2label = {int(k): v for k, v in cfg['id2label'].items()}
assert sorted(id2label) == list(range(len(id2label)))
assert cfg['label2id'] == {v: k for k, v in id2label.items()}
H, I, V = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
assert H % cfg['num_attention_heads'] == 0
N = len(id2label)

class Emb(nn.Module):
  def __init__(s):
    super().__init__()
    s.word_embeddings = nn.Embedding(V, H, padding_idx=cfg['pad_token_id'])
    s.position_embeddings = nn.Embedding(cfg['max_position_embeddings'], H)
    s.token_type_embeddings = nn.Embedding(cfg['type_vocab_size'], H)
    s.LayerNorm = nn.LayerNorm(H, eps=cfg['layer_norm_eps'])
class SelfAttn(nn.Module):
  def __init__(s):
    super().__init__(); s.query = nn.Linear(H, H); s.key = nn.Linear(H, H); s.value = nn.Linear(H, H)
class Out(nn.Module):
  def __init__(s, i):
    super().__init__(); s.dense = nn.Linear(i, H); s.LayerNorm = nn.LayerNorm(H)
class Attn(nn.Module):
  def __init__(s):
    super().__init__(); s.self = SelfAttn(); s.output = Out(H)
class Inter(nn.Module):
  def __init__(s):
    super().__init__(); s.dense = nn.Linear(H, I)
class Layer(nn.Module):
  def __init__(s):
    super().__init__(); s.attention = Attn(); s.intermediate = Inter(); s.output = Out(I)
class Enc(nn.Module):
  def __init__(s):
    super().__init__(); s.layer = nn.ModuleList([Layer() for _ in range(cfg['num_hidden_layers'])])
class Pool(nn.Module):
  def __init__(s):
    super().__init__(); s.dense = nn.Linear(H, H)
class Bert(nn.Module):
  def __init__(s):
    super().__init__(); s.embeddings = Emb(); s.encoder = Enc(); s.pooler = Pool()
class BertForSequenceClassification(nn.Module):
  def __init__(s):
    super().__init__(); s.bert = Bert(); s.classifier = nn.Linear(H, N)

model = BertForSequenceClassification()
want = {k: list(v.shape) for k, v in model.state_dict().items()}

raw = open(d + '/model.safetensors', 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert n % 8 == 0
header = json.loads(raw[8:8 + n])
assert header.pop('__metadata__') == {'format': 'pt'}
have = {k: v['shape'] for k, v in header.items()}
assert set(have) == set(want), 'names differ: extra %s, missing %s' % (sorted(set(have) - set(want)), sorted(set(want) - set(have)))
for k in want: assert have[k] == want[k], '%s: %s vs %s' % (k, have[k], want[k])
assert all(v['dtype'] == 'F32' for v in header.values())
data = raw[8 + n:]
sd = {k: torch.frombuffer(bytearray(data[v['data_offsets'][0]:v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape']) for k, v in header.items()}
model.load_state_dict(sd, strict=True)
print(json.dumps({k: hashlib.sha256(v.detach().numpy().tobytes()).hexdigest() for k, v in model.state_dict().items()}))
`;

test(
  "what saveCheckpoint writes matches BertForSequenceClassification's parameters as rebuilt in torch",
  needsTorch,
  () => {
    const { dir, tensors } = savedTiny(true);
    const r = spawnSync(PYTHON, ['-c', VERIFY_HF_PY, dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const hashes = JSON.parse(r.stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(hashes).sort(), [...tensors.keys()].sort());
    for (const [name, t] of tensors) assert.equal(hashes[name], sha256(t), `${name} reads differently in torch`);
  },
);

// ---------------------------------------------------------------------------------------------
// sharded checkpoints

function shard(dir: string, parts: number): void {
  const st = readSafetensorsFile(path.join(dir, 'model.safetensors'));
  const names = [...st.entries.keys()];
  const weightMap: Record<string, string> = {};
  for (let p = 0; p < parts; p++) {
    const file = `model-0000${p + 1}-of-0000${parts}.safetensors`;
    const mine: NamedTensors = new Map();
    names
      .filter((_, i) => i % parts === p)
      .forEach((n) => {
        const e = st.entries.get(n)!;
        mine.set(n, { shape: e.shape, data: new Float32Array(e.bytes.slice().buffer) });
        weightMap[n] = file;
      });
    fs.writeFileSync(path.join(dir, file), serializeSafetensors(mine));
  }
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
  fs.rmSync(path.join(dir, 'model.safetensors'));
}

test('sharded checkpoints (model.safetensors.index.json) load from all shards', () => {
  const { dir, tensors } = savedTiny(true);
  shard(dir, 3);
  const loaded = loadCheckpoint(dir);
  assert.equal(loaded.hasHead, true);
  assertSameTensors(loaded.tensors, tensors);

  const shard2 = path.join(dir, 'model-00002-of-00003.safetensors');
  const saved = fs.readFileSync(shard2);
  fs.rmSync(shard2);
  throwsUser(
    () => loadCheckpoint(dir),
    /the shard model-00002-of-00003\.safetensors listed in model\.safetensors\.index\.json is missing/,
    shard2,
  );
  fs.writeFileSync(shard2, serializeSafetensors(new Map()));
  throwsUser(() => loadCheckpoint(dir), /places tensor "[^"]+" in this shard, but it is not there/, shard2);
  fs.writeFileSync(shard2, saved);
  const index = path.join(dir, 'model.safetensors.index.json');
  fs.writeFileSync(index, JSON.stringify({ weight_map: { 'bert.pooler.dense.bias': '../elsewhere.safetensors' } }));
  throwsUser(() => loadCheckpoint(dir), /not a file in the checkpoint folder/, index);
  fs.writeFileSync(index, '{"metadata": {}}');
  throwsUser(() => loadCheckpoint(dir), /no "weight_map" object/, index);
});

// ---------------------------------------------------------------------------------------------
// errors

test('missing folder, file instead of folder, missing or broken config.json', () => {
  const root = tmpDir();
  const nowhere = path.join(root, 'nope');
  throwsUser(() => loadCheckpoint(nowhere), /checkpoint folder does not exist/, nowhere);
  const file = path.join(root, 'file');
  fs.writeFileSync(file, 'x');
  throwsUser(() => loadCheckpoint(file), /must be a folder/, file);
  const { dir } = savedTiny();
  fs.writeFileSync(path.join(dir, 'config.json'), '{"hidden_size": 8,');
  throwsUser(() => loadCheckpoint(dir), /config\.json is not valid JSON/, path.join(dir, 'config.json'));
  writeTinyConfig(dir, { hidden_act: 'gelu_new' });
  throwsUser(() => loadCheckpoint(dir), /hidden_act is "gelu_new"/, path.join(dir, 'config.json'));
  fs.rmSync(path.join(dir, 'config.json'));
  throwsUser(() => loadCheckpoint(dir), /no config\.json/, path.join(dir, 'config.json'));
});

function writeTinyConfig(dir: string, json: Record<string, unknown>): void {
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ ...toHfConfig(TINY, 'BertForSequenceClassification'), ...json }),
  );
}

test('missing model.safetensors; pickled or Keras weights are refused with a conversion command', () => {
  const { dir } = savedTiny();
  const weights = path.join(dir, 'model.safetensors');
  fs.rmSync(weights);
  throwsUser(() => loadCheckpoint(dir), /no model\.safetensors/, weights);

  // The "pickle" would fail loudly if anything tried to read it as one.
  const bin = path.join(dir, 'pytorch_model.bin');
  fs.writeFileSync(bin, 'not a pickle');
  let e = throwsUser(() => loadCheckpoint(dir), /PyTorch pickle format \(pytorch_model\.bin\)/, bin);
  assert.match(e.fix ?? '', /from transformers import AutoModelForSequenceClassification/);
  assert.match(e.fix ?? '', /save_pretrained\(".*model", safe_serialization=True\)/);
  editConfig(dir, (c) => {
    c.architectures = ['BertForPreTraining'];
  });
  e = throwsUser(() => loadCheckpoint(dir), /pytorch_model\.bin/, bin);
  assert.match(e.fix ?? '', /from transformers import AutoModel; model = AutoModel\.from_pretrained/);
  fs.rmSync(bin);

  const h5 = path.join(dir, 'tf_model.h5');
  fs.writeFileSync(h5, 'not hdf5');
  e = throwsUser(() => loadCheckpoint(dir), /TensorFlow\/Keras H5 format \(tf_model\.h5\)/, h5);
  assert.match(e.fix ?? '', /from_tf=True\); model\.save_pretrained\(.*safe_serialization=True\)/);
});

test('a missing tensor is named; a missing pooler is initialised afresh, with a note', () => {
  const { dir } = savedTiny();
  const weights = path.join(dir, 'model.safetensors');
  rewriteWeights(dir, (t) => t.delete('bert.encoder.layer.1.attention.self.key.bias'));
  throwsUser(
    () => loadCheckpoint(dir),
    /lacks 1 tensor: "bert\.encoder\.layer\.1\.attention\.self\.key\.bias"/,
    weights,
  );

  const second = savedTiny(false);
  rewriteWeights(second.dir, (t) => {
    t.delete('pooler.dense.weight');
    t.delete('pooler.dense.bias');
  });
  // BertForMaskedLM and some sentence-transformers exports drop it; test/unit/checkpoint-layouts.test.ts has the details.
  const ck = loadCheckpoint(second.dir);
  assert.equal(ck.hasPooler, false);
  assert.match(ck.notes.join('\n'), /no pooler in model\.safetensors: a freshly initialised one/);
});

test('a misshapen tensor is named with both shapes; config.json disagreeing with the weights is explained', () => {
  const { dir } = savedTiny();
  rewriteWeights(dir, (t) =>
    t.set('bert.embeddings.word_embeddings.weight', { shape: [41, 8], data: new Float32Array(41 * 8) }),
  );
  throwsUser(
    () => loadCheckpoint(dir),
    /"bert\.embeddings\.word_embeddings\.weight" has shape \[41, 8\] but config\.json implies \[40, 8\]/,
    path.join(dir, 'model.safetensors'),
  );

  const second = savedTiny();
  editConfig(second.dir, (c) => {
    c.num_hidden_layers = 4;
  });
  throwsUser(
    () => loadCheckpoint(second.dir),
    /config\.json says num_hidden_layers = 4 but model\.safetensors has weights for 2 layers \(0–1\)/,
  );
  editConfig(second.dir, (c) => {
    c.num_hidden_layers = 1;
  });
  throwsUser(() => loadCheckpoint(second.dir), /num_hidden_layers = 1 but model\.safetensors has weights for 2 layers/);
  editConfig(second.dir, (c) => {
    c.num_hidden_layers = 2;
    c.id2label = { 0: 'a', 1: 'b' };
    c.label2id = { a: 0, b: 1 };
  });
  throwsUser(
    () => loadCheckpoint(second.dir),
    /config\.json has 2 labels but the classifier in model\.safetensors has 3 outputs/,
  );
});

test('an integer weight is refused; corrupt safetensors is refused; half a head is refused', () => {
  const { dir } = savedTiny(false);
  const weights = path.join(dir, 'model.safetensors');
  const st = readSafetensorsFile(weights);
  const entries: RawEntry[] = [...st.entries.values()].map((e) => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    bytes: e.bytes.slice(),
  }));
  const i32 = entries.find((e) => e.name === 'encoder.layer.0.output.dense.bias')!;
  i32.dtype = 'I32';
  writeRaw(weights, entries);
  throwsUser(() => loadCheckpoint(dir), /"encoder\.layer\.0\.output\.dense\.bias" has dtype I32/, weights);
  // An I64 tensor under a parameter's name is a broken weight, not a buffer to skip.
  i32.dtype = 'I64';
  i32.bytes = new Uint8Array(8 * 8);
  writeRaw(weights, entries);
  throwsUser(() => loadCheckpoint(dir), /"encoder\.layer\.0\.output\.dense\.bias" has dtype I64/, weights);

  const full = fs.readFileSync(path.join(savedTiny().dir, 'model.safetensors'));
  fs.writeFileSync(weights, full.subarray(0, full.length - 100));
  throwsUser(() => loadCheckpoint(dir), /not a valid safetensors file: tensor "[^"]+" ends at byte/, weights);
  fs.writeFileSync(weights, full.subarray(0, 4));
  throwsUser(() => loadCheckpoint(dir), /not a valid safetensors file/, weights);

  const halfHead = savedTiny();
  rewriteWeights(halfHead.dir, (t) => t.delete('classifier.bias'));
  throwsUser(() => loadCheckpoint(halfHead.dir), /has "classifier\.weight" but not "classifier\.bias"/);
});

test('unknown extra tensors are ignored with a note; duplicate names after canonicalisation are refused', () => {
  const { dir, tensors } = savedTiny();
  rewriteWeights(dir, (t) => t.set('bert.embeddings.some_adapter.weight', { shape: [2], data: new Float32Array(2) }));
  const loaded = loadCheckpoint(dir);
  assertSameTensors(loaded.tensors, tensors);
  assert.match(
    loaded.notes.join('\n'),
    /ignored 1 tensors that BertForSequenceClassification does not have: "bert\.embeddings\.some_adapter\.weight"/,
  );
  rewriteWeights(dir, (t) => t.set('pooler.dense.bias', { shape: [8], data: new Float32Array(8) }));
  throwsUser(
    () => loadCheckpoint(dir),
    /"bert\.pooler\.dense\.bias" and "pooler\.dense\.bias" are both "bert\.pooler\.dense\.bias"|"pooler\.dense\.bias" and "bert\.pooler\.dense\.bias" are both/,
  );
});
