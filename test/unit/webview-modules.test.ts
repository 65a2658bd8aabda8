// The dashboard's pure modules (no DOM): downsampling, folding events into chart series, stage
// bands and progress, the heatmap colour scale and attention arithmetic, the compare table, the
// message gate, persisted UI state and number formatting. Expectations are computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent, type TrainerEvent } from '../../src/protocol/events';
import type { WebviewMessage } from '../../src/protocol/webview-messages';
import {
  attentionToScale,
  averageHeads,
  buildLut,
  colorAlpha,
  fade,
  meanRowKl,
  parseColor,
  scaleColor,
  selectHead,
  type RGB,
} from '../../webview/src/colorscale';
import { packRgba, rasterizeSeries, type PixelBuffer } from '../../webview/src/dense-lines';
import { clampToLogFloor, downsampleMinMax, lowerBound, upperBound, visibleSpan } from '../../webview/src/downsample';
import { formatCount, formatDuration, formatNumber, formatScientific } from '../../webview/src/format';
import { MessageGate } from '../../webview/src/messages';
import {
  Column,
  DEFAULT_UI_STATE,
  LOG_LIMIT,
  RunData,
  sanitizeUiState,
  termKey,
  termLabel,
} from '../../webview/src/state';
import { runActions } from '../../webview/src/run-actions';
import {
  alignByStep,
  alignByX,
  alignOnAxis,
  compareColumns,
  compareRow,
  distillationOffset,
  meanLayerKl,
  stepsPerEpoch,
  studentEvalCurve,
  studentEvalCurveOn,
  studentStepCurve,
  studentStepCurveOn,
} from '../../webview/src/summary';
import { runProgress, stageBands } from '../../webview/src/timeline';

function fixture(name: string): TrainerEvent[] {
  return readFileSync(join(__dirname, '..', 'fixtures', 'events', `demo-${name}.events.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TrainerEvent);
}

function runOf(name: string, events = fixture(name)): RunData {
  return RunData.fromSnapshot({ runId: events[0].runId, runDir: '/runs/x', label: name, status: 'finished', events });
}

function stepEvent(runId: string, step: number, loss = step, stage = 0): TrainerEvent {
  return createEvent(runId, {
    type: 'step',
    step,
    stage,
    epoch: 1,
    lr: 0.1,
    loss,
    terms: [{ name: 'hard-label', value: loss, weight: 1 }],
    gradNorm: 1,
    examplesPerSec: 10,
    elapsedMs: 1,
  });
}

// ---- downsampling -----------------------------------------------------------------------------

test("min/max downsampling keeps each pixel column's extremes in the order they occurred", () => {
  const x = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const y = [5, 1, 7, 3, 2, 8, 6, 4, 9, 0];
  // 2 buckets over x 0..9: x 0–4 → bucket 0 (min 1 at x1, then max 7 at x2), x 5–9 → bucket 1
  // (max 9 at x8, then min 0 at x9); each bucket becomes its first and last x
  assert.deepEqual(downsampleMinMax(x, [y], 0, 10, 2, 4), { x: [0, 4, 5, 9], ys: [[1, 7, 9, 0]] });
  // under the threshold: unchanged, non-finite values become gaps
  assert.deepEqual(downsampleMinMax([1, 2, 3], [[1, NaN, Infinity]], 0, 3, 100, 10), {
    x: [1, 2, 3],
    ys: [[1, null, null]],
  });
  // a sub-range, a bucket holding one point, and a series that is all gaps in a bucket
  assert.deepEqual(downsampleMinMax(x, [y, [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 3, NaN]], 2, 10, 3, 2), {
    // x 2..9, span 7, 3 buckets of 7/3: x 2–4 → 0 (7, 3, 2), x 5–6 → 1 (8, 6), x 7–9 → 2 (4, 9, 0)
    x: [2, 4, 5, 6, 7, 9],
    ys: [
      [7, 2, 8, 6, 9, 0], // each bucket's max comes before its min
      [null, null, null, null, 3, 3], // one finite value: both points carry it
    ],
  });
});

test("on a log axis values ≤ 0 are gaps that do not hide a bucket's positive extremes", () => {
  const x = [0, 1, 2, 3, 4, 5];
  const y = [0.5, -1, 0.1, 0, 2, 0.3];
  // 2 buckets: x 0–2 (0.5, −1, 0.1) and x 3–5 (0, 2, 0.3); below the threshold: just the gaps
  assert.deepEqual(downsampleMinMax(x, [y], 0, 6, 2, 3, [], true), { x: [0, 2, 3, 5], ys: [[0.5, 0.1, 2, 0.3]] });
  assert.deepEqual(downsampleMinMax(x, [y], 0, 6, 2, 10, [], true).ys, [[0.5, null, 0.1, null, 2, 0.3]]);
});

test('downsampling with precomputed block extremes gives exactly the plain result', () => {
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const col = new Column(8);
  const xs: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    xs.push(i * 2 + 1);
    col.push(rand() < 0.02 ? NaN : Math.round(rand() * 50)); // ties and gaps on purpose
  }
  // from 25 points per bucket (plain scans) to thousands (mostly block extremes)
  for (const [start, end, buckets] of [
    [0, 20_000, 800],
    [137, 19_001, 333],
    [5_000, 5_400, 7],
    [0, 20_000, 50],
    [137, 19_001, 20],
    [1_000, 9_000, 9],
    [0, 20_000, 1],
  ]) {
    const plain = downsampleMinMax(xs, [col.values()], start, end, buckets, buckets * 4);
    const fast = downsampleMinMax(xs, [col.values()], start, end, buckets, buckets * 4, [col]);
    assert.deepEqual(fast, plain, `range ${start}..${end} in ${buckets} buckets`);
  }
  // a log axis leaves values ≤ 0 out: blocks whose minimum is one of them are scanned instead
  const signed = new Column();
  for (let i = 0; i < 20_000; i++) signed.push(rand() < 0.02 ? NaN : Math.round(rand() * 50) - 10);
  for (const [start, end, buckets] of [
    [0, 20_000, 20],
    [99, 17_777, 9],
    [0, 20_000, 1],
  ]) {
    assert.deepEqual(
      downsampleMinMax(xs, [signed.values()], start, end, buckets, buckets * 4, [signed], true),
      downsampleMinMax(xs, [signed.values()], start, end, buckets, buckets * 4, [], true),
      `log axis, range ${start}..${end} in ${buckets} buckets`,
    );
  }
  // after a truncation (a resumed run) and new values, the extremes are still right
  col.truncate(12_345);
  for (let i = 12_345; i < 15_000; i++) col.push(100 + (i % 7));
  const x2 = xs.slice(0, 15_000);
  assert.deepEqual(
    downsampleMinMax(x2, [col.values()], 0, 15_000, 500, 2000, [col]),
    downsampleMinMax(x2, [col.values()], 0, 15_000, 500, 2000),
  );
});

test('a column padded in bulk is the column padded one NaN at a time; large columns grow ahead, one at a time', () => {
  let seed = 11;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const [before, pad] of [
    [0, 25_000],
    [13, 100],
    [16, 7],
    [5, 3],
    [0, 0],
  ]) {
    const bulk = new Column();
    const oneByOne = new Column();
    for (let i = 0; i < before; i++) {
      const v = Math.round(rand() * 50);
      bulk.push(v);
      oneByOne.push(v);
    }
    bulk.pad(pad);
    for (let i = 0; i < pad; i++) oneByOne.push(NaN);
    for (let i = 0; i < 3_000; i++) {
      const v = rand() < 0.02 ? NaN : Math.round(rand() * 50);
      bulk.push(v);
      oneByOne.push(v);
    }
    assert.deepEqual([...bulk.values()], [...oneByOne.values()], `${before} values, ${pad} NaNs`);
    const n = bulk.length;
    const xs = Array.from({ length: n }, (_, i) => i);
    for (const buckets of [7, 300]) {
      assert.deepEqual(
        downsampleMinMax(xs, [bulk.values()], 0, n, buckets, buckets * 4, [bulk]),
        downsampleMinMax(xs, [oneByOne.values()], 0, n, buckets, buckets * 4),
      );
    }
  }

  // two terms (and their loss's weight, the temperature and the step times): eleven columns that
  // fill up on the same step. Each is grown (copied) ahead of time, one every 64 steps from three
  // quarters full, not all eleven on the step they fill up.
  const run = new RunData('r');
  const table = run.steps;
  const columns = (): Column[] => [
    table.x,
    table.loss,
    table.lr,
    table.examplesPerSec,
    table.gradNorm,
    table.liveTensors,
    table.temperature,
    table.time,
    ...table.terms.values(),
    ...table.weights.values(),
  ];
  const step = (s: number): TrainerEvent =>
    createEvent('r', {
      type: 'step',
      step: s,
      stage: 0,
      epoch: 1,
      lr: 0.1,
      loss: s,
      terms: [
        { name: 'attention-kl', layer: 1, value: s, weight: 1 },
        { name: 'attention-kl', layer: 2, value: -s, weight: 1 },
      ],
      gradNorm: 1,
      examplesPerSec: 10,
      elapsedMs: 1,
    });
  for (let s = 1; s <= 3072; s++) run.apply(step(s));
  assert.deepEqual(
    columns().map((c) => c.capacity),
    Array(11).fill(4096),
  );
  for (let s = 3073; s <= 3072 + 11 * 64; s++) run.apply(step(s));
  assert.deepEqual(
    columns().map((c) => c.capacity),
    Array(11).fill(8192),
    'grown ahead, before any is full',
  );
  for (let s = 3072 + 11 * 64 + 1; s <= 9000; s++) run.apply(step(s));
  assert.equal(table.length, 9000);
  assert.deepEqual(
    [...table.x.values()].slice(4090, 4100),
    [4091, 4092, 4093, 4094, 4095, 4096, 4097, 4098, 4099, 4100],
  );
  assert.equal(table.terms.get('attention-kl@2')?.get(8999), -9000);
});

// ---- dense series drawn as pixels -------------------------------------------------------------

test('dense series as pixels: a column spans its points and the join from the one before; gaps, clip, dashes, log axis', () => {
  const W = 12;
  const H = 10;
  const buffer = (clip = { left: 0, top: 0, right: W, bottom: H }): PixelBuffer => ({
    pixels: new Uint32Array(W * H),
    width: W,
    height: H,
    clip,
  });
  const C = packRgba(255, 0, 0, 255);
  // identity maps: data x and y are pixel columns and rows
  const id = { at: 0, from: 0, k: 1, log: false };
  const draw = (
    buf: PixelBuffer,
    xs: number[],
    ys: (number | null)[],
    extra: { dash?: number[]; log?: boolean } = {},
  ): void =>
    rasterizeSeries(buf, {
      xs,
      ys,
      from: 0,
      to: xs.length - 1,
      xMap: id,
      yMap: { ...id, log: extra.log ?? false },
      color: C,
      dash: extra.dash,
    });
  // the rows drawn in each column, as "lo-hi" ('' when none)
  const columns = (buf: PixelBuffer): string[] =>
    Array.from({ length: W }, (_, c) => {
      const rows = Array.from({ length: H }, (_, r) => r).filter((r) => buf.pixels[r * W + c] === C);
      return rows.length === 0 ? '' : `${rows[0]}-${rows[rows.length - 1]}`;
    });

  // a min/max zigzag, two points per column: each column covers its points and the join
  let buf = buffer();
  draw(buf, [0, 0, 1, 1, 2, 2], [2, 6, 3, 5, 8, 1]);
  assert.deepEqual(columns(buf).slice(0, 4), ['2-6', '3-6', '1-8', '']);
  // a gap breaks the line: nothing joins x 1 to x 3
  buf = buffer();
  draw(buf, [0, 1, 2, 3], [4, 4, null, 7]);
  assert.deepEqual(columns(buf).slice(0, 5), ['4-4', '4-4', '', '7-7', '']);
  // a longer segment: one run per column, each starting where the last ended (no holes)
  buf = buffer();
  draw(buf, [0, 4], [0, 8]);
  assert.deepEqual(columns(buf).slice(0, 6), ['0-1', '1-3', '3-5', '5-7', '7-8', '']);
  // outside the clip nothing is drawn (and nothing is written outside the buffer)
  buf = buffer({ left: 2, top: 1, right: 6, bottom: 5 });
  draw(buf, [-3, 0, 1, 2, 3, 4, 20], [3, 3, 0, 9, -4, 2, 2]);
  assert.deepEqual(columns(buf), ['', '', '1-4', '1-4', '1-2', '2-2', '', '', '', '', '', '']);
  // a dash of 2 on, 1 off along x
  buf = buffer();
  draw(buf, [0, 1, 2, 3, 4, 5, 6], [5, 5, 5, 5, 5, 5, 5], { dash: [2, 1] });
  assert.deepEqual(columns(buf).slice(0, 7), ['5-5', '5-5', '', '5-5', '5-5', '', '5-5']);
  // a log axis: log10 of the value, and values ≤ 0 are gaps
  buf = buffer();
  draw(buf, [0, 1, 2, 3], [10, 100, 0, 1000], { log: true });
  assert.deepEqual(columns(buf).slice(0, 4), ['1-1', '1-2', '', '3-3']);
});

test('visible span: binary searches, widened by one point each side', () => {
  const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(lowerBound(x, 10, 3.5), 3);
  assert.equal(upperBound(x, 10, 6), 6);
  assert.deepEqual(visibleSpan(x, 10, { min: 3.5, max: 6.2 }), [2, 7]);
  assert.deepEqual(visibleSpan(x, 10, { min: 0, max: 100 }), [0, 10]);
  assert.deepEqual(visibleSpan(x, 10, null), [0, 10]);
  assert.deepEqual(visibleSpan(x, 0, { min: 1, max: 2 }), [0, 0]);
});

// ---- series from events -----------------------------------------------------------------------

test('a run folds its events into aligned step and evaluation series', () => {
  const run = runOf('sid');
  assert.equal(run.steps.length, 76);
  assert.deepEqual(
    [...run.steps.terms.keys()],
    ['attention-kl@1', 'cls-cosine@1', 'attention-kl@2', 'cls-cosine@2', 'soft-label'],
  );
  for (const col of run.steps.terms.values())
    assert.equal(col.length, 76, 'every term column is aligned with the steps');
  // layer 2 joins in stage 2 (step 20); soft-label only in the classification stage (step 39)
  const kl2 = run.steps.terms.get('attention-kl@2');
  const soft = run.steps.terms.get('soft-label');
  assert.ok(kl2 && soft);
  assert.ok(Number.isNaN(kl2.get(18)) && Number.isFinite(kl2.get(19)));
  assert.ok(Number.isNaN(soft.get(37)) && Number.isFinite(soft.get(38)));
  assert.ok(
    Number.isNaN(run.steps.terms.get('attention-kl@1')?.get(38) ?? 0),
    'layer terms stop with the internal stages',
  );
  assert.deepEqual(run.evals.x, [19, 38, 57, 76]);
  assert.deepEqual([...run.evals.metrics.keys()], ['accuracy', 'f1']);
  assert.deepEqual([...run.evals.attentionKl.keys()], [1, 2]);
  assert.equal(run.evals.mainMetric, 'accuracy');
  assert.deepEqual(
    run.samples.map((s) => s.step),
    [19, 38, 57, 76],
  );
  assert.equal(run.status, 'finished');
  assert.equal(run.started?.backend.kind, 'wasm');
  assert.equal(termLabel(termKey({ name: 'cls-cosine', layer: 3 })), 'cls-cosine L3');
  assert.equal(termLabel(termKey({ name: 'soft-label' })), 'soft-label');
});

test('stage bands cover the steps each stage trained; progress follows the current stage', () => {
  const sid = runOf('sid');
  assert.deepEqual(
    stageBands(sid.stages).map(({ stage, name, kind, from, to, state }) => ({ stage, name, kind, from, to, state })),
    [
      { stage: 0, name: 'layer 1', kind: 'internal', from: 0, to: 19, state: 'done' },
      { stage: 1, name: 'layers 1-2', kind: 'internal', from: 19, to: 38, state: 'done' },
      { stage: 2, name: 'classification', kind: 'classification', from: 38, to: 76, state: 'done' },
    ],
  );
  assert.deepEqual(runProgress(sid), {
    stageNumber: 3,
    stageCount: 3,
    stageName: 'classification',
    stageKind: 'classification',
    step: 76,
    stageStepsDone: 38,
    stageStepsPlanned: 38,
    fraction: 1,
  });

  // mid-run: the events up to step 45 (7 of the classification stage's 38 steps)
  const events = fixture('sid');
  const live = new RunData(events[0].runId);
  for (const e of events.slice(
    0,
    events.findIndex((e) => 'step' in e && e.type === 'step' && e.step === 46),
  ))
    live.apply(e);
  assert.equal(live.status, 'running');
  const p = runProgress(live);
  assert.equal(p.stageNumber, 3);
  assert.equal(p.stageStepsDone, 7);
  assert.ok(Math.abs((p.fraction ?? 0) - (2 + 7 / 38) / 3) < 1e-12);
  assert.deepEqual(
    live.stages.map((s) => s.state),
    ['done', 'done', 'running'],
  );
  assert.deepEqual(
    stageBands(live.stages).map((b) => [b.from, b.to]),
    [
      [0, 19],
      [19, 38],
      [38, 45],
    ],
  );

  // soft: the teacher is trained first, in its own stage
  assert.deepEqual(
    stageBands(runOf('soft').stages).map((b) => [b.name, b.kind, b.from, b.to]),
    [
      ['teacher training', 'teacher', 0, 57],
      ['classification', 'classification', 57, 95],
    ],
  );
});

test('a resumed run replaces what followed its checkpoint', () => {
  const run = new RunData('r');
  const sid = fixture('sid');
  const started = sid[0];
  assert.equal(started.type, 'run-started');
  run.apply(started);
  for (let s = 1; s <= 10; s++) run.apply(stepEvent('r', s));
  run.apply({ ...started, resumedFrom: { checkpoint: '/c/6', step: 6 } } as TrainerEvent);
  assert.deepEqual([...run.steps.x.values()], [1, 2, 3, 4, 5, 6]);
  run.apply(stepEvent('r', 7, 70));
  assert.deepEqual([...run.steps.loss.values()], [1, 2, 3, 4, 5, 6, 70]);
  // a replayed step without a run-started (events appended after a crash) also truncates
  run.apply(stepEvent('r', 3, 30));
  assert.deepEqual([...run.steps.loss.values()], [1, 2, 30]);
  assert.equal(run.status, 'running');
  run.apply(createEvent('r', { type: 'run-failed', reason: 'boom', fix: 'less' }));
  assert.equal(run.status, 'failed');
  assert.equal(run.failed?.reason, 'boom');
  assert.equal(run.log.at(-1)?.message, 'boom');
});

test('the log keeps only the newest lines', () => {
  const run = new RunData('r');
  for (let i = 0; i < LOG_LIMIT + 20; i++)
    run.apply(createEvent('r', { type: 'log', level: 'info', message: `line ${i}` }));
  assert.equal(run.log.length, LOG_LIMIT);
  assert.equal(run.log[0].message, 'line 20');
});

// ---- heatmap colours and attention ----------------------------------------------------------

test('colour parsing, fading and the piecewise-linear scale', () => {
  assert.deepEqual(parseColor('#1f1f1f'), [31, 31, 31]);
  assert.deepEqual(parseColor('#abc'), [170, 187, 204]);
  assert.deepEqual(parseColor('#ffffff12'), [255, 255, 255]);
  assert.deepEqual(parseColor('rgba(204, 204, 204, 0.5)'), [204, 204, 204]);
  assert.deepEqual(parseColor('rgb(1 2 3)'), [1, 2, 3]);
  assert.equal(parseColor('var(--vscode-foreground)'), undefined);
  assert.equal(colorAlpha('rgba(204, 204, 204, 0.5)'), 0.5);
  assert.equal(colorAlpha('#ffffff80'), 128 / 255);
  assert.equal(colorAlpha('#3794ff'), 1);
  assert.equal(fade('rgba(204, 204, 204, 0.5)', 0.4), 'rgba(204, 204, 204, 0.2)');
  assert.equal(fade('#000000', 0.35), 'rgba(0, 0, 0, 0.35)');

  const stops: RGB[] = [
    [0, 0, 0],
    [100, 200, 0],
    [200, 200, 200],
  ];
  assert.deepEqual(scaleColor(0, stops), [0, 0, 0]);
  assert.deepEqual(scaleColor(0.25, stops), [50, 100, 0]); // halfway between stops 0 and 1
  assert.deepEqual(scaleColor(0.75, stops), [150, 200, 100]); // halfway between stops 1 and 2
  assert.deepEqual(scaleColor(1, stops), [200, 200, 200]);
  assert.deepEqual(scaleColor(7, stops), [200, 200, 200]);
  assert.deepEqual(scaleColor(NaN, stops), [0, 0, 0]);
  assert.equal(attentionToScale(0.25), 0.5);
  assert.equal(attentionToScale(-1), 0);
  assert.equal(attentionToScale(2), 1);
});

test('the heatmap scale runs monotonically in lightness in dark, light and high-contrast themes', () => {
  const luminance = (lut: Uint8ClampedArray, i: number): number =>
    0.2126 * lut[i * 4] + 0.7152 * lut[i * 4 + 1] + 0.0722 * lut[i * 4 + 2];
  // background → charts-blue → charts-foreground, as theme.ts builds them
  const themes: [string, string[], 1 | -1][] = [
    ['dark', ['#1f1f1f', '#3794ff', '#cccccc'], 1],
    ['light', ['#ffffff', '#1a85ff', '#3b3b3b'], -1],
    ['high contrast', ['#000000', '#3794ff', '#ffffff'], 1],
  ];
  for (const [name, colours, direction] of themes) {
    const lut = buildLut(colours.map((c) => parseColor(c) as RGB));
    for (let i = 1; i < 256; i++)
      assert.ok(direction * (luminance(lut, i) - luminance(lut, i - 1)) >= -0.5, `${name} at ${i}`);
    const distinct = new Set(
      Array.from({ length: 256 }, (_, i) => `${lut[i * 4]},${lut[i * 4 + 1]},${lut[i * 4 + 2]}`),
    );
    assert.ok(distinct.size > 200, `${name}: ${distinct.size} distinct colours`);
  }
});

test('attention maps: average over heads, head selection and row-wise KL', () => {
  const heads = [
    [
      [1, 0],
      [0, 1],
    ],
    [
      [0, 1],
      [1, 0],
    ],
  ];
  assert.deepEqual(averageHeads(heads), [
    [0.5, 0.5],
    [0.5, 0.5],
  ]);
  assert.deepEqual(selectHead(heads, 1), heads[1]);
  assert.deepEqual(selectHead(heads, -1), [
    [0.5, 0.5],
    [0.5, 0.5],
  ]);
  // KL([.5,.5] ‖ [.25,.75]) = .5 ln 2 + .5 ln(2/3) = 0.143841…; a second identical row adds 0
  assert.ok(Math.abs(meanRowKl([[0.5, 0.5]], [[0.25, 0.75]]) - 0.1438410362) < 1e-9);
  assert.ok(
    Math.abs(
      meanRowKl(
        [
          [0.5, 0.5],
          [1, 0],
        ],
        [
          [0.25, 0.75],
          [1, 0],
        ],
      ) -
        0.1438410362 / 2,
    ) < 1e-9,
  );
  assert.equal(meanRowKl([[0, 1]], [[0.5, 0.5]]), Math.log(2));
});

// ---- compare ----------------------------------------------------------------------------------

test('compare rows: best and final metrics, sizes, per-layer attention-KL', () => {
  const runs = ['soft', 'pid', 'sid'].map((n) => runOf(n));
  const rows = runs.map(compareRow);
  const sid = rows[2];
  assert.deepEqual(sid.best, { metric: 'accuracy', value: 0.865, step: 76 });
  assert.equal(sid.algorithm, 'sid');
  assert.equal(sid.studentParams, 79_042);
  assert.equal(sid.teacherParams, 145_986);
  assert.equal(sid.sizeRatio, 79_042 / 145_986);
  assert.equal(sid.steps, 76);
  // soft's 57 teacher-training steps are not the student's
  assert.equal(rows[0].steps, 95 - 57);
  assert.equal(sid.durationMs, 6539);
  const lastEval = runs[2].evals.events.at(-1);
  assert.deepEqual(
    [...sid.attentionKl.entries()],
    lastEval?.perLayer.map((l) => [l.student, l.attentionKl]),
  );
  assert.deepEqual(sid.finalMetrics, lastEval?.metrics);
  assert.deepEqual(compareColumns(rows), {
    metrics: ['accuracy', 'f1'],
    layers: [1, 2],
    hiddenLayers: [],
    relationLayers: [],
  });
  // soft trains its teacher first: those 3 evaluations measure the teacher and stay out of the
  // student's curves; its 2 student evaluations have layers
  assert.deepEqual(runs[0].evals.x, [19, 38, 57, 76, 95]);
  assert.ok(Number.isNaN(meanLayerKl(runs[0].evals.events[0])));
  const softKl = studentEvalCurve(runs[0], meanLayerKl);
  assert.deepEqual(softKl.x, [76, 95]);
  assert.ok(softKl.y.every(Number.isFinite));
  // and so do its 57 teacher-training steps
  const softLoss = studentStepCurve(runs[0], runs[0].steps.loss);
  assert.equal(softLoss.length, 95 - 57);
  assert.equal(softLoss.x[0], 58);
  assert.equal(studentStepCurve(runs[1], runs[1].steps.loss).length, 76);
  // sid: every evaluation is the student's; mean of L1 and L2
  const sidKl = studentEvalCurve(runs[2], meanLayerKl);
  assert.deepEqual(sidKl.x, [19, 38, 57, 76]);
  const e0 = runs[2].evals.events[0].perLayer;
  assert.equal(sidKl.y[0], (e0[0].attentionKl + e0[1].attentionKl) / 2);
});

test('curves of several runs share one step axis', () => {
  const aligned = alignByStep([
    { x: [1, 2, 4], y: [10, 20, 40], length: 3 },
    { x: [2, 3, 99], y: [5, 6, 7], length: 2 }, // only the first 2 count
  ]);
  assert.deepEqual([...aligned.x], [1, 2, 3, 4]);
  assert.deepEqual([...aligned.ys[0]], [10, 20, NaN, 40]);
  assert.deepEqual([...aligned.ys[1]], [NaN, 5, 6, NaN]);
});

test('compare: students line up at the start of distillation, whether or not the run trained its teacher first', () => {
  const [soft, pid, sid] = ['soft', 'pid', 'sid'].map((n) => runOf(n));
  // soft trained its teacher in steps 1–57; pid and sid loaded theirs
  assert.equal(distillationOffset(soft), 57);
  assert.equal(distillationOffset(pid), 0);
  assert.equal(distillationOffset(sid), 0);
  const softLoss = studentStepCurveOn(soft, soft.steps.loss, 'distill-step');
  const sidLoss = studentStepCurveOn(sid, sid.steps.loss, 'distill-step');
  assert.equal(softLoss.x[0], 1, "soft's first student step is distillation step 1, not global step 58");
  assert.equal(softLoss.y[0], soft.steps.loss.get(57));
  assert.equal(softLoss.length, 95 - 57);
  assert.equal(sidLoss.x[0], 1);
  assert.equal(sidLoss.length, 76);
  const aligned = alignOnAxis([softLoss, sidLoss], 'distill-step');
  assert.equal(aligned.x.length, 76);
  assert.ok(Number.isFinite(aligned.ys[0][0]) && Number.isFinite(aligned.ys[1][0]), 'both start at x = 1');
  // the global-step view this replaces: soft's student started 57 steps later
  assert.ok(
    Number.isNaN(
      alignByStep([studentStepCurve(soft, soft.steps.loss), studentStepCurve(sid, sid.steps.loss)]).ys[0][0],
    ),
  );

  // evaluations move with them: soft's student evaluations at global 76 and 95 are distillation steps 19 and 38
  assert.deepEqual(studentEvalCurveOn(soft, meanLayerKl, 'distill-step').x, [19, 38]);
  assert.deepEqual(studentEvalCurveOn(sid, meanLayerKl, 'distill-step').x, [19, 38, 57, 76]);

  // epochs: steps since distillation began over the first student stage's steps per epoch
  const perEpoch = stepsPerEpoch(sid) as number;
  assert.ok(perEpoch > 0);
  const sidEpochs = studentStepCurveOn(sid, sid.steps.loss, 'epoch');
  assert.equal(sidEpochs.x[0], 1 / perEpoch);
  assert.equal(sidEpochs.x[sidEpochs.length - 1], 76 / perEpoch);
  assert.equal(studentStepCurveOn(soft, soft.steps.loss, 'epoch').x[0], 1 / (stepsPerEpoch(soft) as number));

  // wall time: seconds since the student's first step, from the events' times
  const softTime = studentStepCurveOn(soft, soft.steps.loss, 'time');
  assert.equal(softTime.x[0], 0);
  const firstStudent = soft.steps.time.get(57);
  assert.equal(softTime.x[softTime.length - 1], (soft.steps.time.get(94) - firstStudent) / 1000);
  for (let i = 1; i < softTime.length; i++) assert.ok(softTime.x[i] >= softTime.x[i - 1]);
  const evalTimes = studentEvalCurveOn(soft, meanLayerKl, 'time').x;
  assert.equal(evalTimes.length, 2);
  assert.ok(evalTimes[0] > 0);
});

test('curves with real-valued x are aligned on the union of their x values', () => {
  const a = alignByX([
    { x: [0, 0.5, 1], y: [1, 2, 3], length: 3 },
    { x: [0.25, 0.5, 2], y: [10, 20, 30], length: 3 },
    { x: [], y: [], length: 0 },
  ]);
  assert.deepEqual([...a.x], [0, 0.25, 0.5, 1, 2]);
  assert.deepEqual([...a.ys[0]], [1, NaN, 2, 3, NaN]);
  assert.deepEqual([...a.ys[1]], [NaN, 10, 20, NaN, 30]);
  assert.deepEqual([...a.ys[2]], [NaN, NaN, NaN, NaN, NaN]);
  assert.deepEqual([...alignOnAxis([{ x: [0.5], y: [1], length: 1 }], 'time').x], [0.5]);
});

test('the header shows only the actions that apply: Stop while running, Resume when stopped, crashed or failed', () => {
  assert.deepEqual(runActions('running'), { stop: true, resume: false });
  assert.deepEqual(runActions('stopped'), { stop: false, resume: true });
  assert.deepEqual(runActions('failed'), { stop: false, resume: true });
  assert.deepEqual(runActions('finished'), { stop: false, resume: false });
  assert.deepEqual(runActions('unknown'), { stop: false, resume: false });
});

test('on a log axis a term that is exactly 0 runs along a floor below the data, not a gap', () => {
  const ys: (number | null)[][] = [
    [0.5, 0, 0.02, null],
    [0, -1e-9, 3, 0.004],
  ];
  const floor = clampToLogFloor(ys);
  assert.equal(floor, 0.001);
  assert.deepEqual(ys, [
    [0.5, 0.001, 0.02, null],
    [0.001, 0.001, 3, 0.004],
  ]);
  // a minimum on a decade: the floor goes one decade lower, below every real value
  const onDecade: (number | null)[][] = [[0.01, 0]];
  assert.equal(clampToLogFloor(onDecade), 0.001);
  assert.deepEqual(onDecade, [[0.01, 0.001]]);
  // nothing positive: nothing to place the zeros against
  const none: (number | null)[][] = [[0, null]];
  assert.ok(Number.isNaN(clampToLogFloor(none)));
  assert.deepEqual(none, [[0, null]]);
});

// ---- messages, UI state, formatting ----------------------------------------------------------

test('the message gate passes valid host messages and reports malformed ones (at most 20 times)', () => {
  const posted: WebviewMessage[] = [];
  const gate = new MessageGate((m) => posted.push(m));
  const ok = { type: 'run-status', runId: 'r', status: 'stopped' };
  assert.equal(gate.accept(ok), ok);
  assert.equal(gate.accept({ type: 'events', runId: 'r', events: [{ type: 'step' }] }), undefined);
  assert.equal(posted.length, 1);
  assert.equal(posted[0].type, 'error');
  assert.match((posted[0] as { message: string }).message, /malformed message from the host: 'events': events\[0\]/);
  for (let i = 0; i < 50; i++) gate.accept(i);
  assert.equal(posted.length, 20);
});

test('persisted UI state is validated field by field', () => {
  assert.deepEqual(sanitizeUiState(undefined), DEFAULT_UI_STATE);
  assert.deepEqual(sanitizeUiState('junk'), DEFAULT_UI_STATE);
  assert.deepEqual(
    sanitizeUiState({
      tab: 'attention',
      layer: 1,
      head: 3,
      sample: 2,
      followLatest: false,
      zoom: { min: 10, max: 20 },
      logLoss: false,
      compareAxis: 'time',
      compareTerm: 'hidden-mse',
    }),
    {
      tab: 'attention',
      layer: 1,
      head: 3,
      sample: 2,
      followLatest: false,
      zoom: { min: 10, max: 20 },
      logLoss: false,
      compareAxis: 'time',
      compareTerm: 'hidden-mse',
    },
  );
  assert.equal(DEFAULT_UI_STATE.compareAxis, 'distill-step');
  assert.equal(sanitizeUiState({ compareAxis: 'global-step' }).compareAxis, 'distill-step');
  assert.deepEqual(
    sanitizeUiState({ tab: 'nope', layer: -1, head: 1.5, sample: '2', zoom: { min: 5, max: 5 } }),
    DEFAULT_UI_STATE,
  );
});

test('number formatting', () => {
  assert.equal(formatNumber(0.865), '0.865');
  assert.equal(formatNumber(0.000123), '1.23e-4');
  assert.equal(formatNumber(0.0001), '1e-4');
  assert.equal(formatNumber(123_456), '1.23e+5');
  assert.equal(formatNumber(NaN), '–');
  assert.equal(formatNumber(-Infinity), '−∞');
  assert.equal(formatScientific(0.00117), '1.17e-3');
  assert.equal(formatCount(79_042), '79.0 k');
  assert.equal(formatCount(110_000_000), '110 M');
  assert.equal(formatCount(512), '512');
  assert.equal(formatDuration(65_000), '1 min 5 s');
  assert.equal(formatDuration(3_725_000), '1 h 2 min');
});

test('compare rows: before the run reports its best, the last evaluation marked best (of the teacher while it trains), else the last', () => {
  const events = fixture('soft').filter((e) => e.type !== 'run-finished');
  const upTo = (step: number, edit: (e: TrainerEvent) => TrainerEvent = (e) => e): TrainerEvent[] =>
    events.filter((e) => !('step' in e) || e.step <= step).map(edit);
  const notBest = (step: number) => (e: TrainerEvent) =>
    e.type === 'eval' && e.step === step ? { ...e, isBest: false } : e;
  // teacher training: its evaluation at 38 is the last marked best (57 made not best here)
  assert.deepEqual(compareRow(runOf('soft', upTo(57, notBest(57)))).best, { metric: 'accuracy', value: 0.7, step: 38 });
  // the student's first evaluation replaces the teacher's
  assert.deepEqual(compareRow(runOf('soft', upTo(76))).best, { metric: 'accuracy', value: 0.845, step: 76 });
  // none marked best: the last evaluation
  const none = events.map((e) => (e.type === 'eval' ? { ...e, isBest: false } : e));
  assert.deepEqual(compareRow(runOf('soft', none)).best, { metric: 'accuracy', value: 0.865, step: 95 });
});

test('compare rows: a resume forgets the evaluations marked best after its checkpoint, as the trainer does', () => {
  const events = fixture('soft').filter((e) => e.type !== 'run-finished');
  const start = events.find((e) => e.type === 'run-started');
  assert.ok(start?.type === 'run-started');
  const resumeAt = (step: number): TrainerEvent => ({ ...start, resumedFrom: { checkpoint: 'checkpoints/x', step } });
  // resumed after the student's first evaluation (76): the one at 95 is gone
  assert.deepEqual(compareRow(runOf('soft', [...events, resumeAt(80)])).best, {
    metric: 'accuracy',
    value: 0.845,
    step: 76,
  });
  // resumed before it: the teacher's best again
  assert.deepEqual(compareRow(runOf('soft', [...events, resumeAt(60)])).best, {
    metric: 'accuracy',
    value: 0.84,
    step: 57,
  });
});
