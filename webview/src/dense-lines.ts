/**
 * Dense series drawn pixel by pixel. A series downsampled to its minimum and maximum per pixel
 * column (downsample.ts) is a zigzag of thousands of one-pixel segments; as a canvas path,
 * Chromium's software canvas takes milliseconds to build and rasterise it (the rasterising
 * happens when the frame is committed, unseen by the charts' frame budget), and the loss chart
 * has six. Here each segment becomes one run of pixels per column it crosses, written into an
 * image buffer (dense-layer.ts composites it onto the plot with a single drawImage): the same
 * one-pixel lines at a fraction of the cost. Lines are one device pixel wide, as the charts'
 * hairlines are once a series is dense; a dash pattern becomes a pattern of columns.
 * Pure: no DOM.
 */

/** Canvas position of a value on a scale: `at + (f(v) - from) * k`, f is log10 on a log scale. */
export interface AxisMap {
  at: number;
  from: number;
  k: number;
  log: boolean;
}

/** An RGBA image as 32-bit pixels (ImageData's byte order), `width` pixels a row; drawing stays inside `clip`. */
export interface PixelBuffer {
  pixels: Uint32Array;
  width: number;
  height: number;
  /** Columns left..right-1 and rows top..bottom-1. */
  clip: { left: number; top: number; right: number; bottom: number };
}

/** A series' points i = from..to at (xMap(xs[i]), yMap(ys[i])) in buffer pixels. */
export interface PixelSeries {
  xs: ArrayLike<number>;
  ys: ArrayLike<number | null | undefined>;
  from: number;
  to: number;
  xMap: AxisMap;
  yMap: AxisMap;
  /** The colour as a 32-bit pixel (see packRgba). */
  color: number;
  /** On/off lengths in pixels along x, or undefined for a solid line. */
  dash?: readonly number[];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 0x04;

/** A colour's bytes as one pixel of a Uint32Array view of ImageData (whose byte order is R, G, B, A). */
export function packRgba(r: number, g: number, b: number, a: number): number {
  return (LITTLE_ENDIAN ? (a << 24) | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

/** A solid line as a dash pattern (one shape for the rasteriser's loop, dashed or not). */
const SOLID = new Uint8Array([1]);

/** A column-wise dash: for each column modulo the pattern's length, whether it is drawn. */
function dashColumns(dash: readonly number[] | undefined): Uint8Array {
  if (!dash || dash.length === 0) return SOLID;
  // an odd-length pattern repeats to an even one, as canvas dashes do
  const lengths = (dash.length % 2 === 0 ? dash : [...dash, ...dash]).map((d) => Math.max(0, Math.round(d)));
  const total = lengths.reduce((a, d) => a + d, 0);
  if (total <= 0) return SOLID;
  const on = new Uint8Array(total);
  let at = 0;
  lengths.forEach((d, i) => {
    if (i % 2 === 0) on.fill(1, at, at + d);
    at += d;
  });
  return on;
}

/**
 * Draws a series as a polyline one pixel wide: every segment between two consecutive points
 * fills, in each column it crosses, the rows the line passes through there; between neighbouring
 * columns, the new column spans from the last point to the new one, so a column covers its own
 * points and the join from the one before (a min/max zigzag becomes the solid band it stands
 * for). Gaps (null, NaN; ≤ 0 on a log axis) break the line; what falls outside the clip is left
 * out. Points are rounded to whole pixels, as the charts' path builder does.
 */
export function rasterizeSeries(buf: PixelBuffer, s: PixelSeries): void {
  const { pixels, width } = buf;
  const { left, top, right, bottom } = buf.clip;
  const { xs, ys, xMap, yMap, color } = s;
  const dash = dashColumns(s.dash);
  // fills rows y0..y1 (either order) of column c
  const run = (c: number, y0: number, y1: number): void => {
    if (c < left || c >= right) return;
    if (dash[c % dash.length] === 0) return;
    let lo = y0 < y1 ? y0 : y1;
    let hi = y0 < y1 ? y1 : y0;
    if (hi < top || lo >= bottom) return;
    if (lo < top) lo = top;
    if (hi >= bottom) hi = bottom - 1;
    for (let i = lo * width + c, end = hi * width + c; i <= end; i += width) pixels[i] = color;
  };
  let pen = false;
  let px = 0;
  let py = 0;
  for (let i = s.from; i <= s.to; i++) {
    const v = ys[i];
    if (v === null || v === undefined || !(v > -Infinity && v < Infinity) || (yMap.log && !(v > 0))) {
      pen = false;
      continue;
    }
    const x = Math.round(xMap.at + (xs[i] - xMap.from) * xMap.k);
    const y = Math.round(yMap.at + ((yMap.log ? Math.log10(v) : v) - yMap.from) * yMap.k);
    if (!pen) {
      run(x, y, y);
      pen = true;
    } else if (x === px || x === px + 1 || x === px - 1) {
      run(x, py, y);
    } else {
      // a longer segment: one run per column, split where the line crosses into the next column
      const dir = x > px ? 1 : -1;
      const slope = (y - py) / (x - px);
      let yFrom = py;
      for (let c = px; c !== x; c += dir) {
        const yTo = Math.round(py + (c + dir / 2 - px) * slope);
        run(c, yFrom, yTo);
        yFrom = yTo;
      }
      run(x, yFrom, y);
    }
    px = x;
    py = y;
  }
}
