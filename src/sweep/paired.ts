/**
 * Each algorithm against a baseline (the paper's: soft labels alone), paired by seed: in a sweep a
 * seed fixes the student's data subset and the order it sees it in, so the difference between two
 * algorithms in the same seed is free of the subset's luck, which dominates the seed spread on
 * small data. Reported per table column (task × data fraction): the mean ± std of the
 * differences, how many seeds are ahead, the paired t statistic, and how often the student's
 * attention-KL to the teacher is lower than the baseline's, layer by layer and seed by seed.
 */
import { meanStd, Stat } from './stats';

/** One finished student run, reduced to what the pairing needs. */
export interface PairedRun {
  /** The table row (algorithm and any other varied field), e.g. "pid". */
  row: string;
  /** The same row with the algorithm replaced by the baseline's: the row it is paired with. */
  baselineRow: string;
  /** The table column (task × fraction). */
  column: string;
  /** What pairs two runs within a column: the seed's label. */
  seed: string;
  /** The dev main metric, as a fraction (0.8 = 80 %). */
  value: number;
  /** Attention-KL to the teacher at the last evaluation, per mapped layer ("L1↔T2"). */
  attentionKl: ReadonlyMap<string, number>;
}

export interface PairedRow {
  label: string;
  /** Seeds with a finished run in both this row and the baseline's. */
  pairs: number;
  /** This row minus the baseline, ×100 (points), over the pairs. */
  diff?: Stat;
  /** Pairs where this row is ahead, and where the two are equal. */
  ahead: number;
  tied: number;
  /** mean / (std / √n), n − 1 degrees of freedom; undefined when n < 2 or the differences do not vary. */
  t?: number;
  /** (layer, seed) pairs where this row's attention-KL is lower than the baseline's, of `attentionTotal`. */
  attentionLower: number;
  attentionTotal: number;
}

export interface PairedTable {
  column: string;
  baseline: string;
  rows: PairedRow[];
}

/** The paired t statistic of a list of differences. */
export function pairedT(diffs: readonly number[]): number | undefined {
  const s = meanStd(diffs);
  if (!s || s.n < 2 || !(s.std > 0)) return undefined;
  return s.mean / (s.std / Math.sqrt(s.n));
}

/**
 * One table per column that holds baseline runs; rows in `rowOrder`, the baseline itself left out.
 * A row with no run paired with the baseline is listed with `pairs: 0`.
 */
export function pairedTables(
  runs: readonly PairedRun[],
  baseline: string,
  rowOrder: readonly string[],
  columnOrder: readonly string[],
): PairedTable[] {
  const tables: PairedTable[] = [];
  for (const column of columnOrder) {
    const here = runs.filter((r) => r.column === column);
    const base = new Map(here.filter((r) => r.row === r.baselineRow).map((r) => [`${r.row}\u0000${r.seed}`, r]));
    if (base.size === 0) continue;
    const rows: PairedRow[] = [];
    for (const label of rowOrder) {
      const mine = here.filter((r) => r.row === label && r.row !== r.baselineRow);
      if (mine.length === 0) continue;
      const pairs = mine
        .map((r) => ({ r, b: base.get(`${r.baselineRow}\u0000${r.seed}`) }))
        .filter((p): p is { r: PairedRun; b: PairedRun } => p.b !== undefined);
      const diffs = pairs.map(({ r, b }) => (r.value - b.value) * 100);
      let attentionLower = 0;
      let attentionTotal = 0;
      for (const { r, b } of pairs) {
        for (const [layer, kl] of r.attentionKl) {
          const other = b.attentionKl.get(layer);
          if (other === undefined) continue;
          attentionTotal++;
          if (kl < other) attentionLower++;
        }
      }
      const diff = meanStd(diffs);
      const t = pairedT(diffs);
      rows.push({
        label,
        pairs: pairs.length,
        ...(diff ? { diff } : {}),
        ahead: diffs.filter((d) => d > 0).length,
        tied: diffs.filter((d) => d === 0).length,
        ...(t !== undefined ? { t } : {}),
        attentionLower,
        attentionTotal,
      });
    }
    tables.push({ column, baseline, rows });
  }
  return tables;
}
