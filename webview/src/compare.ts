/**
 * The compare view: two or more runs (e.g. soft vs pid vs sid) overlaid on one x axis that starts
 * where each student's distillation starts (a run that trained its teacher first is not shifted
 * by the teacher's steps): distillation steps, epochs or wall time. And a table of their final
 * metrics, sizes and per-layer attention-KL, with a column per config field that differed between
 * the runs (sortable by any column), a parallel-coordinates plot of those fields against the final
 * metric, and a Diff Configs button for two runs. Below the total loss, one loss term at a time
 * (any the runs trained: the paper's, TinyBERT's hidden-mse and embedding-mse, MiniLM's
 * value-relation, the output losses) with its scheduled weight, run against run.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { ConfigFieldValue, HostMessage, WebviewMessage } from '../../src/protocol/webview-messages';
import {
  CHART_FRAME_BUDGET_MS,
  LiveChart,
  MAX_DRAW_DELAY_MS,
  renderChartsWithinBudget,
  ZoomSync,
  type ChartData,
} from './charts';
import { h, setChildren } from './dom';
import { formatCount, formatDuration, formatNumber, formatScientific } from './format';
import type { RunData, UiState } from './state';
import {
  alignOnAxis,
  COMPARE_AXES,
  COMPARE_AXIS_LABELS,
  compareColumns,
  compareRow,
  isCompareAxis,
  meanLayerKl,
  studentEvalCurveOn,
  studentStepCurveOn,
  termMean,
  termWeight,
  trainedTerms,
  type AlignedCurves,
  type CompareAxis,
  type CompareRow,
  type Curve,
} from './summary';
import { LOSS_NAMES, type LossName } from '../../src/protocol/events';
import type { Theme } from './theme';
import { drawParcoords } from './parcoords-view';
import type { ParcoordsRun } from './parcoords';
import { ariaSort, nextSort, sortRows, type SortState, type SortValue } from './table-sort';

type ConfigFields = Extract<HostMessage, { type: 'config-fields' }>;

/** A table column: its header, how it sorts and how a row's cell shows. */
interface Column {
  id: string;
  label: string;
  title?: string;
  num: boolean;
  /** A config field's column (styled apart from the measured ones). */
  field?: string;
  value(row: TableRow): SortValue;
  cell(row: TableRow): HTMLElement;
}

interface TableRow extends CompareRow {
  /** The run's place in the runs list: its colour in the charts. */
  index: number;
  config: Record<string, ConfigFieldValue>;
}

/** A config value as the table shows it. */
function fieldText(v: ConfigFieldValue | undefined): string {
  if (v === undefined) return '–';
  if (typeof v === 'number') return formatNumber(v, 4);
  return v === null ? 'null' : String(v);
}

/** The run's final main metric: the last evaluation's. */
function finalMainMetric(run: RunData): number | undefined {
  const evals = run.evals.events;
  return evals.length > 0 ? evals[evals.length - 1].mainMetric.value : undefined;
}

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
  private sort: SortState | undefined;
  /** Runs ticked in the table (by id), for Diff Configs when more than two are compared. */
  private readonly selected = new Set<string>();
  private readonly parcoordsBox = h('div', { class: 'parcoords-box', 'data-testid': 'compare-parcoords-box' });
  private parcoordsKey = '';
  private readonly diffButton = h(
    'vscode-button',
    {
      'data-testid': 'btn-diff-configs',
      secondary: true,
      disabled: true,
      title: 'Open the diff editor on the two runs’ config.json',
    },
    'Diff Configs',
  );
  private readonly resize: ResizeObserver | undefined;
  private readonly termSelect = h('select', { 'data-testid': 'compare-term', 'aria-label': 'loss term' });
  private termOptionsKey = '';
  /** The per-term charts (and their selector), hidden while no run has trained a step. */
  private readonly termCharts: LiveChart[];

  constructor(
    private readonly runs: () => RunData[],
    private readonly configFields: () => ConfigFields,
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
      return {
        name: COMPARE_AXIS_LABELS[axis],
        format: axis === 'distill-step' ? (v) => String(Math.round(v)) : (v) => formatNumber(v, 3),
      };
    };
    const chart = (testId: string, title: string, height: number, data: () => ChartData, log = false): LiveChart =>
      new LiveChart(
        { testId, title, height, data, fullRange, version, zoom: this.zoom, syncKey: 'compare', log: () => log, xAxis },
        requestRender,
      );
    this.charts = [
      chart(
        'compare-chart-loss',
        'Training loss of the student (weighted total)',
        240,
        () => this.curves('loss', (r, a) => studentStepCurveOn(r, r.steps.loss, a), false),
        true,
      ),
      chart('compare-chart-metric', `Dev ${this.metricName()} of the student`, 200, () =>
        this.curves('metric', (r, a) => studentEvalCurveOn(r, (e) => e.mainMetric.value, a), true),
      ),
      chart('compare-chart-attention-kl', 'Dev attention-KL to the teacher (mean over mapped layers)', 200, () =>
        this.curves('kl', (r, a) => studentEvalCurveOn(r, meanLayerKl, a), true),
      ),
    ];
    const term = (): string => this.term() ?? '';
    this.termCharts = [
      new LiveChart(
        {
          testId: 'compare-chart-term',
          title: 'Training loss term of the student (unweighted; per-layer terms: mean over the stage\u2019s layers)',
          height: 220,
          data: () =>
            this.curves(`term:${term()}`, (r, a) => studentStepCurveOn(r, termMean(r, term()), a), false, term()),
          fullRange,
          version,
          zoom: this.zoom,
          syncKey: 'compare',
          log: () => true,
          xAxis,
          tools: [h('label', { class: 'chart-tool' }, 'term ', this.termSelect)],
        },
        requestRender,
      ),
      chart(
        'compare-chart-term-weight',
        'Its weight at each step (losses.schedules, stages.custom[].schedules)',
        160,
        () =>
          this.curves(
            `weight:${term()}`,
            (r, a) => studentStepCurveOn(r, termWeight(r, term()), a),
            false,
            `${term()} weight`,
          ),
      ),
    ];
    this.termSelect.addEventListener('change', () => {
      this.axisVersion++;
      this.updateUi({ compareTerm: this.termSelect.value as LossName });
    });
    const add = h('vscode-button', { 'data-testid': 'btn-add-to-compare', secondary: true }, 'Add run…');
    add.addEventListener('click', () => post({ type: 'add-to-compare' }));
    this.diffButton.addEventListener('click', () => {
      const pair = this.diffPair();
      if (pair) post({ type: 'diff-configs', runIds: pair });
    });
    const select = h(
      'select',
      { 'data-testid': 'compare-axis', 'aria-label': 'x axis' },
      ...COMPARE_AXES.map((a) => h('option', { value: a, selected: a === this.axis() }, COMPARE_AXIS_LABELS[a])),
    );
    select.addEventListener('change', () => {
      if (!isCompareAxis(select.value)) return;
      this.axisVersion++;
      this.zoom.set(null);
      this.updateUi({ compareAxis: select.value });
    });
    this.el = h(
      'div',
      { class: 'compare-view', 'data-testid': 'compare-view', 'data-axis': this.axis() },
      h(
        'header',
        { class: 'run-header' },
        h(
          'div',
          { class: 'run-header-row' },
          h('h1', { class: 'run-title' }, 'Compare runs'),
          h('div', { class: 'run-actions' }, this.diffButton, add),
        ),
      ),
      this.tableBox,
      h('h2', {}, 'What differed, against the final metric'),
      this.parcoordsBox,
      h('label', { class: 'chart-tool compare-axis' }, 'x axis, from the start of distillation: ', select),
      ...this.charts.map((c) => c.el),
      ...this.termCharts.map((c) => c.el),
      h(
        'p',
        { class: 'hint muted' },
        'Every student starts at 0 on x: a run that trained its teacher first is not shifted by the teacher\u2019s steps. Drag to zoom, double-click to reset. Attention-KL and [CLS] cosine are measured on the dev set against the teacher\u2019s mapped layers.',
      ),
    );
    // the plot's width follows the panel's
    this.resize = typeof ResizeObserver === 'function' ? new ResizeObserver(() => requestRender()) : undefined;
    this.resize?.observe(this.parcoordsBox);
  }

  /** The two runs Diff Configs compares: the only two, or the two ticked. */
  private diffPair(): [string, string] | undefined {
    const ids = this.runs().map((r) => r.runId);
    const picked = ids.length === 2 ? ids : ids.filter((id) => this.selected.has(id));
    return picked.length === 2 ? [picked[0], picked[1]] : undefined;
  }

  private syncDiffButton(): void {
    const pair = this.diffPair();
    this.diffButton.toggleAttribute('disabled', !pair);
    this.diffButton.setAttribute(
      'title',
      pair
        ? 'Open the diff editor on the two runs’ config.json'
        : 'Tick two runs in the table to diff their config.json',
    );
  }

  private axis(): CompareAxis {
    return this.ui().compareAxis;
  }

  /** The term the per-term charts show: the chosen one while some run trained it, else the first trained. */
  private term(): string | undefined {
    const terms = trainedTerms(this.runs(), LOSS_NAMES);
    const chosen = this.ui().compareTerm;
    return chosen && terms.includes(chosen) ? chosen : terms[0];
  }

  /** Rebuilds the term selector when the set of trained terms changes; hides the term charts while there is none. */
  private syncTerms(): void {
    const terms = trainedTerms(this.runs(), LOSS_NAMES);
    const key = terms.join(',');
    if (key !== this.termOptionsKey) {
      this.termOptionsKey = key;
      setChildren(this.termSelect, ...terms.map((t) => h('option', { value: t }, t)));
      for (const c of this.termCharts) c.el.hidden = terms.length === 0;
    }
    const current = this.term() ?? '';
    if (this.termSelect.value !== current) this.termSelect.value = current;
    this.el?.setAttribute('data-term', current);
  }

  private metricName(): string {
    const names = new Set(
      this.runs()
        .map((r) => r.evals.mainMetric)
        .filter((n): n is string => !!n),
    );
    return names.size === 0 ? 'main metric' : [...names].join(' / ');
  }

  /** Every run's curve on the chosen axis, recomputed only when a run or the axis changed. */
  private curves(
    id: string,
    pick: (r: RunData, axis: CompareAxis) => Curve,
    sparse: boolean,
    what?: string,
  ): ChartData {
    const runs = this.runs();
    const axis = this.axis();
    this.el?.setAttribute('data-axis', axis);
    const key = `${axis}|${runs.map((r) => `${r.runId}:${r.version}`).join(',')}`;
    let entry = this.cache.get(id);
    if (!entry || entry.key !== key) {
      entry = {
        key,
        curves: alignOnAxis(
          runs.map((r) => pick(r, axis)),
          axis,
        ),
      };
      this.cache.set(id, entry);
    }
    const { x, ys } = entry.curves;
    // off the integer step grid each run has its own x values: lines join across the others' points
    const join = sparse || axis !== 'distill-step';
    return {
      x,
      length: x.length,
      series: runs.map((r, i) => ({
        key: what ? `${r.runId}|${what}` : r.runId,
        label: what ? `${r.label} · ${what}` : r.label,
        y: ys[i],
        color: i,
        spanGaps: join,
        points: sparse,
      })),
    };
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
  }

  /** Draws what changed; while `busy` (events still being folded in) only what waited too long. */
  render(busy: boolean): void {
    if (!this.theme) return;
    this.syncTerms();
    const shown = this.termCharts[0].el.hidden ? this.charts : [...this.charts, ...this.termCharts];
    if (renderChartsWithinBudget(shown, this.theme, busy ? 0 : CHART_FRAME_BUDGET_MS)) this.requestRender();
    const now = performance.now();
    if (busy && now - this.tableAt < MAX_DRAW_DELAY_MS) return;
    const runs = this.runs();
    const fields = this.configFields();
    const key = `${runs.map((r) => `${r.runId}:${r.version}`).join(',')}|${fields.fields.join(',')}|${JSON.stringify(fields.runs)}`;
    if (key !== this.tableKey) {
      this.tableAt = now;
      this.tableKey = key;
      this.renderTable(runs);
    }
    const width = this.parcoordsBox.clientWidth;
    const pcKey = `${key}|${width}|${this.theme.kind}|${this.theme.foreground}`;
    if (pcKey !== this.parcoordsKey) {
      this.parcoordsKey = pcKey;
      this.renderParcoords(runs, fields, width);
    }
  }

  private renderParcoords(runs: RunData[], fields: ConfigFields, width: number): void {
    if (!this.theme) return;
    if (fields.fields.length === 0) {
      const note =
        fields.runs.length === 0 ? 'Reading the runs’ configs…' : 'The compared runs’ configs do not differ.';
      setChildren(this.parcoordsBox, h('p', { class: 'hint muted', 'data-testid': 'compare-parcoords-empty' }, note));
      return;
    }
    const values = new Map(fields.runs.map((r) => [r.runId, r.values]));
    const pc: ParcoordsRun[] = runs.map((r) => ({
      runId: r.runId,
      label: r.label,
      values: values.get(r.runId) ?? {},
      metric: finalMainMetric(r),
    }));
    setChildren(
      this.parcoordsBox,
      drawParcoords(fields.fields, pc, `final ${this.metricName()}`, this.theme, width || 720),
    );
  }

  private renderTable(runs: RunData[]): void {
    const fields = this.configFields();
    const values = new Map(fields.runs.map((r) => [r.runId, r.values]));
    const rows: TableRow[] = runs.map((r, index) => ({ ...compareRow(r), index, config: values.get(r.runId) ?? {} }));
    const { metrics, layers, hiddenLayers, relationLayers } = compareColumns(rows);
    const bestName = rows.find((r) => r.best)?.best?.metric ?? 'metric';
    // the best value of each numeric column is emphasised (lowest KL, highest metric)
    const bestOf = (values: (number | undefined)[], lower: boolean): number | undefined => {
      const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
      return finite.length > 1 ? (lower ? Math.min(...finite) : Math.max(...finite)) : undefined;
    };
    const bestBest = bestOf(
      rows.map((r) => r.best?.value),
      false,
    );
    const bestKl = layers.map((l) =>
      bestOf(
        rows.map((r) => r.attentionKl.get(l)),
        true,
      ),
    );
    const bestHidden = hiddenLayers.map((l) =>
      bestOf(
        rows.map((r) => r.hiddenMse.get(l)),
        true,
      ),
    );
    const bestRelation = relationLayers.map((l) =>
      bestOf(
        rows.map((r) => r.valueRelation.get(l)),
        true,
      ),
    );
    const num = (v: number | undefined, text: string, highlight = false): HTMLElement =>
      h('td', { class: highlight ? 'num best' : 'num' }, v === undefined ? '–' : text);
    const columns: Column[] = [
      {
        id: 'run',
        label: 'Run',
        num: false,
        value: (r) => r.label,
        cell: (r) => {
          const tick = h('input', {
            type: 'checkbox',
            class: 'compare-select',
            'data-testid': 'compare-select',
            'aria-label': `select ${r.label}`,
            checked: this.selected.has(r.runId),
          });
          tick.addEventListener('change', () => {
            if (tick.checked) this.selected.add(r.runId);
            else this.selected.delete(r.runId);
            this.syncDiffButton();
          });
          return h(
            'td',
            {},
            runs.length > 2 ? tick : null,
            h('span', { class: `swatch swatch-${r.index % 7}`, 'aria-hidden': 'true' }),
            r.label,
          );
        },
      },
      {
        id: 'algorithm',
        label: 'Algorithm',
        num: false,
        value: (r) => r.algorithm || undefined,
        cell: (r) => h('td', {}, r.algorithm || '–'),
      },
      { id: 'status', label: 'Status', num: false, value: (r) => r.status, cell: (r) => h('td', {}, r.status) },
      // the Algorithm column already shows the config's algorithm
      ...fields.fields
        .filter((f) => f !== 'algorithm')
        .map((f): Column => ({
          id: `field:${f}`,
          label: f,
          field: f,
          title: `config field ${f} (differs between the runs)`,
          num: false,
          value: (r) => r.config[f],
          cell: (r) =>
            h(
              'td',
              { class: typeof r.config[f] === 'number' ? 'num field' : 'field', 'data-field': f },
              fieldText(r.config[f]),
            ),
        })),
      {
        id: 'best',
        label: `Best ${bestName}`,
        num: true,
        value: (r) => r.best?.value,
        cell: (r) =>
          num(
            r.best?.value,
            r.best ? `${formatNumber(r.best.value, 4)} @ ${r.best.step}` : '',
            r.best?.value === bestBest,
          ),
      },
      ...metrics.map((m): Column => ({
        id: `final:${m}`,
        label: `Final ${m}`,
        num: true,
        value: (r) => r.finalMetrics[m],
        cell: (r) => num(r.finalMetrics[m], formatNumber(r.finalMetrics[m], 4)),
      })),
      {
        id: 'student',
        label: 'Student',
        title: 'student parameters',
        num: true,
        value: (r) => r.studentParams,
        cell: (r) => num(r.studentParams, formatCount(r.studentParams)),
      },
      {
        id: 'teacher',
        label: 'Teacher',
        title: 'teacher parameters',
        num: true,
        value: (r) => r.teacherParams,
        cell: (r) => num(r.teacherParams, formatCount(r.teacherParams)),
      },
      {
        id: 'size',
        label: 'Size',
        title: 'student / teacher parameters',
        num: true,
        value: (r) => r.sizeRatio,
        cell: (r) => num(r.sizeRatio, `${Math.round((r.sizeRatio ?? 0) * 100)}%`),
      },
      ...layers.map((l, j): Column => ({
        id: `kl:${l}`,
        label: `Attn-KL L${l}`,
        num: true,
        value: (r) => r.attentionKl.get(l),
        cell: (r) =>
          num(r.attentionKl.get(l), formatScientific(r.attentionKl.get(l)), r.attentionKl.get(l) === bestKl[j]),
      })),
      // TinyBERT's and MiniLM's dev measures, only when some compared run trains them
      ...hiddenLayers.map((l, j): Column => ({
        id: `hidden:${l}`,
        label: l === 0 ? 'Emb-MSE' : `Hid-MSE L${l}`,
        title: l === 0 ? 'dev embedding-mse (embedding outputs)' : `dev hidden-mse of student layer ${l}`,
        num: true,
        value: (r) => r.hiddenMse.get(l),
        cell: (r) =>
          num(r.hiddenMse.get(l), formatScientific(r.hiddenMse.get(l)), r.hiddenMse.get(l) === bestHidden[j]),
      })),
      ...relationLayers.map((l, j): Column => ({
        id: `relation:${l}`,
        label: `VR-KL L${l}`,
        title: `dev value-relation KL of student layer ${l}`,
        num: true,
        value: (r) => r.valueRelation.get(l),
        cell: (r) =>
          num(
            r.valueRelation.get(l),
            formatScientific(r.valueRelation.get(l)),
            r.valueRelation.get(l) === bestRelation[j],
          ),
      })),
      {
        id: 'steps',
        label: 'Steps',
        title: 'distillation steps (a teacher the run trained first is not counted)',
        num: true,
        value: (r) => r.steps,
        cell: (r) => num(r.steps, String(r.steps)),
      },
      {
        id: 'time',
        label: 'Time',
        num: true,
        value: (r) => r.durationMs,
        cell: (r) => num(r.durationMs, formatDuration(r.durationMs)),
      },
    ];
    // a sort on a column that is gone (a field that no longer differs) falls back to the runs' order
    const sortCol = columns.find((c) => c.id === this.sort?.column);
    const sorted = sortCol && this.sort ? sortRows(rows, (r) => sortCol.value(r), this.sort.dir) : rows;
    const head = h(
      'tr',
      {},
      ...columns.map((c) => {
        const button = h(
          'button',
          { class: 'sort-button', type: 'button', title: c.title ?? `sort by ${c.label}` },
          c.label,
        );
        button.addEventListener('click', () => {
          this.sort = nextSort(this.sort, c.id);
          this.tableKey = '';
          this.requestRender();
        });
        return h(
          'th',
          {
            class: [c.num ? 'num' : '', c.field ? 'field' : ''].filter(Boolean).join(' ') || undefined,
            'data-testid': c.field ? 'compare-field-col' : 'compare-col',
            'data-col': c.id,
            'data-field': c.field,
            'aria-sort': ariaSort(this.sort, c.id),
          },
          button,
        );
      }),
    );
    const body = sorted.map((r) =>
      h('tr', { 'data-testid': 'compare-row', 'data-run-id': r.runId }, ...columns.map((c) => c.cell(r))),
    );
    for (const id of [...this.selected]) if (!runs.some((r) => r.runId === id)) this.selected.delete(id);
    setChildren(this.table, h('thead', {}, head), h('tbody', {}, ...body));
    this.table.setAttribute('data-fields', String(fields.fields.length));
    this.syncDiffButton();
  }

  destroy(): void {
    this.resize?.disconnect();
    for (const c of [...this.charts, ...this.termCharts]) c.destroy();
    this.el.remove();
  }
}
