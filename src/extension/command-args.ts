/**
 * What a `distillery.*` command was invoked on. VS Code passes the tree node itself from a view's
 * context menu, a Uri from the explorer and editor title, nothing from the Command Palette; the
 * status bar, CodeLenses, the dashboard, links and tests pass a path. Anything else is a
 * CommandArgError (registerCommands shows it with the command's id), not a silent fall back to a
 * picker.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isTreeNode, TreeNode } from './tree-model';

export type CommandTarget = TreeNode | { kind: 'path'; path: string };

export class CommandArgError extends Error {}

function describe(x: unknown): string {
  if (Array.isArray(x)) return 'a list';
  if (x === null) return 'null';
  if (typeof x === 'object') return `an object with ${Object.keys(x).slice(0, 5).join(', ') || 'no keys'}`;
  return `a ${typeof x}`;
}

/** The target of a command's argument; undefined when there is none (the command then asks). */
export function commandTarget(arg: unknown): CommandTarget | undefined {
  if (arg === undefined || arg === '') return undefined;
  if (typeof arg === 'string') return { kind: 'path', path: arg };
  if (arg instanceof vscode.Uri) {
    if (arg.scheme !== 'file')
      throw new CommandArgError(
        `${arg.toString()} is not a file on this machine (Distillery reads configs and runs from disk); save it to a file first`,
      );
    return { kind: 'path', path: arg.fsPath };
  }
  if (isTreeNode(arg)) return arg;
  throw new CommandArgError(`cannot act on ${describe(arg)}; pass a path, a file Uri or a Distillery tree item`);
}

function wrongKind(t: CommandTarget, wanted: string): Error {
  return new CommandArgError(`the tree item "${'label' in t ? t.label : t.kind}" (${t.kind}) is not ${wanted}`);
}

/** The run folder a command acts on: a path is taken as one; a node gives the run it belongs to. */
export function runDirOf(t: CommandTarget | undefined): string | undefined {
  if (!t) return undefined;
  switch (t.kind) {
    case 'path':
      return t.path;
    case 'run':
    case 'stage':
    case 'checkpoints':
    case 'checkpoint':
    case 'best':
    case 'student':
      return t.runDir;
    default:
      throw wrongKind(t, 'a run');
  }
}

/** The config file a command acts on (a config, or a sweep cell's config). */
export function configFileOf(t: CommandTarget | undefined): string | undefined {
  if (!t) return undefined;
  switch (t.kind) {
    case 'path':
      return t.path;
    case 'config':
    case 'cell':
      return t.configFile;
    default:
      throw wrongKind(t, 'a config');
  }
}

/** The file or folder a node shows, for revealing it. */
export function fileOf(t: CommandTarget | undefined): string | undefined {
  if (!t) return undefined;
  switch (t.kind) {
    case 'path':
    case 'checkpoints':
    case 'checkpoint':
    case 'best':
    case 'student':
      return t.path;
    case 'run':
      return t.runDir;
    default:
      throw wrongKind(t, 'a file or folder');
  }
}

/** Run folders, absolute and once each, from a list (a tree selection, the compare view's pair) or one argument. */
export function runDirsOf(arg: unknown): string[] {
  const list: unknown[] = Array.isArray(arg) ? arg : [arg];
  return [
    ...new Set(
      list
        .map((x) => runDirOf(commandTarget(x)))
        .filter((d): d is string => !!d)
        .map((d) => path.resolve(d)),
    ),
  ];
}
