/**
 * The Runs and Configs TreeDataProviders: thin adapters from the pure node models in
 * tree-model.ts to vscode.TreeItems.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import { configNode, runChildren, TreeNode } from './tree-model';
import { Exec, SweepSchedulerCache } from './sweep-groups';
import { groupedRunNodes } from './sweep-tree';
import type { RunManager } from './run-manager';
import { loadValidator } from './load-validator';

export const CONFIG_GLOB = '**/*.distill.json';
export const EXCLUDE_GLOB = '**/{node_modules,.git}/**';

export function toTreeItem(n: TreeNode): vscode.TreeItem {
  const state =
    n.collapsible === 'none'
      ? vscode.TreeItemCollapsibleState.None
      : n.collapsible === 'expanded'
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
  const item = new vscode.TreeItem(n.label, state);
  item.id = n.id;
  if (n.description) item.description = n.description;
  if (n.tooltip) item.tooltip = new vscode.MarkdownString(n.tooltip);
  if (n.icon)
    item.iconPath = new vscode.ThemeIcon(n.icon.id, n.icon.color ? new vscode.ThemeColor(n.icon.color) : undefined);
  item.contextValue = n.contextValue;
  if (n.command) {
    const args = n.command.id === 'vscode.open' ? n.command.args.map((a) => vscode.Uri.file(a)) : n.command.args;
    item.command = { command: n.command.id, title: n.command.title, arguments: args };
  }
  return item;
}

/** Coalesces bursts of changes into one tree refresh. */
class Debounced {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly fn: () => void,
    private readonly ms: number,
  ) {}
  run(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fn();
    }, this.ms);
  }
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly refresher = new Debounced(() => this.changed.fire(undefined), 250);
  /** Sweeps group their runs; on a cluster's login node squeue adds the tasks' states. */
  private readonly sweeps = new SweepSchedulerCache(squeueExec, () => this.refresh());
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly manager: RunManager) {
    this.subscriptions = [
      manager.onDidChangeRun(() => this.refresh()),
      manager.onDidChangeLaunch(() => this.refresh()),
    ];
  }

  refresh(): void {
    this.refresher.run();
  }

  getTreeItem(n: TreeNode): vscode.TreeItem {
    return toTreeItem(n);
  }

  getChildren(n?: TreeNode): TreeNode[] {
    if (!n) {
      const pending = this.manager.pendingLaunches().map((l) => ({ id: l.id, verb: l.verb, target: l.target }));
      const states = this.manager.store.states();
      return groupedRunNodes(states, pending, this.sweeps.views(states.map((st) => st.runDir)));
    }
    if (n.kind === 'run') {
      const s = this.manager.store.state(n.runDir);
      return s ? runChildren(s) : [];
    }
    return n.children ?? [];
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.refresher.dispose();
    this.sweeps.dispose();
    this.changed.dispose();
  }
}

/** squeue with a short timeout: undefined when it is not installed, '' when it fails (e.g. purged job ids). */
const squeueExec: Exec = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') resolve(undefined);
      else resolve(err ? '' : stdout);
    });
  });

/** Every *.distill.json in the workspace, with its teacher, student and layer mapping. */
export class ConfigsTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private files: string[] | undefined;
  private readonly refresher = new Debounced(() => {
    this.files = undefined;
    this.changed.fire(undefined);
  }, 300);
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    const watcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB);
    this.disposables.push(
      watcher,
      watcher.onDidCreate(() => this.refresh()),
      watcher.onDidDelete(() => this.refresh()),
      watcher.onDidChange(() => this.refresh()),
    );
    this.disposables.push(vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()));
  }

  refresh(): void {
    this.refresher.run();
  }

  /** The config files, sorted by path (cached until a config changes). */
  async configFiles(): Promise<string[]> {
    if (!this.files) {
      const uris = await vscode.workspace.findFiles(CONFIG_GLOB, EXCLUDE_GLOB, 1000);
      this.files = uris
        .filter((u) => u.scheme === 'file')
        .map((u) => u.fsPath)
        .sort();
    }
    return this.files;
  }

  getTreeItem(n: TreeNode): vscode.TreeItem {
    return toTreeItem(n);
  }

  async getChildren(n?: TreeNode): Promise<TreeNode[]> {
    if (n) return n.children ?? [];
    const files = await this.configFiles();
    if (files.length === 0) return [];
    const { outlineConfig } = await loadValidator();
    return files.map((file) => {
      let text = '';
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        // Deleted between the search and the read: shown as not parsing until the next refresh.
      }
      const root = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath;
      return configNode(outlineConfig(text, file), root ?? path.dirname(file));
    });
  }

  dispose(): void {
    this.refresher.dispose();
    this.changed.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
