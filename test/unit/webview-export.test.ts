// The dashboard's export modules (webview/src/export/): a chart's data as CSV, a chart as vector
// SVG built from its data and scales, a heatmap as SVG rects and as a labelled CSV matrix. Pure
// modules, run in Node; the SVGs are checked for well-formedness and their paths against the data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartCsv, csvField, csvNumber, matrixCsv } from '../../webview/src/export/chart-csv';
import {
  chartSvg,
  chartSvgLayout,
  linearTicks,
  logTicks,
  paint,
  seriesPath,
  type ChartSvgInput,
} from '../../webview/src/export/chart-svg';
import { heatmapSvg } from '../../webview/src/export/heatmap-svg';
import { assertWellFormedXml } from '../helpers/xml';

// ---- CSV ----------------------------------------------------------------------------------------

test('CSV fields follow RFC 4180: quoted only when they hold a comma, quote or line break; quotes doubled', () => {
  assert.equal(csvField('loss'), 'loss');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\r'), '"cr\r"');
  assert.equal(csvNumber(0.1), '0.1');
  assert.equal(csvNumber(1e-7), '1e-7');
  assert.equal(csvNumber(-0.25), '-0.25');
  for (const v of [NaN, Infinity, -Infinity, null, undefined]) assert.equal(csvNumber(v), '', String(v));
});

test("a chart's CSV: header x + one column per series, one CRLF row per x, gaps as empty cells", () => {
  const csv = chartCsv('step', Float64Array.from([1, 2, 3, 99]), 3, [
    { label: 'total', y: [0.5, 0.25, NaN] },
    { label: 'attention-kl, L1', y: Float64Array.from([1e-3, Infinity, 2]) },
    { label: 'short', y: [7] },
  ]);
  assert.equal(csv, 'step,total,"attention-kl, L1",short\r\n1,0.5,0.001,7\r\n2,0.25,,\r\n3,,2,\r\n');
  // no rows: just the header
  assert.equal(chartCsv('epoch', [], 0, [{ label: 'a"b', y: [] }]), 'epoch,"a""b"\r\n');
});

test("a heatmap's CSV: query tokens down, key tokens across, labels quoted where needed", () => {
  const csv = matrixCsv(
    'query \\ key',
    ['[CLS]', 'the', ','],
    ['[CLS]', 'the', ','],
    [
      [0.5, 0.25, 0.25],
      [1, 0, 0],
      [NaN, 0.5, 0.5],
    ],
  );
  assert.equal(csv, 'query \\ key,[CLS],the,","\r\n[CLS],0.5,0.25,0.25\r\nthe,1,0,0\r\n",",,0.5,0.5\r\n');
});

// ---- chart SVG ----------------------------------------------------------------------------------

const THEME = { background: '#1f1f1f', foreground: '#cccccc', grid: 'rgba(204, 204, 204, 0.175)', muted: '#9d9d9d' };

function input(over: Partial<ChartSvgInput> = {}): ChartSvgInput {
  return {
    title: 'Training loss <total> & terms',
    width: 600,
    plotHeight: 200,
    x: [1, 2, 3, 4, 5],
    series: [
      { label: 'total', color: '#3794ff', y: [4, 3, 2, 1.5, 1], width: 2 },
      { label: 'attention-kl L1', color: 'rgba(209, 134, 22, 0.5)', y: [2, null, 1, NaN, 0.5], dash: [6, 3] },
      { label: 'dev "accuracy"', color: '#89d185', y: [null, 0.5, null, null, 0.9], spanGaps: true, points: true },
    ],
    xRange: { min: 0, max: 5 },
    yRange: { min: 0, max: 4 },
    xName: 'step',
    bands: [
      { from: 0, to: 2.5, name: 'layer 1', color: '#3794ff', alpha: 0.13 },
      { from: 2.5, to: 5, name: 'classification', color: '#89d185', alpha: 0.13 },
    ],
    colors: THEME,
    fontFamily: 'system-ui, "Ubuntu", sans-serif',
    fontSize: 13,
    ...over,
  };
}

/** The points of a path's d: [x, y] after each M or L, with whether it starts a new segment. */
function pathPoints(d: string): { move: boolean; x: number; y: number }[] {
  return [...d.matchAll(/([ML])(-?[\d.]+) (-?[\d.]+)/g)].map((m) => ({
    move: m[1] === 'M',
    x: Number(m[2]),
    y: Number(m[3]),
  }));
}

test('chart SVG: well-formed, titled, colours as #rrggbb with opacity, every series in the legend', () => {
  const o = input();
  const svg = chartSvg(o);
  assertWellFormedXml(svg.replace(/^<\?xml[^>]*\?>\n/, ''), 'chart svg');
  assert.match(
    svg,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="600" height="\d+"/,
  );
  assert.match(svg, /<title>Training loss &lt;total&gt; &amp; terms<\/title>/);
  // background and theme colours resolved to concrete values, no CSS variables, no rgba()
  assert.match(svg, /<rect x="0" y="0" width="600" height="\d+" fill="#1f1f1f"\/>/);
  assert.ok(!svg.includes('var(') && !svg.includes('rgba('), 'no unresolved colours');
  assert.match(svg, /stroke="#d18616" stroke-opacity="0.5"/);
  assert.match(svg, /class="grid" stroke="#cccccc" stroke-opacity="0.175"/);
  // legend: the labels (escaped), in order
  const legend = svg.slice(svg.indexOf('class="legend"'));
  const labels = [...legend.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(labels, ['total', 'attention-kl L1', 'dev &quot;accuracy&quot;']);
  // stage bands and their names; dashes carried over
  assert.match(svg, /<title>layer 1<\/title>/);
  assert.match(svg, /stroke-dasharray="6 3"/);
  // the x ticks cover the range with round values
  const xTicks = [...svg.slice(svg.indexOf('class="x-axis"')).matchAll(/data-value="([^"]+)"/g)].map((m) =>
    Number(m[1]),
  );
  assert.deepEqual(xTicks.slice(0, 6), [0, 1, 2, 3, 4, 5]);
});

test("chart SVG: each series' path, mapped back through the scales, is its data; gaps break the line unless it spans them", () => {
  const o = input();
  const svg = chartSvg(o);
  const L = chartSvgLayout(o);
  const { left, top, width, height } = L.plot;
  const back = (p: { x: number; y: number }): [number, number] => [
    o.xRange.min + ((p.x - left) / width) * (o.xRange.max - o.xRange.min),
    o.yRange.min + ((top + height - p.y) / height) * (o.yRange.max - o.yRange.min),
  ];
  const paths = [...svg.matchAll(/<g data-series="(\d+)"[^>]*>\n<path d="([^"]*)"/g)].map((m) => pathPoints(m[2]));
  assert.equal(paths.length, 3);
  const close = (got: [number, number][], want: [number, number][]): void => {
    assert.equal(got.length, want.length);
    got.forEach(([x, y], i) => {
      assert.ok(Math.abs(x - want[i][0]) < 0.02 && Math.abs(y - want[i][1]) < 0.05, `${x},${y} vs ${want[i]}`);
    });
  };
  close(paths[0].map(back), [
    [1, 4],
    [2, 3],
    [3, 2],
    [4, 1.5],
    [5, 1],
  ]);
  assert.deepEqual(
    paths[0].map((p) => p.move),
    [true, false, false, false, false],
  );
  // null and NaN are gaps: three segments of one point each
  close(paths[1].map(back), [
    [1, 2],
    [3, 1],
    [5, 0.5],
  ]);
  assert.deepEqual(
    paths[1].map((p) => p.move),
    [true, true, true],
  );
  // a sparse series joins across its gaps, and marks its points
  close(paths[2].map(back), [
    [2, 0.5],
    [5, 0.9],
  ]);
  assert.deepEqual(
    paths[2].map((p) => p.move),
    [true, false],
  );
  assert.equal([...svg.matchAll(/<circle /g)].length, 2);
});

test('chart SVG on a log axis: decades as ticks, values ≤ 0 are gaps, positions are log-spaced', () => {
  const o = input({
    log: true,
    yRange: { min: 1e-3, max: 10 },
    series: [{ label: 'kl', color: '#3794ff', y: [10, 1, 0, 0.01, 0.001] }],
  });
  const svg = chartSvg(o);
  assertWellFormedXml(svg.replace(/^<\?xml[^>]*\?>\n/, ''), 'log chart svg');
  const yTicks = [...svg.slice(svg.indexOf('class="y-axis"')).matchAll(/data-value="([^"]+)"/g)].map((m) =>
    Number(m[1]),
  );
  assert.deepEqual(yTicks, [0.001, 0.01, 0.1, 1, 10]);
  const pts = pathPoints(/<path d="([^"]*)"/.exec(svg)?.[1] ?? '');
  assert.equal(pts.length, 4);
  assert.deepEqual(
    pts.map((p) => p.move),
    [true, false, true, false],
  );
  // equal steps per decade
  const { top, height } = chartSvgLayout(o).plot;
  assert.ok(Math.abs(pts[0].y - top) < 0.01 && Math.abs(pts[3].y - (top + height)) < 0.01);
  assert.ok(Math.abs(pts[1].y - pts[0].y - height / 4) < 0.02);
});

test('chart SVG helpers: ticks, paint, paths', () => {
  assert.deepEqual(linearTicks(0, 76, 5), [0, 20, 40, 60]);
  assert.deepEqual(linearTicks(0.001, 0.0042, 4), [0.001, 0.002, 0.003, 0.004]);
  assert.deepEqual(linearTicks(1, 1), [1]);
  assert.deepEqual(logTicks(0.05, 0.6), [0.05, 0.1, 0.2, 0.5]);
  assert.deepEqual(logTicks(0, 1), []);
  assert.equal(paint('fill', '#abc'), 'fill="#aabbcc"');
  assert.equal(paint('stroke', '#3794ff80'), 'stroke="#3794ff" stroke-opacity="0.502"');
  assert.equal(paint('fill', 'var(--x)'), 'fill="none"');
  assert.equal(
    seriesPath(
      [0, 1, 2],
      [1, null, 3],
      (v) => v * 10,
      (v) => v,
      false,
    ),
    'M0 1 M20 3',
  );
  assert.equal(
    seriesPath(
      [0, 1, 2],
      [1, null, 3],
      (v) => v * 10,
      (v) => v,
      true,
    ),
    'M0 1 L20 3',
  );
  assert.equal(
    seriesPath(
      [],
      [],
      (v) => v,
      (v) => v,
      false,
    ),
    '',
  );
});

// ---- heatmap SVG --------------------------------------------------------------------------------

test("heatmap SVG: one rect per cell in the scale's colour, token labels escaped, well-formed", () => {
  const tokens = ['[CLS]', 'the', '<cat>', '&'];
  const map = [
    [0.7, 0.1, 0.1, 0.1],
    [0.25, 0.25, 0.25, 0.25],
    [0, 0, 1, 0],
    [0.5, 0, 0, 0.5],
  ];
  const svg = heatmapSvg({
    title: 'Student · layer 1 · mean of heads',
    tokens,
    map,
    cell: 20,
    color: (p) => (p >= 0.5 ? '#ffffff' : p > 0 ? 'rgb(55, 148, 255)' : '#000000'),
    colors: { background: '#000000', foreground: '#ffffff' },
    fontFamily: 'sans-serif',
    fontSize: 13,
  });
  assertWellFormedXml(svg.replace(/^<\?xml[^>]*\?>\n/, ''), 'heatmap svg');
  const cells = [
    ...svg.matchAll(
      /<rect x="(\d+)" y="(\d+)" width="20" height="20" fill="(#[0-9a-f]{6})" data-q="(\d)" data-k="(\d)">/g,
    ),
  ];
  assert.equal(cells.length, 16);
  for (const c of cells) {
    const p = map[Number(c[4])][Number(c[5])];
    assert.equal(c[3], p >= 0.5 ? '#ffffff' : p > 0 ? '#3794ff' : '#000000');
  }
  // cells on a grid of the cell size, rows by query and columns by key
  assert.equal(Number(cells[1][1]) - Number(cells[0][1]), 20);
  assert.equal(Number(cells[4][2]) - Number(cells[0][2]), 20);
  assert.match(svg, />&lt;cat&gt;<\/text>/);
  assert.match(svg, />&amp;<\/text>/);
  assert.match(svg, /<title>the → &lt;cat&gt;: 0.25<\/title>/);
});
