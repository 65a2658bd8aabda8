import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { validateConfig, loadConfigFile, resolveConfig, formatProblem } from '../../src/validate/validate';
import { parseConfigText, locate, pathToText, ConfigProblem } from '../../src/config/parse';
import { DISTILL_SCHEMA, SchemaNode, createAjv, schemaAt } from '../../src/config/schema';
import { DEFAULTS } from '../../src/config/defaults';
import {
  ALGORITHMS,
  BACKEND_REQUESTS,
  CACHE_PRECISIONS,
  CheckpointConfig,
  CustomStageConfig,
  CustomTaskConfig,
  DistillConfig,
  EvalConfig,
  LossesConfig,
  OptimConfig,
  StagesConfig,
  StudentConfig,
  TaskConfig,
  TeacherCacheConfig,
  Architecture,
  ScratchTeacherTraining,
  SoftLabelConfig,
} from '../../src/config/types';
import { BACKEND_CHOICES } from '../../src/model/backend';
import { isUserError } from '../../src/util/errors';
import { lossWeights, planCustomStages } from '../../src/distill/plan';
import type { LossName } from '../../src/config/loss-vocabulary';
import { GLUE_DIR } from '../helpers/paths';

// ---- fixtures -------------------------------------------------------------------------------

interface HfConfig {
  num_hidden_layers?: number;
  hidden_size?: number;
  num_attention_heads?: number;
  intermediate_size?: number;
  max_position_embeddings?: number;
  id2label?: Record<string, string>;
  model_type?: string;
}

/** A fake checkpoint folder: config.json plus empty weight/vocab files (validation reads no tensors). */
function writeCheckpoint(dir: string, cfg: HfConfig = {}, files = ['model.safetensors', 'vocab.txt']): string {
  fs.mkdirSync(dir, { recursive: true });
  const full = {
    model_type: 'bert',
    num_hidden_layers: 12,
    hidden_size: 768,
    num_attention_heads: 12,
    intermediate_size: 3072,
    max_position_embeddings: 512,
    id2label: { 0: 'LABEL_0', 1: 'LABEL_1' },
    ...cfg,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(full, null, 2));
  for (const f of files) fs.writeFileSync(path.join(dir, f), '');
  return dir;
}

function writeGlueDir(dir: string, files = ['train.tsv', 'dev.tsv']): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files) fs.writeFileSync(path.join(dir, f), 'sentence\tlabel\nfine\t1\n');
  return dir;
}

/** A workspace with a 12-layer teacher, an SST-2 folder, and a config file written from text. */
function workspace(): { dir: string; write(text: string, name?: string): string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-config-'));
  writeCheckpoint(path.join(dir, 'models', 'teacher'));
  writeGlueDir(path.join(dir, 'data', 'SST-2'));
  return {
    dir,
    write(text: string, name = 'run.distill.json'): string {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    },
  };
}

function check(
  text: string,
  opts?: { checkFiles?: boolean },
  ws = workspace(),
): ReturnType<typeof validateConfig> & { text: string; file: string } {
  const file = ws.write(text);
  return { ...validateConfig(text, file, opts), text, file };
}

/** The 1-based line/column of the `nth` occurrence of `needle` in `text`. */
function posOf(text: string, needle: string, nth = 0): { line: number; column: number } {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    assert.ok(at >= 0, `'${needle}' not in text`);
  }
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

function only(problems: ConfigProblem[], pathText: string, severity: 'error' | 'warning' = 'error'): ConfigProblem {
  const hits = problems.filter((p) => p.pathText === pathText && p.severity === severity);
  assert.equal(
    hits.length,
    1,
    `expected one ${severity} at '${pathText}', got: ${JSON.stringify(problems.map((p) => [p.pathText, p.message]))}`,
  );
  return hits[0];
}

function assertAt(p: ConfigProblem, text: string, needle: string, nth = 0): void {
  const want = posOf(text, needle, nth);
  assert.deepEqual({ line: p.range?.line, column: p.range?.column }, want, `${p.pathText}: ${p.message}`);
}

/** Asserts the problem starts right after the first occurrence of `prefix` (e.g. a value after its key). */
function assertAfter(p: ConfigProblem, text: string, prefix: string): void {
  const at = posOf(text, prefix);
  assert.deepEqual(
    { line: p.range?.line, column: p.range?.column },
    { line: at.line, column: at.column + prefix.length },
    `${p.pathText}: ${p.message}`,
  );
}

const BASE = {
  task: { name: 'sst2', dataDir: 'data/SST-2' },
  teacher: { checkpoint: 'models/teacher' },
  algorithm: 'sid',
};

/** BASE with sections replaced, pretty-printed (one field per line, so positions are easy to find). */
function cfg(over: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...BASE, ...over }, null, 2);
}

// ---- resolving ------------------------------------------------------------------------------

test('a minimal config resolves with every default filled and absolute paths', () => {
  const ws = workspace();
  const r = check(cfg(), undefined, ws);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.config, {
    task: {
      name: 'sst2',
      dataDir: path.join(ws.dir, 'data', 'SST-2'),
      maxSeqLen: 128,
      trainFraction: 1,
      evalSplit: 'dev',
    },
    teacher: { checkpoint: path.join(ws.dir, 'models', 'teacher') },
    student: { layers: 6, hiddenSize: 768, heads: 12, intermediateSize: 3072, init: 'teacher-layers' },
    mapping: 'every-other',
    algorithm: 'sid',
    losses: {
      attentionKl: 1,
      attentionKlHeads: 'match',
      clsCosine: 1,
      softLabel: { weight: 1, temperature: 1 },
      hardLabel: 0,
      hiddenMse: 0,
      embeddingMse: 0,
      valueRelation: 0,
    },
    stages: { epochsPerLayer: 1, internalAllEpochs: 3, classificationEpochs: 3, patience: null },
    optim: {
      lr: 5e-5,
      batchSize: 32,
      warmup: 0.1,
      weightDecay: 0.01,
      maxGradNorm: 1,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-6,
      seed: 42,
    },
    eval: { batchSize: 32 },
    checkpoint: { keep: 2 },
    teacherCache: { enabled: false, maxMiB: 1024, attentionPrecision: 'float32' },
    backend: 'auto',
    runsDir: path.join(ws.dir, 'runs'),
  });
});

test('dependent defaults: student half the teacher, mapping uniform unless 2:1, hardLabel by algorithm, eval batch from optim', () => {
  const ws = workspace();
  writeCheckpoint(path.join(ws.dir, 'models', 't6'), { num_hidden_layers: 6 });
  const r = check(
    cfg({
      teacher: { checkpoint: 'models/t6' },
      student: { layers: 4 },
      algorithm: 'hard+soft',
      optim: { batchSize: 8 },
    }),
    undefined,
    ws,
  );
  assert.deepEqual(r.problems, []);
  assert.equal(r.config?.student.layers, 4);
  assert.equal(r.config?.mapping, 'uniform');
  assert.equal(r.config?.losses.hardLabel, 1);
  assert.equal(r.config?.eval.batchSize, 8);
  const r2 = check(cfg({ teacher: { checkpoint: 'models/t6' } }), undefined, ws);
  assert.equal(r2.config?.student.layers, 3);
  assert.equal(r2.config?.mapping, 'every-other');
});

test('JSONC: comments and trailing commas are accepted; task aliases are canonicalised', () => {
  const text = `// a run
{
  /* the task */
  "task": { "name": "SST-2", "dataDir": "data/SST-2", }, // trailing comma
  "teacher": { "checkpoint": "models/teacher" },
  "algorithm": "pid",
}`;
  const r = check(text);
  assert.deepEqual(r.problems, []);
  assert.equal(r.config?.task.name, 'sst2');
  assert.equal(r.config?.algorithm, 'pid');
});

test('a resolved config is itself a valid config and resolves to the same thing', () => {
  const ws = workspace();
  const r = check(
    cfg({
      student: { layers: 4, init: 'random' },
      mapping: [
        [1, 3],
        [2, 6],
        [3, 9],
        [4, 12],
      ],
      name: 'x1',
      optim: { dropout: 0.2 },
      eval: { everySteps: 50 },
      checkpoint: { everySteps: 100 },
    }),
    undefined,
    ws,
  );
  assert.ok(r.config, JSON.stringify(r.problems));
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-again-'));
  const again = validateConfig(JSON.stringify(r.config, null, 2), path.join(elsewhere, 'config.json'));
  assert.deepEqual(again.problems, []);
  assert.deepEqual(again.config, r.config);
});

test('the teacher can be trained first: fine-tuned from a base folder or from scratch', () => {
  const ws = workspace();
  writeCheckpoint(path.join(ws.dir, 'models', 'base'), { id2label: undefined, num_hidden_layers: 4 });
  const ft = check(
    cfg({ teacher: { train: { from: 'models/base', epochs: 2, lr: 2e-5 }, output: 'models/out' } }),
    undefined,
    ws,
  );
  assert.deepEqual(ft.problems, []);
  assert.deepEqual(ft.config?.teacher, {
    train: { from: path.join(ws.dir, 'models', 'base'), epochs: 2, lr: 2e-5, batchSize: 32 },
    output: path.join(ws.dir, 'models', 'out'),
  });
  assert.equal(ft.config?.student.layers, 2);

  const scratch = check(
    cfg({
      teacher: {
        train: {
          from: 'scratch',
          architecture: { layers: 4, hiddenSize: 256, heads: 4, intermediateSize: 1024 },
          epochs: 3,
        },
      },
    }),
    undefined,
    ws,
  );
  assert.deepEqual(scratch.problems, []);
  assert.deepEqual(scratch.config?.teacher, {
    train: {
      from: 'scratch',
      architecture: { layers: 4, hiddenSize: 256, heads: 4, intermediateSize: 1024, maxPositions: 512 },
      epochs: 3,
      lr: 5e-5,
      batchSize: 32,
    },
  });
  assert.deepEqual(scratch.config?.student, {
    layers: 2,
    hiddenSize: 256,
    heads: 4,
    intermediateSize: 1024,
    init: 'teacher-layers',
  });
});

test('teacherCache: off by default; its fields resolve, and a bad value names the field', () => {
  const ws = workspace();
  assert.deepEqual(check(cfg(), undefined, ws).config?.teacherCache, {
    enabled: false,
    maxMiB: 1024,
    attentionPrecision: 'float32',
  });
  const on = check(cfg({ teacherCache: { enabled: true, attentionPrecision: 'float16' } }), undefined, ws);
  assert.deepEqual(on.problems, []);
  assert.deepEqual(on.config?.teacherCache, { enabled: true, maxMiB: 1024, attentionPrecision: 'float16' });
  const bad = check(cfg({ teacherCache: { enabled: true, maxMiB: 0, attentionPrecision: 'half' } }), undefined, ws);
  assert.deepEqual(bad.problems.map((p) => p.pathText).sort(), [
    'teacherCache.attentionPrecision',
    'teacherCache.maxMiB',
  ]);
  assert.match(bad.problems.find((p) => p.pathText === 'teacherCache.attentionPrecision')!.message, /float16/);
});

test('custom tasks: files resolved, format from the extension', () => {
  const ws = workspace();
  fs.mkdirSync(path.join(ws.dir, 'mine'));
  fs.writeFileSync(path.join(ws.dir, 'mine', 'train.csv'), 'text,label\n');
  fs.writeFileSync(path.join(ws.dir, 'mine', 'dev.csv'), 'text,label\n');
  const r = check(
    cfg({
      task: {
        name: 'custom',
        custom: { train: 'mine/train.csv', dev: 'mine/dev.csv', textA: 'text', label: 'label', labels: ['a', 'b'] },
      },
    }),
    undefined,
    ws,
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.config?.task.custom, {
    train: path.join(ws.dir, 'mine', 'train.csv'),
    dev: path.join(ws.dir, 'mine', 'dev.csv'),
    format: 'csv',
    textA: 'text',
    label: 'label',
    labels: ['a', 'b'],
    regression: false,
  });
  const bad = check(
    cfg({
      task: {
        name: 'custom',
        custom: { train: 'mine/nope.csv', dev: 'mine/dev.csv', textA: 'text', textB: 1, label: 'label' },
      },
    }),
    undefined,
    ws,
  );
  assert.match(only(bad.problems, 'task.custom.train').message, /not found/);
  assert.match(only(bad.problems, 'task.custom.textB').message, /must be a string/);
  fs.writeFileSync(path.join(ws.dir, 'mine', 'train.txt'), '');
  const noExt = check(
    cfg({
      task: { name: 'custom', custom: { train: 'mine/train.txt', dev: 'mine/dev.csv', textA: 'text', label: 'label' } },
    }),
    undefined,
    ws,
  );
  assert.match(only(noExt.problems, 'task.custom.format').message, /cannot tell the format of train\.txt/);
  const withFormat = check(
    cfg({
      task: {
        name: 'custom',
        custom: { train: 'mine/train.txt', dev: 'mine/dev.csv', format: 'tsv', textA: 'text', label: 'label' },
      },
    }),
    undefined,
    ws,
  );
  assert.deepEqual(withFormat.problems, []);
  const regression = check(
    cfg({
      task: {
        name: 'custom',
        custom: {
          train: 'mine/train.csv',
          dev: 'mine/dev.csv',
          textA: 'text',
          label: 'label',
          regression: true,
          labels: ['a', 'b'],
        },
      },
    }),
    undefined,
    ws,
  );
  assert.match(only(regression.problems, 'task.custom.labels').message, /regression task has no class names/);
});

test('the real GLUE folders in shared data pass the data checks', () => {
  const ws = workspace();
  for (const [name, dir] of [
    ['sst2', 'SST-2'],
    ['cola', 'CoLA'],
    ['stsb', 'STS-B'],
  ] as const) {
    const labels = name === 'stsb' ? { id2label: { 0: 'LABEL_0' } } : {};
    writeCheckpoint(path.join(ws.dir, 'models', name), labels);
    const r = check(
      cfg({ task: { name, dataDir: path.join(GLUE_DIR, dir) }, teacher: { checkpoint: `models/${name}` } }),
      undefined,
      ws,
    );
    assert.deepEqual(r.problems, [], name);
  }
});

// ---- syntax and schema ----------------------------------------------------------------------

test('syntax errors become problems with line and column, and stop further checks', () => {
  const text = '{\n  "task": { "name": "sst2" }\n  "teacher": {}\n}';
  const { problems } = parseConfigText(text, 'x.distill.json');
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /expected ','/);
  assert.deepEqual({ line: problems[0].range?.line, column: problems[0].range?.column }, posOf(text, '"teacher"'));
  const r = check(text);
  assert.equal(r.config, undefined);
  assert.deepEqual(
    r.problems.map((p) => p.message),
    problems.map((p) => p.message),
  );
  assert.match(check('   ').problems[0].message, /empty/);
});

test('unknown fields get a did-you-mean and point at the key', () => {
  const text = cfg({ studnet: { layers: 6 }, student: { layerz: 4 }, backend: 'gpu' });
  const r = check(text);
  const top = only(r.problems, 'studnet');
  assert.equal(top.message, "unknown field 'studnet' (did you mean 'student'?)");
  assert.equal(top.fix, "rename it to 'student'");
  assertAt(top, text, '"studnet"');
  const nested = only(r.problems, 'student.layerz');
  assert.match(nested.message, /unknown field 'layerz' in 'student' \(did you mean 'layers'\?\)/);
  const backend = only(r.problems, 'backend');
  assert.match(backend.message, /did you mean "tensorflow-gpu"/);
  assertAt(backend, text, '"gpu"');
  assert.equal(r.config, undefined);
});

test('schema errors: types, bounds and missing fields read well and point at the value (or the parent key)', () => {
  const text = cfg({
    student: { layers: '6' },
    optim: { batchSize: 0, lr: -1 },
    mapping: 'every-othr',
    teacher: { train: { from: 'scratch' } },
  });
  const r = check(text);
  const layers = only(r.problems, 'student.layers');
  assert.equal(layers.message, '\'student.layers\' must be an integer, not a string ("6")');
  assert.equal(layers.fix, 'write 6 without quotes');
  assertAt(layers, text, '"6"');
  assert.match(only(r.problems, 'optim.batchSize').message, /must be ≥ 1, not 0/);
  assert.match(only(r.problems, 'optim.lr').message, /must be > 0, not -1/);
  assert.match(only(r.problems, 'mapping').message, /did you mean "every-other"/);
  const epochs = only(r.problems, 'teacher.train.epochs');
  assert.equal(epochs.message, "missing required field 'epochs' in 'teacher.train'");
  assertAt(epochs, text, '"train"');
});

test('a mapping of the wrong shape gets one readable error, a bad pair is pinpointed', () => {
  const wrong = check(cfg({ mapping: 3 }));
  assert.equal(
    only(wrong.problems, 'mapping').message,
    '\'mapping\' must be "every-other", "uniform", "last-layers" or a list of [student, teacher] layer pairs',
  );
  const pair = check(cfg({ mapping: [[1, 2], [2]] }));
  assert.match(only(pair.problems, 'mapping[1]').message, /\[student, teacher\] pair/);
  assert.equal(pair.problems.filter((p) => p.severity === 'error').length, 1);
});

// ---- semantic checks ------------------------------------------------------------------------

test("student layers must not exceed the teacher's (read from its config.json)", () => {
  const ws = workspace();
  writeCheckpoint(path.join(ws.dir, 'models', 't4'), { num_hidden_layers: 4 });
  const text = cfg({ teacher: { checkpoint: 'models/t4' }, student: { layers: 6 }, mapping: 'uniform' });
  const p = only(check(text, undefined, ws).problems, 'student.layers');
  assert.equal(p.message, 'the student has 6 layers but the teacher only 4');
  assert.equal(p.fix, 'set student.layers to at most 4');
  assertAfter(p, text, '"layers": ');
});

test('explicit mapping pairs: range, duplicates, order — each at its own element', () => {
  const text =
    '{\n  "task": { "name": "sst2", "dataDir": "data/SST-2" },\n  "teacher": { "checkpoint": "models/teacher" },\n' +
    '  "student": { "layers": 4 },\n  "algorithm": "sid",\n  "mapping": [[1, 3], [2, 6], [2, 7], [5, 9], [4, 13], [3, 5]]\n}';
  const r = check(text);
  const dup = only(r.problems, 'mapping[2][0]');
  assert.match(dup.message, /student layer 2 is mapped twice \(also in mapping\[1\]\)/);
  assertAt(dup, text, '2, 7');
  const sRange = only(r.problems, 'mapping[3][0]');
  assert.match(sRange.message, /student layer 5 is out of range: the student has 4 layers/);
  assertAt(sRange, text, '5, 9');
  const tRange = only(r.problems, 'mapping[4][1]');
  assert.match(tRange.message, /teacher layer 13 is out of range: the teacher has 12 layers/);
  assertAt(tRange, text, '13');
  const order = only(r.problems, 'mapping[5]');
  assert.match(order.message, /must increase: \[3, 5\] comes after \[2, 6\]/);
  assertAt(order, text, '[3, 5]');
  assert.ok(order.fix);
});

test("'every-other' needs a teacher twice as deep; the fix names uniform and the student size", () => {
  const text = cfg({ student: { layers: 4 }, mapping: 'every-other' });
  const p = only(check(text).problems, 'mapping');
  assert.match(p.message, /teacher 12 layers, student 4/);
  assert.equal(p.fix, 'use "uniform", or set student.layers to 6');
  assertAt(p, text, '"every-other"');
});

test('hidden size must be divisible by heads', () => {
  const text = cfg({ student: { hiddenSize: 500, heads: 12, init: 'random' } });
  const p = only(check(text).problems, 'student.heads');
  assert.match(p.message, /hiddenSize 500 is not divisible by its 12 heads/);
  assert.match(p.fix ?? '', /divide 500/);
  assertAfter(p, text, '"heads": ');
});

test('a narrower student warns that cls-cosine uses a projection; teacher-layers init needs equal widths', () => {
  const text = cfg({ student: { hiddenSize: 384, heads: 12, intermediateSize: 1536, init: 'random' } });
  const r = check(text);
  const w = only(r.problems, 'student.hiddenSize', 'warning');
  assert.match(w.message, /learned 384→768 projection/);
  assert.ok(r.config, 'a warning does not block the config');

  const withCopy = check(cfg({ student: { hiddenSize: 384, heads: 12, intermediateSize: 1536 } }));
  const e = only(withCopy.problems, 'student.hiddenSize');
  assert.match(e.message, /teacher-layers.*768, not 384/);
  assert.match(e.fix ?? '', /"random"/);
});

test('different head counts with attention-kl: an error naming all three fixes, unless heads are averaged or the loss is off', () => {
  const student = { hiddenSize: 768, heads: 8, init: 'random' };
  const text = cfg({ student });
  const p = only(check(text).problems, 'student.heads');
  assert.match(p.message, /8 attention heads and the teacher 12/);
  assert.match(p.fix ?? '', /student\.heads to 12/);
  assert.match(p.fix ?? '', /losses\.attentionKl to 0/);
  assert.match(p.fix ?? '', /attentionKlHeads to "average"/);
  assertAfter(p, text, '"heads": ');
  assert.deepEqual(check(cfg({ student, losses: { attentionKlHeads: 'average' } })).problems, []);
  assert.deepEqual(check(cfg({ student, losses: { attentionKl: 0 } })).problems, []);
  assert.deepEqual(check(cfg({ student, algorithm: 'soft' })).problems, [], 'soft never uses attention-kl');
});

test('internal algorithms need an internal loss; output algorithms need their output loss', () => {
  const text = cfg({ losses: { attentionKl: 0, clsCosine: 0 } });
  const p = only(check(text).problems, 'losses.attentionKl');
  assert.match(p.message, /"sid" distils attention maps and \[CLS\] vectors/);
  assert.match(p.fix ?? '', /use algorithm "soft"/);
  assertAfter(p, text, '"attentionKl": ');
  assert.match(
    only(check(cfg({ algorithm: 'hard', losses: { hardLabel: 0 } })).problems, 'losses.hardLabel').message,
    /gold labels/,
  );
  assert.match(
    only(check(cfg({ algorithm: 'soft', losses: { softLabel: { weight: 0 } } })).problems, 'losses.softLabel.weight')
      .message,
    /soft labels/,
  );
  assert.match(
    only(check(cfg({ algorithm: 'pid', losses: { softLabel: { weight: 0 } } })).problems, 'losses.softLabel.weight')
      .message,
    /classification stage has no loss/,
  );
  assert.match(
    only(check(cfg({ algorithm: 'soft', losses: { clsCosine: 2 } })).problems, 'losses.clsCosine', 'warning').message,
    /ignored/,
  );
});

test('custom stage plans: algorithm and stages.custom go together; losses need weight; layers must be mapped', () => {
  const stagesOk = {
    custom: [
      { name: 'inner', losses: ['attention-kl'], layers: [1, 2], epochs: 1 },
      { losses: ['soft-label'], epochs: 2, patience: 1 },
    ],
  };
  const ok = check(
    cfg({
      algorithm: 'custom',
      student: { layers: 2 },
      mapping: [
        [1, 6],
        [2, 12],
      ],
      stages: stagesOk,
    }),
  );
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.config?.stages.custom, [
    { name: 'inner', layers: [1, 2], losses: ['attention-kl'], epochs: 1, patience: null, selectBest: false },
    { name: 'stage 2', losses: ['soft-label'], epochs: 2, patience: 1, selectBest: true },
  ]);
  assert.match(only(check(cfg({ algorithm: 'custom' })).problems, 'algorithm').message, /no(ne)?/);
  assert.match(
    only(check(cfg({ stages: stagesOk })).problems, 'stages.custom').message,
    /only used with algorithm "custom"/,
  );
  const bad = check(
    cfg({
      algorithm: 'custom',
      student: { layers: 3 },
      mapping: [
        [1, 4],
        [3, 12],
      ],
      losses: { clsCosine: 0 },
      stages: { custom: [{ losses: ['attention-kl', 'cls-cosine'], layers: [2, 4], epochs: 1 }] },
    }),
  );
  assert.match(only(bad.problems, 'stages.custom[0].losses[1]').message, /weight 0 \(losses\.clsCosine\)/);
  assert.match(only(bad.problems, 'stages.custom[0].layers[0]').message, /student layer 2 has no teacher layer/);
  assert.match(only(bad.problems, 'stages.custom[0].layers[1]').message, /out of range/);
});

test("a custom stage listing a loss at weight 0: the validator reports it in the plan's own words", () => {
  const stage = { losses: ['attention-kl', 'cls-cosine'] as LossName[], epochs: 1 };
  const r = check(cfg({ algorithm: 'custom', losses: { clsCosine: 0 }, stages: { custom: [stage] } }));
  const reported = only(r.problems, 'stages.custom[0].losses[1]');
  const weights = lossWeights({ ...DEFAULTS.losses, hardLabel: 0, clsCosine: 0 });
  assert.throws(
    () => planCustomStages([stage], [{ student: 1, teacher: 2 }], weights),
    (e: unknown) =>
      isUserError(e) &&
      e.message === `stages[0].losses[1]: ${reported.message}` &&
      e.fix === reported.fix &&
      reported.fix === "set losses.clsCosine above 0, or remove 'cls-cosine' from this stage",
  );
});

test('custom stages resolve to what was written plus the documented defaults: layers only for internal losses, selectBest by kind', () => {
  const custom = [
    { losses: ['cls-cosine'], epochs: 1 },
    { losses: ['attention-kl', 'soft-label'], layers: [2], epochs: 1 },
    { losses: ['soft-label', 'hard-label'], epochs: 2 },
    { losses: ['hard-label'], epochs: 1, selectBest: false },
    { losses: ['attention-kl'], epochs: 1, selectBest: true },
  ];
  const r = check(cfg({ algorithm: 'custom', student: { layers: 3 }, losses: { hardLabel: 1 }, stages: { custom } }));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.config?.stages.custom, [
    // The default mapping (uniform, 3 of 12) maps every student layer.
    { name: 'stage 1', layers: [1, 2, 3], losses: ['cls-cosine'], epochs: 1, patience: null, selectBest: false },
    {
      name: 'stage 2',
      layers: [2],
      losses: ['attention-kl', 'soft-label'],
      epochs: 1,
      patience: null,
      selectBest: true,
    },
    { name: 'stage 3', losses: ['soft-label', 'hard-label'], epochs: 2, patience: null, selectBest: true },
    { name: 'stage 4', losses: ['hard-label'], epochs: 1, patience: null, selectBest: false },
    { name: 'stage 5', layers: [1, 2, 3], losses: ['attention-kl'], epochs: 1, patience: null, selectBest: true },
  ]);
  // Explicit pairs: an internal stage without layers gets the mapped student layers only.
  const pairs = check(
    cfg({
      algorithm: 'custom',
      student: { layers: 3 },
      mapping: [
        [1, 4],
        [3, 12],
      ],
      stages: { custom: [{ losses: ['attention-kl'], epochs: 1 }] },
    }),
  );
  assert.deepEqual(pairs.config?.stages.custom?.[0].layers, [1, 3]);

  // Layers on an output-only stage do nothing: a warning, and the resolved stage has none.
  const text = cfg({
    algorithm: 'custom',
    student: { layers: 3 },
    stages: { custom: [{ losses: ['soft-label'], layers: [1, 9], epochs: 1 }] },
  });
  const ignored = check(text);
  assert.match(only(ignored.problems, 'stages.custom[0].layers', 'warning').message, /ignored/);
  assert.equal(ignored.problems.length, 1, 'ignored layers are not range-checked');
  assert.deepEqual(ignored.config?.stages.custom, [
    { name: 'stage 1', losses: ['soft-label'], epochs: 1, patience: null, selectBest: true },
  ]);

  // A resolved config is a valid config and resolves to itself (runs/<id>/config.json on resume).
  const again = check(JSON.stringify(r.config, null, 2), { checkFiles: false });
  assert.deepEqual(again.problems, []);
  assert.deepEqual(again.config?.stages.custom, r.config?.stages.custom);
});

test('teacher checkpoints: missing folder, pytorch_model.bin only, missing config.json, wrong model type, wrong head', () => {
  const ws = workspace();
  const missing = check(cfg({ teacher: { checkpoint: 'models/nope' } }), undefined, ws);
  const m = only(missing.problems, 'teacher.checkpoint');
  assert.match(m.message, /not found: .*models[/\\]nope/);

  writeCheckpoint(path.join(ws.dir, 'models', 'pt'), {}, ['pytorch_model.bin', 'vocab.txt']);
  const text = cfg({ teacher: { checkpoint: 'models/pt' } });
  const pt = only(check(text, undefined, ws).problems, 'teacher.checkpoint');
  assert.match(pt.message, /has pytorch_model\.bin but no model\.safetensors/);
  assert.match(pt.fix ?? '', /safetensors\.torch import save_file/);
  assertAt(pt, text, '"models/pt"');

  fs.mkdirSync(path.join(ws.dir, 'models', 'noconf'));
  fs.writeFileSync(path.join(ws.dir, 'models', 'noconf', 'model.safetensors'), '');
  fs.writeFileSync(path.join(ws.dir, 'models', 'noconf', 'vocab.txt'), '');
  assert.match(
    only(check(cfg({ teacher: { checkpoint: 'models/noconf' } }), undefined, ws).problems, 'teacher.checkpoint')
      .message,
    /no config\.json/,
  );

  writeCheckpoint(path.join(ws.dir, 'models', 'rob'), { model_type: 'roberta' });
  assert.match(
    only(check(cfg({ teacher: { checkpoint: 'models/rob' } }), undefined, ws).problems, 'teacher.checkpoint').message,
    /'roberta' model/,
  );

  writeCheckpoint(path.join(ws.dir, 'models', 'three'), { id2label: { 0: 'a', 1: 'b', 2: 'c' } });
  assert.match(
    only(check(cfg({ teacher: { checkpoint: 'models/three' } }), undefined, ws).problems, 'teacher.checkpoint').message,
    /3 outputs .* task 'sst2' needs 2/,
  );

  const neither = check(cfg({ teacher: {} }), undefined, ws);
  assert.match(only(neither.problems, 'teacher.checkpoint').message, /either "checkpoint".* or "train"/);
  const scratchNoArch = check(cfg({ teacher: { train: { from: 'scratch', epochs: 1 } } }), undefined, ws);
  assert.match(
    only(scratchNoArch.problems, 'teacher.train.architecture').message,
    /needs teacher\.train\.architecture/,
  );
});

test("student and mapping ranges use a scratch teacher's architecture", () => {
  const text = cfg({
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 4, hiddenSize: 256, heads: 6, intermediateSize: 1024, maxPositions: 64 },
        epochs: 1,
      },
    },
    student: { layers: 5 },
  });
  const r = check(text);
  assert.match(only(r.problems, 'student.layers').message, /teacher only 4/);
  assert.match(only(r.problems, 'teacher.train.architecture.heads').message, /256 is not divisible by heads 6/);
  // maxSeqLen is not written: the problem points at the task key, with the fix naming the limit.
  const seq = only(r.problems, 'task.maxSeqLen');
  assert.match(seq.message, /128 is longer than the teacher's 64 position embeddings/);
  assertAt(seq, text, '"task"');
});

test('data folders: missing folder, missing files, the GLUE root instead of the task folder', () => {
  const ws = workspace();
  const missing = only(
    check(cfg({ task: { name: 'sst2', dataDir: 'data/nope' } }), undefined, ws).problems,
    'task.dataDir',
  );
  assert.match(missing.message, /task\.dataDir not found/);
  const text = cfg({ task: { name: 'sst2', dataDir: 'data' } });
  const root = only(check(text, undefined, ws).problems, 'task.dataDir');
  assert.match(root.message, /has no train\.tsv and dev\.tsv/);
  assert.equal(root.fix, 'set "dataDir": "data/SST-2"');
  assertAt(root, text, '"data"');
  writeGlueDir(path.join(ws.dir, 'data', 'half'), ['train.tsv']);
  assert.match(
    only(check(cfg({ task: { name: 'sst2', dataDir: 'data/half' } }), undefined, ws).problems, 'task.dataDir').message,
    /has no dev\.tsv/,
  );
  const noDir = only(check(cfg({ task: { name: 'rte' } }), undefined, ws).problems, 'task.dataDir');
  assert.equal(noDir.fix, 'add "dataDir": "data/glue/RTE"');
  assert.match(
    only(check(cfg({ task: { name: 'sst-3', dataDir: 'data/SST-2' } }), undefined, ws).problems, 'task.name').message,
    /unknown task 'sst-3' \(did you mean 'sst2'\?\)/,
  );
  assert.match(
    only(
      check(cfg({ task: { name: 'sst2', dataDir: 'data/SST-2', evalSplit: 'dev_mismatched' } }), undefined, ws)
        .problems,
      'task.evalSplit',
    ).message,
    /MNLI/,
  );
});

test("maxSeqLen must fit the teacher's position embeddings", () => {
  const ws = workspace();
  writeCheckpoint(path.join(ws.dir, 'models', 'teacher'), { max_position_embeddings: 256 });
  const text = cfg({ task: { name: 'sst2', dataDir: 'data/SST-2', maxSeqLen: 384 } });
  const p = only(check(text, undefined, ws).problems, 'task.maxSeqLen');
  assert.equal(p.fix, 'set "maxSeqLen" to at most 256');
  assertAt(p, text, '384');
  // Beyond BERT's 512 positions, the schema's bound says so whatever the teacher.
  const long = cfg({ task: { name: 'sst2', dataDir: 'data/SST-2', maxSeqLen: 1024 } });
  const q = only(check(long).problems, 'task.maxSeqLen');
  assert.match(q.message, /≤ 512/);
  assert.equal(q.fix, 'set task.maxSeqLen to at most 512');
});

test('checkFiles: false skips the file checks but still reads a teacher config.json that is there', () => {
  const r = check(cfg({ task: { name: 'sst2', dataDir: 'nowhere' } }), { checkFiles: false });
  assert.deepEqual(r.problems, []);
  assert.equal(r.config?.student.layers, 6);
  const unknown = check(cfg({ teacher: { checkpoint: 'nowhere' } }), { checkFiles: false });
  assert.equal(unknown.config, undefined);
  assert.deepEqual(
    unknown.problems.map((p) => p.severity),
    ['warning'],
  );
});

test('many problems in one file are all reported, in file order', () => {
  const text = `{
  "task": { "name": "sst2", "dataDir": "data/SST-2", "maxSeqLen": 2048 },
  "teacher": { "checkpoint": "models/teacher" },
  "studnet": {},
  "student": { "layers": 13 },
  "algorithm": "sid",
  "optim": { "batchSize": 0, "warmup": 2.5 },
  "backend": "gpu"
}`;
  const r = check(text);
  assert.deepEqual(
    r.problems.map((p) => p.pathText),
    ['task.maxSeqLen', 'studnet', 'student.layers', 'optim.batchSize', 'optim.warmup', 'backend'],
  );
  const offsets = r.problems.map((p) => p.range?.offset ?? -1);
  assert.deepEqual(
    offsets,
    [...offsets].sort((a, b) => a - b),
  );
  assert.equal(r.config, undefined);
});

test('loadConfigFile throws a UserError listing every error as file:line:col: message (fix: …)', () => {
  const ws = workspace();
  const text = cfg({ student: { layers: 13 }, backend: 'gpu' });
  const file = ws.write(text);
  assert.throws(
    () => loadConfigFile(file),
    (e: unknown) => {
      assert.ok(isUserError(e));
      const layers = posOf(text, '13');
      assert.ok(
        e.message.includes(
          `${file}:${layers.line}:${layers.column}: the student has 13 layers but the teacher only 12 (fix: set student.layers to at most 12)`,
        ),
        e.message,
      );
      assert.match(e.message, /2 errors/);
      assert.match(e.message, /'backend' must be one of/);
      return true;
    },
  );
  assert.throws(() => loadConfigFile(path.join(ws.dir, 'missing.distill.json')), /config file not found/);
  const warnings: ConfigProblem[] = [];
  const ok = resolveConfig(cfg({ algorithm: 'soft', losses: { clsCosine: 2 } }), file, {
    onWarning: (w) => warnings.push(w),
  });
  assert.equal(ok.algorithm, 'soft');
  assert.equal(warnings.length, 1);
  assert.match(formatProblem(file, warnings[0]), /: warning: losses\.clsCosine is ignored/);
});

// ---- locating -------------------------------------------------------------------------------

test('locate maps paths to ranges: values, keys of containers, missing fields to the parent key, CRLF lines', () => {
  const text = '{\r\n  "student": {\r\n    "layers": 6\r\n  },\r\n  "mapping": [[1, 2], [2, 4]]\r\n}';
  assert.deepEqual(locate(text, ['student', 'layers']), { line: 3, column: 15, offset: text.indexOf('6'), length: 1 });
  assert.deepEqual(locate(text, ['student']), { line: 2, column: 3, offset: text.indexOf('"student"'), length: 9 });
  assert.deepEqual(locate(text, ['student', 'heads']), locate(text, ['student']));
  const pair = locate(text, ['mapping', 1]);
  assert.deepEqual(pair, { line: 5, column: 23, offset: text.indexOf('[2, 4]'), length: 6 });
  assert.equal(locate(text, ['mapping', 1, 1]).offset, text.indexOf('4]'));
  assert.deepEqual(locate(text, ['nothing']), { line: 1, column: 1, offset: 0, length: 1 });
  assert.equal(locate(text, ['student', 'layers'], 'key').offset, text.indexOf('"layers"'));
});

test('pathToText writes paths the way the messages do', () => {
  assert.equal(pathToText(['mapping', 2, 1]), 'mapping[2][1]');
  assert.equal(pathToText(['student', 'layers']), 'student.layers');
  assert.equal(pathToText(['stages', 'custom', 0, 'losses', 1]), 'stages.custom[0].losses[1]');
  assert.equal(pathToText(['odd key']), '["odd key"]');
  assert.equal(pathToText([]), '');
});

test('duplicate keys are reported but do not stop the other checks', () => {
  const text =
    '{ "task": { "name": "sst2", "dataDir": "data/SST-2" }, "teacher": { "checkpoint": "models/teacher" },\n  "algorithm": "sid", "algorithm": "pid" }';
  const r = check(text);
  const p = only(r.problems, 'algorithm');
  assert.match(p.message, /duplicate field 'algorithm'/);
  assertAt(p, text, '"algorithm"', 1);
});

// ---- the schema -----------------------------------------------------------------------------

test('the schema is a valid draft-07 schema that ajv compiles', () => {
  const ajv = new Ajv({ strict: false });
  assert.equal(ajv.validateSchema(DISTILL_SCHEMA as object), true, JSON.stringify(ajv.errors));
  assert.equal((DISTILL_SCHEMA as { $schema?: string }).$schema, 'http://json-schema.org/draft-07/schema#');
  assert.doesNotThrow(() => createAjv().compile(DISTILL_SCHEMA));
  // Its own examples are valid (minus the files they name).
  const validate = createAjv().compile(DISTILL_SCHEMA);
  for (const ex of DISTILL_SCHEMA.examples ?? []) assert.equal(validate(ex), true, JSON.stringify(validate.errors));
});

test('every field in the schema has a description and a markdownDescription', () => {
  const missing: string[] = [];
  const walk = (node: SchemaNode, at: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const here = at ? `${at}.${key}` : key;
      if (!child.description || !child.markdownDescription) missing.push(here);
      walk(child, here);
      for (const alt of child.oneOf ?? []) walk(alt, here);
      if (child.items) walk(child.items, `${here}[]`);
    }
  };
  walk(DISTILL_SCHEMA, '');
  assert.deepEqual(missing, []);
});

type KeysOf<T> = { [K in keyof Required<T>]: true };
const sectionKeys = {
  '': {
    $schema: true,
    name: true,
    task: true,
    teacher: true,
    student: true,
    mapping: true,
    algorithm: true,
    losses: true,
    stages: true,
    optim: true,
    eval: true,
    checkpoint: true,
    teacherCache: true,
    backend: true,
    runsDir: true,
  } satisfies KeysOf<DistillConfig>,
  task: {
    name: true,
    dataDir: true,
    maxSeqLen: true,
    trainFraction: true,
    evalSplit: true,
    custom: true,
  } satisfies KeysOf<TaskConfig>,
  'task.custom': {
    train: true,
    dev: true,
    format: true,
    textA: true,
    textB: true,
    label: true,
    labels: true,
    regression: true,
  } satisfies KeysOf<CustomTaskConfig>,
  'teacher.train': {
    from: true,
    architecture: true,
    vocab: true,
    epochs: true,
    lr: true,
    batchSize: true,
  } satisfies KeysOf<ScratchTeacherTraining>,
  'teacher.train.architecture': {
    layers: true,
    hiddenSize: true,
    heads: true,
    intermediateSize: true,
    maxPositions: true,
  } satisfies KeysOf<Architecture>,
  student: {
    layers: true,
    hiddenSize: true,
    heads: true,
    intermediateSize: true,
    init: true,
  } satisfies KeysOf<StudentConfig>,
  losses: {
    attentionKl: true,
    attentionKlHeads: true,
    clsCosine: true,
    softLabel: true,
    hardLabel: true,
    hiddenMse: true,
    embeddingMse: true,
    valueRelation: true,
    schedules: true,
  } satisfies KeysOf<LossesConfig>,
  'losses.softLabel': { weight: true, temperature: true } satisfies KeysOf<SoftLabelConfig>,
  stages: {
    epochsPerLayer: true,
    internalAllEpochs: true,
    classificationEpochs: true,
    patience: true,
    custom: true,
  } satisfies KeysOf<StagesConfig>,
  'stages.custom[]': {
    name: true,
    layers: true,
    losses: true,
    epochs: true,
    patience: true,
    selectBest: true,
    schedules: true,
  } satisfies KeysOf<CustomStageConfig>,
  optim: {
    lr: true,
    batchSize: true,
    warmup: true,
    weightDecay: true,
    maxGradNorm: true,
    beta1: true,
    beta2: true,
    eps: true,
    seed: true,
    dropout: true,
  } satisfies KeysOf<OptimConfig>,
  eval: { everySteps: true, batchSize: true } satisfies KeysOf<EvalConfig>,
  checkpoint: { everySteps: true, keep: true } satisfies KeysOf<CheckpointConfig>,
  teacherCache: { enabled: true, maxMiB: true, attentionPrecision: true } satisfies KeysOf<TeacherCacheConfig>,
};

test('the schema has exactly the fields of the config types, section by section', () => {
  for (const [section, keys] of Object.entries(sectionKeys)) {
    const p =
      section === ''
        ? []
        : section
            .replace('[]', '.0')
            .split('.')
            .map((s) => (s === '0' ? 0 : s));
    const node = schemaAt(p);
    assert.ok(node?.properties, `no schema for '${section}'`);
    assert.deepEqual(Object.keys(node.properties).sort(), Object.keys(keys).sort(), section);
    if (section !== '' && !section.endsWith('[]')) assert.ok(node.description, section);
  }
  const teacherKeys = Object.keys(schemaAt(['teacher'])?.properties ?? {}).sort();
  assert.deepEqual(teacherKeys, ['checkpoint', 'output', 'train']);
});

test("the schema's enums and defaults match the code", () => {
  assert.deepEqual(schemaAt(['algorithm'])?.enum, [...ALGORITHMS]);
  assert.deepEqual(schemaAt(['backend'])?.enum, [...BACKEND_REQUESTS]);
  assert.deepEqual([...BACKEND_REQUESTS], [...BACKEND_CHOICES]);
  const defaults: [(string | number)[], unknown][] = [
    [['task', 'maxSeqLen'], DEFAULTS.task.maxSeqLen],
    [['task', 'trainFraction'], DEFAULTS.task.trainFraction],
    [['task', 'evalSplit'], DEFAULTS.task.evalSplit],
    [['task', 'custom', 'regression'], DEFAULTS.customTask.regression],
    [['teacher', 'train', 'architecture', 'maxPositions'], DEFAULTS.architecture.maxPositions],
    [['student', 'init'], DEFAULTS.student.init],
    [['losses', 'attentionKl'], DEFAULTS.losses.attentionKl],
    [['losses', 'attentionKlHeads'], DEFAULTS.losses.attentionKlHeads],
    [['losses', 'clsCosine'], DEFAULTS.losses.clsCosine],
    [['losses', 'softLabel', 'weight'], DEFAULTS.losses.softLabel.weight],
    [['losses', 'softLabel', 'temperature'], DEFAULTS.losses.softLabel.temperature],
    [['losses', 'hiddenMse'], DEFAULTS.losses.hiddenMse],
    [['losses', 'embeddingMse'], DEFAULTS.losses.embeddingMse],
    [['losses', 'valueRelation'], DEFAULTS.losses.valueRelation],
    [['stages', 'epochsPerLayer'], DEFAULTS.stages.epochsPerLayer],
    [['stages', 'internalAllEpochs'], DEFAULTS.stages.internalAllEpochs],
    [['stages', 'classificationEpochs'], DEFAULTS.stages.classificationEpochs],
    [['stages', 'patience'], DEFAULTS.stages.patience],
    [['checkpoint', 'keep'], DEFAULTS.checkpoint.keep],
    [['backend'], DEFAULTS.backend],
    [['runsDir'], DEFAULTS.runsDir],
    ...Object.entries(DEFAULTS.optim).map(([k, v]): [(string | number)[], unknown] => [['optim', k], v]),
    ...Object.entries(DEFAULTS.teacherCache).map(([k, v]): [(string | number)[], unknown] => [['teacherCache', k], v]),
  ];
  assert.deepEqual(schemaAt(['teacherCache', 'attentionPrecision'])?.enum, [...CACHE_PRECISIONS]);
  for (const [p, want] of defaults) assert.deepEqual(schemaAt(p)?.default, want, p.join('.'));
  // Depends on the stage's losses (defaultSelectBest), so the schema describes it instead.
  assert.equal(schemaAt(['stages', 'custom', 0, 'selectBest'])?.default, undefined);
  assert.match(
    schemaAt(['stages', 'custom', 0, 'selectBest'])?.description ?? '',
    /default: true for a stage with soft-label or hard-label/,
  );
});
