/**
 * The messages between the extension host and the dashboard webview (postMessage in both
 * directions). Both sides validate what they receive with the guards below: the webview is
 * untrusted from the host's point of view and vice versa, and a host of an older or newer
 * version may send shapes this build does not know. Browser-safe: imports only events.ts.
 *
 * Events cross in the trainer's wire form: JSON has no NaN or ±Infinity, so a diverged run's
 * values travel as the strings "NaN", "Infinity", "-Infinity" (encodeEvent). isHostMessage is the
 * strict check of the typed shape; a receiver of JSON calls decodeHostMessage, which turns those
 * strings back into numbers first.
 */
import { isTrainerEvent, parseEventLine, type TrainerEvent } from './events';

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped' | 'unknown';

export interface RunSnapshot {
  runId: string;
  runDir: string;
  /** What the dashboard shows as the run's name. */
  label: string;
  status: RunStatus;
  /** Every event of the run so far, in order. */
  events: TrainerEvent[];
}

/** A leaf of a run's flattened config (arrays travel as their JSON text). */
export type ConfigFieldValue = string | number | boolean | null;

/** One compared run's values of the differing fields; a field it lacks is absent. */
export interface RunConfigFields {
  runId: string;
  values: Record<string, ConfigFieldValue>;
  /** Why the run's config.json could not be read (its values are then empty). */
  problem?: string;
}

export type HostMessage =
  /** Sent in reply to 'ready' (also after the panel was hidden and its webview recreated). */
  | { type: 'init'; view: 'run' | 'compare'; runs: RunSnapshot[] }
  /** New events of a run, in order, appended to what 'init' sent. */
  | { type: 'events'; runId: string; events: TrainerEvent[] }
  | { type: 'run-status'; runId: string; status: RunSnapshot['status']; message?: string }
  /**
   * Compare view: the config fields (dotted paths, sorted) whose values differ between the compared
   * runs, and each run's values; sent after 'init', and again when a run's config.json appears.
   */
  | { type: 'config-fields'; fields: string[]; runs: RunConfigFields[] };

export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'stop-run'; runId: string }
  | { type: 'resume-run'; runId: string }
  | { type: 'reveal'; path: string }
  | { type: 'add-to-compare' }
  /** Compare view: open VS Code's diff editor on two compared runs' config.json. */
  | { type: 'diff-configs'; runIds: [string, string] }
  /** The slow-path kernels note's button: the host opens the help on getting the native kernels. */
  | { type: 'kernels-help' }
  /** A chart or heatmap exported from its toolbar: the host asks where to save it and writes it. */
  | ExportRequest
  | { type: 'error'; message: string };

export type ExportFormat = 'png' | 'svg' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['png', 'svg', 'csv'];

export interface ExportRequest {
  type: 'export';
  format: ExportFormat;
  /** What was exported, file-name safe (`loss`, `attention-student-l1-mean`): the host names the file `<run>-<chart>.<format>`. */
  chart: string;
  /** png: a `data:image/png;base64,` URL (canvas.toDataURL); svg, csv: the text. */
  data: string;
  /** The run shown (a run view); absent in the compare view. */
  runId?: string;
}

/**
 * The largest export accepted, in characters: far above a chart's PNG or a 100 000-step CSV
 * (about 10 MB), far below what would strain the host's memory.
 */
export const EXPORT_MAX_CHARS = 32 * 1024 * 1024;
/** A chart name: letters, digits, '-', '_' and '.' inside, no path separators, no leading dot. */
const EXPORT_CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;
export const PNG_DATA_URL_PREFIX = 'data:image/png;base64,';

/** Why `x` is not a valid ExportRequest, or undefined when it is one. */
export function exportRequestProblem(x: unknown): string | undefined {
  if (!isObject(x) || x.type !== 'export') return 'not an export message';
  if (typeof x.format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(x.format))
    return `unknown format ${JSON.stringify(x.format)}`;
  if (typeof x.chart !== 'string' || !EXPORT_CHART_NAME.test(x.chart) || x.chart.includes('..'))
    return 'chart must be a file-name-safe name';
  if (x.runId !== undefined && !isNonEmptyString(x.runId)) return 'runId must be a non-empty string';
  if (typeof x.data !== 'string' || x.data.length === 0) return 'data must be a non-empty string';
  if (x.data.length > EXPORT_MAX_CHARS) return `data is over ${EXPORT_MAX_CHARS} characters`;
  if (x.format === 'png' && !x.data.startsWith(PNG_DATA_URL_PREFIX))
    return `png data must be a ${PNG_DATA_URL_PREFIX} URL`;
  return undefined;
}

export type HostMessageType = HostMessage['type'];
export type WebviewMessageType = WebviewMessage['type'];

const RUN_STATUSES: readonly string[] = ['running', 'finished', 'failed', 'stopped', 'unknown'];

function isObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

function isNonEmptyString(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0;
}

function isConfigFieldValue(x: unknown): x is ConfigFieldValue {
  return x === null || typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));
}

/** Why `x` is not a valid 'config-fields' message, or undefined. */
function configFieldsProblem(x: Record<string, unknown>): string | undefined {
  if (!Array.isArray(x.fields) || !x.fields.every(isNonEmptyString))
    return `'config-fields': fields must be an array of non-empty strings`;
  if (!Array.isArray(x.runs)) return `'config-fields': runs must be an array`;
  for (let i = 0; i < x.runs.length; i++) {
    const r: unknown = x.runs[i];
    if (!isObject(r) || !isNonEmptyString(r.runId))
      return `'config-fields': runs[${i}].runId must be a non-empty string`;
    if (!isObject(r.values) || !Object.values(r.values).every(isConfigFieldValue))
      return `'config-fields': runs[${i}].values must map fields to strings, finite numbers, booleans or null`;
    if (r.problem !== undefined && typeof r.problem !== 'string')
      return `'config-fields': runs[${i}].problem must be a string`;
  }
  return undefined;
}

function isRunStatus(x: unknown): x is RunStatus {
  return typeof x === 'string' && RUN_STATUSES.includes(x);
}

/** The value as a valid event (revived, for the wire reader), or undefined when it is not one. */
type EventReader = (x: unknown) => TrainerEvent | undefined;

const strictEvent: EventReader = (x) => (isTrainerEvent(x) ? x : undefined);

/** Also takes the wire form: "NaN"/"Infinity"/"-Infinity" strings revived (by parseEventLine). */
const wireEvent: EventReader = (x) => {
  if (isTrainerEvent(x)) return x;
  return isObject(x) ? parseEventLine(JSON.stringify(x)).event : undefined;
};

/** The list read event by event; the same array when nothing was revived. */
function readEvents(
  list: unknown[],
  read: EventReader,
): { events: TrainerEvent[]; bad?: undefined } | { events?: undefined; bad: number } {
  let out: TrainerEvent[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const e = read(list[i]);
    if (!e) return { bad: i };
    if (e !== list[i]) out ??= list.slice(0, i) as TrainerEvent[];
    out?.push(e);
  }
  return { events: out ?? (list as TrainerEvent[]) };
}

function readSnapshot(x: unknown, read: EventReader): RunSnapshot | undefined {
  if (
    !isObject(x) ||
    !isNonEmptyString(x.runId) ||
    typeof x.runDir !== 'string' ||
    typeof x.label !== 'string' ||
    !isRunStatus(x.status)
  )
    return undefined;
  if (!Array.isArray(x.events)) return undefined;
  const { events } = readEvents(x.events, read);
  if (!events) return undefined;
  return (events === x.events ? x : { ...x, events }) as unknown as RunSnapshot;
}

export function isRunSnapshot(x: unknown): x is RunSnapshot {
  return readSnapshot(x, strictEvent) !== undefined;
}

/** What decodeHostMessage gives: the message, or why it is not one. */
export type DecodedHostMessage =
  { message: HostMessage; problem?: undefined } | { message?: undefined; problem: string };

/** The message with every event read by `read` (a copy only where one was revived), or why it is not one. */
function readHostMessage(x: unknown, read: EventReader): DecodedHostMessage {
  if (!isObject(x)) return { problem: 'not an object' };
  switch (x.type) {
    case 'init': {
      if (x.view !== 'run' && x.view !== 'compare') return { problem: `'init': view must be 'run' or 'compare'` };
      const given = x.runs;
      if (!Array.isArray(given)) return { problem: `'init': runs must be an array` };
      const runs: RunSnapshot[] = [];
      for (let i = 0; i < given.length; i++) {
        const run = readSnapshot(given[i], read);
        if (!run) return { problem: `'init': runs[${i}] is not a valid run snapshot` };
        runs.push(run);
      }
      const same = runs.every((r, i) => r === given[i]);
      return { message: (same ? x : { ...x, runs }) as unknown as HostMessage };
    }
    case 'events': {
      if (!isNonEmptyString(x.runId)) return { problem: `'events': runId must be a non-empty string` };
      if (!Array.isArray(x.events)) return { problem: `'events': events must be an array` };
      const { events, bad } = readEvents(x.events, read);
      if (!events) return { problem: `'events': events[${bad}] is not a valid trainer event` };
      return { message: (events === x.events ? x : { ...x, events }) as unknown as HostMessage };
    }
    case 'run-status':
      if (!isNonEmptyString(x.runId)) return { problem: `'run-status': runId must be a non-empty string` };
      if (!isRunStatus(x.status)) return { problem: `'run-status': unknown status ${JSON.stringify(x.status)}` };
      if (x.message !== undefined && typeof x.message !== 'string')
        return { problem: `'run-status': message must be a string` };
      return { message: x as unknown as HostMessage };
    case 'config-fields': {
      const problem = configFieldsProblem(x);
      return problem ? { problem } : { message: x as unknown as HostMessage };
    }
    default:
      return { problem: `unknown message type ${JSON.stringify(x.type)}` };
  }
}

/** Why `x` is not a HostMessage, or undefined when it is one; for error reports. */
export function hostMessageProblem(x: unknown): string | undefined {
  return readHostMessage(x, strictEvent).problem;
}

export function isHostMessage(x: unknown): x is HostMessage {
  return hostMessageProblem(x) === undefined;
}

export function isWebviewMessage(x: unknown): x is WebviewMessage {
  if (!isObject(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'add-to-compare':
    case 'kernels-help':
      return true;
    case 'stop-run':
    case 'resume-run':
      return isNonEmptyString(x.runId);
    case 'reveal':
      return isNonEmptyString(x.path);
    case 'diff-configs':
      return (
        Array.isArray(x.runIds) &&
        x.runIds.length === 2 &&
        x.runIds.every(isNonEmptyString) &&
        x.runIds[0] !== x.runIds[1]
      );
    case 'error':
      return typeof x.message === 'string';
    case 'export':
      return exportRequestProblem(x) === undefined;
    default:
      return false;
  }
}

/**
 * A message as it arrives over JSON (postMessage): events in wire form are revived (a copy is made
 * only then), every event is checked once, and the result is a HostMessage or the reason it is not.
 */
export function decodeHostMessage(x: unknown): DecodedHostMessage {
  return readHostMessage(x, wireEvent);
}
