// `distillery export --format onnx|both`: model.onnx written in TypeScript (protobufjs), checked in
// the same command with onnxruntime-node against the TF.js logits; then checked independently in
// Python: onnx.checker.check_model, Python ONNX Runtime on batches of other sizes (dynamic axes)
// against transformers' BertForSequenceClassification loaded from the HF files of the same export.
// A tampered weight must fail the export with the difference; without onnxruntime-node the file is
// written unchecked and the output says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRun } from '../../src/train/run';
import { exportStudent } from '../../src/train/export';
import { initBackend } from '../../src/model/backend';
import { compareLogits, loadOnnxRuntime, onnxLogits } from '../../src/export/onnx-verify';
import { assertFitsOneFile, buildBertOnnx } from '../../src/export/onnx-graph';
import { BertModel } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { toBertInputs, disposeInputs } from '../../src/model/inputs';
import { UserError } from '../../src/util/errors';
import { decodeModel, encodeModel, floatTensor } from '../../src/export/onnx-proto';
import { customSst2Task, runCli, tmpDir, writeConfig } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';

let work: string;
let runDir: string;

before(async () => {
  work = tmpDir('distillery-onnx-');
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 2, hidden: 32, heads: 4, intermediate: 64, seed: 5 });
  const file = writeConfig(work, 'tiny', {
    task: customSst2Task(work, 16, 8),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2 },
    algorithm: 'hard',
    stages: { classificationEpochs: 1 },
    optim: { lr: 1e-3, batchSize: 8, seed: 3 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  runDir = outcome.runDir;
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface ExportJson {
  dir: string;
  format: string;
  maxLogitDiff: number;
  onnx?: { file: string; verified: boolean; maxLogitDiff?: number; tolerance?: number; opset: number; note?: string };
}

test('compareLogits: absolute 1e-4 up to |logit| 1, relative above; NaN and length mismatches fail', () => {
  const ref = Float32Array.of(0.5, -0.25);
  assert.equal(compareLogits(ref, Float32Array.of(0.50009, -0.25)).ok, true);
  assert.equal(compareLogits(ref, Float32Array.of(0.5002, -0.25)).ok, false);
  const big = Float32Array.of(100, -3);
  assert.equal(compareLogits(big, Float32Array.of(100.009, -3)).ok, true, '1e-4 relative to the largest logit');
  assert.equal(compareLogits(big, Float32Array.of(100.02, -3)).ok, false);
  assert.equal(compareLogits(ref, Float32Array.of(Number.NaN, -0.25)).ok, false);
  assert.equal(compareLogits(ref, Float32Array.of(0.5)).ok, false);
});

test('the protobuf encoding round-trips (int64 dims, raw little-endian floats)', () => {
  const t = floatTensor('w', [2, 3], Float32Array.of(1, -2, 3.5, 0, 1e-8, -7));
  const bytes = encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'p',
    producer_version: '1',
    graph: { name: 'g', node: [], initializer: [t], input: [], output: [] },
  });
  const back = decodeModel(bytes);
  assert.equal(back.ir_version, 8);
  assert.deepEqual(back.opset_import, [{ version: 17 }], 'the empty default domain is not encoded');
  const init = back.graph.initializer[0];
  assert.deepEqual(init.dims, [2, 3]);
  assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(init.raw_data).buffer)), [
    1,
    -2,
    3.5,
    0,
    Math.fround(1e-8),
    -7,
  ]);
});

test('export --format both: model.onnx beside the HF files, checked with onnxruntime-node in the same command', async (t) => {
  const ort = await loadOnnxRuntime();
  if (!ort.ok) return t.skip(`${ort.reason}: npm ci installs it (optional dependency)`);
  const out = path.join(work, 'both');
  const r = runCli(['export', runDir, '--format', 'both', '--out', out, '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as ExportJson;
  assert.equal(j.format, 'both');
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'model.onnx'])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  assert.equal(j.onnx?.verified, true);
  assert.equal(j.onnx?.opset, 17);
  assert.ok(j.onnx!.maxLogitDiff! <= 1e-4, `ONNX Runtime vs TF.js: ${j.onnx!.maxLogitDiff}`);
  t.diagnostic(`onnxruntime-node vs TF.js (wasm), probe batch: max |logit diff| ${j.onnx!.maxLogitDiff}`);
  const human = runCli(['export', runDir, '--format', 'both', '--out', out, '--backend', 'wasm']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /ONNX check: onnxruntime-node [\d.]+ against TF\.js, max \|logit difference\| /);
});

test("model.onnx passes onnx.checker and matches transformers' BertForSequenceClassification in Python ONNX Runtime, for other batch and sequence sizes", async (t) => {
  if (!pythonHas('onnx', 'onnxruntime', 'transformers', 'torch'))
    return assert.fail(pythonMissing('onnx', 'onnxruntime', 'transformers', 'torch'));
  const out = path.join(work, 'both');
  if (!fs.existsSync(path.join(out, 'model.onnx'))) {
    // The previous test needs onnxruntime-node; write the file unchecked for the Python side.
    await initBackend('wasm');
    await exportStudent(runDir, { out, format: 'both' });
  }
  const script = `
import json, sys, numpy as np, onnx, onnxruntime as ort, torch
from transformers import BertForSequenceClassification
out = sys.argv[1]
m = onnx.load(out + '/model.onnx')
onnx.checker.check_model(m, full_check=True)
sess = ort.InferenceSession(out + '/model.onnx', providers=['CPUExecutionProvider'])
hf = BertForSequenceClassification.from_pretrained(out).eval()
rng = np.random.default_rng(0)
worst = 0.0
shapes = []
for b, s in [(1, 1), (1, 7), (3, 12), (5, 40), (2, 64)]:
    ids = rng.integers(1, hf.config.vocab_size, size=(b, s)).astype(np.int64)
    types = np.zeros((b, s), np.int64); types[:, s // 2:] = 1
    mask = np.ones((b, s), np.int64)
    for i in range(1, b): mask[i, s - i * s // (b + 1):] = 0
    got = sess.run(['logits'], {'input_ids': ids, 'attention_mask': mask, 'token_type_ids': types})[0]
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(types)).logits.numpy()
    worst = max(worst, float(np.abs(got - ref).max()))
    shapes.append(list(got.shape))
print(json.dumps({'max_diff': worst, 'shapes': shapes,
  'graph_inputs': [[i.name, i.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]] for i in m.graph.input],
  'graph_outputs': [o.name for o in m.graph.output], 'opset': [o.version for o in m.opset_import],
  'ops': sorted(set(n.op_type for n in m.graph.node))}))
`;
  const r = spawnSync(PYTHON, ['-c', script, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    max_diff: number;
    shapes: number[][];
    graph_inputs: Array<[string, number, Array<string | number>]>;
    graph_outputs: string[];
    opset: number[];
    ops: string[];
  };
  assert.deepEqual(res.graph_inputs, [
    ['input_ids', 7, ['batch', 'sequence']],
    ['attention_mask', 7, ['batch', 'sequence']],
    ['token_type_ids', 7, ['batch', 'sequence']],
  ]);
  assert.deepEqual(res.graph_outputs, ['logits']);
  assert.deepEqual(res.opset, [17]);
  assert.deepEqual(res.shapes, [
    [1, 2],
    [1, 2],
    [3, 2],
    [5, 2],
    [2, 2],
  ]);
  assert.ok(res.max_diff <= 1e-4, `Python ONNX Runtime vs transformers: ${res.max_diff}`);
  t.diagnostic(
    `Python onnxruntime vs transformers (5 shapes, padded rows): max |logit diff| ${res.max_diff}; ops ${res.ops.join(' ')}`,
  );
});

test('a bad ONNX export fails: a tampered weight makes the check throw with the difference, and no model.onnx is written', async (t) => {
  const ort = await loadOnnxRuntime();
  if (!ort.ok) return t.skip(`${ort.reason}`);
  await initBackend('wasm');
  const out = path.join(work, 'tampered');
  await assert.rejects(
    exportStudent(runDir, {
      out,
      format: 'onnx',
      tamperOnnxWeights: (w) => {
        w.get('bert.encoder.layer.1.output.dense.bias')!.data[3] += 0.5;
      },
    }),
    /ONNX export check failed: ONNX Runtime's logits differ from the trained model's by up to \d\.\d+(e-\d+)? \(tolerance .*\); model\.onnx was not written/,
  );
  assert.equal(fs.existsSync(path.join(out, 'model.onnx')), false);
});

test('export --format onnx: its own folder (student-onnx) with config and tokenizer, no safetensors', async (t) => {
  const ort = await loadOnnxRuntime();
  if (!ort.ok) return t.skip(`${ort.reason}`);
  const r = runCli(['export', runDir, '--format', 'onnx', '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as ExportJson;
  assert.equal(j.dir, path.join(runDir, 'student-onnx'));
  assert.deepEqual(fs.readdirSync(j.dir).sort(), [
    'config.json',
    'model.onnx',
    'special_tokens_map.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  assert.equal(j.onnx?.verified, true);
});

test('without onnxruntime-node the export writes model.onnx unchecked and says so', async () => {
  await initBackend('wasm');
  const out = path.join(work, 'unchecked');
  const r = await exportStudent(runDir, {
    out,
    format: 'both',
    onnxRuntimePackage: 'onnxruntime-node-that-is-not-installed',
  });
  assert.equal(r.onnx?.verified, false);
  assert.match(
    r.onnx!.note!,
    /onnxruntime-node-that-is-not-installed is not installed: model\.onnx was written but not run; install it/,
  );
  assert.ok(fs.existsSync(path.join(out, 'model.onnx')));
});

test('export --format with an unknown value is a user error that names the formats', () => {
  const r = runCli(['export', runDir, '--format', 'tflite']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--format: unknown format "tflite"\n {2}fix: use one of hf, onnx, both/);
});

test("the graph computes BertModel's logits for other architectures: regression head, 3 heads, eps 1e-5, 3 layers, 5 classes", async (t) => {
  const ort = await loadOnnxRuntime();
  if (!ort.ok) return t.skip(`${ort.reason}`);
  await initBackend('wasm');
  const base: BertConfig = {
    ...BERT_BASE_DEFAULTS,
    vocabSize: 50,
    hiddenSize: 24,
    numAttentionHeads: 3,
    intermediateSize: 40,
    maxPositionEmbeddings: 20,
    numHiddenLayers: 3,
    layerNormEps: 1e-5,
    initializerRange: 0.3,
  };
  const configs: BertConfig[] = [
    { ...base, numLabels: 1, problemType: 'regression', labels: ['LABEL_0'] },
    { ...base, numHiddenLayers: 1, numLabels: 5, labels: ['a', 'b', 'c', 'd', 'e'], typeVocabSize: 3 },
  ];
  for (const [k, config] of configs.entries()) {
    const model = BertModel.randomInit(config, 11 + k);
    try {
      const size = 3;
      const seqLen = 20;
      const batch = {
        size,
        seqLen,
        inputIds: new Int32Array(size * seqLen),
        tokenTypeIds: new Int32Array(size * seqLen),
        attentionMask: new Int32Array(size * seqLen),
      };
      for (let b = 0; b < size; b++) {
        for (let i = 0; i < seqLen - 6 * b; i++) {
          batch.inputIds[b * seqLen + i] = (7 * i + 3 * b + 1) % config.vocabSize;
          batch.tokenTypeIds[b * seqLen + i] = i % config.typeVocabSize;
          batch.attentionMask[b * seqLen + i] = 1;
        }
      }
      const inputs = toBertInputs(batch);
      const out = model.forward(inputs, { training: false, keep: { hiddenStates: [], attentions: [] } });
      const want = out.logits.dataSync() as Float32Array;
      disposeInputs(inputs);
      const got = await onnxLogits(ort.ort, encodeModel(buildBertOnnx(config, model.toNamedTensors())), batch);
      const cmp = compareLogits(want, got);
      assert.equal(got.length, size * config.numLabels);
      assert.ok(cmp.ok, `${config.problemType}: ${cmp.maxAbsDiff}`);
      t.diagnostic(`${config.numHiddenLayers} layers, ${config.numLabels} outputs: max |logit diff| ${cmp.maxAbsDiff}`);
      out.logits.dispose();
      out.pooled.dispose();
    } finally {
      model.dispose();
    }
  }
});

test('a model without a classifier or over 2 GiB is refused with the fix', () => {
  const config: BertConfig = {
    ...BERT_BASE_DEFAULTS,
    vocabSize: 10,
    hiddenSize: 8,
    numAttentionHeads: 2,
    intermediateSize: 8,
    maxPositionEmbeddings: 8,
    numHiddenLayers: 1,
  };
  const model = BertModel.randomInit(config, 1);
  const tensors = model.toNamedTensors();
  model.dispose();
  tensors.delete('classifier.weight');
  assert.throws(
    () => buildBertOnnx(config, tensors),
    (e: unknown) =>
      e instanceof UserError &&
      /no tensor "classifier\.weight"/.test(e.message) &&
      /classification head/.test(e.fix ?? ''),
  );
  assert.throws(
    () => assertFitsOneFile(2 ** 31),
    (e: unknown) => e instanceof UserError && /limited to 2 GiB/.test(e.message) && /--format hf/.test(e.fix ?? ''),
  );
  assert.doesNotThrow(() => assertFitsOneFile(2 ** 30));
});
