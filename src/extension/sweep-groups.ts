/**
 * Which runs belong to a sweep, and what the cluster scheduler says about its cells. A sweep folder
 * (src/sweep/sweep-folder.ts) holds sweep.json and runs/<run>/; a run belongs to the cell whose
 * config (cells/<id>.distill.json) its run.json names. On a cluster the emitted scripts leave
 * slurm/jobs.tsv (the job ids submit.sh got) and tasks/<cell> (the task that last took the cell);
 * `squeue` on those job ids gives the live state. Pure except for the small file reads, so the
 * Runs tree's grouping is tested without VS Code or a cluster.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The scheduler's view of one cell. */
export interface CellTask {
  /** "<job>_<index>" on Slurm, the pod's host name on Kubernetes. */
  task: string;
  /** Slurm's state (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, …) when squeue answered. */
  state?: string;
  /** Slurm's reason (Dependency, BeginTime, JobArrayTaskLimit, NonZeroExitCode, None, …). */
  reason?: string;
  /** Where run-cell.sh last ran the cell, and when (from tasks/<cell>). */
  host?: string;
  since?: string;
}

export interface SweepCell {
  id: string;
  index: number;
  kind: 'teacher' | 'cell';
}

export interface SweepView {
  dir: string;
  name: string;
  /** Teachers first, then the cells, in index order. */
  cells: SweepCell[];
  /** Job ids submit.sh recorded (the newest of each kind). */
  jobs: { teachers?: string; cells?: string };
  /** Cell id → what the scheduler says; empty for a local sweep. */
  tasks: Map<string, CellTask>;
}

const MANIFEST = 'sweep.json';

/** The sweep folder a run folder belongs to (<sweep>/runs/<run>), or undefined for a plain run. */
export function sweepDirOf(runDir: string): string | undefined {
  const runs = path.dirname(path.resolve(runDir));
  if (path.basename(runs) !== 'runs') return undefined;
  const dir = path.dirname(runs);
  return fs.existsSync(path.join(dir, MANIFEST)) ? dir : undefined;
}

/** The cell a run was made for, from the config path in its run.json (…/cells/<id>.distill.json). */
export function cellIdOf(configFile: string | undefined): string | undefined {
  if (!configFile) return undefined;
  const m = /[\\/]cells[\\/]([^\\/]+)\.distill\.json$/.exec(configFile);
  return m?.[1];
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

interface ManifestShape {
  name?: unknown;
  teachers?: Array<{ id?: unknown; index?: unknown }>;
  cells?: Array<{ id?: unknown; index?: unknown }>;
}

/** Reads a sweep folder's manifest and scheduler files; undefined when the manifest is unreadable. */
export function readSweepView(dir: string): SweepView | undefined {
  let m: ManifestShape;
  try {
    m = JSON.parse(readText(path.join(dir, MANIFEST)) ?? '') as ManifestShape;
  } catch {
    // Missing, or caught mid-write: the runs are then shown ungrouped until the next refresh.
    return undefined;
  }
  const list = (xs: ManifestShape['cells'], kind: SweepCell['kind']): SweepCell[] =>
    (Array.isArray(xs) ? xs : [])
      .filter((c) => typeof c.id === 'string')
      .map((c, i) => ({ id: c.id as string, index: typeof c.index === 'number' ? c.index : i, kind }));
  const cells = [...list(m.teachers, 'teacher'), ...list(m.cells, 'cell')];
  const jobs: SweepView['jobs'] = {};
  for (const line of (readText(path.join(dir, 'slurm', 'jobs.tsv')) ?? '').split('\n')) {
    const [kind, id] = line.split('\t');
    if ((kind === 'teachers' || kind === 'cells') && id && /^\d+$/.test(id)) jobs[kind] = id;
  }
  const tasks = new Map<string, CellTask>();
  for (const c of cells) {
    const [task, host, since] = (readText(path.join(dir, 'tasks', c.id)) ?? '').trim().split('\t');
    if (task) tasks.set(c.id, { task, ...(host ? { host } : {}), ...(since ? { since } : {}) });
  }
  return { dir, name: typeof m.name === 'string' ? m.name : path.basename(dir), cells, jobs, tasks };
}

/** The squeue arguments that list every task of the sweep's jobs, one "<task>|<state>|<reason>" line each. */
export function squeueArgs(v: SweepView): string[] | undefined {
  const ids = [v.jobs.teachers, v.jobs.cells].filter((x): x is string => !!x);
  return ids.length ? ['-h', '-t', 'all', '-r', '-j', ids.join(','), '-o', '%i|%T|%r'] : undefined;
}

/**
 * Folds squeue's answer (squeueArgs' format) into the view: task "<job>_<i>" of the teachers' or
 * the cells' job is teacher or cell i. Pending array tasks may be listed as a range
 * ("7_[2-5%2]"); each index of it is pending.
 */
export function applySqueue(v: SweepView, text: string): SweepView {
  const tasks = new Map(v.tasks);
  const byIndex = (kind: SweepCell['kind'], i: number) => v.cells.find((c) => c.kind === kind && c.index === i);
  for (const line of text.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    const m = /^(\d+)_(\d+|\[([^\]]+)\])$/.exec(id ?? '');
    if (!m || !state) continue;
    const kind: SweepCell['kind'] | undefined =
      m[1] === v.jobs.cells ? 'cell' : m[1] === v.jobs.teachers ? 'teacher' : undefined;
    if (!kind) continue;
    const indices = m[3] !== undefined ? expandRange(m[3]) : [Number(m[2])];
    for (const i of indices) {
      const cell = byIndex(kind, i);
      if (!cell) continue;
      tasks.set(cell.id, {
        ...tasks.get(cell.id),
        task: `${m[1]}_${i}`,
        state,
        ...(reason && reason !== 'None' ? { reason } : {}),
      });
    }
  }
  return { ...v, tasks };
}

/** "0-3,5%2" → [0, 1, 2, 3, 5]. */
function expandRange(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.replace(/%\d+$/, '').split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) continue;
    for (let i = a; i <= (Number.isInteger(b) ? b : a); i++) out.push(i);
  }
  return out;
}

/** Runs a command and resolves its stdout; undefined when the command is not installed, '' on other failures. */
export type Exec = (cmd: string, args: string[]) => Promise<string | undefined>;

/**
 * The sweep views of the Runs tree, with squeue's last answer folded in. squeue runs in the
 * background (never while the tree waits), at most once per `maxAgeMs` per sweep, and only for
 * sweeps whose submit.sh recorded job ids; while any task is pending or running the tree is
 * refreshed every `maxAgeMs` so that the states move on. Without squeue (not a cluster's login
 * node) the views show what tasks/<cell> files say.
 */
export class SweepSchedulerCache {
  private readonly answers = new Map<string, { text: string; at: number }>();
  private readonly asking = new Set<string>();
  private squeueMissing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly exec: Exec,
    private readonly onChange: () => void,
    private readonly maxAgeMs = 15_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The views of the sweeps that hold these run folders, keyed by sweep folder. */
  views(runDirs: readonly string[]): Map<string, SweepView> {
    const out = new Map<string, SweepView>();
    const parents = new Set(runDirs.map((d) => path.dirname(path.resolve(d))));
    for (const runs of parents) {
      const dir = sweepDirOf(path.join(runs, 'x'));
      if (!dir || out.has(dir)) continue;
      let v = readSweepView(dir);
      if (!v) continue;
      const args = squeueArgs(v);
      if (args && !this.squeueMissing) {
        const cached = this.answers.get(dir);
        if (cached) v = applySqueue(v, cached.text);
        if (!cached || this.now() - cached.at >= this.maxAgeMs) this.ask(dir, args);
      }
      out.set(dir, v);
    }
    const active = [...out.values()].some((v) =>
      [...v.tasks.values()].some((t) => t.state === 'PENDING' || t.state === 'RUNNING'),
    );
    if (active && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.onChange();
      }, this.maxAgeMs);
    }
    return out;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private ask(dir: string, args: string[]): void {
    if (this.asking.has(dir)) return;
    this.asking.add(dir);
    void this.exec('squeue', args).then((text) => {
      this.asking.delete(dir);
      if (text === undefined) {
        this.squeueMissing = true;
        return;
      }
      const before = this.answers.get(dir)?.text;
      this.answers.set(dir, { text, at: this.now() });
      if (before !== text) this.onChange();
    });
  }
}
