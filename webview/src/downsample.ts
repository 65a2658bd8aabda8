/**
 * Per-pixel downsampling for line charts: a series of 100 000 points drawn into 800 pixels is
 * mostly overdraw, so each pixel column keeps only its minimum and maximum, which draws the same
 * picture (every spike stays visible) at a fraction of the cost. Pure; no DOM.
 */

export interface XRange {
  min: number;
  max: number;
}

export interface Downsampled {
  x: number[];
  /** One array per input series, aligned with x; null is a gap. */
  ys: (number | null)[][];
}

/** The first index whose x is >= value, in an ascending x[0..n). */
export function lowerBound(x: ArrayLike<number>, n: number, value: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose x is > value, in an ascending x[0..n). */
export function upperBound(x: ArrayLike<number>, n: number, value: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The index span [start, end) of an ascending x[0..n) that covers `range`, widened by one point on
 * each side so lines run on to the plot's edges instead of stopping short of them.
 */
export function visibleSpan(x: ArrayLike<number>, n: number, range: XRange | null): [number, number] {
  if (!range || n === 0) return [0, n];
  const start = Math.max(0, lowerBound(x, n, range.min) - 1);
  const end = Math.min(n, upperBound(x, n, range.max) + 1);
  return [start, Math.max(start, end)];
}

/** Values per block of a column's precomputed extremes. */
export const BLOCK_SIZE = 32;

/**
 * Where the minimum and maximum of each block of BLOCK_SIZE values sit (-1: the block has no
 * finite value), for the complete and partial blocks of a column. With them a pixel column that
 * spans thousands of steps is reduced in O(blocks) instead of O(steps).
 */
export interface BlockExtremes {
  minAt: ArrayLike<number>;
  maxAt: ArrayLike<number>;
}

const isFinite = (v: number): boolean => Number.isFinite(v);
const isPositive = (v: number): boolean => Number.isFinite(v) && v > 0;

/** The positions of the minimum and maximum usable value of y[i..j), -1 when there is none. */
function extremesIn(y: ArrayLike<number>, i: number, j: number, blocks: BlockExtremes | undefined, usable: (v: number) => boolean): [number, number] {
  let minAt = -1;
  let maxAt = -1;
  const consider = (k: number): void => {
    const v = y[k];
    if (!usable(v)) return;
    // ties keep the earliest position, as a plain scan would
    if (minAt < 0 || v < y[minAt] || (v === y[minAt] && k < minAt)) minAt = k;
    if (maxAt < 0 || v > y[maxAt] || (v === y[maxAt] && k < maxAt)) maxAt = k;
  };
  if (!blocks || j - i < 2 * BLOCK_SIZE) {
    for (let k = i; k < j; k++) consider(k);
    return [minAt, maxAt];
  }
  const firstFull = Math.ceil(i / BLOCK_SIZE);
  const lastFull = Math.floor(j / BLOCK_SIZE); // blocks firstFull..lastFull-1 lie inside [i, j)
  for (let k = i; k < firstFull * BLOCK_SIZE; k++) consider(k);
  for (let b = firstFull; b < lastFull; b++) {
    const lo = blocks.minAt[b];
    const hi = blocks.maxAt[b];
    if (lo >= 0 && !usable(y[lo]) && hi >= 0 && usable(y[hi])) {
      // the block's minimum is left out (≤ 0 on a log axis): its smallest usable value may be anywhere
      for (let k = b * BLOCK_SIZE; k < (b + 1) * BLOCK_SIZE; k++) consider(k);
      continue;
    }
    if (lo >= 0) consider(lo);
    if (hi >= 0) consider(hi);
  }
  for (let k = lastFull * BLOCK_SIZE; k < j; k++) consider(k);
  return [minAt, maxAt];
}

/**
 * Points x[start..end) of every series in `ys`, reduced to at most 2 per bucket when there are
 * more than `threshold` of them. Buckets split the x range evenly (one per pixel column); a bucket
 * with several points becomes two points at its first and last x carrying the series' minimum and
 * maximum in the order they occurred. Non-finite values are gaps (null), and so are values ≤ 0
 * when `positiveOnly` (a log axis), so they neither hide a bucket's positive extremes nor break the
 * line. `blocks[s]`, when given, are series s's precomputed block extremes: same result, far less
 * reading.
 */
export function downsampleMinMax(
  x: ArrayLike<number>,
  ys: readonly ArrayLike<number>[],
  start: number,
  end: number,
  buckets: number,
  threshold: number,
  blocks: readonly (BlockExtremes | undefined)[] = [],
  positiveOnly = false,
): Downsampled {
  const usable = positiveOnly ? isPositive : isFinite;
  const orNull = (v: number): number | null => (usable(v) ? v : null);
  const count = end - start;
  if (count <= threshold || buckets < 1) {
    const outX = new Array<number>(count);
    for (let i = 0; i < count; i++) outX[i] = x[start + i];
    const outYs = ys.map((y) => {
      const out = new Array<number | null>(count);
      for (let i = 0; i < count; i++) out[i] = orNull(y[start + i]);
      return out;
    });
    return { x: outX, ys: outYs };
  }

  const x0 = x[start];
  const span = x[end - 1] - x0;
  const scale = span > 0 ? buckets / span : 0;
  const bucketOf = (k: number): number => Math.min(buckets - 1, Math.floor((x[k] - x0) * scale));
  const outX: number[] = [];
  const outYs: (number | null)[][] = ys.map(() => []);

  let i = start;
  while (i < end) {
    const bucket = bucketOf(i);
    // the bucket's end: the first point in a later bucket (x ascends, so a binary search)
    let lo = i + 1;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bucketOf(mid) === bucket) lo = mid + 1;
      else hi = mid;
    }
    const j = lo;
    if (j - i === 1) {
      outX.push(x[i]);
      for (let s = 0; s < ys.length; s++) outYs[s].push(orNull(ys[s][i]));
    } else {
      outX.push(x[i], x[j - 1]);
      for (let s = 0; s < ys.length; s++) {
        const y = ys[s];
        const [minAt, maxAt] = extremesIn(y, i, j, blocks[s], usable);
        if (minAt < 0) outYs[s].push(null, null);
        else if (minAt <= maxAt) outYs[s].push(y[minAt], y[maxAt]);
        else outYs[s].push(y[maxAt], y[minAt]);
      }
    }
    i = j;
  }
  return { x: outX, ys: outYs };
}
