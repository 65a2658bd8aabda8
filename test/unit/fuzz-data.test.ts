// Property-based tests (fast-check) of the data readers: random TSV, CSV and JSONL text (and raw
// bytes) through readGlueSplit (src/data/glue.ts, tsv.ts) and readCustomDataset / parseCsv
// (src/data/custom.ts). A bad data file is the user's to fix: the only exception allowed is a
// UserError naming the file (and line), never a crash; what is read is well-formed (issue #19).
// FUZZ_RUNS / FUZZ_SEED / FUZZ_PATH: see test/helpers/fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { readGlueSplit } from '../../src/data/glue';
import { GLUE_TASK_NAMES, GLUE_TASKS } from '../../src/data/tasks';
import { CustomFormat, parseCsv, readCustomDataset } from '../../src/data/custom';
import { Dataset } from '../../src/data/examples';
import { isUserError } from '../../src/util/errors';
import { checkProperty, jsonish } from '../helpers/fuzz';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-fuzz-data-'));

/** Runs `f`; anything it throws must be a UserError that names the file. */
function onlyUserErrors<T>(file: string, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!isUserError(e))
      throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} instead of a UserError`, {
        cause: e,
      });
    assert.ok(
      e.message.includes(path.basename(file)) || e.where?.includes(path.basename(file)),
      `the error does not name the file: ${e.message}`,
    );
    return undefined;
  }
}

function assertWellFormed(d: Dataset): void {
  for (const ex of d.examples) {
    assert.equal(typeof ex.textA, 'string');
    assert.ok(Number.isInteger(ex.line) && ex.line >= 1, `line ${ex.line}`);
    if (ex.label !== null) {
      assert.ok(Number.isFinite(ex.label), `label ${ex.label}`);
      if (!d.isRegression)
        assert.ok(
          Number.isInteger(ex.label) && ex.label >= 0 && ex.label < d.labels.length,
          `label id ${ex.label} of ${d.labels.length}`,
        );
    }
  }
}

// ---- generators -----------------------------------------------------------------------------

const NAMES = [
  'sentence',
  'label',
  'text_b',
  'question1',
  'question2',
  'is_duplicate',
  'gold_label',
  'sentence1',
  'sentence2',
  'Quality',
  '#1 String',
  '#2 String',
  'score',
  'index',
];

/** A cell: words, numbers, labels, and the characters that break naive splitting. */
const cell: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '2',
    '3.5',
    '-1',
    'NaN',
    'Infinity',
    '1e308',
    'entailment',
    'neutral',
    'contradiction',
    'not_entailment',
    ...NAMES,
  ),
  fc.constantFrom(
    '"',
    '""',
    '"a,b"',
    'a"b',
    '\t',
    ',',
    '\r',
    '\n',
    '\r\n',
    '\uFEFF',
    '\u2028',
    '\u0000',
    'é',
    '😀',
    ' ',
  ),
  fc.string({ maxLength: 8 }),
);

const row = (delimiter: string): fc.Arbitrary<string> =>
  fc.array(cell, { maxLength: 8 }).map((cells) => cells.join(delimiter));

/** A delimited file: maybe a plausible header, then random rows, with random line ends. */
const table = (delimiter: string): fc.Arbitrary<string> =>
  fc
    .record({
      header: fc.option(
        fc.shuffledSubarray(NAMES, { minLength: 1 }).map((h) => h.join(delimiter)),
        { nil: undefined },
      ),
      rows: fc.array(row(delimiter), { maxLength: 12 }),
      eol: fc.constantFrom('\n', '\r\n', '\r'),
      bom: fc.boolean(),
      finalEol: fc.boolean(),
    })
    .map(
      ({ header, rows, eol, bom, finalEol }) =>
        `${bom ? '\uFEFF' : ''}${[...(header !== undefined ? [header] : []), ...rows].join(eol)}${finalEol ? eol : ''}`,
    );

const jsonl: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      {
        arbitrary: fc.dictionary(fc.constantFrom(...NAMES, 'x'), jsonish, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
        weight: 4,
      },
      { arbitrary: jsonish.map((v) => JSON.stringify(v) ?? ''), weight: 1 },
      { arbitrary: fc.string({ maxLength: 10 }), weight: 1 },
    ),
    { maxLength: 10 },
  )
  .map((lines) => lines.join('\n'));

/** File contents as bytes: text of the format, or random bytes (invalid UTF-8 included). */
const contents = (text: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { arbitrary: text.map((t) => new Uint8Array(Buffer.from(t, 'utf8'))), weight: 6 },
    { arbitrary: fc.uint8Array({ maxLength: 120 }), weight: 1 },
  );

// ---- properties -----------------------------------------------------------------------------

test('fuzz: GLUE splits of any task read random TSV files with only UserErrors', () => {
  const arb = fc.record({
    task: fc.constantFrom(...GLUE_TASK_NAMES),
    split: fc.constantFrom('train', 'dev', 'test') as fc.Arbitrary<'train' | 'dev' | 'test'>,
    bytes: contents(table('\t')),
  });
  checkProperty(
    fc.property(arb, ({ task, split, bytes }) => {
      const spec = GLUE_TASKS[task];
      const dir = path.join(ROOT, 'glue', spec.dirName);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, spec.files[split] ?? 'train.tsv');
      fs.writeFileSync(file, bytes);
      const d = onlyUserErrors(file, () => readGlueSplit(spec, dir, split));
      if (d) assertWellFormed(d);
    }),
    2000,
  );
});

test('fuzz: custom CSV, TSV and JSONL files with any field mapping read with only UserErrors', () => {
  const arb = fc.constantFrom<CustomFormat>('csv', 'tsv', 'jsonl').chain((format) =>
    fc.record({
      format: fc.constant(format),
      bytes: contents(format === 'jsonl' ? jsonl : table(format === 'csv' ? ',' : '\t')),
      textA: fc.constantFrom(...NAMES.slice(0, 4)),
      textB: fc.option(fc.constantFrom(...NAMES.slice(0, 4)), { nil: undefined }),
      label: fc.option(fc.constantFrom('label', 'score', 'sentence'), { nil: undefined }),
      labels: fc.option(fc.array(cell, { maxLength: 4 }), { nil: undefined }),
      regression: fc.boolean(),
    }),
  );
  checkProperty(
    fc.property(arb, ({ format, bytes, textA, textB, label, labels, regression }) => {
      const file = path.join(ROOT, `custom.${format}`);
      fs.writeFileSync(file, bytes);
      const mapping = { textA, ...(textB !== undefined ? { textB } : {}), ...(label !== undefined ? { label } : {}) };
      const d = onlyUserErrors(file, () =>
        readCustomDataset(file, mapping, { format, regression, ...(labels !== undefined ? { labels } : {}) }),
      );
      if (d) assertWellFormed(d);
    }),
    2000,
  );
});

test('fuzz: parseCsv keeps every character of a well-quoted table and never throws anything but a UserError', () => {
  const quote = (c: string): string => `"${c.replace(/"/g, '""')}"`;
  const arb = fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 });
  checkProperty(
    fc.property(arb, (rows) => {
      const text = rows.map((cells) => cells.map(quote).join(',')).join('\n');
      const records = onlyUserErrors('t.csv', () => parseCsv(text, 't.csv'));
      // A record of one empty field reads as a blank line, which parseCsv skips by design.
      if (records)
        assert.deepEqual(
          records.map((r) => r.cells),
          rows.filter((cells) => !(cells.length === 1 && cells[0] === '')),
        );
    }),
    1500,
  );
  checkProperty(
    fc.property(fc.string({ maxLength: 60 }), (text) => {
      onlyUserErrors('t.csv', () => parseCsv(text, 't.csv'));
    }),
    1500,
  );
});
