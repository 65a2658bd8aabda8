/**
 * The heatmap's colour scale and the attention-map arithmetic behind it. The scale runs from the
 * editor background (probability 0) through a chart accent to the foreground (probability 1): its
 * lightness moves monotonically in every theme (dark: black → blue → white, light: white → blue →
 * near-black, high contrast: black → accent → white), so zero blends into the page and strong
 * attention always stands out. Pure; no DOM.
 */

export type RGB = [number, number, number];

/** #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(…), rgba(…); alpha is dropped. Undefined when unparseable. */
export function parseColor(css: string): RGB | undefined {
  const s = css.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,8})$/.exec(s);
  if (hex) {
    const h = hex[1];
    if (h.length === 3 || h.length === 4) return [0, 1, 2].map((i) => parseInt(h[i] + h[i], 16)) as RGB;
    if (h.length === 6 || h.length === 8) return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as RGB;
    return undefined;
  }
  const fn = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/.exec(s);
  if (fn) return [1, 2, 3].map((i) => Math.max(0, Math.min(255, Math.round(Number(fn[i]))))) as RGB;
  return undefined;
}

/** The alpha of a CSS colour (1 when it has none or cannot be parsed). */
export function colorAlpha(css: string): number {
  const s = css.trim().toLowerCase();
  const hex = /^#([0-9a-f]{4}|[0-9a-f]{8})$/.exec(s);
  if (hex) return parseInt(hex[1].length === 4 ? hex[1][3].repeat(2) : hex[1].slice(6), 16) / 255;
  const fn = /^rgba?\([^)]*[\s,/]([\d.]+)(%?)\s*\)$/.exec(s);
  if (fn && (s.match(/[\d.]+%?/g) ?? []).length === 4)
    return Math.max(0, Math.min(1, Number(fn[1]) / (fn[2] ? 100 : 1)));
  return 1;
}

/** The colour with its alpha multiplied by `factor`, as rgba(); the input when unparseable. */
export function fade(css: string, factor: number): string {
  const rgb = parseColor(css);
  if (!rgb) return css;
  const a = Math.round(colorAlpha(css) * factor * 1000) / 1000;
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${a})`;
}

export function mix(a: RGB, b: RGB, t: number): RGB {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as RGB;
}

/** A value in [0, 1] (clamped; NaN → 0) to a colour, piecewise linear over evenly spaced stops. */
export function scaleColor(value: number, stops: readonly RGB[]): RGB {
  if (stops.length === 0) return [0, 0, 0];
  if (stops.length === 1) return stops[0];
  const v = Number.isFinite(value) ? Math.max(0, Math.min(1, value)) : 0;
  const pos = v * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  return mix(stops[i], stops[i + 1], pos - i);
}

/**
 * Probability → position on the scale. Attention rows sum to 1 over the keys, so most cells are
 * small; a square-root stretch keeps their structure visible without saturating the peaks.
 */
export function attentionToScale(p: number, gamma = 0.5): number {
  if (!Number.isFinite(p) || p <= 0) return 0;
  return p >= 1 ? 1 : Math.pow(p, gamma);
}

/** A 256-entry lookup table (r, g, b, 255 per entry) for fast per-cell colouring. */
export function buildLut(stops: readonly RGB[], size = 256): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(size * 4);
  for (let i = 0; i < size; i++) {
    const [r, g, b] = scaleColor(i / (size - 1), stops);
    lut.set([r, g, b, 255], i * 4);
  }
  return lut;
}

export function rgbCss([r, g, b]: RGB): string {
  return `rgb(${r}, ${g}, ${b})`;
}

// ---- attention maps ----------------------------------------------------------------------------

export type AttentionMap = number[][];

/** The element-wise mean over heads of [head][query][key] maps. */
export function averageHeads(maps: readonly AttentionMap[]): AttentionMap {
  if (maps.length === 0) return [];
  const rows = maps[0].length;
  const out: AttentionMap = [];
  for (let q = 0; q < rows; q++) {
    const cols = maps[0][q].length;
    const row = new Array<number>(cols).fill(0);
    for (const m of maps) for (let k = 0; k < cols; k++) row[k] += m[q]?.[k] ?? 0;
    out.push(row.map((v) => v / maps.length));
  }
  return out;
}

/** One head's map, or the average over heads when `head` is -1 (or out of range). */
export function selectHead(maps: readonly AttentionMap[], head: number): AttentionMap {
  return head >= 0 && head < maps.length ? maps[head] : averageHeads(maps);
}

/**
 * KL(teacher ‖ student) per query row, averaged over rows: the quantity the attention-kl loss
 * drives down. Terms where the teacher is 0 contribute 0; the student is floored at 1e-12.
 */
export function meanRowKl(teacher: AttentionMap, student: AttentionMap): number {
  const rows = Math.min(teacher.length, student.length);
  if (rows === 0) return NaN;
  let sum = 0;
  for (let q = 0; q < rows; q++) {
    const t = teacher[q];
    const s = student[q];
    let kl = 0;
    for (let k = 0; k < Math.min(t.length, s.length); k++) {
      if (t[k] > 0) kl += t[k] * Math.log(t[k] / Math.max(s[k], 1e-12));
    }
    sum += kl;
  }
  return sum / rows;
}
