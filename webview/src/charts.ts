/**
 * Live line charts on uPlot. A LiveChart pulls its data from a callback when the dashboard renders
 * (at most once per animation frame), downsamples it to the plot's pixel width, and draws the stage
 * timeline as shaded bands behind the curves. All step charts share one zoom (drag to zoom,
 * double-click to reset) and one cursor.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { downsampleMinMax, visibleSpan, type BlockExtremes, type XRange } from './downsample';
import { h } from './dom';
import { formatNumber } from './format';
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
  /** Log-scale y axis (values ≤ 0 become gaps). */
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
}

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
  private signature = '';
  private theme: Theme | undefined;
  private readonly resizeObserver: ResizeObserver;
  private lastWidth = 0;
  private observedWidth = 0;

  constructor(private readonly opts: ChartOptions, private readonly requestRender: () => void) {
    this.plotBox = h('div', { class: 'chart-plot' });
    this.empty = h('div', { class: 'chart-empty' }, 'No data yet');
    this.el = h(
      'section',
      { class: 'chart', 'data-testid': opts.testId, 'data-points': 0, 'data-series': 0 },
      h('div', { class: 'chart-title' }, h('span', {}, opts.title), ...(opts.tools ?? [])),
      this.plotBox,
      this.empty,
    );
    // the width comes from the observer, not from clientWidth at render time: reading layout
    // between other charts' DOM writes would force a layout per chart per frame
    this.resizeObserver = new ResizeObserver((entries) => {
      const w = Math.floor(entries[entries.length - 1].contentRect.width);
      if (w !== this.observedWidth) {
        this.observedWidth = w;
        this.requestRender();
      }
    });
    this.resizeObserver.observe(this.plotBox);
  }

  /** Forget the uPlot instance (theme change): the next render builds it with the new colours. */
  invalidate(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.signature = '';
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    this.invalidate();
    this.el.remove();
  }

  /** When the chart was last drawn (performance.now()), for fair scheduling. */
  drawnAt = 0;
  private drawnKey = '';

  private stateKey(theme: Theme): string {
    const z = this.opts.zoom?.range;
    const version = this.opts.version ? this.opts.version() : NaN;
    return `${version}|${this.observedWidth}|${z ? `${z.min},${z.max}` : ''}|${this.opts.log?.() ?? false}|${theme === this.theme}`;
  }

  /** Whether render() would draw something new (false while hidden: nothing to draw into). */
  isStale(theme: Theme): boolean {
    return this.observedWidth > 0 && (!this.opts.version || this.stateKey(theme) !== this.drawnKey || theme !== this.theme);
  }

  /** Draws the current data, downsampled to the plot's width. Skipped while hidden. */
  render(theme: Theme): void {
    const width = this.observedWidth;
    if (width <= 0) return;
    this.drawnAt = performance.now();
    const data = this.opts.data();
    const log = this.opts.log?.() ?? false;
    const dense = data.length > width / DENSE_POINTS_PER_PIXEL;
    const signature = `${log}|${dense}|${data.series.map((s) => s.key).join('|')}`;
    if (!this.plot || signature !== this.signature || theme !== this.theme) {
      this.plot?.destroy();
      this.theme = theme;
      this.signature = signature;
      this.plot = this.create(theme, data, log, dense, width);
    } else if (width !== this.lastWidth) {
      this.plot.setSize({ width, height: this.opts.height });
    }
    this.lastWidth = width;

    const n = data.length;
    const range = this.opts.zoom?.range ?? this.opts.fullRange?.() ?? (n > 0 ? { min: data.x[0], max: data.x[n - 1] } : null);
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
      log,
    );

    const plot = this.plot;
    plot.batch(() => {
      plot.setData([ds.x, ...ds.ys] as uPlot.AlignedData, true);
      if (range && range.max > range.min) plot.setScale('x', range);
    });
    this.el.dataset.xRange = range ? `${formatNumber(range.min, 6)}:${formatNumber(range.max, 6)}` : '';
    this.empty.hidden = n > 0;
    this.el.dataset.points = String(n);
    this.el.dataset.drawn = String(ds.x.length);
    this.el.dataset.series = String(data.series.length);
    const bands = this.opts.bands?.() ?? [];
    this.el.dataset.stageBands = bands.map((b) => b.name).join('|');
    this.drawnKey = this.stateKey(theme);
  }

  private create(theme: Theme, data: ChartData, log: boolean, dense: boolean, width: number): uPlot {
    const font = `${Math.round(theme.fontSize * 0.85)}px ${theme.fontFamily}`;
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
        { label: 'step', value: (_u, v) => (v === null || v === undefined ? '–' : String(Math.round(v))) },
        ...data.series.map((s, i): uPlot.Series => ({
          label: s.label,
          stroke: theme.palette[(s.color ?? i) % theme.palette.length],
          width: dense ? 1 / uPlot.pxRatio : (s.width ?? 1.5),
          dash: s.dash,
          spanGaps: s.spanGaps ?? false,
          points: s.points ? { show: true, size: 5, fill: theme.background } : undefined,
          value: (_u, v) => formatNumber(v, 4),
        })),
      ],
      axes: [
        // steps: plain integers (100000, not 1e+5)
        { ...axis(), values: (_u, splits) => splits.map((v) => (v === null ? '' : Number.isInteger(v) ? String(v) : formatNumber(v, 6))) },
        {
          ...axis(),
          size: 58,
          values: (_u, splits) => splits.map((v) => (v === null ? '' : formatNumber(v, 3))),
          ...(log ? { filter: logSplits, grid: { stroke: theme.grid, width: 1, filter: logSplits }, ticks: { stroke: theme.grid, width: 1, size: 4, filter: logSplits } } : {}),
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

function textWidth(ctx: CanvasRenderingContext2D, text: string): number {
  const key = `${ctx.font}\u0000${text}`;
  let w = textWidths.get(key);
  if (w === undefined) {
    if (textWidths.size > 500) textWidths.clear();
    w = ctx.measureText(text).width;
    textWidths.set(key, w);
  }
  return w;
}

/** Shaded bands with the stage names, drawn into the plot area before the grid and the curves. */
export function drawStageBands(u: uPlot, bands: readonly StageBand[], theme: Theme): void {
  if (bands.length === 0) return;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const px = uPlot.pxRatio;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  ctx.font = `${Math.round(theme.fontSize * 0.8 * px)}px ${theme.fontFamily}`;
  // the context keeps uPlot's last axis alignment otherwise
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  bands.forEach((b, i) => {
    const x0 = u.valToPos(b.from, 'x', true);
    const x1 = u.valToPos(b.to, 'x', true);
    if (!Number.isFinite(x0) || !Number.isFinite(x1) || x1 < left || x0 > left + width) return;
    const color = theme.stageColors[b.kind];
    // alternate the strength so neighbouring stages of the same kind stay apart
    ctx.globalAlpha = theme.bandAlpha * (i % 2 === 0 ? 1 : 0.55);
    ctx.fillStyle = color;
    ctx.fillRect(x0, top, x1 - x0, height);
    ctx.globalAlpha = theme.contrastBorder ? 1 : 0.6;
    ctx.strokeStyle = theme.contrastBorder ?? color;
    ctx.lineWidth = px;
    ctx.setLineDash([4 * px, 3 * px]);
    ctx.beginPath();
    ctx.moveTo(Math.round(x0) + 0.5, top);
    ctx.lineTo(Math.round(x0) + 0.5, top + height);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillStyle = theme.muted;
    const room = Math.min(x1, left + width) - Math.max(x0, left) - 8 * px;
    const full = b.name;
    const short = `S${b.stage + 1}`;
    const label = textWidth(ctx, full) <= room ? full : textWidth(ctx, short) <= room ? short : '';
    if (label) ctx.fillText(label, Math.max(x0, left) + 4 * px, top + 3 * px);
  });
  ctx.restore();
}

/** Time one frame may spend drawing charts before the rest wait for the next frame. */
export const CHART_FRAME_BUDGET_MS = 8;

/**
 * Draws the charts whose data changed, least recently drawn first, until the frame's budget is
 * spent (at least one per frame); returns true when some are left for the next frame. A machine
 * too slow to redraw every chart on every frame then updates each chart a little less often
 * instead of dropping frames.
 */
export function renderChartsWithinBudget(charts: readonly LiveChart[], theme: Theme, budgetMs = CHART_FRAME_BUDGET_MS): boolean {
  const stale = charts.filter((c) => c.isStale(theme)).sort((a, b) => a.drawnAt - b.drawnAt);
  const start = performance.now();
  for (let i = 0; i < stale.length; i++) {
    if (i > 0 && performance.now() - start > budgetMs) return true;
    stale[i].render(theme);
  }
  return false;
}
