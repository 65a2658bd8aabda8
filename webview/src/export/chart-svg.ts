/**
 * A chart as a standalone vector SVG, built from its data and scales rather than traced from the
 * canvas: a title, the stage bands, grid and ticks, one path per series (broken at gaps), the
 * points of sparse series, and a legend. Colours arrive resolved (the theme's CSS variables read
 * at export time) and are written as #rrggbb plus an opacity, which every SVG reader understands
 * (rgba() is not SVG 1.1). Pure; no DOM.
 */
import { colorAlpha, parseColor } from '../colorscale';
import { formatNumber } from '../format';

export interface SvgSeries {
  label: string;
  /** A resolved CSS colour (#hex or rgb[a]()). */
  color: string;
  /** Aligned with the chart's x; null, NaN or ±Infinity is a gap. */
  y: ArrayLike<number | null>;
  dash?: readonly number[];
  width?: number;
  /** Join the line across gaps (sparse series such as evaluations). */
  spanGaps?: boolean;
  /** Mark each point with a dot. */
  points?: boolean;
}

export interface SvgBand {
  from: number;
  to: number;
  name: string;
  color: string;
  /** Fill opacity. */
  alpha: number;
}

export interface ChartSvgInput {
  title: string;
  /** The whole image's width, in px. */
  width: number;
  /** The plot area's height, in px (title, axes and legend come on top of it). */
  plotHeight: number;
  x: ArrayLike<number>;
  series: readonly SvgSeries[];
  /** The visible ranges (the chart's zoom). */
  xRange: { min: number; max: number };
  yRange: { min: number; max: number };
  /** Base-10 log y axis: values ≤ 0 are gaps. */
  log?: boolean;
  xName: string;
  formatX?: (v: number) => string;
  bands?: readonly SvgBand[];
  colors: { background: string; foreground: string; grid: string; muted: string };
  fontFamily: string;
  fontSize: number;
}

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

/** Coordinates to two decimals: finer than any screen, and a tenth of the file's size of full doubles. */
export function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** `fill="#rrggbb"` (and `fill-opacity` when translucent) for a CSS colour; `none` when unparseable. */
export function paint(attr: 'fill' | 'stroke', css: string, opacity = 1): string {
  const rgb = parseColor(css);
  if (!rgb) return `${attr}="none"`;
  const a = Math.round(colorAlpha(css) * opacity * 1000) / 1000;
  return `${attr}="#${rgb.map(hex2).join('')}"${a < 1 ? ` ${attr}-opacity="${a}"` : ''}`;
}

/** Round linear ticks over [lo, hi]: steps of 1, 2 or 5 × 10^k, about `target` of them. */
export function linearTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.isFinite(lo) ? [lo] : [];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** Log ticks: the decades in range, with 2 and 5 between them when the range spans under two decades. */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi > lo)) return [];
  const out: number[] = [];
  const d0 = Math.floor(Math.log10(lo));
  const d1 = Math.ceil(Math.log10(hi));
  const mantissas = d1 - d0 > 2 ? [1] : [1, 2, 5];
  for (let d = d0; d <= d1; d++) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** d).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

/** A rough text width (no fonts to measure outside a browser): enough to lay out legend entries. */
function textWidth(s: string, fontSize: number): number {
  return s.length * fontSize * 0.6;
}

export interface ChartSvgLayout {
  width: number;
  height: number;
  plot: { left: number; top: number; width: number; height: number };
  /** Data to image coordinates; NaN where the value cannot be drawn (a gap, ≤ 0 on a log axis). */
  toX(v: number): number;
  toY(v: number): number;
}

/** Where the plot sits and how data maps into it (exported for tests, which invert it). */
export function chartSvgLayout(o: ChartSvgInput): ChartSvgLayout {
  const fs = o.fontSize;
  const legendRows = legendLayout(o).rows;
  const left = Math.round(fs * 5);
  const top = Math.round(fs * 2.4);
  const width = Math.max(40, o.width - left - Math.round(fs * 1.5));
  const height = o.plotHeight;
  const total = Math.round(top + height + fs * 3.2 + legendRows * fs * 1.6 + fs * 0.6);
  const f = (v: number): number => (o.log ? (v > 0 ? Math.log10(v) : NaN) : v);
  const y0 = f(o.yRange.min);
  const y1 = f(o.yRange.max);
  const xSpan = o.xRange.max - o.xRange.min || 1;
  const ySpan = y1 - y0 || 1;
  return {
    width: o.width,
    height: total,
    plot: { left, top, width, height },
    toX: (v) => (Number.isFinite(v) ? left + ((v - o.xRange.min) / xSpan) * width : NaN),
    toY: (v) => {
      const fv = f(v);
      return Number.isFinite(fv) ? top + height - ((fv - y0) / ySpan) * height : NaN;
    },
  };
}

function legendLayout(o: ChartSvgInput): { rows: number; at: { x: number; row: number }[] } {
  const fs = o.fontSize;
  const at: { x: number; row: number }[] = [];
  let x = fs * 5;
  let row = 0;
  for (const s of o.series) {
    const w = fs * 2.2 + textWidth(s.label, fs) + fs * 1.2;
    if (x + w > o.width - fs && x > fs * 5) {
      row++;
      x = fs * 5;
    }
    at.push({ x, row });
    x += w;
  }
  return { rows: o.series.length > 0 ? row + 1 : 0, at };
}

/** A series' path: M/L segments, a new M after every gap unless the line spans gaps. */
export function seriesPath(
  x: ArrayLike<number>,
  y: ArrayLike<number | null>,
  toX: (v: number) => number,
  toY: (v: number) => number,
  spanGaps: boolean,
): string {
  const parts: string[] = [];
  let pen = false;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    const px = toX(x[i]);
    const py = v === null ? NaN : toY(v);
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      if (!spanGaps) pen = false;
      continue;
    }
    parts.push(`${pen ? 'L' : 'M'}${num(px)} ${num(py)}`);
    pen = true;
  }
  return parts.join(' ');
}

export function chartSvg(o: ChartSvgInput): string {
  const L = chartSvgLayout(o);
  const { left, top, width, height } = L.plot;
  const fs = o.fontSize;
  const c = o.colors;
  const small = Math.round(fs * 0.85);
  const out: string[] = [];
  out.push(
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="${escapeXml(o.fontFamily)}" font-size="${fs}">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<defs><clipPath id="plot-area"><rect x="${left}" y="${top}" width="${num(width)}" height="${height}"/></clipPath></defs>`,
    `<rect x="0" y="0" width="${L.width}" height="${L.height}" ${paint('fill', c.background)}/>`,
    `<text x="${left}" y="${num(fs * 1.4)}" ${paint('fill', c.foreground)} font-weight="600">${escapeXml(o.title)}</text>`,
  );

  // stage bands behind everything, with their names along the top
  if (o.bands?.length) {
    out.push('<g class="bands" clip-path="url(#plot-area)">');
    for (const b of o.bands) {
      const x0 = Math.max(left, L.toX(b.from));
      const x1 = Math.min(left + width, L.toX(b.to));
      if (!(x1 > x0)) continue;
      out.push(
        `<rect x="${num(x0)}" y="${top}" width="${num(x1 - x0)}" height="${height}" ${paint('fill', b.color, b.alpha)}><title>${escapeXml(b.name)}</title></rect>`,
      );
      // the stage's start, dashed, as on the canvas
      const edge = L.toX(b.from);
      if (edge >= left && edge <= left + width)
        out.push(
          `<line x1="${num(edge)}" y1="${top}" x2="${num(edge)}" y2="${top + height}" ${paint('stroke', b.color, 0.6)} stroke-dasharray="4 3"/>`,
        );
      out.push(
        `<text x="${num(x0 + 4)}" y="${num(top + small + 2)}" font-size="${small}" ${paint('fill', c.muted)}>${escapeXml(b.name)}</text>`,
      );
    }
    out.push('</g>');
  }

  // grid, ticks and their labels
  const fmtX = o.formatX ?? ((v: number): string => (Number.isInteger(v) ? String(v) : formatNumber(v, 6)));
  const xTicks = linearTicks(o.xRange.min, o.xRange.max, Math.max(2, Math.round(width / 90)));
  const yTicks = o.log
    ? logTicks(o.yRange.min, o.yRange.max)
    : linearTicks(o.yRange.min, o.yRange.max, Math.max(2, Math.round(height / 40)));
  out.push(`<g class="grid" ${paint('stroke', c.grid)} stroke-width="1">`);
  for (const v of xTicks)
    out.push(`<line x1="${num(L.toX(v))}" y1="${top}" x2="${num(L.toX(v))}" y2="${top + height + 4}"/>`);
  for (const v of yTicks)
    out.push(`<line x1="${left - 4}" y1="${num(L.toY(v))}" x2="${num(left + width)}" y2="${num(L.toY(v))}"/>`);
  out.push('</g>');
  out.push(
    `<rect x="${left}" y="${top}" width="${num(width)}" height="${height}" fill="none" ${paint('stroke', c.grid)}/>`,
  );
  out.push(`<g class="x-axis" font-size="${small}" ${paint('fill', c.foreground)} text-anchor="middle">`);
  for (const v of xTicks)
    out.push(
      `<text x="${num(L.toX(v))}" y="${num(top + height + 4 + small * 1.1)}" data-value="${v}">${escapeXml(fmtX(v))}</text>`,
    );
  out.push(
    `<text x="${num(left + width / 2)}" y="${num(top + height + 4 + small * 2.5)}" ${paint('fill', c.muted)}>${escapeXml(o.xName)}</text>`,
  );
  out.push('</g>');
  out.push(`<g class="y-axis" font-size="${small}" ${paint('fill', c.foreground)} text-anchor="end">`);
  for (const v of yTicks)
    out.push(
      `<text x="${left - 6}" y="${num(L.toY(v) + small * 0.35)}" data-value="${v}">${escapeXml(formatNumber(v, 3))}</text>`,
    );
  out.push('</g>');

  // the series, clipped to the plot area
  out.push('<g class="series" clip-path="url(#plot-area)" fill="none" stroke-linejoin="round" stroke-linecap="round">');
  o.series.forEach((s, i) => {
    const d = seriesPath(o.x, s.y, L.toX, L.toY, s.spanGaps ?? false);
    const dash = s.dash?.length ? ` stroke-dasharray="${s.dash.join(' ')}"` : '';
    out.push(`<g data-series="${i}" data-label="${escapeXml(s.label)}">`);
    if (d) out.push(`<path d="${d}" ${paint('stroke', s.color)} stroke-width="${s.width ?? 1.5}"${dash}/>`);
    if (s.points) {
      for (let j = 0; j < Math.min(o.x.length, s.y.length); j++) {
        const v = s.y[j];
        const px = L.toX(o.x[j]);
        const py = v === null ? NaN : L.toY(v);
        if (Number.isFinite(px) && Number.isFinite(py))
          out.push(
            `<circle cx="${num(px)}" cy="${num(py)}" r="2.5" ${paint('fill', c.background)} ${paint('stroke', s.color)}/>`,
          );
      }
    }
    out.push('</g>');
  });
  out.push('</g>');

  // legend: a line sample in the series' colour and dash, then its label
  const legend = legendLayout(o);
  const legendTop = top + height + 4 + small * 2.5 + fs * 1.4;
  out.push(`<g class="legend" ${paint('fill', c.foreground)}>`);
  o.series.forEach((s, i) => {
    const { x, row } = legend.at[i];
    const y = legendTop + row * fs * 1.6;
    const dash = s.dash?.length ? ` stroke-dasharray="${s.dash.join(' ')}"` : '';
    out.push(
      `<line x1="${num(x)}" y1="${num(y - fs * 0.35)}" x2="${num(x + fs * 1.6)}" y2="${num(y - fs * 0.35)}" ${paint('stroke', s.color)} stroke-width="${Math.max(2, s.width ?? 1.5)}"${dash}/>`,
    );
    out.push(`<text x="${num(x + fs * 2.2)}" y="${num(y)}">${escapeXml(s.label)}</text>`);
  });
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}
