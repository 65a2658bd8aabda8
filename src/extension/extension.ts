/**
 * The extension's entry point. Activation only wires things up: no run folder is read, no schema
 * compiled and nothing spawned before it returns (the validator loads on first use, the run scan
 * starts after activation). TF.js never loads here: training, evaluation and export run in a child
 * process with a system Node (`distillery.nodePath`).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunManager } from './run-manager';
import { RunWatcher } from './run-watcher';
import { ConfigsTreeProvider, RunsTreeProvider } from './tree-views';
import { DashboardManager, DASHBOARD_VIEW_TYPE } from './dashboard';
import { RunStatusBar } from './status-bar';
import { ConfigCodeActions, ConfigCodeLens, ConfigDiagnostics, ConfigHover, CONFIG_SELECTOR } from './config-editor';
import { notifyLaunchEnd, pickRuns, registerCommands, Services } from './commands';
import { readSettings, SECTION } from './settings';

let manager: RunManager | undefined;

export function activate(context: vscode.ExtensionContext): { manager: RunManager } {
  const log = vscode.window.createOutputChannel('Distillery', { log: true });
  context.subscriptions.push(log);
  const bundledCli = path.join(context.extensionPath, 'bin', 'distillery.js');
  const cliPath = (): string => readSettings().cliPath || bundledCli;

  manager = new RunManager({
    cliPath,
    nodePath: () => readSettings().nodePath,
    env: () => ({ ...process.env, ...readSettings().env }),
    graceMs: () => readSettings().stopGraceMs,
  });
  const runs = manager;
  context.subscriptions.push(
    { dispose: () => runs.dispose() },
    runs.onDidLog(({ level, message }) => log[level](message)),
  );

  // Each view subscribes to the manager's events itself and unsubscribes when disposed.
  const runsTree = new RunsTreeProvider(runs);
  const configs = new ConfigsTreeProvider();
  const runsView = vscode.window.createTreeView('distillery.runs', {
    treeDataProvider: runsTree,
    canSelectMany: true,
    showCollapseAll: true,
  });
  const configsView = vscode.window.createTreeView('distillery.configs', {
    treeDataProvider: configs,
    showCollapseAll: true,
  });
  context.subscriptions.push(runsTree, configs, runsView, configsView);

  const lens = new ConfigCodeLens(runs);
  context.subscriptions.push(new RunStatusBar(runs), lens);

  const dashboards = new DashboardManager(
    context.extensionUri,
    runs,
    {
      stopRun: (d) => vscode.commands.executeCommand('distillery.stopRun', d),
      resumeRun: (d) => vscode.commands.executeCommand('distillery.resumeRun', d),
      pickRuns: (exclude) => pickRuns(runs.store, exclude, 'Add which runs to the comparison?'),
      diffConfigs: (dirs) => vscode.commands.executeCommand('distillery.diffConfigs', dirs),
    },
    log,
    context.workspaceState,
  );
  context.subscriptions.push(dashboards, vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, dashboards));
  const services: Services = { context, log, manager: runs, dashboards, configs, cliPath };

  context.subscriptions.push(
    // A run started here opens its dashboard as soon as its folder is known.
    runs.onDidAttach((l) => {
      if (l.runDir && !l.exit && !dashboards.isOpen(l.runDir)) dashboards.openRun(l.runDir);
    }),
    runs.onDidFinish((l) => void notifyLaunchEnd(services, l)),
  );

  const watcher = new RunWatcher(runs, log);
  context.subscriptions.push(watcher);
  context.subscriptions.push(...registerCommands(services, () => watcher.start()));

  context.subscriptions.push(
    new ConfigDiagnostics(log),
    vscode.languages.registerCodeActionsProvider(CONFIG_SELECTOR, new ConfigCodeActions(), ConfigCodeActions.metadata),
    vscode.languages.registerCodeLensProvider(CONFIG_SELECTOR, lens),
    vscode.languages.registerHoverProvider(CONFIG_SELECTOR, new ConfigHover(runs.store)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SECTION}.runsDir`)) void watcher.start();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void watcher.scan()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => log.info('workspace trusted: runs can be started')),
  );

  // After activation returns: the first scan reads every run folder.
  setTimeout(() => {
    watcher.start().catch((e: unknown) => log.error(`scanning for runs: ${String(e)}`));
  }, 0);
  log.info(`Distillery activated (trainer: ${readSettings().nodePath} ${cliPath()})`);
  return { manager: runs };
}

export function deactivate(): void {
  // Runs started in this window get SIGTERM (they checkpoint and can be resumed after the reload);
  // context.subscriptions do the rest.
  manager?.dispose();
  manager = undefined;
}
