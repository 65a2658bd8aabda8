/**
 * The kernels note under the run header: which kernels the run trains on and, on the slow path (a
 * wasm or cpu run without the native kernels), why, how to get the fast ones, and a button to the
 * help (the host opens the README section). The wording is src/protocol/kernels-note.ts's, shared
 * with the status bar.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { kernelsNote } from '../../src/protocol/kernels-note';
import type { WebviewMessage } from '../../src/protocol/webview-messages';
import { h, setChildren } from './dom';
import type { RunData } from './state';

export class KernelsNoteView {
  readonly el = h('div', { class: 'kernels-note', 'data-testid': 'kernels-note', role: 'status' });
  private key = '';

  constructor(private readonly post: (m: WebviewMessage) => void) {
    this.el.hidden = true;
  }

  render(run: RunData): void {
    const note = run.started ? kernelsNote(run.started.backend) : undefined;
    const key = note ? `${note.slow}|${note.label}|${note.detail}` : '';
    if (key === this.key) return;
    this.key = key;
    this.el.hidden = !note;
    if (!note) return;
    this.el.dataset.kernels = run.started?.backend.kernels ?? '';
    this.el.dataset.slow = String(note.slow);
    this.el.classList.toggle('slow', note.slow);
    if (!note.slow) {
      setChildren(this.el, h('span', { class: 'label' }, 'Kernels: '), note.detail);
      return;
    }
    const help = h('vscode-button', { 'data-testid': 'btn-kernels-help', secondary: true }, 'Get the fast kernels');
    help.addEventListener('click', () => this.post({ type: 'kernels-help' }));
    setChildren(
      this.el,
      h('div', {}, h('strong', {}, 'Slow path: '), note.detail),
      note.fix ? h('div', {}, h('span', { class: 'label' }, 'Fix: '), note.fix) : null,
      h('div', {}, help),
    );
  }
}
