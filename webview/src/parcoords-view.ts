/**
 * Draws the parallel-coordinates layout (parcoords.ts) as SVG. Axis lines and text take the theme
 * from CSS classes (styles.css, VS Code's variables); each run's line gets its colour from the
 * metric on the heatmap's theme scale, as a presentation attribute (the CSP allows no inline style).
 */
import { scaleColor } from './colorscale';
import { layoutParcoords, linePath, type ParcoordsBox, type ParcoordsRun, DEFAULT_BOX } from './parcoords';
import type { Theme } from './theme';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: Array<SVGElement | string>
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** The line colour for a metric position: the upper three quarters of the heat scale, so the worst run still shows on the background. */
export function lineColor(t: number | undefined, theme: Theme): string {
  if (t === undefined) return theme.muted;
  const [r, g, b] = scaleColor(0.25 + 0.75 * t, theme.heatStops);
  return `rgb(${r}, ${g}, ${b})`;
}

/** A fresh SVG of the plot; `width` is the space the view has. */
export function drawParcoords(
  fields: readonly string[],
  runs: readonly ParcoordsRun[],
  metricName: string,
  theme: Theme,
  width: number,
): SVGSVGElement {
  const box: ParcoordsBox = { ...DEFAULT_BOX, width: Math.max(360, Math.round(width)) };
  const layout = layoutParcoords(fields, runs, metricName, box);
  const root = svg('svg', {
    class: 'parcoords',
    'data-testid': 'compare-parcoords',
    'data-axes': layout.axes.length,
    'data-lines': layout.lines.length,
    width: layout.width,
    height: layout.height,
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    role: 'img',
    'aria-label': `Parallel coordinates: ${layout.axes.map((a) => a.label).join(', ')}`,
  });
  const top = box.top;
  const bottom = box.height - box.bottom;
  for (const a of layout.axes) {
    const g = svg('g', { class: 'parcoords-axis', 'data-field': a.key, 'data-kind': a.kind });
    g.append(svg('line', { x1: a.x, x2: a.x, y1: top, y2: bottom }));
    g.append(svg('text', { class: 'parcoords-name', x: a.x, y: top - 18, 'text-anchor': 'middle' }, a.label));
    for (const tk of a.ticks) {
      g.append(svg('line', { class: 'parcoords-tick', x1: a.x - 3, x2: a.x + 3, y1: tk.y, y2: tk.y }));
      g.append(
        svg(
          'text',
          { class: 'parcoords-tick-label', x: a.x + 5, y: tk.y + 4 },
          tk.label.length > 14 ? `${tk.label.slice(0, 13)}…` : tk.label,
        ),
      );
    }
    root.append(g);
  }
  // the runs' lines over the axes, so that one lying along an axis still shows
  for (const line of layout.lines) {
    const path = svg('path', {
      class: 'parcoords-line',
      d: linePath(line.points),
      stroke: lineColor(line.colorT, theme),
      'data-run-id': line.runId,
    });
    path.append(svg('title', {}, line.label));
    root.append(path);
  }
  return root;
}
