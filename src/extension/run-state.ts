/**
 * What the explorer, the status bar and the dashboard show about one run, derived from the run
 * folder (run.json, events.jsonl, checkpoints/, student/) and, for runs this window started, the
 * child process. Pure: the folder is read elsewhere and passed in.
 */
import type { PlannedStage, StageKind, TrainerEvent } from '../protocol/events';
import { kernelsNote, type KernelsNote } from '../protocol/kernels-note';
import type { LayerPairSpec } from '../config/types';
import type { TrainerExit } from './trainer-process';

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped' | 'unknown';

/** runs/<id>/run.json as the trainer writes it (src/train/run-folder.ts); every field may be missing in a damaged file. */
export interface RunInfoFile {
  id?: string;
  status?: string;
  pid?: number;
  configFile?: string;
  startedAt?: string;
  updatedAt?: string;
  message?: string;
}

export interface RunFiles {
  /** Absolute paths of checkpoints/<step-…>/ folders, oldest first. */
  checkpoints: string[];
  /** runs/<id>/student/ when an exported student is there. */
  studentDir?: string;
  /** runs/<id>/best/ when the best student so far is there. */
  bestDir?: string;
}

/** The process this window started for the run. */
export interface AttachedProcess {
  pid?: number;
  /** Set once it has exited. */
  exit?: TrainerExit;
}

export interface RunInputs {
  runDir: string;
  info?: RunInfoFile;
  /** The run's events, or `fold`: the same already folded (what the store keeps). */
  events?: readonly TrainerEvent[];
  fold?: EventFold;
  files: RunFiles;
  attached?: AttachedProcess;
}

export type StageProgress = 'pending' | 'active' | 'done';

export interface StageState {
  index: number;
  name: string;
  kind: StageKind;
  epochs: number;
  layers: LayerPairSpec[];
  progress: StageProgress;
  stepsPlanned?: number;
  stepsDone: number;
  /** Why it ended: its epochs ran out or its loss plateaued. */
  endReason?: 'epochs' | 'plateau';
}

export interface RunState {
  runDir: string;
  runId: string;
  /** The config's name when it has one, else the run id. */
  label: string;
  status: RunStatus;
  /** A run.json that says running while its process is gone: the trainer crashed or was killed. */
  crashed: boolean;
  /** Why it failed or stopped, or the final summary. */
  message?: string;
  /** A failure's fix, when the trainer gave one. */
  fix?: string;
  algorithm?: string;
  task?: string;
  backend?: string;
  /** Which kernels the (last started segment of the) run uses, and how to get the native ones. */
  kernels?: KernelsNote;
  configFile?: string;
  pid?: number;
  /** Started by this window and still running. */
  live: boolean;
  stages: StageState[];
  /** Index into `stages` of the active (or last started) stage. */
  currentStage?: number;
  step: number;
  epoch?: number;
  loss?: number;
  lr?: number;
  examplesPerSec?: number;
  best?: { metric: string; value: number; step: number };
  lastEval?: { metric: string; value: number; step: number };
  checkpoints: Array<{ path: string; step?: number; reason?: string }>;
  studentDir?: string;
  bestDir?: string;
  studentParams?: number;
  teacherParams?: number;
  startedAt?: string;
  updatedAt?: string;
  durationMs?: number;
  /** A checkpoint the run can resume from. */
  resumable: boolean;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function basename(p: string): string {
  const parts = p.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

/** step-00000123 → 123 */
export function checkpointStep(dir: string): number | undefined {
  const m = /(\d+)\/?$/.exec(basename(dir));
  return m ? Number(m[1]) : undefined;
}

function stagesFrom(plan: readonly PlannedStage[]): StageState[] {
  return plan.map((s) => ({
    index: s.index, name: s.name, kind: s.kind, epochs: s.epochs, layers: s.layers.map((p) => [p[0], p[1]] as LayerPairSpec),
    progress: 'pending', stepsDone: 0,
  }));
}

/**
 * The events of a run folded into what the views show. Incremental: the store applies each
 * appended event once, so a long run is never re-read from its first event.
 */
export class EventFold {
  label?: string;
  algorithm?: string;
  task?: string;
  backend?: string;
  kernels?: KernelsNote;
  studentParams?: number;
  teacherParams?: number;
  stages: StageState[] = [];
  currentStage?: number;
  step = 0;
  epoch?: number;
  loss?: number;
  lr?: number;
  examplesPerSec?: number;
  best?: { metric: string; value: number; step: number };
  lastEval?: { metric: string; value: number; step: number };
  durationMs?: number;
  studentDir?: string;
  /** The last segment's ending (a run-started, i.e. a resume, clears it). */
  ended?: { status: RunStatus; message?: string; fix?: string };
  readonly checkpoints = new Map<string, { path: string; step?: number; reason?: string }>();
  count = 0;
  private readonly stageSteps = new Map<number, { min: number; max: number }>();

  static of(events: readonly TrainerEvent[]): EventFold {
    const f = new EventFold();
    for (const e of events) f.apply(e);
    return f;
  }

  apply(e: TrainerEvent): void {
    this.count++;
    switch (e.type) {
      case 'run-started': {
        this.ended = undefined;
        this.algorithm = e.config.algorithm;
        this.task = e.config.task?.name;
        if (e.config.name) this.label = e.config.name;
        this.backend = e.backend.kind;
        this.kernels = kernelsNote(e.backend);
        this.studentParams = e.params.student.total;
        this.teacherParams = e.params.teacher.total;
        const previous = this.stages;
        this.stages = stagesFrom(e.plan.stages);
        // A resumed run repeats the plan; keep what the earlier segment finished.
        for (const st of this.stages) {
          const old = previous.find((p) => p.index === st.index);
          if (old) Object.assign(st, { progress: old.progress, stepsDone: old.stepsDone, stepsPlanned: old.stepsPlanned, endReason: old.endReason });
        }
        break;
      }
      case 'stage-started': {
        let st = this.stages.find((x) => x.index === e.stage);
        if (!st) {
          st = { index: e.stage, name: e.name, kind: e.kind, epochs: e.epochs, layers: [], progress: 'pending', stepsDone: 0 };
          this.stages.push(st);
          this.stages.sort((a, b) => a.index - b.index);
        }
        st.progress = 'active';
        st.stepsPlanned = e.stepsPlanned;
        this.currentStage = e.stage;
        break;
      }
      case 'step': {
        this.step = Math.max(this.step, e.step);
        this.epoch = e.epoch;
        this.loss = e.loss;
        this.lr = e.lr;
        this.examplesPerSec = e.examplesPerSec;
        const st = this.stages.find((x) => x.index === e.stage);
        if (st) {
          if (st.progress === 'pending') st.progress = 'active';
          // By global step numbers: a resume replays the steps after its checkpoint, which must not count twice.
          const r = this.stageSteps.get(e.stage) ?? { min: e.step, max: e.step };
          r.min = Math.min(r.min, e.step);
          r.max = Math.max(r.max, e.step);
          this.stageSteps.set(e.stage, r);
          st.stepsDone = r.max - r.min + 1;
        }
        this.currentStage = e.stage;
        break;
      }
      case 'eval':
        this.lastEval = { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
        if (e.isBest && this.stages.find((x) => x.index === e.stage)?.kind !== 'teacher') {
          this.best = { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
        }
        break;
      case 'checkpoint':
        this.checkpoints.set(e.path, { path: e.path, step: e.step, reason: e.reason });
        break;
      case 'stage-finished': {
        const st = this.stages.find((x) => x.index === e.stage);
        if (st) {
          st.progress = 'done';
          st.endReason = e.reason;
        }
        break;
      }
      case 'run-finished':
        this.ended = { status: 'finished', message: e.summary };
        if (e.best) this.best = e.best;
        this.durationMs = e.durationMs;
        if (e.studentDir) this.studentDir = e.studentDir;
        break;
      case 'run-failed':
        this.ended = { status: 'failed', message: e.reason, ...(e.fix ? { fix: e.fix } : {}) };
        break;
      case 'run-stopped':
        this.ended = { status: 'stopped', message: `stopped by ${e.signal}${e.checkpoint ? '; resume continues from its checkpoint' : ' before its first step'}` };
        break;
      default:
        break;
    }
  }
}

/** The fields of `o` that are set (so optional fields stay absent rather than undefined). */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function deriveRunState(input: RunInputs, isAlive: (pid: number) => boolean = isProcessAlive): RunState {
  const runId = basename(input.runDir);
  const f = input.fold ?? EventFold.of(input.events ?? []);
  const s: RunState = {
    runDir: input.runDir, runId, label: f.label ?? runId, status: 'unknown', crashed: false, live: false,
    // Copies: the fold keeps going after this snapshot.
    stages: f.stages.map((st) => ({ ...st, layers: st.layers.map((p) => [p[0], p[1]] as LayerPairSpec) })),
    step: f.step, checkpoints: [], resumable: false,
  };
  Object.assign(s, definedOnly<Partial<RunState>>({
    algorithm: f.algorithm, task: f.task, backend: f.backend, kernels: f.kernels && { ...f.kernels }, studentParams: f.studentParams, teacherParams: f.teacherParams,
    currentStage: f.currentStage, epoch: f.epoch, loss: f.loss, lr: f.lr, examplesPerSec: f.examplesPerSec,
    best: f.best && { ...f.best }, lastEval: f.lastEval && { ...f.lastEval }, durationMs: f.durationMs, studentDir: f.studentDir,
  }));
  const info = input.info;
  if (info?.configFile) s.configFile = info.configFile;
  if (info?.startedAt) s.startedAt = info.startedAt;
  if (info?.updatedAt) s.updatedAt = info.updatedAt;
  const ended = f.ended;
  const ckpts = f.checkpoints;
  const eventCount = f.count;

  // ---- status: a live process wins, then the events' own ending, then run.json.
  const attached = input.attached;
  const attachedAlive = !!attached && !attached.exit;
  const infoPid = typeof info?.pid === 'number' ? info.pid : undefined;
  const infoRunningAlive = info?.status === 'running' && infoPid !== undefined && (attached?.pid === infoPid ? attachedAlive : isAlive(infoPid));
  s.pid = attachedAlive ? attached?.pid : infoRunningAlive ? infoPid : undefined;
  s.live = attachedAlive;
  if (attachedAlive || infoRunningAlive) {
    s.status = 'running';
  } else if (ended) {
    s.status = ended.status;
    if (ended.message) s.message = ended.message;
    if (ended.fix) s.fix = ended.fix;
  } else if (info?.status === 'running' || (attached?.exit && eventCount > 0)) {
    const exit = attached?.exit;
    if (exit && !exit.stopRequested && exit.code !== 0 && exit.signal === null) {
      s.status = 'failed';
      s.message = exit.spawnError ? `the trainer could not start: ${exit.spawnError}` : `the trainer exited with code ${exit.code} without reporting why; see the trainer log`;
    } else {
      s.status = 'stopped';
      s.crashed = !exit?.stopRequested;
      s.message = exit
        ? exit.stopRequested ? `stopped (${exit.killed ? 'killed after the grace period' : exit.signal ?? `exit code ${exit.code}`})` : `the trainer was ended by ${exit.signal ?? `exit code ${exit.code}`}`
        : `the trainer process${infoPid !== undefined ? ` (pid ${infoPid})` : ''} is gone without a final event: it crashed or was killed`;
    }
  } else if (info?.status === 'finished' || info?.status === 'failed' || info?.status === 'stopped') {
    s.status = info.status;
    if (info.message) s.message = info.message;
  }
  if (s.status !== 'running' && s.currentStage !== undefined) {
    const st = s.stages.find((x) => x.index === s.currentStage);
    if (st && st.progress === 'active' && s.status === 'finished') st.progress = 'done';
  }

  s.checkpoints = input.files.checkpoints.map((p) => {
    const fromEvent = [...ckpts.values()].find((c) => c.path === p || basename(c.path) === basename(p));
    return { path: p, step: fromEvent?.step ?? checkpointStep(p), ...(fromEvent?.reason ? { reason: fromEvent.reason } : {}) };
  });
  if (input.files.studentDir) s.studentDir = input.files.studentDir;
  else if (s.studentDir && s.status !== 'finished') delete s.studentDir;
  if (input.files.bestDir) s.bestDir = input.files.bestDir;
  s.resumable = (s.status === 'stopped' || s.status === 'failed') && s.checkpoints.length > 0;
  return s;
}

/** "stage 3/5 · pid: layer 2", "step 120 · loss 0.4123", … for one line of text. */
export function progressText(s: RunState): string {
  const parts: string[] = [];
  const st = s.currentStage !== undefined ? s.stages.find((x) => x.index === s.currentStage) : undefined;
  if (st) {
    const pos = s.stages.indexOf(st) + 1;
    parts.push(`stage ${pos}/${s.stages.length} ${st.name}`);
    if (s.status === 'running' && st.stepsPlanned) parts.push(`${Math.min(100, Math.round((100 * st.stepsDone) / st.stepsPlanned))}%`);
  }
  if (s.step > 0) parts.push(`step ${s.step}`);
  if (s.loss !== undefined) parts.push(`loss ${formatNumber(s.loss)}`);
  return parts.join(' · ');
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return x.toFixed(4);
}

/** "accuracy 0.9123 @ 450" */
export function bestText(s: RunState): string | undefined {
  return s.best ? `${s.best.metric} ${formatNumber(s.best.value)}` : undefined;
}

/** The run the status bar follows: a live one this window started, else any running one, the newest first. */
export function pickActiveRun(states: readonly RunState[]): RunState | undefined {
  const running = states.filter((s) => s.status === 'running');
  const newest = (xs: RunState[]): RunState | undefined =>
    [...xs].sort((a, b) => (b.updatedAt ?? b.startedAt ?? '').localeCompare(a.updatedAt ?? a.startedAt ?? ''))[0];
  return newest(running.filter((s) => s.live)) ?? newest(running);
}

/** The status bar's text for the active run. */
export function statusBarText(s: RunState): string {
  const progress = progressText(s);
  return `$(sync~spin) ${s.label}${progress ? ` · ${progress}` : ''}`;
}
