/**
 * The run header: name, status, backend, stage and progress, the stage timeline strip, the run's
 * actions (posted to the host) and, prominently, why a run failed and how to fix it.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import type { VscodeProgressBar } from '@vscode-elements/elements/dist/vscode-progress-bar/vscode-progress-bar.js';
import type { WebviewMessage } from '../../src/protocol/webview-messages';
import { h, setChildren, setText } from './dom';
import { formatCount, formatNumber } from './format';
import type { RunData } from './state';
import { runActions } from './run-actions';
import { bestEval } from './summary';
import { runProgress } from './timeline';

/** The progress bar's resolution. */
const PROGRESS_STEPS = 1000;

const STATUS_TEXT: Record<RunData['status'], string> = {
  running: 'running',
  finished: 'finished',
  failed: 'failed',
  stopped: 'stopped',
  unknown: 'unknown',
};

export class RunHeader {
  readonly el: HTMLElement;
  private readonly title = h('h1', { class: 'run-title', 'data-testid': 'run-label' });
  private readonly status = h('vscode-badge', { 'data-testid': 'run-status', class: 'status-badge' });
  private readonly facts = h('div', { class: 'run-facts', 'data-testid': 'run-stage' });
  private readonly best = h('div', { class: 'run-facts muted', 'data-testid': 'run-best' });
  private readonly progress: VscodeProgressBar = h('vscode-progress-bar', {
    'data-testid': 'run-progress',
    'aria-label': 'Run progress',
  });
  private readonly strip = h('ol', { class: 'stage-strip', 'data-testid': 'stage-timeline' });
  private readonly failure = h('div', { class: 'failure', 'data-testid': 'run-failure', role: 'alert' });
  private readonly note = h('div', { class: 'status-note', 'data-testid': 'run-status-message' });
  private readonly stop: VscodeButton;
  private readonly resume: VscodeButton;
  private readonly reveal: VscodeButton;
  private readonly compare: VscodeButton;
  private run: RunData | undefined;
  private renderedVersion = -1;
  private stripKey = '';

  constructor(post: (m: WebviewMessage) => void) {
    const button = (label: string, testId: string, secondary: boolean, onClick: () => void): VscodeButton => {
      const b = h('vscode-button', { 'data-testid': testId, secondary }, label);
      b.addEventListener('click', () => {
        if (!b.disabled) onClick();
      });
      return b;
    };
    this.stop = button('Stop', 'btn-stop', false, () => this.run && post({ type: 'stop-run', runId: this.run.runId }));
    this.resume = button(
      'Resume',
      'btn-resume',
      false,
      () => this.run && post({ type: 'resume-run', runId: this.run.runId }),
    );
    this.reveal = button(
      'Reveal folder',
      'btn-reveal',
      true,
      () => this.run && post({ type: 'reveal', path: this.run.runDir }),
    );
    this.compare = button('Add to compare', 'btn-compare', true, () => post({ type: 'add-to-compare' }));
    this.el = h(
      'header',
      { class: 'run-header', 'data-testid': 'run-header' },
      h(
        'div',
        { class: 'run-header-row' },
        h('div', { class: 'run-name' }, this.title, this.status),
        h('div', { class: 'run-actions' }, this.stop, this.resume, this.reveal, this.compare),
      ),
      this.facts,
      this.progress,
      this.strip,
      this.failure,
      this.note,
      this.best,
    );
  }

  render(run: RunData): void {
    if (run === this.run && run.version === this.renderedVersion) return;
    this.run = run;
    this.renderedVersion = run.version;

    setText(this.title, run.label);
    setText(this.status, STATUS_TEXT[run.status]);
    this.status.dataset.status = run.status;
    this.el.dataset.status = run.status;

    const p = runProgress(run);
    const parts: string[] = [];
    if (run.started) parts.push(`backend ${run.started.backend.kind}`);
    if (p.stageName !== undefined) {
      const kind = p.stageKind ? ` (${p.stageKind})` : '';
      parts.push(`stage ${p.stageNumber}/${p.stageCount}: ${p.stageName}${kind}`);
    } else if (p.stageCount > 0) parts.push(`${p.stageCount} stages planned`);
    if (p.step > 0) parts.push(`step ${p.step}`);
    if (p.stageStepsPlanned) parts.push(`${p.stageStepsDone}/${p.stageStepsPlanned} steps in this stage`);
    // a NaN or infinite loss is news (the run diverged), not a missing value
    if (run.steps.length > 0) {
      const loss = run.steps.loss.last();
      parts.push(`loss ${Number.isFinite(loss) ? formatNumber(loss, 4) : String(loss)}`);
    }
    setText(this.facts, parts.join(' · ') || 'waiting for the trainer…');

    this.progress.hidden = p.fraction === undefined;
    if (p.fraction !== undefined) {
      // in steps of 0.1 %, a pixel or so: the bar re-renders only when it visibly moves
      const value = Math.round(p.fraction * PROGRESS_STEPS) / PROGRESS_STEPS;
      this.progress.max = 1;
      if (this.progress.value !== value) this.progress.value = value;
    }
    // only the actions that apply are shown (a finished run has neither)
    const actions = runActions(run.status);
    this.stop.disabled = !actions.stop;
    this.stop.hidden = !actions.stop;
    this.resume.disabled = !actions.resume;
    this.resume.hidden = !actions.resume;
    this.reveal.disabled = run.runDir === '';

    const stripKey = run.stages.map((s) => `${s.index}:${s.name}:${s.state}:${s.finishReason ?? ''}`).join('|');
    if (stripKey !== this.stripKey) {
      this.stripKey = stripKey;
      this.renderStrip(run);
    }

    const f = run.failed;
    this.failure.hidden = !f;
    if (f) {
      setChildren(
        this.failure,
        h('strong', {}, 'Run failed: '),
        f.reason,
        f.where ? h('div', {}, h('span', { class: 'label' }, 'Where: '), h('code', {}, f.where)) : null,
        f.fix ? h('div', {}, h('span', { class: 'label' }, 'Fix: '), f.fix) : null,
        f.lastCheckpoint
          ? h('div', {}, h('span', { class: 'label' }, 'Resume from: '), h('code', {}, f.lastCheckpoint))
          : null,
      );
    }
    const note =
      run.statusMessage ??
      (run.stopped
        ? `stopped (${run.stopped.signal})${run.stopped.checkpoint ? `; checkpoint ${run.stopped.checkpoint}` : ''}`
        : '');
    this.note.hidden = note === '';
    setText(this.note, note);

    const bits: string[] = [];
    const best = bestEval(run);
    if (best) bits.push(`best dev ${best.metric} ${formatNumber(best.value, 4)} at step ${best.step}`);
    if (run.params) {
      const ratio = run.params.teacher.total
        ? ` (${Math.round((100 * run.params.student.total) / run.params.teacher.total)}% of the teacher's ${formatCount(run.params.teacher.total)})`
        : '';
      bits.push(`student ${formatCount(run.params.student.total)} parameters${ratio}`);
    }
    if (run.finished) bits.push(`student in ${run.finished.studentDir}`);
    setText(this.best, bits.join(' · '));
  }

  private renderStrip(run: RunData): void {
    setChildren(
      this.strip,
      ...run.stages.map((s) =>
        h(
          'li',
          {
            class: `stage stage-${s.state} kind-${s.kind}`,
            'data-stage': s.index,
            'data-state': s.state,
            title: `${s.kind}, ${s.epochs} epoch(s)${s.finishReason === 'plateau' ? ', stopped on a plateau' : ''}`,
          },
          h('span', { class: 'stage-mark', 'aria-hidden': 'true' }),
          `${s.index + 1}. ${s.name}`,
        ),
      ),
    );
  }
}
