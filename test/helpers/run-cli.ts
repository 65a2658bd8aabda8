/**
 * Runs the real `distillery` command (bin/distillery.js → dist/cli.js) in a child process, as a
 * user would, after making sure the bundle exists and is not older than the sources.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export const CLI_BIN = path.join(REPO_ROOT, 'bin', 'distillery.js');
export const CLI_BUNDLE = path.join(REPO_ROOT, 'dist', 'cli.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds the command took. */
  ms: number;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function bundleIsFresh(): boolean {
  try {
    return fs.statSync(CLI_BUNDLE).mtimeMs >= newestMtime(path.join(REPO_ROOT, 'src'));
  } catch {
    return false;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Builds dist/cli.js when it is missing or older than src/ (npm test builds it first, so this only
 * acts when a test file is run on its own). A lock folder keeps test files that run at the same
 * time from rewriting the bundle under each other.
 */
export function ensureCliBuilt(): void {
  if (bundleIsFresh()) return;
  const lock = path.join(REPO_ROOT, 'dist', '.build-lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock older than two minutes is left over from a killed build.
      if (Date.now() > deadline || Date.now() - fs.statSync(lock).mtimeMs > 120_000) {
        fs.rmSync(lock, { recursive: true, force: true });
      } else {
        sleepMs(200);
      }
    }
  }
  try {
    if (bundleIsFresh()) return;
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`node scripts/build.mjs failed (${r.status}):\n${r.stderr}`);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** `distillery ...args`, with `input` on stdin. */
export function runCli(
  args: readonly string[],
  opts: { input?: string; cwd?: string; env?: Record<string, string> } = {},
): CliResult {
  const start = Date.now();
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    input: opts.input ?? '',
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

/**
 * Asserts the shape of a user error as the CLI prints it: exit code 2, one message line that
 * starts with `distillery <verb>: `, at most one `fix:` line, no stack trace. Returns stderr.
 */
export function expectUserError(r: CliResult, verb: string): string {
  const lines = r.stderr.trimEnd().split('\n');
  const problems: string[] = [];
  if (r.status !== 2) problems.push(`exit code ${r.status}, expected 2`);
  if (!lines[0].startsWith(`distillery ${verb}: `)) problems.push('the first line does not start with the command');
  if (lines[0].startsWith(`distillery ${verb}: distillery ${verb}`)) problems.push('the command is named twice');
  if (lines.length > 2 || (lines.length === 2 && !lines[1].startsWith('  fix: ')))
    problems.push('more than a message and a fix line');
  if (/^\s+at /m.test(r.stderr)) problems.push('a stack trace');
  if (problems.length) throw new Error(`distillery ${verb}: ${problems.join('; ')}; stderr was:\n${r.stderr}`);
  return r.stderr;
}
