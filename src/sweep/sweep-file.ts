/**
 * The sweep file (`*.sweep.json`, JSONC): a base run config, inline or as a path to a
 * `*.distill.json`, and a grid of axes to vary. Every mistake is a UserError pointing at the
 * sweep file's line.
 *
 * ```jsonc
 * {
 *   "name": "sst2-repro",                       // default: the file name without .sweep.json
 *   "base": "sst2.distill.json",                // or an inline config object
 *   "grid": {
 *     "algorithms": ["soft", "pid", { "name": "internal-all (attention)", "algorithm": "internal-all", "set": { "losses.clsCosine": 0 } }],
 *     "seeds": [1, 2, 3],
 *     "fractions": [0.1, 0.3, 1],
 *     "losses.softLabel.temperature": [1, 2]
 *   },
 *   "out": "sweeps/sst2-repro",                 // default: sweeps/<name> beside the sweep file
 *   "concurrency": 2                            // default: half the CPU cores, at least 1
 * }
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigDocument, JsonPath, pathToText } from '../config/parse';
import { UserError } from '../util/errors';
import { Axis, GridError, parseGrid, slug } from './grid';

export interface SweepFile {
  file: string;
  text: string;
  name: string;
  /** The base run config as written (paths relative to `baseDir`). */
  base: Record<string, unknown>;
  /** Where the base config's relative paths start: its file's folder, or the sweep file's for an inline base. */
  baseDir: string;
  /** The base config's file, when `base` names one. */
  baseFile?: string;
  axes: Axis[];
  /** Absolute; `out` from the file, else sweeps/<name> beside it. */
  defaultOut: string;
  concurrency?: number;
}

const FIELDS = ['$schema', 'name', 'base', 'grid', 'out', 'concurrency'];

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function at(doc: ConfigDocument, p: JsonPath): string {
  const r = doc.locate(p);
  return `${doc.file}:${r.line}:${r.column}`;
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UserError(missing ? `${what} not found` : `cannot read the ${what} (${(e as Error).message})`, {
      where: file,
    });
  }
}

function parseJsonc(text: string, file: string, what: string): ConfigDocument {
  const doc = ConfigDocument.parse(text, file);
  const first = doc.syntaxProblems[0] ?? doc.duplicateKeyProblems[0];
  if (first) {
    const more = doc.syntaxProblems.length + doc.duplicateKeyProblems.length - 1;
    throw new UserError(`${what}: ${first.message}${more > 0 ? ` (and ${more} more)` : ''}`, {
      where: `${file}:${first.range?.line ?? 1}:${first.range?.column ?? 1}`,
      fix: first.fix,
    });
  }
  return doc;
}

export function sweepNameFromFile(file: string): string {
  return path.basename(file).replace(/\.sweep\.jsonc?$|\.jsonc?$/i, '') || 'sweep';
}

export function readSweepFile(file: string): SweepFile {
  const abs = path.resolve(file);
  const text = readText(abs, 'sweep file');
  const doc = parseJsonc(text, file, 'the sweep file has a syntax error');
  const v = doc.value;
  if (!isRecord(v)) throw new UserError('a sweep file is a JSON object with "base" and "grid"', { where: file });
  for (const k of Object.keys(v)) {
    if (!FIELDS.includes(k)) {
      throw new UserError(`unknown field "${k}" in the sweep file`, {
        where: at(doc, [k]),
        fix: `the fields are ${FIELDS.slice(1).join(', ')}; config fields to vary go under "grid"`,
      });
    }
  }
  const dir = path.dirname(abs);
  if (v.name !== undefined && (typeof v.name !== 'string' || slug(v.name) !== v.name.toLowerCase() || v.name === '')) {
    throw new UserError('"name" must be letters, digits, dots and dashes', {
      where: at(doc, ['name']),
      fix: `e.g. "${slug(String(v.name ?? 'sweep'))}"`,
    });
  }
  const name = (v.name as string | undefined) ?? sweepNameFromFile(abs);

  let base: Record<string, unknown>;
  let baseDir = dir;
  let baseFile: string | undefined;
  if (typeof v.base === 'string') {
    baseFile = path.resolve(dir, v.base);
    if (!fs.existsSync(baseFile)) {
      throw new UserError(`base config not found: ${baseFile}`, {
        where: at(doc, ['base']),
        fix: `relative paths start at the sweep file's folder (${dir})`,
      });
    }
    const baseDoc = parseJsonc(readText(baseFile, 'base config'), baseFile, 'the base config has a syntax error');
    if (!isRecord(baseDoc.value)) throw new UserError('the base config must be a JSON object', { where: baseFile });
    base = baseDoc.value;
    baseDir = path.dirname(baseFile);
  } else if (isRecord(v.base)) {
    base = v.base;
  } else {
    throw new UserError(
      v.base === undefined
        ? 'the sweep file has no "base"'
        : '"base" must be a config object or the path of a *.distill.json',
      {
        where: v.base === undefined ? file : at(doc, ['base']),
        fix: 'e.g. "base": "sst2.distill.json"',
      },
    );
  }

  let axes: Axis[];
  try {
    axes = parseGrid(v.grid, ['grid']);
  } catch (e) {
    if (e instanceof GridError)
      throw new UserError(e.message, { where: `${at(doc, e.at)} (${pathToText(e.at)})`, fix: e.fix });
    throw e;
  }

  if (v.out !== undefined && (typeof v.out !== 'string' || v.out === ''))
    throw new UserError('"out" must be a folder path', { where: at(doc, ['out']) });
  const c = v.concurrency;
  if (c !== undefined && (typeof c !== 'number' || !Number.isInteger(c) || c < 1)) {
    throw new UserError('"concurrency" must be a whole number ≥ 1', { where: at(doc, ['concurrency']) });
  }
  return {
    file: abs,
    text,
    name,
    base,
    baseDir,
    baseFile,
    axes,
    defaultOut: path.resolve(dir, typeof v.out === 'string' ? v.out : path.join('sweeps', name)),
    concurrency: c as number | undefined,
  };
}
