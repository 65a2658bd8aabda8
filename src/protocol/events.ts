/**
 * The trainer's event stream: one JSON object per line on stdout and in `runs/<id>/events.jsonl`,
 * read by the CLI, the VS Code extension host and the dashboard webview. Every event carries the
 * protocol version `v`, its `type`, the ISO `time` and the `runId`.
 *
 * Readers must tolerate what a live process produces: partial lines, stray non-JSON output, event
 * types from newer trainers, and a process that dies mid-line. Runs in Node and in the browser, so
 * nothing here imports Node modules.
 */
import { INTERNAL_KEYS, LOSS_NAMES, type LossName } from '../config/loss-vocabulary';

/** The loss names the events use, for the webview (which imports only the protocol). */
export { LOSS_NAMES, type LossName };
import type { LayerPairSpec, ResolvedConfig } from '../config/types';

export const PROTOCOL_VERSION = 1;

export interface EventBase {
  v: number;
  /** ISO 8601. */
  time: string;
  runId: string;
}

/** Parameter counts of one model, by part. */
export interface ParamCounts {
  embeddings: number;
  encoder: number;
  pooler: number;
  head: number;
  total: number;
}

/**
 * teacher: training the teacher first; internal: attention-kl / cls-cosine on mapped layers;
 * classification: output losses (soft-label, hard-label); custom: a stage from stages.custom.
 */
export const STAGE_KINDS = ['teacher', 'internal', 'classification', 'custom'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

export interface PlannedStage {
  index: number;
  name: string;
  kind: StageKind;
  /** The (student, teacher) layer pairs the stage's internal losses use; empty for output-only stages. */
  layers: LayerPairSpec[];
  losses: LossName[];
  epochs: number;
}

export interface LossTerm {
  name: LossName;
  /** The student layer, for per-layer internal terms (not for embedding-mse, soft-label, hard-label). */
  layer?: number;
  /** The unweighted value. */
  value: number;
  /** The weight at this step (a schedule, losses.schedules, may move it over the stage). */
  weight: number;
}

export interface LayerEval {
  student: number;
  teacher: number;
  attentionKl: number;
  clsCosine: number;
  /** Dev hidden-mse of the pair, when the run trains hidden-mse. */
  hiddenMse?: number;
  /** Dev value-relation KL of the pair, when the run trains value-relation. */
  valueRelation?: number;
}

export interface AttentionSampleLayer {
  student: number;
  teacher: number;
  /** [head][query][key]. */
  teacherMaps: number[][][];
  studentMaps: number[][][];
  /** MiniLM's value relations softmax(V·Vᵀ/√d_head), [head][query][key]; only in runs that train value-relation. */
  teacherValueRelations?: number[][][];
  studentValueRelations?: number[][][];
}

/** The native addon behind a run's blas kernels (src/model/fast-kernels/native-blas.ts). */
export interface NativeKernels {
  /** The .node file loaded. */
  path: string;
  /** The BLAS library's own description, e.g. "OpenBLAS 0.3.21 … DYNAMIC_ARCH … MAX_THREADS=64". */
  library: string;
  threads: number;
}

export interface RunStartedEvent extends EventBase {
  type: 'run-started';
  runDir: string;
  config: ResolvedConfig;
  /** What ran (tensorflow-gpu, tensorflow, wasm, cpu) and why faster ones were skipped. */
  backend: {
    kind: string;
    skipped: string[];
    /** The matrix-product kernels on that backend (blas, untransposed, stock); absent before v0.1.1 runs. */
    kernels?: string;
    /** With blas kernels: the native addon loaded (a platform package's or a developer's build). */
    native?: NativeKernels;
    /** On wasm and cpu without blas kernels, and on tensorflow without the fused ones: why the native ones are not in use (how to get them follows from it). */
    nativeUnavailable?: string;
  };
  params: { teacher: ParamCounts; student: ParamCounts };
  plan: { stages: PlannedStage[] };
  dataset: { train: number; eval: number };
  /** Set when the run continues from a checkpoint. */
  resumedFrom?: { checkpoint: string; step: number };
}

export interface StageStartedEvent extends EventBase {
  type: 'stage-started';
  stage: number;
  name: string;
  kind: StageKind;
  epochs: number;
  stepsPlanned: number;
}

export interface StepEvent extends EventBase {
  type: 'step';
  /** Global optimizer step, 1-based. */
  step: number;
  stage: number;
  /** 1-based epoch within the stage. */
  epoch: number;
  lr: number;
  /** The weighted total. */
  loss: number;
  terms: LossTerm[];
  /** The soft-label temperature at this step, when the step trains soft labels (it may be scheduled). */
  temperature?: number;
  gradNorm: number;
  examplesPerSec: number;
  elapsedMs: number;
  /** TF.js tensors alive after the step (flat over a run unless something leaks). */
  liveTensors?: number;
}

export interface EvalEvent extends EventBase {
  type: 'eval';
  step: number;
  stage: number;
  epoch: number;
  split: string;
  metrics: Record<string, number>;
  mainMetric: { name: string; value: number };
  perLayer: LayerEval[];
  /** Dev embedding-mse (the embedding outputs), when the run trains embedding-mse. */
  embeddingMse?: number;
  isBest: boolean;
}

export interface CheckpointEvent extends EventBase {
  type: 'checkpoint';
  step: number;
  path: string;
  reason: 'periodic' | 'stage-end' | 'best' | 'stop';
}

export interface AttentionSampleEvent extends EventBase {
  type: 'attention-sample';
  step: number;
  tokens: string[];
  layers: AttentionSampleLayer[];
}

export interface StageFinishedEvent extends EventBase {
  type: 'stage-finished';
  stage: number;
  reason: 'epochs' | 'plateau';
  bestLoss?: number;
}

export interface WarningEvent extends EventBase {
  type: 'warning';
  message: string;
  code?: string;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogEvent extends EventBase {
  type: 'log';
  level: LogLevel;
  message: string;
}

export interface RunFinishedEvent extends EventBase {
  type: 'run-finished';
  /** The best evaluation of the student; absent when the run never evaluated. */
  best?: { metric: string; value: number; step: number };
  /** The model the run made: the exported student, or the teacher for a `train --teacher-only` run. */
  studentDir: string;
  durationMs: number;
  /** One or two human-readable sentences for notifications and the run explorer. */
  summary: string;
}

export interface RunFailedEvent extends EventBase {
  type: 'run-failed';
  reason: string;
  /** The file/line/field at fault, for user errors. */
  where?: string;
  fix?: string;
  /** The newest checkpoint, from which the run can resume. */
  lastCheckpoint?: string;
}

export interface RunStoppedEvent extends EventBase {
  type: 'run-stopped';
  signal: string;
  /** The checkpoint written on stop; null when the run stopped before its first step. */
  checkpoint: string | null;
}

export type TrainerEvent =
  | RunStartedEvent
  | StageStartedEvent
  | StepEvent
  | EvalEvent
  | CheckpointEvent
  | AttentionSampleEvent
  | StageFinishedEvent
  | WarningEvent
  | LogEvent
  | RunFinishedEvent
  | RunFailedEvent
  | RunStoppedEvent;

export type TrainerEventType = TrainerEvent['type'];

/** An event without the fields `createEvent` stamps on. */
export type TrainerEventBody = TrainerEvent extends infer E
  ? E extends TrainerEvent
    ? Omit<E, keyof EventBase>
    : never
  : never;

/** Adds `v`, `time` and `runId` to an event body. */
export function createEvent<B extends TrainerEventBody>(
  runId: string,
  body: B,
  time: Date = new Date(),
): B & EventBase {
  return { v: PROTOCOL_VERSION, time: time.toISOString(), runId, ...body };
}

// ---- encoding -------------------------------------------------------------------------------

/** Loss values can diverge; JSON has no NaN or ±Infinity, so they travel as these strings. */
const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/**
 * The fields that hold measured numbers, which may be non-finite; evaluations name their dev
 * measures after the internal losses (LayerEval, EvalEvent.embeddingMse).
 */
const MEASURED = new Set<string>([
  'lr',
  'loss',
  'value',
  'gradNorm',
  'examplesPerSec',
  'bestLoss',
  'temperature',
  ...INTERNAL_KEYS,
]);

/** One line of JSON, without a trailing newline (JSON.stringify escapes newlines inside strings). */
export function encodeEvent(e: TrainerEvent): string {
  return JSON.stringify(e, (_key, value: unknown) => {
    if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
    return value;
  });
}

/** Turns the strings encodeEvent wrote for non-finite numbers back into numbers, in measured fields only. */
function reviveNonFinite(x: unknown, key = '', parentKey = ''): unknown {
  if (typeof x === 'string') {
    // Own keys only: `'constructor' in NON_FINITE` is true, and would revive to a function.
    return (MEASURED.has(key) || parentKey === 'metrics') && Object.hasOwn(NON_FINITE, x) ? NON_FINITE[x] : x;
  }
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) x[i] = reviveNonFinite(x[i], '', key);
    return x;
  }
  if (x && typeof x === 'object') {
    const obj = x as Record<string, unknown>;
    for (const k of Object.keys(obj)) obj[k] = reviveNonFinite(obj[k], k, key);
    return obj;
  }
  return x;
}

export interface ParsedEventLine {
  event?: TrainerEvent;
  /** A well-formed event of a type (or a newer version's shape) this reader does not know. */
  unknown?: { type: string; v: number; raw: Record<string, unknown> };
  /** Not an event: not JSON, or a malformed event of a known type and version. */
  error?: string;
}

/** Parses one line; all fields are absent for a blank line. */
export function parseEventLine(line: string): ParsedEventLine {
  const text = line.trim();
  if (text === '') return {};
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return { error: `not JSON: ${text.length > 80 ? `${text.slice(0, 80)}…` : text}` };
  }
  if (!x || typeof x !== 'object' || Array.isArray(x)) return { error: 'not an event: expected a JSON object' };
  const obj = reviveNonFinite(x) as Record<string, unknown>;
  if (typeof obj.type !== 'string') return { error: 'not an event: no "type"' };
  if (typeof obj.v !== 'number' || !Number.isInteger(obj.v) || obj.v < 1)
    return { error: `not an event: bad or missing version "v" in a '${obj.type}' event` };
  const known = eventFields(obj.type);
  if (!known) return { unknown: { type: obj.type, v: obj.v, raw: obj } };
  const problem = eventProblem(obj);
  if (problem === undefined) return { event: obj as unknown as TrainerEvent };
  // A newer trainer may have changed a known event's shape: pass it on rather than reject it.
  if (obj.v > PROTOCOL_VERSION) return { unknown: { type: obj.type, v: obj.v, raw: obj } };
  return { error: `malformed '${obj.type}' event: ${problem}` };
}

// ---- line splitting -------------------------------------------------------------------------

/**
 * Cuts a byte or text stream into lines. Feed it chunks as they arrive; it returns the complete
 * lines (without "\n" or "\r\n") and keeps the unterminated tail for the next chunk. UTF-8
 * characters split across Buffer chunks are decoded correctly.
 */
export class EventLineSplitter {
  private tail = '';
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: string | Uint8Array): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const parts = (this.tail + text).split('\n');
    this.tail = parts.pop() ?? '';
    return parts.map(stripCR);
  }

  /** At end of stream: the unterminated last line (a process that died mid-line), if any. */
  flush(): string | undefined {
    const rest = stripCR(this.tail + this.decoder.decode());
    this.tail = '';
    return rest === '' ? undefined : rest;
  }
}

function stripCR(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

// ---- runtime checks -------------------------------------------------------------------------

type Check = (x: unknown) => boolean;
/** Field name → check; a name ending in '?' is optional. */
type FieldChecks = Record<string, Check>;

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T] & string;
/**
 * The checks of every field of T, under its name ('name?' when optional), and of no other: a field
 * added to an event's interface without its check (or the other way round) does not compile.
 */
type FieldTable<T> = { [K in Exclude<keyof T, OptionalKeys<T>> & string]: Check } & {
  [K in OptionalKeys<T> as `${K}?`]: Check;
};
type EventFieldTables = { [E in TrainerEvent as E['type']]: FieldTable<Omit<E, keyof EventBase | 'type'>> };

const isString: Check = (x) => typeof x === 'string';
const isNumber: Check = (x) => typeof x === 'number';
const isInt: Check = (x) => typeof x === 'number' && Number.isInteger(x);
const isBool: Check = (x) => typeof x === 'boolean';
const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
const oneOf =
  (...values: string[]): Check =>
  (x) =>
    typeof x === 'string' && values.includes(x);
const arrayOf =
  (item: Check): Check =>
  (x) =>
    Array.isArray(x) && x.every(item);
const shape =
  (fields: FieldChecks): Check =>
  (x) =>
    isObject(x) && fieldProblem(x, fields) === undefined;
/** `shape` with its fields checked against T's, as EVENT_FIELDS is. */
const shapeOf = <T>(fields: FieldTable<T>): Check => shape(fields);
const nullable =
  (c: Check): Check =>
  (x) =>
    x === null || c(x);
const recordOf =
  (value: Check): Check =>
  (x) =>
    isObject(x) && Object.values(x).every(value);

const lossName = oneOf(...LOSS_NAMES);
const stageKind = oneOf(...STAGE_KINDS);
const layerPair: Check = (x) => Array.isArray(x) && x.length === 2 && x.every(isInt);
const paramCounts = shape({
  embeddings: isNumber,
  encoder: isNumber,
  pooler: isNumber,
  head: isNumber,
  total: isNumber,
});
const maps3d = arrayOf(arrayOf(arrayOf(isNumber)));

const EVENT_FIELDS: EventFieldTables = {
  'run-started': {
    runDir: isString,
    config: isObject,
    backend: shape({
      kind: isString,
      skipped: arrayOf(isString),
      'kernels?': isString,
      'native?': shape({ path: isString, library: isString, threads: isInt }),
      'nativeUnavailable?': isString,
    }),
    params: shape({ teacher: paramCounts, student: paramCounts }),
    plan: shape({
      stages: arrayOf(
        shapeOf<PlannedStage>({
          index: isInt,
          name: isString,
          kind: stageKind,
          layers: arrayOf(layerPair),
          losses: arrayOf(lossName),
          epochs: isInt,
        }),
      ),
    }),
    dataset: shape({ train: isInt, eval: isInt }),
    'resumedFrom?': shape({ checkpoint: isString, step: isInt }),
  },
  'stage-started': { stage: isInt, name: isString, kind: stageKind, epochs: isInt, stepsPlanned: isInt },
  step: {
    step: isInt,
    stage: isInt,
    epoch: isInt,
    lr: isNumber,
    loss: isNumber,
    terms: arrayOf(shapeOf<LossTerm>({ name: lossName, 'layer?': isInt, value: isNumber, weight: isNumber })),
    'temperature?': isNumber,
    gradNorm: isNumber,
    examplesPerSec: isNumber,
    elapsedMs: isNumber,
    'liveTensors?': isInt,
  },
  eval: {
    step: isInt,
    stage: isInt,
    epoch: isInt,
    split: isString,
    metrics: recordOf(isNumber),
    mainMetric: shape({ name: isString, value: isNumber }),
    perLayer: arrayOf(
      shapeOf<LayerEval>({
        student: isInt,
        teacher: isInt,
        attentionKl: isNumber,
        clsCosine: isNumber,
        'hiddenMse?': isNumber,
        'valueRelation?': isNumber,
      }),
    ),
    'embeddingMse?': isNumber,
    isBest: isBool,
  },
  checkpoint: { step: isInt, path: isString, reason: oneOf('periodic', 'stage-end', 'best', 'stop') },
  'attention-sample': {
    step: isInt,
    tokens: arrayOf(isString),
    layers: arrayOf(
      shapeOf<AttentionSampleLayer>({
        student: isInt,
        teacher: isInt,
        teacherMaps: maps3d,
        studentMaps: maps3d,
        'teacherValueRelations?': maps3d,
        'studentValueRelations?': maps3d,
      }),
    ),
  },
  'stage-finished': { stage: isInt, reason: oneOf('epochs', 'plateau'), 'bestLoss?': isNumber },
  warning: { message: isString, 'code?': isString },
  log: { level: oneOf(...LOG_LEVELS), message: isString },
  'run-finished': {
    'best?': shape({ metric: isString, value: isNumber, step: isInt }),
    studentDir: isString,
    durationMs: isNumber,
    summary: isString,
  },
  'run-failed': { reason: isString, 'where?': isString, 'fix?': isString, 'lastCheckpoint?': isString },
  'run-stopped': { signal: isString, checkpoint: nullable(isString) },
};

const BASE_FIELDS: FieldChecks = { v: isInt, time: isString, runId: isString, type: isString };

interface CompiledField {
  name: string;
  optional: boolean;
  check: Check;
}

// Every step event is checked (the dashboard checks thousands a second), so each field table is
// parsed once into a flat list instead of walking Object.entries and slicing names per event.
const compiledTables = new WeakMap<FieldChecks, CompiledField[]>();

function compiled(fields: FieldChecks): CompiledField[] {
  let list = compiledTables.get(fields);
  if (!list) {
    list = Object.entries(fields).map(([spec, check]) => {
      const optional = spec.endsWith('?');
      return { name: optional ? spec.slice(0, -1) : spec, optional, check };
    });
    compiledTables.set(fields, list);
  }
  return list;
}

function fieldProblem(x: Record<string, unknown>, fields: FieldChecks): string | undefined {
  const list = compiled(fields);
  for (let i = 0; i < list.length; i++) {
    const f = list[i];
    const value = x[f.name];
    if (value === undefined) {
      if (f.optional) continue;
      return `missing field '${f.name}'`;
    }
    if (!f.check(value)) return `field '${f.name}' has the wrong type or shape`;
  }
  return undefined;
}

/** Why `x` is not a TrainerEvent of a known type, or undefined when it is one. */
/**
 * The field checks of an event type; own keys only, so that a line whose type is "__proto__" or
 * "toString" is not mistaken for a known event (it found Object.prototype's members before).
 */
function eventFields(type: unknown): FieldChecks | undefined {
  return typeof type === 'string' && Object.hasOwn(EVENT_FIELDS, type)
    ? (EVENT_FIELDS as Record<string, FieldChecks>)[type]
    : undefined;
}

export function eventProblem(x: unknown): string | undefined {
  if (!isObject(x)) return 'not an object';
  const base = fieldProblem(x, BASE_FIELDS);
  if (base) return base;
  const fields = eventFields(x.type);
  if (!fields) return `unknown event type '${String(x.type)}'`;
  return fieldProblem(x, fields);
}

/** Checks the required fields of each event type; use it on anything read from a process or file. */
export function isTrainerEvent(x: unknown): x is TrainerEvent {
  return eventProblem(x) === undefined;
}
