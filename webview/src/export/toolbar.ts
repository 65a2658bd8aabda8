/**
 * The small per-chart export toolbar: PNG, SVG, CSV as vscode-buttons (the dashboard's button, so
 * theme colours, focus ring and Enter/Space come with it). Text rather than icons: the dashboard
 * loads no codicon font.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { ExportFormat } from '../../../src/protocol/webview-messages';
import { h } from '../dom';

const LABELS: Record<ExportFormat, string> = { png: 'PNG image', svg: 'SVG vector image', csv: 'CSV data' };

/**
 * A toolbar whose buttons call `run(format)`; `what` names the chart in titles and labels. One tab
 * stop per toolbar (a roving tabindex, as ARIA's toolbar pattern has it): with a dozen charts,
 * Tab would otherwise walk through three dozen buttons; the arrow keys, Home and End move within.
 */
export function exportToolbar(what: string, run: (format: ExportFormat) => void): HTMLElement {
  const buttons = (['png', 'svg', 'csv'] as const).map((format) => {
    const label = `Save ${what} as ${LABELS[format]}`;
    const b = h(
      'vscode-button',
      { 'data-testid': `export-${format}`, class: 'export-button', secondary: true, title: label, 'aria-label': label },
      format.toUpperCase(),
    );
    // (after the element's first update, which sets its own tabIndex back to 0)
    void b.updateComplete.then(() => (b.tabIndex = format === 'png' ? 0 : -1));
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      run(format);
    });
    return b;
  });
  const bar = h(
    'div',
    { class: 'export-toolbar', role: 'toolbar', 'aria-label': `Export ${what}`, 'data-testid': 'export-toolbar' },
    ...buttons,
  );
  bar.addEventListener('keydown', (e) => {
    const at = buttons.findIndex((b) => b === e.target);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const next = buttons[(to + buttons.length) % buttons.length];
    for (const b of buttons) b.tabIndex = b === next ? 0 : -1;
    next.focus();
  });
  return bar;
}
