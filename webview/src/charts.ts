/**
 * Live line charts on uPlot. A LiveChart pulls its data from a callback when the dashboard renders
 * (at most once per animation frame), downsamples it to the plot's pixel width, and draws the stage
 * timeline as shaded bands behind the curves. All step charts share one zoom (drag to zoom,
 * double-click to reset) and one cursor.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { DenseLayer } from './dense-layer';
import { clampToLogFloor, downsampleMinMax, visibleSpan, type BlockExtremes, type XRange } from './downsample';
import { h } from './dom';
import { composePng } from './export/canvas-png';
import { chartCsv } from './export/chart-csv';
import { chartSvg } from './export/chart-svg';
import { exportName, sendExport } from './export/post';
import { exportToolbar } from './export/toolbar';
import { formatNumber } from './format';
import type { ExportFormat } from '../../src/protocol/webview-messages';
import { pixelLinePath } from './line-path';
import type { Theme } from './theme';
import type { StageBand } from './timeline';

export interface SeriesData {
  /** Stable identity: a change in the set of keys rebuilds the chart. */
  key: string;
  label: string;
  y: ArrayLike<number>;
  /** The y column's block extremes, when it keeps them (faster downsampling). */
  blocks?: BlockExtremes;
  /** Palette index (defaults to the series' position). */
  color?: number;
  dash?: number[];
  width?: number;
  /** Draw lines across missing values (sparse series such as evaluations). */
  spanGaps?: boolean;
  points?: boolean;
}

export interface ChartData {
  x: ArrayLike<number>;
  length: number;
  series: SeriesData[];
}

/** The x range every step chart shows; listeners re-render when the user zooms. */
export class ZoomSync {
  private listeners: ((range: XRange | null) => void)[] = [];

  constructor(public range: XRange | null = null) {}

  set(range: XRange | null): void {
    this.range = range;
    for (const l of this.listeners) l(range);
  }

  onChange(listener: (range: XRange | null) => void): void {
    this.listeners.push(listener);
  }
}

export interface ChartOptions {
  testId: string;
  title: string;
  height: number;
  data: () => ChartData;
  /** Log-scale y axis (values ≤ 0 are drawn on a floor below the data; the legend reads 0). */
  log?: () => boolean;
  bands?: () => readonly StageBand[];
  /** The x range when not zoomed; defaults to the data's extent. */
  fullRange?: () => XRange | null;
  zoom?: ZoomSync;
  /** Cursor sync group. */
  syncKey?: string;
  /** Extra elements in the chart's title row (e.g. a toggle). */
  tools?: HTMLElement[];
  /** Changes whenever the data may have changed; without it the chart redraws on every render. */
  version?: () => number;
  /** What x is (legend) and how its values read; default global steps as integers. */
  xAxis?: () => { name: string; format: (v: number) => string };
}

const STEP_AXIS = { name: 'step', format: (v: number): string => String(Math.round(v)) };

/**
 * Chart draws and the time they took, for the dashboard's work counters; `frame` lists the draws
 * of the current frame ("chart-loss 4.2", "+build" when the plot was built), which the dashboard
 * clears at the start of each frame.
 */
export const chartStats = { draws: 0, ms: 0, frame: [] as string[] };

/** Downsampling starts when a series has this many times more points than the plot has pixels. */
export const DOWNSAMPLE_FACTOR = 4;

/**
 * Beyond one point per this many pixels a series is dense and drawn as a hairline (one device
 * pixel): with software rasterisation (headless Chromium, VS Code without GPU) a dense zigzag in a
 * 1.5 or 2 px line costs 10–30× more than a hairline, enough to drop frames.
 */
export const DENSE_POINTS_PER_PIXEL = 3;

export class LiveChart {
  readonly el: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly empty: HTMLElement;
  private plot: uPlot | undefined;
  /** What the plot was built for: the series keys, axis scale, hairlines. */
  private keys: string[] = [];
  private styles: string[] = [];
  private log = false;
  private dense = false;
  private theme: Theme | undefined;
  private readonly resizeObserver: ResizeObserver;
  private lastWidth = 0;
  private observedWidth = 0;
  /** On a log axis, where values ≤ 0 are drawn (the legend shows them as 0). */
  private logFloor = NaN;

  /** The x axis the plot was built for (its legend names it). */
  private builtXName = '';

  private xName(): string {
    return (this.opts.xAxis?.() ?? STEP_AXIS).name;
  }

  /** A legend value: a point on the log floor is a 0. */
  private readonly legendValue = (v: number | null): string =>
    v !== null && v === this.logFloor ? '0' : formatNumber(v, 4);

  /** Whether the series are drawn as pixels (dense enough: see dense-lines.ts) instead of paths. */
  private pixelLines = false;
  private readonly denseLayer = new DenseLayer();
  /** The series' path builder: none while they are drawn as pixels. */
  private readonly paths: uPlot.Series.PathBuilder = (u, si, i0, i1) =>
    this.pixelLines ? null : pixelLinePath(u, si, i0, i1);

  constructor(
    private readonly opts: ChartOptions,
    private readonly requestRender: () => void,
  ) {
    this.plotBox = h('div', { class: 'chart-plot' });
    this.empty = h('div', { class: 'chart-empty' }, 'No data yet');
    this.el = h(
      'section',
      { class: 'chart', 'data-testid': opts.testId, 'data-points': 0, 'data-series': 0 },
      h(
        'div',
        { class: 'chart-title' },
        h('span', {}, opts.title),
        h(
          'div',
          { class: 'chart-tools' },
          ...(opts.tools ?? []),
          exportToolbar('this chart', (f) => this.export(f)),
        ),
      ),
      this.plotBox,
      this.empty,
    );
    // the width comes from the observer, not from clientWidth at render time: reading layout
    // between other charts' DOM writes would force a layout per chart per frame (only a chart
    // not laid out yet reads it, in staleness(), before any chart of the frame draws)
    this.resizeObserver = new ResizeObserver((entries) => {
      const w = Math.floor(entries[entries.length - 1].contentRect.width);
      if (w !== this.observedWidth) {
        this.observedWidth = w;
        this.requestRender();
      }
    });
    this.resizeObserver.observe(this.plotBox);
  }

  /** Sends the chart to the host as a PNG, an SVG or its data as CSV (the toolbar's buttons). */
  export(format: ExportFormat): void {
    const data = format === 'csv' ? this.csv() : format === 'svg' ? this.svg() : this.png();
    if (data) sendExport(format, exportName(this.opts.testId), data);
  }

  /** Every point of every series (not only the zoomed range: the data, not the picture). */
  csv(): string {
    const data = this.opts.data();
    return chartCsv(
      this.xName(),
      data.x,
      data.length,
      data.series.map((s) => ({ label: s.label, y: s.y })),
    );
  }

  /** The chart as drawn (zoom, scales, log axis, theme), as vector paths; undefined before it is drawn. */
  svg(): string | undefined {
    const plot = this.plot;
    const theme = this.theme;
    const { min: x0, max: x1 } = plot?.scales.x ?? {};
    const { min: y0, max: y1 } = plot?.scales.y ?? {};
    if (!plot || !theme || x0 == null || x1 == null || y0 == null || y1 == null) return undefined;
    const data = this.opts.data();
    const width = Math.max(1, Math.round(plot.bbox.width / uPlot.pxRatio));
    // what the canvas shows: the visible span, min/max per pixel column (a 100 000-step run stays a small file)
    const [start, end] = visibleSpan(data.x, data.length, { min: x0, max: x1 });
    const ds = downsampleMinMax(
      data.x,
      data.series.map((s) => s.y),
      start,
      end,
      width,
      width * DOWNSAMPLE_FACTOR,
      data.series.map((s) => s.blocks),
    );
    if (this.log) clampToLogFloor(ds.ys);
    return chartSvg({
      title: this.opts.title,
      width: Math.round(this.lastWidth),
      plotHeight: Math.round(plot.bbox.height / uPlot.pxRatio),
      x: ds.x,
      series: data.series.map((s, i) => ({
        label: s.label,
        color: theme.palette[(s.color ?? i) % theme.palette.length],
        y: ds.ys[i],
        dash: s.dash,
        width: s.width ?? 1.5,
        spanGaps: s.spanGaps,
        points: s.points,
      })),
      xRange: { min: x0, max: x1 },
      yRange: { min: y0, max: y1 },
      log: this.log,
      xName: this.xName(),
      formatX: (this.opts.xAxis?.() ?? STEP_AXIS).format,
      bands: (this.opts.bands?.() ?? []).map((b) => ({
        from: b.from,
        to: b.to,
        name: b.name,
        color: theme.stageColors[b.kind],
        alpha: theme.bandAlpha,
      })),
      colors: { background: theme.background, foreground: theme.foreground, grid: theme.grid, muted: theme.muted },
      fontFamily: theme.fontFamily,
      fontSize: theme.fontSize,
    });
  }

  /** The canvas with the title above and the legend below, on the theme's background. */
  png(): string | undefined {
    const plot = this.plot;
    const theme = this.theme;
    if (!plot || !theme) return undefined;
    const data = this.opts.data();
    const legend = data.series.map((s, i) => ({
      label: s.label,
      color: theme.palette[(s.color ?? i) % theme.palette.length],
      dash: s.dash,
    }));
    return composePng(plot.ctx.canvas, uPlot.pxRatio, this.opts.title, theme, legend);
  }

  /** Forget the uPlot instance (theme change): the next render builds it with the new colours. */
  invalidate(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.keys = [];
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    this.invalidate();
    this.el.remove();
  }

  /** When the chart was last drawn (performance.now()), for fair scheduling. */
  drawnAt = 0;
  /**
   * What drawing new data takes, in ms (a moving average of the last draws), so a frame plans
   * within its budget; NaN until the chart has drawn.
   */
  cost = NaN;
  /** What the last draw showed: the view (size, zoom, axis scale, theme) and the data's version. */
  private drawnView = '';
  private drawnVersion = NaN;

  private viewKey(): string {
    const z = this.opts.zoom?.range;
    return `${this.observedWidth}|${z ? `${z.min},${z.max}` : ''}|${this.opts.log?.() ?? false}|${this.opts.xAxis?.().name ?? ''}`;
  }

  /**
   * What a draw would change: nothing (also while hidden: nothing to draw into), only the data
   * (new steps arrived), or the view (a first draw, a new size, zoom, axis scale or theme).
   */
  staleness(theme: Theme): 'none' | 'data' | 'view' {
    // a chart just shown: its width now (a layout the frame would do anyway) rather than from the
    // observer after this frame, so that it is drawn in this frame, not the next
    if (this.observedWidth <= 0 && !this.plot && this.el.isConnected)
      this.observedWidth = Math.floor(this.plotBox.clientWidth);
    if (this.observedWidth <= 0) return 'none';
    if (!this.plot || theme !== this.theme || this.viewKey() !== this.drawnView) return 'view';
    if (!this.opts.version || this.opts.version() !== this.drawnVersion) return 'data';
    return 'none';
  }

  /** Whether the next draw has to build the plot (first draw, theme, axis scale). */
  needsBuild(theme: Theme): boolean {
    return (
      !this.plot ||
      theme !== this.theme ||
      (this.opts.log?.() ?? false) !== this.log ||
      this.xName() !== this.builtXName
    );
  }

  /** Draws the current data, downsampled to the plot's width. Skipped while hidden. */
  render(theme: Theme): void {
    const width = this.observedWidth;
    if (width <= 0) return;
    const t0 = performance.now();
    this.drawnAt = t0;
    const built = this.draw(theme, width);
    const ms = performance.now() - t0;
    // a draw that built the plot (and drew on a new canvas) says nothing about what the next take
    if (!built) this.cost = Number.isNaN(this.cost) ? ms : 0.7 * this.cost + 0.3 * ms;
    chartStats.draws++;
    chartStats.ms += ms;
    chartStats.frame.push(`${this.opts.testId} ${ms.toFixed(1)}${built ? ' +build' : ''}`);
  }

  /** Draws; true when it had to build the plot. */
  private draw(theme: Theme, width: number): boolean {
    const data = this.opts.data();
    const log = this.opts.log?.() ?? false;
    const dense = data.length > width / DENSE_POINTS_PER_PIXEL;
    const keys = data.series.map((s) => s.key);
    // building a uPlot costs tens of milliseconds: only a theme or axis change does it again; new
    // series (a stage that adds loss terms) and the switch to hairlines change the plot in place
    let plot = this.plot;
    const build =
      !plot ||
      log !== this.log ||
      theme !== this.theme ||
      this.xName() !== this.builtXName ||
      !this.syncSeries(plot, data.series, keys, theme);
    if (!plot || build) {
      plot?.destroy();
      this.theme = theme;
      this.log = log;
      this.builtXName = this.xName();
      plot = this.plot = this.create(theme, data, log, dense, width);
      this.keys = keys;
      this.styles = data.series.map((s, i) => seriesStyle(s, i));
    } else if (width !== this.lastWidth) {
      plot.setSize({ width, height: this.opts.height });
    }
    if (dense !== this.dense) data.series.forEach((s, i) => (plot.series[i + 1].width = lineWidth(s, dense)));
    this.dense = dense;
    this.lastWidth = width;

    const n = data.length;
    const range =
      this.opts.zoom?.range ?? this.opts.fullRange?.() ?? (n > 0 ? { min: data.x[0], max: data.x[n - 1] } : null);
    const [start, end] = visibleSpan(data.x, n, this.opts.zoom?.range ?? null);
    const buckets = Math.max(1, Math.round(width));
    const ds = downsampleMinMax(
      data.x,
      data.series.map((s) => s.y),
      start,
      end,
      buckets,
      buckets * DOWNSAMPLE_FACTOR,
      data.series.map((s) => s.blocks),
    );
    // a term that is exactly 0 would leave a gap on a log axis: it runs along a floor instead
    this.logFloor = log ? clampToLogFloor(ds.ys) : NaN;

    // at least a point per pixel column: every segment is a pixel or so wide, which pixels draw
    // as well as a path does (sparser lines, points and lines across gaps stay paths)
    this.pixelLines = ds.x.length >= width && data.series.every((s) => !s.points && !s.spanGaps);
    plot.batch(() => {
      plot.setData([ds.x, ...ds.ys] as uPlot.AlignedData, true);
      if (range && range.max > range.min) plot.setScale('x', range);
    });
    if (build) {
      // what the first draws with data would do for the first time, done while building (a long
      // frame anyway) rather than in the frames that follow: the pixel layer, the label fonts
      this.denseLayer.prepare(plot);
      warmFonts(plot.ctx, [bandFont(theme), axisFont(theme)]);
    }
    // attributes for tests and tools; written only when they change (each write invalidates style)
    const d = this.el.dataset;
    const set = (key: string, value: string): void => {
      if (d[key] !== value) d[key] = value;
    };
    set('xRange', range ? `${formatNumber(range.min, 6)}:${formatNumber(range.max, 6)}` : '');
    if (this.empty.hidden !== n > 0) this.empty.hidden = n > 0;
    set('points', String(n));
    set('drawn', String(ds.x.length));
    set('series', String(data.series.length));
    set('stageBands', (this.opts.bands?.() ?? []).map((b) => b.name).join('|'));
    this.drawnView = this.viewKey();
    this.drawnVersion = this.opts.version ? this.opts.version() : NaN;
    return build;
  }

  /**
   * Brings the plot's series to `keys` by removing and inserting series in place; false when
   * that cannot be done (the series were reordered) and the plot must be built again.
   */
  private syncSeries(plot: uPlot, series: readonly SeriesData[], keys: readonly string[], theme: Theme): boolean {
    const same = (a: readonly string[], b: readonly string[]): boolean =>
      a.length === b.length && a.every((k, i) => k === b[i]);
    if (same(keys, this.keys)) return true;
    // a series that stays must keep its look (colours by position would shift): else rebuild
    const styles = series.map((s, i) => seriesStyle(s, i));
    const kept = new Map(this.keys.map((k, i) => [k, this.styles[i]]));
    if (keys.some((k, i) => kept.has(k) && kept.get(k) !== styles[i])) return false;
    const wanted = new Set(keys);
    const have = [...this.keys];
    for (let i = have.length - 1; i >= 0; i--) {
      if (wanted.has(have[i])) continue;
      plot.delSeries(i + 1);
      have.splice(i, 1);
    }
    keys.forEach((key, i) => {
      if (have.includes(key)) return;
      plot.addSeries(seriesOptions(series[i], i, theme, this.dense, this.paths, this.legendValue), i + 1);
      have.splice(i, 0, key);
    });
    this.keys = have;
    this.styles = have.map((k) => styles[keys.indexOf(k)]);
    return same(have, keys);
  }

  private create(theme: Theme, data: ChartData, log: boolean, dense: boolean, width: number): uPlot {
    const font = axisFont(theme);
    const axis = (): uPlot.Axis => ({
      stroke: theme.foreground,
      font,
      grid: { stroke: theme.grid, width: 1 },
      ticks: { stroke: theme.grid, width: 1, size: 4 },
    });
    const zoom = this.opts.zoom;
    const bands = this.opts.bands;
    const opts: uPlot.Options = {
      width,
      height: this.opts.height,
      scales: { x: { time: false }, y: log ? { distr: 3, log: 10 } : {} },
      series: [
        {
          label: this.xName(),
          value: (_u, v) => (v === null || v === undefined ? '–' : (this.opts.xAxis?.() ?? STEP_AXIS).format(v)),
        },
        ...data.series.map((s, i) => seriesOptions(s, i, theme, dense, this.paths, this.legendValue)),
      ],
      axes: [
        // steps: plain integers (100000, not 1e+5)
        {
          ...axis(),
          values: (_u, splits) =>
            splits.map((v) => (v === null ? '' : Number.isInteger(v) ? String(v) : formatNumber(v, 6))),
        },
        {
          ...axis(),
          size: 58,
          values: (_u, splits) => splits.map((v) => (v === null ? '' : formatNumber(v, 3))),
          ...(log
            ? {
                filter: logSplits,
                grid: { stroke: theme.grid, width: 1, filter: logSplits },
                ticks: { stroke: theme.grid, width: 1, size: 4, filter: logSplits },
              }
            : {}),
        },
      ],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        sync: this.opts.syncKey ? { key: this.opts.syncKey } : undefined,
        bind: {
          dblclick: () => () => {
            zoom?.set(null);
            return null;
          },
        },
      },
      legend: { show: true, live: true },
      hooks: {
        drawClear: [(u) => (bands ? drawStageBands(u, bands(), theme) : undefined)],
        draw: [(u) => (this.pixelLines ? this.denseLayer.draw(u) : undefined)],
        setSelect: [
          (u) => {
            const { left, width: w } = u.select;
            if (zoom && w > 4) {
              const min = u.posToVal(left, 'x');
              const max = u.posToVal(left + w, 'x');
              if (max > min) zoom.set({ min, max });
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
      },
    };
    return new uPlot(opts, undefined, this.plotBox);
  }
}

/** A series' line width: hairline (one device pixel) when the chart is dense. */
function lineWidth(s: SeriesData, dense: boolean): number {
  return dense ? 1 / uPlot.pxRatio : (s.width ?? 1.5);
}

/** What a series' options depend on besides the theme, to tell whether a kept series would look different. */
function seriesStyle(s: SeriesData, i: number): string {
  return `${s.label}|${s.color ?? i}|${s.dash?.join(',') ?? ''}|${s.width ?? ''}|${s.spanGaps ?? false}|${s.points ?? false}`;
}

function seriesOptions(
  s: SeriesData,
  i: number,
  theme: Theme,
  dense: boolean,
  paths: uPlot.Series.PathBuilder,
  value: (v: number | null) => string,
): uPlot.Series {
  return {
    label: s.label,
    stroke: theme.palette[(s.color ?? i) % theme.palette.length],
    width: lineWidth(s, dense),
    paths,
    dash: s.dash,
    spanGaps: s.spanGaps ?? false,
    points: s.points ? { show: true, size: 5, fill: theme.background } : undefined,
    value: (_u, v) => value(v),
  };
}

/**
 * A log axis splits every decade at 1…9; over two or more decades only the decades keep a line
 * and a label, over less 1, 2 and 5 do.
 */
function logSplits(_u: uPlot, splits: number[]): (number | null)[] {
  const mantissa = (v: number): number => Math.round(v / 10 ** Math.floor(Math.log10(v) + 1e-9));
  const decades = splits.filter((v) => v > 0 && mantissa(v) === 1).length;
  const keep = decades >= 2 ? [1] : [1, 2, 5];
  return splits.map((v) => (v > 0 && keep.includes(mantissa(v)) ? v : null));
}

/** measureText is not free and the band labels are redrawn on every frame: widths by font and text. */
const textWidths = new Map<string, number>();

function textWidth(ctx: CanvasRenderingContext2D, font: string, text: string): number {
  const key = `${font}\u0000${text}`;
  let w = textWidths.get(key);
  if (w === undefined) {
    if (textWidths.size > 500) textWidths.clear();
    w = ctx.measureText(text).width;
    textWidths.set(key, w);
  }
  return w;
}

/** A canvas's first text in a font costs milliseconds (the font is looked up and laid out): this pays it. */
function warmFonts(ctx: CanvasRenderingContext2D, fonts: readonly string[]): void {
  ctx.save();
  for (const font of fonts) {
    ctx.font = font;
    ctx.measureText('layers 1-2 0.001');
  }
  ctx.restore();
}

/** The axes' labels. */
function axisFont(theme: Theme): string {
  return `${Math.round(theme.fontSize * 0.85)}px ${theme.fontFamily}`;
}

/** The stage bands' labels (in canvas pixels: drawn straight onto the canvas). */
function bandFont(theme: Theme): string {
  return `${Math.round(theme.fontSize * 0.8 * uPlot.pxRatio)}px ${theme.fontFamily}`;
}

/**
 * Shaded bands with the stage names, drawn into the plot area before the grid and the curves.
 * Everything is clamped to the plot area by hand: a clip region would cost more than the bands.
 */
export function drawStageBands(u: uPlot, bands: readonly StageBand[], theme: Theme): void {
  if (bands.length === 0) return;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const right = left + width;
  const px = uPlot.pxRatio;
  // uPlot caches the context's styles it set last: everything set here is restored after
  ctx.save();
  const font = bandFont(theme);
  ctx.font = font;
  // the context keeps uPlot's last axis alignment otherwise
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.lineWidth = px;
  ctx.setLineDash([4 * px, 3 * px]);
  bands.forEach((b, i) => {
    const x0 = u.valToPos(b.from, 'x', true);
    const x1 = u.valToPos(b.to, 'x', true);
    if (!Number.isFinite(x0) || !Number.isFinite(x1) || x1 < left || x0 > right) return;
    const from = Math.max(x0, left);
    const to = Math.min(x1, right);
    const color = theme.stageColors[b.kind];
    // alternate the strength so neighbouring stages of the same kind stay apart
    ctx.globalAlpha = theme.bandAlpha * (i % 2 === 0 ? 1 : 0.55);
    ctx.fillStyle = color;
    ctx.fillRect(from, top, to - from, height);
    const edge = Math.round(x0) + 0.5;
    if (edge >= left && edge <= right) {
      ctx.globalAlpha = theme.contrastBorder ? 1 : 0.6;
      ctx.strokeStyle = theme.contrastBorder ?? color;
      ctx.beginPath();
      ctx.moveTo(edge, top);
      ctx.lineTo(edge, top + height);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = theme.muted;
    const room = to - from - 8 * px;
    const full = b.name;
    const short = `S${b.stage + 1}`;
    const label = textWidth(ctx, font, full) <= room ? full : textWidth(ctx, font, short) <= room ? short : '';
    if (label) ctx.fillText(label, from + 4 * px, top + 3 * px);
  });
  ctx.restore();
}

/**
 * Time one frame may spend drawing charts. With the events folded in before and the browser's
 * style, layout, paint and canvas upload after, a frame then still fits the 16.7 ms of a 60 Hz
 * display on a busy machine.
 */
export const CHART_FRAME_BUDGET_MS = 5;

/**
 * What changed is drawn within this long: a chart that alone overruns the budget, and whatever
 * waits while a burst of events is folded in (see Dashboard.frame).
 */
export const MAX_DRAW_DELAY_MS = 200;

/**
 * Draws the charts that changed, least recently drawn first, within the frame's budget; returns
 * true when some are left for a later frame. Plots to build (charts shown for the first time, a
 * new theme or axis scale) are built together, in one frame: a view that appears, or what the
 * user changed, is one long frame rather than one long frame per chart while the data streams
 * on. Any other change of the view (size, zoom: what the user did) is drawn at once, at least one
 * chart a frame. New data is drawn as long as each chart's expected cost (what its last draws
 * took; a chart that has not drawn yet counts as the whole budget) fits the budget: a machine too
 * slow to redraw every chart on every frame then updates each chart a little less often instead
 * of dropping frames, and a chart that alone overruns the budget is drawn once it has waited
 * MAX_DRAW_DELAY_MS, in a frame of its own. A budget of 0 draws only those.
 */
export function renderChartsWithinBudget(
  charts: readonly LiveChart[],
  theme: Theme,
  budgetMs = CHART_FRAME_BUDGET_MS,
): boolean {
  const builds: LiveChart[] = [];
  const view: LiveChart[] = [];
  const data: LiveChart[] = [];
  // (every chart's staleness before any draws: a chart not laid out yet reads its width there)
  for (const c of charts) {
    const s = c.staleness(theme);
    if (s === 'view') (c.needsBuild(theme) ? builds : view).push(c);
    else if (s === 'data') data.push(c);
  }
  const oldestFirst = (a: LiveChart, b: LiveChart): number => a.drawnAt - b.drawnAt;
  view.sort(oldestFirst);
  data.sort(oldestFirst);
  const start = performance.now();
  let drawn = 0;
  const expected = (chart: LiveChart): number => (Number.isNaN(chart.cost) ? CHART_FRAME_BUDGET_MS : chart.cost);
  const fits = (chart: LiveChart): boolean =>
    (drawn === 0 ? 0 : performance.now() - start) + expected(chart) <= budgetMs;
  for (const chart of builds) {
    chart.render(theme);
    drawn++;
  }
  for (const chart of view) {
    if (drawn > 0 && !fits(chart)) continue;
    chart.render(theme);
    drawn++;
  }
  for (const chart of data) {
    const overdue = drawn === 0 && start - chart.drawnAt >= MAX_DRAW_DELAY_MS;
    if (!fits(chart) && !overdue) continue;
    chart.render(theme);
    drawn++;
  }
  return drawn < builds.length + view.length + data.length;
}
