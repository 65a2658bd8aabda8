/**
 * One-shot CLI verbs the extension runs in a child process (eval, export, demo): collects stdout
 * (their --json result), streams stderr lines to the log, and can be cancelled (SIGTERM, then
 * SIGKILL after the grace period). TF.js never loads into the extension host.
 */
import { spawn } from 'node:child_process';
import { EventLineSplitter } from '../protocol/events';

export interface CliJobOptions {
  nodePath: string;
  /** The CLI script followed by the verb and its arguments. */
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  onStderr?(line: string): void;
  /** Cancels the job when it fires. */
  signal?: AbortSignal;
  graceMs?: number;
}

export interface CliJobResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last stderr lines (the CLI's error message is among them). */
  stderrTail: string[];
  cancelled: boolean;
  spawnError?: string;
}

export function runCliJob(o: CliJobOptions): Promise<CliJobResult> {
  return new Promise((resolve) => {
    const child = spawn(o.nodePath, o.args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const out: Buffer[] = [];
    const errLines = new EventLineSplitter();
    const tail: string[] = [];
    let cancelled = false;
    let spawnError: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let done = false;
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      o.onStderr?.(line);
    };
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      for (const l of errLines.push(c)) onLine(l);
    });
    const abort = (): void => {
      if (done) return;
      cancelled = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), o.graceMs ?? 10_000);
    };
    if (o.signal?.aborted) abort();
    o.signal?.addEventListener('abort', abort, { once: true });
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', abort);
      const last = errLines.flush();
      if (last !== undefined) onLine(last);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderrTail: tail,
        cancelled,
        ...(spawnError ? { spawnError } : {}),
      });
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.code === 'ENOENT' ? `"${o.nodePath}" was not found` : e.message;
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', finish);
  });
}

/** The CLI's own error line ("distillery eval: …"), else the last stderr line. */
export function cliErrorMessage(r: Pick<CliJobResult, 'stderrTail' | 'code' | 'signal' | 'spawnError'>): string {
  if (r.spawnError) return `the trainer could not start: ${r.spawnError}`;
  const idx = r.stderrTail.findIndex((l) => /^distillery [\w-]+: /.test(l));
  if (idx >= 0) {
    // A UserError prints its message, then "  fix: …" on the next line.
    const next = r.stderrTail[idx + 1];
    return next && /^\s+fix: /.test(next) ? `${r.stderrTail[idx]} (${next.trim()})` : r.stderrTail[idx];
  }
  const last = [...r.stderrTail].reverse().find((l) => l.trim() !== '');
  return last ?? (r.signal ? `ended by ${r.signal}` : `exit code ${r.code}`);
}
