import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lineStarts, positionAt, toDiagnostics, validateForEditor } from '../../src/extension/config-diagnostics';
import { applyTextEdits, quickFixesFor } from '../../src/extension/quick-fixes';
import type { ConfigProblem } from '../../src/config/parse';

/** A workspace with a 12-layer teacher folder and an SST-2 data folder under glue/. */
function workspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-diag-'));
  const teacher = path.join(dir, 'teacher');
  fs.mkdirSync(teacher);
  fs.writeFileSync(
    path.join(teacher, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 12,
      hidden_size: 768,
      num_attention_heads: 12,
      intermediate_size: 3072,
      id2label: { 0: 'negative', 1: 'positive' },
    }),
  );
  fs.writeFileSync(path.join(teacher, 'model.safetensors'), '');
  fs.writeFileSync(path.join(teacher, 'vocab.txt'), '[PAD]\n');
  const sst = path.join(dir, 'glue', 'SST-2');
  fs.mkdirSync(sst, { recursive: true });
  fs.writeFileSync(path.join(sst, 'train.tsv'), 'sentence\tlabel\n');
  fs.writeFileSync(path.join(sst, 'dev.tsv'), 'sentence\tlabel\n');
  return dir;
}

function config(parts: Record<string, string>): string {
  const base: Record<string, string> = {
    task: '{ "name": "sst2", "dataDir": "glue/SST-2" }',
    teacher: '{ "checkpoint": "teacher" }',
    algorithm: '"sid"',
    ...parts,
  };
  return `{\n${Object.entries(base)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `  "${k}": ${v}`)
    .join(',\n')}\n}\n`;
}

function only(problems: ConfigProblem[], pathText: string): ConfigProblem {
  const found = problems.filter((p) => p.pathText === pathText);
  assert.equal(
    found.length,
    1,
    `one problem at ${pathText}, got ${JSON.stringify(problems.map((p) => `${p.pathText}: ${p.message}`))}`,
  );
  return found[0];
}

test('a clean config gives no diagnostics on either side', () => {
  const dir = workspace();
  const r = validateForEditor(config({ student: '{ "layers": 6 }' }), path.join(dir, 'a.distill.json'));
  assert.deepEqual(r.all, []);
});

test('a mapping pair out of range is semantic, underlines the number, and offers clamp, every-other and uniform', () => {
  const dir = workspace();
  const text = config({ student: '{ "layers": 6 }', mapping: '[[1, 2], [2, 14]]' });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  assert.equal(r.fromSchema.length, 0);
  const p = only(r.semantic, 'mapping[1][1]');
  const [d] = toDiagnostics(text, [p]);
  const line = text.split('\n')[d.start.line];
  assert.equal(line.slice(d.start.character, d.end.character), '14');
  assert.equal(d.severity, 'error');
  assert.match(
    d.message,
    /teacher layer 14 is out of range: the teacher has 12 layers\nFix: use a teacher layer from 1 to 12/,
  );
  assert.equal(d.code, 'mapping[1][1]');

  const fixes = quickFixesFor(text, p, { studentLayers: 6, teacherLayers: 12 });
  assert.deepEqual(
    fixes.map((f) => f.title),
    ['Clamp the teacher layer to 12', 'Replace the mapping with "every-other"', 'Replace the mapping with "uniform"'],
  );
  const clamped = applyTextEdits(text, fixes[0].edits);
  assert.match(clamped, /"mapping": \[\[1, 2\], \[2, 12\]\]/);
  // Only the warning that layers 3–6 stay unmapped is left.
  assert.deepEqual(
    validateForEditor(clamped, path.join(dir, 'a.distill.json')).all.map((x) => x.severity),
    ['warning'],
  );
  const everyOther = applyTextEdits(text, fixes[1].edits);
  assert.match(everyOther, /"mapping": "every-other"/);
  assert.deepEqual(validateForEditor(everyOther, path.join(dir, 'a.distill.json')).all, []);
  // A student as deep as the teacher cannot use every-other.
  assert.deepEqual(
    quickFixesFor(text, p, { studentLayers: 12, teacherLayers: 12 }).map((f) => f.title),
    ['Clamp the teacher layer to 12', 'Replace the mapping with "uniform"'],
  );
});

test('a student deeper than the teacher: one preferred fix, half the teacher', () => {
  const dir = workspace();
  const text = config({ student: '{ "layers": 16 }' });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  const p = only(r.semantic, 'student.layers');
  const fixes = quickFixesFor(text, p);
  assert.equal(fixes.length, 1);
  assert.equal(fixes[0].preferred, true);
  assert.equal(fixes[0].title, 'Set student.layers to 6 (half the teacher)');
  const fixed = applyTextEdits(text, fixes[0].edits);
  assert.match(fixed, /"student": \{ "layers": 6 \}/);
  assert.deepEqual(validateForEditor(fixed, path.join(dir, 'a.distill.json')).all, []);
});

test('an unknown field is left to the schema side, and the rename fix still applies there', () => {
  const dir = workspace();
  const text = config({ algorithm: '', algoritm: '"sid"' });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  assert.equal(r.semantic.length, 0, JSON.stringify(r.semantic));
  const unknown = r.fromSchema.find((p) => /unknown field 'algoritm'/.test(p.message));
  assert.ok(unknown, JSON.stringify(r.fromSchema));
  const fixes = quickFixesFor(text, unknown);
  assert.equal(fixes[0].title, "Rename 'algoritm' to 'algorithm'");
  const fixed = applyTextEdits(text, fixes[0].edits);
  assert.match(fixed, /"algorithm": "sid"/);
  assert.deepEqual(validateForEditor(fixed, path.join(dir, 'a.distill.json')).all, []);
});

test('an enum near miss gets a did-you-mean fix; a quoted number gets unquoted', () => {
  const dir = workspace();
  const text = config({ algorithm: '"sdi"', optim: '{ "batchSize": "16" }' });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  const algo = only(r.fromSchema, 'algorithm');
  assert.equal(quickFixesFor(text, algo)[0]?.title, 'Use "sid"');
  const batch = only(r.fromSchema, 'optim.batchSize');
  const f = quickFixesFor(text, batch)[0];
  assert.equal(f?.title, 'Write 16 as a number');
  assert.match(applyTextEdits(text, f.edits), /"batchSize": 16/);
});

test('a data folder at the GLUE root: semantic error with a fix pointing into the task folder', () => {
  const dir = workspace();
  const text = config({ task: '{ "name": "sst2", "dataDir": "glue" }', student: '{ "layers": 6 }' });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  const p = only(r.semantic, 'task.dataDir');
  assert.match(p.message, /has no train\.tsv and dev\.tsv/);
  const fixes = quickFixesFor(text, p);
  assert.equal(fixes.length, 1);
  const fixed = applyTextEdits(text, fixes[0].edits);
  assert.match(fixed, /"dataDir": "glue\/SST-2"/);
  assert.deepEqual(validateForEditor(fixed, path.join(dir, 'a.distill.json')).all, []);
});

test('missing teacher files and an every-other mismatch are semantic; every-other offers uniform first', () => {
  const dir = workspace();
  const missing = validateForEditor(
    config({ teacher: '{ "checkpoint": "nowhere" }' }),
    path.join(dir, 'a.distill.json'),
  );
  assert.match(only(missing.semantic, 'teacher.checkpoint').message, /not found/);

  const text = config({ student: '{ "layers": 4 }', mapping: '"every-other"' });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  const p = only(r.semantic, 'mapping');
  const fixes = quickFixesFor(text, p);
  assert.deepEqual(
    fixes.map((f) => [f.title, f.preferred]),
    [
      ['Use the "uniform" mapping', true],
      ['Set student.layers to 6', false],
    ],
  );
  assert.deepEqual(validateForEditor(applyTextEdits(text, fixes[1].edits), path.join(dir, 'a.distill.json')).all, []);
});

test('syntax errors belong to the JSON language service: no semantic diagnostics while the file does not parse', () => {
  const dir = workspace();
  const r = validateForEditor('{ "task": { "name": "sst2", }, "algorithm": ', path.join(dir, 'a.distill.json'));
  assert.ok(r.fromSchema.length > 0);
  assert.equal(r.semantic.length, 0);
});

test('positions: CRLF and lone CR line ends, UTF-16 columns, empty ranges widened to one character', () => {
  const text = '{\r\n  "a": "é😀",\r  "b": 1\n}';
  const starts = lineStarts(text);
  assert.deepEqual(starts, [0, 3, 17, 26]);
  assert.deepEqual(positionAt(starts, text.indexOf('"b"')), { line: 2, character: 2 });
  const offset = text.indexOf('1');
  const p: ConfigProblem = {
    path: ['b'],
    pathText: 'b',
    message: 'm',
    severity: 'warning',
    range: { line: 3, column: 8, offset, length: 0 },
  };
  const [d] = toDiagnostics(text, [p]);
  assert.deepEqual(d.start, { line: 2, character: 7 });
  assert.deepEqual(d.end, { line: 2, character: 8 });
  assert.equal(d.message, 'm');
  assert.equal(d.severity, 'warning');
});

test('a custom stage schedule of a loss the stage does not train: a semantic error on that schedule, named by its path', () => {
  const dir = workspace();
  const text = config({
    algorithm: '"custom"',
    losses: '{ "hiddenMse": 1 }',
    stages:
      '{ "custom": [{ "losses": ["attention-kl"], "epochs": 1, "schedules": { "hiddenMse": { "shape": "linear", "to": 0 } } }, { "losses": ["soft-label"], "epochs": 1 }] }',
  });
  const r = validateForEditor(text, path.join(dir, 'a.distill.json'));
  assert.equal(r.fromSchema.length, 0, 'the schema knows stages.custom[].schedules');
  const p = only(r.semantic, 'stages.custom[0].schedules.hiddenMse');
  const [d] = toDiagnostics(text, [p]);
  assert.equal(d.severity, 'error');
  assert.equal(d.code, 'stages.custom[0].schedules.hiddenMse');
  assert.match(
    d.message,
    /^stages.custom\[0\].schedules.hiddenMse schedules hidden-mse, but this stage does not train hidden-mse .*\nFix: add 'hidden-mse' to stages.custom\[0\].losses, or remove the schedule/,
  );
  const line = text.split('\n')[d.start.line];
  assert.equal(line.slice(d.start.character, d.end.character), '"hiddenMse"', 'the key of the schedule is underlined');
  // the same schedule on a stage that trains hidden-mse is clean
  const fixed = text.replace('"losses": ["attention-kl"]', '"losses": ["attention-kl", "hidden-mse"]');
  assert.deepEqual(validateForEditor(fixed, path.join(dir, 'a.distill.json')).all, []);
});
