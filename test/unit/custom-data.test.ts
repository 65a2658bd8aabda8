import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { customFormatFromPath, parseCsv, readCustomDataset } from '../../src/data/custom';
import { UserError } from '../../src/util/errors';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-custom-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** Writes a temp file with this name ending and content; returns its path. */
function file(ext: string, content: string): string {
  const p = path.join(root, `f${counter++}${ext}`);
  fs.writeFileSync(p, content);
  return p;
}

function throwsUser(fn: () => unknown, where: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
    assert.equal(e.where, where);
    assert.match(e.message, message);
    return true;
  });
}

test('CSV with RFC 4180 quoting: commas, doubled quotes and line breaks inside fields', () => {
  const f = file(
    '.csv',
    '\ufefftext,other,label\r\n"Hello, world",x,pos\r\n"She said ""hi""\nand left",y,neg\r\nplain,"",pos\r\n',
  );
  const ds = readCustomDataset(f, { textA: 'text', label: 'label' });
  assert.deepEqual(ds.labels, ['neg', 'pos']);
  assert.deepEqual(ds.examples, [
    { index: 0, line: 2, textA: 'Hello, world', label: 1 },
    { index: 1, line: 3, textA: 'She said "hi"\nand left', label: 0 },
    { index: 2, line: 5, textA: 'plain', label: 1 },
  ]);
  assert.equal(ds.file, f);
  assert.equal(ds.task, 'custom');
  assert.equal(ds.isRegression, false);
});

test('parseCsv: empty fields, trailing comma, no final newline, blank lines, stray quote', () => {
  assert.deepEqual(parseCsv('a,b,c\n1,,\n\n"",2,x"y\n3,4,5', 'f.csv'), [
    { line: 1, cells: ['a', 'b', 'c'] },
    { line: 2, cells: ['1', '', ''] },
    { line: 4, cells: ['', '2', 'x"y'] },
    { line: 5, cells: ['3', '4', '5'] },
  ]);
});

test('CSV pair task with given labels, and explicit format overriding the extension', () => {
  const f = file(
    '.txt',
    'premise,hypothesis,gold\nA dog runs.,An animal moves.,entailment\nA cat.,No cat.,contradiction\n',
  );
  const ds = readCustomDataset(
    f,
    { textA: 'premise', textB: 'hypothesis', label: 'gold' },
    { labels: ['entailment', 'neutral', 'contradiction'], format: 'csv', task: 'nli', split: 'train' },
  );
  assert.deepEqual(ds.labels, ['entailment', 'neutral', 'contradiction']);
  assert.deepEqual(
    ds.examples.map((e) => [e.textA, e.textB, e.label]),
    [
      ['A dog runs.', 'An animal moves.', 0],
      ['A cat.', 'No cat.', 2],
    ],
  );
  assert.equal(ds.task, 'nli');
  assert.equal(ds.split, 'train');
});

test('TSV reads with quoting off', () => {
  const f = file('.tsv', 'sentence\tscore\r\n"Unbalanced quote\t1.5\r\nsecond "row"\t4\r\n');
  const ds = readCustomDataset(f, { textA: 'sentence', label: 'score' }, { regression: true });
  assert.equal(ds.isRegression, true);
  assert.deepEqual(ds.labels, []);
  assert.deepEqual(ds.examples, [
    { index: 0, line: 2, textA: '"Unbalanced quote', label: 1.5 },
    { index: 1, line: 3, textA: 'second "row"', label: 4 },
  ]);
});

test('JSONL: string and numeric labels, blank lines skipped, labels sorted numerically', () => {
  const f = file('.jsonl', '{"t": "ten", "y": 10}\n\n{"t": "two", "y": 2}\n{"t": "one", "y": "1", "extra": true}\n');
  const ds = readCustomDataset(f, { textA: 't', label: 'y' });
  assert.deepEqual(ds.labels, ['1', '2', '10']);
  assert.deepEqual(ds.examples, [
    { index: 0, line: 1, textA: 'ten', label: 2 },
    { index: 1, line: 3, textA: 'two', label: 1 },
    { index: 2, line: 4, textA: 'one', label: 0 },
  ]);
});

test('JSONL regression and unlabelled data', () => {
  const f = file('.ndjson', '{"a": "x", "b": "y", "s": 3.25}\n{"a": "p", "b": "q", "s": "0.5"}\n');
  const reg = readCustomDataset(f, { textA: 'a', textB: 'b', label: 's' }, { regression: true });
  assert.deepEqual(
    reg.examples.map((e) => e.label),
    [3.25, 0.5],
  );
  const unlabelled = readCustomDataset(f, { textA: 'a', textB: 'b' }, { labels: ['neg', 'pos'] });
  assert.deepEqual(
    unlabelled.examples.map((e) => e.label),
    [null, null],
  );
  assert.deepEqual(unlabelled.labels, ['neg', 'pos']);
});

test('format from the extension', () => {
  assert.equal(customFormatFromPath('a/b.CSV'), 'csv');
  assert.equal(customFormatFromPath('b.tab'), 'tsv');
  assert.equal(customFormatFromPath('b.jsonl'), 'jsonl');
  assert.throws(() => customFormatFromPath('b.json'), /from the extension '\.json'/);
  const f = file('.xlsx', 'x');
  assert.throws(
    () => readCustomDataset(f, { textA: 'a' }),
    (e: unknown) => e instanceof UserError && e.where === f,
  );
});

test('unknown field lists the available ones', () => {
  const csv = file('.csv', 'text,label\nhi,1\n');
  throwsUser(
    () => readCustomDataset(csv, { textA: 'sentence', label: 'label' }),
    `${csv}:1`,
    /unknown field 'sentence' \(textA\); the header has 'text', 'label'/,
  );
  const jsonl = file('.jsonl', '{"text": "a", "label": 1}\n');
  throwsUser(
    () => readCustomDataset(jsonl, { textA: 'text', label: 'gold' }),
    `${jsonl}:1`,
    /unknown field 'gold' \(label\); the objects have 'text', 'label'/,
  );
  const later = file('.jsonl', '{"text": "a", "label": 1}\n{"text": "b"}\n');
  throwsUser(
    () => readCustomDataset(later, { textA: 'text', label: 'label' }),
    `${later}:2`,
    /missing field 'label' \(label\); this object has 'text'/,
  );
});

test('malformed JSON line and non-object line', () => {
  const f = file('.jsonl', '{"text": "a"}\n{"text": "b",\n');
  throwsUser(() => readCustomDataset(f, { textA: 'text' }), `${f}:2`, /malformed JSON/);
  const arr = file('.jsonl', '["a"]\n');
  throwsUser(() => readCustomDataset(arr, { textA: 'text' }), `${arr}:1`, /expected a JSON object, found an array/);
  const notString = file('.jsonl', '{"text": 5}\n');
  throwsUser(
    () => readCustomDataset(notString, { textA: 'text' }),
    `${notString}:1`,
    /field 'text' should be a string, found 5/,
  );
});

test('wrong column count', () => {
  const csv = file('.csv', 'text,label\nhi,1\nhello, world,0\n');
  throwsUser(
    () => readCustomDataset(csv, { textA: 'text', label: 'label' }),
    `${csv}:3`,
    /expected 2 comma-separated columns \(text, label\), found 3/,
  );
  const tsv = file('.tsv', 'text\tlabel\nhi\n');
  throwsUser(
    () => readCustomDataset(tsv, { textA: 'text', label: 'label' }),
    `${tsv}:2`,
    /expected 2 tab-separated columns \(text, label\), found 1/,
  );
});

test('unterminated quote points at the line where the field started', () => {
  const f = file('.csv', 'text,label\nok,1\n"never closed,0\nmore\nlines\n');
  throwsUser(() => readCustomDataset(f, { textA: 'text', label: 'label' }), `${f}:3`, /unterminated quoted field/);
  const trailing = file('.csv', 'text,label\n"a"b,1\n');
  throwsUser(
    () => readCustomDataset(trailing, { textA: 'text', label: 'label' }),
    `${trailing}:2`,
    /unexpected text after the closing quote/,
  );
});

test('label errors: unknown class, bad score, labels with regression', () => {
  const f = file('.csv', 'text,label\na,pos\nb,meh\n');
  throwsUser(
    () => readCustomDataset(f, { textA: 'text', label: 'label' }, { labels: ['neg', 'pos'] }),
    `${f}:3`,
    /unknown label 'meh'; expected one of 'neg', 'pos'/,
  );
  const s = file('.csv', 'text,score\na,1.5\nb,\n');
  throwsUser(
    () => readCustomDataset(s, { textA: 'text', label: 'score' }, { regression: true }),
    `${s}:3`,
    /score field 'score' should be a number, found ""/,
  );
  throwsUser(
    () => readCustomDataset(s, { textA: 'text', label: 'score' }, { regression: true, labels: ['a'] }),
    s,
    /class labels were given for a regression dataset/,
  );
});

test('empty, header-only and missing files', () => {
  const empty = file('.csv', '');
  throwsUser(() => readCustomDataset(empty, { textA: 'text' }), empty, /file is empty/);
  const headerOnly = file('.tsv', 'text\tlabel\n');
  throwsUser(() => readCustomDataset(headerOnly, { textA: 'text' }), headerOnly, /header but no data rows/);
  const missing = path.join(root, 'nope.csv');
  throwsUser(() => readCustomDataset(missing, { textA: 'text' }), missing, /dataset file not found/);
});
