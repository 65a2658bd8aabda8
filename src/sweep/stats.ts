/** The summary statistics a sweep report shows: mean ± sample standard deviation over seeds. */

export interface Stat {
  mean: number;
  std: number;
  n: number;
}

/** Mean and sample standard deviation (n − 1) of the finite values; undefined when there are none. */
export function meanStd(xs: readonly number[]): Stat | undefined {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return undefined;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std, n: v.length };
}
