/**
 * The compare table's rows: one line of numbers per run (final and best metric, sizes, per-layer
 * attention-KL of the last evaluation that measured it), and the aligned curves the compare charts
 * overlay. Pure; no DOM.
 */
import type { EvalEvent } from '../../src/protocol/events';
import type { RunStatus } from '../../src/protocol/webview-messages';
import type { Column, RunData } from './state';

export interface CompareRow {
  runId: string;
  label: string;
  algorithm: string;
  status: RunStatus;
  /** The best evaluation of the main metric (the run's own report when it finished). */
  best: { metric: string; value: number; step: number } | undefined;
  /** The last evaluation's metrics. */
  finalMetrics: Record<string, number>;
  studentParams: number | undefined;
  teacherParams: number | undefined;
  /** student / teacher parameters. */
  sizeRatio: number | undefined;
  /** Dev attention-KL by student layer from the last evaluation that reported layers. */
  attentionKl: Map<number, number>;
  clsCosine: Map<number, number>;
  steps: number;
  durationMs: number | undefined;
}

/** The run's best evaluation of its main metric: its own report when finished, else the last one marked best, else the last one. */
export function bestEval(run: RunData): CompareRow['best'] {
  if (run.finished?.best) return run.finished.best;
  const evals = run.evals.events;
  let best: CompareRow['best'];
  for (const e of evals) if (e.isBest) best = { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
  if (!best && evals.length > 0) {
    const e = evals[evals.length - 1];
    best = { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
  }
  return best;
}

export function compareRow(run: RunData): CompareRow {
  const evals = run.evals.events;
  const last = evals[evals.length - 1];
  const withLayers = [...evals].reverse().find((e) => e.perLayer.length > 0);
  const student = run.params?.student.total;
  const teacher = run.params?.teacher.total;
  const algorithm = run.started?.config.algorithm;
  let durationMs = run.finished?.durationMs;
  if (durationMs === undefined && run.firstTime && run.lastTime) {
    const d = Date.parse(run.lastTime) - Date.parse(run.firstTime);
    if (Number.isFinite(d)) durationMs = d;
  }
  return {
    runId: run.runId,
    label: run.label,
    algorithm: typeof algorithm === 'string' ? algorithm : '',
    status: run.status,
    best: bestEval(run),
    finalMetrics: last ? { ...last.metrics } : {},
    studentParams: student,
    teacherParams: teacher,
    sizeRatio: student !== undefined && teacher ? student / teacher : undefined,
    attentionKl: new Map((withLayers?.perLayer ?? []).map((l) => [l.student, l.attentionKl])),
    clsCosine: new Map((withLayers?.perLayer ?? []).map((l) => [l.student, l.clsCosine])),
    steps: run.lastStep,
    durationMs,
  };
}

/** The union of the rows' metric names and student layers, sorted, for the table's columns. */
export function compareColumns(rows: readonly CompareRow[]): { metrics: string[]; layers: number[] } {
  const metrics = new Set<string>();
  const layers = new Set<number>();
  for (const r of rows) {
    for (const m of Object.keys(r.finalMetrics)) metrics.add(m);
    for (const l of r.attentionKl.keys()) layers.add(l);
  }
  return { metrics: [...metrics].sort(), layers: [...layers].sort((a, b) => a - b) };
}

export interface AlignedCurves {
  /** Every integer step from 1 to the longest run's last step. */
  x: Float64Array;
  /** One per run, NaN where that run has no value at the step. */
  ys: Float64Array[];
}

/**
 * Runs' per-step values on one shared step axis (uPlot needs aligned data). Steps are integers from
 * 1, so the union of every run's steps is 1..max and each run fills its own steps in O(steps).
 */
export function alignByStep(columns: readonly { x: ArrayLike<number>; y: ArrayLike<number>; length: number }[]): AlignedCurves {
  let max = 0;
  for (const c of columns) if (c.length > 0) max = Math.max(max, c.x[c.length - 1]);
  const x = new Float64Array(max);
  for (let i = 0; i < max; i++) x[i] = i + 1;
  const ys = columns.map((c) => {
    const y = new Float64Array(max).fill(NaN);
    for (let i = 0; i < c.length; i++) {
      const step = c.x[i];
      if (step >= 1 && step <= max) y[step - 1] = c.y[i];
    }
    return y;
  });
  return { x, ys };
}

/**
 * A step column of the student's training as alignByStep wants it: steps of a 'teacher' stage
 * (the teacher trained first) are left out, like their evaluations in studentEvalCurve.
 */
export function studentStepCurve(run: RunData, y: Column): { x: ArrayLike<number>; y: ArrayLike<number>; length: number } {
  const x = run.steps.x.values();
  const values = y.values();
  const teacher = run.stages.filter((s) => s.kind === 'teacher' && s.firstStep !== undefined && s.lastStep !== undefined);
  if (teacher.length === 0) return { x, y: values, length: Math.min(x.length, values.length) };
  const keepX: number[] = [];
  const keepY: number[] = [];
  for (let i = 0; i < Math.min(x.length, values.length); i++) {
    if (teacher.some((s) => x[i] >= (s.firstStep as number) && x[i] <= (s.lastStep as number))) continue;
    keepX.push(x[i]);
    keepY.push(values[i]);
  }
  return { x: keepX, y: keepY, length: keepX.length };
}

/** The mean over layers of an evaluation's attention-KL (NaN when it has none). */
export function meanLayerKl(e: EvalEvent): number {
  return e.perLayer.length ? e.perLayer.reduce((a, l) => a + l.attentionKl, 0) / e.perLayer.length : NaN;
}

/**
 * One number per evaluation of the student, by step. Evaluations during a 'teacher' stage (the
 * teacher being trained first, as the soft and hard+soft plans do) measure the teacher and are
 * left out: overlaid with other runs they would read as a student that starts badly.
 */
export function studentEvalCurve(run: RunData, value: (e: EvalEvent) => number): { x: number[]; y: number[]; length: number } {
  const teacherStages = new Set(run.stages.filter((s) => s.kind === 'teacher').map((s) => s.index));
  const evals = run.evals.events.filter((e) => !teacherStages.has(e.stage));
  return { x: evals.map((e) => e.step), y: evals.map(value), length: evals.length };
}
