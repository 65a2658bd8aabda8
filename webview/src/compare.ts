/**
 * The compare view: two or more runs (e.g. soft vs pid vs sid) overlaid on one x axis that starts
 * where each student's distillation starts (a run that trained its teacher first is not shifted
 * by the teacher's steps): distillation steps, epochs or wall time. And a table of their final
 * metrics, sizes and per-layer attention-KL.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { WebviewMessage } from '../../src/protocol/webview-messages';
import { CHART_FRAME_BUDGET_MS, LiveChart, MAX_DRAW_DELAY_MS, renderChartsWithinBudget, ZoomSync, type ChartData } from './charts';
import { h, setChildren } from './dom';
import { formatCount, formatDuration, formatNumber, formatScientific } from './format';
import type { RunData, UiState } from './state';
import {
  alignOnAxis, COMPARE_AXES, COMPARE_AXIS_LABELS, compareColumns, compareRow, isCompareAxis, meanLayerKl, studentEvalCurveOn, studentStepCurveOn,
  type AlignedCurves, type CompareAxis, type Curve,
} from './summary';
import type { Theme } from './theme';

export class CompareView {
  readonly el: HTMLElement;
  private readonly charts: LiveChart[];
  private readonly table = h('table', { class: 'compare-table', 'data-testid': 'compare-table' });
  private readonly tableBox = h('div', { class: 'table-scroll' }, this.table);
  private readonly zoom = new ZoomSync();
  private theme: Theme | undefined;
  private tableKey = '';
  /** When the table was last rebuilt (performance.now()). */
  private tableAt = -Infinity;
  private readonly cache = new Map<string, { key: string; curves: AlignedCurves }>();
  /** Bumped when the axis changes, so the charts redraw. */
  private axisVersion = 0;

  constructor(
    private readonly runs: () => RunData[],
    private readonly ui: () => UiState,
    private readonly updateUi: (patch: Partial<UiState>) => void,
    post: (m: WebviewMessage) => void,
    private readonly requestRender: () => void,
  ) {
    this.zoom.onChange(() => requestRender());
    // every chart spans the same x range (the longest loss curve), so their x positions line up
    const fullRange = (): { min: number; max: number } | null => {
      const x = this.curves('loss', (r, a) => studentStepCurveOn(r, r.steps.loss, a), false).x;
      const last = x.length > 0 ? x[x.length - 1] : 0;
      return last > 0 ? { min: 0, max: last } : null;
    };
    const version = (): number => this.runs().reduce((a, r) => a + r.version, this.axisVersion);
    const xAxis = (): { name: string; format: (v: number) => string } => {
      const axis = this.axis();
      return { name: COMPARE_AXIS_LABELS[axis], format: axis === 'distill-step' ? (v) => String(Math.round(v)) : (v) => formatNumber(v, 3) };
    };
    const chart = (testId: string, title: string, height: number, data: () => ChartData, log = false): LiveChart =>
      new LiveChart({ testId, title, height, data, fullRange, version, zoom: this.zoom, syncKey: 'compare', log: () => log, xAxis }, requestRender);
    this.charts = [
      chart('compare-chart-loss', 'Training loss of the student (weighted total)', 240, () => this.curves('loss', (r, a) => studentStepCurveOn(r, r.steps.loss, a), false), true),
      chart('compare-chart-metric', `Dev ${this.metricName()} of the student`, 200, () => this.curves('metric', (r, a) => studentEvalCurveOn(r, (e) => e.mainMetric.value, a), true)),
      chart('compare-chart-attention-kl', 'Dev attention-KL to the teacher (mean over mapped layers)', 200, () => this.curves('kl', (r, a) => studentEvalCurveOn(r, meanLayerKl, a), true)),
    ];
    const add = h('vscode-button', { 'data-testid': 'btn-add-to-compare', secondary: true }, 'Add run…');
    add.addEventListener('click', () => post({ type: 'add-to-compare' }));
    const select = h('select', { 'data-testid': 'compare-axis', 'aria-label': 'x axis' }, ...COMPARE_AXES.map((a) => h('option', { value: a, selected: a === this.axis() }, COMPARE_AXIS_LABELS[a])));
    select.addEventListener('change', () => {
      if (!isCompareAxis(select.value)) return;
      this.axisVersion++;
      this.zoom.set(null);
      this.updateUi({ compareAxis: select.value });
    });
    this.el = h(
      'div',
      { class: 'compare-view', 'data-testid': 'compare-view', 'data-axis': this.axis() },
      h('header', { class: 'run-header' }, h('div', { class: 'run-header-row' }, h('h1', { class: 'run-title' }, 'Compare runs'), h('div', { class: 'run-actions' }, add))),
      this.tableBox,
      h('label', { class: 'chart-tool compare-axis' }, 'x axis, from the start of distillation: ', select),
      ...this.charts.map((c) => c.el),
      h('p', { class: 'hint muted' }, 'Every student starts at 0 on x: a run that trained its teacher first is not shifted by the teacher\u2019s steps. Drag to zoom, double-click to reset. Attention-KL and [CLS] cosine are measured on the dev set against the teacher\u2019s mapped layers.'),
    );
  }

  private axis(): CompareAxis {
    return this.ui().compareAxis;
  }

  private metricName(): string {
    const names = new Set(this.runs().map((r) => r.evals.mainMetric).filter((n): n is string => !!n));
    return names.size === 0 ? 'main metric' : [...names].join(' / ');
  }

  /** Every run's curve on the chosen axis, recomputed only when a run or the axis changed. */
  private curves(id: string, pick: (r: RunData, axis: CompareAxis) => Curve, sparse: boolean): ChartData {
    const runs = this.runs();
    const axis = this.axis();
    this.el?.setAttribute('data-axis', axis);
    const key = `${axis}|${runs.map((r) => `${r.runId}:${r.version}`).join(',')}`;
    let entry = this.cache.get(id);
    if (!entry || entry.key !== key) {
      entry = { key, curves: alignOnAxis(runs.map((r) => pick(r, axis)), axis) };
      this.cache.set(id, entry);
    }
    const { x, ys } = entry.curves;
    // off the integer step grid each run has its own x values: lines join across the others' points
    const join = sparse || axis !== 'distill-step';
    return {
      x,
      length: x.length,
      series: runs.map((r, i) => ({ key: r.runId, label: r.label, y: ys[i], color: i, spanGaps: join, points: sparse })),
    };
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
  }

  /** Draws what changed; while `busy` (events still being folded in) only what waited too long. */
  render(busy: boolean): void {
    if (!this.theme) return;
    if (renderChartsWithinBudget(this.charts, this.theme, busy ? 0 : CHART_FRAME_BUDGET_MS)) this.requestRender();
    const now = performance.now();
    if (busy && now - this.tableAt < MAX_DRAW_DELAY_MS) return;
    const runs = this.runs();
    const key = runs.map((r) => `${r.runId}:${r.version}`).join(',');
    if (key !== this.tableKey) {
      this.tableAt = now;
      this.tableKey = key;
      this.renderTable(runs);
    }
  }

  private renderTable(runs: RunData[]): void {
    const rows = runs.map(compareRow);
    const { metrics, layers } = compareColumns(rows);
    const bestName = rows.find((r) => r.best)?.best?.metric ?? 'metric';
    const head = h(
      'tr',
      {},
      h('th', {}, 'Run'),
      h('th', {}, 'Algorithm'),
      h('th', {}, 'Status'),
      h('th', { class: 'num' }, `Best ${bestName}`),
      ...metrics.map((m) => h('th', { class: 'num' }, `Final ${m}`)),
      h('th', { class: 'num', title: 'student parameters' }, 'Student'),
      h('th', { class: 'num', title: 'teacher parameters' }, 'Teacher'),
      h('th', { class: 'num', title: 'student / teacher parameters' }, 'Size'),
      ...layers.map((l) => h('th', { class: 'num' }, `Attn-KL L${l}`)),
      h('th', { class: 'num', title: 'distillation steps (a teacher the run trained first is not counted)' }, 'Steps'),
      h('th', { class: 'num' }, 'Time'),
    );
    // the best value of each numeric column is emphasised (lowest KL, highest metric)
    const bestOf = (values: (number | undefined)[], lower: boolean): number | undefined => {
      const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
      return finite.length > 1 ? (lower ? Math.min(...finite) : Math.max(...finite)) : undefined;
    };
    const bestBest = bestOf(rows.map((r) => r.best?.value), false);
    const bestKl = layers.map((l) => bestOf(rows.map((r) => r.attentionKl.get(l)), true));
    const num = (v: number | undefined, text: string, highlight = false): HTMLElement => h('td', { class: highlight ? 'num best' : 'num' }, v === undefined ? '–' : text);
    const body = rows.map((r, i) =>
      h(
        'tr',
        { 'data-testid': 'compare-row', 'data-run-id': r.runId },
        h('td', {}, h('span', { class: `swatch swatch-${i % 7}`, 'aria-hidden': 'true' }), r.label),
        h('td', {}, r.algorithm || '–'),
        h('td', {}, r.status),
        num(r.best?.value, r.best ? `${formatNumber(r.best.value, 4)} @ ${r.best.step}` : '', r.best?.value === bestBest),
        ...metrics.map((m) => num(r.finalMetrics[m], formatNumber(r.finalMetrics[m], 4))),
        num(r.studentParams, formatCount(r.studentParams)),
        num(r.teacherParams, formatCount(r.teacherParams)),
        num(r.sizeRatio, `${Math.round((r.sizeRatio ?? 0) * 100)}%`),
        ...layers.map((l, j) => num(r.attentionKl.get(l), formatScientific(r.attentionKl.get(l)), r.attentionKl.get(l) === bestKl[j])),
        num(r.steps, String(r.steps)),
        num(r.durationMs, formatDuration(r.durationMs)),
      ),
    );
    setChildren(this.table, h('thead', {}, head), h('tbody', {}, ...body));
  }

  destroy(): void {
    for (const c of this.charts) c.destroy();
    this.el.remove();
  }
}
