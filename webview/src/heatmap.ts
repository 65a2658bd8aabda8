/**
 * Attention heatmaps: for the fixed dev sentence of the run's 'attention-sample' events, the
 * teacher's and the student's maps side by side for one mapped layer and head (or the average over
 * heads), with a slider over the evaluations so the student's attention can be watched converging.
 * Runs that train value-relation also get MiniLM's value relations of the same layer and head.
 */
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { AttentionSampleEvent } from '../../src/protocol/events';
import type { ExportFormat } from '../../src/protocol/webview-messages';
import { attentionToScale, buildLut, meanRowKl, rgbCss, scaleColor, type AttentionMap } from './colorscale';
import { h, setChildren, setText } from './dom';
import { composePng } from './export/canvas-png';
import { matrixCsv } from './export/chart-csv';
import { heatmapSvg } from './export/heatmap-svg';
import { exportName, sendExport } from './export/post';
import { exportToolbar } from './export/toolbar';
import { formatNumber } from './format';
import { MAP_KINDS, mapsOf, pairHead, sharedScaleMax, type MapKind } from './sample-maps';
import type { RunData, UiState } from './state';
import type { Theme } from './theme';

const MAX_CELL = 34;
const MIN_CELL = 3;

export interface HeatmapLayout {
  cell: number;
  margin: number;
  /** Draw every n-th token label (1 = all) so labels never overlap. */
  labelEvery: number;
  size: number;
}

/** Canvas geometry for an n×n map in `avail` CSS pixels with labels `labelWidth` wide. */
export function heatmapLayout(n: number, avail: number, labelWidth: number, lineHeight: number): HeatmapLayout {
  const margin = Math.ceil(Math.min(labelWidth, 110) + 8);
  const cell = n > 0 ? Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor((avail - margin) / n))) : MAX_CELL;
  const labelEvery = Math.max(1, Math.ceil(lineHeight / cell));
  return { cell, margin, labelEvery, size: margin + cell * n };
}

function truncateLabel(ctx: CanvasRenderingContext2D, text: string, max: number): string {
  if (ctx.measureText(text).width <= max) return text;
  let t = text;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > max) t = t.slice(0, -1);
  return `${t}…`;
}

/**
 * Draws one map with query labels on the left and key labels along the top; `scaleMax` is the
 * probability drawn at the top of the colour scale.
 */
export function drawHeatmap(
  canvas: HTMLCanvasElement,
  map: AttentionMap,
  tokens: readonly string[],
  avail: number,
  theme: Theme,
  scaleMax = 1,
): HeatmapLayout {
  const n = Math.min(map.length, tokens.length || map.length);
  const dpr = window.devicePixelRatio || 1;
  const probe = canvas.getContext('2d');
  if (!probe) throw new Error('canvas 2d context unavailable');
  const fontPx = Math.round(theme.fontSize * 0.85);
  probe.font = `${fontPx}px ${theme.fontFamily}`;
  const labelWidth = tokens.slice(0, n).reduce((w, t) => Math.max(w, probe.measureText(t).width), 0);
  const layout = heatmapLayout(n, avail, labelWidth, fontPx + 2);
  canvas.width = Math.round(layout.size * dpr);
  canvas.height = Math.round(layout.size * dpr);
  canvas.style.width = `${layout.size}px`;
  canvas.style.height = `${layout.size}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('canvas 2d context unavailable');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, layout.size, layout.size);

  const lut = buildLut(theme.heatStops);
  const { cell, margin } = layout;
  for (let q = 0; q < n; q++) {
    const row = map[q];
    for (let k = 0; k < n; k++) {
      const i = Math.round(attentionToScale(row[k] / scaleMax) * 255) * 4;
      ctx.fillStyle = `rgb(${lut[i]},${lut[i + 1]},${lut[i + 2]})`;
      ctx.fillRect(margin + k * cell, margin + q * cell, cell, cell);
    }
  }
  if (theme.contrastBorder) {
    ctx.strokeStyle = theme.contrastBorder;
    ctx.lineWidth = 1;
    ctx.strokeRect(margin - 0.5, margin - 0.5, cell * n + 1, cell * n + 1);
  }

  ctx.font = `${fontPx}px ${theme.fontFamily}`;
  ctx.fillStyle = theme.foreground;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (let q = 0; q < n; q += layout.labelEvery) {
    ctx.fillText(truncateLabel(ctx, tokens[q] ?? '', margin - 8), margin - 4, margin + (q + 0.5) * cell);
  }
  ctx.textAlign = 'left';
  for (let k = 0; k < n; k += layout.labelEvery) {
    ctx.save();
    ctx.translate(margin + (k + 0.5) * cell, margin - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(truncateLabel(ctx, tokens[k] ?? '', margin - 8), 0, 0);
    ctx.restore();
  }
  return layout;
}

/** The colour scale's legend: a horizontal ramp from 0 to 1 with the same square-root stretch. */
function drawScale(canvas: HTMLCanvasElement, theme: Theme): void {
  const w = 160;
  const hgt = 10;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${hgt}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  for (let x = 0; x < w; x++) {
    ctx.fillStyle = rgbCss(scaleColor(attentionToScale(x / (w - 1)), theme.heatStops));
    ctx.fillRect(x, 0, 1, hgt);
  }
  ctx.strokeStyle = theme.contrastBorder ?? theme.grid;
  ctx.strokeRect(0.5, 0.5, w - 1, hgt - 1);
}

/** The test ids, titles and words of one row of maps. */
interface RowSpec {
  kind: MapKind;
  /** Prefix of the row's test ids: heatmap-teacher, heatmap-figure-student, … */
  ids: string;
  /** Test id of the KL readout. */
  klId: string;
  /** In titles: 'Teacher · attention · layer 2 · head 1'. */
  title: string;
  /** In the legend, after the scale. */
  legend: string;
  /** In export file names. */
  file: string;
}

const ROWS: Record<MapKind, RowSpec> = {
  attention: {
    kind: 'attention',
    ids: 'heatmap',
    klId: 'attention-kl',
    title: '',
    legend: 'attention probability',
    file: 'attention',
  },
  'value-relation': {
    kind: 'value-relation',
    ids: 'relation',
    klId: 'value-relation-kl',
    title: 'value relations · ',
    legend: 'value relation softmax(V·Vᵀ/√d), MiniLM',
    file: 'value-relation',
  },
};

/** One sample, layer and head as drawn in a row. */
interface Drawn {
  sample: AttentionSampleEvent;
  layerIndex: number;
  teacher: AttentionMap;
  student: AttentionMap;
  layout: HeatmapLayout;
  head: number;
  scaleMax: number;
  theme: Theme;
}

/** A teacher and a student map of one kind side by side, with their legend, KL readout and export toolbars. */
class MapRow {
  readonly el: HTMLElement;
  readonly maps: HTMLElement;
  private readonly teacherCanvas: HTMLCanvasElement;
  private readonly studentCanvas: HTMLCanvasElement;
  private readonly teacherTitle = h('div', { class: 'heatmap-title' });
  private readonly studentTitle = h('div', { class: 'heatmap-title' });
  private readonly scaleCanvas: HTMLCanvasElement;
  private readonly scaleMaxText: HTMLElement;
  private readonly klText: HTMLElement;
  private scaleCache = { key: '', max: 1 };
  private drawnKey = '';
  current: Drawn | undefined;

  constructor(readonly spec: RowSpec) {
    const id = spec.ids;
    const what = spec.kind === 'attention' ? 'heatmap' : 'value-relation map';
    this.teacherCanvas = h('canvas', { 'data-testid': `${id}-teacher`, role: 'img' });
    this.studentCanvas = h('canvas', { 'data-testid': `${id}-student`, role: 'img' });
    this.scaleCanvas = h('canvas', { 'data-testid': `${id}-scale`, class: 'heatmap-scale' });
    this.scaleMaxText = h('span', { 'data-testid': `${id}-scale-max` });
    this.klText = h('span', { 'data-testid': spec.klId });
    this.maps = h(
      'div',
      { class: 'heatmaps' },
      h(
        'figure',
        { class: 'heatmap', 'data-testid': `${id}-figure-teacher` },
        h(
          'div',
          { class: 'heatmap-head' },
          this.teacherTitle,
          exportToolbar(`the teacher ${what}`, (f) => this.export('teacher', f)),
        ),
        this.teacherCanvas,
      ),
      h(
        'figure',
        { class: 'heatmap', 'data-testid': `${id}-figure-student` },
        h(
          'div',
          { class: 'heatmap-head' },
          this.studentTitle,
          exportToolbar(`the student ${what}`, (f) => this.export('student', f)),
        ),
        this.studentCanvas,
      ),
    );
    this.el = h(
      'div',
      { class: 'heatmap-row', 'data-testid': `${id}-row` },
      this.maps,
      h(
        'div',
        { class: 'heatmap-legend' },
        h('span', {}, '0'),
        this.scaleCanvas,
        this.scaleMaxText,
        h('span', { class: 'muted' }, `${spec.legend} (√ scale, shared by both maps and every evaluation) · `),
        this.klText,
      ),
    );
    this.teacherCanvas.addEventListener('mousemove', (e) => this.hover(e, 'teacher'));
    this.studentCanvas.addEventListener('mousemove', (e) => this.hover(e, 'student'));
  }

  /** Draws the row for this sample, layer and head; hides it when the sample has no maps of its kind. */
  render(
    run: RunData,
    sample: AttentionSampleEvent,
    layerIndex: number,
    head: number,
    headName: string,
    theme: Theme,
    avail: number,
  ): void {
    const layer = sample.layers[layerIndex];
    const pair = mapsOf(layer, this.spec.kind);
    this.el.hidden = !pair;
    if (!pair) {
      this.current = undefined;
      this.drawnKey = '';
      return;
    }
    const { teacher, student } = pairHead(pair, head);
    setText(this.teacherTitle, `Teacher · ${this.spec.title}layer ${layer.teacher} · ${headName}`);
    setText(this.studentTitle, `Student · ${this.spec.title}layer ${layer.student} · ${headName}`);
    setText(this.klText, `KL(teacher ‖ student) = ${formatNumber(meanRowKl(teacher, student), 3)}`);
    const scaleMax = this.scaleMax(run, layerIndex, head);
    setText(this.scaleMaxText, formatNumber(scaleMax, 2));
    const key = `${run.runId}|${sample.step}|${layerIndex}|${head}|${avail}|${scaleMax}|${theme.kind}|${theme.background}|${theme.foreground}`;
    if (key === this.drawnKey && this.current) return;
    this.drawnKey = key;
    const layout = drawHeatmap(this.teacherCanvas, teacher, sample.tokens, avail, theme, scaleMax);
    drawHeatmap(this.studentCanvas, student, sample.tokens, avail, theme, scaleMax);
    drawScale(this.scaleCanvas, theme);
    this.current = { sample, layerIndex, teacher, student, layout, head, scaleMax, theme };
    this.teacherCanvas.dataset.step = String(sample.step);
    this.studentCanvas.dataset.step = String(sample.step);
  }

  /**
   * The top of the colour scale: the largest value in this layer and head over every sample,
   * teacher and student. Small models attend almost uniformly, and on a fixed 0–1 scale their maps
   * would be one flat colour; a scale shared by both maps and all evaluations keeps them comparable
   * while the slider moves.
   */
  private scaleMax(run: RunData, layerIndex: number, head: number): number {
    const key = `${run.runId}|${run.samples.length}|${run.samples[run.samples.length - 1]?.step}|${layerIndex}|${head}`;
    if (key !== this.scaleCache.key)
      this.scaleCache = { key, max: sharedScaleMax(run.samples, layerIndex, head, this.spec.kind) };
    return this.scaleCache.max;
  }

  /**
   * Sends one map to the host: the canvas with its title (PNG), a rect per cell (SVG), or the
   * values as a query × key matrix with the token labels (CSV).
   */
  export(which: 'teacher' | 'student', format: ExportFormat): void {
    const cur = this.current;
    if (!cur) return;
    const { sample, layout, head, scaleMax, theme } = cur;
    const layer = sample.layers[cur.layerIndex];
    const map = which === 'teacher' ? cur.teacher : cur.student;
    const title = (which === 'teacher' ? this.teacherTitle : this.studentTitle).textContent ?? which;
    const n = Math.min(map.length, sample.tokens.length || map.length);
    const tokens = sample.tokens.slice(0, n);
    const name = exportName(
      `${this.spec.file}-${which}-l${which === 'teacher' ? layer.teacher : layer.student}-${head < 0 ? 'mean' : `h${head + 1}`}-step${sample.step}`,
    );
    let data: string;
    if (format === 'csv') data = matrixCsv('query \\ key', tokens, tokens, map);
    else if (format === 'svg') {
      const color = (p: number): string => rgbCss(scaleColor(attentionToScale(p / scaleMax), theme.heatStops));
      data = heatmapSvg({
        title: `${title} · step ${sample.step}`,
        tokens,
        map,
        color,
        cell: layout.cell,
        colors: theme,
        fontFamily: theme.fontFamily,
        fontSize: theme.fontSize,
      });
    } else {
      const canvas = which === 'teacher' ? this.teacherCanvas : this.studentCanvas;
      data = composePng(canvas, window.devicePixelRatio || 1, `${title} · step ${sample.step}`, theme);
    }
    sendExport(format, name, data);
  }

  invalidate(): void {
    this.drawnKey = '';
  }

  private hover(e: MouseEvent, which: 'teacher' | 'student'): void {
    const cur = this.current;
    if (!cur) return;
    const { layout } = cur;
    const canvas = which === 'teacher' ? this.teacherCanvas : this.studentCanvas;
    const rect = canvas.getBoundingClientRect();
    const k = Math.floor((e.clientX - rect.left - layout.margin) / layout.cell);
    const q = Math.floor((e.clientY - rect.top - layout.margin) / layout.cell);
    const map = which === 'teacher' ? cur.teacher : cur.student;
    const tokens = cur.sample.tokens;
    canvas.title =
      q >= 0 && k >= 0 && q < map.length && k < (map[q]?.length ?? 0)
        ? `${tokens[q]} → ${tokens[k]}: ${formatNumber(map[q][k], 3)}`
        : '';
  }
}

/**
 * The Attention tab: the attention maps of teacher and student, and below them, in runs that train
 * value-relation, MiniLM's value relations of the same layer and head; one layer, head and
 * evaluation selection drives both rows.
 */
export class AttentionView {
  readonly el: HTMLElement;
  private readonly layerSelect: VscodeSingleSelect;
  private readonly headSelect: VscodeSingleSelect;
  private readonly slider: HTMLInputElement;
  private readonly sliderLabel: HTMLElement;
  private readonly rows: Record<MapKind, MapRow> = {
    attention: new MapRow(ROWS.attention),
    'value-relation': new MapRow(ROWS['value-relation']),
  };
  private readonly body: HTMLElement;
  private readonly emptyNote: HTMLElement;
  private layerOptionsKey = '';
  private headOptionsKey = '';

  constructor(
    private readonly ui: () => UiState,
    private readonly updateUi: (patch: Partial<UiState>) => void,
  ) {
    this.layerSelect = h('vscode-single-select', { 'data-testid': 'attention-layer', 'aria-label': 'Mapped layer' });
    this.headSelect = h('vscode-single-select', { 'data-testid': 'attention-head', 'aria-label': 'Head' });
    this.slider = h('input', {
      type: 'range',
      min: 0,
      max: 0,
      step: 1,
      value: 0,
      'data-testid': 'attention-slider',
      'aria-label': 'Evaluation',
    });
    this.sliderLabel = h('span', { class: 'slider-label', 'data-testid': 'attention-step' });
    this.emptyNote = h(
      'p',
      { class: 'empty-note' },
      'No attention samples yet: the trainer records one at each evaluation of a run that distils internal layers.',
    );
    this.body = h(
      'div',
      { class: 'attention-body' },
      h(
        'div',
        { class: 'controls' },
        h('label', { class: 'control' }, h('span', {}, 'Layer'), this.layerSelect),
        h('label', { class: 'control' }, h('span', {}, 'Head'), this.headSelect),
        h('label', { class: 'control control-slider' }, h('span', {}, 'Evaluation'), this.slider, this.sliderLabel),
      ),
      ...MAP_KINDS.map((k) => this.rows[k].el),
    );
    this.el = h('div', { class: 'attention', 'data-testid': 'attention-view' }, this.emptyNote, this.body);

    this.slider.addEventListener('input', () => {
      const sample = Number(this.slider.value);
      this.updateUi({ sample, followLatest: sample === Number(this.slider.max) });
    });
    this.layerSelect.addEventListener('change', () => this.updateUi({ layer: Number(this.layerSelect.value) }));
    this.headSelect.addEventListener('change', () => this.updateUi({ head: Number(this.headSelect.value) }));
  }

  private select(run: RunData, ui: UiState): { sample: AttentionSampleEvent; layerIndex: number } | undefined {
    const samples = run.samples;
    if (samples.length === 0) return undefined;
    const sampleIndex = ui.followLatest ? samples.length - 1 : Math.min(ui.sample, samples.length - 1);
    const sample = samples[sampleIndex];
    if (sample.layers.length === 0) return undefined;
    return { sample, layerIndex: Math.min(ui.layer, sample.layers.length - 1) };
  }

  render(run: RunData, theme: Theme): void {
    const ui = this.ui();
    const samples = run.samples;
    const sel = this.select(run, ui);
    this.emptyNote.hidden = sel !== undefined;
    this.body.hidden = sel === undefined;
    if (!sel) return;

    // selectors: rebuilt only when the set of options changes
    const layers = sel.sample.layers;
    const layerKey = layers.map((l) => `${l.student}:${l.teacher}`).join(',');
    if (layerKey !== this.layerOptionsKey) {
      this.layerOptionsKey = layerKey;
      setChildren(
        this.layerSelect,
        ...layers.map((l, i) => h('vscode-option', { value: i }, `student L${l.student} ↔ teacher L${l.teacher}`)),
      );
    }
    const heads = Math.max(layers[sel.layerIndex].teacherMaps.length, layers[sel.layerIndex].studentMaps.length);
    const headKey = String(heads);
    if (headKey !== this.headOptionsKey) {
      this.headOptionsKey = headKey;
      setChildren(
        this.headSelect,
        h('vscode-option', { value: -1 }, 'average over heads'),
        ...Array.from({ length: heads }, (_, i) => h('vscode-option', { value: i }, `head ${i + 1}`)),
      );
    }
    if (this.layerSelect.value !== String(sel.layerIndex)) this.layerSelect.value = String(sel.layerIndex);
    const head = ui.head < heads ? ui.head : -1;
    if (this.headSelect.value !== String(head)) this.headSelect.value = String(head);

    const sampleIndex = samples.indexOf(sel.sample);
    this.slider.max = String(samples.length - 1);
    this.slider.value = String(sampleIndex);
    this.slider.disabled = samples.length < 2;
    setText(this.sliderLabel, `step ${sel.sample.step} (${sampleIndex + 1}/${samples.length})`);

    const headName = head < 0 ? 'mean of heads' : `head ${head + 1}`;
    const avail = Math.max(120, Math.floor((this.rows.attention.maps.clientWidth || 800) / 2) - 24);
    for (const kind of MAP_KINDS) this.rows[kind].render(run, sel.sample, sel.layerIndex, head, headName, theme, avail);
  }

  /** Sends one map to the host (see MapRow.export); the value-relation row's only when it is shown. */
  export(which: 'teacher' | 'student', format: ExportFormat, kind: MapKind = 'attention'): void {
    this.rows[kind].export(which, format);
  }

  /** Forces a redraw (theme change). */
  invalidate(): void {
    for (const kind of MAP_KINDS) this.rows[kind].invalidate();
  }
}
