/**
 * Colours and fonts for canvas drawing, read from VS Code's CSS variables at draw time (canvas
 * cannot use var()), and a watcher that fires when the theme changes: VS Code swaps the body class
 * (vscode-light / vscode-dark / vscode-high-contrast / vscode-high-contrast-light) and rewrites the
 * variables in the html element's style attribute.
 */
import type { StageKind } from '../../src/protocol/events';
import { fade, parseColor, type RGB } from './colorscale';

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Theme {
  kind: ThemeKind;
  foreground: string;
  background: string;
  muted: string;
  grid: string;
  /** Set in high-contrast themes, where outlines replace subtle fills. */
  contrastBorder: string | undefined;
  /** The chart palette in series order. */
  palette: string[];
  stageColors: Record<StageKind, string>;
  /** Alpha of stage band fills. */
  bandAlpha: number;
  heatStops: RGB[];
  fontFamily: string;
  fontSize: number;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

export function themeKind(body: HTMLElement = document.body): ThemeKind {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  return 'dark';
}

export function readTheme(): Theme {
  const kind = themeKind();
  const light = kind === 'light' || kind === 'high-contrast-light';
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => cssVar(style, `--vscode-${name}`, fallback);
  const foreground = v('foreground', light ? '#616161' : '#cccccc');
  const background = v('editor-background', light ? '#ffffff' : '#1f1f1f');
  const blue = v('charts-blue', '#3794ff');
  const red = v('charts-red', '#f14c4c');
  const green = v('charts-green', '#89d185');
  const yellow = v('charts-yellow', '#cca700');
  const orange = v('charts-orange', '#d18616');
  const purple = v('charts-purple', '#b180d7');
  const contrastBorder = style.getPropertyValue('--vscode-contrastBorder').trim() || undefined;
  const hc = kind === 'high-contrast' || kind === 'high-contrast-light';
  const fg = parseColor(v('charts-foreground', foreground)) ?? (light ? [0, 0, 0] : [255, 255, 255]);
  const bg = parseColor(background) ?? (light ? [255, 255, 255] : [0, 0, 0]);
  const accent = parseColor(blue) ?? [55, 148, 255];
  return {
    kind,
    foreground: v('charts-foreground', foreground),
    background,
    muted: v('descriptionForeground', foreground),
    // charts-lines is the foreground at 50%: right for an axis, too loud for a grid behind dense curves
    grid: fade(v('charts-lines', light ? 'rgba(0,0,0,0.5)' : 'rgba(255,255,255,0.5)'), hc ? 0.7 : 0.35),
    contrastBorder,
    palette: [blue, orange, green, purple, red, yellow, foreground],
    stageColors: { teacher: purple, internal: blue, classification: green, custom: orange },
    bandAlpha: hc ? 0.22 : light ? 0.1 : 0.13,
    heatStops: [bg, accent, fg],
    fontFamily: style.fontFamily || 'sans-serif',
    fontSize: parseFloat(style.fontSize) || 13,
  };
}

/** Calls `onChange` (at most once per frame) whenever the theme may have changed. */
export function watchTheme(onChange: () => void): () => void {
  let pending = false;
  const fire = (): void => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      onChange();
    });
  };
  const observer = new MutationObserver(fire);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return () => observer.disconnect();
}
