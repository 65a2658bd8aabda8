/**
 * An attention heatmap as SVG: one rect per (query, key) cell in the colour the canvas shows, the
 * query tokens down the left and the key tokens up along the top (the canvas's layout), and a
 * title. Each rect carries its probability in a <title>, which SVG viewers show on hover. Pure.
 */
import { escapeXml, num, paint } from './chart-svg';

export interface HeatmapSvgInput {
  title: string;
  tokens: readonly string[];
  /** [query][key] probabilities. */
  map: readonly (readonly number[])[];
  /** A probability to its resolved CSS colour (the dashboard's scale). */
  color: (p: number) => string;
  cell: number;
  colors: { background: string; foreground: string };
  fontFamily: string;
  fontSize: number;
}

export function heatmapSvg(o: HeatmapSvgInput): string {
  const n = Math.min(o.map.length, o.tokens.length || o.map.length);
  const fs = Math.round(o.fontSize * 0.85);
  const longest = o.tokens.slice(0, n).reduce((w, t) => Math.max(w, t.length), 0);
  // room for the labels: the longest token at a rough 0.6 em per character, as the canvas allows 110 px
  const margin = Math.ceil(Math.min(longest * fs * 0.6, 110) + 8);
  const titleH = Math.round(o.fontSize * 2);
  const size = margin + o.cell * n;
  const w = size + 8;
  const hgt = titleH + size + 8;
  const y0 = titleH + margin;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${hgt}" viewBox="0 0 ${w} ${hgt}" font-family="${escapeXml(o.fontFamily)}" font-size="${fs}">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect x="0" y="0" width="${w}" height="${hgt}" ${paint('fill', o.colors.background)}/>`,
    `<text x="4" y="${num(o.fontSize * 1.3)}" font-size="${o.fontSize}" font-weight="600" ${paint('fill', o.colors.foreground)}>${escapeXml(o.title)}</text>`,
    '<g class="cells" shape-rendering="crispEdges">',
  ];
  for (let q = 0; q < n; q++) {
    const row = o.map[q];
    for (let k = 0; k < n; k++) {
      const p = row?.[k] ?? NaN;
      out.push(
        `<rect x="${margin + k * o.cell}" y="${y0 + q * o.cell}" width="${o.cell}" height="${o.cell}" ${paint('fill', o.color(p))} data-q="${q}" data-k="${k}"><title>${escapeXml(`${o.tokens[q] ?? ''} → ${o.tokens[k] ?? ''}: ${Number.isFinite(p) ? p : ''}`)}</title></rect>`,
      );
    }
  }
  out.push('</g>', `<g class="labels" ${paint('fill', o.colors.foreground)}>`);
  for (let q = 0; q < n; q++)
    out.push(
      `<text x="${margin - 4}" y="${num(y0 + (q + 0.5) * o.cell + fs * 0.35)}" text-anchor="end">${escapeXml(o.tokens[q] ?? '')}</text>`,
    );
  for (let k = 0; k < n; k++) {
    const x = num(margin + (k + 0.5) * o.cell + fs * 0.35);
    const y = y0 - 4;
    out.push(`<text transform="translate(${x} ${y}) rotate(-90)">${escapeXml(o.tokens[k] ?? '')}</text>`);
  }
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}
