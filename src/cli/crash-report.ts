/**
 * What the CLI says about an error that is not the user's (anything but a UserError): a bug in
 * Distillery. The person sees ONE line — that it is a bug, where the details are and how to report
 * it — and the stack trace goes to a log file, written atomically, that they can attach to the
 * report. User errors never get here: they are printed as `distillery <verb>: message` + fix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic-fs';

/** How to report a bug, in the one line the CLI prints. */
export const REPORT_HOW = 'please report it as an issue of the Distillery project, with that file attached';

/** The message, stack and causes of an error, as the log records them. */
function describeError(err: unknown): string {
  const out: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 8; depth++) {
    out.push(depth === 0 ? '' : 'caused by:');
    out.push(cur instanceof Error ? (cur.stack ?? `${cur.name}: ${cur.message}`) : String(cur));
    cur = cur instanceof Error ? (cur as Error & { cause?: unknown }).cause : undefined;
  }
  return out.filter((l) => l !== '').join('\n');
}

/** The first line of an error's message, short enough for the one-line report. */
export function shortMessage(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const first = text.split('\n')[0];
  return first.length > 200 ? `${first.slice(0, 200)}…` : first;
}

/**
 * Writes the crash log into `dir` (default: the system's temporary folder) and returns its path,
 * or undefined when it could not be written (the one line then says so).
 */
export function writeCrashLog(
  err: unknown,
  context: { version: string; argv: readonly string[]; dir?: string },
): string | undefined {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(context.dir ?? os.tmpdir(), `distillery-crash-${stamp}-${process.pid}.log`);
  const text = [
    `Distillery ${context.version} internal error`,
    `time: ${new Date().toISOString()}`,
    `command: distillery ${context.argv.map((a) => JSON.stringify(a)).join(' ')}`,
    `node: ${process.version} (${process.platform} ${process.arch})`,
    `cwd: ${process.cwd()}`,
    '',
    describeError(err),
    '',
  ].join('\n');
  try {
    writeFileAtomic(file, text);
    return file;
  } catch {
    return undefined;
  }
}

/** The one line printed for an internal error. */
export function internalErrorLine(verb: string | undefined, err: unknown, logFile: string | undefined): string {
  const who = verb ? `distillery ${verb}` : 'distillery';
  const where = logFile ? `the stack trace is in ${logFile}` : 'the stack trace could not be written to a log file';
  return `${who}: internal error (a bug in Distillery, not in your input): ${shortMessage(err)}; ${where}; ${REPORT_HOW}`;
}

/** Writes the log (into `dir` when it exists, else the temporary folder) and returns the line to print. */
export function reportInternalError(
  verb: string | undefined,
  err: unknown,
  context: { version: string; argv: readonly string[]; dir?: string },
): string {
  const dir = context.dir && fs.existsSync(context.dir) ? context.dir : undefined;
  const logFile =
    writeCrashLog(err, { ...context, dir }) ?? (dir ? writeCrashLog(err, { ...context, dir: undefined }) : undefined);
  return internalErrorLine(verb, err, logFile);
}
