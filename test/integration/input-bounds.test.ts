// Bounds on every number a config (or a checkpoint's config.json) can hold: absurd values are
// validation errors that name the field and the bound, never a crash in a later check or in the
// trainer, and `train` refuses them before it creates a run folder (issue #19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../src/validate/validate';
import { ConfigProblem } from '../../src/config/parse';
import { DISTILL_SCHEMA, SchemaNode, schemaAt } from '../../src/config/schema';
import { MAX_SEQ_LEN, MODEL_BOUNDS } from '../../src/config/bounds';
import { BERT_BASE_DEFAULTS } from '../../src/model/config';
import { bertParameterCount } from '../../src/model/memory-estimate';
import { countParameters } from '../../src/model/bert';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';

function workspace(hf: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-bounds-'));
  const teacher = path.join(dir, 'models', 'teacher');
  fs.mkdirSync(teacher, { recursive: true });
  fs.writeFileSync(
    path.join(teacher, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 12,
      hidden_size: 768,
      num_attention_heads: 12,
      intermediate_size: 3072,
      max_position_embeddings: 512,
      id2label: { 0: 'LABEL_0', 1: 'LABEL_1' },
      ...hf,
    }),
  );
  for (const f of ['model.safetensors', 'vocab.txt']) fs.writeFileSync(path.join(teacher, f), '');
  const data = path.join(dir, 'data', 'SST-2');
  fs.mkdirSync(data, { recursive: true });
  for (const f of ['train.tsv', 'dev.tsv']) fs.writeFileSync(path.join(data, f), 'sentence\tlabel\nfine\t1\n');
  return dir;
}

/** A config text with `over` merged into the sections of a valid sid config; numbers are written verbatim. */
function configText(over: Record<string, Record<string, string>>): string {
  const sections: Record<string, Record<string, string>> = {
    task: { name: '"sst2"', dataDir: '"data/SST-2"' },
    teacher: { checkpoint: '"models/teacher"' },
    ...over,
  };
  const body = Object.entries(sections).map(
    ([k, fields]) =>
      `  "${k}": { ${Object.entries(fields)
        .map(([f, v]) => `"${f}": ${v}`)
        .join(', ')} }`,
  );
  return `{\n${body.join(',\n')},\n  "algorithm": "sid"\n}\n`;
}

function validate(
  text: string,
  hf: Record<string, unknown> = {},
): { problems: ConfigProblem[]; file: string; dir: string } {
  const dir = workspace(hf);
  const file = path.join(dir, 'run.distill.json');
  fs.writeFileSync(file, text);
  return { ...validateConfig(text, file), file, dir };
}

function errorAt(problems: ConfigProblem[], pathText: string): ConfigProblem {
  const hits = problems.filter((p) => p.severity === 'error' && p.pathText === pathText);
  assert.equal(
    hits.length,
    1,
    `expected one error at ${pathText}, got ${JSON.stringify(problems.map((p) => [p.pathText, p.message]))}`,
  );
  assert.ok(hits[0].range, 'the error has a source range');
  return hits[0];
}

for (const layers of ['1e308', String(2 ** 53 + 1), '49']) {
  test(`student.layers ${layers} is an error naming the bound, not a crash`, () => {
    const { problems } = validate(configText({ student: { layers } }));
    const p = errorAt(problems, 'student.layers');
    assert.match(p.message, /≤ 48/);
  });
}

test('stages.epochsPerLayer 1e308 is an error naming the bound', () => {
  const { problems } = validate(configText({ stages: { epochsPerLayer: '1e308' } }));
  assert.match(errorAt(problems, 'stages.epochsPerLayer').message, /stages\.epochsPerLayer.*≤ \d+/);
});

test('a teacher config.json with absurd sizes is an error at teacher.checkpoint, not a crash', () => {
  for (const hf of [
    { num_hidden_layers: 1e308 },
    { num_hidden_layers: 2 ** 53 + 1 },
    { num_attention_heads: 0 },
    { hidden_size: -5 },
    { max_position_embeddings: Number.MAX_VALUE },
    { num_hidden_layers: 2.5 },
  ]) {
    const { problems } = validate(configText({}), hf);
    const p = errorAt(problems, 'teacher.checkpoint');
    assert.match(p.message, /config\.json/, JSON.stringify(hf));
  }
});

test('the total epochs of the stage plan are bounded', () => {
  // 48 layers × 1000 epochs each is within each field's bound, but not as a whole plan.
  const { problems } = validate(
    configText({
      student: { layers: '12' },
      stages: { epochsPerLayer: '1000' },
    }),
    { num_hidden_layers: 24 },
  );
  assert.match(errorAt(problems, 'stages.epochsPerLayer').message, /epochs in all/);
});

test('CLI: validate and train refuse absurd numbers as user errors; train creates no run folder', () => {
  ensureCliBuilt();
  for (const [over, field] of [
    [{ student: { layers: '1e308' } }, 'student.layers'],
    [{ stages: { epochsPerLayer: '1e308' } }, 'stages.epochsPerLayer'],
  ] as const) {
    const dir = workspace();
    const file = path.join(dir, 'run.distill.json');
    fs.writeFileSync(file, configText(over));
    const v = runCli(['validate', file]);
    assert.equal(v.status, 2, v.stderr);
    assert.doesNotMatch(v.stderr, /^\s+at /m);
    assert.match(v.stdout, new RegExp(`run\\.distill\\.json:\\d+:\\d+: .*${field.replace('.', '\\.')}`));
    const t = runCli(['train', file, '--backend', 'cpu'], { cwd: dir });
    // A config's errors come one per line (file:line:col: message (fix: …)), without a stack trace.
    assert.equal(t.status, 2, t.stderr);
    assert.match(t.stderr, /^distillery train: /);
    assert.doesNotMatch(t.stderr, /^\s+at /m);
    assert.match(t.stderr, /run\.distill\.json:\d+:\d+: .*\(fix: /);
    assert.match(t.stderr, new RegExp(field.replace('.', '\\.')));
    assert.equal(fs.existsSync(path.join(dir, 'runs')), false, 'no run folder');
  }
});

test('every number in the schema has an upper bound, and the model sizes equal MODEL_BOUNDS', () => {
  const unbounded: string[] = [];
  const walk = (node: SchemaNode, at: string): void => {
    const types = ([] as string[]).concat(node.type ?? []);
    if (
      (types.includes('integer') || types.includes('number')) &&
      node.maximum === undefined &&
      node.exclusiveMaximum === undefined
    )
      unbounded.push(at);
    for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, at ? `${at}.${k}` : k);
    for (const alt of node.oneOf ?? []) walk(alt, at);
    if (node.items) walk(node.items, `${at}[]`);
  };
  walk(DISTILL_SCHEMA, '');
  assert.deepEqual(unbounded, []);
  const max = (p: (string | number)[]): number | undefined => schemaAt(p)?.maximum;
  for (const section of [['student'], ['teacher', 'train', 'architecture']]) {
    for (const k of ['layers', 'hiddenSize', 'heads', 'intermediateSize'] as const)
      assert.equal(max([...section, k]), MODEL_BOUNDS[k], `${section.join('.')}.${k}`);
  }
  assert.equal(max(['teacher', 'train', 'architecture', 'maxPositions']), MODEL_BOUNDS.maxPositions);
  assert.equal(max(['task', 'maxSeqLen']), MAX_SEQ_LEN);
});

test("the validator's parameter count equals the model's", () => {
  const c = {
    ...BERT_BASE_DEFAULTS,
    hiddenSize: 64,
    numHiddenLayers: 3,
    numAttentionHeads: 4,
    intermediateSize: 96,
    vocabSize: 100,
    numLabels: 3,
    labels: ['a', 'b', 'c'],
  };
  assert.equal(bertParameterCount(c), countParameters(c).total);
  assert.equal(bertParameterCount(BERT_BASE_DEFAULTS), countParameters(BERT_BASE_DEFAULTS).total);
});

test('backend "wasm": a batch beyond the heap at maxSeqLen is a warning naming the largest batch; a model beyond it at any batch is an error', () => {
  const big = configText({
    task: { name: '"sst2"', dataDir: '"data/SST-2"', maxSeqLen: '512' },
    optim: { batchSize: '4096' },
  }).replace('"algorithm": "sid"', '"algorithm": "sid", "backend": "wasm"');
  const { problems } = validate(big);
  const w = problems.filter((p) => p.severity === 'warning' && p.pathText === 'optim.batchSize');
  assert.equal(w.length, 1, JSON.stringify(problems));
  assert.match(w[0].message, /wasm.*4096 sequences × 512 tokens needs about [\d.]+ GiB/);
  assert.match(w[0].fix ?? '', /set optim\.batchSize to at most \d+/);
  assert.equal(problems.filter((p) => p.severity === 'error').length, 0);
  // Other backends have no fixed heap.
  assert.deepEqual(
    validate(big.replace('"backend": "wasm"', '"backend": "tensorflow"')).problems.filter(
      (p) => p.pathText === 'optim.batchSize',
    ),
    [],
  );

  const huge = `{
  "task": { "name": "sst2", "dataDir": "data/SST-2" },
  "teacher": { "train": { "from": "scratch", "architecture": { "layers": 48, "hiddenSize": 4096, "heads": 64, "intermediateSize": 16384 }, "epochs": 1 } },
  "algorithm": "soft",
  "backend": "wasm"
}`;
  const e = errorAt(validate(huge).problems, 'teacher.train');
  assert.match(
    e.message,
    /weights and optimizer .* GiB, more than the wasm backend's .* usable heap, at any batch size/,
  );
});
