/**
 * What the explorer, the status bar and the dashboard show about one run, derived from the run
 * folder (run.json, events.jsonl, checkpoints/, student/) and, for runs this window started, the
 * child process. Pure: the folder is read elsewhere and passed in.
 */
import type { StageKind, TrainerEvent } from '../protocol/events';
import { RunFold, type RunEnding, type StageRecord } from '../protocol/run-fold';
import { kernelsNote, type KernelsNote } from '../protocol/kernels-note';
import type { LayerPairSpec } from '../config/types';
import type { TrainerExit } from './trainer-process';
import { isProcessAlive } from '../util/process-alive';

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
  fold?: RunFold;
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

function basename(p: string): string {
  const parts = p.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

/** step-00000123 → 123 */
export function checkpointStep(dir: string): number | undefined {
  const m = /(\d+)\/?$/.exec(basename(dir));
  return m ? Number(m[1]) : undefined;
}

/** A stage as the views show it: the fold's record, with its steps counted. */
function stageState(st: StageRecord): StageState {
  return {
    index: st.index,
    name: st.name,
    kind: st.kind,
    epochs: st.epochs,
    layers: st.layers.map((p) => [p[0], p[1]] as LayerPairSpec),
    progress: st.state === 'running' ? 'active' : st.state,
    // By global step numbers: a resume replays the steps after its checkpoint, which must not count twice.
    stepsDone: st.firstStep === undefined ? 0 : (st.lastStep ?? st.firstStep) - st.firstStep + 1,
    ...(st.stepsPlanned !== undefined ? { stepsPlanned: st.stepsPlanned } : {}),
    ...(st.finishReason ? { endReason: st.finishReason } : {}),
  };
}

/** How the last segment ended, as the views say it. */
function endingOf(e: RunEnding): { status: RunStatus; message?: string; fix?: string } {
  switch (e.type) {
    case 'run-finished':
      return { status: 'finished', message: e.summary };
    case 'run-failed':
      return { status: 'failed', message: e.reason, ...(e.fix ? { fix: e.fix } : {}) };
    case 'run-stopped':
      return {
        status: 'stopped',
        message: `stopped by ${e.signal}${e.checkpoint ? '; resume continues from its checkpoint' : ' before its first step'}`,
      };
  }
}

/** The fields of `o` that are set (so optional fields stay absent rather than undefined). */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function deriveRunState(input: RunInputs, isAlive: (pid: number) => boolean = isProcessAlive): RunState {
  const runId = basename(input.runDir);
  const f = input.fold ?? RunFold.of(input.events ?? []);
  const started = f.started;
  const latest = f.latestStep;
  const s: RunState = {
    runDir: input.runDir,
    runId,
    label: started?.config.name || runId,
    status: 'unknown',
    crashed: false,
    live: false,
    stages: f.stages.map(stageState),
    step: f.step,
    checkpoints: [],
    resumable: false,
  };
  Object.assign(
    s,
    definedOnly<Partial<RunState>>({
      algorithm: started?.config.algorithm,
      task: started?.config.task?.name,
      backend: started?.backend.kind,
      kernels: started && kernelsNote(started.backend),
      studentParams: started?.params.student.total,
      teacherParams: started?.params.teacher.total,
      currentStage: f.currentStage >= 0 ? f.currentStage : undefined,
      epoch: latest?.epoch,
      loss: latest?.loss,
      lr: latest?.lr,
      examplesPerSec: latest?.examplesPerSec,
      best: f.best && { ...f.best },
      lastEval: f.lastEval && { ...f.lastEval },
      durationMs: f.finished?.durationMs,
      studentDir: f.finished?.studentDir || undefined,
    }),
  );
  const info = input.info;
  if (info?.configFile) s.configFile = info.configFile;
  if (info?.startedAt) s.startedAt = info.startedAt;
  if (info?.updatedAt) s.updatedAt = info.updatedAt;
  const ended = f.ended && endingOf(f.ended);
  // The last event of each checkpoint folder (a resume may write one again).
  const ckpts = new Map(f.checkpoints.map((c) => [c.path, c]));
  const eventCount = f.count;

  // ---- status: a live process wins, then the events' own ending, then run.json.
  const attached = input.attached;
  const attachedAlive = !!attached && !attached.exit;
  const infoPid = typeof info?.pid === 'number' ? info.pid : undefined;
  const infoRunningAlive =
    info?.status === 'running' &&
    infoPid !== undefined &&
    (attached?.pid === infoPid ? attachedAlive : isAlive(infoPid));
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
      s.message = exit.spawnError
        ? `the trainer could not start: ${exit.spawnError}`
        : `the trainer exited with code ${exit.code} without reporting why; see the trainer log`;
    } else {
      s.status = 'stopped';
      s.crashed = !exit?.stopRequested;
      s.message = exit
        ? exit.stopRequested
          ? `stopped (${exit.killed ? 'killed after the grace period' : (exit.signal ?? `exit code ${exit.code}`)})`
          : `the trainer was ended by ${exit.signal ?? `exit code ${exit.code}`}`
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
    return {
      path: p,
      step: fromEvent?.step ?? checkpointStep(p),
      ...(fromEvent?.reason ? { reason: fromEvent.reason } : {}),
    };
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
    if (s.status === 'running' && st.stepsPlanned)
      parts.push(`${Math.min(100, Math.round((100 * st.stepsDone) / st.stepsPlanned))}%`);
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
