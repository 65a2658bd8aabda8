/**
 * The small per-chart export toolbar: PNG, SVG, CSV as vscode-buttons (the dashboard's button, so
 * theme colours, focus ring and Enter/Space come with it). Text rather than icons: the dashboard
 * loads no codicon font.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { ExportFormat } from '../../../src/protocol/webview-messages';
import { h } from '../dom';

const LABELS: Record<ExportFormat, string> = { png: 'PNG image', svg: 'SVG vector image', csv: 'CSV data' };

/** A toolbar whose buttons call `run(format)`; `what` names the chart in titles and labels. */
export function exportToolbar(what: string, run: (format: ExportFormat) => void): HTMLElement {
  const buttons = (['png', 'svg', 'csv'] as const).map((format) => {
    const label = `Save ${what} as ${LABELS[format]}`;
    const b = h('vscode-button', { 'data-testid': `export-${format}`, class: 'export-button', secondary: true, title: label, 'aria-label': label }, format.toUpperCase());
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      run(format);
    });
    return b;
  });
  return h('div', { class: 'export-toolbar', role: 'toolbar', 'aria-label': `Export ${what}`, 'data-testid': 'export-toolbar' }, ...buttons);
}
