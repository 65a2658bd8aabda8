/**
 * The line path of a chart series, for uPlot. The charts hand uPlot data already reduced to a few
 * points per pixel column (downsample.ts), so the path is built with as little work per point as
 * possible: positions from one affine map per axis, rounded to whole pixels (as uPlot's own
 * builder does), and a point that lands on the pixel of the one before is left out. Building the
 * path is a good part of what a frame costs with 100 000 steps in six series.
 */
import type uPlot from 'uplot';
import type { AxisMap } from './dense-lines';

/** The map of a scale, or undefined while the scale has no finite range (or a log scale one ≤ 0). */
export function axisMap(u: uPlot, key: string): AxisMap | undefined {
  const scale = u.scales[key];
  const min = scale.min;
  const max = scale.max;
  if (
    min === undefined ||
    max === undefined ||
    min === null ||
    max === null ||
    !Number.isFinite(min) ||
    !Number.isFinite(max)
  )
    return undefined;
  const log = scale.distr === 3;
  if (log && !(min > 0 && max > 0)) return undefined;
  const p0 = u.valToPos(min, key, true);
  const p1 = u.valToPos(max, key, true);
  const f0 = log ? Math.log10(min) : min;
  const f1 = log ? Math.log10(max) : max;
  return { at: p0, from: f0, k: f1 !== f0 ? (p1 - p0) / (f1 - f0) : 0, log };
}

/** uPlot `paths` builder: a polyline through the points idx0..idx1, broken at gaps unless the series spans them. */
export function pixelLinePath(u: uPlot, seriesIdx: number, idx0: number, idx1: number): uPlot.Series.Paths | null {
  const xm = axisMap(u, 'x');
  const series = u.series[seriesIdx];
  const ym = axisMap(u, series.scale ?? 'y');
  if (!xm || !ym) return null;
  const xs = u.data[0] as ArrayLike<number>;
  const ys = u.data[seriesIdx] as ArrayLike<number | null | undefined>;
  const spanGaps = series.spanGaps === true;
  const stroke = new Path2D();
  let pen = false;
  let lastX = NaN;
  let lastY = NaN;
  for (let i = idx0; i <= idx1; i++) {
    const v = ys[i];
    if (v === null || v === undefined) {
      if (!spanGaps) pen = false;
      continue;
    }
    const px = Math.round(xm.at + (xs[i] - xm.from) * xm.k);
    const py = Math.round(ym.at + ((ym.log ? Math.log10(v) : v) - ym.from) * ym.k);
    if (!pen) {
      stroke.moveTo(px, py);
      pen = true;
    } else if (px !== lastX || py !== lastY) stroke.lineTo(px, py);
    lastX = px;
    lastY = py;
  }
  return { stroke, fill: null, clip: null, band: null, flags: 0 };
}
