/**
 * The extension's side of "Distillery: Advise Layer Mapping": reading the CLI's --json advice, the
 * edit that writes the proposed mapping into a config (comments and layout kept), and the Quick
 * Fix the config editor offers on "mapping" afterwards (config-editor.ts under test/fixtures/fake-vscode.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateForEditor } from '../../src/extension/config-diagnostics';
import { advisedMappingFix, applyTextEdits, mappingSpan } from '../../src/extension/quick-fixes';
import { adviceMessage, AdviceStore, MappingAdvice, parseAdvice } from '../../src/extension/mapping-advice';
import { renderAdvice } from '../../src/distill/mapping-report';
import { fakeVscode, installFakeVscode } from '../fixtures/fake-vscode';

/** A workspace with a 12-layer teacher folder and an SST-2 data folder under glue/. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-advice-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.mkdirSync(path.join(dir, 'teacher'));
fs.writeFileSync(
  path.join(dir, 'teacher', 'config.json'),
  JSON.stringify({
    model_type: 'bert',
    num_hidden_layers: 12,
    hidden_size: 768,
    num_attention_heads: 12,
    intermediate_size: 3072,
    id2label: { 0: 'negative', 1: 'positive' },
  }),
);
fs.writeFileSync(path.join(dir, 'teacher', 'model.safetensors'), '');
fs.writeFileSync(path.join(dir, 'teacher', 'vocab.txt'), '[PAD]\n');
fs.mkdirSync(path.join(dir, 'glue', 'SST-2'), { recursive: true });
fs.writeFileSync(path.join(dir, 'glue', 'SST-2', 'train.tsv'), 'sentence\tlabel\n');
fs.writeFileSync(path.join(dir, 'glue', 'SST-2', 'dev.tsv'), 'sentence\tlabel\n');
const FILE = path.join(dir, 'a.distill.json');

const CONFIG = `{
  // the teacher is fine-tuned already
  "task": { "name": "sst2", "dataDir": "glue/SST-2" },
  "teacher": { "checkpoint": "teacher" },
  "student": { "layers": 3 },
  "mapping": "uniform", // student k ↔ teacher 4k
  "algorithm": "pid"
}
`;

const PROPOSED: Array<[number, number]> = [
  [1, 3],
  [2, 7],
  [3, 12],
];

function advice(over: Partial<MappingAdvice> = {}): MappingAdvice {
  const m = [
    [0.1, 0.2, 0.05, 0.3],
    [0.4, 0.1, 0.2, 0.3],
    [0.5, 0.4, 0.3, 0.01],
  ];
  return {
    config: FILE,
    teacherDir: path.join(dir, 'teacher'),
    teacher: { layers: 12, heads: 12, hiddenSize: 768 },
    student: { layers: 3, heads: 12, hiddenSize: 768, init: 'teacher-layers' },
    examples: 64,
    attentionKl: m,
    clsCosine: m,
    cost: m,
    costRule: '1 × attention KL + 1 × [CLS] cosine, each rescaled to [0, 1] over all pairs',
    weights: { attentionKl: 1, clsCosine: 1 },
    headAverage: false,
    proposed: PROPOSED,
    current: [
      [1, 4],
      [2, 8],
      [3, 12],
    ],
    comparison: {
      same: false,
      changed: [
        { student: 1, current: 4, proposed: 3 },
        { student: 2, current: 8, proposed: 7 },
      ],
      currentCost: 1.5,
      proposedCost: 0.75,
      unmapped: [],
    },
    snippet: '"mapping": [[1, 3], [2, 7], [3, 12]]',
    notes: [],
    backend: 'wasm',
    ...over,
  };
}

test("the CLI's --json advice is read back; anything else is not taken for one", () => {
  const a = advice();
  assert.deepEqual(parseAdvice(JSON.stringify(a)), a);
  assert.equal(parseAdvice(JSON.stringify(advice({ clsCosine: null })))?.clsCosine, null);
  assert.equal(parseAdvice('not json'), undefined);
  assert.equal(parseAdvice(JSON.stringify({ ...a, proposed: [[1]] })), undefined);
  assert.equal(parseAdvice(JSON.stringify({ ...a, comparison: undefined })), undefined);
  assert.match(
    adviceMessage(a),
    /proposed mapping \[\[1, 3\], \[2, 7\], \[3, 12\]\]: cost 0\.750 against 1\.500 for the current \[\[1, 4\], \[2, 8\], \[3, 12\]\]/,
  );
  assert.match(adviceMessage(advice({ comparison: { ...a.comparison, same: true } })), /already the least-cost one/);
  assert.match(renderAdvice(a), /proposed: "mapping": \[\[1, 3\], \[2, 7\], \[3, 12\]\]/);
  const store = new AdviceStore();
  store.set(FILE, a);
  assert.equal(store.get(FILE), a);
  store.delete(FILE);
  assert.equal(store.get(FILE), undefined);
});

test('the edit replaces "mapping" on one line, keeps the comments, and leaves a valid config', () => {
  assert.equal(validateForEditor(CONFIG, FILE).all.filter((p) => p.severity === 'error').length, 0);
  const [fix] = advisedMappingFix(CONFIG, PROPOSED);
  assert.equal(fix.title, 'Apply the advised mapping [[1, 3], [2, 7], [3, 12]]');
  assert.equal(fix.preferred, true);
  const edited = applyTextEdits(CONFIG, fix.edits);
  assert.equal(edited, CONFIG.replace('"mapping": "uniform"', '"mapping": [[1, 3], [2, 7], [3, 12]]'));
  assert.deepEqual(validateForEditor(edited, FILE).all, []);
  // Applied already: nothing more to offer.
  assert.deepEqual(advisedMappingFix(edited, PROPOSED), []);
  // A config without a mapping gets one added.
  const without = CONFIG.replace('  "mapping": "uniform", // student k ↔ teacher 4k\n', '');
  const added = applyTextEdits(without, advisedMappingFix(without, PROPOSED)[0].edits);
  assert.deepEqual(JSON.parse(added.replace(/\/\/.*$/gm, '')).mapping, PROPOSED);
  assert.equal(mappingSpan(without), undefined);
  const span = mappingSpan(CONFIG);
  assert.ok(span);
  assert.equal(CONFIG.slice(span.offset, span.offset + span.length), '"mapping": "uniform"');
});

// ---- the Quick Fix in the config editor, under the fake vscode ---------------------------------

class Position {
  constructor(readonly offset: number) {}
}
class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position, b: Position) {
    this.start = a;
    this.end = b;
  }
  intersection(o: Range): Range | undefined {
    const s = Math.max(this.start.offset, o.start.offset);
    const e = Math.min(this.end.offset, o.end.offset);
    return s <= e ? new Range(new Position(s), new Position(e)) : undefined;
  }
  contains(p: Position): boolean {
    return p.offset >= this.start.offset && p.offset <= this.end.offset;
  }
}
class WorkspaceEdit {
  readonly replaced: Array<{ uri: unknown; range: Range; text: string }> = [];
  replace(uri: unknown, range: Range, text: string): void {
    this.replaced.push({ uri, range, text });
  }
}
class CodeAction {
  edit?: WorkspaceEdit;
  isPreferred?: boolean;
  constructor(
    readonly title: string,
    readonly kind: unknown,
  ) {}
}

test('after an advice, the config editor offers it as a Quick Fix on "mapping" (only there, and only while the depths match)', async () => {
  const fake = fakeVscode();
  Object.assign(fake.module, { Position, Range, WorkspaceEdit, CodeAction, CodeActionKind: { QuickFix: 'quickfix' } });
  const restore = installFakeVscode(fake.module);
  try {
    const { ConfigCodeActions } = await import('../../src/extension/config-editor');
    const { adviceStore } = await import('../../src/extension/mapping-advice');
    const doc = {
      fileName: FILE,
      uri: { scheme: 'file', fsPath: FILE },
      version: 1,
      getText: () => CONFIG,
      positionAt: (o: number) => new Position(o),
    };
    const at = (needle: string) => {
      const o = CONFIG.indexOf(needle);
      return new Range(new Position(o), new Position(o));
    };
    const provider = new ConfigCodeActions();
    const ask = (r: Range) =>
      provider.provideCodeActions(doc as never, r as never, { diagnostics: [] } as never) as unknown as Promise<
        CodeAction[]
      >;

    assert.deepEqual(await ask(at('"uniform"')), [], 'no advice yet');
    adviceStore.set(FILE, advice());
    const actions = await ask(at('"uniform"'));
    assert.deepEqual(
      actions.map((a) => a.title),
      ['Apply the advised mapping [[1, 3], [2, 7], [3, 12]]'],
    );
    assert.equal(actions[0].isPreferred, true);
    const [edit] = actions[0].edit!.replaced;
    const applied = CONFIG.slice(0, edit.range.start.offset) + edit.text + CONFIG.slice(edit.range.end.offset);
    assert.match(applied, /"mapping": \[\[1, 3\], \[2, 7\], \[3, 12\]\], \/\/ student k ↔ teacher 4k/);
    assert.deepEqual(await ask(at('"student"')), [], 'not offered away from "mapping"');
    // Advice measured for a 4-layer student does not fit this 3-layer config.
    adviceStore.set(FILE, advice({ student: { layers: 4, heads: 12, hiddenSize: 768, init: 'teacher-layers' } }));
    assert.deepEqual(await ask(at('"uniform"')), [], 'stale advice is not offered');
    adviceStore.delete(FILE);
  } finally {
    restore();
  }
});
