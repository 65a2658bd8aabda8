/**
 * Reader for user-supplied datasets: CSV (RFC 4180 quoting, which CSV users expect), TSV (quoting
 * off, like GLUE) and JSON Lines. Fields are named by header columns (CSV/TSV) or object keys
 * (JSONL); the first row of a CSV/TSV file is always its header.
 */
import * as path from 'node:path';
import { UserError } from '../util/errors';
import type { Dataset, Example } from './examples';
import { preview, readTextFile, splitLines, splitTsvLine } from './tsv';

export type CustomFormat = 'csv' | 'tsv' | 'jsonl';

/** Which header columns / object keys hold the texts and the label. */
export interface FieldMapping {
  textA: string;
  textB?: string;
  /** Absent for unlabelled data (every label is then null). */
  label?: string;
}

export interface CustomDatasetOptions {
  /** Class names in id order; when absent they are collected from the data, sorted (numerically when all are numbers). */
  labels?: string[];
  regression?: boolean;
  /** Default: from the extension (.csv; .tsv/.tab; .jsonl/.ndjson). */
  format?: CustomFormat;
  /** Recorded in the Dataset; default 'custom'. */
  task?: string;
  /** Recorded in the Dataset; default 'custom'. */
  split?: string;
}

export function customFormatFromPath(file: string): CustomFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new UserError(`cannot tell the dataset format from the extension '${ext || '(none)'}'`, {
    where: file,
    fix:
      ext === '.json'
        ? 'write the data as JSON Lines (one object per line, .jsonl), or set the format explicitly'
        : "name the file .csv, .tsv or .jsonl, or set the format ('csv', 'tsv' or 'jsonl')",
  });
}

/** One record of a delimited file and the 1-based line it starts on. */
export interface TableRecord {
  line: number;
  cells: string[];
}

/**
 * Parses CSV per RFC 4180: fields may be quoted, `""` inside quotes is a quote, quoted fields may
 * hold delimiters and line breaks; \n, \r\n and \r end records. A quote inside an unquoted field is
 * kept as text. Blank lines are skipped.
 */
export function parseCsv(text: string, file: string, delimiter = ','): TableRecord[] {
  const records: TableRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const recordLine = line;
    const cells: string[] = [];
    for (;;) {
      let field: string;
      if (text[i] === '"') {
        const fieldLine = line;
        i++;
        field = '';
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            throw new UserError('unterminated quoted field: the opening " has no closing "', {
              where: `${file}:${fieldLine}`,
              fix: 'close the quote, and write a quote inside a quoted field as ""',
            });
          }
          field += text.slice(i, q);
          line += countNewlines(text, i, q);
          if (text[q + 1] === '"') {
            field += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        const next = text[i];
        if (i < n && next !== delimiter && next !== '\n' && next !== '\r') {
          throw new UserError(
            `unexpected text after the closing quote of a field: '${preview(text.slice(i, i + 20))}'`,
            {
              where: `${file}:${line}`,
              fix: 'quote the whole field and double any quote inside it ("a ""b"" c")',
            },
          );
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text[j];
          if (c === delimiter || c === '\n' || c === '\r') break;
          j++;
        }
        field = text.slice(i, j);
        i = j;
      }
      cells.push(field);
      if (i >= n) break;
      const c = text[i];
      if (c === delimiter) {
        i++;
        continue;
      }
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      break;
    }
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: recordLine, cells });
  }
  return records;
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = text.indexOf('\n', from); k >= 0 && k < to; k = text.indexOf('\n', k + 1)) count++;
  return count;
}

/** TSV with quoting off; blank lines are skipped. */
function parseTsv(text: string): TableRecord[] {
  const out: TableRecord[] = [];
  splitLines(text).forEach((l, i) => {
    if (l !== '') out.push({ line: i + 1, cells: splitTsvLine(l) });
  });
  return out;
}

/** A data row before conversion: where it is and how to get a field's value. */
interface RawRow {
  line: number;
  get(field: string): unknown;
}

function fieldList(fields: readonly string[]): string {
  return fields.map((f) => `'${f}'`).join(', ');
}

function mappedFields(mapping: FieldMapping): [role: string, field: string][] {
  const out: [string, string][] = [['textA', mapping.textA]];
  if (mapping.textB !== undefined) out.push(['textB', mapping.textB]);
  if (mapping.label !== undefined) out.push(['label', mapping.label]);
  return out;
}

function tableRows(records: TableRecord[], file: string, mapping: FieldMapping, format: CustomFormat): RawRow[] {
  if (records.length === 0)
    throw new UserError('the file is empty; expected a header line and data rows', { where: file });
  const header = records[0].cells.map((h) => h.trim());
  const columnOf = new Map<string, number>();
  for (const [role, field] of mappedFields(mapping)) {
    const matches = header.flatMap((h, i) => (h === field.trim() ? [i] : []));
    if (matches.length === 0) {
      throw new UserError(`unknown field '${field}' (${role}); the header has ${fieldList(header)}`, {
        where: `${file}:${records[0].line}`,
        fix: `set ${role} to one of the header's column names`,
      });
    }
    if (matches.length > 1)
      throw new UserError(`field '${field}' appears ${matches.length} times in the header`, {
        where: `${file}:${records[0].line}`,
        fix: 'give the columns distinct names',
      });
    columnOf.set(field, matches[0]);
  }
  const sep = format === 'csv' ? 'comma' : 'tab';
  return records.slice(1).map((r) => {
    if (r.cells.length !== header.length) {
      throw new UserError(
        `expected ${header.length} ${sep}-separated columns (${header.join(', ')}), found ${r.cells.length}`,
        {
          where: `${file}:${r.line}`,
          fix:
            format === 'csv'
              ? 'quote fields that contain commas or line breaks'
              : 'TSV is read with quoting off: a tab inside a text splits it; use CSV or JSONL for such texts',
        },
      );
    }
    return { line: r.line, get: (field: string) => r.cells[columnOf.get(field) as number] };
  });
}

function jsonlRows(text: string, file: string, mapping: FieldMapping): RawRow[] {
  const rows: RawRow[] = [];
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(l);
    } catch (e) {
      throw new UserError(`malformed JSON: ${(e as Error).message}`, {
        where,
        fix: 'each line must be one complete JSON object',
      });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(
        `expected a JSON object, found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
        { where },
      );
    }
    const obj = value as Record<string, unknown>;
    for (const [role, field] of mappedFields(mapping)) {
      if (!Object.prototype.hasOwnProperty.call(obj, field)) {
        const keys = Object.keys(obj);
        const msg =
          rows.length === 0
            ? `unknown field '${field}' (${role}); the objects have ${fieldList(keys)}`
            : `missing field '${field}' (${role}); this object has ${fieldList(keys)}`;
        throw new UserError(msg, {
          where,
          fix: rows.length === 0 ? `set ${role} to one of the object keys` : undefined,
        });
      }
    }
    rows.push({ line: i + 1, get: (field: string) => obj[field] });
  }
  if (rows.length === 0) throw new UserError('the file has no JSON objects', { where: file });
  return rows;
}

function textValue(v: unknown, field: string, where: string): string {
  if (typeof v === 'string') return v;
  throw new UserError(`field '${field}' should be a string, found ${JSON.stringify(v)}`, { where });
}

/** A class label as its name: strings as they are (trimmed), numbers and booleans as written. */
function labelName(v: unknown, field: string, where: string): string {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new UserError(`label field '${field}' should be a string or number, found ${JSON.stringify(v)}`, { where });
}

function scoreValue(v: unknown, field: string, where: string): number {
  const s = typeof v === 'string' ? v.trim() : v;
  const x = typeof s === 'number' ? s : typeof s === 'string' && s !== '' ? Number(s) : NaN;
  if (!Number.isFinite(x))
    throw new UserError(`score field '${field}' should be a number, found ${JSON.stringify(v)}`, { where });
  return x;
}

function sortLabelNames(names: Iterable<string>): string[] {
  const list = [...new Set(names)];
  const numeric = list.every((n) => n !== '' && Number.isFinite(Number(n)));
  return numeric ? list.sort((a, b) => Number(a) - Number(b)) : list.sort();
}

/** Reads a custom dataset file into examples, mapping its fields to texts and labels. */
export function readCustomDataset(file: string, mapping: FieldMapping, opts: CustomDatasetOptions = {}): Dataset {
  const format = opts.format ?? customFormatFromPath(file);
  const regression = opts.regression ?? false;
  if (regression && opts.labels !== undefined) {
    throw new UserError('class labels were given for a regression dataset', {
      where: file,
      fix: 'drop labels, or turn regression off',
    });
  }
  const text = readTextFile(file, 'dataset file');
  const rows =
    format === 'jsonl'
      ? jsonlRows(text, file, mapping)
      : tableRows(format === 'csv' ? parseCsv(text, file) : parseTsv(text), file, mapping, format);
  if (rows.length === 0) throw new UserError('the file has a header but no data rows', { where: file });

  const labelField = mapping.label;
  let labels: string[] = [];
  if (labelField !== undefined && !regression) {
    labels =
      opts.labels ?? sortLabelNames(rows.map((r) => labelName(r.get(labelField), labelField, `${file}:${r.line}`)));
  } else if (opts.labels) {
    labels = [...opts.labels];
  }
  const labelIds = new Map(labels.map((name, id) => [name, id]));

  const examples: Example[] = rows.map((r, index) => {
    const where = `${file}:${r.line}`;
    let label: number | null = null;
    if (labelField !== undefined) {
      const raw = r.get(labelField);
      if (regression) label = scoreValue(raw, labelField, where);
      else {
        const name = labelName(raw, labelField, where);
        const id = labelIds.get(name);
        if (id === undefined) {
          throw new UserError(`unknown label '${name}'; expected one of ${fieldList(labels)}`, {
            where,
            fix: 'add the class to labels, or correct the row',
          });
        }
        label = id;
      }
    }
    const textA = textValue(r.get(mapping.textA), mapping.textA, where);
    return mapping.textB !== undefined
      ? { index, line: r.line, textA, textB: textValue(r.get(mapping.textB), mapping.textB, where), label }
      : { index, line: r.line, textA, label };
  });
  return {
    task: opts.task ?? 'custom',
    split: opts.split ?? 'custom',
    file,
    examples,
    labels,
    isRegression: regression,
  };
}
