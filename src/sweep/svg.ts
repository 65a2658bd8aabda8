/**
 * Small, dependency-free SVG charts for sweep reports: a line chart with error bars, grouped bars
 * with error bars, and attention heatmaps. Each series sits in a <g data-series="…"> so readers
 * (and tests) can find it; colours are the Okabe–Ito palette, readable with colour blindness.
 */

/** Okabe & Ito (2008), with the pale yellow darkened for white backgrounds. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#B59A00'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

export function seriesColour(i: number): string {
  return PALETTE[i % PALETTE.length];
}

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function n(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(s)}</text>`;
}

function svgDoc(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi - lo < 1e-12) {
    const pad = Math.abs(hi) > 1e-12 ? Math.abs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= hi + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi - 1e-12) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function tickLabel(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  if (v === 0) return '0';
  // Tiny quantities (attention-KL of a well-matched student) read better as powers of ten.
  if (step < 1e-3) {
    const top = Math.max(...ticks.map(Math.abs));
    return v.toExponential(Math.max(0, Math.min(3, Math.floor(Math.log10(top)) - Math.floor(Math.log10(step) + 1e-9))));
  }
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

export interface Point {
  /** Position on a categorical x axis (index into `xLabels`). */
  x: number;
  y: number;
  /** Half-height of the error bar (a standard deviation); 0 or absent: none. */
  err?: number;
}

export interface Series {
  name: string;
  points: Point[];
}

export interface ChartText {
  title: string;
  xLabel: string;
  yLabel: string;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  y: (v: number) => number;
  ticks: number[];
}

function legendWidth(names: readonly string[]): number {
  return Math.min(260, 40 + 7 * Math.max(0, ...names.map((s) => s.length)));
}

function frame(
  t: ChartText,
  names: readonly string[],
  values: number[],
  opts: { width?: number; height?: number; zeroBased?: boolean } = {},
): { f: Frame; body: string[] } {
  const width = opts.width ?? 760;
  const height = opts.height ?? 420;
  const top = 44;
  const right = legendWidth(names) + 20;
  const bottom = 64;
  const plotH = height - top - bottom;
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (opts.zeroBased) lo = Math.min(0, lo);
  const pad = (hi - lo) * 0.05;
  if (!opts.zeroBased || lo < 0) lo -= pad;
  hi += pad;
  const ticks = niceTicks(lo, hi);
  // Room for the longest tick label and the rotated axis title.
  const left = 44 + 7 * Math.max(...ticks.map((v) => tickLabel(v, ticks).length));
  const plotW = width - left - right;
  const y0 = ticks[0];
  const y1 = ticks[ticks.length - 1];
  const y = (v: number) => top + plotH - ((v - y0) / (y1 - y0 || 1)) * plotH;
  const body: string[] = [
    text(width / 2, 22, t.title, 'text-anchor="middle" font-size="15" font-weight="bold"'),
    '<g class="grid" stroke="#e3e3e3" stroke-width="1">',
    ...ticks.map((v) => `<line x1="${left}" y1="${n(y(v))}" x2="${left + plotW}" y2="${n(y(v))}"/>`),
    '</g>',
    '<g class="y-axis" fill="#333333">',
    ...ticks.map((v) => text(left - 8, y(v) + 4, tickLabel(v, ticks), 'text-anchor="end"')),
    '</g>',
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333333"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333333"/>`,
    text(18, top + plotH / 2, t.yLabel, `text-anchor="middle" transform="rotate(-90 18 ${n(top + plotH / 2)})"`),
    text(left + plotW / 2, height - 16, t.xLabel, 'text-anchor="middle"'),
  ];
  return { f: { width, height, left, top, plotW, plotH, y, ticks }, body };
}

function legend(f: Frame, names: readonly string[], kind: 'line' | 'bar'): string[] {
  const x = f.left + f.plotW + 20;
  const out = ['<g class="legend">'];
  names.forEach((name, i) => {
    const y = f.top + 8 + i * 20;
    const c = seriesColour(i);
    const dash = DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
    out.push(
      kind === 'line'
        ? `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${c}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/><circle cx="${x + 11}" cy="${y}" r="3.5" fill="${c}"/>`
        : `<rect x="${x + 4}" y="${y - 6}" width="14" height="12" fill="${c}"/>`,
    );
    out.push(text(x + 30, y + 4, name));
  });
  out.push('</g>');
  return out;
}

function errorBar(x: number, yTop: number, yBottom: number, colour: string): string {
  return `<path d="M${n(x)} ${n(yTop)}V${n(yBottom)}M${n(x - 4)} ${n(yTop)}H${n(x + 4)}M${n(x - 4)} ${n(yBottom)}H${n(x + 4)}" stroke="${colour}" stroke-width="1.3" fill="none"/>`;
}

/** A line per series over categorical x positions, with ± error bars. */
export function lineChart(t: ChartText, xLabels: readonly string[], series: readonly Series[]): string {
  const values = series.flatMap((s) => s.points.flatMap((p) => [p.y - (p.err ?? 0), p.y + (p.err ?? 0)]));
  const { f, body } = frame(
    t,
    series.map((s) => s.name),
    values,
  );
  const step = f.plotW / Math.max(1, xLabels.length);
  const x = (i: number) => f.left + step * (i + 0.5);
  // Series side by side around each x, so equal values and their error bars stay visible.
  const dodge = Math.min(6, (step * 0.3) / Math.max(1, series.length));
  const sx = (i: number, si: number) => x(i) + (si - (series.length - 1) / 2) * dodge;
  body.push(
    '<g class="x-axis" fill="#333333">',
    ...xLabels.map((l, i) => text(x(i), f.top + f.plotH + 18, l, 'text-anchor="middle"')),
    '</g>',
  );
  series.forEach((s, i) => {
    const c = seriesColour(i);
    const dash = DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
    const pts = [...s.points].filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    body.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    if (pts.length > 1) {
      body.push(
        `<polyline points="${pts.map((p) => `${n(sx(p.x, i))},${n(f.y(p.y))}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      );
    }
    for (const p of pts) {
      if (p.err && p.err > 0) body.push(errorBar(sx(p.x, i), f.y(p.y + p.err), f.y(p.y - p.err), c));
      body.push(
        `<circle cx="${n(sx(p.x, i))}" cy="${n(f.y(p.y))}" r="4" fill="${c}"><title>${escapeXml(`${s.name}, ${xLabels[p.x]}: ${p.y.toFixed(4)}${p.err ? ` ± ${p.err.toFixed(4)}` : ''}`)}</title></circle>`,
      );
    }
    body.push('</g>');
  });
  body.push(
    ...legend(
      f,
      series.map((s) => s.name),
      'line',
    ),
  );
  return svgDoc(f.width, f.height, t.title, body);
}

/** Bars grouped by x category, one bar per series, with ± error bars; the y axis starts at 0. */
export function barChart(t: ChartText, groups: readonly string[], series: readonly Series[]): string {
  const values = series.flatMap((s) => s.points.flatMap((p) => [p.y + (p.err ?? 0), p.y - (p.err ?? 0)]));
  const { f, body } = frame(
    t,
    series.map((s) => s.name),
    values,
    { zeroBased: true },
  );
  const groupW = f.plotW / Math.max(1, groups.length);
  const barW = Math.max(3, Math.min(36, (groupW * 0.8) / Math.max(1, series.length)));
  const gx = (g: number) => f.left + groupW * g + (groupW - barW * series.length) / 2;
  body.push(
    '<g class="x-axis" fill="#333333">',
    ...groups.map((l, i) => text(f.left + groupW * (i + 0.5), f.top + f.plotH + 18, l, 'text-anchor="middle"')),
    '</g>',
  );
  const base = f.y(Math.max(f.ticks[0], 0));
  series.forEach((s, i) => {
    const c = seriesColour(i);
    body.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    for (const p of s.points) {
      if (!Number.isFinite(p.y)) continue;
      const x0 = gx(p.x) + i * barW;
      const yv = f.y(p.y);
      body.push(
        `<rect x="${n(x0)}" y="${n(Math.min(yv, base))}" width="${n(barW - 1)}" height="${n(Math.abs(base - yv))}" fill="${c}"><title>${escapeXml(`${s.name}, ${groups[p.x]}: ${p.y.toPrecision(4)}${p.err ? ` ± ${p.err.toPrecision(3)}` : ''}`)}</title></rect>`,
      );
      if (p.err && p.err > 0)
        body.push(errorBar(x0 + (barW - 1) / 2, f.y(p.y + p.err), f.y(Math.max(p.y - p.err, f.ticks[0])), '#333333'));
    }
    body.push('</g>');
  });
  body.push(
    ...legend(
      f,
      series.map((s) => s.name),
      'bar',
    ),
  );
  return svgDoc(f.width, f.height, t.title, body);
}

export interface HeatmapPanel {
  title: string;
  /** [query][key], values in [0, 1]. */
  map: number[][];
}

export interface HeatmapRow {
  /** e.g. "student layer 1 ↔ teacher layer 2 (KL 0.0123)". */
  caption: string;
  panels: HeatmapPanel[];
}

/** White → dark blue. */
export function heatColour(v: number, max: number): string {
  const t = Math.max(0, Math.min(1, max > 0 ? v / max : 0));
  const from = [255, 255, 255];
  const to = [8, 48, 107];
  const c = from.map((a, i) => Math.round(a + (to[i] - a) * Math.sqrt(t)));
  return `#${c.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** Rows of side-by-side attention maps over the same tokens; one colour scale per row. */
export function heatmaps(title: string, tokens: readonly string[], rows: readonly HeatmapRow[]): string {
  const len = tokens.length;
  const cell = Math.max(6, Math.min(18, Math.floor(300 / Math.max(1, len))));
  const side = cell * len;
  const labelW = Math.min(90, 12 + 6.5 * Math.max(0, ...tokens.map((t) => t.length)));
  const panelW = labelW + side + 24;
  const panels = Math.max(1, ...rows.map((r) => r.panels.length));
  const rowH = 46 + side + labelW;
  const width = Math.max(420, 20 + panels * panelW + 70);
  const height = 50 + rows.length * rowH;
  const fontSize = Math.max(7, Math.min(11, cell - 2));
  const body: string[] = [text(width / 2, 24, title, 'text-anchor="middle" font-size="15" font-weight="bold"')];
  rows.forEach((row, r) => {
    const top = 50 + r * rowH;
    const max = Math.max(1e-9, ...row.panels.flatMap((p) => p.map.flat()));
    body.push(text(20, top + 4, row.caption, 'font-size="13"'));
    row.panels.forEach((p, i) => {
      const left = 20 + i * panelW + labelW;
      const mapTop = top + 30;
      body.push(`<g class="heatmap" data-series="${escapeXml(p.title)}">`);
      body.push(text(left + side / 2, mapTop - 8, p.title, 'text-anchor="middle"'));
      for (let q = 0; q < Math.min(len, p.map.length); q++) {
        for (let k = 0; k < Math.min(len, p.map[q].length); k++) {
          body.push(
            `<rect x="${left + k * cell}" y="${mapTop + q * cell}" width="${cell}" height="${cell}" fill="${heatColour(p.map[q][k], max)}"><title>${escapeXml(`${tokens[q]} → ${tokens[k]}: ${p.map[q][k].toFixed(3)}`)}</title></rect>`,
          );
        }
      }
      body.push(`<rect x="${left}" y="${mapTop}" width="${side}" height="${side}" fill="none" stroke="#999999"/>`);
      tokens.forEach((tok, q) =>
        body.push(
          text(left - 4, mapTop + q * cell + cell / 2 + fontSize / 3, tok, `text-anchor="end" font-size="${fontSize}"`),
        ),
      );
      tokens.forEach((tok, k) => {
        const x = left + k * cell + cell / 2 + fontSize / 3;
        const y = mapTop + side + 6;
        body.push(text(x, y, tok, `text-anchor="end" font-size="${fontSize}" transform="rotate(-90 ${n(x)} ${n(y)})"`));
      });
      body.push('</g>');
    });
    // Colour scale for the row.
    const sx = 20 + panels * panelW + 14;
    const sy = top + 30;
    const steps = 10;
    body.push('<g class="scale">');
    for (let s = 0; s < steps; s++) {
      const v = max * (1 - s / steps);
      body.push(
        `<rect x="${sx}" y="${n(sy + (s * side) / steps)}" width="12" height="${n(side / steps + 0.5)}" fill="${heatColour(v, max)}"/>`,
      );
    }
    body.push(`<rect x="${sx}" y="${sy}" width="12" height="${side}" fill="none" stroke="#999999"/>`);
    body.push(text(sx + 16, sy + 8, max.toFixed(2), 'font-size="10"'), text(sx + 16, sy + side, '0', 'font-size="10"'));
    body.push('</g>');
  });
  return svgDoc(width, height, title, body);
}
