/**
 * The dashboard webview's entry point. It posts 'ready', renders what the host's 'init' sends (one
 * run, or several to compare) and appends 'events' as they stream in. Messages are checked and
 * folded in a few milliseconds at a time, on arrival and then at the start of each animation
 * frame (inbox.ts, ingest.ts), and each frame draws at most once, within a budget: a burst of
 * thousands of steps, or a reopened panel's whole run, never makes one long frame.
 * UI state goes through vscode.setState, so a panel recreated after being hidden (no
 * retainContextWhenHidden) comes back on the same tab, layer, head, evaluation and zoom.
 */
import './styles.css';
import { chartStats } from './charts';
import { CompareView } from './compare';
import { h, setChildren } from './dom';
import { setExportSink } from './export/post';
import { Inbox } from './inbox';
import { ingestJob, type ConfigFieldsMessage, type IngestHandlers } from './ingest';
import { getVsCodeApi, MessageGate } from './messages';
import { RunView } from './run-view';
import { sanitizeUiState, type RunData, type UiState } from './state';
import { readTheme, watchTheme, type Theme } from './theme';

interface View {
  el: HTMLElement;
  /** Draws what changed; while `busy` (events still being folded in), only what waited too long. */
  render(busy: boolean): void;
  setTheme(theme: Theme): void;
  destroy(): void;
}

/**
 * Time one frame may spend checking and folding in queued events; the rest of the frame is for
 * drawing. At 3–5 µs a step that takes in over 30 000 steps a second, far more than a trainer
 * makes (the host sends at most one batch every 100 ms).
 */
const INGEST_FRAME_BUDGET_MS = 3;
/** Beyond this many queued steps the inbox gets more of each frame, so it cannot grow without bound. */
const INGEST_BACKLOG = 20_000;
const INGEST_CATCH_UP_BUDGET_MS = 8;
/** How many of the longest frames of work the dashboard describes (stats.slowFrames). */
const SLOW_FRAMES_KEPT = 12;

/** What one frame of work did, for the headless performance test. */
export interface FrameWork {
  /** performance.now() at its start. */
  at: number;
  ms: number;
  ingestMs: number;
  /** The charts drawn, with their ms. */
  draws: string[];
}

class Dashboard {
  private readonly vscode = getVsCodeApi();
  private readonly gate = new MessageGate((m) => this.vscode.postMessage(m));
  private readonly root: HTMLElement;
  private runs: RunData[] = [];
  /** Compare view: the configs' differing fields (none until the host sends them). */
  private configFields: ConfigFieldsMessage = { type: 'config-fields', fields: [], runs: [] };
  private view: View | undefined;
  private ui: UiState = sanitizeUiState(this.vscode.getState());
  private viewKind: 'run' | 'compare' = 'run';
  private theme: Theme = readTheme();
  private frameRequested = false;
  /** A view was mounted in this frame (inFrame: the frame is folding in messages). */
  private mounted = false;
  private inFrame = false;
  /** The UI state or the theme changed since the last frame. */
  private uiChanged = false;
  /** Messages not yet folded in: each frame works on them for a few milliseconds. */
  private readonly inbox = new Inbox();
  /** Work counters, read by the headless performance test. */
  readonly stats = {
    frames: 0,
    renderMs: 0,
    maxRenderMs: 0,
    messages: 0,
    ingestMs: 0,
    chartDraws: 0,
    chartMs: 0,
    slowFrames: [] as FrameWork[],
  };

  constructor() {
    this.root = document.getElementById('root') ?? document.body.appendChild(h('main', { id: 'root' }));
    this.root.classList.add('dashboard');
    setChildren(this.root, h('p', { class: 'empty-note', 'data-testid': 'loading' }, 'Waiting for the run…'));
    window.addEventListener('message', (e: MessageEvent) => this.onMessage(e.data));
    watchTheme(() => {
      this.theme = readTheme();
      this.view?.setTheme(this.theme);
      this.uiChanged = true;
      this.requestRender();
    });
    // a run view's exports name the run, so that the host can save them beside it
    setExportSink((req) => {
      const runId = this.viewKind === 'run' ? this.runs[0]?.runId : undefined;
      this.vscode.postMessage({ type: 'export', ...req, ...(runId ? { runId } : {}) });
    });
    window.addEventListener('error', (e) => this.gate.reportError(`webview error: ${e.message}`));
    window.addEventListener('unhandledrejection', (e) => this.gate.reportError(`webview error: ${String(e.reason)}`));
    this.vscode.postMessage({ type: 'ready' });
  }

  private onMessage(data: unknown): void {
    this.inbox.push(ingestJob(data, this.ingestHandlers));
    this.stats.messages++;
    // a small message is folded in at once, a large one in slices over the next frames
    this.ingest(performance.now() + INGEST_FRAME_BUDGET_MS);
    this.requestRender();
  }

  private readonly ingestHandlers: IngestHandlers = {
    accept: (data) => this.gate.accept(data),
    init: (view, runs) => {
      this.runs = runs;
      this.configFields = { type: 'config-fields', fields: [], runs: [] };
      this.viewKind = view;
      this.mount(view);
      this.mounted = this.inFrame;
      this.saveState();
    },
    run: (runId) => {
      const run = this.runs.find((r) => r.runId === runId);
      if (!run) this.gate.reportError(`events for a run this panel does not show: ${runId}`);
      return run;
    },
    status: (msg) => this.runs.find((r) => r.runId === msg.runId)?.setStatus(msg.status, msg.message),
    configFields: (msg) => {
      this.configFields = msg;
      this.requestRender();
    },
    failed: (type, err) =>
      this.gate.reportError(`webview failed to handle '${type}': ${err instanceof Error ? err.message : String(err)}`),
  };

  /** Checks and folds in queued messages until `deadline` (performance.now()); true when some are left. */
  private ingest(deadline: number): boolean {
    const t0 = performance.now();
    const more = this.inbox.drain(deadline);
    this.stats.ingestMs += performance.now() - t0;
    return more;
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
      this.view = new CompareView(
        () => this.runs,
        () => this.configFields,
        () => this.ui,
        (patch) => this.updateUi(patch),
        post,
        render,
      );
    } else {
      const run = this.runs[0];
      const runView = new RunView(
        () => run,
        () => this.ui,
        (patch) => this.updateUi(patch),
        post,
        render,
      );
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
    this.vscode.setState({
      ...this.ui,
      view: this.viewKind,
      runDirs: this.runs.map((r) => r.runDir).filter((d) => d !== ''),
    });
  }

  private updateUi(patch: Partial<UiState>): void {
    this.ui = { ...this.ui, ...patch };
    this.uiChanged = true;
    this.saveState();
    if (this.view instanceof RunView) this.view.syncUi();
    this.requestRender();
  }

  requestRender(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.frame());
  }

  /** One animation frame: a slice of the queued events, then one draw of what changed. */
  private frame(): void {
    this.frameRequested = false;
    const t0 = performance.now();
    chartStats.frame.length = 0;
    this.inFrame = true;
    const more = this.ingest(
      t0 + (this.inbox.backlog > INGEST_BACKLOG ? INGEST_CATCH_UP_BUDGET_MS : INGEST_FRAME_BUDGET_MS),
    );
    const ingestMs = performance.now() - t0;
    this.inFrame = false;
    if (this.mounted) {
      // a view built in this frame is drawn in the next, once its custom elements have rendered
      // and it has been laid out (its canvases size themselves from the layout)
      this.mounted = false;
      this.requestRender();
    } else {
      try {
        // While a burst is still being folded in, a draw would only show a half-way state that
        // the next frame replaces: the views wait (up to MAX_DRAW_DELAY_MS) until it is all in.
        // (a change the user made is drawn at once)
        this.view?.render(more && !this.uiChanged);
      } catch (err) {
        this.gate.reportError(`webview failed to draw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.uiChanged = false;
    if (more) this.requestRender();
    const ms = performance.now() - t0;
    this.stats.frames++;
    this.stats.renderMs += ms;
    this.stats.maxRenderMs = Math.max(this.stats.maxRenderMs, ms);
    this.stats.chartDraws = chartStats.draws;
    this.stats.chartMs = chartStats.ms;
    this.noteFrameWork(t0, ms, ingestMs);
  }

  /** Keeps the SLOW_FRAMES_KEPT longest frames of work, in time order. */
  private noteFrameWork(at: number, ms: number, ingestMs: number): void {
    const slow = this.stats.slowFrames;
    if (slow.length >= SLOW_FRAMES_KEPT) {
      let min = 0;
      for (let i = 1; i < slow.length; i++) if (slow[i].ms < slow[min].ms) min = i;
      if (slow[min].ms >= ms) return;
      slow.splice(min, 1);
    }
    slow.push({ at, ms, ingestMs, draws: [...chartStats.frame] });
  }
}

function start(): void {
  (window as unknown as { distilleryDashboard: Dashboard }).distilleryDashboard = new Dashboard();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
