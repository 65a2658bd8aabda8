/**
 * The sweep folder:
 *   sweep.json          the manifest: axes, cells (config, values, run folder, status), invocations
 *   cells/<id>.distill.json   each cell's complete run config
 *   cells.tsv, teachers.tsv   index files for cluster array tasks: "<index>\t<id>\t<config>\t<teacher dir|->"
 *   runs/<run id>/      the run folders (the truth about each cell)
 *   teachers/<id>/      shared teachers
 *   logs/<id>.log       each cell's stderr (local runs), slurm-*.out (cluster)
 * The manifest is rewritten atomically after every change, so a reader never sees a torn one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic-fs';
import { UserError } from '../util/errors';
import { AxisKind } from './grid';
import { CellKind, CellValue, PlannedCell, SweepPlan } from './plan';
import { isProcessAlive } from '../util/process-alive';

export const MANIFEST_FILE = 'sweep.json';
export const MANIFEST_VERSION = 1;

/** pending: never run; blocked: its teacher did not finish; the rest as CellRunStatus. */
export type CellStatus = 'pending' | 'running' | 'finished' | 'failed' | 'stopped' | 'crashed' | 'blocked';

export interface ManifestCell {
  id: string;
  index: number;
  kind: CellKind;
  /** Relative to the sweep folder. */
  config: string;
  values: Record<string, CellValue>;
  teacher?: string;
  /** Relative to the sweep folder. */
  teacherDir?: string;
  /** Relative to the sweep folder. */
  runDir?: string;
  status: CellStatus;
  /** Processes started for this cell by `distillery sweep` (train, then resumes). */
  attempts: number;
  lastError?: string;
  best?: { metric: string; value: number; step: number };
  updatedAt?: string;
}

export interface ManifestAxis {
  key: string;
  kind: AxisKind;
  path: string;
  labels: string[];
}

export interface Invocation {
  command: string;
  cwd: string;
  time: string;
  host: string;
}

export interface SweepManifest {
  version: number;
  name: string;
  /** Absolute, as of the last plan. */
  sweepFile: string;
  /** The sweep file's text, for the report's "reproduce" section. */
  sweepText: string;
  baseConfigFile?: string;
  createdAt: string;
  updatedAt: string;
  axes: ManifestAxis[];
  teachers: ManifestCell[];
  cells: ManifestCell[];
  invocations: Invocation[];
}

export function manifestPath(sweepDir: string): string {
  return path.join(sweepDir, MANIFEST_FILE);
}

export function readManifest(sweepDir: string): SweepManifest | undefined {
  let text: string;
  try {
    text = fs.readFileSync(manifestPath(sweepDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as SweepManifest;
    if (typeof m !== 'object' || !Array.isArray(m.cells)) throw new Error('no cells');
    return m;
  } catch (e) {
    throw new UserError(`the sweep manifest is not valid JSON (${(e as Error).message})`, {
      where: manifestPath(sweepDir),
      fix: 'run `distillery sweep <sweep file> --out <this folder>` again to rewrite it',
    });
  }
}

export function writeManifest(sweepDir: string, m: SweepManifest): void {
  m.updatedAt = new Date().toISOString();
  writeFileAtomic(manifestPath(sweepDir), JSON.stringify(m, null, 2) + '\n');
}

function rel(sweepDir: string, p: string): string {
  return path.relative(sweepDir, p).split(path.sep).join('/');
}

function manifestCell(plan: SweepPlan, c: PlannedCell, prev: ManifestCell | undefined): ManifestCell {
  return {
    id: c.id,
    index: c.index,
    kind: c.kind,
    config: rel(plan.dir, c.configFile),
    values: c.values,
    ...(c.teacher ? { teacher: c.teacher } : {}),
    ...(c.teacherDir ? { teacherDir: rel(plan.dir, c.teacherDir) } : {}),
    ...(prev?.runDir ? { runDir: prev.runDir } : {}),
    status: prev?.status ?? 'pending',
    attempts: prev?.attempts ?? 0,
    ...(prev?.lastError ? { lastError: prev.lastError } : {}),
    ...(prev?.best ? { best: prev.best } : {}),
    ...(prev?.updatedAt ? { updatedAt: prev.updatedAt } : {}),
  };
}

/** The manifest for a plan, keeping what an earlier manifest knew about cells that are still there. */
export function manifestFor(
  plan: SweepPlan,
  previous: SweepManifest | undefined,
  invocation?: Invocation,
): SweepManifest {
  const byId = new Map([...(previous?.teachers ?? []), ...(previous?.cells ?? [])].map((c) => [c.id, c]));
  const now = new Date().toISOString();
  return {
    version: MANIFEST_VERSION,
    name: plan.name,
    sweepFile: plan.sweep.file,
    sweepText: plan.sweep.text,
    ...(plan.sweep.baseFile ? { baseConfigFile: plan.sweep.baseFile } : {}),
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
    axes: plan.axes.map((a) => ({
      key: a.key,
      kind: a.kind,
      path: a.path.join('.'),
      labels: a.values.map((v) => v.label),
    })),
    teachers: plan.teachers.map((c) => manifestCell(plan, c, byId.get(c.id))),
    cells: plan.cells.map((c) => manifestCell(plan, c, byId.get(c.id))),
    invocations: [...(previous?.invocations ?? []), ...(invocation ? [invocation] : [])].slice(-20),
  };
}

export function invocation(command: string): Invocation {
  return { command, cwd: process.cwd(), time: new Date().toISOString(), host: os.hostname() };
}

/** One line per cell: "<index>\t<id>\t<config relative to the sweep folder>\t<the folder of the teacher it waits for, or ->". */
export function indexFileText(plan: SweepPlan, cells: readonly PlannedCell[]): string {
  return cells
    .map(
      (c) =>
        [
          c.index,
          c.id,
          rel(plan.dir, c.configFile),
          c.teacher && c.teacherDir ? rel(plan.dir, c.teacherDir) : '-',
        ].join('\t') + '\n',
    )
    .join('');
}

export const CELLS_INDEX = 'cells.tsv';
export const TEACHERS_INDEX = 'teachers.tsv';

/**
 * Writes every cell's config and the index files. Returns the ids of cells whose config changed
 * since an earlier write (their existing runs were made with the old config).
 */
export function writeCellFiles(plan: SweepPlan): string[] {
  const changed: string[] = [];
  for (const c of [...plan.teachers, ...plan.cells]) {
    const text = JSON.stringify(c.config, null, 2) + '\n';
    let old: string | undefined;
    try {
      old = fs.readFileSync(c.configFile, 'utf8');
    } catch {
      old = undefined;
    }
    if (old === text) continue;
    if (old !== undefined) changed.push(c.id);
    writeFileAtomic(c.configFile, text);
  }
  writeFileAtomic(path.join(plan.dir, CELLS_INDEX), indexFileText(plan, plan.cells));
  const teachersIndex = path.join(plan.dir, TEACHERS_INDEX);
  if (plan.teachers.length) writeFileAtomic(teachersIndex, indexFileText(plan, plan.teachers));
  else fs.rmSync(teachersIndex, { force: true });
  fs.mkdirSync(path.join(plan.dir, 'logs'), { recursive: true });
  return changed;
}

/** One `distillery sweep` per folder at a time: a lock file holding the owner's pid. */
export function acquireLock(sweepDir: string): () => void {
  fs.mkdirSync(sweepDir, { recursive: true });
  const file = path.join(sweepDir, '.sweep.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (pid !== process.pid && isProcessAlive(pid)) {
        throw new UserError(`another \`distillery sweep\` (pid ${pid}) is running this sweep`, {
          where: sweepDir,
          fix: 'wait for it, or stop it first',
        });
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new UserError('could not lock the sweep folder', { where: sweepDir });
}
