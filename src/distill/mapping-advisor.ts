/**
 * The layer-mapping advisor's arithmetic: from per-pair costs (student layer × teacher layer) to
 * the monotone mapping with the least total cost. Pure numbers, no TF.js, so it is unit-tested on
 * hand-made matrices; src/distill/layer-costs.ts measures the matrices on real models.
 */
import { UserError } from '../util/errors';
import type { LayerPair } from './mapping';

/** [studentLayer − 1][teacherLayer − 1]. */
export type CostMatrix = number[][];

export interface ProposedMapping {
  pairs: LayerPair[];
  /** The sum of the cost over the pairs. */
  total: number;
}

function checkRectangular(what: string, m: CostMatrix): { rows: number; cols: number } {
  const rows = m.length;
  const cols = rows ? m[0].length : 0;
  if (rows === 0 || cols === 0 || m.some((r) => r.length !== cols))
    throw new Error(`${what}: expected a non-empty rectangular matrix`);
  if (m.some((r) => r.some((x) => !Number.isFinite(x)))) throw new Error(`${what}: every cost must be finite`);
  return { rows, cols };
}

/**
 * The mapping of every student layer 1..L_S to strictly increasing teacher layers that minimises
 * the summed cost, by dynamic programming: best[s][t] = cost[s][t] + min over t' < t of
 * best[s−1][t'], O(L_S·L_T) with a running prefix minimum. Ties go to the earlier teacher layer
 * (the first minimum is kept), so equal costs give the lowest layers and the answer is
 * deterministic. Needs L_T ≥ L_S.
 */
export function monotoneMapping(cost: CostMatrix): ProposedMapping {
  const { rows: ls, cols: lt } = checkRectangular('monotoneMapping', cost);
  if (lt < ls) {
    throw new UserError(
      `a mapping with strictly increasing teacher layers needs a teacher at least as deep as the student (student ${ls}, teacher ${lt})`,
      {
        where: 'student.layers',
        fix: `use at most ${lt} student layers`,
      },
    );
  }
  const best: number[][] = cost.map((r) => r.map(() => Infinity));
  const from: number[][] = cost.map((r) => r.map(() => -1));
  // Student layer s (0-based) can only sit at teacher index s..lt−ls+s: the layers below and
  // above it need room for one teacher layer each.
  for (let t = 0; t <= lt - ls; t++) best[0][t] = cost[0][t];
  for (let s = 1; s < ls; s++) {
    let runMin = Infinity;
    let runArg = -1;
    for (let t = s; t <= lt - ls + s; t++) {
      const prev = best[s - 1][t - 1];
      if (prev < runMin) {
        runMin = prev;
        runArg = t - 1;
      }
      best[s][t] = cost[s][t] + runMin;
      from[s][t] = runArg;
    }
  }
  let t = -1;
  let total = Infinity;
  for (let j = ls - 1; j < lt; j++) {
    if (best[ls - 1][j] < total) {
      total = best[ls - 1][j];
      t = j;
    }
  }
  const pairs: LayerPair[] = [];
  for (let s = ls - 1; s >= 0; s--) {
    pairs.push({ student: s + 1, teacher: t + 1 });
    t = from[s][t];
  }
  return { pairs: pairs.reverse(), total };
}

/**
 * Rescales a matrix to [0, 1] (its minimum to 0, its maximum to 1), so a KL in nats and a cosine
 * distance in [0, 2] weigh alike; a constant matrix becomes all zeros (it prefers no pair).
 */
export function rescale01(m: CostMatrix): CostMatrix {
  checkRectangular('rescale01', m);
  const flat = m.flat();
  const lo = Math.min(...flat);
  const span = Math.max(...flat) - lo;
  return m.map((r) => r.map((x) => (span > 0 ? (x - lo) / span : 0)));
}

/**
 * The advisor's cost: each available matrix rescaled to [0, 1], weighted (the config's
 * losses.attentionKl and losses.clsCosine, so the mapping serves the losses the run will train
 * with) and summed. Terms with weight 0 or without a matrix are left out; when none is left, both
 * count with weight 1.
 */
export function combineCosts(terms: ReadonlyArray<{ matrix: CostMatrix | null; weight: number }>): CostMatrix {
  const present = terms.filter((t): t is { matrix: CostMatrix; weight: number } => t.matrix !== null);
  if (present.length === 0) throw new Error('combineCosts: no cost matrix');
  const weighted = present.filter((t) => t.weight > 0);
  const used = weighted.length ? weighted : present.map((t) => ({ ...t, weight: 1 }));
  const scaled = used.map((t) => ({ m: rescale01(t.matrix), w: t.weight }));
  const { rows, cols } = checkRectangular('combineCosts', used[0].matrix);
  return Array.from({ length: rows }, (_, s) =>
    Array.from({ length: cols }, (_, t) => scaled.reduce((sum, x) => sum + x.w * x.m[s][t], 0)),
  );
}

/** The summed cost of some pairs (a current mapping may leave student layers out). */
export function mappingCost(cost: CostMatrix, pairs: readonly LayerPair[]): number {
  return pairs.reduce((sum, p) => sum + cost[p.student - 1][p.teacher - 1], 0);
}

/** `"mapping": [[1, 2], [2, 4]]`, ready to paste into a *.distill.json config. */
export function mappingSnippet(pairs: readonly LayerPair[]): string {
  return `"mapping": [${pairs.map((p) => `[${p.student}, ${p.teacher}]`).join(', ')}]`;
}

export interface MappingComparison {
  /** The proposal equals the current mapping pair for pair. */
  same: boolean;
  /** Student layers whose teacher differs (or that the current mapping leaves out). */
  changed: Array<{ student: number; current: number | null; proposed: number }>;
  currentCost: number;
  proposedCost: number;
  /** Student layers the current mapping leaves unmapped. */
  unmapped: number[];
}

export function compareMappings(
  cost: CostMatrix,
  current: readonly LayerPair[],
  proposed: readonly LayerPair[],
): MappingComparison {
  const cur = new Map(current.map((p) => [p.student, p.teacher]));
  const changed = proposed
    .filter((p) => cur.get(p.student) !== p.teacher)
    .map((p) => ({ student: p.student, current: cur.get(p.student) ?? null, proposed: p.teacher }));
  return {
    same: changed.length === 0 && current.length === proposed.length,
    changed,
    currentCost: mappingCost(cost, current),
    proposedCost: mappingCost(cost, proposed),
    unmapped: proposed.filter((p) => !cur.has(p.student)).map((p) => p.student),
  };
}
