// The TF.js BERT against an independent PyTorch model built from torch's own modules
// (test/reference/make_reference.py: nn.Embedding, nn.LayerNorm, nn.TransformerEncoderLayer, ...)
// and saved as a Hugging Face folder, on the wasm backend: logits, attention probabilities and
// per-layer [CLS] states, for two architectures; and padding that does not change real positions.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { BertModel, BertInputs } from '../../src/model/bert';
import { BertConfig } from '../../src/model/config';
import { parseHfConfig } from '../../src/model/hf-config';
import { NamedTensors } from '../../src/model/named-tensors';
import { readSafetensorsFile, toFloat32 } from '../../src/model/safetensors';
import { REPO_ROOT } from '../helpers/paths';

import { PYTHON } from '../helpers/python';
const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'make_reference.py');

interface ReferenceOutputs {
  logits: number[][];
  cls_hidden_states: number[][][];
  hidden_states: number[][][][];
  attentions: number[][][][][];
}

interface Expected {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  float32: ReferenceOutputs;
  float64: ReferenceOutputs;
  float32_vs_float64: { logits: number; cls_hidden_states: number; attentions: number };
}

interface Reference {
  config: BertConfig;
  tensors: NamedTensors;
  expected: Expected;
}

function requireTorch(): void {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (r.status !== 0) {
    assert.fail(
      `${PYTHON} cannot import torch and numpy (${(r.stderr || String(r.error)).trim().split('\n').pop()}); ` +
        "the reference tests need the venv's PyTorch: run `bash scripts/setup-python.sh`",
    );
  }
}

/** Runs the reference script into a temp folder and reads it back as the product would. */
function makeReference(args: string[]): Reference {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-bert-ref-'));
  try {
    const r = spawnSync(PYTHON, [SCRIPT, dir, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `make_reference.py failed:\n${r.stderr}`);
    const configFile = path.join(dir, 'config.json');
    const config = parseHfConfig(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
    const weightsFile = path.join(dir, 'model.safetensors');
    const tensors: NamedTensors = new Map();
    for (const [name, entry] of readSafetensorsFile(weightsFile).entries) {
      tensors.set(name, { shape: entry.shape, data: toFloat32(entry, weightsFile) });
    }
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    return { config, tensors, expected };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function toInputs(e: Expected['inputs']): BertInputs {
  return {
    inputIds: tf.tensor2d(e.input_ids, undefined, 'int32'),
    tokenTypeIds: tf.tensor2d(e.token_type_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(e.attention_mask, undefined, 'int32'),
  };
}

function maxAbsDiff(actual: tf.Tensor, expected: unknown[]): number {
  const a = actual.dataSync();
  const e = (expected as number[]).flat(Infinity as 1) as number[];
  assert.equal(a.length, e.length, 'element count');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - e[i]));
  return m;
}

function checkAgainstReference(ref: Reference): void {
  const { config, tensors, expected } = ref;
  const model = BertModel.fromNamedTensors(config, tensors, { source: 'model.safetensors' });
  const inputs = toInputs(expected.inputs);
  try {
    assert.deepEqual(model.newlyInitialized, []);
    tf.tidy(() => {
      const out = model.forward(inputs, { training: false });
      const L = config.numHiddenLayers;
      assert.equal(out.attentions.length, L);
      assert.equal(out.hiddenStates.length, L + 1);
      // Against torch in float32, and against torch in float64 (the exact answer, up to ~1e-15).
      for (const [precision, want] of [
        ['float32', expected.float32],
        ['float64', expected.float64],
      ] as const) {
        const logitsErr = maxAbsDiff(out.logits, want.logits);
        assert.ok(logitsErr <= 1e-4, `logits vs torch ${precision}: ${logitsErr}`);
        for (let k = 0; k < L; k++) {
          const err = maxAbsDiff(out.attentions[k], want.attentions[k]);
          assert.ok(err <= 1e-5, `layer ${k + 1} attention probabilities vs torch ${precision}: ${err}`);
        }
        for (let k = 0; k <= L; k++) {
          const cls = tf.squeeze(tf.slice(out.hiddenStates[k], [0, 0, 0], [-1, 1, -1]), [1]);
          const err = maxAbsDiff(cls, want.cls_hidden_states[k]);
          assert.ok(
            err <= 1e-4,
            `[CLS] after ${k === 0 ? 'the embeddings' : `layer ${k}`} vs torch ${precision}: ${err}`,
          );
        }
      }
    });
    // What the model writes back is exactly what it read.
    const back = model.toNamedTensors();
    for (const [name, t] of back) {
      assert.deepEqual(t.shape, tensors.get(name)!.shape, name);
      assert.deepEqual(t.data, tensors.get(name)!.data, name);
    }
  } finally {
    model.dispose();
    tf.dispose([inputs.inputIds, inputs.tokenTypeIds, inputs.attentionMask]);
  }
}

let refA: Reference;

before(async () => {
  await initBackend('wasm');
  requireTorch();
});

test('matches PyTorch: 2 layers, hidden 32, 4 heads, layer_norm_eps 1e-12, 2 labels', () => {
  refA = makeReference([
    '--seed',
    '1',
    '--layers',
    '2',
    '--hidden',
    '32',
    '--heads',
    '4',
    '--eps',
    '1e-12',
    '--num-labels',
    '2',
  ]);
  assert.equal(refA.config.numLabels, 2);
  assert.equal(refA.config.layerNormEps, 1e-12);
  checkAgainstReference(refA);
});

test('matches PyTorch: 3 layers, hidden 48, 3 heads, intermediate 80, layer_norm_eps 1e-5, regression head', () => {
  const ref = makeReference([
    '--seed',
    '2',
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
    // Embedding sums of variance ~1e-4: an eps of 1e-12 instead of 1e-5 would be off by ~5%.
    '--emb-std',
    '0.006',
  ]);
  assert.equal(ref.config.numLabels, 1);
  assert.equal(ref.config.problemType, 'regression');
  assert.equal(ref.config.layerNormEps, 1e-5);
  checkAgainstReference(ref);
});

test('padding changes nothing at real positions: a padded sequence equals it unpadded', () => {
  assert.ok(refA, 'runs after the first reference test');
  const model = BertModel.fromNamedTensors(refA.config, refA.tensors);
  const e = refA.expected.inputs;
  // Sequence 0 of the reference batch is the shorter one: its real tokens, then padding to 14.
  const n = e.attention_mask[0].reduce((s, v) => s + v, 0);
  assert.ok(n < e.input_ids[0].length, 'the reference batch pads its first sequence');
  const sequence = (padTo: number): BertInputs => {
    const pad = (row: number[]) => [...row.slice(0, n), ...new Array<number>(padTo - n).fill(0)];
    return toInputs({
      input_ids: [pad(e.input_ids[0])],
      token_type_ids: [pad(e.token_type_ids[0])],
      attention_mask: [[...new Array<number>(n).fill(1), ...new Array<number>(padTo - n).fill(0)]],
    });
  };
  try {
    tf.tidy(() => {
      const alone = model.forward(sequence(n), { training: false });
      for (const padTo of [e.input_ids[0].length, refA.config.maxPositionEmbeddings]) {
        const padded = model.forward(sequence(padTo), { training: false });
        assert.ok(maxAbsDiff(padded.logits, alone.logits.arraySync()) <= 1e-5, `logits, padded to ${padTo}`);
        padded.hiddenStates.forEach((h, k) => {
          const real = tf.slice(h, [0, 0, 0], [1, n, -1]);
          assert.ok(
            maxAbsDiff(real, alone.hiddenStates[k].arraySync()) <= 1e-5,
            `hidden states ${k}, padded to ${padTo}`,
          );
        });
        padded.attentions.forEach((a, k) => {
          const real = tf.slice(a, [0, 0, 0, 0], [1, -1, n, n]);
          assert.ok(
            maxAbsDiff(real, alone.attentions[k].arraySync()) <= 1e-6,
            `attention ${k + 1}, padded to ${padTo}`,
          );
          const toPadding = tf.slice(a, [0, 0, 0, n], [1, -1, -1, -1]);
          assert.ok(
            toPadding.dataSync().every((v) => v === 0),
            'no query attends to padding',
          );
        });
      }
    });
  } finally {
    model.dispose();
  }
});
