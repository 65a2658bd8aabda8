// The real pre-trained checkpoints (all-MiniLM-L6-v2 and the 12-layer e5-small, fetched by
// scripts/fetch-pretrained.sh), as the study's teachers start from them: `distillery inspect --json`
// gives transformers' own BertForSequenceClassification numbers on each
// (test/reference/pretrained_reference.py), on a save_pretrained export with a head, and on the
// fetched folders as they are; on e5-small also onnxruntime's numbers on the package's own ONNX file,
// which the folder was converted from (test/reference/onnx_bert_reference.py).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';
import { pretrainedDir, pretrainedMissing } from '../helpers/pretrained';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import type { InspectResult } from '../../src/cli/verbs/inspect';

const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'pretrained_reference.py');
const ONNX_SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'onnx_bert_reference.py');
const PY_MODULES = ['torch', 'transformers', 'safetensors'];
const pySkip = pythonHas(...PY_MODULES) ? false : pythonMissing(...PY_MODULES);
const ONNX_FILE = path.join('onnx', 'e5-small.onnx');

/** The fetched models and their shapes. */
const MODELS = [
  { name: 'all-minilm-l6-v2', layers: 6 },
  { name: 'e5-small', layers: 12 },
] as const;

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

function inspect(dir: string, pair = true): InspectResult {
  const args = ['inspect', dir, '--text', TEXT, ...(pair ? ['--text-pair', PAIR] : []), '--json', '--backend', 'wasm'];
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

for (const { name, layers } of MODELS) {
  const dir = pretrainedDir(name);
  const skip = pretrainedMissing(name) || pySkip;
  let tmp: string;
  let exportDir: string;
  let expected: Expected;

  before(() => {
    if (skip) return;
    ensureCliBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `distillery-pretrained-parity-${name}-`));
    exportDir = path.join(tmp, 'with-head');
    const r = spawnSync(
      PYTHON,
      [SCRIPT, dir, exportDir, '--text', TEXT, '--text-pair', PAIR, '--labels', '2', '--seed', '0'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `pretrained_reference.py failed on ${name}:\n${r.stderr}`);
    expected = JSON.parse(fs.readFileSync(path.join(exportDir, 'expected.json'), 'utf8')) as Expected;
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Checks the encoder's numbers; returns the largest differences, for the test's diagnostics. */
  const checkEncoder = (got: InspectResult): { attention: number; cls: number } => {
    assert.deepEqual(got.inputIds, expected.input_ids, "token ids (transformers' tokenizer vs our WordPiece)");
    assert.deepEqual(got.tokenTypeIds, expected.token_type_ids);
    assert.equal(got.model.layers, layers);
    assert.equal(got.model.hidden, 384);
    assert.equal(got.attentions.length, layers);
    const worst = { attention: 0, cls: 0 };
    for (let k = 0; k < layers; k++) {
      const err = maxAbsDiff(got.attentions[k], expected.attentions[k]);
      assert.ok(err <= 1e-5, `layer ${k + 1} attention probabilities vs transformers ${expected.transformers}: ${err}`);
      worst.attention = Math.max(worst.attention, err);
    }
    for (let k = 0; k <= layers; k++) {
      const err = maxAbsDiff(got.hiddenCls[k], expected.cls_hidden_states[k]);
      assert.ok(err <= 1e-4, `[CLS] after ${k === 0 ? 'the embeddings' : `layer ${k}`} vs transformers: ${err}`);
      worst.cls = Math.max(worst.cls, err);
    }
    return worst;
  };

  test(
    `inspect on ${name} with a head (saved by transformers) matches BertForSequenceClassification within 1e-4 on logits`,
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
    `inspect reads the fetched ${name} folder as it is: the same encoder numbers, a new head noted`,
    { skip },
    () => {
      if (name === 'all-minilm-l6-v2') {
        assert.ok(fs.existsSync(path.join(dir, 'modules.json')), 'the fetched folder is a sentence-transformers root');
      }
      const got = inspect(dir);
      checkEncoder(got);
      assert.ok(
        got.notes.some((n) => /no classifier head/.test(n)),
        got.notes.join('\n'),
      );
    },
  );
}

test(
  "inspect on the converted e5-small matches onnxruntime on the package's own ONNX export (last [CLS] state, 1e-4)",
  {
    skip:
      pretrainedMissing('e5-small', [ONNX_FILE]) || (pythonHas('onnxruntime') ? false : pythonMissing('onnxruntime')),
  },
  (t) => {
    const dir = pretrainedDir('e5-small');
    // The export takes input_ids and attention_mask only (token types 0): one sentence.
    const got = inspect(dir, false);
    const r = spawnSync(PYTHON, [ONNX_SCRIPT, 'run', path.join(dir, ONNX_FILE), '--ids', got.inputIds.join(',')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `onnx_bert_reference.py run failed:\n${r.stderr}`);
    const want = JSON.parse(r.stdout) as { cls: number[]; onnxruntime: string };
    const err = maxAbsDiff(got.hiddenCls[12], want.cls);
    assert.ok(err <= 1e-4, `[CLS] after layer 12 vs onnxruntime ${want.onnxruntime}: ${err}`);
    assert.ok(Math.max(...want.cls.map(Math.abs)) > 0.1, 'the reference is not near zero');
    t.diagnostic(`max |difference| vs onnxruntime ${want.onnxruntime}: ${err.toExponential(1)}`);
  },
);
