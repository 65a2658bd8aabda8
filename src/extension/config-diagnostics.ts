/**
 * The engine's config validator as editor diagnostics. VS Code's JSON language service already
 * checks *.distill.json against schema/distill.schema.json (the `jsonValidation` contribution, which
 * also gives completion and hover), including syntax and duplicate keys. To avoid two squiggles for
 * one mistake, this provider reports only the problems the schema cannot see: ranges against the
 * teacher's depth, widths, missing files, data folders without the task's files, and so on.
 */
import { ConfigDocument, ConfigProblem } from '../config/parse';
import { schemaProblems } from '../config/schema';
import { validateConfig } from '../validate/validate';

export interface Position {
  /** 0-based. */
  line: number;
  /** 0-based, UTF-16 code units. */
  character: number;
}

export interface DiagnosticData {
  start: Position;
  end: Position;
  severity: 'error' | 'warning';
  message: string;
  /** The JSON path, e.g. 'mapping[2][1]'. */
  code: string;
  problem: ConfigProblem;
}

export const DIAGNOSTIC_SOURCE = 'distillery';

function key(p: ConfigProblem): string {
  return `${p.pathText}\u0000${p.message}`;
}

export interface SplitProblems {
  /** Every problem the engine reports (the CLI's `validate` output). */
  all: ConfigProblem[];
  /** Syntax, duplicate keys and schema problems: the JSON language service reports these. */
  fromSchema: ConfigProblem[];
  /** The rest: only this provider reports them. */
  semantic: ConfigProblem[];
}

export function validateForEditor(text: string, file: string, opts: { checkFiles?: boolean } = {}): SplitProblems {
  const { problems } = validateConfig(text, file, { checkFiles: opts.checkFiles ?? true });
  const doc = ConfigDocument.parse(text, file);
  const schemaSide =
    doc.syntaxProblems.length > 0 ? doc.syntaxProblems : [...doc.duplicateKeyProblems, ...schemaProblems(doc)];
  const schemaKeys = new Set(schemaSide.map(key));
  const fromSchema: ConfigProblem[] = [];
  const semantic: ConfigProblem[] = [];
  for (const p of problems) (schemaKeys.has(key(p)) ? fromSchema : semantic).push(p);
  return { all: problems, fromSchema, semantic };
}

/** 0-based line starts of a text ("\r\n", "\n" and lone "\r" end lines, as in VS Code). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}

export function positionAt(starts: readonly number[], offset: number): Position {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: offset - starts[lo] };
}

/** The message as shown in the Problems panel and on hover: the problem, then its fix. */
export function diagnosticMessage(p: ConfigProblem): string {
  return p.fix ? `${p.message}\nFix: ${p.fix}` : p.message;
}

export function toDiagnostics(text: string, problems: readonly ConfigProblem[]): DiagnosticData[] {
  const starts = lineStarts(text);
  return problems.map((p) => {
    const offset = p.range?.offset ?? 0;
    // An empty range would be invisible; underline at least one character.
    const length = Math.max(1, p.range?.length ?? 1);
    const endOffset = Math.min(text.length, offset + length);
    return {
      start: positionAt(starts, offset),
      end: positionAt(starts, Math.max(endOffset, Math.min(text.length, offset))),
      severity: p.severity,
      message: diagnosticMessage(p),
      code: p.pathText || '(file)',
      problem: p,
    };
  });
}
