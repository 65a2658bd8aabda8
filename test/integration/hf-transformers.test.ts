// The model and its exports against the real Hugging Face stack (transformers in the venv; one
// Python process per test, test/reference/hf_transformers.py):
// - a tiny run's exported student loads with BertForSequenceClassification.from_pretrained, with
//   every weight found, and gives the logits `distillery inspect --json` prints (≤ 1e-4);
// - on the real pre-trained all-MiniLM-L6-v2 (bash scripts/fetch-pretrained.sh all-minilm-l6-v2),
//   our BertModel equals transformers' BertModel: every hidden state of every real token and every
//   attention map of a padded batch of GLUE sentences, and inspect's [CLS] states and attentions;
// - a student distilled for a few steps from all-MiniLM-L6-v2 (fine-tuned by the run for 2 steps,
//   as it has no task head) exports (--format both) to a folder
//   from_pretrained loads with inspect's logits, and to a model.onnx that Python ONNX Runtime runs
//   with the same logits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { startRun } from '../../src/train/run';
import { initBackend } from '../../src/model/backend';
import { BertModel } from '../../src/model/bert';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { WordPieceTokenizer } from '../../src/data/tokenizer';
import { toBertInputs, disposeInputs } from '../../src/model/inputs';
import type { InspectResult } from '../../src/cli/verbs/inspect';
import { customSst2Task, runCli, tmpDir, writeConfig, SST2_DIR } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';
import { REPO_ROOT } from '../helpers/paths';

const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'hf_transformers.py');
const MINILM = path.join(REPO_ROOT, 'models', 'all-minilm-l6-v2');
const MINILM_MISSING = `${MINILM} is not there: fetch it with \`bash scripts/fetch-pretrained.sh all-minilm-l6-v2\``;

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}
interface ForwardAnswer {
  logits?: number[][];
  hidden_states: number[][][][];
  attentions: number[][][][][];
  newly_initialized: string[];
  unexpected: string[];
}

function python<T>(requests: object[]): T[] {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, `hf_transformers.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

function inspect(dir: string, text: string, pair?: string): InspectResult {
  const r = runCli([
    'inspect',
    dir,
    '--text',
    text,
    ...(pair === undefined ? [] : ['--text-pair', pair]),
    '--json',
    '--backend',
    'wasm',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as InspectResult;
}

/** One unpadded row per inspect result, as a batch of size 1 each. */
function rowOf(r: InspectResult): Batch {
  return { input_ids: [r.inputIds], attention_mask: [r.inputIds.map(() => 1)], token_type_ids: [r.tokenTypeIds] };
}

function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const INPUTS: Array<[string, string | undefined]> = [
  ['a gripping, beautifully acted film.', undefined],
  ['The movie was not good at all; I left early!', undefined],
  ['The cat sat on the mat.', 'A cat was sitting on a rug.'],
];

function requireTransformers(): void {
  if (!pythonHas('transformers', 'torch')) assert.fail(pythonMissing('transformers', 'torch'));
}

let work: string;

before(async () => {
  work = tmpDir('distillery-hf-');
  await initBackend('wasm');
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** inspect's logits for INPUTS against from_pretrained's, and the folder loads with nothing missing. */
function checkFolderAgainstTransformers(dir: string): { logits: number; note: string; results: InspectResult[] } {
  const results = INPUTS.map(([a, b]) => inspect(dir, a, b));
  const answers = python<ForwardAnswer | { input_ids: number[][]; token_type_ids: number[][] }>([
    ...results.map((r) => ({ op: 'forward', dir, class: 'BertForSequenceClassification', ...rowOf(r) })),
    { op: 'tokenize', dir, rows: INPUTS.map(([a, b]) => [a, b ?? null]), max_length: null },
  ]);
  let worst = 0;
  results.forEach((r, i) => {
    const hf = answers[i] as ForwardAnswer;
    assert.deepEqual(hf.newly_initialized, [], 'from_pretrained found every weight');
    assert.deepEqual(hf.unexpected, [], 'and no tensor it does not know');
    worst = Math.max(worst, maxDiff(r.logits, hf.logits![0]));
  });
  const tok = answers[results.length] as { input_ids: number[][]; token_type_ids: number[][] };
  assert.deepEqual(
    results.map((r) => r.inputIds),
    tok.input_ids,
    "BertTokenizerFast.from_pretrained(export) gives inspect's ids",
  );
  assert.deepEqual(
    results.map((r) => r.tokenTypeIds),
    tok.token_type_ids,
  );
  const scale = Math.max(...results.flatMap((r) => r.logits.map(Math.abs)));
  return {
    logits: worst,
    note: `${results.length} inputs (one pair), largest |logit| ${scale.toPrecision(3)}`,
    results,
  };
}

test("a tiny run's export loads with BertForSequenceClassification.from_pretrained and gives inspect's logits", async (t) => {
  requireTransformers();
  writeTinyCheckpoint(path.join(work, 'teacher'), { layers: 2, hidden: 32, heads: 4, intermediate: 64, seed: 9 });
  const file = writeConfig(work, 'tiny', {
    task: customSst2Task(work, 16, 8),
    teacher: { checkpoint: 'teacher' },
    student: { layers: 1 },
    algorithm: 'hard+soft',
    stages: { classificationEpochs: 1 },
    optim: { lr: 1e-3, batchSize: 8, seed: 4 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const out = path.join(work, 'tiny-student');
  const r = runCli(['export', outcome.runDir, '--out', out, '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const { logits, note } = checkFolderAgainstTransformers(out);
  assert.ok(logits <= 1e-4, `logits: ${logits}`);
  t.diagnostic(`tiny export: transformers from_pretrained vs inspect, ${note}: max |logit diff| ${logits}`);
});

test("all-MiniLM-L6-v2: our BertModel equals transformers' BertModel (hidden states of every real token, attentions, inspect's [CLS] states)", async (t) => {
  if (!fs.existsSync(path.join(MINILM, 'model.safetensors'))) return t.skip(MINILM_MISSING);
  requireTransformers();
  // A padded batch of real sentences, one of them a pair.
  const tok = WordPieceTokenizer.fromModelDir(MINILM);
  const lines = fs
    .readFileSync(path.join(SST2_DIR, 'dev.tsv'), 'utf8')
    .split('\n')
    .slice(1, 4)
    .map((l) => l.split('\t')[0]);
  const encs = [
    ...lines.map((l) => tok.encode(l, undefined, 64)),
    tok.encode('The cat sat on the mat.', 'A cat was sitting on a rug.', 64),
  ];
  const seqLen = Math.max(...encs.map((e) => e.inputIds.length));
  const batch: Batch = { input_ids: [], attention_mask: [], token_type_ids: [] };
  for (const e of encs) {
    const pad = seqLen - e.inputIds.length;
    batch.input_ids.push([...e.inputIds, ...new Array<number>(pad).fill(0)]);
    batch.token_type_ids.push([...e.tokenTypeIds, ...new Array<number>(pad).fill(0)]);
    batch.attention_mask.push([...e.inputIds.map(() => 1), ...new Array<number>(pad).fill(0)]);
  }
  const inspected = INPUTS.map(([a, b]) => inspect(MINILM, a, b));
  const [hf, ...hfRows] = python<ForwardAnswer>([
    { op: 'forward', dir: MINILM, class: 'BertModel', ...batch },
    ...inspected.map((r) => ({ op: 'forward', dir: MINILM, class: 'BertModel', ...rowOf(r) })),
  ]);
  assert.equal(hf.newly_initialized.length, 0, 'transformers found every weight');

  const ck = loadCheckpoint(MINILM);
  const model = BertModel.fromNamedTensors(ck.config, ck.tensors, { trainable: false, source: MINILM });
  const L = ck.config.numHiddenLayers;
  let hiddenWorst = 0;
  let attnWorst = 0;
  try {
    const inputs = toBertInputs({
      size: encs.length,
      seqLen,
      inputIds: Int32Array.from(batch.input_ids.flat()),
      tokenTypeIds: Int32Array.from(batch.token_type_ids.flat()),
      attentionMask: Int32Array.from(batch.attention_mask.flat()),
    });
    const out = model.forward(inputs, { training: false });
    const hidden = out.hiddenStates.map((h) => h.arraySync());
    const attn = out.attentions.map((a) => a.arraySync());
    tf.dispose([out.logits, out.pooled, ...out.hiddenStates, ...out.attentions]);
    disposeInputs(inputs);
    assert.equal(hidden.length, L + 1);
    encs.forEach((e, b) => {
      const n = e.inputIds.length;
      for (let k = 0; k <= L; k++) {
        for (let i = 0; i < n; i++)
          hiddenWorst = Math.max(hiddenWorst, maxDiff(hidden[k][b][i], hf.hidden_states[k][b][i]));
      }
      for (let k = 0; k < L; k++) {
        for (let h = 0; h < ck.config.numAttentionHeads; h++) {
          for (let q = 0; q < n; q++)
            attnWorst = Math.max(attnWorst, maxDiff(attn[k][b][h][q], hf.attentions[k][b][h][q]));
        }
      }
    });
  } finally {
    model.dispose();
  }
  assert.ok(hiddenWorst <= 1e-4, `hidden states: ${hiddenWorst}`);
  assert.ok(attnWorst <= 1e-5, `attention probabilities: ${attnWorst}`);

  // inspect --json (the CLI, unpadded): [CLS] after every layer and every attention map.
  let clsWorst = 0;
  let inspectAttnWorst = 0;
  inspected.forEach((r, i) => {
    for (let k = 0; k <= L; k++)
      clsWorst = Math.max(clsWorst, maxDiff(r.hiddenCls[k], hfRows[i].hidden_states[k][0][0]));
    for (let k = 0; k < L; k++) {
      inspectAttnWorst = Math.max(
        inspectAttnWorst,
        maxDiff(r.attentions[k].flat(2), hfRows[i].attentions[k][0].flat(2)),
      );
    }
  });
  assert.ok(clsWorst <= 1e-4, `inspect [CLS] states: ${clsWorst}`);
  assert.ok(inspectAttnWorst <= 1e-5, `inspect attentions: ${inspectAttnWorst}`);
  t.diagnostic(
    `all-MiniLM-L6-v2 vs transformers BertModel (batch of ${encs.length}, ${seqLen} positions, padded): max |diff| hidden states ${hiddenWorst}, attentions ${attnWorst}; inspect [CLS] ${clsWorst}, inspect attentions ${inspectAttnWorst}`,
  );
});

test("a student distilled from all-MiniLM-L6-v2 exports to from_pretrained with inspect's logits, and to ONNX with the same logits", async (t) => {
  if (!fs.existsSync(path.join(MINILM, 'model.safetensors'))) return t.skip(MINILM_MISSING);
  requireTransformers();
  const dir = path.join(work, 'minilm');
  fs.mkdirSync(dir);
  const file = writeConfig(dir, 'minilm', {
    task: { ...customSst2Task(dir, 16, 8), maxSeqLen: 32 },
    // It has no task head: the run fine-tunes it for one short epoch first (2 steps).
    teacher: { train: { from: MINILM, epochs: 1 } },
    student: { layers: 2 },
    mapping: 'last-layers',
    algorithm: 'hard+soft',
    stages: { classificationEpochs: 1 },
    optim: { lr: 1e-4, batchSize: 8, seed: 5 },
    backend: 'wasm',
    runsDir: 'runs',
  });
  const outcome = await startRun(file, { stop: { requested: null } });
  assert.equal(outcome.status, 'finished', String(outcome.error));
  const out = path.join(dir, 'student');
  const r = runCli(['export', outcome.runDir, '--out', out, '--format', 'both', '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const exported = JSON.parse(r.stdout) as { onnx: { verified: boolean; maxLogitDiff?: number; note?: string } };
  const { logits, note, results } = checkFolderAgainstTransformers(out);
  assert.ok(logits <= 1e-4, `logits: ${logits}`);
  // Python ONNX Runtime on inspect's inputs.
  const ort = python<{ logits: number[][] }>(
    results.map((res) => ({ op: 'onnx', file: path.join(out, 'model.onnx'), ...rowOf(res) })),
  );
  const onnxWorst = Math.max(...ort.map((o, i) => maxDiff(o.logits[0], results[i].logits)));
  assert.ok(onnxWorst <= 1e-4, `Python ONNX Runtime vs inspect: ${onnxWorst}`);
  t.diagnostic(
    `student of all-MiniLM-L6-v2 (2 layers, hidden 384): ${note}: from_pretrained vs inspect ${logits}; Python onnxruntime vs inspect ${onnxWorst}; ` +
      (exported.onnx.verified
        ? `export's own onnxruntime-node check ${exported.onnx.maxLogitDiff}`
        : `export's check skipped: ${exported.onnx.note}`),
  );
});
