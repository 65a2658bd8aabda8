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

/** Values per block of a column's precomputed extremes (a power of two). */
export const BLOCK_SIZE = 8;
/** log2(BLOCK_SIZE), for index arithmetic by shifts. */
export const BLOCK_SHIFT = 3;

/**
 * Where the minimum and maximum of each block of BLOCK_SIZE values sit (-1: the block has no
 * finite value), for the complete and partial blocks of a column. With them a pixel column that
 * spans thousands of steps is reduced in O(blocks) instead of O(steps).
 */
export interface BlockExtremes {
  minAt: ArrayLike<number>;
  maxAt: ArrayLike<number>;
}

/**
 * The first index of each non-empty bucket of x[start..end), then `end`: buckets split the x range
 * evenly and x ascends, so each bucket's end is found by a binary search.
 */
function bucketBounds(x: ArrayLike<number>, start: number, end: number, buckets: number): Int32Array {
  const x0 = x[start];
  const span = x[end - 1] - x0;
  const scale = span > 0 ? buckets / span : 0;
  const last = buckets - 1;
  const bounds = new Int32Array(Math.min(buckets, end - start) + 1);
  let n = 0;
  let i = start;
  while (i < end) {
    bounds[n++] = i;
    const bucket = Math.min(last, Math.floor((x[i] - x0) * scale));
    let lo = i + 1;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Math.min(last, Math.floor((x[mid] - x0) * scale)) === bucket) lo = mid + 1;
      else hi = mid;
    }
    i = lo;
  }
  bounds[n] = end;
  return bounds.subarray(0, n + 1);
}

/**
 * Points x[start..end) of every series in `ys`, reduced to at most 2 per bucket when there are
 * more than `threshold` of them. Buckets split the x range evenly (one per pixel column); a bucket
 * with several points becomes two points at its first and last x carrying the series' minimum and
 * maximum in the order they occurred. Non-finite values are gaps (null), and so are values ≤ 0
 * when `positiveOnly` (a log axis), so they neither hide a bucket's positive extremes nor break the
 * line. `blocks[s]`, when given, are series s's precomputed block extremes: same result, far less
 * reading. The cost is O(buckets × BLOCK_SIZE + points / BLOCK_SIZE) per series: bounded by the
 * plot's width, not by how many steps arrived.
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
  // usable values: finite, and > 0 on a log axis (NaN fails both comparisons)
  const floor = positiveOnly ? 0 : -Infinity;
  const count = end - start;
  if (count <= threshold || buckets < 1) {
    const outX = new Array<number>(count);
    for (let i = 0; i < count; i++) outX[i] = x[start + i];
    const outYs = ys.map((y) => {
      const out = new Array<number | null>(count);
      for (let i = 0; i < count; i++) {
        const v = y[start + i];
        out[i] = v > floor && v < Infinity ? v : null;
      }
      return out;
    });
    return { x: outX, ys: outYs };
  }

  const bounds = bucketBounds(x, start, end, buckets);
  const nb = bounds.length - 1;
  let size = 0;
  for (let b = 0; b < nb; b++) size += bounds[b + 1] - bounds[b] === 1 ? 1 : 2;
  const outX = new Array<number>(size);
  for (let b = 0, o = 0; b < nb; b++) {
    const i = bounds[b];
    const j = bounds[b + 1];
    outX[o++] = x[i];
    if (j - i > 1) outX[o++] = x[j - 1];
  }
  const outYs = ys.map((y, s) => reduceSeries(y, bounds, size, blocks[s], floor));
  return { x: outX, ys: outYs };
}

/** One series reduced over the buckets `bounds`: two values per bucket (min and max in order), one where a bucket holds one point. */
function reduceSeries(
  y: ArrayLike<number>,
  bounds: Int32Array,
  size: number,
  blocks: BlockExtremes | undefined,
  floor: number,
): (number | null)[] {
  const out = new Array<number | null>(size);
  const nb = bounds.length - 1;
  let o = 0;
  for (let b = 0; b < nb; b++) {
    const i = bounds[b];
    const j = bounds[b + 1];
    if (j - i === 1) {
      const v = y[i];
      out[o++] = v > floor && v < Infinity ? v : null;
      continue;
    }
    // Candidates are visited in ascending position with strict comparisons, so ties keep the
    // earliest position, as a plain scan would.
    let minAt = -1;
    let maxAt = -1;
    let minV = 0;
    let maxV = 0;
    let k = i;
    let scanTo = j;
    let firstFull = 0;
    let lastFull = 0;
    if (blocks && j - i >= 2 * BLOCK_SIZE) {
      firstFull = (i + BLOCK_SIZE - 1) >> BLOCK_SHIFT;
      lastFull = j >> BLOCK_SHIFT; // blocks firstFull..lastFull-1 lie inside [i, j)
      scanTo = firstFull << BLOCK_SHIFT;
    }
    for (; k < scanTo; k++) {
      const v = y[k];
      if (!(v > floor && v < Infinity)) continue;
      if (minAt < 0 || v < minV) {
        minAt = k;
        minV = v;
      }
      if (maxAt < 0 || v > maxV) {
        maxAt = k;
        maxV = v;
      }
    }
    if (blocks && scanTo < j) {
      const minOf = blocks.minAt;
      const maxOf = blocks.maxAt;
      for (let blk = firstFull; blk < lastFull; blk++) {
        const lo = minOf[blk];
        if (lo < 0) continue; // no finite value in the block
        const hi = maxOf[blk];
        const vlo = y[lo];
        if (vlo > floor) {
          // the block's finite values all lie in [vlo, vhi], all usable
          if (minAt < 0 || vlo < minV) {
            minAt = lo;
            minV = vlo;
          }
          const vhi = y[hi];
          if (maxAt < 0 || vhi > maxV) {
            maxAt = hi;
            maxV = vhi;
          }
        } else if (y[hi] > floor) {
          // the block's minimum is left out (≤ 0 on a log axis): its smallest usable value may be anywhere
          for (let q = blk << BLOCK_SHIFT, qEnd = q + BLOCK_SIZE; q < qEnd; q++) {
            const v = y[q];
            if (!(v > floor && v < Infinity)) continue;
            if (minAt < 0 || v < minV) {
              minAt = q;
              minV = v;
            }
            if (maxAt < 0 || v > maxV) {
              maxAt = q;
              maxV = v;
            }
          }
        }
      }
      for (k = lastFull << BLOCK_SHIFT; k < j; k++) {
        const v = y[k];
        if (!(v > floor && v < Infinity)) continue;
        if (minAt < 0 || v < minV) {
          minAt = k;
          minV = v;
        }
        if (maxAt < 0 || v > maxV) {
          maxAt = k;
          maxV = v;
        }
      }
    }
    if (minAt < 0) {
      out[o++] = null;
      out[o++] = null;
    } else if (minAt <= maxAt) {
      out[o++] = minV;
      out[o++] = maxV;
    } else {
      out[o++] = maxV;
      out[o++] = minV;
    }
  }
  return out;
}

/**
 * For a log axis, which cannot show 0: every finite value ≤ 0 (a loss term that is exactly 0, or
 * rounding just below it) is moved to a floor, the decade at or below the smallest positive value,
 * so the line runs along the bottom of the plot there instead of breaking off. Returns the floor
 * (NaN when no value is positive: then nothing changes). In place; null (no value) stays null.
 */
export function clampToLogFloor(ys: (number | null)[][]): number {
  let min = Infinity;
  for (const y of ys) for (const v of y) if (v !== null && v > 0 && v < min) min = v;
  if (min === Infinity) return NaN;
  const floor = 10 ** Math.floor(Math.log10(min));
  // the floor itself is a positive value: keep it strictly below the data when min is a decade
  const below = floor === min ? floor / 10 : floor;
  for (const y of ys)
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      if (v !== null && v <= 0) y[i] = below;
    }
  return below;
}
