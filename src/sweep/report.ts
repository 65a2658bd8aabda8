/**
 * `distillery report <sweep folder>`: reads every cell's run folder (made here or by cluster
 * tasks on shared storage) and writes a Markdown report in the paper's shape: rows = algorithms
 * (and any other varied field), columns = tasks × data fractions, cells = the dev main metric as
 * mean ± std over seeds; per-layer dev attention-KL to the teacher; each algorithm against a
 * baseline (soft labels), paired by seed; SVG plots next to the report;
 * the commands that reproduce it; which backends ran; which cells finished, failed or are missing.
 */
import * as path from 'node:path';
import { INTERNAL_ALGORITHMS } from '../config/types';
import { AttentionSampleEvent, AttentionSampleLayer } from '../protocol/events';
import { readEvents, RunSummary, summariseRun } from '../train/run-summary';
import { writeFileAtomic } from '../util/atomic-fs';
import { UserError } from '../util/errors';
import { currentCellRun, findCellRuns } from './cell-runs';
import { CellKind, CellValue, RUNS_DIR } from './plan';
import { CELLS_INDEX, ManifestAxis, manifestPath, readManifest, SweepManifest } from './sweep-folder';
import { barChart, HeatmapRow, heatmaps, lineChart, Series } from './svg';
import { slug } from './grid';
import { meanStd, Stat } from './stats';
import { PairedRun, pairedTables, PairedTable } from './paired';

export { meanStd, type Stat } from './stats';

export type ReportStatus = 'finished' | 'failed' | 'stopped' | 'unfinished' | 'missing';

export interface ReportCell {
  id: string;
  kind: CellKind;
  values: Record<string, CellValue>;
  status: ReportStatus;
  /** Absolute. */
  runDir?: string;
  summary?: RunSummary;
  /** Why it did not finish, when known. */
  reason?: string;
}

export interface ResultTable {
  /** The header of each value column. */
  columns: string[];
  rows: Array<{ label: string; teacher: boolean; values: Array<Stat | undefined> }>;
  /** The metric name(s) the values are. */
  metric: string;
}

export interface ReportOptions {
  /** The Markdown file (default <sweep>/report.md); SVG files go beside it. */
  out?: string;
  /** The cell whose attention maps are drawn (default: the best finished internal-distillation cell). */
  sampleCell?: string;
  /** The command line that made this report, shown under "Reproduce". */
  command?: string;
  /**
   * The algorithm every other one is paired with, seed by seed (a label of the grid's algorithms
   * axis). Default: "soft" when the grid has it; without it the paired section is left out.
   */
  baseline?: string;
}

export interface SweepReport {
  file: string;
  markdown: string;
  svgFiles: string[];
  /** `<report>-runs.json`: every cell's run summary. */
  runsFile: string;
  cells: ReportCell[];
  results: ResultTable;
  /** One per table column (task × fraction): per-layer attention-KL. */
  attentionKl: Array<{ column: string; table: ResultTable }>;
  /** Each algorithm minus the baseline, paired by seed; empty when there is no baseline. */
  paired: PairedTable[];
  sampleCell?: string;
}

// ---- reading the sweep -----------------------------------------------------------------------

export function loadReportCells(sweepDir: string, manifest: SweepManifest): ReportCell[] {
  const runs = findCellRuns(path.join(sweepDir, RUNS_DIR));
  return [...manifest.teachers, ...manifest.cells].map((c): ReportCell => {
    const run = currentCellRun(runs.get(c.id), { checkPid: false });
    const base = { id: c.id, kind: c.kind, values: c.values };
    if (!run) return { ...base, status: 'missing', reason: c.lastError };
    const summary = summariseRun(run.runDir);
    const status: ReportStatus =
      run.status === 'finished' || run.status === 'failed' || run.status === 'stopped' ? run.status : 'unfinished';
    const reason = status === 'finished' ? undefined : (summary.failure ?? run.info?.message ?? c.lastError);
    return { ...base, status, runDir: run.runDir, summary, ...(reason ? { reason } : {}) };
  });
}

interface Layout {
  rowAxes: ManifestAxis[];
  colAxes: ManifestAxis[];
  taskAxis?: ManifestAxis;
  fractionAxis?: ManifestAxis;
  seedAxis?: ManifestAxis;
  rows: Array<{ key: string; label: string }>;
  cols: Array<{ key: string; label: string; task?: string; fraction?: string }>;
}

function labelOf(c: { values: Record<string, CellValue> }, a: ManifestAxis): string {
  return c.values[a.key]?.label ?? '?';
}

function layout(m: SweepManifest): Layout {
  const taskAxis = m.axes.find((a) => a.kind === 'task');
  const fractionAxis = m.axes.find((a) => a.kind === 'fraction');
  const seedAxis = m.axes.find((a) => a.kind === 'seed');
  const colAxes = [taskAxis, fractionAxis].filter((a): a is ManifestAxis => a !== undefined);
  const rowAxes = [...m.axes.filter((a) => a.kind === 'algorithm'), ...m.axes.filter((a) => a.kind === 'field')];
  const product = (axes: ManifestAxis[]): string[][] =>
    axes.reduce<string[][]>((acc, a) => acc.flatMap((p) => a.labels.map((l) => [...p, l])), [[]]);
  const rows = product(rowAxes).map((ls) => ({ key: ls.join('\u0000'), label: ls.join(' · ') || 'student' }));
  const cols = product(colAxes).map((ls) => {
    const task = taskAxis ? ls[0] : undefined;
    const fraction = fractionAxis ? ls[ls.length - 1] : undefined;
    return { key: ls.join('\u0000'), label: ls.join(' ') || 'dev', task, fraction };
  });
  return { rowAxes, colAxes, taskAxis, fractionAxis, seedAxis, rows, cols };
}

function rowKey(c: ReportCell, l: Layout): string {
  return l.rowAxes.map((a) => labelOf(c, a)).join('\u0000');
}

function colKey(c: ReportCell, l: Layout): string {
  return l.colAxes.map((a) => labelOf(c, a)).join('\u0000');
}

// ---- tables ----------------------------------------------------------------------------------

function resultTable(cells: readonly ReportCell[], l: Layout): ResultTable {
  const students = cells.filter((c) => c.kind === 'student' && c.status === 'finished' && c.summary?.best);
  const metrics = new Set(students.map((c) => c.summary!.best!.metric));
  const rows: ResultTable['rows'] = [];
  // Teachers first, as the paper lists its BERT-base teacher above the students.
  for (const t of cells.filter((c) => c.kind === 'teacher')) {
    const m = t.summary?.teacherMetric;
    const tLabels = Object.values(t.values).map((v) => v.label);
    rows.push({
      label: tLabels.length ? `teacher (${tLabels.join(' · ')})` : 'teacher',
      teacher: true,
      values: l.cols.map((col) => {
        if (!m) return undefined;
        if (l.taskAxis && col.task !== t.values[l.taskAxis.key]?.label) return undefined;
        return { mean: m.value, std: 0, n: 1 };
      }),
    });
    if (m) metrics.add(m.name);
  }
  for (const r of l.rows) {
    rows.push({
      label: r.label,
      teacher: false,
      values: l.cols.map((col) =>
        meanStd(
          students.filter((c) => rowKey(c, l) === r.key && colKey(c, l) === col.key).map((c) => c.summary!.best!.value),
        ),
      ),
    });
  }
  return { columns: l.cols.map((c) => c.label), rows, metric: [...metrics].join(' / ') || 'metric' };
}

interface LayerKey {
  student: number;
  teacher: number;
}

function layerTable(cells: readonly ReportCell[], l: Layout, col: Layout['cols'][number]): ResultTable {
  const here = cells.filter(
    (c) =>
      c.kind === 'student' &&
      c.status === 'finished' &&
      colKey(c, l) === col.key &&
      c.summary &&
      c.summary.lastPerLayer.length,
  );
  const layers: LayerKey[] = [];
  for (const c of here) {
    for (const p of c.summary!.lastPerLayer)
      if (!layers.some((x) => x.student === p.student && x.teacher === p.teacher))
        layers.push({ student: p.student, teacher: p.teacher });
  }
  layers.sort((a, b) => a.student - b.student || a.teacher - b.teacher);
  return {
    columns: layers.map((p) => `L${p.student}↔T${p.teacher}`),
    metric: 'attention-KL',
    rows: l.rows
      .map((r) => ({
        label: r.label,
        teacher: false,
        values: layers.map((p) =>
          meanStd(
            here
              .filter((c) => rowKey(c, l) === r.key)
              .flatMap((c) =>
                c
                  .summary!.lastPerLayer.filter((x) => x.student === p.student && x.teacher === p.teacher)
                  .map((x) => x.attentionKl),
              ),
          ),
        ),
      }))
      .filter((r) => r.values.some((v) => v !== undefined)),
  };
}

function pct(s: Stat): string {
  return s.n > 1 ? `${(s.mean * 100).toFixed(1)} ± ${(s.std * 100).toFixed(1)}` : (s.mean * 100).toFixed(1);
}

function small(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-4 ? x.toExponential(1) : x.toFixed(4);
}

function kl(s: Stat): string {
  return s.n > 1 ? `${small(s.mean)} ± ${small(s.std)}` : small(s.mean);
}

function mdRow(cells: readonly string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
}

/** A Markdown table; the best student mean per column in bold (`higherIsBetter` decides which). */
function mdTable(
  t: ResultTable,
  first: string,
  fmt: (s: Stat) => string,
  higherIsBetter: boolean,
  expectedN: number,
): string {
  const best = t.columns.map((_, j) => {
    const means = t.rows
      .filter((r) => !r.teacher)
      .map((r) => r.values[j]?.mean)
      .filter((x): x is number => x !== undefined);
    if (means.length < 2) return undefined;
    const b = higherIsBetter ? Math.max(...means) : Math.min(...means);
    // A tie across every row singles nothing out.
    return means.every((m) => m === b) ? undefined : b;
  });
  const lines = [mdRow([first, ...t.columns]), mdRow([first, ...t.columns].map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const r of t.rows) {
    lines.push(
      mdRow([
        r.teacher ? `*${r.label}*` : r.label,
        ...r.values.map((v, j) => {
          if (!v) return '—';
          const s = `${fmt(v)}${!r.teacher && v.n < expectedN ? ` (n=${v.n})` : ''}`;
          return !r.teacher && best[j] !== undefined && v.mean === best[j] ? `**${s}**` : r.teacher ? `*${s}*` : s;
        }),
      ]),
    );
  }
  return lines.join('\n');
}

// ---- attention sample ------------------------------------------------------------------------

function headAverage(maps: number[][][]): number[][] {
  const h = maps.length;
  if (h === 0) return [];
  return maps[0].map((row, q) => row.map((_, k) => maps.reduce((a, m) => a + (m[q]?.[k] ?? 0), 0) / h));
}

/** KL(teacher ‖ student) per query row, averaged over heads and rows, as the loss defines it. */
export function sampleKl(layer: AttentionSampleLayer): number {
  let total = 0;
  let count = 0;
  layer.teacherMaps.forEach((tHead, h) => {
    const sHead = layer.studentMaps[h] ?? [];
    tHead.forEach((tRow, q) => {
      let klRow = 0;
      tRow.forEach((t, k) => {
        const s = sHead[q]?.[k] ?? 0;
        if (t > 0) klRow += t * Math.log(t / Math.max(s, 1e-12));
      });
      total += klRow;
      count++;
    });
  });
  return count ? total / count : NaN;
}

function lastAttentionSample(runDir: string): AttentionSampleEvent | undefined {
  const samples = readEvents(path.join(runDir, 'events.jsonl')).filter(
    (e): e is AttentionSampleEvent => e.type === 'attention-sample',
  );
  return samples[samples.length - 1];
}

function pickSampleCell(cells: readonly ReportCell[], wanted: string | undefined): ReportCell | undefined {
  if (wanted) {
    const c = cells.find((x) => x.id === wanted);
    if (!c)
      throw new UserError(`no cell "${wanted}" in this sweep`, {
        where: '--sample-cell',
        fix: `cells: ${cells
          .filter((x) => x.kind === 'student')
          .slice(0, 6)
          .map((x) => x.id)
          .join(', ')}…`,
      });
    if (!c.runDir) throw new UserError(`cell "${wanted}" has no run yet`, { where: '--sample-cell' });
    return c;
  }
  const finished = cells.filter((c) => c.kind === 'student' && c.status === 'finished' && c.summary?.best);
  const score = (c: ReportCell) => c.summary!.best!.value;
  const internal = finished.filter((c) =>
    (INTERNAL_ALGORITHMS as readonly string[]).includes(c.summary!.algorithm ?? ''),
  );
  const pool = internal.length ? internal : finished;
  return [...pool].sort((a, b) => score(b) - score(a))[0];
}

// ---- the report ------------------------------------------------------------------------------

function relLink(fromDir: string, p: string): string {
  return path.relative(fromDir, p).split(path.sep).join('/') || '.';
}

/** One cell as the committed runs file records it: paths relative to the report's folder. */
function runRecord(c: ReportCell, outDir: string): Record<string, unknown> {
  const values = Object.fromEntries(Object.entries(c.values).map(([k, v]) => [k, v.label]));
  const base = { id: c.id, kind: c.kind, values, status: c.status, ...(c.reason ? { reason: c.reason } : {}) };
  if (!c.runDir || !c.summary) return base;
  const { runDir: _abs, ...summary } = c.summary;
  return { ...base, runDir: relLink(outDir, c.runDir), summary };
}

function fileSuffix(label: string): string {
  return label ? `-${slug(label)}` : '';
}

/** What the report's sections share. */
interface ReportContext {
  dir: string;
  manifest: SweepManifest;
  /** The report file and its folder. */
  out: string;
  outDir: string;
  cells: ReportCell[];
  l: Layout;
  /** Seeds per table cell. */
  expectedN: number;
  /** Writes `<report>-<name>.svg` beside the report; returns its file name for a link. */
  writeSvg(name: string, svg: string): string;
}

/** The title and how many cells finished, failed, stopped, … */
function overviewSection({ manifest, cells, outDir, dir }: ReportContext): string[] {
  const students = cells.filter((c) => c.kind === 'student');
  const teachers = cells.filter((c) => c.kind === 'teacher');
  const byStatus = (s: ReportStatus) => cells.filter((c) => c.status === s).length;
  return [
    `# Sweep report: ${manifest.name}`,
    '',
    `${cells.length} cell${cells.length === 1 ? '' : 's'} (${students.length} student${teachers.length ? `, ${teachers.length} shared teacher` : ''}${teachers.length > 1 ? 's' : ''}) from \`${relLink(outDir, dir)}\`: ` +
      `${byStatus('finished')} finished, ${byStatus('failed')} failed, ${byStatus('stopped')} stopped, ${byStatus('unfinished')} unfinished, ${byStatus('missing')} missing. ` +
      `Grid: ${manifest.axes.map((a) => `${a.key} (${a.labels.length})`).join(' × ')}.`,
    '',
  ];
}

/** The main table (dev metric per algorithm and column) and its plot. */
function resultsSection({ cells, l, expectedN, writeSvg }: ReportContext, results: ResultTable): string[] {
  const teachers = cells.filter((c) => c.kind === 'teacher');
  const md: string[] = [];
  md.push(`## Dev ${results.metric}`, '');
  md.push(
    `Mean ± standard deviation over ${l.seedAxis ? `${expectedN} seed${expectedN === 1 ? '' : 's'}` : 'runs'}, ×100; best student per column in bold; (n=…) marks columns with fewer finished seeds. ` +
      `Rows: ${l.rowAxes.map((a) => a.key).join(' × ') || 'the student'}; columns: ${l.colAxes.map((a) => a.key).join(' × ') || 'the dev set'}.` +
      `${teachers.length ? ' The teacher was trained once (base seed and data fraction) and shared by every student.' : ''}`,
    '',
  );
  md.push(mdTable(results, 'algorithm', pct, true, expectedN), '');
  const studentRows = results.rows.filter((r) => !r.teacher);
  const taskGroups = l.taskAxis ? l.taskAxis.labels : [''];
  if (l.fractionAxis) {
    for (const task of taskGroups) {
      const colIdx = l.cols.map((c, i) => ({ c, i })).filter(({ c }) => !l.taskAxis || c.task === task);
      const series: Series[] = studentRows
        .map((r) => ({
          name: r.label,
          points: colIdx
            .map(({ i }, x) => ({ x, v: r.values[i] }))
            .filter((p) => p.v)
            .map((p) => ({ x: p.x, y: p.v!.mean * 100, err: p.v!.std * 100 })),
        }))
        .filter((s) => s.points.length);
      if (!series.length) continue;
      const name = writeSvg(
        `metric-vs-fraction${fileSuffix(task)}`,
        lineChart(
          {
            title: `${task ? `${task}: ` : ''}dev ${results.metric} vs training data`,
            xLabel: 'fraction of the training set',
            yLabel: `dev ${results.metric} ×100 (mean ± std)`,
          },
          colIdx.map(({ c }) => c.fraction ?? c.label),
          series,
        ),
      );
      md.push(`![${task ? `${task}: ` : ''}dev ${results.metric} vs data fraction](${name})`, '');
    }
  } else if (studentRows.some((r) => r.values.some(Boolean))) {
    const series: Series[] = studentRows.map((r) => ({
      name: r.label,
      points: r.values
        .map((v, x) => ({ x, v }))
        .filter((p) => p.v)
        .map((p) => ({ x: p.x, y: p.v!.mean * 100, err: p.v!.std * 100 })),
    }));
    const name = writeSvg(
      'metric',
      barChart(
        {
          title: `dev ${results.metric}`,
          xLabel: l.colAxes.map((a) => a.key).join(' × ') || 'dev set',
          yLabel: `dev ${results.metric} ×100 (mean ± std)`,
        },
        results.columns,
        series,
      ),
    );
    md.push(`![dev ${results.metric}](${name})`, '');
  }
  return md;
}

/** Per-layer attention-KL to the teacher: a table and a chart per column. */
function attentionKlSection({ cells, l, expectedN, writeSvg }: ReportContext): {
  md: string[];
  attentionKl: SweepReport['attentionKl'];
} {
  const md: string[] = [];
  md.push('## Attention-KL to the teacher, per layer', '');
  md.push(
    'KL(teacher ‖ student) of the attention maps on the dev set at the last evaluation, per mapped student layer Lk and its teacher layer Tm (lower = closer to the teacher); mean ± std over seeds.',
    '',
  );
  const attentionKl: SweepReport['attentionKl'] = [];
  for (const col of l.cols) {
    const t = layerTable(cells, l, col);
    if (!t.columns.length) continue;
    attentionKl.push({ column: col.label, table: t });
    if (l.cols.length > 1) md.push(`### ${col.label}`, '');
    md.push(mdTable(t, 'algorithm', kl, false, expectedN), '');
    const series: Series[] = t.rows.map((r) => ({
      name: r.label,
      points: r.values
        .map((v, x) => ({ x, v }))
        .filter((p) => p.v)
        .map((p) => ({ x: p.x, y: p.v!.mean, err: p.v!.std })),
    }));
    const name = writeSvg(
      `attention-kl${l.cols.length > 1 ? fileSuffix(col.label) : ''}`,
      barChart(
        {
          title: `Dev attention-KL to the teacher per layer${l.cols.length > 1 ? ` (${col.label})` : ''}`,
          xLabel: 'student layer ↔ teacher layer',
          yLabel: 'KL(teacher ‖ student), mean ± std',
        },
        t.columns,
        series,
      ),
    );
    md.push(`![attention-KL per layer${l.cols.length > 1 ? ` (${col.label})` : ''}](${name})`, '');
  }
  if (!attentionKl.length) md.push('No finished student run has per-layer evaluations yet.', '');
  return { md, attentionKl };
}

/** The baseline the paired section uses: the requested label, else "soft" when the grid has it. */
function pairedBaseline(l: Layout, requested: string | undefined): string | undefined {
  const axis = l.rowAxes.find((a) => a.kind === 'algorithm');
  if (!axis) {
    if (requested === undefined) return undefined;
    throw new UserError(`--baseline ${requested}: the sweep has no algorithms axis to pair by`, {
      fix: 'leave --baseline out; it needs a grid over algorithms',
    });
  }
  if (requested === undefined) return axis.labels.includes('soft') ? 'soft' : undefined;
  if (!axis.labels.includes(requested)) {
    throw new UserError(`--baseline ${requested} is not one of the sweep's algorithms`, {
      fix: `use one of: ${axis.labels.join(', ')}`,
    });
  }
  return requested;
}

function pairedRuns(cells: readonly ReportCell[], l: Layout, baseline: string): PairedRun[] {
  const algIndex = l.rowAxes.findIndex((a) => a.kind === 'algorithm');
  const colLabel = new Map(l.cols.map((c) => [c.key, c.label]));
  return cells
    .filter((c) => c.kind === 'student' && c.status === 'finished' && c.summary?.best)
    .map((c) => {
      const labels = l.rowAxes.map((a) => labelOf(c, a));
      const baseLabels = labels.map((x, i) => (i === algIndex ? baseline : x));
      return {
        row: labels.join(' · '),
        baselineRow: baseLabels.join(' · '),
        column: colLabel.get(colKey(c, l)) ?? '?',
        seed: l.seedAxis ? labelOf(c, l.seedAxis) : '',
        value: c.summary!.best!.value,
        attentionKl: new Map(c.summary!.lastPerLayer.map((p) => [`L${p.student}↔T${p.teacher}`, p.attentionKl])),
      };
    });
}

function signed(x: number, digits: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
}

/** Each algorithm minus the baseline in the same seed and column. */
function pairedSection(
  { cells, l }: ReportContext,
  baseline: string | undefined,
): { md: string[]; paired: PairedTable[] } {
  if (baseline === undefined) return { md: [], paired: [] };
  const paired = pairedTables(
    pairedRuns(cells, l, baseline),
    baseline,
    l.rows.map((r) => r.label),
    l.cols.map((c) => c.label),
  );
  const md: string[] = [`## Against \`${baseline}\`, paired by seed`, ''];
  md.push(
    `Each student minus the \`${baseline}\` student of the same seed (the same data subset, seen in the same order) in the same column: the dev metric difference ×100 (mean ± std over the pairs), the pairs it is ahead in (ties apart), the paired t statistic (mean / (std / √n), n − 1 degrees of freedom; no correction for comparing several algorithms), and the (layer, seed) pairs where its attention-KL to the teacher is lower than \`${baseline}\`'s.`,
    '',
  );
  if (!paired.length) md.push(`No finished \`${baseline}\` run to pair with yet.`, '');
  for (const t of paired) {
    if (l.cols.length > 1) md.push(`### ${t.column}`, '');
    md.push(mdRow(['algorithm', 'pairs', `− ${baseline}`, 'ahead', 'tied', 'paired t', 'attention-KL lower']));
    md.push(mdRow(['---', '---:', '---:', '---:', '---:', '---:', '---:']));
    for (const r of t.rows) {
      md.push(
        mdRow([
          r.label,
          String(r.pairs),
          r.diff ? `${signed(r.diff.mean, 2)}${r.diff.n > 1 ? ` ± ${r.diff.std.toFixed(2)}` : ''}` : '—',
          r.pairs ? `${r.ahead}/${r.pairs}` : '—',
          r.pairs ? String(r.tied) : '—',
          r.t !== undefined ? signed(r.t, 2) : '—',
          r.attentionTotal ? `${r.attentionLower}/${r.attentionTotal}` : '—',
        ]),
      );
    }
    md.push('');
  }
  return { md, paired };
}

/** The sample cell's last attention maps, teacher beside student. */
function attentionMapsSection(
  { writeSvg }: ReportContext,
  sampleCell: ReportCell | undefined,
  chosen: boolean,
): string[] {
  const sample = sampleCell?.runDir ? lastAttentionSample(sampleCell.runDir) : undefined;
  const md: string[] = [];
  md.push('## Attention maps: teacher vs student', '');
  if (sampleCell && sample) {
    const rows: HeatmapRow[] = sample.layers.map((layer) => ({
      caption: `student layer ${layer.student} ↔ teacher layer ${layer.teacher}: KL(teacher ‖ student) ${sampleKl(layer).toFixed(4)} on this sentence`,
      panels: [
        { title: `teacher layer ${layer.teacher}`, map: headAverage(layer.teacherMaps) },
        { title: `student layer ${layer.student}`, map: headAverage(layer.studentMaps) },
      ],
    }));
    const name = writeSvg(
      `attention-${sampleCell.id}`,
      heatmaps(`Attention (mean over heads), cell ${sampleCell.id}, step ${sample.step}`, sample.tokens, rows),
    );
    md.push(
      `The last attention sample (step ${sample.step}) of cell \`${sampleCell.id}\`${chosen ? '' : ' (the best finished cell of an internal-distillation algorithm; choose another with `--sample-cell`)'}, a fixed dev sentence: rows are queries, columns keys, averaged over heads.`,
      '',
    );
    md.push(`![attention maps of ${sampleCell.id}](${name})`, '');
  } else {
    md.push(
      sampleCell ? `Cell \`${sampleCell.id}\` has no attention-sample event.` : 'No finished student run to draw.',
      '',
    );
  }
  return md;
}

/** Backends, time, the cells not finished, and a row per cell. */
function runsSection({ cells, dir, outDir, manifest }: ReportContext): string[] {
  const md: string[] = [];
  md.push('## Runs', '');
  const backends = new Map<string, number>();
  for (const c of cells)
    if (c.summary?.backend) backends.set(c.summary.backend, (backends.get(c.summary.backend) ?? 0) + 1);
  md.push(
    `Backend${backends.size === 1 ? '' : 's'}: ${[...backends].map(([b, k]) => `${b} (${k} run${k === 1 ? '' : 's'})`).join(', ') || 'none recorded'}. ` +
      `Total training time: ${(cells.reduce((a, c) => a + (c.summary?.durationMs ?? 0), 0) / 60000).toFixed(1)} min over finished runs.`,
    '',
  );
  const notDone = cells.filter((c) => c.status !== 'finished');
  if (notDone.length) {
    md.push(`Not finished (${notDone.length}):`, '');
    for (const c of notDone)
      md.push(
        `- \`${c.id}\`: ${c.status}${c.reason ? ` (${c.reason.split('\n')[0]})` : ''}${c.runDir ? ` — \`${relLink(outDir, c.runDir)}\`` : ''}`,
      );
    md.push(
      '',
      `\`distillery sweep\` with the same sweep file and --out resumes stopped and unfinished cells and runs missing ones (--retry-failed also retries failed ones).`,
      '',
    );
  } else {
    md.push('Every cell finished.', '');
  }
  const known = new Set(cells.map((c) => c.id));
  const orphans = [...findCellRuns(path.join(dir, RUNS_DIR))]
    .filter(([id]) => !known.has(id))
    .reduce((a, [, v]) => a + v.length, 0);
  if (orphans)
    md.push(`${orphans} run folder(s) in runs/ belong to cells that are no longer in the grid; they are left out.`, '');
  const axisCols = manifest.axes;
  md.push(
    mdRow(['cell', ...axisCols.map((a) => a.key), 'status', 'dev metric', 'steps', 'time', 'backend', 'run folder']),
  );
  md.push(mdRow(['---', ...axisCols.map(() => '---'), '---', '---:', '---:', '---:', '---', '---']));
  for (const c of cells) {
    const s = c.summary;
    const metric =
      c.kind === 'teacher'
        ? s?.teacherMetric
          ? `teacher ${s.teacherMetric.name} ${s.teacherMetric.value.toFixed(4)}`
          : ''
        : s?.best
          ? `${s.best.metric} ${s.best.value.toFixed(4)}${c.status === 'finished' ? '' : ' so far'}`
          : '';
    md.push(
      mdRow([
        c.id,
        ...axisCols.map((a) => c.values[a.key]?.label ?? ''),
        c.status,
        metric,
        s ? String(s.steps) : '',
        s?.durationMs !== undefined ? `${(s.durationMs / 1000).toFixed(0)}s` : '',
        s?.backend ?? '',
        c.runDir ? `[${path.basename(c.runDir)}](${relLink(outDir, c.runDir)})` : '',
      ]),
    );
  }
  md.push('');
  return md;
}

/** The commands that reproduce the sweep and this report, and the sweep file. */
function reproduceSection({ manifest, dir, out, outDir }: ReportContext, command: string | undefined): string[] {
  const md: string[] = [];
  md.push('## Reproduce', '');
  const last = [...manifest.invocations].reverse()[0];
  md.push('```sh');
  if (last) md.push(`cd ${last.cwd}`, last.command);
  else md.push(`distillery sweep ${manifest.sweepFile} --out ${dir}`);
  md.push(command ?? `distillery report ${dir} --out ${out}`, '```', '');
  md.push(
    `Each cell is an ordinary run: \`distillery train ${relLink(outDir, path.join(dir, 'cells'))}/<cell>.distill.json\` (its resolved config is in the run folder's config.json). ` +
      `On a cluster: \`distillery sweep ${manifest.sweepFile} --out ${dir} --emit slurm\` (or \`--emit k8s\`) writes job files that run the cells listed in \`${CELLS_INDEX}\`.`,
    '',
  );
  md.push(
    '<details><summary>Sweep file</summary>',
    '',
    `\`${manifest.sweepFile}\`:`,
    '',
    '```jsonc',
    manifest.sweepText.trimEnd(),
    '```',
    '',
    '</details>',
    '',
  );
  if (last) md.push(`Last sweep run on ${last.host} at ${last.time}; report written ${new Date().toISOString()}.`, '');
  return md;
}

export function buildReport(sweepDir: string, opts: ReportOptions = {}): SweepReport {
  const dir = path.resolve(sweepDir);
  const manifest = readManifest(dir);
  if (!manifest) {
    throw new UserError(`not a sweep folder (no ${path.basename(manifestPath(dir))})`, {
      where: sweepDir,
      fix: 'pass the folder `distillery sweep` wrote (its --out), e.g. sweeps/<name>',
    });
  }
  const out = path.resolve(opts.out ?? path.join(dir, 'report.md'));
  const outDir = path.dirname(out);
  const stem = path.basename(out).replace(/\.md$/i, '');
  const cells = loadReportCells(dir, manifest);
  const l = layout(manifest);
  // Checked before anything is written.
  const baseline = pairedBaseline(l, opts.baseline);
  const svgFiles: string[] = [];
  const writeSvg = (name: string, svg: string): string => {
    const file = path.join(outDir, `${stem}-${name}.svg`);
    writeFileAtomic(file, svg);
    svgFiles.push(file);
    return path.basename(file);
  };
  const ctx: ReportContext = {
    dir,
    manifest,
    out,
    outDir,
    cells,
    l,
    expectedN: l.seedAxis?.labels.length ?? 1,
    writeSvg,
  };
  const results = resultTable(cells, l);
  // In the report's order: the sections write their SVG files as they go.
  const md = [...overviewSection(ctx), ...resultsSection(ctx, results)];
  const kl = attentionKlSection(ctx);
  md.push(...kl.md);
  const pairs = pairedSection(ctx, baseline);
  md.push(...pairs.md);
  const sampleCell = pickSampleCell(cells, opts.sampleCell);
  md.push(
    ...attentionMapsSection(ctx, sampleCell, !!opts.sampleCell),
    ...runsSection(ctx),
    ...reproduceSection(ctx, opts.command),
  );
  // The run summaries behind every number, beside the report, so it can be committed without the
  // run folders (checkpoints and weights) and still be checked cell by cell.
  const runsFile = path.join(outDir, `${stem}-runs.json`);
  writeFileAtomic(
    runsFile,
    JSON.stringify(
      cells.map((c) => runRecord(c, outDir)),
      null,
      2,
    ) + '\n',
  );
  md.push(
    `Every number above comes from the run summaries in [\`${path.basename(runsFile)}\`](${path.basename(runsFile)}) (one per cell: its grid values, run folder, status, best and last evaluations), read from each run folder's events.jsonl.`,
    '',
  );

  const markdown = md.join('\n');
  writeFileAtomic(out, markdown);
  return {
    file: out,
    markdown,
    svgFiles,
    runsFile,
    cells,
    results,
    attentionKl: kl.attentionKl,
    paired: pairs.paired,
    sampleCell: sampleCell?.id,
  };
}
