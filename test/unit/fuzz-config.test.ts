// Property-based tests (fast-check) of config validation: random mutations of valid configs go
// through the engine's validator (what `distillery validate` and `train` run) and the editor's
// diagnostics and quick fixes. Whatever the text, nothing throws, every problem has a range inside
// the text, and a config that resolves has finite, bounded numbers that the trainer's step
// arithmetic accepts (issue #19). FUZZ_RUNS / FUZZ_SEED / FUZZ_PATH: see test/helpers/fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { validateConfig } from '../../src/validate/validate';
import { ConfigProblem } from '../../src/config/parse';
import { MAX_TOTAL_EPOCHS } from '../../src/config/bounds';
import { toDiagnostics, validateForEditor } from '../../src/extension/config-diagnostics';
import { applyTextEdits, quickFixesFor } from '../../src/extension/quick-fixes';
import { warmupSteps } from '../../src/train/lr-schedule';
import { checkProperty, jsonish, nastyNumber } from '../helpers/fuzz';

// ---- a workspace with every file the base configs name ------------------------------------

const WS = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-fuzz-config-'));
const FILE = path.join(WS, 'fuzz.distill.json');

function writeCheckpoint(dir: string, layers: number): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: layers,
      hidden_size: 64,
      num_attention_heads: 4,
      intermediate_size: 128,
      max_position_embeddings: 512,
      id2label: { 0: 'negative', 1: 'positive' },
    }),
  );
  for (const f of ['model.safetensors', 'vocab.txt']) fs.writeFileSync(path.join(dir, f), '');
}
writeCheckpoint(path.join(WS, 'models', 'teacher'), 12);
writeCheckpoint(path.join(WS, 'models', 'small'), 4);
for (const [dir, files] of [
  ['data/SST-2', ['train.tsv', 'dev.tsv']],
  ['data/custom', ['train.tsv', 'dev.tsv', 'train.jsonl']],
] as const) {
  fs.mkdirSync(path.join(WS, dir), { recursive: true });
  for (const f of files) fs.writeFileSync(path.join(WS, dir, f), 'sentence\tlabel\nfine\t1\n');
}

/** Valid configs that between them use every section and most branches of the schema. */
const BASES: Record<string, unknown>[] = [
  {
    name: 'sid',
    task: { name: 'sst2', dataDir: 'data/SST-2', maxSeqLen: 64, trainFraction: 0.5, evalSplit: 'dev' },
    teacher: { checkpoint: 'models/teacher' },
    student: { layers: 6, init: 'teacher-layers' },
    mapping: 'every-other',
    algorithm: 'sid',
    losses: {
      attentionKl: 1,
      attentionKlHeads: 'match',
      clsCosine: 1,
      softLabel: { weight: 1, temperature: 2 },
      hardLabel: 0,
      hiddenMse: 1,
      embeddingMse: 0.5,
      valueRelation: 1,
      schedules: { temperature: { shape: 'linear', from: 8, to: 1 }, hiddenMse: { shape: 'cosine', from: 0, to: 2 } },
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
      dropout: 0.1,
    },
    eval: { everySteps: 100, batchSize: 64 },
    checkpoint: { everySteps: 200, keep: 2 },
    teacherCache: { enabled: true, maxMiB: 512, attentionPrecision: 'float16' },
    backend: 'wasm',
    runsDir: 'runs',
  },
  {
    task: {
      name: 'custom',
      custom: {
        train: 'data/custom/train.tsv',
        dev: 'data/custom/dev.tsv',
        textA: 'sentence',
        label: 'label',
        labels: ['0', '1'],
      },
    },
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 4, hiddenSize: 64, heads: 4, intermediateSize: 128, maxPositions: 128 },
        epochs: 2,
        lr: 1e-4,
        batchSize: 16,
      },
      output: 'teacher-out',
    },
    student: { layers: 2, hiddenSize: 32, heads: 2, intermediateSize: 64, init: 'random' },
    mapping: [
      [1, 2],
      [2, 4],
    ],
    algorithm: 'custom',
    losses: { attentionKlHeads: 'average', hardLabel: 1 },
    stages: {
      custom: [
        { name: 'internal', losses: ['attention-kl', 'cls-cosine'], epochs: 1, layers: [1, 2], patience: 2 },
        { losses: ['soft-label', 'hard-label'], epochs: 2, selectBest: true },
      ],
    },
  },
  {
    task: { name: 'rte', dataDir: 'data/SST-2' },
    teacher: { train: { from: 'models/small', epochs: 1 } },
    student: { layers: 4, init: { checkpoint: 'models/small' } },
    mapping: 'uniform',
    algorithm: 'pid',
    optim: { warmup: 10 },
    stages: { epochsPerLayer: 2, patience: 3 },
  },
];

// ---- mutations ------------------------------------------------------------------------------

type Path = (string | number)[];

/** Every path in a JSON value, containers included. */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function numberPaths(v: unknown): Path[] {
  return paths(v).filter((p) => typeof get(v, p) === 'number');
}

function get(v: unknown, p: Path): unknown {
  let cur = v;
  for (const s of p) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[s] : undefined;
  return cur;
}

/** A copy of `v` with `p` set to `x` (or deleted, for undefined); the root cannot be deleted. */
function setAt(v: unknown, p: Path, x: unknown): unknown {
  if (p.length === 0) return x === undefined ? v : x;
  const [head, ...rest] = p;
  const copy: Record<string | number, unknown> = Array.isArray(v)
    ? ([...v] as unknown as Record<number, unknown>)
    : { ...(v as Record<string, unknown>) };
  const next = setAt(copy[head], rest, x);
  if (next === undefined || (rest.length === 0 && x === undefined)) {
    if (Array.isArray(copy)) (copy as unknown as unknown[]).splice(Number(head), 1);
    else delete copy[head];
  } else {
    copy[head] = next;
  }
  return copy;
}

const FIELD_NAMES = [
  'layers',
  'epochs',
  'custom',
  'train',
  'checkpoint',
  'weight',
  'labels',
  'textB',
  'from',
  'architecture',
  'vocab',
  'maxPositions',
  'zzz',
];

interface Mutation {
  kind: 'set' | 'delete' | 'add' | 'number';
  pick: number;
  value: unknown;
  key: string;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('set', 'delete', 'add', 'number', 'number'),
  pick: fc.nat(),
  value: jsonish,
  key: fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 6 })),
});

function mutate(base: unknown, ms: readonly Mutation[]): unknown {
  let v = base;
  for (const m of ms) {
    const ps = m.kind === 'number' ? numberPaths(v) : paths(v);
    if (ps.length === 0) continue;
    const p = ps[m.pick % ps.length];
    if (m.kind === 'delete') v = setAt(v, p, undefined);
    else if (m.kind === 'number') v = setAt(v, p, typeof m.value === 'number' ? m.value : m.pick);
    else if (m.kind === 'set') v = setAt(v, p, m.value);
    else {
      const target = get(v, p);
      if (target && typeof target === 'object' && !Array.isArray(target)) v = setAt(v, [...p, m.key], m.value);
      else if (Array.isArray(target)) v = setAt(v, [...p, target.length], m.value);
    }
  }
  return v;
}

/** Edits of the text itself: syntax errors, comments, odd line ends. */
interface TextEdit {
  at: number;
  cut: number;
  insert: string;
}
const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  at: fc.nat(),
  cut: fc.nat({ max: 8 }),
  insert: fc.oneof(
    fc.constantFrom('', ',', '}', ']', '"', '//c\n', '/*', '\r', '\r\n', '\u2028', '1e999', '-', ':', '\\u12'),
    fc.string({ maxLength: 4 }),
  ),
});

function editText(text: string, edits: readonly TextEdit[]): string {
  let t = text;
  for (const e of edits) {
    const at = t.length === 0 ? 0 : e.at % (t.length + 1);
    t = t.slice(0, at) + e.insert + t.slice(at + e.cut);
  }
  return t;
}

const configText: fc.Arbitrary<string> = fc
  .record({
    base: fc.nat({ max: BASES.length - 1 }),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    indent: fc.constantFrom(0, 2, '\t'),
    edits: fc.oneof(
      { arbitrary: fc.constant([] as TextEdit[]), weight: 4 },
      { arbitrary: fc.array(textEdit, { minLength: 1, maxLength: 2 }), weight: 1 },
    ),
  })
  .map(({ base, mutations, indent, edits }) =>
    editText(JSON.stringify(mutate(BASES[base], mutations), null, indent) ?? '', edits),
  );

// ---- checks ---------------------------------------------------------------------------------

function assertRanges(text: string, problems: readonly ConfigProblem[]): void {
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const p of problems) {
    assert.ok(
      typeof p.message === 'string' && p.message.length > 0,
      `a problem without a message: ${JSON.stringify(p)}`,
    );
    const r = p.range;
    assert.ok(r, `no range: ${p.pathText}: ${p.message}`);
    assert.ok(
      Number.isInteger(r.offset) && r.offset >= 0 && r.length >= 0 && r.offset + r.length <= text.length,
      `range ${JSON.stringify(r)} outside the text (${text.length} chars): ${p.pathText}: ${p.message}`,
    );
    assert.ok(
      r.line >= 1 && r.line <= lines && r.column >= 1,
      `line/column ${r.line}:${r.column} outside the text: ${p.message}`,
    );
  }
}

/** Every number of a resolved config is finite; the plan's epochs and steps stay within bounds. */
function assertResolvedSane(config: unknown): void {
  for (const p of numberPaths(config))
    assert.ok(Number.isFinite(get(config, p)), `resolved ${p.join('.')} is ${String(get(config, p))}`);
  const c = config as {
    stages: {
      epochsPerLayer: number;
      internalAllEpochs: number;
      classificationEpochs: number;
      custom?: { epochs: number }[];
    };
    optim: { warmup: number; batchSize: number };
  };
  const epochs = [
    c.stages.epochsPerLayer,
    c.stages.internalAllEpochs,
    c.stages.classificationEpochs,
    ...(c.stages.custom ?? []).map((s) => s.epochs),
  ];
  // The trainer's arithmetic for the largest stage over a big data set (QQP has 364k pairs).
  const perEpoch = Math.ceil(400_000 / c.optim.batchSize);
  for (const e of epochs) {
    assert.ok(e <= MAX_TOTAL_EPOCHS);
    const warm = warmupSteps(e * perEpoch, c.optim.warmup);
    assert.ok(
      Number.isSafeInteger(warm) && Number.isSafeInteger(e * perEpoch),
      `stage of ${e} epochs × ${perEpoch} steps, warmup ${c.optim.warmup}`,
    );
  }
}

test('the base configs are valid (so mutations start from a config that resolves)', () => {
  for (const base of BASES) {
    const text = JSON.stringify(base, null, 2);
    const r = validateConfig(text, FILE);
    assert.deepEqual(
      r.problems.filter((p) => p.severity === 'error'),
      [],
      text,
    );
    assert.ok(r.config);
  }
});

test('fuzz: any mutated config validates without throwing, every problem has a range, a resolved config is sane', () => {
  checkProperty(
    fc.property(configText, (text) => {
      const r = validateConfig(text, FILE);
      assertRanges(text, r.problems);
      if (r.config) {
        assert.ok(!r.problems.some((p) => p.severity === 'error'), 'a config with errors resolved');
        assertResolvedSane(r.config);
      }
    }),
    1500,
  );
});

test('fuzz: extreme numbers in any numeric field are reported, never a crash', () => {
  const arb = fc
    .record({
      base: fc.nat({ max: BASES.length - 1 }),
      values: fc.array(fc.tuple(fc.nat(), nastyNumber), { minLength: 1, maxLength: 3 }),
    })
    .map(({ base, values }) => {
      let v: unknown = BASES[base];
      for (const [pick, x] of values) {
        const ps = numberPaths(v);
        v = setAt(v, ps[pick % ps.length], x);
      }
      return JSON.stringify(v, null, 2);
    });
  checkProperty(
    fc.property(arb, (text) => {
      const r = validateConfig(text, FILE);
      assertRanges(text, r.problems);
      if (r.config) assertResolvedSane(r.config);
    }),
    1000,
  );
});

test('fuzz: the editor diagnostics and quick fixes take any mutated config', () => {
  checkProperty(
    fc.property(configText, (text) => {
      const split = validateForEditor(text, FILE);
      assert.equal(split.fromSchema.length + split.semantic.length, split.all.length);
      assertRanges(text, split.all);
      const diags = toDiagnostics(text, split.all);
      const lines = text.split(/\r\n|\r|\n/).length;
      for (const d of diags) {
        assert.ok(
          d.start.line <= d.end.line && d.end.line < lines,
          `diagnostic ${JSON.stringify(d.start)}–${JSON.stringify(d.end)} outside ${lines} lines`,
        );
        assert.ok(d.start.line < d.end.line || d.start.character <= d.end.character);
        for (const fix of quickFixesFor(text, d.problem, { studentLayers: 6, teacherLayers: 12 })) {
          assert.equal(typeof applyTextEdits(text, fix.edits), 'string');
        }
      }
    }),
    800,
  );
});
