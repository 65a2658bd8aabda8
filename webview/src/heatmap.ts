/**
 * Attention heatmaps: for the fixed dev sentence of the run's 'attention-sample' events, the
 * teacher's and the student's maps side by side for one mapped layer and head (or the average over
 * heads), with a slider over the evaluations so the student's attention can be watched converging.
 */
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { AttentionSampleEvent } from '../../src/protocol/events';
import type { ExportFormat } from '../../src/protocol/webview-messages';
import { attentionToScale, buildLut, meanRowKl, rgbCss, scaleColor, selectHead, type AttentionMap } from './colorscale';
import { h, setChildren, setText } from './dom';
import { composePng } from './export/canvas-png';
import { matrixCsv } from './export/chart-csv';
import { heatmapSvg } from './export/heatmap-svg';
import { exportName, sendExport } from './export/post';
import { exportToolbar } from './export/toolbar';
import { formatNumber } from './format';
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
export function drawHeatmap(canvas: HTMLCanvasElement, map: AttentionMap, tokens: readonly string[], avail: number, theme: Theme, scaleMax = 1): HeatmapLayout {
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

interface Selection {
  sample: AttentionSampleEvent;
  layerIndex: number;
  teacher: AttentionMap;
  student: AttentionMap;
}

export class AttentionView {
  readonly el: HTMLElement;
  private readonly layerSelect: VscodeSingleSelect;
  private readonly headSelect: VscodeSingleSelect;
  private readonly slider: HTMLInputElement;
  private readonly sliderLabel: HTMLElement;
  private readonly teacherCanvas: HTMLCanvasElement;
  private readonly studentCanvas: HTMLCanvasElement;
  private readonly teacherTitle: HTMLElement;
  private readonly studentTitle: HTMLElement;
  private readonly scaleCanvas: HTMLCanvasElement;
  private readonly klText: HTMLElement;
  private readonly scaleMaxText = h('span', { 'data-testid': 'heatmap-scale-max' });
  private scaleCache = { key: '', max: 1 };
  private readonly body: HTMLElement;
  private readonly emptyNote: HTMLElement;
  private readonly maps: HTMLElement;
  private layerOptionsKey = '';
  private headOptionsKey = '';
  private drawnKey = '';

  constructor(
    private readonly ui: () => UiState,
    private readonly updateUi: (patch: Partial<UiState>) => void,
  ) {
    this.layerSelect = h('vscode-single-select', { 'data-testid': 'attention-layer', 'aria-label': 'Mapped layer' });
    this.headSelect = h('vscode-single-select', { 'data-testid': 'attention-head', 'aria-label': 'Head' });
    this.slider = h('input', { type: 'range', min: 0, max: 0, step: 1, value: 0, 'data-testid': 'attention-slider', 'aria-label': 'Evaluation' });
    this.sliderLabel = h('span', { class: 'slider-label', 'data-testid': 'attention-step' });
    this.teacherCanvas = h('canvas', { 'data-testid': 'heatmap-teacher', role: 'img' });
    this.studentCanvas = h('canvas', { 'data-testid': 'heatmap-student', role: 'img' });
    this.teacherTitle = h('div', { class: 'heatmap-title' });
    this.studentTitle = h('div', { class: 'heatmap-title' });
    this.scaleCanvas = h('canvas', { 'data-testid': 'heatmap-scale', class: 'heatmap-scale' });
    this.klText = h('span', { 'data-testid': 'attention-kl' });
    this.emptyNote = h('p', { class: 'empty-note' }, 'No attention samples yet: the trainer records one at each evaluation of a run that distils internal layers.');
    this.maps = h(
      'div',
      { class: 'heatmaps' },
      h('figure', { class: 'heatmap', 'data-testid': 'heatmap-figure-teacher' }, h('div', { class: 'heatmap-head' }, this.teacherTitle, exportToolbar('the teacher heatmap', (f) => this.export('teacher', f))), this.teacherCanvas),
      h('figure', { class: 'heatmap', 'data-testid': 'heatmap-figure-student' }, h('div', { class: 'heatmap-head' }, this.studentTitle, exportToolbar('the student heatmap', (f) => this.export('student', f))), this.studentCanvas),
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
      this.maps,
      h('div', { class: 'heatmap-legend' }, h('span', {}, '0'), this.scaleCanvas, this.scaleMaxText, h('span', { class: 'muted' }, 'attention probability (√ scale, shared by both maps and every evaluation) · '), this.klText),
    );
    this.el = h('div', { class: 'attention', 'data-testid': 'attention-view' }, this.emptyNote, this.body);

    this.slider.addEventListener('input', () => {
      const sample = Number(this.slider.value);
      this.updateUi({ sample, followLatest: sample === Number(this.slider.max) });
    });
    this.layerSelect.addEventListener('change', () => this.updateUi({ layer: Number(this.layerSelect.value) }));
    this.headSelect.addEventListener('change', () => this.updateUi({ head: Number(this.headSelect.value) }));
    this.teacherCanvas.addEventListener('mousemove', (e) => this.hover(e, 'teacher'));
    this.studentCanvas.addEventListener('mousemove', (e) => this.hover(e, 'student'));
  }

  private current: { sel: Selection; layout: HeatmapLayout; head: number; scaleMax: number; theme: Theme } | undefined;

  private select(run: RunData, ui: UiState): Selection | undefined {
    const samples = run.samples;
    if (samples.length === 0) return undefined;
    const sampleIndex = ui.followLatest ? samples.length - 1 : Math.min(ui.sample, samples.length - 1);
    const sample = samples[sampleIndex];
    if (sample.layers.length === 0) return undefined;
    const layerIndex = Math.min(ui.layer, sample.layers.length - 1);
    const layer = sample.layers[layerIndex];
    return { sample, layerIndex, teacher: selectHead(layer.teacherMaps, ui.head), student: selectHead(layer.studentMaps, ui.head) };
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
      setChildren(this.layerSelect, ...layers.map((l, i) => h('vscode-option', { value: i }, `student L${l.student} ↔ teacher L${l.teacher}`)));
    }
    const heads = Math.max(layers[sel.layerIndex].teacherMaps.length, layers[sel.layerIndex].studentMaps.length);
    const headKey = String(heads);
    if (headKey !== this.headOptionsKey) {
      this.headOptionsKey = headKey;
      setChildren(this.headSelect, h('vscode-option', { value: -1 }, 'average over heads'), ...Array.from({ length: heads }, (_, i) => h('vscode-option', { value: i }, `head ${i + 1}`)));
    }
    if (this.layerSelect.value !== String(sel.layerIndex)) this.layerSelect.value = String(sel.layerIndex);
    const head = ui.head < heads ? ui.head : -1;
    if (this.headSelect.value !== String(head)) this.headSelect.value = String(head);

    const sampleIndex = samples.indexOf(sel.sample);
    this.slider.max = String(samples.length - 1);
    this.slider.value = String(sampleIndex);
    this.slider.disabled = samples.length < 2;
    setText(this.sliderLabel, `step ${sel.sample.step} (${sampleIndex + 1}/${samples.length})`);

    const layer = layers[sel.layerIndex];
    const headName = head < 0 ? 'mean of heads' : `head ${head + 1}`;
    setText(this.teacherTitle, `Teacher · layer ${layer.teacher} · ${headName}`);
    setText(this.studentTitle, `Student · layer ${layer.student} · ${headName}`);
    setText(this.klText, `KL(teacher ‖ student) = ${formatNumber(meanRowKl(sel.teacher, sel.student), 3)}`);

    const scaleMax = this.scaleMax(run, sel.layerIndex, head);
    setText(this.scaleMaxText, formatNumber(scaleMax, 2));
    const avail = Math.max(120, Math.floor((this.maps.clientWidth || 800) / 2) - 24);
    const key = `${run.runId}|${sel.sample.step}|${sel.layerIndex}|${head}|${avail}|${scaleMax}|${theme.kind}|${theme.background}|${theme.foreground}`;
    if (key === this.drawnKey && this.current) return;
    this.drawnKey = key;
    const layout = drawHeatmap(this.teacherCanvas, sel.teacher, sel.sample.tokens, avail, theme, scaleMax);
    drawHeatmap(this.studentCanvas, sel.student, sel.sample.tokens, avail, theme, scaleMax);
    drawScale(this.scaleCanvas, theme);
    this.current = { sel, layout, head, scaleMax, theme };
    this.teacherCanvas.dataset.step = String(sel.sample.step);
    this.studentCanvas.dataset.step = String(sel.sample.step);
  }

  /**
   * The top of the colour scale: the largest probability in this layer and head over every
   * sample, teacher and student. Small models attend almost uniformly, and on a fixed 0–1 scale
   * their maps would be one flat colour; a scale shared by both maps and all evaluations keeps
   * them comparable while the slider moves.
   */
  private scaleMax(run: RunData, layerIndex: number, head: number): number {
    const key = `${run.runId}|${run.samples.length}|${run.samples[run.samples.length - 1]?.step}|${layerIndex}|${head}`;
    if (key === this.scaleCache.key) return this.scaleCache.max;
    let max = 0;
    for (const sample of run.samples) {
      const layer = sample.layers[layerIndex];
      if (!layer) continue;
      for (const maps of [layer.teacherMaps, layer.studentMaps]) {
        for (const row of selectHead(maps, head)) for (const p of row) if (p > max) max = p;
      }
    }
    this.scaleCache = { key, max: max > 0 ? Math.min(1, max) : 1 };
    return this.scaleCache.max;
  }

  /**
   * Sends one map to the host: the canvas with its title (PNG), a rect per cell (SVG), or the
   * probabilities as a query × key matrix with the token labels (CSV).
   */
  export(which: 'teacher' | 'student', format: ExportFormat): void {
    const cur = this.current;
    if (!cur) return;
    const { sel, layout, head, scaleMax, theme } = cur;
    const layer = sel.sample.layers[sel.layerIndex];
    const map = which === 'teacher' ? sel.teacher : sel.student;
    const title = (which === 'teacher' ? this.teacherTitle : this.studentTitle).textContent ?? which;
    const n = Math.min(map.length, sel.sample.tokens.length || map.length);
    const tokens = sel.sample.tokens.slice(0, n);
    const name = exportName(`attention-${which}-l${which === 'teacher' ? layer.teacher : layer.student}-${head < 0 ? 'mean' : `h${head + 1}`}-step${sel.sample.step}`);
    let data: string;
    if (format === 'csv') data = matrixCsv('query \\ key', tokens, tokens, map);
    else if (format === 'svg') {
      const color = (p: number): string => rgbCss(scaleColor(attentionToScale(p / scaleMax), theme.heatStops));
      data = heatmapSvg({ title: `${title} · step ${sel.sample.step}`, tokens, map, color, cell: layout.cell, colors: theme, fontFamily: theme.fontFamily, fontSize: theme.fontSize });
    } else {
      const canvas = which === 'teacher' ? this.teacherCanvas : this.studentCanvas;
      data = composePng(canvas, window.devicePixelRatio || 1, `${title} · step ${sel.sample.step}`, theme);
    }
    sendExport(format, name, data);
  }

  /** Forces a redraw (theme change). */
  invalidate(): void {
    this.drawnKey = '';
  }

  private hover(e: MouseEvent, which: 'teacher' | 'student'): void {
    if (!this.current) return;
    const { sel, layout } = this.current;
    const canvas = which === 'teacher' ? this.teacherCanvas : this.studentCanvas;
    const rect = canvas.getBoundingClientRect();
    const k = Math.floor((e.clientX - rect.left - layout.margin) / layout.cell);
    const q = Math.floor((e.clientY - rect.top - layout.margin) / layout.cell);
    const map = which === 'teacher' ? sel.teacher : sel.student;
    const tokens = sel.sample.tokens;
    canvas.title = q >= 0 && k >= 0 && q < map.length && k < (map[q]?.length ?? 0) ? `${tokens[q]} → ${tokens[k]}: ${formatNumber(map[q][k], 3)}` : '';
  }
}
