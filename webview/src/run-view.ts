/**
 * One run's dashboard: header, then tabs with the training curves, the dev evaluations, the
 * attention heatmaps and the log. Only the visible tab is drawn on each frame.
 */
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import type { VscodeTabs } from '@vscode-elements/elements/dist/vscode-tabs/vscode-tabs.js';
import type { LossName } from '../../src/protocol/events';
import type { WebviewMessage } from '../../src/protocol/webview-messages';
import {
  CHART_FRAME_BUDGET_MS,
  LiveChart,
  MAX_DRAW_DELAY_MS,
  renderChartsWithinBudget,
  ZoomSync,
  type ChartData,
  type ChartOptions,
  type SeriesData,
} from './charts';
import { h, setChildren } from './dom';
import { RunHeader } from './header';
import { KernelsNoteView } from './kernels-note';
import { AttentionView } from './heatmap';
import { RUN_TABS, termLabel, type Column, type RunData, type RunTab, type UiState } from './state';
import type { Theme } from './theme';
import { stageBands } from './timeline';

/**
 * Colour per loss (palette index); layers of one loss differ by dash pattern. embedding-mse is
 * hidden-mse's layer 0: its colour, dotted.
 */
const LOSS_COLOR: Record<string, number> = {
  'attention-kl': 0,
  'cls-cosine': 1,
  'soft-label': 2,
  'hard-label': 4,
  'hidden-mse': 3,
  'embedding-mse': 3,
  'value-relation': 5,
} satisfies Record<LossName, number>;
const LOSS_DASH: Record<string, number[]> = { 'embedding-mse': [1, 2] };
const LAYER_DASH: (number[] | undefined)[] = [undefined, [6, 3], [2, 3], [10, 3, 2, 3], [4, 4], [1, 2]];

function column(x: Column, y: Column, key: string, label: string, color: number): ChartData {
  return { x: x.values(), length: x.length, series: [{ key, label, y: y.values(), blocks: y, color }] };
}

function isoClock(time: string): string {
  const t = time.indexOf('T');
  return t >= 0 ? time.slice(t + 1, t + 9) : time;
}

export class RunView {
  readonly el: HTMLElement;
  private readonly header: RunHeader;
  private readonly kernels: KernelsNoteView;
  private readonly tabs: VscodeTabs;
  private readonly charts = new Map<RunTab, LiveChart[]>();
  private readonly attention: AttentionView;
  private readonly logList = h('ol', { class: 'log', 'data-testid': 'run-log' });
  private readonly checkpointList = h('ul', { class: 'checkpoints', 'data-testid': 'run-checkpoints' });
  private readonly zoom: ZoomSync;
  private logVersion = -1;
  /** When the header and the other panels were last drawn (performance.now()). */
  private drawnAt = -Infinity;
  private theme: Theme | undefined;
  /** Charts shown only while their predicate holds. */
  private readonly optionalCharts: Array<[LiveChart, () => boolean]>;

  constructor(
    private readonly run: () => RunData,
    private readonly ui: () => UiState,
    private readonly updateUi: (patch: Partial<UiState>) => void,
    post: (m: WebviewMessage) => void,
    private readonly requestRender: () => void,
  ) {
    this.header = new RunHeader(post);
    this.kernels = new KernelsNoteView(post);
    this.zoom = new ZoomSync(ui().zoom);
    this.zoom.onChange((range) => this.updateUi({ zoom: range }));
    this.attention = new AttentionView(ui, updateUi);

    const bands = (): ReturnType<typeof stageBands> => stageBands(this.run().stages);
    const fullRange = (): { min: number; max: number } | null => {
      const last = this.run().lastStep;
      return last > 0 ? { min: 0, max: last } : null;
    };
    const version = (): number => this.run().version;
    const chart = (o: Omit<ChartOptions, 'bands' | 'fullRange' | 'zoom' | 'syncKey' | 'version'>): LiveChart =>
      new LiveChart({ ...o, bands, fullRange, version, zoom: this.zoom, syncKey: 'steps' }, requestRender);

    const logToggle = h('input', { type: 'checkbox', 'data-testid': 'loss-log-scale', checked: ui().logLoss });
    logToggle.addEventListener('change', () => this.updateUi({ logLoss: logToggle.checked }));
    const training = [
      chart({
        testId: 'chart-loss',
        title: 'Training loss: weighted total and every term (unweighted) by layer',
        height: 280,
        log: () => this.ui().logLoss,
        tools: [
          h(
            'label',
            {
              class: 'chart-tool',
              title: 'A term that is exactly 0 runs along the bottom of the log scale (the legend reads 0).',
            },
            logToggle,
            'log scale',
          ),
        ],
        data: () => this.lossData(),
      }),
      chart({
        testId: 'chart-lr',
        title: 'Learning rate',
        height: 150,
        data: () => column(this.run().steps.x, this.run().steps.lr, 'lr', 'lr', 0),
      }),
      chart({
        testId: 'chart-throughput',
        title: 'Throughput (examples/s)',
        height: 150,
        data: () => column(this.run().steps.x, this.run().steps.examplesPerSec, 'eps', 'examples/s', 2),
      }),
      chart({
        testId: 'chart-grad-norm',
        title: 'Gradient norm (before clipping)',
        height: 150,
        data: () => column(this.run().steps.x, this.run().steps.gradNorm, 'gn', 'grad norm', 3),
      }),
      chart({
        testId: 'chart-live-tensors',
        title: 'Live tensors (flat unless something leaks)',
        height: 150,
        data: () => column(this.run().steps.x, this.run().steps.liveTensors, 'lt', 'tensors', 5),
      }),
      chart({
        testId: 'chart-loss-weights',
        title: 'Loss weights and soft-label temperature (losses.schedules)',
        height: 150,
        data: () => this.weightData(),
      }),
    ];
    const evaluation = [
      chart({
        testId: 'chart-dev-metrics',
        title: 'Dev metrics',
        height: 220,
        data: () => this.evalData(this.run().evals.metrics, (k) => k),
      }),
      chart({
        testId: 'chart-attention-kl',
        title: 'Dev attention-KL to the teacher, by student layer',
        height: 200,
        data: () => this.evalData(this.run().evals.attentionKl, (l) => `L${l}`),
      }),
      chart({
        testId: 'chart-cls-cosine',
        title: 'Dev [CLS] cosine distance to the teacher, by student layer',
        height: 200,
        data: () => this.evalData(this.run().evals.clsCosine, (l) => `L${l}`),
      }),
      chart({
        testId: 'chart-hidden-mse',
        title: 'Dev hidden-state MSE to the teacher, by student layer (L0: embeddings)',
        height: 200,
        data: () => this.evalData(this.run().evals.hiddenMse, (l) => `L${l}`),
      }),
      chart({
        testId: 'chart-value-relation',
        title: 'Dev value-relation KL to the teacher, by student layer',
        height: 200,
        data: () => this.evalData(this.run().evals.valueRelation, (l) => `L${l}`),
      }),
    ];
    // The TinyBERT / MiniLM measures exist only for runs that train them: their charts stay hidden otherwise.
    this.optionalCharts = [
      [evaluation[3], () => this.run().evals.hiddenMse.size > 0],
      [evaluation[4], () => this.run().evals.valueRelation.size > 0],
    ];
    this.charts.set('training', training);
    this.charts.set('evaluation', evaluation);

    const panels: Record<RunTab, HTMLElement> = {
      training: h(
        'div',
        { class: 'panel-body' },
        training[0].el,
        h('div', { class: 'chart-grid' }, ...training.slice(1).map((c) => c.el)),
        h(
          'p',
          { class: 'hint muted' },
          'Drag to zoom every chart, double-click to reset. Shaded bands are the stages of the plan.',
        ),
      ),
      evaluation: h('div', { class: 'panel-body' }, ...evaluation.map((c) => c.el)),
      attention: h('div', { class: 'panel-body' }, this.attention.el),
      log: h(
        'div',
        { class: 'panel-body' },
        h('h2', {}, 'Checkpoints'),
        this.checkpointList,
        h('h2', {}, 'Warnings and log'),
        this.logList,
      ),
    };
    const titles: Record<RunTab, string> = {
      training: 'Training',
      evaluation: 'Evaluation',
      attention: 'Attention',
      log: 'Log',
    };
    this.tabs = h('vscode-tabs', { 'data-testid': 'tabs', 'selected-index': RUN_TABS.indexOf(ui().tab) });
    for (const tab of RUN_TABS) {
      this.tabs.append(
        h('vscode-tab-header', { slot: 'header', 'data-testid': `tab-${tab}` }, titles[tab]),
        h('vscode-tab-panel', { 'data-testid': `panel-${tab}` }, panels[tab]),
      );
    }
    this.tabs.addEventListener('vsc-tabs-select', (e) => {
      const tab = RUN_TABS[e.detail.selectedIndex];
      if (tab) this.updateUi({ tab });
    });
    this.el = h('div', { class: 'run-view', 'data-testid': 'run-view' }, this.header.el, this.kernels.el, this.tabs);
  }

  private lossData(): ChartData {
    const steps = this.run().steps;
    const series: SeriesData[] = [];
    const layerRank = new Map<string, number>();
    for (const [key, col] of steps.terms) {
      const name = key.split('@')[0];
      const rank = layerRank.get(name) ?? 0;
      layerRank.set(name, rank + 1);
      series.push({
        key,
        label: termLabel(key),
        y: col.values(),
        blocks: col,
        color: LOSS_COLOR[name] ?? 5,
        dash: LOSS_DASH[name] ?? LAYER_DASH[rank % LAYER_DASH.length],
      });
    }
    // last, so that it is drawn over the terms it sums
    series.push({ key: 'total', label: 'total', y: steps.loss.values(), blocks: steps.loss, color: 6, width: 2 });
    return { x: steps.x.values(), length: steps.length, series };
  }

  /** Each loss's weight per step, and the temperature where soft labels train: what the schedules do. */
  private weightData(): ChartData {
    const steps = this.run().steps;
    const series: SeriesData[] = [...steps.weights].map(([name, col]) => ({
      key: `w:${name}`,
      label: `${name} weight`,
      y: col.values(),
      blocks: col,
      color: LOSS_COLOR[name] ?? 5,
      dash: LOSS_DASH[name],
    }));
    series.push({
      key: 'temperature',
      label: 'temperature',
      y: steps.temperature.values(),
      blocks: steps.temperature,
      color: 6,
      dash: [4, 4],
    });
    return { x: steps.x.values(), length: steps.length, series };
  }

  private evalData<K>(map: Map<K, number[]>, label: (k: K) => string): ChartData {
    const evals = this.run().evals;
    const keys = [...map.keys()].sort((a, b) =>
      typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)),
    );
    return {
      x: evals.x,
      length: evals.x.length,
      series: keys.map((k, i) => ({
        key: String(k),
        label: label(k),
        y: map.get(k) ?? [],
        color: i,
        spanGaps: true,
        points: true,
      })),
    };
  }

  /** Applies restored or changed UI state that the view shows (tab). */
  syncUi(): void {
    const index = RUN_TABS.indexOf(this.ui().tab);
    if (this.tabs.selectedIndex !== index) this.tabs.selectedIndex = index;
    this.zoom.range = this.ui().zoom;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.attention.invalidate();
  }

  /**
   * Draws what changed. While `busy` (events are still being folded in) only what has waited
   * MAX_DRAW_DELAY_MS: a frame that changes nothing on screen costs the browser almost nothing.
   */
  render(busy: boolean): void {
    const theme = this.theme;
    if (!theme) return;
    const run = this.run();
    const tab = this.ui().tab;
    for (const [c, shown] of this.optionalCharts) {
      const hide = !shown();
      if (c.el.hidden !== hide) c.el.hidden = hide;
    }
    if (renderChartsWithinBudget(this.charts.get(tab) ?? [], theme, busy ? 0 : CHART_FRAME_BUDGET_MS))
      this.requestRender();
    const now = performance.now();
    if (busy && now - this.drawnAt < MAX_DRAW_DELAY_MS) return;
    this.drawnAt = now;
    this.header.render(run);
    this.kernels.render(run);
    if (tab === 'attention') this.attention.render(run, theme);
    if (tab === 'log' && run.logVersion !== this.logVersion) {
      this.logVersion = run.logVersion;
      this.renderLog(run);
    }
  }

  private renderLog(run: RunData): void {
    setChildren(
      this.checkpointList,
      ...(run.checkpoints.length === 0
        ? [h('li', { class: 'muted' }, 'none yet')]
        : run.checkpoints.map((c) => h('li', {}, `step ${c.step} (${c.reason}): `, h('code', {}, c.path)))),
    );
    setChildren(
      this.logList,
      ...(run.log.length === 0
        ? [h('li', { class: 'muted' }, 'nothing logged')]
        : run.log.map((l) =>
            h(
              'li',
              { class: `log-${l.level}` },
              h('span', { class: 'log-time' }, isoClock(l.time)),
              h('span', { class: 'log-level' }, l.level),
              l.message,
            ),
          )),
    );
  }

  destroy(): void {
    for (const list of this.charts.values()) for (const c of list) c.destroy();
    this.el.remove();
  }
}
