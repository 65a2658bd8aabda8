/**
 * The Runs tree with sweeps grouped: the runs of a sweep folder appear under one node per sweep,
 * one child per cell (teachers first, in the grid's order) with the scheduler's state of its task
 * when the sweep ran on a cluster; runs outside sweeps stay at the top level as before. Kept apart
 * from tree-model.ts (which draws a single run) so the two change independently.
 */
import * as path from 'node:path';
import { PendingLaunchView, runNodes, STATUS_ICONS, TreeIcon, TreeNode } from './tree-model';
import type { RunState } from './run-state';
import { CellTask, cellIdOf, SweepCell, SweepView } from './sweep-groups';

/** The sweep folder of a run in <sweep>/runs/<run>, when that sweep is known. */
function sweepOf(s: RunState, sweeps: ReadonlyMap<string, SweepView>): SweepView | undefined {
  const runs = path.dirname(s.runDir);
  return path.basename(runs) === 'runs' ? sweeps.get(path.dirname(runs)) : undefined;
}

/** The cell a run was made for: by the config its run.json names, or (when it names none) by its folder name (<cell>-<time>). */
function cellOf(s: RunState, v: SweepView): SweepCell | undefined {
  if (s.configFile) {
    const byConfig = cellIdOf(s.configFile);
    return byConfig ? v.cells.find((c) => c.id === byConfig) : undefined;
  }
  return v.cells.find((c) => s.runId.startsWith(`${c.id}-`) && /^\d{8}-\d{6}/.test(s.runId.slice(c.id.length + 1)));
}

/** "Slurm PENDING (Dependency)", or "task 7_1 on node12" when only run-cell.sh's file tells. */
export function schedulerText(t: CellTask): string {
  if (t.state) return `Slurm ${t.state}${t.reason ? ` (${t.reason})` : ''}`;
  return `task ${t.task}${t.host ? ` on ${t.host}` : ''}`;
}

const SCHEDULER_ICONS: Record<string, TreeIcon> = {
  PENDING: { id: 'clock', color: 'charts.yellow' },
  RUNNING: STATUS_ICONS.running,
  COMPLETED: STATUS_ICONS.finished,
  FAILED: STATUS_ICONS.failed,
  CANCELLED: STATUS_ICONS.stopped,
  TIMEOUT: STATUS_ICONS.failed,
  OUT_OF_MEMORY: STATUS_ICONS.failed,
  NODE_FAIL: STATUS_ICONS.failed,
};

function cellRunNode(s: RunState, task: CellTask | undefined): TreeNode {
  const [node] = runNodes([s]);
  if (!task) return node;
  // The pid in run.json is on a compute node: "crashed" here only means it is not this machine's.
  const elsewhere = task.state === 'RUNNING' && s.crashed;
  const description = elsewhere ? `running${task.host ? ` on ${task.host}` : ''}` : node.description;
  return {
    ...node,
    description: [schedulerText(task), description].filter(Boolean).join(' · '),
    tooltip: `${node.tooltip ?? ''}\n- scheduler: ${schedulerText(task)}, task ${task.task}${task.since ? `, started ${task.since}` : ''}`,
    ...(elsewhere ? { icon: STATUS_ICONS.running } : {}),
  };
}

function pendingCellNode(v: SweepView, c: SweepCell): TreeNode {
  const task = v.tasks.get(c.id);
  return {
    id: `${v.dir}#cell-${c.id}`,
    kind: 'cell',
    label: c.id,
    description: task ? schedulerText(task) : 'not started',
    tooltip: `Cell ${c.id}${c.kind === 'teacher' ? ' (shared teacher)' : ''}: no run folder yet${task ? `; ${schedulerText(task)}, task ${task.task}` : ''}`,
    icon: (task?.state ? SCHEDULER_ICONS[task.state] : undefined) ?? { id: 'circle-large-outline' },
    contextValue: 'cell',
    collapsible: 'none',
    configFile: path.join(v.dir, 'cells', `${c.id}.distill.json`),
  };
}

function sweepNode(v: SweepView, runs: readonly RunState[]): TreeNode {
  const newest = new Map<string, RunState>();
  const extra: RunState[] = [];
  // Newest first, so the first run seen for a cell is its current one.
  const ordered = [...runs].sort(
    (a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || b.runId.localeCompare(a.runId),
  );
  for (const s of ordered) {
    const c = cellOf(s, v);
    if (c && !newest.has(c.id)) newest.set(c.id, s);
    else extra.push(s);
  }
  const children = v.cells.map((c) => {
    const s = newest.get(c.id);
    return s ? cellRunNode(s, v.tasks.get(c.id)) : pendingCellNode(v, c);
  });
  // Earlier attempts and runs of cells no longer in the grid, after the cells.
  children.push(...runNodes(extra));

  const counts = new Map<string, number>();
  for (const c of v.cells) {
    const s = newest.get(c.id);
    const task = v.tasks.get(c.id);
    const key = s
      ? task?.state === 'RUNNING'
        ? 'running'
        : s.crashed
          ? 'crashed'
          : s.status
      : task?.state === 'PENDING'
        ? 'pending'
        : task?.state === 'RUNNING'
          ? 'running'
          : 'not started';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const n = (k: string) => counts.get(k) ?? 0;
  const bits = [
    `${n('finished')}/${v.cells.length} finished`,
    ...['running', 'pending', 'failed', 'stopped', 'crashed'].filter((k) => n(k) > 0).map((k) => `${n(k)} ${k}`),
  ];
  if (v.jobs.cells) bits.push(`Slurm job ${v.jobs.teachers ? `${v.jobs.teachers}, ` : ''}${v.jobs.cells}`);
  const icon: TreeIcon = n('running')
    ? STATUS_ICONS.running
    : n('failed')
      ? STATUS_ICONS.failed
      : n('finished') === v.cells.length
        ? STATUS_ICONS.finished
        : { id: 'layers' };
  return {
    id: `sweep:${v.dir}`,
    kind: 'sweep',
    label: v.name,
    description: bits.join(' · '),
    tooltip: [
      `**Sweep ${v.name}**: ${v.cells.length} cells`,
      '',
      `- folder: ${v.dir}`,
      ...(v.jobs.cells
        ? [
            `- Slurm jobs: ${[v.jobs.teachers && `teachers ${v.jobs.teachers}`, `cells ${v.jobs.cells}`].filter(Boolean).join(', ')}`,
          ]
        : []),
    ].join('\n'),
    icon,
    contextValue: 'sweep',
    collapsible: n('running') ? 'expanded' : 'collapsed',
    sweepDir: v.dir,
    children,
  };
}

/**
 * The Runs tree's top level: pending launches, then one node per sweep (newest activity first),
 * then the runs that belong to no known sweep (as runNodes draws them).
 */
export function groupedRunNodes(
  states: readonly RunState[],
  pending: readonly PendingLaunchView[],
  sweeps: ReadonlyMap<string, SweepView>,
): TreeNode[] {
  const bySweep = new Map<string, RunState[]>();
  const loose: RunState[] = [];
  for (const s of states) {
    const v = sweepOf(s, sweeps);
    if (v) bySweep.set(v.dir, [...(bySweep.get(v.dir) ?? []), s]);
    else loose.push(s);
  }
  const latest = (runs: readonly RunState[]) =>
    runs.reduce((m, s) => ((s.startedAt ?? '') > m ? (s.startedAt ?? '') : m), '');
  const groups = [...sweeps.values()]
    .map((v) => ({ v, runs: bySweep.get(v.dir) ?? [] }))
    .sort((a, b) => latest(b.runs).localeCompare(latest(a.runs)) || a.v.dir.localeCompare(b.v.dir))
    .map(({ v, runs }) => sweepNode(v, runs));
  const top = runNodes(loose, pending);
  const launches = top.filter((x) => x.kind === 'launch');
  return [...launches, ...groups, ...top.filter((x) => x.kind !== 'launch')];
}
