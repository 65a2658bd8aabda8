/**
 * The layout of the compare view's parallel-coordinates plot: one vertical axis per differing
 * config field plus one for the final metric, and one polyline per run. Categorical fields get
 * evenly spaced categories; numeric ones a linear scale, or a log scale when their (positive)
 * values span more than two decades (learning rates). Pure; no DOM: parcoords-view.ts draws it.
 */
import type { ConfigFieldValue } from '../../src/protocol/webview-messages';
import { formatNumber } from './format';
import { compareSortValues } from './table-sort';

export type AxisKind = 'categorical' | 'linear' | 'log';

export interface AxisScale {
  kind: AxisKind;
  /** A value's position on the axis, 0 (bottom) to 1 (top); undefined when it has none. */
  t(v: ConfigFieldValue | undefined): number | undefined;
  ticks: Array<{ t: number; label: string }>;
}

/** Beyond this ratio of max to min (two decades) a positive numeric axis is logarithmic. */
export const LOG_RATIO = 100;

/** What a missing value reads as on a categorical axis. */
export const MISSING_LABEL = '(unset)';

function categoryLabel(v: ConfigFieldValue | undefined): string {
  return v === undefined ? MISSING_LABEL : v === null ? 'null' : String(v);
}

function numericScale(values: number[]): AxisScale {
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (min > 0 && max / min > LOG_RATIO) {
    const lo = Math.log10(min);
    const hi = Math.log10(max);
    const ticks: AxisScale['ticks'] = [];
    for (let e = Math.ceil(lo - 1e-9); e <= Math.floor(hi + 1e-9); e++)
      ticks.push({ t: (e - lo) / (hi - lo), label: formatNumber(10 ** e, 3) });
    return {
      kind: 'log',
      t: (v) => (typeof v === 'number' && v > 0 ? (Math.log10(v) - lo) / (hi - lo) : undefined),
      ticks,
    };
  }
  // one value: the axis centres it
  const single = min === max;
  if (single) {
    min -= 1;
    max += 1;
  }
  const span = max - min;
  const ticks = single
    ? [{ t: 0.5, label: formatNumber(min + 1, 4) }]
    : [0, 0.5, 1].map((t) => ({ t, label: formatNumber(min + t * span, 3) }));
  return {
    kind: 'linear',
    t: (v) => (typeof v === 'number' && Number.isFinite(v) ? (v - min) / span : undefined),
    ticks,
  };
}

function categoricalScale(values: Array<ConfigFieldValue | undefined>): AxisScale {
  const labels = [...new Set(values.map(categoryLabel))];
  const present = labels.filter((l) => l !== MISSING_LABEL).sort(compareSortValues);
  // unset sits at the bottom, below the values
  const order = labels.includes(MISSING_LABEL) ? [MISSING_LABEL, ...present] : present;
  const pos = (i: number): number => (order.length === 1 ? 0.5 : i / (order.length - 1));
  const index = new Map(order.map((l, i) => [l, i]));
  return {
    kind: 'categorical',
    t: (v) => {
      const i = index.get(categoryLabel(v));
      return i === undefined ? undefined : pos(i);
    },
    ticks: order.map((label, i) => ({ t: pos(i), label })),
  };
}

/**
 * The scale for one axis: numeric when every present value is a finite number (missing values
 * then get no point), otherwise categorical over the values' text (missing ones as "(unset)").
 */
export function axisScale(values: ReadonlyArray<ConfigFieldValue | undefined>): AxisScale {
  const present = values.filter((v) => v !== undefined);
  const numbers = present.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (numbers.length > 0 && numbers.length === present.length) return numericScale(numbers);
  return categoricalScale([...values]);
}

export interface ParcoordsRun {
  runId: string;
  label: string;
  values: Record<string, ConfigFieldValue>;
  /** The final value of the metric; undefined before the first evaluation. */
  metric: number | undefined;
}

export interface ParcoordsAxis {
  /** The field's dotted path, or METRIC_AXIS. */
  key: string;
  label: string;
  kind: AxisKind;
  x: number;
  ticks: Array<{ y: number; label: string }>;
}

export interface ParcoordsLine {
  runId: string;
  label: string;
  /** Where the run crosses each axis (in axis order); null where it has no value. */
  points: Array<{ x: number; y: number } | null>;
  /** The metric's position in [0, 1] for the colour scale; undefined without a metric. */
  colorT: number | undefined;
}

export interface ParcoordsLayout {
  width: number;
  height: number;
  axes: ParcoordsAxis[];
  lines: ParcoordsLine[];
}

export const METRIC_AXIS = '__metric__';

export interface ParcoordsBox {
  width: number;
  height: number;
  /** Room above the axes for their names, below for nothing but the last tick, left and right for tick labels. */
  top: number;
  bottom: number;
  side: number;
}

export const DEFAULT_BOX: ParcoordsBox = { width: 720, height: 260, top: 34, bottom: 14, side: 70 };

/** Axes evenly spaced across the box, metric last; every run a polyline through its values. */
export function layoutParcoords(
  fields: readonly string[],
  runs: readonly ParcoordsRun[],
  metricName: string,
  box: ParcoordsBox = DEFAULT_BOX,
): ParcoordsLayout {
  const keys = [...fields, METRIC_AXIS];
  const valueOf = (r: ParcoordsRun, key: string): ConfigFieldValue | undefined =>
    key === METRIC_AXIS ? r.metric : r.values[key];
  const scales = keys.map((k) => axisScale(runs.map((r) => valueOf(r, k))));
  const n = keys.length;
  const x = (i: number): number => (n === 1 ? box.width / 2 : box.side + (i * (box.width - 2 * box.side)) / (n - 1));
  const y = (t: number): number => box.top + (1 - t) * (box.height - box.top - box.bottom);
  const axes: ParcoordsAxis[] = keys.map((k, i) => ({
    key: k,
    label: k === METRIC_AXIS ? metricName : k,
    kind: scales[i].kind,
    x: x(i),
    ticks: scales[i].ticks.map((tk) => ({ y: y(tk.t), label: tk.label })),
  }));
  const metricScale = scales[n - 1];
  const lines: ParcoordsLine[] = runs.map((r) => {
    const colorT = r.metric === undefined ? undefined : metricScale.t(r.metric);
    return {
      runId: r.runId,
      label: r.label,
      points: keys.map((k, i) => {
        const t = scales[i].t(valueOf(r, k));
        return t === undefined ? null : { x: x(i), y: y(t) };
      }),
      // a single metric value sits mid-scale; colour it as the best
      colorT: colorT === undefined ? undefined : metricScale.ticks.length === 1 ? 1 : colorT,
    };
  });
  return { width: box.width, height: box.height, axes, lines };
}

/** The polyline's SVG path: segments join consecutive points; a missing value breaks the line. */
export function linePath(points: ParcoordsLine['points']): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!p) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${Math.round(p.x * 10) / 10},${Math.round(p.y * 10) / 10}`;
    pen = true;
  }
  return d;
}
