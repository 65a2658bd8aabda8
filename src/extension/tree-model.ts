/**
 * The Runs and Configs trees as plain data: pure functions from run states and config outlines to
 * nodes. The vscode TreeDataProviders only turn these into TreeItems, so what the trees show is
 * tested without VS Code. `contextValue`s drive the context menus (package.json `view/item/context`).
 */
import * as path from 'node:path';
import type { ConfigOutline } from './config-outline';
import { bestText, formatNumber, progressText, RunState, StageState } from './run-state';

export type Collapsible = 'none' | 'collapsed' | 'expanded';

export interface TreeIcon {
  /** A codicon id, e.g. 'pass', 'sync~spin'. */
  id: string;
  /** A theme color id, e.g. 'testing.iconPassed'. */
  color?: string;
}

/**
 * What a node stands for, by kind. VS Code hands the node itself to the commands of its context
 * menu, so these fields are what those commands act on.
 */
export type NodeTarget =
  /** A trainer still starting: `target` is the config (train) or run folder (resume). */
  | { kind: 'launch'; launchId: number; target: string }
  | { kind: 'run' | 'stage'; runDir: string }
  /** `path`: the checkpoints folder, one checkpoint, or the model folder (best/, student/). */
  | { kind: 'checkpoints' | 'checkpoint' | 'best' | 'student'; runDir: string; path: string }
  /** A sweep folder's group (sweep-tree.ts). */
  | { kind: 'sweep'; sweepDir: string }
  /** A sweep cell that has no run yet: `configFile` is its cells/<id>.distill.json. */
  | { kind: 'cell'; configFile: string }
  | { kind: 'config' | 'config-student' | 'config-mapping' | 'config-pair' | 'config-problem'; configFile: string }
  /** `teacherDir`: the teacher's folder, when the config names one. */
  | { kind: 'config-teacher'; configFile: string; teacherDir?: string };

export type NodeKind = NodeTarget['kind'];

const NODE_KINDS: ReadonlySet<string> = new Set<NodeKind>([
  'launch',
  'run',
  'stage',
  'checkpoints',
  'checkpoint',
  'best',
  'student',
  'sweep',
  'cell',
  'config',
  'config-teacher',
  'config-student',
  'config-mapping',
  'config-pair',
  'config-problem',
]);

interface NodeView {
  /** Stable and unique within its tree (keeps expansion and selection across refreshes). */
  id: string;
  label: string;
  description?: string;
  /** Markdown. */
  tooltip?: string;
  icon?: TreeIcon;
  /**
   * What the context menus match on. Runs: `run:<status>` plus `:resumable`, `:exportable`,
   * `:evaluable`; models: `model:best`, `model:student`; `checkpoint`; `config`.
   */
  contextValue: string;
  collapsible: Collapsible;
  children?: TreeNode[];
  /** Runs on click. */
  command?: { id: string; title: string; args: string[] };
}

export type TreeNode = NodeView & NodeTarget;

/** Whether a command argument is a node of these trees (VS Code passes the object it was given). */
export function isTreeNode(x: unknown): x is TreeNode {
  if (!x || typeof x !== 'object') return false;
  const o = x as { kind?: unknown; id?: unknown };
  return typeof o.kind === 'string' && NODE_KINDS.has(o.kind) && typeof o.id === 'string';
}

/** A launch that has not reported its run folder yet. */
export interface PendingLaunchView {
  id: number;
  verb: 'train' | 'resume';
  target: string;
}

export const STATUS_ICONS: Record<RunState['status'] | 'crashed', TreeIcon> = {
  running: { id: 'sync~spin', color: 'charts.blue' },
  finished: { id: 'pass-filled', color: 'testing.iconPassed' },
  failed: { id: 'error', color: 'testing.iconFailed' },
  stopped: { id: 'debug-pause', color: 'charts.yellow' },
  crashed: { id: 'warning', color: 'list.warningForeground' },
  unknown: { id: 'question', color: 'disabledForeground' },
};

function runContext(s: RunState): string {
  const flags = [`run:${s.status}`];
  if (s.resumable) flags.push('resumable');
  if (s.bestDir || s.checkpoints.length > 0) flags.push('exportable');
  if (s.bestDir || s.studentDir) flags.push('evaluable');
  return flags.join(':');
}

/**
 * A running run's short description: stage position and progress (the stage's name is on its own
 * row below, the step and loss are in the tooltip), so the row is not cut off in a narrow sidebar.
 */
function runningDescription(s: RunState): string {
  const st = s.currentStage !== undefined ? s.stages.find((x) => x.index === s.currentStage) : undefined;
  const parts: string[] = [];
  if (st) {
    parts.push(`${s.stages.indexOf(st) + 1}/${s.stages.length}`);
    if (st.stepsPlanned) parts.push(`${Math.min(100, Math.round((100 * st.stepsDone) / st.stepsPlanned))}%`);
  } else if (s.step > 0) parts.push(`step ${s.step}`);
  if (bestText(s)) parts.push(`best ${bestText(s)}`);
  return parts.join(' · ');
}

function runDescription(s: RunState): string {
  switch (s.status) {
    case 'running':
      return runningDescription(s);
    case 'finished':
      return bestText(s) ?? 'finished';
    case 'failed':
      return `failed${s.step ? ` at step ${s.step}` : ''}`;
    case 'stopped':
      return `${s.crashed ? 'crashed' : 'stopped'}${s.step ? ` at step ${s.step}` : ''}${bestText(s) ? ` · best ${bestText(s)}` : ''}`;
    default:
      return '';
  }
}

function escapeMd(s: string): string {
  return s.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
}

function runTooltip(s: RunState): string {
  const rows: string[] = [`**${escapeMd(s.label)}** — ${s.crashed ? 'crashed' : s.status}`, ''];
  // the whole progress line, which the row's short description leaves out
  if (s.status === 'running' && progressText(s)) rows.push(escapeMd(progressText(s)), '');
  if (s.message) rows.push(escapeMd(s.message), '');
  if (s.fix) rows.push(`Fix: ${escapeMd(s.fix)}`, '');
  const facts: Array<[string, string | undefined]> = [
    ['run', s.runId],
    ['algorithm', s.algorithm],
    ['task', s.task],
    ['backend', s.backend],
    ['step', s.step ? String(s.step) : undefined],
    ['loss', s.loss !== undefined ? formatNumber(s.loss) : undefined],
    ['best', s.best ? `${s.best.metric} ${formatNumber(s.best.value)} (step ${s.best.step})` : undefined],
    ['student', s.studentParams !== undefined ? `${s.studentParams.toLocaleString('en-US')} parameters` : undefined],
    ['teacher', s.teacherParams !== undefined ? `${s.teacherParams.toLocaleString('en-US')} parameters` : undefined],
    ['pid', s.pid !== undefined ? String(s.pid) : undefined],
    ['started', s.startedAt],
    ['folder', s.runDir],
  ];
  for (const [k, v] of facts) if (v) rows.push(`- ${k}: ${escapeMd(v)}`);
  return rows.join('\n');
}

function stageNode(s: RunState, st: StageState, position: number): TreeNode {
  const icon: TreeIcon =
    st.progress === 'done'
      ? { id: 'pass', color: 'testing.iconPassed' }
      : st.progress === 'active'
        ? s.status === 'running'
          ? { id: 'play-circle', color: 'charts.blue' }
          : { id: 'debug-pause', color: 'charts.yellow' }
        : { id: 'circle-large-outline' };
  // short: the kind only when the name does not say it, steps as "18/189" (the tooltip has it all)
  const bits: string[] = st.name.includes(st.kind) ? [] : [st.kind];
  if (st.layers.length) bits.push(st.layers.map(([a, b]) => `${a}↔${b}`).join(' '));
  if (st.progress === 'active' && st.stepsPlanned) bits.push(`${st.stepsDone}/${st.stepsPlanned}`);
  if (st.progress === 'done') bits.push(st.endReason === 'plateau' ? 'plateaued' : `${st.stepsDone} steps`);
  const steps =
    st.progress === 'done'
      ? `; ${st.stepsDone} steps${st.endReason === 'plateau' ? ', stopped on a plateau' : ''}`
      : st.progress === 'active' && st.stepsPlanned
        ? `; step ${st.stepsDone} of ${st.stepsPlanned}`
        : '';
  return {
    id: `${s.runDir}#stage-${st.index}`,
    kind: 'stage',
    label: `${position}. ${st.name}`,
    description: bits.join(' · '),
    tooltip: `${escapeMd(st.name)}: ${st.kind}, up to ${st.epochs} epoch(s)${st.layers.length ? `; layer pairs (student ↔ teacher) ${st.layers.map(([a, b]) => `${a} ↔ ${b}`).join(', ')}` : ''}${steps}`,
    icon,
    contextValue: 'stage',
    collapsible: 'none',
    runDir: s.runDir,
  };
}

export function runChildren(s: RunState): TreeNode[] {
  const out: TreeNode[] = s.stages.map((st, i) => stageNode(s, st, i + 1));
  if (s.checkpoints.length > 0) {
    out.push({
      id: `${s.runDir}#checkpoints`,
      kind: 'checkpoints',
      label: 'Checkpoints',
      description: String(s.checkpoints.length),
      icon: { id: 'history' },
      contextValue: 'checkpoints',
      collapsible: 'collapsed',
      runDir: s.runDir,
      path: path.join(s.runDir, 'checkpoints'),
      children: [...s.checkpoints].reverse().map((c): TreeNode => ({
        id: `${s.runDir}#ckpt-${c.path}`,
        kind: 'checkpoint' as const,
        label: c.step !== undefined ? `step ${c.step}` : path.basename(c.path),
        description: c.reason,
        tooltip: escapeMd(c.path),
        icon: { id: 'save' },
        contextValue: 'checkpoint',
        collapsible: 'none',
        path: c.path,
        runDir: s.runDir,
      })),
    });
  }
  if (s.bestDir) {
    out.push({
      id: `${s.runDir}#best`,
      kind: 'best',
      label: 'Best student',
      description: bestText(s),
      tooltip: `The best student so far (Hugging Face layout): ${escapeMd(s.bestDir)}`,
      icon: { id: 'star-full', color: 'charts.yellow' },
      contextValue: 'model:best',
      collapsible: 'none',
      path: s.bestDir,
      runDir: s.runDir,
    });
  }
  if (s.studentDir) {
    out.push({
      id: `${s.runDir}#student`,
      kind: 'student',
      label: 'Exported student',
      description: path.basename(s.studentDir),
      tooltip: `Hugging Face layout (config.json, model.safetensors, vocab.txt): ${escapeMd(s.studentDir)}`,
      icon: { id: 'package', color: 'charts.green' },
      contextValue: 'model:student',
      collapsible: 'none',
      path: s.studentDir,
      runDir: s.runDir,
    });
  }
  return out;
}

/** Newest first, by start time, then by id (ids end in a timestamp). */
function newestFirst(a: RunState, b: RunState): number {
  return (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || b.runId.localeCompare(a.runId);
}

export function runNodes(states: readonly RunState[], pending: readonly PendingLaunchView[] = []): TreeNode[] {
  const launches = pending.map((l): TreeNode => ({
    id: `launch-${l.id}`,
    kind: 'launch',
    launchId: l.id,
    target: l.target,
    label: path.basename(l.target).replace(/\.distill\.json$/, ''),
    description: l.verb === 'train' ? 'starting…' : 'resuming…',
    tooltip: `Starting the trainer for ${escapeMd(l.target)}`,
    icon: { id: 'loading~spin' },
    contextValue: 'launch',
    collapsible: 'none',
  }));
  const runs = [...states].sort(newestFirst).map((s): TreeNode => ({
    id: s.runDir,
    kind: 'run',
    label: s.label,
    description: runDescription(s),
    tooltip: runTooltip(s),
    icon: STATUS_ICONS[s.crashed ? 'crashed' : s.status],
    contextValue: runContext(s),
    collapsible: s.status === 'running' ? 'expanded' : 'collapsed',
    runDir: s.runDir,
    command: { id: 'distillery.openDashboard', title: 'Open Dashboard', args: [s.runDir] },
  }));
  return [...launches, ...runs];
}

// ---- configs ----------------------------------------------------------------------------------

export function configNode(o: ConfigOutline, workspaceRoot?: string): TreeNode {
  const rel = workspaceRoot ? path.relative(workspaceRoot, o.file) : o.file;
  const label = path.basename(o.file).replace(/\.distill\.json$/, '');
  const description = o.syntaxError ? 'does not parse' : [o.task, o.algorithm].filter(Boolean).join(' · ');
  return {
    id: o.file,
    kind: 'config',
    label,
    description,
    tooltip: escapeMd(rel),
    icon: { id: o.syntaxError ? 'warning' : 'beaker' },
    contextValue: 'config',
    collapsible: 'collapsed',
    configFile: o.file,
    children: configChildren(o),
    command: { id: 'vscode.open', title: 'Open Config', args: [o.file] },
  };
}

export function configChildren(o: ConfigOutline): TreeNode[] {
  if (o.syntaxError) {
    return [
      {
        id: `${o.file}#problem`,
        kind: 'config-problem',
        label: o.syntaxError,
        icon: { id: 'error', color: 'list.errorForeground' },
        contextValue: 'config-problem',
        collapsible: 'none',
        configFile: o.file,
      },
    ];
  }
  const t = o.teacher;
  const teacherLabel =
    t.source === 'missing'
      ? 'Teacher: not set'
      : `Teacher: ${t.dir ? path.basename(t.dir) : t.source === 'scratch' ? 'trained from scratch' : '?'}`;
  const teacherBits = [
    t.source === 'fine-tune' ? 'fine-tuned by the run' : t.source === 'scratch' ? 'trained by the run' : undefined,
    t.layers ? `${t.layers} layers` : undefined,
  ].filter(Boolean);
  const teacher: TreeNode = {
    id: `${o.file}#teacher`,
    kind: 'config-teacher',
    configFile: o.file,
    label: teacherLabel,
    description: teacherBits.join(' · '),
    ...(t.dir ? { tooltip: escapeMd(t.dir), teacherDir: t.dir } : {}),
    icon: { id: 'mortar-board' },
    contextValue: t.dir ? 'config-teacher:folder' : 'config-teacher',
    collapsible: 'none',
  };
  const s = o.student;
  const student: TreeNode = {
    id: `${o.file}#student`,
    kind: 'config-student',
    configFile: o.file,
    label: `Student: ${s.layers ? `${s.layers} layers` : '? layers'}`,
    description: [s.layersDefaulted ? 'half the teacher (default)' : undefined, s.init ? `init ${s.init}` : undefined]
      .filter(Boolean)
      .join(' · '),
    icon: { id: 'person' },
    contextValue: 'config-student',
    collapsible: 'none',
  };
  const m = o.mapping;
  const pairs = m.pairs ?? [];
  const mapping: TreeNode = {
    id: `${o.file}#mapping`,
    kind: 'config-mapping',
    configFile: o.file,
    label: `Layer mapping: ${m.spec ?? '?'}${m.defaulted ? ' (default)' : ''}`,
    description: m.problem ? 'cannot resolve' : `${pairs.length} pair${pairs.length === 1 ? '' : 's'}`,
    ...(m.problem ? { tooltip: escapeMd(m.problem) } : {}),
    icon: m.problem ? { id: 'warning', color: 'list.warningForeground' } : { id: 'arrow-swap' },
    contextValue: 'config-mapping',
    collapsible: pairs.length || m.problem ? 'expanded' : 'none',
    children: m.problem
      ? [
          {
            id: `${o.file}#mapping-problem`,
            kind: 'config-problem',
            configFile: o.file,
            label: m.problem,
            icon: { id: 'info' },
            contextValue: 'config-problem',
            collapsible: 'none',
          },
        ]
      : pairs.map((p): TreeNode => ({
          id: `${o.file}#pair-${p.student}`,
          kind: 'config-pair',
          configFile: o.file,
          label: `student ${p.student} ↔ teacher ${p.teacher}`,
          icon: { id: 'link' },
          contextValue: 'config-pair',
          collapsible: 'none',
        })),
  };
  return [teacher, student, mapping];
}
