/**
 * Every run this window knows about, read from the run folders (the truth, whoever started the
 * run: this window, another one or the CLI). `refresh(runDir)` re-reads run.json, lists the
 * checkpoints and reads only the events appended since the last refresh. Events are folded into
 * a summary as they arrive; the full list stays in memory only for retained runs (open dashboards).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainerEvent } from '../protocol/events';
import { EventFileTail, readEventsUpTo } from './event-tail';
import { AttachedProcess, deriveRunState, RunFiles, RunInfoFile, RunState } from './run-state';
import { RunFold } from '../protocol/run-fold';
import { isProcessAlive } from '../util/process-alive';

export interface RunChange {
  runDir: string;
  /** Events read since the last change (all of them when `reset`). */
  appended: TrainerEvent[];
  /** The events file was replaced or truncated: earlier events are void. */
  reset: boolean;
  /** The run's folder is gone. */
  removed: boolean;
  state?: RunState;
}

interface RunRecord {
  runDir: string;
  tail: EventFileTail;
  /** The events folded into what the views need; always kept. */
  fold: RunFold;
  /** Every event, kept only while someone (a dashboard) retains the run: attention samples are large. */
  events?: TrainerEvent[];
  retained: number;
  info?: RunInfoFile;
  files: RunFiles;
  attached?: AttachedProcess;
  state: RunState;
}

/** Whether a folder looks like a run folder (the trainer writes run.json first). */
export function isRunFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'run.json')) || fs.existsSync(path.join(dir, 'events.jsonl'));
}

/** The run folders directly under a runs/ folder, sorted by name. */
export function listRunFolders(runsDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(runsDir);
  } catch {
    return [];
  }
  return names
    .sort()
    .map((n) => path.join(runsDir, n))
    .filter((d) => {
      try {
        return fs.statSync(d).isDirectory() && isRunFolder(d);
      } catch {
        return false;
      }
    });
}

function readInfo(dir: string): RunInfoFile | undefined {
  try {
    const x: unknown = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    return x && typeof x === 'object' && !Array.isArray(x) ? (x as RunInfoFile) : undefined;
  } catch {
    // Missing, or caught between writes: keep what we had.
    return undefined;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readFiles(dir: string): RunFiles {
  const ckDir = path.join(dir, 'checkpoints');
  let checkpoints: string[] = [];
  try {
    // Temporary folders (written, then renamed) start with a dot or end in .tmp: skip them.
    checkpoints = fs
      .readdirSync(ckDir)
      .filter((n) => !n.startsWith('.') && !n.endsWith('.tmp') && !n.includes('.tmp-'))
      .sort()
      .map((n) => path.join(ckDir, n))
      .filter(isDir);
  } catch {
    checkpoints = [];
  }
  const files: RunFiles = { checkpoints };
  const student = path.join(dir, 'student');
  if (fs.existsSync(path.join(student, 'config.json'))) files.studentDir = student;
  const best = path.join(dir, 'best');
  if (fs.existsSync(path.join(best, 'config.json'))) files.bestDir = best;
  return files;
}

export class RunStore {
  private readonly runs = new Map<string, RunRecord>();

  constructor(private readonly isAlive: (pid: number) => boolean = isProcessAlive) {}

  get runDirs(): string[] {
    return [...this.runs.keys()];
  }

  has(runDir: string): boolean {
    return this.runs.has(path.resolve(runDir));
  }

  state(runDir: string): RunState | undefined {
    return this.runs.get(path.resolve(runDir))?.state;
  }

  states(): RunState[] {
    return [...this.runs.values()].map((r) => r.state);
  }

  /** Every event read so far: kept in memory while retained, else read from the file. */
  events(runDir: string): readonly TrainerEvent[] {
    const rec = this.runs.get(path.resolve(runDir));
    if (!rec) return [];
    return rec.events ?? readEventsUpTo(rec.tail.file, rec.tail.position);
  }

  /** Keeps the run's events in memory (a dashboard shows them) until as many `release` calls. */
  retain(runDir: string): void {
    const rec = this.ensure(runDir);
    rec.retained++;
    rec.events ??= readEventsUpTo(rec.tail.file, rec.tail.position);
  }

  release(runDir: string): void {
    const rec = this.runs.get(path.resolve(runDir));
    if (!rec || rec.retained === 0) return;
    rec.retained--;
    if (rec.retained === 0) delete rec.events;
  }

  /** The pid run.json names, whatever the run's status. */
  infoPid(runDir: string): number | undefined {
    const pid = this.runs.get(path.resolve(runDir))?.info?.pid;
    return typeof pid === 'number' ? pid : undefined;
  }

  /** The run whose folder is named `runId` (ids are folder names, unique within one runs/ folder). */
  findById(runId: string): RunState | undefined {
    return this.states().find((s) => s.runId === runId);
  }

  /** Re-reads a run folder; returns what changed, or undefined when nothing did. */
  refresh(runDirIn: string): RunChange | undefined {
    const runDir = path.resolve(runDirIn);
    let rec = this.runs.get(runDir);
    if (!isDir(runDir) || (!rec && !isRunFolder(runDir))) {
      if (!rec) return undefined;
      this.runs.delete(runDir);
      return { runDir, appended: [], reset: false, removed: true };
    }
    if (!rec) {
      rec = this.newRecord(runDir);
      this.runs.set(runDir, rec);
    }
    const read = rec.tail.read();
    if (read.reset) {
      rec.fold = new RunFold();
      if (rec.events) rec.events = [];
    }
    for (const e of read.events) rec.fold.apply(e);
    rec.events?.push(...read.events);
    rec.info = readInfo(runDir) ?? rec.info;
    rec.files = readFiles(runDir);
    return this.rederive(rec, read.events, read.reset);
  }

  /** Marks a run as started by this window (its process id); clears with `detach`. */
  attach(runDir: string, pid: number | undefined): RunChange | undefined {
    const rec = this.ensure(runDir);
    rec.attached = { pid };
    return this.rederive(rec, [], false, true);
  }

  detach(runDir: string, exit: NonNullable<AttachedProcess['exit']>): RunChange | undefined {
    const rec = this.ensure(runDir);
    rec.attached = { ...rec.attached, exit };
    // The last events may have landed after the last refresh.
    return this.refresh(runDir) ?? this.rederive(rec, [], false, true);
  }

  /** Re-checks the liveness of runs that say they are running; returns the ones whose status changed. */
  checkLiveness(): RunChange[] {
    const out: RunChange[] = [];
    for (const rec of this.runs.values()) {
      if (rec.state.status !== 'running' || rec.state.live) continue;
      const change = this.rederive(rec, [], false);
      if (change) out.push(change);
    }
    return out;
  }

  remove(runDir: string): boolean {
    return this.runs.delete(path.resolve(runDir));
  }

  private ensure(runDir: string): RunRecord {
    const abs = path.resolve(runDir);
    const rec = this.runs.get(abs);
    if (rec) return rec;
    this.refresh(abs);
    const created = this.runs.get(abs);
    if (created) return created;
    // The folder does not exist (yet): track it anyway so the process's state is not lost.
    const fresh = this.newRecord(abs);
    this.runs.set(abs, fresh);
    return fresh;
  }

  private newRecord(runDir: string): RunRecord {
    const fold = new RunFold();
    return {
      runDir,
      tail: new EventFileTail(path.join(runDir, 'events.jsonl')),
      fold,
      retained: 0,
      files: { checkpoints: [] },
      state: deriveRunState({ runDir, fold, files: { checkpoints: [] } }, this.isAlive),
    };
  }

  private rederive(rec: RunRecord, appended: TrainerEvent[], reset: boolean, force = false): RunChange | undefined {
    const before = rec.state;
    rec.state = deriveRunState(
      { runDir: rec.runDir, info: rec.info, fold: rec.fold, files: rec.files, attached: rec.attached },
      this.isAlive,
    );
    const same = !force && !reset && appended.length === 0 && JSON.stringify(before) === JSON.stringify(rec.state);
    if (same) return undefined;
    return { runDir: rec.runDir, appended, reset, removed: false, state: rec.state };
  }
}
