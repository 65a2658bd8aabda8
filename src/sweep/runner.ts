/**
 * Runs a sweep's cells on this machine: each cell is a child process of the same CLI
 * (`train <cell config> --events`, or `resume <run folder> --events` for a cell whose run stopped
 * or crashed), at most `concurrency` at once, shared teachers first. Events on the children's
 * stdout keep the manifest current; their stderr goes to logs/<cell>.log. What a cell needs next
 * is always decided from its run folder, so a second invocation skips finished cells and resumes
 * interrupted ones, whatever the manifest says.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEventLine, TrainerEvent } from '../protocol/events';
import { RunFold } from '../protocol/run-fold';
import { StopSignal } from '../train/loop';
import { CellRun, currentCellRun, findCellRuns } from './cell-runs';
import { PlannedCell, RUNS_DIR, SweepPlan } from './plan';
import {
  acquireLock,
  CellStatus,
  invocation,
  ManifestCell,
  manifestFor,
  readManifest,
  SweepManifest,
  writeCellFiles,
  writeManifest,
} from './sweep-folder';

export interface CellControl {
  pid: number | undefined;
  kill(signal?: NodeJS.Signals): void;
}

export interface SweepRunOptions {
  /** How to start the CLI: e.g. [process.execPath, '/path/to/bin/distillery.js']. */
  cli: readonly string[];
  concurrency: number;
  /** Resume cells whose run failed (by default they are reported and left alone). */
  retryFailed?: boolean;
  /** Passed to every cell as --backend. */
  backend?: string;
  stop: StopSignal;
  /** Human progress, one line at a time. */
  log: (line: string) => void;
  /** The command line that started the sweep, recorded in the manifest for the report. */
  command?: string;
  /** Every event of every cell, as it arrives (progress displays; tests use `control` to kill a cell). */
  onCellEvent?: (cellId: string, event: TrainerEvent, control: CellControl) => void;
}

/** What a cell needs next, from its run folder. */
export type CellAction =
  | { kind: 'train' }
  | { kind: 'resume'; run: CellRun }
  | { kind: 'skip'; reason: 'finished' | 'running' | 'failed'; run: CellRun };

export function cellAction(run: CellRun | undefined, retryFailed: boolean): CellAction {
  if (!run) return { kind: 'train' };
  switch (run.status) {
    case 'finished':
      return { kind: 'skip', reason: 'finished', run };
    case 'running':
      return { kind: 'skip', reason: 'running', run };
    case 'failed':
      return retryFailed ? { kind: 'resume', run } : { kind: 'skip', reason: 'failed', run };
    default:
      return { kind: 'resume', run };
  }
}

export interface SweepOutcome {
  dir: string;
  manifest: SweepManifest;
  /** Cell ids (teachers included) by what happened to them in this invocation. */
  trained: string[];
  resumed: string[];
  skipped: string[];
  failed: string[];
  blocked: string[];
  /** Cells whose config changed since an earlier invocation wrote them. */
  changedConfigs: string[];
  stopped: boolean;
}

/** The state of every cell from the run folders, for --dry-run and for the runner. */
export function cellActions(plan: SweepPlan, retryFailed: boolean): Map<string, CellAction> {
  const runs = findCellRuns(path.join(plan.dir, RUNS_DIR));
  const out = new Map<string, CellAction>();
  for (const c of [...plan.teachers, ...plan.cells])
    out.set(c.id, cellAction(currentCellRun(runs.get(c.id), { checkPid: true }), retryFailed));
  return out;
}

function rel(dir: string, p: string): string {
  return path.relative(dir, p).split(path.sep).join('/');
}

export async function runSweep(plan: SweepPlan, o: SweepRunOptions): Promise<SweepOutcome> {
  const release = acquireLock(plan.dir);
  try {
    return await new SweepRunner(plan, o).run();
  } finally {
    release();
  }
}

class SweepRunner {
  private manifest!: SweepManifest;
  private readonly children = new Set<ChildProcess>();
  private readonly outcome: Omit<SweepOutcome, 'manifest'>;
  private done = 0;
  private total = 0;

  constructor(
    private readonly plan: SweepPlan,
    private readonly o: SweepRunOptions,
  ) {
    this.outcome = {
      dir: plan.dir,
      trained: [],
      resumed: [],
      skipped: [],
      failed: [],
      blocked: [],
      changedConfigs: [],
      stopped: false,
    };
  }

  private cell(id: string): ManifestCell {
    const c = this.manifest.teachers.find((x) => x.id === id) ?? this.manifest.cells.find((x) => x.id === id);
    if (!c) throw new Error(`internal error: no manifest entry for cell ${id}`);
    return c;
  }

  private update(id: string, change: Partial<ManifestCell>): void {
    Object.assign(this.cell(id), change, { updatedAt: new Date().toISOString() });
    writeManifest(this.plan.dir, this.manifest);
  }

  async run(): Promise<SweepOutcome> {
    const { plan, o } = this;
    this.outcome.changedConfigs = writeCellFiles(plan);
    this.manifest = manifestFor(
      plan,
      readManifest(plan.dir),
      invocation(o.command ?? `distillery sweep ${plan.sweep.file} --out ${plan.dir}`),
    );
    const actions = cellActions(plan, o.retryFailed ?? false);
    for (const c of [...plan.teachers, ...plan.cells]) {
      const a = actions.get(c.id)!;
      if (a.kind !== 'train') this.cell(c.id).runDir = rel(plan.dir, a.run.runDir);
      this.cell(c.id).status = a.kind === 'train' ? 'pending' : a.run.status;
    }
    writeManifest(plan.dir, this.manifest);
    for (const id of this.outcome.changedConfigs) {
      if (actions.get(id)?.kind !== 'train')
        o.log(
          `warning: the config of cell ${id} changed since its run was made; the run is kept (delete ${this.cell(id).runDir} to redo the cell)`,
        );
    }

    this.total = plan.teachers.length + plan.cells.length;
    const forward = setInterval(() => this.forwardStop(), 200);
    try {
      await this.pool(plan.teachers, (c) => this.runCell(c, actions.get(c.id)!));
      const ready = (c: PlannedCell) => !c.teacherDir || fs.existsSync(path.join(c.teacherDir, 'READY'));
      const students = plan.cells.filter((c) => {
        if (ready(c) || actions.get(c.id)!.kind === 'skip') return true;
        if (!o.stop.requested) {
          this.outcome.blocked.push(c.id);
          this.update(c.id, {
            status: 'blocked',
            lastError: `its teacher (cell ${c.teacher}) did not finish training`,
          });
        }
        return false;
      });
      if (this.outcome.blocked.length)
        o.log(
          `${this.outcome.blocked.length} cell(s) blocked: teacher cell ${plan.teachers
            .filter((t) => !ready(t))
            .map((t) => t.id)
            .join(', ')} did not finish`,
        );
      this.done += this.outcome.blocked.length;
      await this.pool(students, (c) => this.runCell(c, actions.get(c.id)!));
    } finally {
      clearInterval(forward);
    }
    this.outcome.stopped = o.stop.requested !== null;
    writeManifest(plan.dir, this.manifest);
    return { ...this.outcome, manifest: this.manifest };
  }

  private async pool(cells: readonly PlannedCell[], work: (c: PlannedCell) => Promise<void>): Promise<void> {
    let next = 0;
    const n = Math.max(1, Math.min(this.o.concurrency, cells.length));
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (next < cells.length && !this.o.stop.requested) await work(cells[next++]);
      }),
    );
  }

  private forwardStop(): void {
    if (!this.o.stop.requested) return;
    for (const child of this.children) {
      if (!(child as ChildProcess & { stopSent?: boolean }).stopSent) {
        (child as ChildProcess & { stopSent?: boolean }).stopSent = true;
        child.kill('SIGTERM');
      }
    }
  }

  private progress(id: string, text: string): void {
    this.o.log(`[${this.done}/${this.total}] ${id}: ${text}`);
  }

  private async runCell(c: PlannedCell, action: CellAction): Promise<void> {
    const { plan, o } = this;
    if (action.kind === 'skip') {
      this.done++;
      this.outcome.skipped.push(c.id);
      if (action.reason === 'failed') this.outcome.failed.push(c.id);
      const runDir = rel(plan.dir, action.run.runDir);
      this.progress(
        c.id,
        action.reason === 'finished'
          ? `already finished (${runDir})`
          : action.reason === 'running'
            ? `running in another process (pid ${action.run.info?.pid}); left alone`
            : `failed earlier (${runDir}: ${action.run.info?.message ?? 'see its events'}); rerun with --retry-failed`,
      );
      return;
    }
    const args =
      action.kind === 'train' ? ['train', c.configFile, '--events'] : ['resume', action.run.runDir, '--events'];
    // A shared teacher's run stops once the teacher is READY (resume keeps to it through run.json).
    if (c.kind === 'teacher' && action.kind === 'train') args.push('--teacher-only');
    if (o.backend) args.push('--backend', o.backend);
    (action.kind === 'train' ? this.outcome.trained : this.outcome.resumed).push(c.id);
    this.update(c.id, { status: 'running', attempts: this.cell(c.id).attempts + 1 });
    this.progress(
      c.id,
      action.kind === 'train' ? 'training' : `resuming ${rel(plan.dir, action.run.runDir)} (${action.run.status})`,
    );
    const started = Date.now();
    const result = await this.spawnCell(c, args);
    this.done++;

    // The run folder, not the exit code, says what happened.
    const runs = findCellRuns(path.join(plan.dir, RUNS_DIR)).get(c.id);
    const run = result.runDir
      ? currentCellRun([result.runDir], { checkPid: true })
      : currentCellRun(runs, { checkPid: true });
    const secs = `${((Date.now() - started) / 1000).toFixed(0)}s`;
    if (!run) {
      const reason =
        result.stderrTail.trim().split('\n').slice(-3).join(' | ') || `exit code ${result.code ?? result.signal}`;
      this.outcome.failed.push(c.id);
      this.update(c.id, { status: 'failed', lastError: reason });
      this.progress(c.id, `failed before creating a run folder: ${reason}`);
      return;
    }
    const status: CellStatus = run.status;
    const change: Partial<ManifestCell> = { status, runDir: rel(plan.dir, run.runDir) };
    if (status === 'finished') {
      if (result.best) change.best = result.best;
      delete this.cell(c.id).lastError;
      this.progress(
        c.id,
        `finished${result.best ? `: dev ${result.best.metric} ${result.best.value.toFixed(4)}` : ''} (${secs})`,
      );
    } else {
      const reason =
        result.failure ??
        run.info?.message ??
        (result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`);
      change.lastError = reason;
      if (status !== 'stopped') this.outcome.failed.push(c.id);
      this.progress(c.id, `${status}: ${reason} (${secs}); log: logs/${c.id}.log`);
    }
    this.update(c.id, change);
  }

  private spawnCell(
    c: PlannedCell,
    args: string[],
  ): Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    runDir?: string;
    best?: ManifestCell['best'];
    failure?: string;
    stderrTail: string;
  }> {
    const { plan, o } = this;
    const [cmd, ...pre] = o.cli;
    const logFile = path.join(plan.dir, 'logs', `${c.id}.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    log.write(`\n== ${new Date().toISOString()} ${[cmd, ...pre, ...args].join(' ')}\n`);
    // Its own process group: a Ctrl-C in the terminal reaches only the sweep, which forwards one
    // SIGTERM (a second signal would make the trainer exit without its final checkpoint).
    const child = spawn(cmd, [...pre, ...args], {
      cwd: plan.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
      detached: true,
    });
    this.children.add(child);
    const control: CellControl = {
      pid: child.pid,
      kill: (signal = 'SIGTERM') => {
        child.kill(signal);
      },
    };
    // The cell's folder, best and failure reason are read from its events' fold.
    const fold = new RunFold();
    let stderrTail = '';
    let partial = '';
    const onEvent = (e: TrainerEvent): void => {
      fold.apply(e);
      if (e.type === 'run-started') this.update(c.id, { runDir: rel(plan.dir, e.runDir), status: 'running' });
      o.onCellEvent?.(c.id, e, control);
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const parsed = parseEventLine(line);
        if (parsed.event) onEvent(parsed.event);
        else if (line.trim()) log.write(line + '\n');
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log.write(chunk);
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    return new Promise((resolve) => {
      child.on('error', (err) => {
        stderrTail += `\ncannot start ${cmd}: ${err.message}`;
      });
      child.on('close', (code, signal) => {
        this.children.delete(child);
        const last = parseEventLine(partial);
        if (last.event) onEvent(last.event);
        log.end(`== exit ${code ?? signal}\n`);
        resolve({
          code,
          signal,
          stderrTail,
          runDir: fold.started?.runDir,
          best: fold.finished?.best,
          failure: fold.failure,
        });
      });
    });
  }
}
