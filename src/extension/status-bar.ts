/**
 * The status bar items for the active run: stage, step, loss (a click opens its dashboard); and
 * which kernels it trains on, with a warning and a way to the fast ones when it is the slow path.
 */
import * as vscode from 'vscode';
import type { KernelsNote } from '../protocol/kernels-note';
import type { RunManager } from './run-manager';
import { bestText, formatNumber, pickActiveRun, statusBarText } from './run-state';

/** The kernels item's text: a warning icon for the slow path, so it stands out beside the progress. */
export function kernelsStatusText(note: KernelsNote): string {
  return `${note.slow ? '$(warning)' : '$(zap)'} ${note.label}`;
}

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('distillery.activeRun', vscode.StatusBarAlignment.Left, 10);
  private readonly kernels = vscode.window.createStatusBarItem('distillery.kernels', vscode.StatusBarAlignment.Left, 9);
  private timer: NodeJS.Timeout | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly manager: RunManager) {
    this.item.name = 'Distillery: active run';
    this.kernels.name = 'Distillery: training kernels';
    this.subscription = manager.onDidChangeRun(() => this.update());
  }

  /** Updates at most four times a second. */
  private update(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, 250);
  }

  private render(): void {
    const states = this.manager.store.states();
    const active = pickActiveRun(states);
    if (!active) {
      this.item.hide();
      this.kernels.hide();
      return;
    }
    const others = states.filter((s) => s.status === 'running').length - 1;
    this.item.text = statusBarText(active) + (others > 0 ? ` (+${others})` : '');
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**Distillery** — ${active.label}\n\n`);
    if (active.loss !== undefined) tip.appendMarkdown(`- loss ${formatNumber(active.loss)}\n`);
    if (active.lr !== undefined) tip.appendMarkdown(`- lr ${active.lr.toExponential(2)}\n`);
    if (active.examplesPerSec !== undefined) tip.appendMarkdown(`- ${active.examplesPerSec.toFixed(1)} examples/s\n`);
    if (bestText(active)) tip.appendMarkdown(`- best ${bestText(active)}\n`);
    tip.appendMarkdown('\nClick to open the dashboard.');
    this.item.tooltip = tip;
    this.item.command = { command: 'distillery.openDashboard', title: 'Open Dashboard', arguments: [active.runDir] };
    this.item.show();
    this.renderKernels(active.kernels, active.runDir);
  }

  private renderKernels(note: KernelsNote | undefined, runDir: string): void {
    if (!note) {
      this.kernels.hide();
      return;
    }
    this.kernels.text = kernelsStatusText(note);
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**Distillery** — ${note.label}\n\n`);
    tip.appendText(`${note.detail}\n\n`);
    if (note.fix) {
      tip.appendText(`${note.fix}\n\n`);
      tip.appendMarkdown('Click for how to get the fast kernels.');
    } else tip.appendMarkdown('Click to open the dashboard.');
    this.kernels.tooltip = tip;
    this.kernels.backgroundColor = note.slow ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.kernels.command = note.slow
      ? { command: 'distillery.showKernelsHelp', title: 'Get the Fast Training Kernels' }
      : { command: 'distillery.openDashboard', title: 'Open Dashboard', arguments: [runDir] };
    this.kernels.show();
  }

  dispose(): void {
    this.subscription.dispose();
    if (this.timer) clearTimeout(this.timer);
    this.item.dispose();
    this.kernels.dispose();
  }
}
