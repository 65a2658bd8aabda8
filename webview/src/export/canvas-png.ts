/**
 * A PNG of a chart or heatmap: its canvas composited onto an offscreen canvas with the theme's
 * background, its title above and (charts) its legend below, since uPlot's legend and the titles
 * are HTML, not part of the canvas. Returns a data URL (canvas.toDataURL, which the CSP allows).
 */
import type { Theme } from '../theme';

export interface LegendEntry {
  label: string;
  color: string;
  dash?: readonly number[];
}

/** `source` is drawn at its device-pixel size; `scale` is its device pixels per CSS pixel. */
export function composePng(
  source: HTMLCanvasElement,
  scale: number,
  title: string,
  theme: Theme,
  legend: readonly LegendEntry[] = [],
): string {
  const fs = theme.fontSize;
  const pad = 8;
  const cssW = source.width / scale;
  const cssH = source.height / scale;
  const width = Math.max(cssW + 2 * pad, 200);
  const titleH = fs * 2;
  const probe = document.createElement('canvas').getContext('2d');
  const font = `${fs}px ${theme.fontFamily}`;
  // legend entries flow in rows across the width
  const measure = (s: string): number => {
    if (!probe) return s.length * fs * 0.6;
    probe.font = font;
    return probe.measureText(s).width;
  };
  const places: { x: number; row: number }[] = [];
  let x = pad;
  let row = 0;
  for (const e of legend) {
    const w = fs * 2.2 + measure(e.label) + fs * 1.2;
    if (x + w > width - pad && x > pad) {
      row++;
      x = pad;
    }
    places.push({ x, row });
    x += w;
  }
  const legendH = legend.length ? (row + 1) * fs * 1.6 + pad : 0;
  const height = titleH + cssH + legendH + pad;
  const out = document.createElement('canvas');
  out.width = Math.round(width * scale);
  out.height = Math.round(height * scale);
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('canvas 2d context unavailable');
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = theme.foreground;
  ctx.font = `600 ${fs}px ${theme.fontFamily}`;
  ctx.textBaseline = 'middle';
  ctx.fillText(title, pad, titleH / 2, width - 2 * pad);
  ctx.drawImage(source, pad, titleH, cssW, cssH);
  ctx.font = font;
  legend.forEach((e, i) => {
    const { x: lx, row: r } = places[i];
    const y = titleH + cssH + pad + r * fs * 1.6 + fs * 0.6;
    ctx.strokeStyle = e.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(e.dash ? [...e.dash] : []);
    ctx.beginPath();
    ctx.moveTo(lx, y);
    ctx.lineTo(lx + fs * 1.6, y);
    ctx.stroke();
    ctx.fillStyle = theme.foreground;
    ctx.fillText(e.label, lx + fs * 2.2, y);
  });
  return out.toDataURL('image/png');
}
