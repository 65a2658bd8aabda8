// Comparing runs by what differed: flattening resolved configs, keeping the fields that differ,
// the 'config-fields' / 'diff-configs' messages, sorting the compare table and the parallel-
// coordinates layout. Pure modules; expectations computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { differingFields, flattenConfig, pickFields } from '../../src/experiment/config-fields';
import { compareConfigFields, readFlatRunConfig } from '../../src/experiment/run-configs';
import { hostMessageProblem, isHostMessage, isWebviewMessage } from '../../src/protocol/webview-messages';
import { ariaSort, compareSortValues, nextSort, sortRows } from '../../webview/src/table-sort';
import {
  axisScale,
  DEFAULT_BOX,
  layoutParcoords,
  linePath,
  METRIC_AXIS,
  MISSING_LABEL,
  type ParcoordsRun,
} from '../../webview/src/parcoords';

// ---- flatten and diff -------------------------------------------------------------------------

test('a config flattens to dotted paths; arrays are one leaf (their JSON), null stays null', () => {
  const flat = flattenConfig({
    algorithm: 'sid',
    optim: { lr: 5e-4, batchSize: 8 },
    student: { layers: 2 },
    mapping: [
      [1, 2],
      [2, 4],
    ],
    stages: { patience: null },
    empty: {},
  });
  assert.deepEqual(flat, {
    algorithm: 'sid',
    'optim.lr': 5e-4,
    'optim.batchSize': 8,
    'student.layers': 2,
    mapping: '[[1,2],[2,4]]',
    'stages.patience': null,
  });
  assert.deepEqual(flattenConfig('not an object'), {});
  assert.deepEqual(flattenConfig(null), {});
});

test('only fields whose values differ are kept, sorted; a field missing from one run differs; 1 and "1" differ', () => {
  const a = flattenConfig({ algorithm: 'sid', optim: { lr: 1e-4, seed: 1 }, task: { trainFraction: 1 }, x: 1 });
  const b = flattenConfig({
    algorithm: 'pid',
    optim: { lr: 1e-4, seed: 1 },
    task: { trainFraction: 0.5 },
    x: '1',
    extra: true,
  });
  assert.deepEqual(differingFields([a, b]), ['algorithm', 'extra', 'task.trainFraction', 'x']);
  assert.deepEqual(differingFields([a, a]), []);
  assert.deepEqual(differingFields([a]), [], 'one run: nothing to compare');
  assert.deepEqual(pickFields(b, ['algorithm', 'nope']), { algorithm: 'pid' });
});

function runDir(root: string, name: string, config: unknown): string {
  const dir = path.join(root, 'runs', name);
  fs.mkdirSync(dir, { recursive: true });
  if (config !== undefined)
    fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

test("compareConfigFields reads each run's config.json; a run without one is listed with its problem and does not make every field differ", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-cf-'));
  const base = { algorithm: 'sid', optim: { lr: 5e-4 }, student: { layers: 2 } };
  const a = runDir(root, 'a', base);
  const b = runDir(root, 'b', { ...base, optim: { lr: 1e-3 } });
  const c = runDir(root, 'c', undefined);
  const d = runDir(root, 'd', '{ not json');
  const r = compareConfigFields([
    { runId: 'a', runDir: a },
    { runId: 'b', runDir: b },
    { runId: 'c', runDir: c },
    { runId: 'd', runDir: d },
  ]);
  assert.deepEqual(r.fields, ['optim.lr']);
  assert.deepEqual(r.runs[0], { runId: 'a', values: { 'optim.lr': 5e-4 } });
  assert.deepEqual(r.runs[1], { runId: 'b', values: { 'optim.lr': 1e-3 } });
  assert.deepEqual(r.runs[2], { runId: 'c', values: {}, problem: 'no config.json yet' });
  assert.match(r.runs[3].problem ?? '', /not valid JSON/);
  assert.equal(readFlatRunConfig(a).config?.['student.layers'], 2);
  assert.ok(isHostMessage({ type: 'config-fields', ...r }), 'what the host builds is a valid message');
});

// ---- messages ---------------------------------------------------------------------------------

test('config-fields and diff-configs messages are validated like the others', () => {
  assert.equal(
    hostMessageProblem({
      type: 'config-fields',
      fields: ['optim.lr'],
      runs: [{ runId: 'a', values: { 'optim.lr': 0.001, algorithm: 'sid', f: null, b: true } }],
    }),
    undefined,
  );
  assert.match(hostMessageProblem({ type: 'config-fields', fields: [''], runs: [] }) ?? '', /fields/);
  assert.match(
    hostMessageProblem({ type: 'config-fields', fields: [], runs: [{ runId: '', values: {} }] }) ?? '',
    /runId/,
  );
  assert.match(
    hostMessageProblem({
      type: 'config-fields',
      fields: ['x'],
      runs: [{ runId: 'a', values: { x: { nested: 1 } } }],
    }) ?? '',
    /values/,
  );
  assert.match(
    hostMessageProblem({ type: 'config-fields', fields: ['x'], runs: [{ runId: 'a', values: { x: [1] } }] }) ?? '',
    /values/,
  );
  assert.match(
    hostMessageProblem({ type: 'config-fields', fields: ['x'], runs: [{ runId: 'a', values: {}, problem: 3 }] }) ?? '',
    /problem/,
  );
  assert.ok(isWebviewMessage({ type: 'diff-configs', runIds: ['a', 'b'] }));
  assert.ok(!isWebviewMessage({ type: 'diff-configs', runIds: ['a'] }));
  assert.ok(!isWebviewMessage({ type: 'diff-configs', runIds: ['a', 'a'] }), 'a run against itself');
  assert.ok(!isWebviewMessage({ type: 'diff-configs', runIds: ['a', ''] }));
  assert.ok(!isWebviewMessage({ type: 'diff-configs', runIds: 'a,b' }));
});

// ---- sorting ----------------------------------------------------------------------------------

test('a header click sorts ascending, a second descending; another column starts ascending', () => {
  const s1 = nextSort(undefined, 'optim.lr');
  assert.deepEqual(s1, { column: 'optim.lr', dir: 'asc' });
  const s2 = nextSort(s1, 'optim.lr');
  assert.deepEqual(s2, { column: 'optim.lr', dir: 'desc' });
  assert.deepEqual(nextSort(s2, 'optim.lr'), { column: 'optim.lr', dir: 'asc' });
  assert.deepEqual(nextSort(s2, 'algorithm'), { column: 'algorithm', dir: 'asc' });
  assert.equal(ariaSort(s2, 'optim.lr'), 'descending');
  assert.equal(ariaSort(s2, 'algorithm'), 'none');
});

test('numbers sort numerically, text naturally, and empty cells last in both directions (stable)', () => {
  const rows = [
    { id: 'a', v: 0.001 },
    { id: 'b', v: 5e-4 },
    { id: 'c', v: undefined },
    { id: 'd', v: 1e-4 },
    { id: 'e', v: 10 },
    { id: 'f', v: NaN },
  ];
  const ids = (dir: 'asc' | 'desc'): string =>
    sortRows(rows, (r) => r.v, dir)
      .map((r) => r.id)
      .join('');
  assert.equal(ids('asc'), 'dbaecf');
  assert.equal(ids('desc'), 'eabdcf');
  const text = [{ v: 'layer 10' }, { v: 'layer 2' }, { v: 'Layer 1' }];
  assert.deepEqual(
    sortRows(text, (r) => r.v, 'asc').map((r) => r.v),
    ['Layer 1', 'layer 2', 'layer 10'],
  );
  // ties keep their order
  const ties = [
    { id: 1, v: 'x' },
    { id: 2, v: 'x' },
    { id: 3, v: 'a' },
  ];
  assert.deepEqual(
    sortRows(ties, (r) => r.v, 'desc').map((r) => r.id),
    [1, 2, 3],
  );
  assert.deepEqual(
    sortRows(ties, (r) => r.v, 'asc').map((r) => r.id),
    [3, 1, 2],
  );
  // mixed kinds: numbers, then booleans, then text
  assert.ok(
    compareSortValues(2, 'a') < 0 &&
      compareSortValues(true, 'a') < 0 &&
      compareSortValues(1, false) < 0 &&
      compareSortValues(false, true) < 0,
  );
});

// ---- parallel coordinates -----------------------------------------------------------------------

test('axis scales: categories evenly spaced (sorted, unset at the bottom); numbers linear; log beyond two decades', () => {
  const cat = axisScale(['sid', 'pid', 'soft', 'pid']);
  assert.equal(cat.kind, 'categorical');
  assert.deepEqual(cat.ticks, [
    { t: 0, label: 'pid' },
    { t: 0.5, label: 'sid' },
    { t: 1, label: 'soft' },
  ]);
  assert.equal(cat.t('sid'), 0.5);
  const withMissing = axisScale(['a', undefined, 'b']);
  assert.deepEqual(
    withMissing.ticks.map((t) => t.label),
    [MISSING_LABEL, 'a', 'b'],
  );
  assert.equal(withMissing.t(undefined), 0);
  assert.equal(axisScale(['only']).t('only'), 0.5, 'one category sits mid-axis');
  // a mix of numbers and text is categorical
  assert.equal(axisScale([1, 'x']).kind, 'categorical');

  const lin = axisScale([2, 4, 6]);
  assert.equal(lin.kind, 'linear');
  assert.equal(lin.t(2), 0);
  assert.equal(lin.t(5), 0.75);
  assert.equal(lin.t(6), 1);
  assert.equal(lin.t(undefined), undefined, 'a run without the field has no point on a numeric axis');
  assert.deepEqual(
    lin.ticks.map((t) => t.label),
    ['2', '4', '6'],
  );
  // exactly two decades stays linear; more is log
  assert.equal(axisScale([1e-4, 1e-2]).kind, 'linear');
  const log = axisScale([1e-5, 1e-4, 1e-2]);
  assert.equal(log.kind, 'log');
  assert.equal(log.t(1e-5), 0);
  assert.ok(Math.abs((log.t(1e-4) ?? NaN) - 1 / 3) < 1e-12);
  assert.equal(log.t(1e-2), 1);
  assert.deepEqual(
    log.ticks.map((t) => t.label),
    ['1e-5', '1e-4', '0.001', '0.01'],
  );
  // negative or zero values cannot go on a log axis
  assert.equal(axisScale([0, 1, 1000]).kind, 'linear');
  const one = axisScale([3, 3]);
  assert.equal(one.t(3), 0.5);
  assert.deepEqual(one.ticks, [{ t: 0.5, label: '3' }]);
});

test('the layout: one axis per field plus the metric, evenly spaced; a polyline per run coloured by metric', () => {
  const box = { ...DEFAULT_BOX, width: 500, height: 240, top: 40, bottom: 20, side: 50 };
  const runs: ParcoordsRun[] = [
    { runId: 'a', label: 'A', values: { algorithm: 'pid', 'optim.lr': 1e-4 }, metric: 0.8 },
    { runId: 'b', label: 'B', values: { algorithm: 'sid', 'optim.lr': 1e-2 }, metric: 0.9 },
    { runId: 'c', label: 'C', values: { algorithm: 'sid' }, metric: undefined },
  ];
  const l = layoutParcoords(['algorithm', 'optim.lr'], runs, 'final accuracy', box);
  assert.deepEqual(
    l.axes.map((a) => [a.key, a.label, a.kind, a.x]),
    [
      ['algorithm', 'algorithm', 'categorical', 50],
      ['optim.lr', 'optim.lr', 'linear', 250],
      [METRIC_AXIS, 'final accuracy', 'linear', 450],
    ],
  );
  // y runs from 220 (bottom, t = 0) to 40 (top, t = 1)
  assert.deepEqual(l.lines[0].points, [
    { x: 50, y: 220 },
    { x: 250, y: 220 },
    { x: 450, y: 220 },
  ]);
  assert.deepEqual(l.lines[1].points, [
    { x: 50, y: 40 },
    { x: 250, y: 40 },
    { x: 450, y: 40 },
  ]);
  assert.deepEqual(l.lines[2].points, [{ x: 50, y: 40 }, null, null]);
  assert.deepEqual(
    l.lines.map((x) => x.colorT),
    [0, 1, undefined],
  );
  assert.equal(linePath(l.lines[0].points), 'M50,220L250,220L450,220');
  assert.equal(
    linePath([{ x: 1, y: 2 }, null, { x: 3, y: 4 }, { x: 5, y: 6 }]),
    'M1,2M3,4L5,6',
    'a missing value breaks the line',
  );
  // the learning rate over three decades goes on a log axis
  const wide = layoutParcoords(
    ['optim.lr'],
    [
      { runId: 'a', label: 'A', values: { 'optim.lr': 1e-5 }, metric: 0.5 },
      { runId: 'b', label: 'B', values: { 'optim.lr': 1e-2 }, metric: 0.5 },
    ],
    'm',
    box,
  );
  assert.equal(wide.axes[0].kind, 'log');
  assert.deepEqual(
    wide.axes[0].ticks.map((t) => t.y),
    [220, 160, 100, 40],
  );
  // one metric value: every line coloured as the best
  assert.deepEqual(
    wide.lines.map((x) => x.colorT),
    [1, 1],
  );
});
