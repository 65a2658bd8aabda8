/**
 * Fixtures for the end-to-end trainer tests: configs, small data sets cut from the real SST-2
 * files, the CLI as a child process, and readers for a run folder's events. Tiny teachers come
 * from ./tiny-checkpoint.ts.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEvents } from '../../src/train/run-summary';
import { buildWordPieceVocab } from '../../src/data/vocab-builder';
import { parseEventLine, TrainerEvent } from '../../src/protocol/events';
import { GLUE_DIR, REPO_ROOT } from './paths';
// Shared with the other CLI tests, so that concurrent test files take the same build lock.
import { ensureCliBuilt } from './run-cli';

export { ensureCliBuilt };

export const SST2_DIR = path.join(GLUE_DIR, 'SST-2');
export const CLI = path.join(REPO_ROOT, 'bin', 'distillery.js');

export function tmpDir(prefix = 'distillery-train-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The first `rows` data lines of an SST-2 split (with its header) as a custom-task TSV. */
export function writeSst2Slice(file: string, split: 'train' | 'dev', rows: number, from = 0): string {
  const lines = fs.readFileSync(path.join(SST2_DIR, `${split}.tsv`), 'utf8').split('\n');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, [lines[0], ...lines.slice(1 + from, 1 + from + rows)].join('\n') + '\n');
  return file;
}

/** A custom SST-2-shaped task over small slices of the real files. */
export function customSst2Task(dir: string, trainRows = 40, devRows = 32): Record<string, unknown> {
  writeSst2Slice(path.join(dir, 'data', 'train.tsv'), 'train', trainRows, 1000);
  writeSst2Slice(path.join(dir, 'data', 'dev.tsv'), 'dev', devRows);
  return {
    name: 'custom',
    maxSeqLen: 48,
    custom: {
      train: 'data/train.tsv',
      dev: 'data/dev.tsv',
      format: 'tsv',
      textA: 'sentence',
      label: 'label',
      labels: ['0', '1'],
    },
  };
}

/** A small WordPiece vocabulary built from the sentences of these TSV files (for the fastest runs). */
export function writeSmallVocab(file: string, tsvFiles: string[], maxSize = 400): string {
  const texts = tsvFiles.flatMap((f) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t')[0])
      .filter(Boolean),
  );
  fs.writeFileSync(file, buildWordPieceVocab(texts, { maxSize, lowercase: true, minCount: 1 }).join('\n') + '\n');
  return file;
}

export function writeConfig(dir: string, name: string, config: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
  return file;
}

/** The run folders under a runs/ folder, oldest first. */
export function runFolders(runsDir: string): string[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .sort()
    .map((n) => path.join(runsDir, n))
    .filter((d) => fs.statSync(d).isDirectory());
}

export function events(runDir: string): TrainerEvent[] {
  return readEvents(path.join(runDir, 'events.jsonl'));
}

/** Every line of events.jsonl is a complete event of a known type, valid for the extension's reader. */
export function malformedEventLines(runDir: string): string[] {
  const bad: string[] = [];
  for (const line of fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const p = parseEventLine(line);
    if (!p.event) bad.push(`${p.error ?? `unknown event ${p.unknown?.type}`}: ${line.slice(0, 200)}`);
  }
  return bad;
}

export function eventsOf<T extends TrainerEvent['type']>(
  runDir: string | TrainerEvent[],
  type: T,
): Array<Extract<TrainerEvent, { type: T }>> {
  const all = typeof runDir === 'string' ? events(runDir) : runDir;
  return all.filter((e): e is Extract<TrainerEvent, { type: T }> => e.type === type);
}

export function runInfo(runDir: string): { status: string; message?: string; pid?: number } {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { status: string; message?: string };
}

// ---- the CLI --------------------------------------------------------------------------------

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  ensureCliBuilt();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function spawnCli(
  args: string[],
  opts: { cwd?: string } = {},
): ChildProcess & { output: { stdout: string; stderr: string } } {
  ensureCliBuilt();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output: { stdout: string; stderr: string } };
  child.output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => {
    child.output.stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    child.output.stderr += d.toString();
  });
  return child;
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Polls until `check` returns a value (not undefined); fails after `timeoutMs`, or as soon as
 * `child` (the process expected to bring it about) exits, with its stderr.
 */
export async function waitFor<T>(
  check: () => T | undefined,
  timeoutMs: number,
  what: string,
  child?: ReturnType<typeof spawnCli>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `the process exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${child.output.stderr.slice(-3000)}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${child ? `; stderr so far:\n${child.output.stderr.slice(-3000)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every loss term of a step event as 'name@layer=value', for exact comparisons between runs. */
export function stepSignature(e: Extract<TrainerEvent, { type: 'step' }>): string {
  return [
    `step ${e.step} stage ${e.stage} loss ${e.loss}`,
    ...e.terms.map((t) => `${t.name}${t.layer !== undefined ? `@${t.layer}` : ''}=${t.value}`),
  ].join(' ');
}

/**
 * An events stream for RunIO.stdout that requests a stop (as SIGTERM would) at the first event
 * `when` accepts; the loop then checkpoints and returns at the next step boundary.
 */
export function stopWhen(stop: { requested: string | null }, when: (e: TrainerEvent) => boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        const e = parseEventLine(line).event;
        if (e && when(e)) stop.requested = 'SIGTERM';
      }
      done();
    },
  });
}
