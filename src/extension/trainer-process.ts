/**
 * One trainer child process (`node bin/distillery.js train|resume … --events`): spawns it, cuts
 * its stdout into JSON-line events and its stderr into log lines, and records how it ended.
 * Stop is SIGTERM (the trainer checkpoints and exits) and SIGKILL once the grace period is over.
 *
 * No `vscode` here: the run manager's tests drive this against a fake trainer script.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { EventLineSplitter, parseEventLine, TrainerEvent } from '../protocol/events';

export interface TrainerCommand {
  /** The Node executable (a system Node: TF.js native addons cannot load into VS Code's Electron). */
  nodePath: string;
  /** Everything after the executable: the CLI script, the verb and its arguments. */
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. the Node executable is missing). */
  spawnError?: string;
  /** Whether Stop was asked for (SIGTERM sent by us). */
  stopRequested: boolean;
  /** Whether the grace period ran out and SIGKILL was sent. */
  killed: boolean;
}

export interface TrainerListener {
  onEvent?(event: TrainerEvent): void;
  /** A well-formed event of a type this host does not know (a newer trainer). */
  onUnknownEvent?(type: string, raw: Record<string, unknown>): void;
  /** A stdout line that is not an event (stray output, or a line cut off when the process died). */
  onBadLine?(line: string, problem: string): void;
  onStderr?(line: string): void;
  onExit?(exit: TrainerExit): void;
}

/** How a process ended, in words: "exit code 1", "killed by SIGKILL", "could not start: …". */
export function describeExit(exit: TrainerExit): string {
  if (exit.spawnError) return `could not start: ${exit.spawnError}`;
  if (exit.signal) return `ended by ${exit.signal}${exit.killed ? ' after the stop grace period ran out' : ''}`;
  return `exit code ${exit.code ?? '?'}`;
}

export class TrainerProcess {
  readonly exited: Promise<TrainerExit>;
  private readonly child: ChildProcess;
  private exitInfo: TrainerExit | undefined;
  private stopRequested = false;
  private killed = false;
  private killTimer: NodeJS.Timeout | undefined;
  private spawnError: string | undefined;

  constructor(
    readonly command: TrainerCommand,
    private readonly listener: TrainerListener = {},
  ) {
    let resolveExit!: (e: TrainerExit) => void;
    this.exited = new Promise((r) => {
      resolveExit = r;
    });
    const stdout = new EventLineSplitter();
    const stderr = new EventLineSplitter();

    this.child = spawn(command.nodePath, command.args, {
      cwd: command.cwd,
      env: command.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of stdout.push(chunk)) this.stdoutLine(line);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of stderr.push(chunk)) this.listener.onStderr?.(line);
    });

    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (this.exitInfo) return;
      // A process that died mid-line leaves an unterminated last line: report it, never drop it silently.
      const lastOut = stdout.flush();
      if (lastOut !== undefined) this.stdoutLine(lastOut);
      const lastErr = stderr.flush();
      if (lastErr !== undefined) this.listener.onStderr?.(lastErr);
      if (this.killTimer) clearTimeout(this.killTimer);
      this.exitInfo = {
        code,
        signal,
        stopRequested: this.stopRequested,
        killed: this.killed,
        ...(this.spawnError ? { spawnError: this.spawnError } : {}),
      };
      this.listener.onExit?.(this.exitInfo);
      resolveExit(this.exitInfo);
    };
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      this.spawnError = err.code === 'ENOENT' ? `"${command.nodePath}" was not found (${err.message})` : err.message;
      // Without a pid the process never started and 'close' may not follow.
      if (this.child.pid === undefined) finish(null, null);
    });
    this.child.on('close', (code, signal) => finish(code, signal));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): TrainerExit | undefined {
    return this.exitInfo;
  }

  /** SIGTERM now, SIGKILL after `graceMs` if it is still alive. Resolves when it has exited. */
  stop(graceMs: number): Promise<TrainerExit> {
    if (!this.running) return this.exited;
    if (!this.stopRequested) {
      this.stopRequested = true;
      this.child.kill('SIGTERM');
      this.killTimer = setTimeout(
        () => {
          if (!this.running) return;
          this.killed = true;
          this.child.kill('SIGKILL');
        },
        Math.max(0, graceMs),
      );
    }
    return this.exited;
  }

  /** SIGKILL at once. */
  kill(): void {
    if (!this.running) return;
    this.killed = true;
    this.child.kill('SIGKILL');
  }

  private stdoutLine(line: string): void {
    const parsed = parseEventLine(line);
    if (parsed.event) this.listener.onEvent?.(parsed.event);
    else if (parsed.unknown) this.listener.onUnknownEvent?.(parsed.unknown.type, parsed.unknown.raw);
    else if (parsed.error) this.listener.onBadLine?.(line, parsed.error);
  }
}
