/**
 * A sweep's grid: named axes (algorithms, seeds, data fractions, tasks, or any config field by
 * dotted path) and their cartesian product, the cells. Pure: no files are read here, so the
 * expansion and the cell ids can be tested on their own.
 *
 * A cell id is built from one short part per axis (`pid_seed2_frac0.1`), in grid order, so it is
 * stable when values are added to an axis and safe as a file name on every file system.
 */
import { createHash } from 'node:crypto';
import { ALGORITHMS, Algorithm } from '../config/types';
import { JsonPath, pathToText } from '../config/parse';
import { closest, DISTILL_SCHEMA, SchemaNode, schemaAt } from '../config/schema';

/** What an axis varies; the report lays tables out by kind (rows: algorithms, columns: tasks × fractions). */
export type AxisKind = 'algorithm' | 'seed' | 'fraction' | 'task' | 'field';

/** One config change: `path` is set to `value` in the cell's config. */
export interface Override {
  path: JsonPath;
  value: unknown;
}

export interface AxisValue {
  /** For people: "pid", "seed 2", "10 %", "attentionKl=0". */
  label: string;
  /** For cell ids: [a-z0-9.-]+, unique within the axis. */
  idPart: string;
  /** The value as written in the grid. */
  raw: unknown;
  /** What it changes in a cell's config, applied in order. */
  overrides: Override[];
}

export interface Axis {
  /** The grid key as written: "algorithms", "seeds", "losses.attentionKl"… */
  key: string;
  kind: AxisKind;
  /** The config field the axis sets (for `algorithms` entries with `set`, only the main one). */
  path: JsonPath;
  values: AxisValue[];
}

export interface GridCell {
  id: string;
  /** Position in the expansion order (the first axis varies slowest). */
  index: number;
  /** Axis key → the value this cell takes. */
  values: Record<string, AxisValue>;
  /** Every override of every axis, whole-object replacements (tasks) first. */
  overrides: Override[];
}

/** A problem in the grid, with the JSON path inside the sweep file where it was found. */
export class GridError extends Error {
  constructor(
    readonly at: JsonPath,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
    this.name = 'GridError';
  }
}

const SHORTHANDS: Record<string, { kind: AxisKind; path: JsonPath }> = {
  algorithms: { kind: 'algorithm', path: ['algorithm'] },
  algorithm: { kind: 'algorithm', path: ['algorithm'] },
  seeds: { kind: 'seed', path: ['optim', 'seed'] },
  'optim.seed': { kind: 'seed', path: ['optim', 'seed'] },
  fractions: { kind: 'fraction', path: ['task', 'trainFraction'] },
  'task.trainFraction': { kind: 'fraction', path: ['task', 'trainFraction'] },
  tasks: { kind: 'task', path: ['task'] },
  task: { kind: 'task', path: ['task'] },
};

/** Fields a sweep sets itself; varying them would break the sweep's own bookkeeping. */
const RESERVED: Record<string, string> = {
  name: 'the sweep names each cell after its id',
  runsDir: 'the sweep puts every run in <sweep folder>/runs',
  $schema: 'it only tells editors which schema to use',
};

/** "losses.softLabel.temperature" → ['losses', 'softLabel', 'temperature']; "stages.custom.0.epochs" keeps 0 a number. */
export function parseDottedPath(key: string): JsonPath {
  return key.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Every dotted path the config schema knows (array items as ".0"), for "did you mean" suggestions. */
export function knownConfigPaths(root: SchemaNode = DISTILL_SCHEMA): string[] {
  const out: string[] = [];
  const walk = (n: SchemaNode, prefix: string, depth: number): void => {
    if (depth > 8) return;
    for (const branch of [n, ...(n.oneOf ?? [])]) {
      for (const [k, child] of Object.entries(branch.properties ?? {})) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (!out.includes(p)) out.push(p);
        walk(child, p, depth + 1);
      }
      if (branch.items) walk(branch.items, `${prefix}.0`, depth + 1);
    }
  };
  walk(root, '', 0);
  return out;
}

/** The known path closest to `key`, whole or by its last field ("losses.temprature" → "losses.softLabel.temperature"). */
function suggestPath(key: string): string | undefined {
  const known = knownConfigPaths();
  const whole = closest(key, known);
  if (whole) return whole;
  const last = key.split('.').pop() ?? key;
  const field = closest(last, [...new Set(known.map((p) => p.split('.').pop() ?? p))]);
  const matches = field ? known.filter((p) => p.endsWith(`.${field}`) || p === field) : [];
  return matches.length
    ? matches.reduce((a, b) => (editDistanceRough(a, key) <= editDistanceRough(b, key) ? a : b))
    : undefined;
}

/** Shared-prefix distance, enough to choose among paths ending in the same field. */
function editDistanceRough(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.length + b.length - 2 * i;
}

/** Throws a GridError naming `key` when it is not a field of a run config. */
export function checkConfigPath(key: string, at: JsonPath): JsonPath {
  const p = parseDottedPath(key);
  if (key === '' || p.some((s) => s === '')) {
    throw new GridError(
      at,
      `grid key "${key}" is not a dotted config path`,
      'write fields like "losses.attentionKl" or "student.layers"',
    );
  }
  const top = p[0];
  if (typeof top === 'string' && RESERVED[top] && p.length === 1) {
    throw new GridError(at, `grid key "${key}" cannot be varied: ${RESERVED[top]}`);
  }
  if (!schemaAt(p)) {
    const guess = suggestPath(key);
    throw new GridError(
      at,
      `grid key "${key}" is not a field of a run config`,
      guess ? `did you mean "${guess}"?` : 'see schema/distill.schema.json for the fields',
    );
  }
  return p;
}

/** [a-z0-9.-]+: lower case (case-insensitive file systems), '+' spelled out, nothing else special. */
export function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/\+/g, '-plus-')
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return s || 'x';
}

export function shortHash(value: unknown, length = 6): string {
  return createHash('sha256')
    .update(JSON.stringify(value) ?? 'undefined')
    .digest('hex')
    .slice(0, length);
}

/** A value as it appears in an id: numbers and short strings as themselves, anything long as a hash. */
function valueIdPart(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (typeof v === 'string') return v.length <= 24 ? slug(v) : `${slug(v.slice(0, 12))}-${shortHash(v)}`;
  const json = JSON.stringify(v);
  return json.length <= 20 ? slug(json) : `h${shortHash(v, 8)}`;
}

function valueLabel(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `set: {"losses.clsCosine": 0}` inside an algorithm or task entry: config paths checked here. */
function parseSet(set: unknown, at: JsonPath): Override[] {
  if (set === undefined) return [];
  if (!isRecord(set))
    throw new GridError(
      at,
      '"set" must be an object of dotted config paths and values',
      'e.g. "set": { "losses.clsCosine": 0 }',
    );
  return Object.entries(set).map(([k, value]) => ({ path: checkConfigPath(k, [...at, k]), value }));
}

function percent(f: number): string {
  const p = f * 100;
  return `${Number.isInteger(p) ? p : Number(p.toPrecision(3))} %`;
}

function algorithmValue(entry: unknown, at: JsonPath): AxisValue {
  if (typeof entry === 'string') {
    if (!(ALGORITHMS as readonly string[]).includes(entry)) {
      const guess = closest(entry, ALGORITHMS);
      throw new GridError(
        at,
        `unknown algorithm "${entry}"`,
        guess ? `did you mean "${guess}"?` : `use one of ${ALGORITHMS.join(', ')}`,
      );
    }
    return { label: entry, idPart: slug(entry), raw: entry, overrides: [{ path: ['algorithm'], value: entry }] };
  }
  if (!isRecord(entry) || typeof entry.algorithm !== 'string') {
    throw new GridError(
      at,
      'an algorithm entry is a name ("pid") or an object { "name", "algorithm", "set" }',
      'e.g. { "name": "internal-all (attention only)", "algorithm": "internal-all", "set": { "losses.clsCosine": 0 } }',
    );
  }
  for (const k of Object.keys(entry)) {
    if (!['name', 'algorithm', 'set'].includes(k))
      throw new GridError(
        [...at, k],
        `unknown field "${k}" in an algorithm entry`,
        'use "name", "algorithm" and "set"',
      );
  }
  const algorithm = entry.algorithm;
  if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
    const guess = closest(algorithm, ALGORITHMS);
    throw new GridError(
      [...at, 'algorithm'],
      `unknown algorithm "${algorithm}"`,
      guess ? `did you mean "${guess}"?` : `use one of ${ALGORITHMS.join(', ')}`,
    );
  }
  if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name.trim() === '')) {
    throw new GridError([...at, 'name'], 'an algorithm entry\'s "name" must be a non-empty string');
  }
  const name = (entry.name as string | undefined) ?? algorithm;
  return {
    label: name,
    idPart: slug(name),
    raw: entry,
    overrides: [{ path: ['algorithm'], value: algorithm as Algorithm }, ...parseSet(entry.set, [...at, 'set'])],
  };
}

function taskValue(entry: unknown, at: JsonPath): AxisValue {
  if (!isRecord(entry))
    throw new GridError(at, 'a task entry is a task config { "name", "dataDir", … } or { "label", "task", "set" }');
  const wrapped = 'task' in entry;
  const task = wrapped ? entry.task : entry;
  if (wrapped) {
    for (const k of Object.keys(entry)) {
      if (!['label', 'task', 'set'].includes(k))
        throw new GridError([...at, k], `unknown field "${k}" in a task entry`, 'use "label", "task" and "set"');
    }
  }
  if (!isRecord(task) || typeof task.name !== 'string') {
    throw new GridError(
      wrapped ? [...at, 'task'] : at,
      'a task entry needs a task config with a "name"',
      'e.g. { "name": "sst2", "dataDir": "data/glue/SST-2" }',
    );
  }
  const label = wrapped && typeof entry.label === 'string' && entry.label ? entry.label : task.name;
  return {
    label,
    idPart: slug(label),
    raw: entry,
    overrides: [{ path: ['task'], value: task }, ...(wrapped ? parseSet(entry.set, [...at, 'set']) : [])],
  };
}

function plainValue(kind: AxisKind, path: JsonPath, entry: unknown, at: JsonPath, shortKey: string): AxisValue {
  if (kind === 'seed') {
    if (typeof entry !== 'number' || !Number.isInteger(entry) || entry < 0)
      throw new GridError(at, `a seed must be a whole number ≥ 0, not ${JSON.stringify(entry)}`);
    return { label: `seed ${entry}`, idPart: `seed${entry}`, raw: entry, overrides: [{ path, value: entry }] };
  }
  if (kind === 'fraction') {
    if (typeof entry !== 'number' || !(entry > 0 && entry <= 1))
      throw new GridError(
        at,
        `a data fraction must be a number in (0, 1], not ${JSON.stringify(entry)}`,
        'e.g. 0.1 for 10 % of the training set',
      );
    return { label: percent(entry), idPart: `frac${entry}`, raw: entry, overrides: [{ path, value: entry }] };
  }
  return {
    label: `${shortKey}=${valueLabel(entry)}`,
    idPart: `${slug(shortKey)}-${valueIdPart(entry)}`,
    raw: entry,
    overrides: [{ path, value: entry }],
  };
}

/** Reads the grid object of a sweep file into axes; `at` is where the grid sits in the sweep file. */
export function parseGrid(grid: unknown, at: JsonPath = ['grid']): Axis[] {
  if (!isRecord(grid))
    throw new GridError(
      at,
      '"grid" must be an object: axis → list of values',
      'e.g. "grid": { "algorithms": ["soft", "pid"], "seeds": [1, 2, 3] }',
    );
  const keys = Object.keys(grid);
  if (keys.length === 0) throw new GridError(at, 'the grid is empty', 'add at least one axis, e.g. "seeds": [1, 2, 3]');
  const kinds = keys.map((key) => {
    const short = SHORTHANDS[key];
    return short ?? { kind: 'field' as AxisKind, path: checkConfigPath(key, [...at, key]) };
  });
  // The last segment names a field axis in ids and labels, unless two axes share it.
  const lastSeg = (p: JsonPath) => String([...p].reverse().find((s) => typeof s === 'string') ?? pathToText(p));
  const shortKeys = kinds.map((k, i) => {
    const s = lastSeg(k.path);
    return kinds.some((o, j) => j !== i && o.kind === 'field' && lastSeg(o.path) === s) ? pathToText(k.path) : s;
  });
  const seen = new Map<string, string>();
  const axes = keys.map((key, i): Axis => {
    const { kind, path } = kinds[i];
    const prev = seen.get(pathToText(path));
    if (prev !== undefined)
      throw new GridError(
        [...at, key],
        `grid keys "${prev}" and "${key}" both vary ${pathToText(path)}`,
        'keep one of them',
      );
    seen.set(pathToText(path), key);
    const list = grid[key];
    if (!Array.isArray(list) || list.length === 0) {
      throw new GridError(
        [...at, key],
        `grid key "${key}" must list one or more values`,
        `e.g. "${key}": [${kind === 'seed' ? '1, 2, 3' : kind === 'fraction' ? '0.1, 0.3, 1' : '…'}]`,
      );
    }
    const values = list.map((entry, j) => {
      const where = [...at, key, j];
      if (kind === 'algorithm') return algorithmValue(entry, where);
      if (kind === 'task') return taskValue(entry, where);
      return plainValue(kind, path, entry, where, shortKeys[i]);
    });
    disambiguate(values, [...at, key]);
    return { key, kind, path, values };
  });
  return axes;
}

/** Equal values are an error; distinct values whose id parts collide get a hash suffix. */
function disambiguate(values: AxisValue[], at: JsonPath): void {
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) {
      if (JSON.stringify(values[i].raw) === JSON.stringify(values[j].raw)) {
        throw new GridError(
          [...at, j],
          `${JSON.stringify(values[j].raw)} is listed twice`,
          'remove the repeated value',
        );
      }
      if (values[i].label === values[j].label) {
        throw new GridError(
          [...at, j],
          `two entries are both called "${values[j].label}"`,
          'give them different names',
        );
      }
    }
  }
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v.idPart, (counts.get(v.idPart) ?? 0) + 1);
  for (const v of values) if ((counts.get(v.idPart) ?? 0) > 1) v.idPart = `${v.idPart}-${shortHash(v.raw)}`;
}

/** The cartesian product, first axis slowest; whole-object replacements (tasks) are applied first. */
export function expandGrid(axes: readonly Axis[]): GridCell[] {
  const total = axes.reduce((n, a) => n * a.values.length, 1);
  const cells: GridCell[] = [];
  for (let index = 0; index < total; index++) {
    let rest = index;
    const picked: AxisValue[] = new Array(axes.length);
    for (let a = axes.length - 1; a >= 0; a--) {
      const n = axes[a].values.length;
      picked[a] = axes[a].values[rest % n];
      rest = Math.floor(rest / n);
    }
    const values: Record<string, AxisValue> = {};
    axes.forEach((a, i) => {
      values[a.key] = picked[i];
    });
    const overrides = [
      ...picked.flatMap((v) => v.overrides.filter((o) => o.path.length === 1 && o.path[0] === 'task')),
      ...picked.flatMap((v) => v.overrides.filter((o) => !(o.path.length === 1 && o.path[0] === 'task'))),
    ];
    cells.push({ id: picked.map((v) => v.idPart).join('_'), index, values, overrides });
  }
  return cells;
}

/** Sets `path` in a JSON object tree, creating objects (or arrays, for numeric segments) on the way. */
export function setPath(root: Record<string, unknown>, path: JsonPath, value: unknown): void {
  let cur: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    const next = cur[seg];
    if (typeof next !== 'object' || next === null) {
      const fresh: Record<string | number, unknown> | unknown[] = typeof path[i + 1] === 'number' ? [] : {};
      cur[seg] = fresh;
      cur = fresh as Record<string | number, unknown>;
    } else {
      cur = next as Record<string | number, unknown>;
    }
  }
  cur[path[path.length - 1]] = structuredClone(value);
}

/** Applies a cell's overrides to a deep copy of the base config. */
export function applyOverrides(base: Record<string, unknown>, overrides: readonly Override[]): Record<string, unknown> {
  const out = structuredClone(base);
  for (const o of overrides) setPath(out, o.path, o.value);
  return out;
}
