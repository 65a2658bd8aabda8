/**
 * Starts, stops and resumes trainer processes and keeps the run store in step with them. Several
 * runs may go at once. A launched process is matched to its run folder by the folder in its
 * `run-started` event, or by the pid the trainer writes to run.json (which arrives first).
 *
 * The run folder stays the single source of events: the trainer appends each event to
 * events.jsonl before writing it to stdout, so a stdout event only triggers an incremental read of
 * the file. Runs started elsewhere (the CLI, another window) thus look exactly like ours.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainerEvent } from '../protocol/events';
import { RunFold } from '../protocol/run-fold';
import { RunChange, RunStore } from './run-store';
import { Emitter } from '../util/emitter';
import { isProcessAlive } from '../util/process-alive';
import { describeExit, TrainerCommand, TrainerExit, TrainerListener, TrainerProcess } from './trainer-process';

export type LaunchVerb = 'train' | 'resume';

export interface RunManagerConfig {
  /** The CLI script run with Node (bin/distillery.js of the extension, or a user's own). */
  cliPath(): string;
  nodePath(): string;
  env(): NodeJS.ProcessEnv;
  /** How long Stop waits after SIGTERM before SIGKILL. */
  graceMs(): number;
  /** Coalesces refreshes of one run folder (default 50 ms). */
  refreshDelayMs?: number;
}

/**
 * One trainer process this window started. The launch spawns its process itself, with callbacks
 * bound to it, so there is no moment when the process exists without its launch. Node reports
 * everything (a spawn failure included) on a later tick, so no callback runs before the manager
 * has registered the launch.
 */
export class Launch {
  readonly process: TrainerProcess;
  readonly startedAt = Date.now();
  runDir?: string;
  exit?: TrainerExit;
  /** The last stderr lines, for error messages. */
  readonly stderrTail: string[] = [];
  /** The events seen on stdout, folded (`events.failed`: the trainer's reason, where and fix). */
  readonly events = new RunFold();

  constructor(
    readonly id: number,
    readonly verb: LaunchVerb,
    /** The config file (train) or run folder (resume). */
    readonly target: string,
    readonly cwd: string,
    command: TrainerCommand,
    listener: (launch: Launch) => TrainerListener,
  ) {
    this.process = new TrainerProcess(command, listener(this));
  }
}

export type LogLevel = 'trace' | 'info' | 'warn' | 'error';

export interface LogEntry {
  level: LogLevel;
  message: string;
}

export interface LaunchOptions {
  cwd: string;
  /** Passed as --backend; undefined keeps the config's own choice. */
  backend?: string;
}

const STDERR_TAIL = 40;

/** The arguments after the Node executable for a launch. */
export function trainerArgs(cliPath: string, verb: LaunchVerb, target: string, backend?: string): string[] {
  return [cliPath, verb, target, '--events', ...(backend ? ['--backend', backend] : [])];
}

/**
 * Whether `pid` runs a Distillery trainer, from /proc on Linux; undefined where that cannot be
 * told. Guards against signalling an unrelated process that reuses a dead trainer's pid.
 */
export function looksLikeTrainer(pid: number): boolean | undefined {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /distillery|cli\.js/.test(cmd);
  } catch {
    return process.platform === 'linux' ? false : undefined;
  }
}

export class RunManager {
  readonly store: RunStore;
  private readonly launches = new Map<number, Launch>();
  private nextId = 1;
  private readonly refreshTimers = new Map<string, NodeJS.Timeout>();
  private disposed = false;

  private readonly runChanged = new Emitter<RunChange>();
  private readonly launchChanged = new Emitter<Launch>();
  private readonly attached = new Emitter<Launch>();
  private readonly finished = new Emitter<Launch>();
  private readonly logged = new Emitter<LogEntry>();
  /** A run folder was read anew, appeared or went away. */
  readonly onDidChangeRun = this.runChanged.event;
  /** A launch started, found its run folder, or exited. */
  readonly onDidChangeLaunch = this.launchChanged.event;
  /** A launch found its run folder (once per launch; it may have exited already). */
  readonly onDidAttach = this.attached.event;
  /** A launch's process exited (once per launch). */
  readonly onDidFinish = this.finished.event;
  readonly onDidLog = this.logged.event;

  constructor(
    private readonly config: RunManagerConfig,
    store?: RunStore,
  ) {
    this.store = store ?? new RunStore();
  }

  get allLaunches(): Launch[] {
    return [...this.launches.values()];
  }

  /** Launches still running that have not yet reported their run folder. */
  pendingLaunches(): Launch[] {
    return this.allLaunches.filter((l) => !l.exit && !l.runDir);
  }

  /** The live launch of a run folder, if this window started one. */
  launchFor(runDir: string): Launch | undefined {
    const abs = path.resolve(runDir);
    return this.allLaunches.find((l) => !l.exit && l.runDir === abs);
  }

  start(configFile: string, opts: LaunchOptions): Launch {
    return this.launch('train', path.resolve(opts.cwd, configFile), opts);
  }

  resume(runDir: string, opts: LaunchOptions): Launch {
    const abs = path.resolve(opts.cwd, runDir);
    const live = this.launchFor(abs);
    if (live) throw new Error(`the run ${path.basename(abs)} is already running (pid ${live.process.pid ?? '?'})`);
    return this.launch('resume', abs, opts);
  }

  /**
   * Stops a run: SIGTERM, then SIGKILL after the grace period. Works for runs this window started
   * and, by the pid in run.json, for runs started elsewhere on this machine.
   */
  async stop(
    runDir: string,
    opts: { allowUnverifiedPid?: boolean } = {},
  ): Promise<'stopped' | 'not-running' | 'not-a-trainer'> {
    const abs = path.resolve(runDir);
    const launch = this.launchFor(abs);
    if (launch) {
      await launch.process.stop(this.config.graceMs());
      return 'stopped';
    }
    const state = this.store.state(abs);
    const pid = state?.status === 'running' ? state.pid : undefined;
    if (pid === undefined || !isProcessAlive(pid)) return 'not-running';
    const trainer = looksLikeTrainer(pid);
    if (trainer === false || (trainer === undefined && !opts.allowUnverifiedPid)) return 'not-a-trainer';
    await signalAndWait(pid, this.config.graceMs());
    this.scheduleRefresh(abs, 0);
    return 'stopped';
  }

  /** Stops a launch that has not reported its run folder yet. */
  async cancel(launchId: number): Promise<void> {
    await this.launches.get(launchId)?.process.stop(this.config.graceMs());
  }

  /** Re-reads a run folder soon (coalescing bursts of watcher and stdout notifications). */
  scheduleRefresh(runDir: string, delayMs = this.config.refreshDelayMs ?? 50): void {
    if (this.disposed) return;
    const abs = path.resolve(runDir);
    if (this.refreshTimers.has(abs)) return;
    this.refreshTimers.set(
      abs,
      setTimeout(() => {
        this.refreshTimers.delete(abs);
        this.refreshNow(abs);
      }, delayMs),
    );
  }

  refreshNow(runDir: string): RunChange | undefined {
    const change = this.store.refresh(runDir);
    if (change) {
      this.adoptByPid(change);
      this.runChanged.fire(change);
    }
    return change;
  }

  /** Re-checks the pids of runs that say they are running (a crash leaves run.json saying running). */
  checkLiveness(): void {
    for (const change of this.store.checkLiveness()) this.runChanged.fire(change);
  }

  /** Waits until every launch has exited. */
  async whenIdle(): Promise<void> {
    await Promise.all(this.allLaunches.map((l) => l.process.exited));
    // Let the final refreshes run.
    for (const dir of [...this.refreshTimers.keys()]) {
      clearTimeout(this.refreshTimers.get(dir));
      this.refreshTimers.delete(dir);
      this.refreshNow(dir);
    }
  }

  /**
   * SIGTERM to every live launch (the trainer checkpoints on it, so the runs can be resumed); the
   * events stop.
   */
  dispose(): void {
    this.disposed = true;
    for (const t of this.refreshTimers.values()) clearTimeout(t);
    this.refreshTimers.clear();
    for (const l of this.allLaunches) if (!l.exit) void l.process.stop(this.config.graceMs());
    for (const e of [this.runChanged, this.launchChanged, this.attached, this.finished, this.logged]) e.dispose();
  }

  // ---------------------------------------------------------------------------------------------

  private launch(verb: LaunchVerb, target: string, opts: LaunchOptions): Launch {
    const id = this.nextId++;
    const args = trainerArgs(this.config.cliPath(), verb, target, opts.backend);
    const nodePath = this.config.nodePath();
    this.log('info', `[launch ${id}] ${nodePath} ${args.map(quoteArg).join(' ')} (in ${opts.cwd})`);
    const launch = new Launch(
      id,
      verb,
      target,
      opts.cwd,
      { nodePath, args, cwd: opts.cwd, env: this.config.env() },
      (l) => ({
        onEvent: (e) => this.onEvent(l, e),
        onUnknownEvent: (type) => this.log('trace', `[launch ${id}] skipped an event of unknown type '${type}'`),
        onBadLine: (line, problem) =>
          this.log('warn', `[launch ${id}] stdout: ${problem}${line.length > 200 ? '' : ` — ${line}`}`),
        onStderr: (line) => {
          l.stderrTail.push(line);
          if (l.stderrTail.length > STDERR_TAIL) l.stderrTail.shift();
          this.log('info', `[${l.runDir ? path.basename(l.runDir) : `launch ${id}`}] ${line}`);
        },
        onExit: (exit) => this.onExit(l, exit),
      }),
    );
    this.launches.set(id, launch);
    if (verb === 'resume') this.attach(launch, target);
    this.launchChanged.fire(launch);
    return launch;
  }

  private onEvent(launch: Launch, e: TrainerEvent): void {
    launch.events.apply(e);
    if (!launch.runDir) {
      if (e.type === 'run-started') this.attach(launch, e.runDir);
      else {
        const known = this.store.findById(e.runId);
        if (known) this.attach(launch, known.runDir);
      }
    }
    if (launch.runDir) this.scheduleRefresh(launch.runDir);
  }

  private onExit(launch: Launch, exit: TrainerExit): void {
    if (launch.exit) return;
    launch.exit = exit;
    const level: LogLevel = exit.code === 0 ? 'info' : 'warn';
    this.log(
      level,
      `[${launch.runDir ? path.basename(launch.runDir) : `launch ${launch.id}`}] the trainer ended: ${describeExit(exit)}`,
    );
    if (launch.runDir) {
      const timer = this.refreshTimers.get(launch.runDir);
      if (timer) clearTimeout(timer);
      this.refreshTimers.delete(launch.runDir);
      const change = this.store.detach(launch.runDir, exit);
      if (change) this.runChanged.fire(change);
    }
    this.launchChanged.fire(launch);
    this.finished.fire(launch);
  }

  private attach(launch: Launch, runDir: string): void {
    const abs = path.resolve(runDir);
    if (launch.runDir === abs) return;
    launch.runDir = abs;
    const change = launch.exit ? this.store.detach(abs, launch.exit) : this.store.attach(abs, launch.process.pid);
    if (change) this.runChanged.fire(change);
    this.launchChanged.fire(launch);
    this.attached.fire(launch);
  }

  /** run.json carries the trainer's pid before the first event: adopt a pending launch by it. */
  private adoptByPid(change: RunChange): void {
    if (change.removed) return;
    const pending = this.pendingLaunches();
    if (pending.length === 0) return;
    const pid = this.store.infoPid(change.runDir);
    const launch = pending.find((l) => l.process.pid !== undefined && l.process.pid === pid);
    if (launch) this.attach(launch, change.runDir);
  }

  private log(level: LogLevel, message: string): void {
    this.logged.fire({ level, message });
  }
}

function quoteArg(a: string): string {
  return /^[\w./:@=+-]+$/.test(a) ? a : JSON.stringify(a);
}

/** SIGTERM, wait up to `graceMs` for the process to go, then SIGKILL. */
async function signalAndWait(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    if (!isProcessAlive(pid)) return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
