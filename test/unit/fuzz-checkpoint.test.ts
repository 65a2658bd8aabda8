// Property-based tests (fast-check) of the checkpoint reader: random bytes, mutated safetensors
// headers and mutated config.json files go through parseSafetensors, parseHfConfig and
// loadCheckpoint. A bad checkpoint is the user's to fix: the only exception allowed is a
// UserError (which the CLI prints as a message and a fix), never a RangeError, TypeError or any
// other crash (issue #19). FUZZ_RUNS / FUZZ_SEED / FUZZ_PATH: see test/helpers/fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import type { BertConfig } from '../../src/model/config';
import { parseHfConfig, toHfConfig } from '../../src/model/hf-config';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/model/safetensors';
import { isUserError } from '../../src/util/errors';
import { checkProperty, jsonish } from '../helpers/fuzz';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

// ---- a tiny valid checkpoint ------------------------------------------------------------------

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-fuzz-ckpt-'));
const GOOD = path.join(ROOT, 'good');
const VOCAB = path.join(ROOT, 'vocab.txt');
fs.writeFileSync(
  VOCAB,
  ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b', 'c', 'd', 'e', 'f', 'g'].join('\n') + '\n',
);
writeTinyCheckpoint(GOOD, { vocabFile: VOCAB, layers: 1, hidden: 8, heads: 2, intermediate: 16, maxPositions: 16 });
const GOOD_WEIGHTS = new Uint8Array(fs.readFileSync(path.join(GOOD, 'model.safetensors')));
const GOOD_CONFIG = JSON.parse(fs.readFileSync(path.join(GOOD, 'config.json'), 'utf8')) as Record<string, unknown>;
const HEADER_LEN = Number(new DataView(GOOD_WEIGHTS.buffer, GOOD_WEIGHTS.byteOffset).getBigUint64(0, true));
const GOOD_HEADER = JSON.parse(Buffer.from(GOOD_WEIGHTS.subarray(8, 8 + HEADER_LEN)).toString('utf8')) as Record<
  string,
  unknown
>;
const GOOD_DATA = GOOD_WEIGHTS.subarray(8 + HEADER_LEN);

/** Runs `f`; anything it throws must be a UserError. */
function onlyUserErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isUserError(e)) {
      throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} instead of a UserError`, {
        cause: e,
      });
    }
    assert.ok(e.message.length > 0);
  }
}

// ---- mutations ------------------------------------------------------------------------------

/** Replaces the value at one key path of a JSON object (or deletes it, or adds a key). */
interface JsonEdit {
  pick: number;
  value: unknown;
  del: boolean;
}
const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({ pick: fc.nat(), value: jsonish, del: fc.boolean() });

function keyPaths(v: unknown, at: string[] = []): string[][] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [at];
  return [at, ...Object.entries(v).flatMap(([k, x]) => keyPaths(x, [...at, k]))];
}

function applyJsonEdits(
  obj: Record<string, unknown>,
  edits: readonly JsonEdit[],
  extraKeys: readonly string[],
): Record<string, unknown> {
  const root = structuredClone(obj);
  for (const e of edits) {
    const ps = [...keyPaths(root).filter((p) => p.length > 0), ...extraKeys.map((k) => [k])];
    const p = ps[e.pick % ps.length];
    let parent: Record<string, unknown> = root;
    for (const k of p.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
    if (e.del) delete parent[p[p.length - 1]];
    else parent[p[p.length - 1]] = e.value;
  }
  return root;
}

/** A safetensors file from a header object and a data section. */
function withHeader(header: unknown, data: Uint8Array, lengthDelta = 0): Uint8Array {
  const json = Buffer.from(JSON.stringify(header) ?? 'null', 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, json.length + lengthDelta)), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Byte-level damage: flip, overwrite or cut. */
interface ByteEdit {
  at: number;
  value: number;
  cut: boolean;
}
const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
  cut: fc.boolean(),
});

function damage(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let b = bytes.slice();
  for (const e of edits) {
    if (b.length === 0) break;
    const at = e.at % b.length;
    if (e.cut) b = b.slice(0, at);
    else b[at] = e.value;
  }
  return b;
}

const TENSOR_KEYS = Object.keys(GOOD_HEADER).filter((k) => k !== '__metadata__');
const headerArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  // A mutated header: dtype, shape, data_offsets, metadata.
  fc
    .record({ edits: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), delta: fc.constantFrom(0, 0, 0, -1, 1, 1e6) })
    .map(({ edits, delta }) =>
      withHeader(applyJsonEdits(GOOD_HEADER, edits, ['__metadata__', 'extra.weight']), GOOD_DATA, delta),
    ),
  // Byte damage anywhere in a good file (the length prefix, the header, the data).
  fc.array(byteEdit, { minLength: 1, maxLength: 4 }).map((edits) => damage(GOOD_WEIGHTS, edits)),
  // Random bytes, sometimes with a plausible length prefix.
  fc.uint8Array({ maxLength: 200 }),
  fc
    .record({ header: jsonish, data: fc.uint8Array({ maxLength: 64 }) })
    .map(({ header, data }) => withHeader(header, data)),
  // Huge header lengths (past Number.MAX_SAFE_INTEGER too).
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => {
    const b = GOOD_WEIGHTS.slice();
    new DataView(b.buffer).setBigUint64(0, n, true);
    return b;
  }),
);

const HF_KEYS = [
  'num_labels',
  'label2id',
  'problem_type',
  'hidden_act',
  'pad_token_id',
  'type_vocab_size',
  'layer_norm_eps',
  'architectures',
];
const configArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc
      .array(jsonEdit, { minLength: 1, maxLength: 3 })
      .map((edits) => applyJsonEdits(GOOD_CONFIG, edits, HF_KEYS)),
    weight: 5,
  },
  { arbitrary: jsonish, weight: 1 },
);

// ---- properties -----------------------------------------------------------------------------

test('the fixture checkpoint loads, single-file and sharded (mutations start from a good one)', () => {
  const ck = loadCheckpoint(GOOD);
  assert.equal(ck.config.numHiddenLayers, 1);
  const sharded = path.join(ROOT, 'sharded');
  fs.mkdirSync(sharded);
  fs.copyFileSync(path.join(GOOD, 'config.json'), path.join(sharded, 'config.json'));
  fs.writeFileSync(path.join(sharded, 'model-00001-of-00001.safetensors'), GOOD_WEIGHTS);
  fs.writeFileSync(
    path.join(sharded, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: Object.fromEntries(TENSOR_KEYS.map((k) => [k, 'model-00001-of-00001.safetensors'])) }),
  );
  assert.equal(loadCheckpoint(sharded).tensors.size, ck.tensors.size);
  assert.deepEqual(
    toHfConfig(parseHfConfig(GOOD_CONFIG, 'config.json'), 'BertForSequenceClassification').num_hidden_layers,
    1,
  );
});

test('fuzz: parseSafetensors and toFloat32 throw only UserErrors on damaged or random files', () => {
  checkProperty(
    fc.property(headerArb, (bytes) => {
      onlyUserErrors(() => {
        const f = parseSafetensors(bytes, 'model.safetensors');
        for (const entry of f.entries.values()) onlyUserErrors(() => toFloat32(entry, 'model.safetensors'));
      });
    }),
    3000,
  );
});

test('fuzz: parseHfConfig throws only UserErrors on mutated config.json objects, and what it accepts is bounded', () => {
  checkProperty(
    fc.property(configArb, (json) => {
      let parsed: BertConfig | undefined;
      onlyUserErrors(() => {
        parsed = parseHfConfig(json, 'config.json');
      });
      if (parsed) {
        assert.ok(parsed.numHiddenLayers <= 48 && parsed.labels.length === parsed.numLabels);
        // What was read can be written back.
        toHfConfig(parsed, 'BertForSequenceClassification');
      }
    }),
    3000,
  );
});

test('fuzz: loadCheckpoint throws only UserErrors on a folder with a damaged config.json or model.safetensors', () => {
  const dir = path.join(ROOT, 'mutated');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(VOCAB, path.join(dir, 'vocab.txt'));
  const SHARD = 'model-00001-of-00001.safetensors';
  const goodIndex = {
    metadata: { total_size: GOOD_DATA.length },
    weight_map: Object.fromEntries(TENSOR_KEYS.map((k) => [k, SHARD])),
  };
  const arb = fc.record({
    config: fc.option(
      fc.oneof(
        configArb.map((c) => JSON.stringify(c) ?? ''),
        fc.string({ maxLength: 20 }),
      ),
      { nil: undefined },
    ),
    weights: fc.option(headerArb, { nil: undefined }),
    // Sharded: model.safetensors.index.json (maybe mutated) and one shard, instead of model.safetensors.
    index: fc.option(
      fc.oneof(
        fc
          .array(jsonEdit, { maxLength: 2 })
          .map((edits) => JSON.stringify(applyJsonEdits(goodIndex, edits, ['weight_map']))),
        fc.string({ maxLength: 10 }),
      ),
      { nil: undefined },
    ),
    tokenizerConfig: fc.option(
      fc.oneof(
        jsonish.map((v) => JSON.stringify(v) ?? ''),
        fc.string({ maxLength: 10 }),
      ),
      { nil: undefined },
    ),
    numLabels: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  });
  checkProperty(
    fc.property(arb, ({ config, weights, index, tokenizerConfig, numLabels }) => {
      for (const f of fs.readdirSync(dir)) if (f !== 'vocab.txt') fs.rmSync(path.join(dir, f));
      fs.writeFileSync(path.join(dir, 'config.json'), config ?? JSON.stringify(GOOD_CONFIG));
      if (index === undefined) {
        fs.writeFileSync(path.join(dir, 'model.safetensors'), weights ?? GOOD_WEIGHTS);
      } else {
        fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), index);
        fs.writeFileSync(path.join(dir, SHARD), weights ?? GOOD_WEIGHTS);
      }
      if (tokenizerConfig !== undefined) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), tokenizerConfig);
      onlyUserErrors(() => loadCheckpoint(dir, numLabels !== undefined ? { numLabels } : {}));
    }),
    1200,
  );
});

test('serializeSafetensors output of the fixture parses back (the mutation base is well-formed)', () => {
  const f = parseSafetensors(serializeSafetensors(loadCheckpoint(GOOD).tensors));
  assert.equal(f.entries.size, TENSOR_KEYS.length);
});
