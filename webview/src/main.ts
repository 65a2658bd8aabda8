/**
 * The dashboard webview's entry point. It posts 'ready', renders what the host's 'init' sends (one
 * run, or several to compare) and appends 'events' as they stream in. Incoming messages are
 * coalesced: folding events in is cheap, drawing happens at most once per animation frame.
 * UI state goes through vscode.setState, so a panel recreated after being hidden (no
 * retainContextWhenHidden) comes back on the same tab, layer, head, evaluation and zoom.
 */
import './styles.css';
import type { HostMessage } from '../../src/protocol/webview-messages';
import { CompareView } from './compare';
import { h, setChildren } from './dom';
import { getVsCodeApi, MessageGate } from './messages';
import { RunView } from './run-view';
import { RunData, sanitizeUiState, type UiState } from './state';
import { readTheme, watchTheme, type Theme } from './theme';

interface View {
  el: HTMLElement;
  render(): void;
  setTheme(theme: Theme): void;
  destroy(): void;
}

class Dashboard {
  private readonly vscode = getVsCodeApi();
  private readonly gate = new MessageGate((m) => this.vscode.postMessage(m));
  private readonly root: HTMLElement;
  private runs: RunData[] = [];
  private view: View | undefined;
  private ui: UiState = sanitizeUiState(this.vscode.getState());
  private viewKind: 'run' | 'compare' = 'run';
  private theme: Theme = readTheme();
  private frameRequested = false;
  /** Work counters, read by the headless performance test. */
  readonly stats = { frames: 0, renderMs: 0, messages: 0, handleMs: 0 };

  constructor() {
    this.root = document.getElementById('root') ?? document.body.appendChild(h('main', { id: 'root' }));
    this.root.classList.add('dashboard');
    setChildren(this.root, h('p', { class: 'empty-note', 'data-testid': 'loading' }, 'Waiting for the run…'));
    window.addEventListener('message', (e: MessageEvent) => this.onMessage(e.data));
    watchTheme(() => {
      this.theme = readTheme();
      this.view?.setTheme(this.theme);
      this.requestRender();
    });
    window.addEventListener('error', (e) => this.gate.reportError(`webview error: ${e.message}`));
    window.addEventListener('unhandledrejection', (e) => this.gate.reportError(`webview error: ${String(e.reason)}`));
    this.vscode.postMessage({ type: 'ready' });
  }

  private onMessage(data: unknown): void {
    const t0 = performance.now();
    const msg = this.gate.accept(data);
    if (!msg) return;
    try {
      this.handle(msg);
    } catch (err) {
      this.gate.reportError(`webview failed to handle '${msg.type}': ${err instanceof Error ? err.message : String(err)}`);
    }
    this.stats.messages++;
    this.stats.handleMs += performance.now() - t0;
  }

  private handle(msg: HostMessage): void {
    switch (msg.type) {
      case 'init':
        this.runs = msg.runs.map((s) => RunData.fromSnapshot(s));
        this.viewKind = msg.view;
        this.mount(msg.view);
        this.saveState();
        break;
      case 'events': {
        const run = this.runs.find((r) => r.runId === msg.runId);
        if (!run) {
          this.gate.reportError(`events for a run this panel does not show: ${msg.runId}`);
          return;
        }
        for (const e of msg.events) run.apply(e);
        break;
      }
      case 'run-status': {
        const run = this.runs.find((r) => r.runId === msg.runId);
        if (run) run.setStatus(msg.status, msg.message);
        break;
      }
    }
    this.requestRender();
  }

  private mount(kind: 'run' | 'compare'): void {
    this.view?.destroy();
    this.view = undefined;
    const post = this.vscode.postMessage.bind(this.vscode);
    const render = (): void => this.requestRender();
    if (this.runs.length === 0) {
      setChildren(this.root, h('p', { class: 'empty-note', 'data-testid': 'no-runs' }, 'No run to show.'));
      return;
    }
    if (kind === 'compare') {
      this.view = new CompareView(() => this.runs, post, render);
    } else {
      const run = this.runs[0];
      const runView = new RunView(() => run, () => this.ui, (patch) => this.updateUi(patch), post, render);
      runView.syncUi();
      this.view = runView;
    }
    this.view.setTheme(this.theme);
    setChildren(this.root, this.view.el);
    document.body.dataset.view = kind;
  }

  /**
   * Persists the UI state together with what the host's panel serializer needs to reopen this
   * panel after a window reload (the view and the run folders: see parsePanelState).
   */
  private saveState(): void {
    this.vscode.setState({ ...this.ui, view: this.viewKind, runDirs: this.runs.map((r) => r.runDir).filter((d) => d !== '') });
  }

  private updateUi(patch: Partial<UiState>): void {
    this.ui = { ...this.ui, ...patch };
    this.saveState();
    if (this.view instanceof RunView) this.view.syncUi();
    this.requestRender();
  }

  requestRender(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const t0 = performance.now();
      try {
        this.view?.render();
      } catch (err) {
        this.gate.reportError(`webview failed to draw: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.stats.frames++;
      this.stats.renderMs += performance.now() - t0;
    });
  }
}

function start(): void {
  (window as unknown as { distilleryDashboard: Dashboard }).distilleryDashboard = new Dashboard();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
