/**
 * From a sweep file to the configs of its cells: every grid cell becomes a complete run config
 * (defaults filled, paths relative to <sweep>/cells/ so the sweep folder can move together with
 * its data, e.g. onto cluster storage), validated before anything runs.
 *
 * Shared teacher: when the base config trains its teacher, every cell would train its own. The
 * plan adds a "teacher" cell instead that trains it once into <sweep>/teachers/<id>/ and points
 * every student cell at that folder. Grid axes that change the teacher (teacher.*, task.* except
 * task.trainFraction, tasks) give one teacher per distinct combination; seeds and data fractions
 * do not: the teacher is trained with the base config's seed on the base config's fraction.
 * The teacher cell runs with `train --teacher-only`; its config still describes a one-epoch "hard"
 * student, the cheapest, for anyone who trains that config by hand.
 */
import * as path from 'node:path';
import { ConfigProblem, JsonPath, pathToText } from '../config/parse';
import { validateConfig } from '../validate/validate';
import { UserError } from '../util/errors';
import { Axis, AxisValue, expandGrid, GridCell, Override, applyOverrides } from './grid';
import { readSweepFile, SweepFile } from './sweep-file';

export type CellKind = 'teacher' | 'student';

export interface CellValue {
  label: string;
  id: string;
  value: unknown;
}

export interface PlannedCell {
  id: string;
  /** Position among cells of its kind: the array task index on a cluster. */
  index: number;
  kind: CellKind;
  /** Axis key → value; a teacher cell has only the axes that change the teacher. */
  values: Record<string, CellValue>;
  /** The config as written to `configFile`. */
  config: Record<string, unknown>;
  /** Absolute: <sweep>/cells/<id>.distill.json. */
  configFile: string;
  /** The teacher cell this cell needs finished first. */
  teacher?: string;
  /** Absolute: the folder the teacher cell trains into (for a teacher cell: its output). */
  teacherDir?: string;
  /** Absolute paths of the files and folders the config reads (data, teacher, vocab). */
  reads: string[];
}

export interface SweepPlan {
  name: string;
  sweep: SweepFile;
  /** Absolute sweep folder. */
  dir: string;
  axes: Axis[];
  teachers: PlannedCell[];
  cells: PlannedCell[];
  /** Config warnings, each once, with the cells it concerns. */
  warnings: string[];
}

export const CELLS_DIR = 'cells';
export const RUNS_DIR = 'runs';
export const TEACHERS_DIR = 'teachers';

/** The config fields that hold paths (in a resolved config: absolute). */
const PATH_FIELDS: JsonPath[] = [
  ['task', 'dataDir'],
  ['task', 'custom', 'train'],
  ['task', 'custom', 'dev'],
  ['teacher', 'checkpoint'],
  ['teacher', 'train', 'from'],
  ['teacher', 'train', 'vocab'],
  ['teacher', 'output'],
  ['student', 'init', 'checkpoint'],
  ['runsDir'],
];

function getPath(root: unknown, p: JsonPath): unknown {
  let cur = root;
  for (const seg of p) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function isPrefix(a: JsonPath, b: JsonPath): boolean {
  return a.length <= b.length && a.every((s, i) => s === b[i]);
}

/** Overrides that change what the teacher learns from (and so its identity). */
export function changesTeacher(o: Override): boolean {
  return o.path[0] === 'teacher' || (o.path[0] === 'task' && o.path[1] !== 'trainFraction');
}

export function planSweep(sweepFile: string, opts: { out?: string } = {}): SweepPlan {
  const sweep = readSweepFile(sweepFile);
  const dir = path.resolve(opts.out ?? sweep.defaultOut);
  const cellsDir = path.join(dir, CELLS_DIR);
  const runsDir = path.join(dir, RUNS_DIR);
  const grid = expandGrid(sweep.axes);
  const sharesTeacher =
    typeof sweep.base.teacher === 'object' && sweep.base.teacher !== null && 'train' in sweep.base.teacher;

  const problems = new ProblemCollector(sweep.axes);
  const teachers = new Map<string, PlannedCell>();
  const cells: PlannedCell[] = [];

  for (const g of grid) {
    const raw = applyOverrides(sweep.base, g.overrides);
    raw.name = g.id;
    raw.runsDir = runsDir;
    let teacher: PlannedCell | undefined;
    if (sharesTeacher && typeof raw.teacher === 'object' && raw.teacher !== null && 'train' in raw.teacher) {
      teacher = teacherFor(g, sweep, dir, teachers, problems);
    }
    // Validated with the base teacher spec (files exist now), then pointed at the shared teacher.
    const resolved = resolveCell(raw, g.id, sweep, problems, g);
    if (!resolved) continue;
    if (teacher?.teacherDir) resolved.teacher = { checkpoint: teacher.teacherDir };
    cells.push(finishCell(resolved, g.id, cells.length, 'student', valuesOf(g.values), cellsDir, teacher));
  }
  const clash = cells.find((c) => teachers.has(c.id));
  if (clash)
    throw new UserError(`cell id "${clash.id}" is also the shared teacher's`, {
      where: sweep.file,
      fix: 'rename the grid value that makes it',
    });
  if (problems.errorCount > 0) {
    throw new UserError(
      `the sweep has ${problems.errorCount} problem${problems.errorCount === 1 ? '' : 's'}; nothing was run:\n${problems.errorLines().join('\n')}`,
      {
        where: sweep.file,
        fix: 'fix the base config or the grid values named above',
      },
    );
  }
  return {
    name: sweep.name,
    sweep,
    dir,
    axes: sweep.axes,
    teachers: [...teachers.values()],
    cells,
    warnings: problems.warningLines(grid.length),
  };
}

function valuesOf(values: Record<string, AxisValue>): Record<string, CellValue> {
  const out: Record<string, CellValue> = {};
  for (const [k, v] of Object.entries(values)) out[k] = { label: v.label, id: v.idPart, value: v.raw };
  return out;
}

function teacherFor(
  g: GridCell,
  sweep: SweepFile,
  dir: string,
  teachers: Map<string, PlannedCell>,
  problems: ProblemCollector,
): PlannedCell | undefined {
  const axes = sweep.axes.filter((a) => g.values[a.key].overrides.some(changesTeacher));
  const id = ['teacher', ...axes.map((a) => g.values[a.key].idPart)].join('_');
  const known = teachers.get(id);
  if (known) return known;
  const values: Record<string, AxisValue> = {};
  for (const a of axes) values[a.key] = g.values[a.key];
  const raw = applyOverrides(sweep.base, g.overrides.filter(changesTeacher));
  const teacherDir = path.join(dir, TEACHERS_DIR, id);
  raw.name = id;
  raw.runsDir = path.join(dir, RUNS_DIR);
  raw.teacher = { ...(raw.teacher as Record<string, unknown>), output: teacherDir };
  raw.algorithm = 'hard';
  raw.losses = { ...(raw.losses as Record<string, unknown> | undefined), hardLabel: 1 };
  const { custom: _custom, ...stages } = (raw.stages ?? {}) as Record<string, unknown>;
  raw.stages = { ...stages, classificationEpochs: 1 };
  const resolved = resolveCell(
    raw,
    id,
    sweep,
    problems,
    { ...g, id, values, overrides: g.overrides.filter(changesTeacher) },
    true,
  );
  if (!resolved) return undefined;
  const cell = {
    ...finishCell(resolved, id, teachers.size, 'teacher', valuesOf(values), path.join(dir, CELLS_DIR), undefined),
    teacherDir,
  };
  teachers.set(id, cell);
  return cell;
}

type Resolved = NonNullable<ReturnType<typeof validateConfig>['config']>;

function resolveCell(
  raw: Record<string, unknown>,
  id: string,
  sweep: SweepFile,
  problems: ProblemCollector,
  g: GridCell,
  teacher = false,
): Resolved | undefined {
  // Relative paths in the base config start at its folder, so the cell is checked as if it lived there.
  const asFile = path.join(sweep.baseDir, `${id}.distill.json`);
  const { config, problems: found } = validateConfig(JSON.stringify(raw, null, 2), asFile, { checkFiles: true });
  problems.add(id, found, g, teacher);
  return found.some((p) => p.severity === 'error') ? undefined : config;
}

function finishCell(
  resolved: Resolved,
  id: string,
  index: number,
  kind: CellKind,
  values: Record<string, CellValue>,
  cellsDir: string,
  teacher: PlannedCell | undefined,
): PlannedCell {
  const config = JSON.parse(JSON.stringify(resolved)) as Record<string, unknown>;
  const reads: string[] = [];
  for (const p of PATH_FIELDS) {
    const v = getPath(config, p);
    if (typeof v !== 'string' || !path.isAbsolute(v)) continue;
    if (p[0] !== 'runsDir' && p[1] !== 'output') reads.push(v);
    const parent = getPath(config, p.slice(0, -1)) as Record<string | number, unknown>;
    parent[p[p.length - 1]] = path.relative(cellsDir, v).split(path.sep).join('/') || '.';
  }
  return {
    id,
    index,
    kind,
    values,
    config,
    configFile: path.join(cellsDir, `${id}.distill.json`),
    reads,
    ...(teacher ? { teacher: teacher.id, teacherDir: teacher.teacherDir } : {}),
  };
}

/** Collects validation problems across cells; one line per distinct problem, naming its cells. */
class ProblemCollector {
  private readonly errors = new Map<string, string[]>();
  private readonly warnings = new Map<string, string[]>();
  private readonly fromGrid = new Set<string>();

  constructor(private readonly axes: readonly Axis[]) {}

  get errorCount(): number {
    return this.errors.size;
  }

  add(cellId: string, problems: readonly ConfigProblem[], g: GridCell, teacher: boolean): void {
    for (const p of problems) {
      // The teacher cell's config is the sweep's own making; its warnings would only confuse.
      if (teacher && p.severity === 'warning') continue;
      const where = p.pathText || '(the whole config)';
      const source = this.source(p.path, g);
      const text = `${where}: ${p.message}${p.fix ? ` (fix: ${p.fix})` : ''}${source}`;
      const map = p.severity === 'error' ? this.errors : this.warnings;
      const list = map.get(text) ?? [];
      if (!list.includes(cellId)) list.push(cellId);
      map.set(text, list);
      if (source) this.fromGrid.add(text);
    }
  }

  /** Which grid key set the field at fault, when one did. */
  private source(p: JsonPath, g: GridCell): string {
    for (const a of this.axes) {
      const v = g.values[a.key];
      if (!v) continue;
      const o = v.overrides.find((x) => isPrefix(x.path, p) || isPrefix(p, x.path));
      if (o)
        return ` [grid "${a.key}" = ${JSON.stringify(v.raw)}${o.path.length && pathToText(o.path) !== a.key ? `, sets ${pathToText(o.path)}` : ''}]`;
    }
    return '';
  }

  private static lines(map: Map<string, string[]>): string[] {
    return [...map].map(([text, ids]) => {
      const shown = ids.slice(0, 4).join(', ');
      const more = ids.length > 4 ? ` and ${ids.length - 4} more` : '';
      return `  cell ${shown}${more}: ${text}`;
    });
  }

  errorLines(): string[] {
    return ProblemCollector.lines(this.errors);
  }

  /**
   * Warnings about a grid value, or about the base config in every cell. A base field that only
   * some algorithms use (stages.internalAllEpochs in a grid over algorithms) is no news.
   */
  warningLines(cellCount: number): string[] {
    const kept = new Map(
      [...this.warnings].filter(([text, ids]) => this.fromGrid.has(text) || ids.length >= cellCount),
    );
    return ProblemCollector.lines(kept).map((l) => l.replace(/^ {2}/, ''));
  }
}
