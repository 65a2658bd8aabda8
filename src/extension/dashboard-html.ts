/**
 * The dashboard webview's HTML shell (a strict Content Security Policy: only the bundled script
 * with a nonce, styles and fonts from the extension, no network) and the state a panel keeps
 * across window reloads. No `vscode` here.
 */
import { randomBytes } from 'node:crypto';

export type DashboardView = 'run' | 'compare';

export interface DashboardHtmlOptions {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  /** asWebviewUri of dist/webview.js */
  scriptUri: string;
  /** asWebviewUri of dist/webview.css, when the bundle has one. */
  styleUri?: string;
  title: string;
  view: DashboardView;
}

export function makeNonce(): string {
  return randomBytes(18)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '');
}

/** For text and double-quoted attributes (the CSP's single quotes stay readable). */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    // Styles: the bundled CSS, plus <style> elements carrying the nonce; never 'unsafe-inline'.
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function dashboardHtml(o: DashboardHtmlOptions): string {
  const csp = contentSecurityPolicy(o.cspSource, o.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="distillery-nonce" content="${escapeHtml(o.nonce)}">
<title>${escapeHtml(o.title)}</title>
${o.styleUri ? `<link rel="stylesheet" href="${escapeHtml(o.styleUri)}">` : ''}
</head>
<body data-view="${o.view}">
<main id="root" data-testid="dashboard-root"></main>
<script nonce="${escapeHtml(o.nonce)}" src="${escapeHtml(o.scriptUri)}"></script>
</body>
</html>`;
}

/** What a restored panel needs: which view, and which run folders. */
export interface PanelState {
  view: DashboardView;
  runDirs: string[];
}

function strings(x: unknown): string[] {
  return Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string' && s.length > 0) : [];
}

/**
 * Reads the state VS Code hands the serializer after a reload: the webview's own `setState`.
 * Accepts `{ view, runDirs }` and the shapes a webview is likely to keep (`{ view, runs: [{ runDir }] }`,
 * `{ runDir }`); anything else gives undefined.
 */
export function parsePanelState(state: unknown): PanelState | undefined {
  if (!state || typeof state !== 'object' || Array.isArray(state)) return undefined;
  const s = state as Record<string, unknown>;
  const view: DashboardView = s.view === 'compare' ? 'compare' : 'run';
  let runDirs = strings(s.runDirs);
  if (runDirs.length === 0 && Array.isArray(s.runs)) {
    runDirs = strings(
      s.runs.map((r) => (r && typeof r === 'object' ? (r as Record<string, unknown>).runDir : undefined)),
    );
  }
  if (runDirs.length === 0 && typeof s.runDir === 'string' && s.runDir) runDirs = [s.runDir];
  if (runDirs.length === 0) return undefined;
  return { view, runDirs: [...new Set(runDirs)] };
}

/** Whether `p` lies inside one of `roots` (for the webview's 'reveal' requests, which must stay in run folders). */
export function isInside(p: string, roots: readonly string[], sep = '/'): boolean {
  const norm = (x: string): string => x.replace(/[\\/]+/g, sep).replace(new RegExp(`\\${sep}$`), '');
  const target = norm(p);
  if (target.split(sep).includes('..')) return false;
  return roots.some((r) => {
    const root = norm(r);
    return target === root || target.startsWith(root + sep);
  });
}
