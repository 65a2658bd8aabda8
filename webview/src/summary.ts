/**
 * The compare table's rows: one line of numbers per run (final and best metric, sizes, per-layer
 * attention-KL of the last evaluation that measured it, and hidden-mse / value-relation for runs
 * that train them), and the aligned curves the compare charts overlay (per-term ones included).
 * Pure; no DOM.
 */
import type { EvalEvent } from '../../src/protocol/events';
import type { RunStatus } from '../../src/protocol/webview-messages';
import type { RunData } from './state';

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
  /** Dev hidden-mse by student layer (embedding-mse as layer 0) from the last evaluation that measured them; empty unless the run trains them. */
  hiddenMse: Map<number, number>;
  /** Dev value-relation KL by student layer, likewise. */
  valueRelation: Map<number, number>;
  /** The student's (distillation) steps. */
  steps: number;
  durationMs: number | undefined;
}

/**
 * The run's best evaluation of its main metric: the fold's (its own report when finished, else the
 * student's last one marked best), else the teacher's while it trains, else the last evaluation.
 */
export function bestEval(run: RunData): CompareRow['best'] {
  const best = run.fold.best ?? run.fold.teacherBest;
  if (best) return { ...best };
  const evals = run.evals.events;
  const e = evals[evals.length - 1];
  return e && { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
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
    ...internalMeasures(evals),
    // the student's steps: a teacher trained first by the run is not counted
    steps: Math.max(0, run.lastStep - distillationOffset(run)),
    durationMs,
  };
}

/** The TinyBERT / MiniLM dev measures of the last evaluation that has them (an evaluation of a teacher stage has none). */
function internalMeasures(evals: readonly EvalEvent[]): Pick<CompareRow, 'hiddenMse' | 'valueRelation'> {
  const measured = (e: EvalEvent): boolean =>
    e.embeddingMse !== undefined || e.perLayer.some((l) => l.hiddenMse !== undefined || l.valueRelation !== undefined);
  const e = [...evals].reverse().find(measured);
  const hiddenMse = new Map<number, number>();
  const valueRelation = new Map<number, number>();
  if (e?.embeddingMse !== undefined) hiddenMse.set(0, e.embeddingMse);
  for (const l of e?.perLayer ?? []) {
    if (l.hiddenMse !== undefined) hiddenMse.set(l.student, l.hiddenMse);
    if (l.valueRelation !== undefined) valueRelation.set(l.student, l.valueRelation);
  }
  return { hiddenMse, valueRelation };
}

/**
 * The union of the rows' metric names and student layers, sorted, for the table's columns; the
 * hidden-mse (0: embedding-mse) and value-relation layers are empty unless some run measured them.
 */
export function compareColumns(rows: readonly CompareRow[]): {
  metrics: string[];
  layers: number[];
  hiddenLayers: number[];
  relationLayers: number[];
} {
  const metrics = new Set<string>();
  const layers = new Set<number>();
  const hidden = new Set<number>();
  const relation = new Set<number>();
  for (const r of rows) {
    for (const m of Object.keys(r.finalMetrics)) metrics.add(m);
    for (const l of r.attentionKl.keys()) layers.add(l);
    for (const l of r.hiddenMse.keys()) hidden.add(l);
    for (const l of r.valueRelation.keys()) relation.add(l);
  }
  const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);
  return {
    metrics: [...metrics].sort(),
    layers: sorted(layers),
    hiddenLayers: sorted(hidden),
    relationLayers: sorted(relation),
  };
}

/** A per-step series (a Column, or one computed from several). */
export interface StepValues {
  values(): ArrayLike<number>;
}

/**
 * A loss term's unweighted value per step, the mean over its layers (per-layer terms) or the term
 * itself (embedding-mse, soft-label, hard-label); NaN at steps that did not train it.
 */
export function termMean(run: RunData, name: string): StepValues {
  const cols = [...run.steps.terms]
    .filter(([key]) => key === name || key.startsWith(`${name}@`))
    .map(([, c]) => c.values());
  const n = run.steps.length;
  const out = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let count = 0;
    for (const c of cols) {
      const v = c[i];
      if (Number.isFinite(v)) {
        sum += v;
        count++;
      }
    }
    if (count > 0) out[i] = sum / count;
  }
  return { values: () => out };
}

/** A loss's weight per step (as scheduled); NaN at steps that did not train it. */
export function termWeight(run: RunData, name: string): StepValues {
  const col = run.steps.weights.get(name);
  return col ?? { values: () => new Float64Array(run.steps.length).fill(NaN) };
}

/** The losses any of the runs trained, in the protocol's order (attention-kl, cls-cosine, …). */
export function trainedTerms(runs: readonly RunData[], order: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const name of r.steps.weights.keys()) seen.add(name);
  return [...order.filter((n) => seen.has(n)), ...[...seen].filter((n) => !order.includes(n)).sort()];
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
export function alignByStep(
  columns: readonly { x: ArrayLike<number>; y: ArrayLike<number>; length: number }[],
): AlignedCurves {
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
export function studentStepCurve(
  run: RunData,
  y: StepValues,
): { x: ArrayLike<number>; y: ArrayLike<number>; length: number } {
  const x = run.steps.x.values();
  const values = y.values();
  const teacher = run.stages.filter(
    (s) => s.kind === 'teacher' && s.firstStep !== undefined && s.lastStep !== undefined,
  );
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

// ---- the compare view's x axis ------------------------------------------------------------------

/**
 * What the compare charts put on x. Every choice starts at the student's first distillation step,
 * so a run that trained its teacher first (soft, hard+soft) lines up with runs that loaded one.
 */
export const COMPARE_AXES = ['distill-step', 'epoch', 'time'] as const;
export type CompareAxis = (typeof COMPARE_AXES)[number];
export const COMPARE_AXIS_LABELS: Record<CompareAxis, string> = {
  'distill-step': 'distillation step',
  epoch: 'epoch',
  time: 'wall time (s)',
};

export function isCompareAxis(x: unknown): x is CompareAxis {
  return typeof x === 'string' && (COMPARE_AXES as readonly string[]).includes(x);
}

export interface Curve {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  length: number;
}

/** Global steps before the student's first one: the teacher's training, when the run did it (else 0). */
export function distillationOffset(run: RunData): number {
  const student = run.stages.find((s) => s.kind !== 'teacher' && s.firstStep !== undefined);
  if (student?.firstStep !== undefined) return student.firstStep - 1;
  // no student step yet: after the teacher's steps so far
  return Math.max(
    0,
    ...run.stages.filter((s) => s.kind === 'teacher' && s.lastStep !== undefined).map((s) => s.lastStep as number),
  );
}

/** Optimizer steps per pass over the training set, from the first student stage's plan. */
export function stepsPerEpoch(run: RunData): number | undefined {
  const st = run.stages.find((s) => s.kind !== 'teacher' && s.stepsPlanned !== undefined && s.epochs > 0);
  return st?.stepsPlanned ? st.stepsPlanned / st.epochs : undefined;
}

/**
 * A student curve (global steps on x) moved onto the chosen axis: steps since distillation began,
 * epochs since then, or seconds since its first step (wall clock, from the events' times;
 * `timeOf` gives a point's time in ms). Points without a value on that axis are dropped.
 */
export function onAxis(run: RunData, c: Curve, axis: CompareAxis, timeOf: (i: number) => number): Curve {
  const offset = distillationOffset(run);
  const perEpoch = axis === 'epoch' ? stepsPerEpoch(run) : undefined;
  if (axis === 'epoch' && perEpoch === undefined) return { x: [], y: [], length: 0 };
  let t0 = NaN;
  if (axis === 'time') {
    const first = run.steps.x.values();
    const at = first.findIndex((s) => s > offset);
    t0 = at >= 0 ? run.steps.time.get(at) : NaN;
  }
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < c.length; i++) {
    const step = c.x[i] - offset;
    let v: number;
    if (axis === 'distill-step') v = step;
    else if (axis === 'epoch') v = step / (perEpoch as number);
    else v = (timeOf(i) - t0) / 1000;
    if (!Number.isFinite(v) || (axis === 'distill-step' && v < 1)) continue;
    x.push(v);
    y.push(c.y[i]);
  }
  return { x, y, length: x.length };
}

/** The student's per-step values of column `y` on the axis. */
export function studentStepCurveOn(run: RunData, y: StepValues, axis: CompareAxis): Curve {
  const c = studentStepCurve(run, y);
  if (axis !== 'time') return onAxis(run, c, axis, () => NaN);
  // the time of each kept step: steps are unique and ascending, so look them up in order
  const xs = run.steps.x.values();
  let j = 0;
  return onAxis(run, c, axis, (i) => {
    while (j < xs.length && xs[j] < c.x[i]) j++;
    return xs[j] === c.x[i] ? run.steps.time.get(j) : NaN;
  });
}

/** The student's evaluations on the axis (an evaluation's time is its event's). */
export function studentEvalCurveOn(run: RunData, value: (e: EvalEvent) => number, axis: CompareAxis): Curve {
  const teacherStages = new Set(run.stages.filter((s) => s.kind === 'teacher').map((s) => s.index));
  const evals = run.evals.events.filter((e) => !teacherStages.has(e.stage));
  const c = { x: evals.map((e) => e.step), y: evals.map(value), length: evals.length };
  return onAxis(run, c, axis, (i) => Date.parse(evals[i].time));
}

/**
 * Curves with real-valued x (epochs, seconds) on one axis: the sorted union of their x values,
 * each curve NaN where it has no point. Merged in one pass, O(total points).
 */
export function alignByX(curves: readonly Curve[]): AlignedCurves {
  const xs: number[] = [];
  const pos = curves.map(() => 0);
  for (;;) {
    let next = Infinity;
    curves.forEach((c, k) => {
      if (pos[k] < c.length && c.x[pos[k]] < next) next = c.x[pos[k]];
    });
    if (next === Infinity) break;
    xs.push(next);
    curves.forEach((c, k) => {
      while (pos[k] < c.length && c.x[pos[k]] <= next) pos[k]++;
    });
  }
  const x = Float64Array.from(xs);
  const ys = curves.map((c) => {
    const y = new Float64Array(x.length).fill(NaN);
    let j = 0;
    for (let i = 0; i < c.length; i++) {
      while (j < x.length && x[j] < c.x[i]) j++;
      if (j < x.length && x[j] === c.x[i]) y[j] = c.y[i];
    }
    return y;
  });
  return { x, ys };
}

/** Curves on the axis, aligned: on an integer step grid for steps, else by the union of their x. */
export function alignOnAxis(curves: readonly Curve[], axis: CompareAxis): AlignedCurves {
  return axis === 'distill-step' ? alignByStep(curves) : alignByX(curves);
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
export function studentEvalCurve(
  run: RunData,
  value: (e: EvalEvent) => number,
): { x: number[]; y: number[]; length: number } {
  const teacherStages = new Set(run.stages.filter((s) => s.kind === 'teacher').map((s) => s.index));
  const evals = run.evals.events.filter((e) => !teacherStages.has(e.stage));
  return { x: evals.map((e) => e.step), y: evals.map(value), length: evals.length };
}
