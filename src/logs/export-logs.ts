/**
 * `distillery export-logs`: a run's events.jsonl as TensorBoard event files or CSV, for people who
 * compare runs in TensorBoard, pandas or a spreadsheet.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEventLine, TrainerEvent } from '../protocol/events';
import { RunFolder } from '../train/run-folder';
import { writeFileAtomic } from '../util/atomic-fs';
import { UserError } from '../util/errors';
import { collectScalars, ScalarPoint } from './scalars';
import { encodeEventFile, eventFileName, TfEvent } from './tfevents';

export const LOG_FORMATS = ['tensorboard', 'csv'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const CSV_FILE = 'scalars.csv';

export interface ExportLogsResult {
  format: LogFormat;
  file: string;
  scalars: number;
  tags: string[];
  steps: number;
  /** Lines of events.jsonl that were not events (a line cut off by a kill, stray output). */
  skippedLines: number;
}

export function parseLogFormat(value: string | undefined): LogFormat {
  const fix =
    'write --format tensorboard (event files for `tensorboard --logdir`) or --format csv (one tidy scalars.csv)';
  if (value === undefined) throw new UserError('is required', { where: '--format', fix });
  if (!(LOG_FORMATS as readonly string[]).includes(value))
    throw new UserError(`unknown format "${value}"`, { where: '--format', fix });
  return value as LogFormat;
}

/** The events of a run folder, with a count of the lines that were not events. */
export function readRunEvents(runDir: string): { events: TrainerEvent[]; skippedLines: number; file: string } {
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) {
    throw new UserError('no such folder', {
      where: runDir,
      fix: 'pass a run folder (runs/<id>) made by `distillery train`',
    });
  }
  const file = new RunFolder(path.resolve(runDir)).eventsFile;
  if (!fs.existsSync(file)) {
    throw new UserError('not a run folder (it has no events.jsonl)', {
      where: runDir,
      fix: 'pass a run folder (runs/<id>) made by `distillery train`',
    });
  }
  const events: TrainerEvent[] = [];
  let skippedLines = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const parsed = parseEventLine(line);
    if (parsed.event) events.push(parsed.event);
    else if (parsed.error) skippedLines++;
  }
  return { events, skippedLines, file };
}

/** Groups consecutive points of one step and time into one Event, as a summary writer would. */
function toTfEvents(points: readonly ScalarPoint[]): TfEvent[] {
  const out: { wallTime: number; step: number; scalars: { tag: string; value: number }[] }[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (last && last.step === p.step && last.wallTime === p.wallTime) last.scalars.push({ tag: p.tag, value: p.value });
    else out.push({ wallTime: p.wallTime, step: p.step, scalars: [{ tag: p.tag, value: p.value }] });
  }
  return out;
}

/** RFC 4180 quoting, for tags (never in practice) holding a comma or quote. */
function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Numbers in full precision; non-finite ones as pandas reads them (NaN, inf, -inf). */
function csvNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return String(x);
}

export function scalarsCsv(points: readonly ScalarPoint[]): string {
  const lines = ['step,wall_time,tag,value'];
  for (const p of points) lines.push(`${p.step},${p.wallTime},${csvField(p.tag)},${csvNumber(p.value)}`);
  return lines.join('\n') + '\n';
}

export function exportLogs(
  runDir: string,
  opts: { format: LogFormat; out?: string; hostname?: string },
): ExportLogsResult {
  const { events, skippedLines, file } = readRunEvents(runDir);
  const points = collectScalars(events);
  if (points.length === 0) {
    throw new UserError('has no step or eval events to export', {
      where: file,
      fix: 'export once the run has trained at least one step (its run.json says whether it started or failed)',
    });
  }
  const outDir = path.resolve(opts.out ?? path.join(runDir, 'logs'));
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) {
    throw new UserError('is a file, not a folder', {
      where: `--out ${opts.out ?? outDir}`,
      fix: 'pass a folder (it is created when missing)',
    });
  }
  let target: string;
  if (opts.format === 'csv') {
    target = path.join(outDir, CSV_FILE);
    writeFileAtomic(target, scalarsCsv(points));
  } else {
    // Named after the run's first event, so exporting again replaces the file instead of adding a
    // second one that TensorBoard would merge into duplicate points.
    const first = Date.parse(events[0].time) / 1000;
    target = path.join(outDir, eventFileName(first, opts.hostname ?? os.hostname()));
    writeFileAtomic(target, encodeEventFile(toTfEvents(points), first));
  }
  return {
    format: opts.format,
    file: target,
    scalars: points.length,
    tags: [...new Set(points.map((p) => p.tag))].sort(),
    steps: new Set(points.map((p) => p.step)).size,
    skippedLines,
  };
}
