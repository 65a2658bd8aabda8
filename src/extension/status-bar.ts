/** The status bar item for the active run: stage, step, loss; a click opens its dashboard. */
import * as vscode from 'vscode';
import type { RunManager } from './run-manager';
import { bestText, formatNumber, pickActiveRun, statusBarText } from './run-state';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('distillery.activeRun', vscode.StatusBarAlignment.Left, 10);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly manager: RunManager) {
    this.item.name = 'Distillery: active run';
  }

  /** Updates at most four times a second. */
  update(): void {
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
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.item.dispose();
  }
}
