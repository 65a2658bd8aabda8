/**
 * Dashboard panels (one per run, plus compare panels): the host side of the webview protocol in
 * src/protocol/webview-messages.ts. No retainContextWhenHidden: a hidden panel's webview is torn
 * down, and when it comes back it says 'ready' and gets the full state again ('init'). Panels
 * survive a window reload through a WebviewPanelSerializer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportRequest, HostMessage, RunSnapshot, WebviewMessage } from '../protocol/webview-messages';
import { writeFileAtomic } from '../util/atomic-fs';
import { exportRequestProblem, isWebviewMessage } from '../protocol/webview-messages';
import { dashboardHtml, DashboardView, isInside, makeNonce, PanelState, parsePanelState } from './dashboard-html';
import { EventBatcher } from './event-batcher';
import { exportFilters, handleExport } from './export-file';
import { toWireAll } from './wire';
import { compareConfigFields, runConfigPath } from '../experiment/run-configs';
import type { RunManager } from './run-manager';
import type { RunChange } from './run-store';
import type { RunState } from './run-state';

export const DASHBOARD_VIEW_TYPE = 'distillery.dashboard';
/** workspaceState key: the open panels (title → state), for restoring panels whose webview kept no run list. */
const OPEN_PANELS_KEY = 'distillery.openDashboards';

export interface DashboardActions {
  stopRun(runDir: string): Thenable<unknown> | void;
  resumeRun(runDir: string): Thenable<unknown> | void;
  /** Lets the user pick runs to add; resolves to run folders. */
  pickRuns(exclude: readonly string[]): Thenable<string[] | undefined>;
  /** Opens the diff editor on two runs' config.json. */
  diffConfigs(runDirs: [string, string]): Thenable<unknown> | void;
}

function snapshot(manager: RunManager, runDir: string): RunSnapshot {
  const state = manager.store.state(runDir);
  return {
    runId: state?.runId ?? path.basename(runDir),
    runDir,
    label: state?.label ?? path.basename(runDir),
    status: state?.status ?? 'unknown',
    events: toWireAll(manager.store.events(runDir)),
  };
}

function panelTitle(view: DashboardView, states: Array<RunState | undefined>, runDirs: readonly string[]): string {
  if (view === 'compare') return `Distillery: compare ${runDirs.length} runs`;
  return `Distillery: ${states[0]?.label ?? path.basename(runDirs[0] ?? 'run')}`;
}

function isExportAttempt(x: unknown): boolean {
  return !!x && typeof x === 'object' && (x as { type?: unknown }).type === 'export';
}

class DashboardPanel implements vscode.Disposable {
  private ready = false;
  private readonly batcher: EventBatcher;
  private readonly lastStatus = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  /** Compare view: run folders whose config.json could not be read at the last 'config-fields'. */
  private readonly configsMissing = new Set<string>();

  constructor(
    readonly panel: vscode.WebviewPanel,
    public view: DashboardView,
    public runDirs: string[],
    private readonly owner: DashboardManager,
  ) {
    this.batcher = new EventBatcher(
      (runId, events) => this.post({ type: 'events', runId, events: toWireAll(events) }),
      100,
    );
    // Keep these runs' events in memory while the panel is open (its 'init' sends all of them).
    for (const d of runDirs) owner.manager.store.retain(d);
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: owner.resourceRoots };
    this.render();
    this.disposables.push(
      webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        // A hidden webview is destroyed; it will say 'ready' again when shown.
        if (!panel.visible) {
          this.ready = false;
          this.batcher.clear();
        }
      }),
      panel.onDidDispose(() => this.dispose()),
      // The panel's lifetime bounds its subscription to the runs' changes.
      owner.manager.onDidChangeRun((c) => this.onRunChange(c)),
    );
  }

  get key(): string {
    return `${this.view}:${this.runDirs.join('|')}`;
  }

  state(): PanelState {
    return { view: this.view, runDirs: this.runDirs };
  }

  render(): void {
    const nonce = makeNonce();
    const webview = this.panel.webview;
    const dist = vscode.Uri.joinPath(this.owner.extensionUri, 'dist');
    const css = vscode.Uri.joinPath(dist, 'webview.css');
    this.panel.title = panelTitle(
      this.view,
      this.runDirs.map((d) => this.owner.manager.store.state(d)),
      this.runDirs,
    );
    this.panel.iconPath = vscode.Uri.joinPath(this.owner.extensionUri, 'media', 'distillery.svg');
    webview.html = dashboardHtml({
      cspSource: webview.cspSource,
      nonce,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      ...(fs.existsSync(css.fsPath) ? { styleUri: webview.asWebviewUri(css).toString() } : {}),
      title: this.panel.title,
      view: this.view,
    });
    this.ready = false;
  }

  /** Replaces the runs shown (compare panels grow) and sends the full state again. */
  setRuns(view: DashboardView, runDirs: string[]): void {
    const next = [...new Set(runDirs)];
    for (const d of next) this.owner.manager.store.retain(d);
    for (const d of this.runDirs) this.owner.manager.store.release(d);
    this.view = view;
    this.runDirs = next;
    this.panel.title = panelTitle(
      this.view,
      this.runDirs.map((d) => this.owner.manager.store.state(d)),
      this.runDirs,
    );
    this.owner.remember();
    if (this.ready) this.sendInit();
  }

  private onRunChange(change: RunChange): void {
    if (!this.ready || !this.runDirs.includes(change.runDir)) return;
    const state = change.state;
    if (change.reset || change.removed) {
      this.sendInit();
      return;
    }
    const runId = state?.runId ?? path.basename(change.runDir);
    this.batcher.push(runId, change.appended);
    // a run that had just started may have written its config.json since
    if (this.view === 'compare' && this.configsMissing.has(change.runDir)) {
      this.batcher.flush();
      this.sendConfigFields();
    }
    if (state) {
      const status = `${state.status}\u0000${state.message ?? ''}`;
      if (this.lastStatus.get(change.runDir) !== status) {
        this.lastStatus.set(change.runDir, status);
        // Events first, so the status never arrives ahead of the events that explain it.
        this.batcher.flush();
        this.post({
          type: 'run-status',
          runId,
          status: state.status,
          ...(state.message ? { message: state.message } : {}),
        });
      }
    }
  }

  private sendInit(): void {
    this.batcher.clear();
    const runs = this.runDirs.map((d) => snapshot(this.owner.manager, d));
    for (const d of this.runDirs) {
      const s = this.owner.manager.store.state(d);
      if (s) this.lastStatus.set(d, `${s.status}\u0000${s.message ?? ''}`);
    }
    this.post({ type: 'init', view: this.view, runs });
    if (this.view === 'compare') this.sendConfigFields();
  }

  /** The configs' differing fields, for the compare table's columns and the parallel coordinates. */
  private sendConfigFields(): void {
    const runs = this.runDirs.map((d) => ({
      runId: this.owner.manager.store.state(d)?.runId ?? path.basename(d),
      runDir: d,
    }));
    const fields = compareConfigFields(runs);
    this.configsMissing.clear();
    fields.runs.forEach((r, i) => {
      if (r.problem !== undefined) this.configsMissing.add(runs[i].runDir);
    });
    this.post({ type: 'config-fields', ...fields });
  }

  private post(message: HostMessage): void {
    if (!this.ready || this.disposed) return;
    void this.panel.webview.postMessage(message);
  }

  private runDirById(runId: string): string | undefined {
    return this.runDirs.find((d) => (this.owner.manager.store.state(d)?.runId ?? path.basename(d)) === runId);
  }

  private onMessage(raw: unknown): void {
    if (!isWebviewMessage(raw)) {
      // an export the user asked for (too large, say) is refused where they can see it
      const exportProblem = isExportAttempt(raw) ? exportRequestProblem(raw) : undefined;
      if (exportProblem) {
        this.owner.log.warn(`dashboard: refused an export: ${exportProblem}`);
        void vscode.window.showErrorMessage(`Distillery: could not export the chart: ${exportProblem}`);
        return;
      }
      this.owner.log.warn(`dashboard: ignored a malformed message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m: WebviewMessage = raw;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.sendInit();
        break;
      case 'stop-run': {
        const dir = this.runDirById(m.runId);
        if (dir) void this.owner.actions.stopRun(dir);
        break;
      }
      case 'resume-run': {
        const dir = this.runDirById(m.runId);
        if (dir) void this.owner.actions.resumeRun(dir);
        break;
      }
      case 'reveal':
        this.reveal(m.path);
        break;
      case 'add-to-compare':
        void this.addToCompare();
        break;
      case 'diff-configs': {
        const dirs = m.runIds.map((id) => this.runDirById(id));
        const [a, b] = dirs;
        if (!a || !b) {
          this.owner.log.warn(`dashboard: diff-configs for runs this panel does not show: ${m.runIds.join(', ')}`);
          break;
        }
        if (!fs.existsSync(runConfigPath(a)) || !fs.existsSync(runConfigPath(b))) {
          void vscode.window.showInformationMessage('Distillery: one of these runs has no config.json yet.');
          break;
        }
        void this.owner.actions.diffConfigs([a, b]);
        break;
      }
      case 'kernels-help':
        void vscode.commands.executeCommand('distillery.showKernelsHelp');
        break;
      case 'export':
        void this.saveExport(m);
        break;
      case 'error':
        this.owner.log.error(`dashboard: ${m.message}`);
        break;
    }
  }

  /** Only paths inside this panel's run folders: the webview must not be able to open arbitrary files. */
  private reveal(p: string): void {
    const abs = path.resolve(this.runDirs[0] ?? '.', p);
    if (!isInside(abs, this.runDirs, path.sep)) {
      this.owner.log.warn(`dashboard: refused to reveal ${p}, which is outside the run folder`);
      return;
    }
    const uri = vscode.Uri.file(abs);
    let isFile = false;
    try {
      isFile = fs.statSync(abs).isFile();
    } catch {
      return;
    }
    if (isFile) void vscode.commands.executeCommand('vscode.open', uri);
    else void vscode.commands.executeCommand('revealInExplorer', uri);
  }

  /**
   * A chart exported from the webview's toolbar: checked and decoded, then saved where the user
   * picks (offered: `<run>-<chart>.<ext>` in the run folder), written atomically.
   */
  private async saveExport(m: ExportRequest): Promise<void> {
    const outcome = await handleExport(m, {
      run: (runId) => {
        const dir = this.runDirById(runId);
        return dir ? { dir, label: this.owner.manager.store.state(dir)?.label ?? path.basename(dir) } : undefined;
      },
      fallbackFolder: path.dirname(this.runDirs[0] ?? '.'),
      pickFile: async (defaultPath, format, chart) =>
        (
          await vscode.window.showSaveDialog({
            defaultUri: vscode.Uri.file(defaultPath),
            filters: exportFilters(format),
            title: `Export ${chart} as ${format.toUpperCase()}`,
          })
        )?.fsPath,
      write: writeFileAtomic,
    });
    switch (outcome.kind) {
      case 'saved':
        this.owner.log.info(`dashboard: exported ${m.chart} to ${outcome.file}`);
        break;
      case 'refused':
        this.owner.log.warn(`dashboard: refused an export of ${m.chart}: ${outcome.problem}`);
        void vscode.window.showErrorMessage(`Distillery: could not export the chart: ${outcome.problem}`);
        break;
      case 'failed':
        void vscode.window.showErrorMessage(`Distillery: could not write ${outcome.file}: ${outcome.problem}`);
        break;
      case 'cancelled':
        break;
    }
  }

  private async addToCompare(): Promise<void> {
    const picked = await this.owner.actions.pickRuns(this.runDirs);
    if (!picked || picked.length === 0) return;
    if (this.view === 'compare') this.setRuns('compare', [...this.runDirs, ...picked]);
    else this.owner.openCompare([...this.runDirs, ...picked]);
  }

  /** Stops listening without closing the panel (the window is reloading: VS Code restores it). */
  detach(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.runDirs) this.owner.manager.store.release(d);
    this.batcher.dispose();
    for (const d of this.disposables) d.dispose();
  }

  dispose(): void {
    if (this.disposed) return;
    this.detach();
    this.owner.forget(this);
    this.panel.dispose();
  }
}

export class DashboardManager implements vscode.Disposable, vscode.WebviewPanelSerializer {
  private readonly panels = new Set<DashboardPanel>();
  readonly resourceRoots: vscode.Uri[];

  constructor(
    readonly extensionUri: vscode.Uri,
    readonly manager: RunManager,
    readonly actions: DashboardActions,
    readonly log: vscode.LogOutputChannel,
    private readonly memento: vscode.Memento,
  ) {
    // The webview bundle (dist/webview.js, .css) and the panel icon; nothing else is loadable.
    this.resourceRoots = [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')];
  }

  openRun(runDir: string): void {
    this.open('run', [path.resolve(runDir)]);
  }

  openCompare(runDirs: string[]): void {
    this.open('compare', [...new Set(runDirs.map((d) => path.resolve(d)))]);
  }

  private open(view: DashboardView, runDirs: string[]): void {
    for (const d of runDirs) if (!this.manager.store.has(d)) this.manager.refreshNow(d);
    const key = `${view}:${runDirs.join('|')}`;
    const existing = [...this.panels].find((p) => p.key === key);
    if (existing) {
      existing.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      DASHBOARD_VIEW_TYPE,
      'Distillery',
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      {
        enableScripts: true,
        localResourceRoots: this.resourceRoots,
      },
    );
    this.panels.add(new DashboardPanel(panel, view, runDirs, this));
    this.remember();
  }

  /** Called by VS Code after a window reload for each dashboard that was open. */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const restored = parsePanelState(state) ?? this.recall(panel.title);
    const runDirs = (restored?.runDirs ?? []).filter((d) => fs.existsSync(d));
    if (!restored || runDirs.length === 0) {
      this.log.info(`dashboard "${panel.title}": its runs are gone; closing it`);
      panel.dispose();
      return;
    }
    for (const d of runDirs) this.manager.refreshNow(d);
    this.panels.add(new DashboardPanel(panel, restored.view, runDirs, this));
    this.remember();
  }

  /** Whether a run's dashboard is open. */
  isOpen(runDir: string): boolean {
    return [...this.panels].some((p) => p.view === 'run' && p.runDirs[0] === path.resolve(runDir));
  }

  forget(panel: DashboardPanel): void {
    this.panels.delete(panel);
    this.remember();
  }

  /** Keeps title → state of the open panels, in case a restored webview kept no run list of its own. */
  remember(): void {
    const list = [...this.panels].map((p) => ({ title: p.panel.title, ...p.state() }));
    void this.memento.update(OPEN_PANELS_KEY, list);
  }

  private recall(title: string): PanelState | undefined {
    const list = this.memento.get<Array<{ title: string } & PanelState>>(OPEN_PANELS_KEY, []);
    const claimed = new Set([...this.panels].map((p) => p.key));
    const match = list.find((e) => e.title === title && !claimed.has(`${e.view}:${e.runDirs.join('|')}`));
    return match ? parsePanelState(match) : undefined;
  }

  /** On deactivation: panels stay open so that VS Code can restore them after a reload. */
  dispose(): void {
    for (const p of [...this.panels]) p.detach();
    this.panels.clear();
  }
}
