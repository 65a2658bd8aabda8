/**
 * What the dashboard knows about a run, built by folding its events in order (the shared fold,
 * src/protocol/run-fold.ts, plus the dashboard's own columns), and the UI state the webview
 * persists across being hidden. Step data is kept in growable typed columns (one
 * number per step) so 100 000 steps stay compact and charts can read them without copying.
 * Pure: no DOM, testable in Node.
 */
import type {
  AttentionSampleEvent,
  CheckpointEvent,
  EvalEvent,
  LossTerm,
  ParamCounts,
  RunFailedEvent,
  RunFinishedEvent,
  RunStartedEvent,
  RunStoppedEvent,
  StepEvent,
  TrainerEvent,
} from '../../src/protocol/events';
import { RunFold, type StageRecord } from '../../src/protocol/run-fold';
import type { RunSnapshot, RunStatus } from '../../src/protocol/webview-messages';
import { LOSS_NAMES, type LossName } from '../../src/protocol/events';
import { BLOCK_SHIFT, BLOCK_SIZE, type BlockExtremes, type XRange } from './downsample';
import { isCompareAxis, type CompareAxis } from './summary';

/**
 * A growable column of numbers; NaN marks "no value at this step". It keeps the extremes of each
 * block of BLOCK_SIZE values up to date as values arrive, so charts downsample 100 000 steps by
 * reading a few thousand.
 */
export class Column implements BlockExtremes {
  private buf: Float64Array;
  length = 0;
  minAt: Int32Array;
  maxAt: Int32Array;

  constructor(capacity = 256) {
    this.buf = new Float64Array(capacity);
    this.minAt = new Int32Array(Math.ceil(capacity / BLOCK_SIZE));
    this.maxAt = new Int32Array(Math.ceil(capacity / BLOCK_SIZE));
  }

  push(v: number): void {
    if (this.length === this.buf.length) this.reserve(this.length + 1);
    const i = this.length++;
    this.buf[i] = v;
    this.noteExtreme(i, v);
  }

  /** Values it holds without growing. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Makes room for `size` values (the capacity doubles until it fits, in one copy). */
  reserve(size: number): void {
    if (size <= this.buf.length) return;
    let capacity = Math.max(1, this.buf.length * 2);
    while (capacity < size) capacity *= 2;
    const bigger = new Float64Array(capacity);
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
    const minAt = new Int32Array(Math.ceil(capacity / BLOCK_SIZE));
    const maxAt = new Int32Array(minAt.length);
    minAt.set(this.minAt);
    maxAt.set(this.maxAt);
    this.minAt = minAt;
    this.maxAt = maxAt;
  }

  /** Folds value v at i into its block's extremes (a block's first value starts it afresh). */
  private noteExtreme(i: number, v: number): void {
    const b = i >> BLOCK_SHIFT;
    // finite: NaN and ±Infinity fail one of the comparisons
    const finite = v > -Infinity && v < Infinity;
    if ((i & (BLOCK_SIZE - 1)) === 0) {
      this.minAt[b] = finite ? i : -1;
      this.maxAt[b] = finite ? i : -1;
      return;
    }
    if (!finite) return;
    const lo = this.minAt[b];
    if (lo < 0) {
      this.minAt[b] = i;
      this.maxAt[b] = i;
      return;
    }
    if (v < this.buf[lo]) this.minAt[b] = i;
    else if (v > this.buf[this.maxAt[b]]) this.maxAt[b] = i;
  }

  /** Appends `count` NaNs (a series that starts late is aligned with the steps before it). */
  pad(count: number): void {
    if (count <= 0) return;
    const start = this.length;
    const end = start + count;
    this.reserve(end);
    this.buf.fill(NaN, start, end);
    // NaN leaves a started block's extremes alone; a block it starts has no finite value
    const firstBlock = (start + BLOCK_SIZE - 1) >> BLOCK_SHIFT;
    const endBlock = ((end - 1) >> BLOCK_SHIFT) + 1;
    this.minAt.fill(-1, firstBlock, endBlock);
    this.maxAt.fill(-1, firstBlock, endBlock);
    this.length = end;
  }

  truncate(length: number): void {
    const keep = Math.min(this.length, Math.max(0, length));
    if (keep === this.length) return;
    this.length = keep;
    // the cut block's extremes may point past the end: recompute it from what is left
    const blockStart = (keep >> BLOCK_SHIFT) << BLOCK_SHIFT;
    for (let i = blockStart; i < keep; i++) this.noteExtreme(i, this.buf[i]);
  }

  /** A view of the filled part; valid until the next push. */
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }

  get(i: number): number {
    return this.buf[i];
  }

  last(): number {
    return this.length > 0 ? this.buf[this.length - 1] : NaN;
  }
}

/** A loss term's series key: "attention-kl@2" for layer 2, "soft-label" for output losses. */
export function termKey(term: Pick<LossTerm, 'name' | 'layer'>): string {
  return term.layer === undefined ? term.name : `${term.name}@${term.layer}`;
}

/** "attention-kl L2", "soft-label". */
export function termLabel(key: string): string {
  const at = key.indexOf('@');
  return at < 0 ? key : `${key.slice(0, at)} L${key.slice(at + 1)}`;
}

/** Columns smaller than this grow when they fill up (a cheap copy); larger ones ahead of time. */
const GROW_AHEAD_FROM = 1024;
/** Steps between two columns grown ahead (a power of two); the folding-in checks the clock every 64 events. */
const GROW_AHEAD_EVERY = 64;

/** Step events as columns aligned by row; x is the global step. */
export class StepTable {
  readonly x = new Column();
  readonly loss = new Column();
  readonly lr = new Column();
  readonly examplesPerSec = new Column();
  readonly gradNorm = new Column();
  readonly liveTensors = new Column();
  /** When each step's event was written (ms since 1970), for a wall-clock axis. */
  readonly time = new Column();
  /** Unweighted term values, as the trainer reports them; in the order first seen. */
  readonly terms = new Map<string, Column>();
  /**
   * The weight of each loss at each step, by loss name (every layer of a loss shares it); NaN
   * where the step did not train the loss. Schedules (losses.schedules) make these move.
   */
  readonly weights = new Map<string, Column>();
  /** The soft-label temperature at each step; NaN where the step trains no soft labels. */
  readonly temperature = new Column();
  /** The term columns by loss name and layer (slot 0: no layer), so a step looks them up without building keys. */
  private readonly termSlots = new Map<string, (Column | undefined)[]>();

  get length(): number {
    return this.x.length;
  }

  append(e: StepEvent): void {
    // A resumed run replays steps after its checkpoint: the replay replaces what followed it.
    if (this.x.length > 0 && e.step <= this.x.last()) this.truncateFrom(e.step);
    const row = this.x.length;
    if ((row & (GROW_AHEAD_EVERY - 1)) === 0) this.growAhead();
    this.x.push(e.step);
    this.loss.push(e.loss);
    this.lr.push(e.lr);
    this.examplesPerSec.push(e.examplesPerSec);
    this.gradNorm.push(e.gradNorm);
    this.liveTensors.push(e.liveTensors ?? NaN);
    this.temperature.push(e.temperature ?? NaN);
    this.time.push(Date.parse(e.time));
    for (const t of e.terms) {
      let w = this.weights.get(t.name);
      if (!w) {
        w = new Column();
        w.pad(row);
        this.weights.set(t.name, w);
      }
      if (w.length === row) w.push(t.weight);
      let slots = this.termSlots.get(t.name);
      if (!slots) {
        slots = [];
        this.termSlots.set(t.name, slots);
      }
      const slot = t.layer === undefined ? 0 : t.layer + 1;
      let col = slots[slot];
      if (!col) {
        col = new Column();
        col.pad(row);
        this.terms.set(termKey(t), col);
        slots[slot] = col;
      }
      // a term reported twice in one step (should not happen) keeps the last value
      if (col.length === row + 1) col.truncate(row);
      col.push(t.value);
    }
    for (const col of this.terms.values()) if (col.length === row) col.push(NaN);
    for (const col of this.weights.values()) if (col.length === row) col.push(NaN);
  }

  private columns(): Column[] {
    return [
      this.x,
      this.loss,
      this.lr,
      this.examplesPerSec,
      this.gradNorm,
      this.liveTensors,
      this.temperature,
      this.time,
      ...this.terms.values(),
      ...this.weights.values(),
    ];
  }

  /**
   * Grows the first column that is three quarters full, if it is large. Growing copies a column:
   * when a dozen columns of 65 536 steps all filled up on the same step, that was tens of
   * milliseconds in one event. Grown ahead, one every GROW_AHEAD_EVERY steps, the copies fall
   * into different slices of the folding-in, which checks the frame's clock between slices.
   */
  private growAhead(): void {
    for (const col of this.columns()) {
      if (col.capacity >= GROW_AHEAD_FROM && col.length >= col.capacity * 0.75) {
        col.reserve(col.capacity * 2);
        return;
      }
    }
  }

  /** Drops every row with step >= `step`. */
  truncateFrom(step: number): void {
    const xs = this.x.values();
    let keep = xs.length;
    while (keep > 0 && xs[keep - 1] >= step) keep--;
    for (const col of this.columns()) col.truncate(keep);
  }
}

/** Evaluations as aligned arrays (a few hundred at most, so plain arrays). */
export class EvalTable {
  readonly x: number[] = [];
  readonly metrics = new Map<string, number[]>();
  /** By student layer. */
  readonly attentionKl = new Map<number, number[]>();
  readonly clsCosine = new Map<number, number[]>();
  /** Dev hidden-state MSE by student layer, the embedding-mse as layer 0 (TinyBERT's layer 0); empty unless the run trains them. */
  readonly hiddenMse = new Map<number, number[]>();
  /** Dev value-relation KL by student layer; empty unless the run trains it. */
  readonly valueRelation = new Map<number, number[]>();
  readonly events: EvalEvent[] = [];
  mainMetric: string | undefined;

  append(e: EvalEvent): void {
    if (this.x.length > 0 && e.step <= this.x[this.x.length - 1]) this.truncateFrom(e.step);
    const row = this.x.length;
    this.x.push(e.step);
    this.events.push(e);
    this.mainMetric = e.mainMetric.name;
    const put = <K>(map: Map<K, number[]>, key: K, value: number): void => {
      let arr = map.get(key);
      if (!arr) {
        arr = new Array<number>(row).fill(NaN);
        map.set(key, arr);
      }
      arr.push(value);
    };
    for (const [name, value] of Object.entries(e.metrics)) put(this.metrics, name, value);
    if (!(e.mainMetric.name in e.metrics)) put(this.metrics, e.mainMetric.name, e.mainMetric.value);
    for (const l of e.perLayer) {
      put(this.attentionKl, l.student, l.attentionKl);
      put(this.clsCosine, l.student, l.clsCosine);
      if (l.hiddenMse !== undefined) put(this.hiddenMse, l.student, l.hiddenMse);
      if (l.valueRelation !== undefined) put(this.valueRelation, l.student, l.valueRelation);
    }
    if (e.embeddingMse !== undefined) put(this.hiddenMse, 0, e.embeddingMse);
    for (const map of this.maps()) {
      for (const arr of map.values()) if (arr.length === row) arr.push(NaN);
    }
  }

  private maps(): Map<unknown, number[]>[] {
    return [this.metrics, this.attentionKl, this.clsCosine, this.hiddenMse, this.valueRelation] as Map<
      unknown,
      number[]
    >[];
  }

  truncateFrom(step: number): void {
    let keep = this.x.length;
    while (keep > 0 && this.x[keep - 1] >= step) keep--;
    this.x.length = keep;
    this.events.length = keep;
    for (const map of this.maps()) {
      for (const arr of map.values()) arr.length = keep;
    }
  }
}

export type { StageRecord, StageState } from '../../src/protocol/run-fold';

export interface LogLine {
  time: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** The log keeps the newest lines only: a chatty trainer must not grow the webview without bound. */
export const LOG_LIMIT = 500;

export class RunData {
  readonly runId: string;
  runDir: string;
  label: string;
  status: RunStatus;
  /** From the host's run-status message, e.g. "exited with code 1". */
  statusMessage: string | undefined;
  /** The plan, the stages' progress and the ending: what every view of a run shares. */
  readonly fold = new RunFold();
  readonly steps = new StepTable();
  readonly evals = new EvalTable();
  readonly samples: AttentionSampleEvent[] = [];
  readonly log: LogLine[] = [];
  /** Bumped on every change, so views redraw only what changed. */
  version = 0;
  /** Bumped when the log or the checkpoints change (the log tab redraws only then). */
  logVersion = 0;

  constructor(runId: string, runDir = '', label = runId, status: RunStatus = 'unknown') {
    this.runId = runId;
    this.runDir = runDir;
    this.label = label;
    this.status = status;
  }

  /** A run as the host sent it: its events replayed, then the host's status (which knows about a dead process). */
  static fromSnapshot(s: RunSnapshot): RunData {
    const run = new RunData(s.runId, s.runDir, s.label, s.status);
    for (const e of s.events) run.apply(e, false);
    run.status = s.status;
    return run;
  }

  get lastStep(): number {
    const s = this.steps.x.last();
    return Number.isNaN(s) ? 0 : s;
  }

  get params(): { teacher: ParamCounts; student: ParamCounts } | undefined {
    return this.started?.params;
  }

  get started(): RunStartedEvent | undefined {
    return this.fold.started;
  }
  get stages(): StageRecord[] {
    return this.fold.stages;
  }
  get currentStage(): number {
    return this.fold.currentStage;
  }
  get checkpoints(): readonly CheckpointEvent[] {
    return this.fold.checkpoints;
  }
  get finished(): RunFinishedEvent | undefined {
    return this.fold.finished;
  }
  get failed(): RunFailedEvent | undefined {
    return this.fold.failed;
  }
  get stopped(): RunStoppedEvent | undefined {
    return this.fold.stopped;
  }
  get firstTime(): string | undefined {
    return this.fold.firstTime;
  }
  get lastTime(): string | undefined {
    return this.fold.lastTime;
  }

  /** Folds one event in; `live` events also move the status (a replay leaves that to the host). */
  apply(e: TrainerEvent, live = true): void {
    this.version++;
    if (e.type === 'run-started') this.onRunStarted(e);
    this.fold.apply(e);
    switch (e.type) {
      case 'run-started':
        if (live) this.status = 'running';
        break;
      case 'step':
        this.steps.append(e);
        break;
      case 'eval':
        this.evals.append(e);
        break;
      case 'checkpoint':
        this.logVersion++;
        break;
      case 'attention-sample':
        while (this.samples.length > 0 && this.samples[this.samples.length - 1].step >= e.step) this.samples.pop();
        this.samples.push(e);
        break;
      case 'warning':
        this.addLog({ time: e.time, level: 'warn', message: e.code ? `${e.message} (${e.code})` : e.message });
        break;
      case 'log':
        this.addLog({ time: e.time, level: e.level, message: e.message });
        break;
      case 'run-finished':
        if (live) this.status = 'finished';
        break;
      case 'run-failed':
        this.addLog({ time: e.time, level: 'error', message: e.reason });
        if (live) this.status = 'failed';
        break;
      case 'run-stopped':
        if (live) this.status = 'stopped';
        break;
    }
  }

  setStatus(status: RunStatus, message?: string): void {
    this.version++;
    this.status = status;
    this.statusMessage = message;
  }

  /** A resume trains everything after its checkpoint again: drop what the columns hold past it. */
  private onRunStarted(e: RunStartedEvent): void {
    this.runDir = e.runDir || this.runDir;
    const resumeStep = e.resumedFrom?.step;
    if (resumeStep === undefined) return;
    this.steps.truncateFrom(resumeStep + 1);
    this.evals.truncateFrom(resumeStep + 1);
    while (this.samples.length > 0 && this.samples[this.samples.length - 1].step > resumeStep) this.samples.pop();
  }

  private addLog(line: LogLine): void {
    this.logVersion++;
    this.log.push(line);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
  }
}

// ---- UI state persisted with vscode.setState ---------------------------------------------------

export const RUN_TABS = ['training', 'evaluation', 'attention', 'log'] as const;
export type RunTab = (typeof RUN_TABS)[number];

export interface UiState {
  tab: RunTab;
  /** Index into the attention sample's mapped layers. */
  layer: number;
  /** A head index, or -1 for the average over heads. */
  head: number;
  /** Index into the run's attention samples. */
  sample: number;
  /** Whether the slider follows new samples as they arrive (it does while it sits on the newest). */
  followLatest: boolean;
  /** The shared x (step) range of every chart; null shows everything. */
  zoom: XRange | null;
  /** The loss chart's y axis. */
  logLoss: boolean;
  /** The compare view's x axis (every choice starts where distillation starts). */
  compareAxis: CompareAxis;
  /** The loss term the compare view's per-term charts show; null: the first one the runs trained. */
  compareTerm: LossName | null;
}

export const DEFAULT_UI_STATE: UiState = {
  tab: 'training',
  layer: 0,
  head: -1,
  sample: 0,
  followLatest: true,
  zoom: null,
  logLoss: true,
  compareAxis: 'distill-step',
  compareTerm: null,
};

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

/** Whatever getState() returned (possibly from an older version), as a valid UiState. */
export function sanitizeUiState(x: unknown): UiState {
  const s: UiState = { ...DEFAULT_UI_STATE };
  if (!x || typeof x !== 'object') return s;
  const o = x as Record<string, unknown>;
  if (typeof o.tab === 'string' && (RUN_TABS as readonly string[]).includes(o.tab)) s.tab = o.tab as RunTab;
  if (isInt(o.layer) && o.layer >= 0) s.layer = o.layer;
  if (isInt(o.head) && o.head >= -1) s.head = o.head;
  if (isInt(o.sample) && o.sample >= 0) s.sample = o.sample;
  if (typeof o.followLatest === 'boolean') s.followLatest = o.followLatest;
  if (typeof o.logLoss === 'boolean') s.logLoss = o.logLoss;
  if (isCompareAxis(o.compareAxis)) s.compareAxis = o.compareAxis;
  if (typeof o.compareTerm === 'string' && (LOSS_NAMES as readonly string[]).includes(o.compareTerm))
    s.compareTerm = o.compareTerm as LossName;
  const z = o.zoom as Record<string, unknown> | null | undefined;
  if (
    z &&
    typeof z === 'object' &&
    Number.isFinite(z.min) &&
    Number.isFinite(z.max) &&
    (z.min as number) < (z.max as number)
  ) {
    s.zoom = { min: z.min as number, max: z.max as number };
  }
  return s;
}
