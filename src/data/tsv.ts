/**
 * Plain-text helpers shared by the GLUE and custom readers: read a file as UTF-8 and cut it into
 * lines. TSV here always means quoting off: a `"` is an ordinary character (GLUE has fields that
 * start with an unbalanced quote, and a quote-aware reader would merge rows).
 */
import * as fs from 'node:fs';
import { UserError } from '../util/errors';

const BOM = '\ufeff';

export function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

/**
 * Reads a text file as UTF-8 without its BOM. A missing file or a folder becomes a UserError
 * naming the path; `describe` says what the file should have been (e.g. "custom dataset").
 */
export function readTextFile(file: string, describe: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UserError(`${describe} not found`, {
      where: file,
      fix: 'check the path (relative paths are resolved from the working directory)',
    });
  }
  if (!stat.isFile()) throw new UserError(`${describe} is not a file`, { where: file });
  return stripBom(fs.readFileSync(file, 'utf8'));
}

/**
 * Splits text into lines: accepts \n and \r\n, tolerates a missing final newline and drops blank
 * lines at the end. Line i of the result is line i + 1 of the file.
 */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines;
}

/** Splits one TSV line on tabs, nothing else. */
export function splitTsvLine(line: string): string[] {
  return line.split('\t');
}

/** Shortens a cell for an error message. */
export function preview(cell: string, max = 40): string {
  return cell.length > max ? `${cell.slice(0, max - 1)}…` : cell;
}

/** Quotes a list of cells for an error message: 'a', 'b', 'c'. */
export function quoteCells(cells: readonly string[], max = 6): string {
  const shown = cells.slice(0, max).map((c) => `'${preview(c)}'`);
  if (cells.length > max) shown.push(`… (${cells.length - max} more)`);
  return shown.join(', ');
}
