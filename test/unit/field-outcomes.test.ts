// The config hover's "how did runs that varied this field do": grouping finished runs by a field's
// value (mean ± std of the final main metric), the field under the cursor, and the hover provider
// itself outside VS Code (test/fixtures/fake-vscode.ts). Expectations computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fieldOutcomes, fieldPath, formatFieldOutcomes, type RunOutcome } from '../../src/experiment/field-outcomes';
import { configFieldAt } from '../../src/experiment/field-at';
import { fakeVscode, installFakeVscode } from '../fixtures/fake-vscode';

function run(
  runId: string,
  config: Record<string, string | number | boolean | null>,
  metric: number | undefined,
  finished = true,
  name = 'accuracy',
): RunOutcome {
  return {
    runId,
    finished,
    metric: metric === undefined ? undefined : { name, value: metric },
    config: { 'task.name': 'sst2', ...config },
  };
}

test("runs are grouped by the field's value: mean ± sample std per value, sorted numerically, unset last", () => {
  const runs = [
    run('a', { 'optim.lr': 1e-4 }, 0.8),
    run('b', { 'optim.lr': 1e-4 }, 0.9),
    run('c', { 'optim.lr': 5e-4 }, 0.85),
    run('d', {}, 0.7),
    run('e', { 'optim.lr': 1e-3 }, 0.6),
    // not counted: still running, no evaluation yet, NaN
    run('f', { 'optim.lr': 1e-2 }, 0.99, false),
    run('g', { 'optim.lr': 1e-2 }, undefined),
    run('h', { 'optim.lr': 1e-2 }, NaN),
  ];
  const o = fieldOutcomes('optim.lr', runs);
  assert.ok(o);
  assert.equal(o.runs, 5);
  assert.equal(o.metric, 'accuracy');
  assert.deepEqual(
    o.groups.map((g) => [g.value, g.runs]),
    [
      [1e-4, 2],
      [5e-4, 1],
      [1e-3, 1],
      [undefined, 1],
    ],
  );
  assert.ok(Math.abs(o.groups[0].mean - 0.85) < 1e-12);
  // sample std of 0.8 and 0.9: sqrt(2 · 0.05² / 1)
  assert.ok(Math.abs(o.groups[0].std - Math.sqrt(0.005)) < 1e-12);
  assert.equal(o.groups[1].std, 0);

  const md = formatFieldOutcomes(o, 5e-4);
  assert.match(md, /^\*\*optim\.lr\*\* in 5 finished runs of this workspace \(final accuracy\):/);
  assert.match(md, /\| 0\.0001 \| 0\.85 ± 0\.07071 \| 2 \|/);
  assert.match(md, /\| \*\*0\.0005\*\* \(this config\) \| 0\.85 \| 1 \|/);
  assert.match(md, /\| \(unset\) \| 0\.7 \| 1 \|/);
});

test('nothing when fewer than two values were tried, or fewer than two finished runs', () => {
  assert.equal(
    fieldOutcomes('algorithm', [run('a', { algorithm: 'sid' }, 0.8), run('b', { algorithm: 'sid' }, 0.9)]),
    undefined,
  );
  assert.equal(
    fieldOutcomes('algorithm', [run('a', { algorithm: 'sid' }, 0.8), run('b', { algorithm: 'pid' }, 0.9, false)]),
    undefined,
  );
  assert.equal(fieldOutcomes('algorithm', []), undefined);
  // an object's key (not a leaf): every run "unset", one value
  assert.equal(fieldOutcomes('optim', [run('a', { 'optim.lr': 1 }, 0.8), run('b', { 'optim.lr': 2 }, 0.9)]), undefined);
});

test('only runs of the same task, and of the most common metric, are compared; text values are escaped', () => {
  const runs = [
    run('a', { algorithm: 'sid' }, 0.8),
    run('b', { algorithm: 'pid' }, 0.7),
    { ...run('c', { algorithm: 'soft' }, 0.1), config: { 'task.name': 'mrpc', algorithm: 'soft' } },
    run('d', { algorithm: 'hard|x' }, 0.5, true, 'f1'),
  ];
  const o = fieldOutcomes('algorithm', runs, { 'task.name': 'sst2' });
  assert.ok(o);
  assert.deepEqual(
    o.groups.map((g) => g.value),
    ['pid', 'sid'],
  );
  const odd = fieldOutcomes('algorithm', [run('a', { algorithm: 'a|b' }, 0.8), run('b', { algorithm: 'c' }, 0.7)]);
  assert.match(formatFieldOutcomes(odd!), /\| "a\\\|b" \| 0\.8 \| 1 \|/);
});

test('the field under the cursor: keys and values name the leaf; inside an array, the array; comments allowed', () => {
  const text =
    '{\n  // the student\n  "optim": { "lr": 0.0005, "batchSize": 8 },\n  "mapping": [[1, 2], [2, 4]],\n  "task": { "name": "sst2" }\n}\n';
  assert.equal(configFieldAt(text, text.indexOf('"lr"') + 2)?.path, 'optim.lr');
  assert.equal(configFieldAt(text, text.indexOf('0.0005') + 2)?.path, 'optim.lr');
  assert.equal(configFieldAt(text, text.indexOf('[2, 4]') + 2)?.path, 'mapping');
  const at = configFieldAt(text, text.indexOf('8 }'));
  assert.equal(at?.path, 'optim.batchSize');
  assert.equal(at?.config['task.name'], 'sst2');
  assert.equal(at?.config['optim.lr'], 0.0005);
  assert.equal(configFieldAt(text, 0), undefined);
  assert.equal(fieldPath(['mapping', 0, 1]), 'mapping');
  assert.equal(fieldPath([]), '');
});

test('the hover provider: a table for a field the runs varied, nothing for one they did not', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-hover-'));
  const states = [
    ['a', 'sid', 0.8],
    ['b', 'sid', 0.84],
    ['c', 'pid', 0.7],
    ['d', 'pid', 0.95],
  ].map(([id, algorithm, value]) => {
    const runDir = path.join(root, 'runs', String(id));
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(
      path.join(runDir, 'config.json'),
      JSON.stringify({ task: { name: 'sst2' }, algorithm, optim: { lr: 5e-4 } }),
    );
    return {
      runDir,
      runId: String(id),
      status: id === 'd' ? ('running' as const) : ('finished' as const),
      lastEval: { metric: 'accuracy', value: Number(value), step: 10 },
      best: undefined,
    };
  });
  class MarkdownString {
    constructor(readonly value: string) {}
  }
  class Hover {
    constructor(readonly contents: MarkdownString) {}
  }
  const fake = fakeVscode();
  Object.assign(fake.module, { MarkdownString, Hover });
  const restore = installFakeVscode(fake.module);
  try {
    const { ConfigHover } = await import('../../src/extension/config-editor');
    const provider = new ConfigHover({ states: () => states });
    const text = '{ "task": { "name": "sst2" }, "algorithm": "sid", "optim": { "lr": 0.0005 } }';
    const doc = {
      fileName: path.join(root, 'a.distill.json'),
      uri: { scheme: 'file', fsPath: path.join(root, 'a.distill.json') },
      getText: () => text,
      offsetAt: (p: { offset: number }) => p.offset,
    };
    const hover = (needle: string) =>
      provider.provideHover(doc as never, { offset: text.indexOf(needle) + 1 } as never) as unknown as Promise<
        Hover | undefined
      >;
    const h = await hover('"sid"');
    assert.ok(h, 'a hover on algorithm');
    // d is still running: pid has one finished run
    assert.match(h.contents.value, /\*\*algorithm\*\* in 3 finished runs/);
    assert.match(h.contents.value, /\| "pid" \| 0\.7 \| 1 \|/);
    assert.match(h.contents.value, /\| \*\*"sid"\*\* \(this config\) \| 0\.82 ± 0\.02828 \| 2 \|/);
    assert.equal(await hover('"lr"'), undefined, 'every run used the same lr');
    const other = { ...doc, fileName: path.join(root, 'notes.json') };
    assert.equal(
      await provider.provideHover(other as never, { offset: 30 } as never),
      undefined,
      'only *.distill.json',
    );
  } finally {
    restore();
  }
});
