/**
 * Layer mapping: which teacher layer each student layer learns from (both 1-based, layer k being
 * the output of the k-th transformer block).
 */
import { MAPPING_STRATEGIES, type LayerPairSpec, type MappingSpec } from '../config/types';
import { UserError } from '../util/errors';

export type { MappingSpec };

/** A resolved pair; configs and events write it as a LayerPairSpec, [student, teacher]. */
export interface LayerPair {
  student: number;
  teacher: number;
}

export function pairSpec(p: LayerPair): LayerPairSpec {
  return [p.student, p.teacher];
}

/**
 * - 'every-other': k ↔ 2k; needs L_T = 2·L_S (the paper's 6-of-12 setting).
 * - 'uniform':     k ↔ floor(k·L_T / L_S); needs L_T ≥ L_S, so teacher layers are ≥ 1 and strictly
 *                  increasing, and the top layers always meet (L_S ↔ L_T).
 * - 'last-layers': k ↔ L_T − L_S + k (the student copies the teacher's top block of layers).
 * - explicit [[student, teacher], ...]: any subset of student layers, each at most once.
 */
export const NAMED_MAPPINGS = MAPPING_STRATEGIES;

function assertLayerCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`resolveMapping: ${what} must be a positive integer, got ${n}`);
}

function isInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x);
}

function resolveExplicit(spec: unknown[], studentLayers: number, teacherLayers: number): LayerPair[] {
  if (spec.length === 0) {
    throw new UserError('the layer mapping is empty', {
      where: 'mapping',
      fix: `give at least one [student, teacher] pair, or use "uniform"`,
    });
  }
  const seen = new Map<number, number>();
  const pairs: LayerPair[] = [];
  spec.forEach((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new UserError('each mapping entry must be a [student layer, teacher layer] pair', {
        where: `mapping[${i}]`,
        fix: 'write it as [k, m], e.g. [1, 2]',
      });
    }
    const [student, teacher] = entry as unknown[];
    const limits: Array<[unknown, number, string]> = [
      [student, studentLayers, 'student'],
      [teacher, teacherLayers, 'teacher'],
    ];
    limits.forEach(([layer, count, who], j) => {
      if (!isInteger(layer)) {
        throw new UserError(`the ${who} layer must be an integer, got ${JSON.stringify(layer)}`, {
          where: `mapping[${i}][${j}]`,
          fix: `use a whole number from 1 to ${count}`,
        });
      }
      if (layer < 1 || layer > count) {
        throw new UserError(`${who} layer ${layer} does not exist (the ${who} has ${count} layers, numbered from 1)`, {
          where: `mapping[${i}][${j}]`,
          fix: `use a ${who} layer from 1 to ${count}`,
        });
      }
    });
    const s = student as number;
    const t = teacher as number;
    const earlier = seen.get(s);
    if (earlier !== undefined) {
      throw new UserError(`student layer ${s} is mapped twice (also at mapping[${earlier}])`, {
        where: `mapping[${i}][0]`,
        fix: 'map each student layer to at most one teacher layer; remove one of the pairs',
      });
    }
    seen.set(s, i);
    pairs.push({ student: s, teacher: t });
  });
  return pairs.sort((a, b) => a.student - b.student);
}

/**
 * Expands a mapping spec for a student with `studentLayers` and a teacher with `teacherLayers`
 * into pairs sorted by student layer. Named strategies map every student layer; explicit lists
 * may leave some unmapped. Bad specs raise UserError with `where` = 'mapping' or 'mapping[i][j]'.
 */
export function resolveMapping(spec: MappingSpec, studentLayers: number, teacherLayers: number): LayerPair[] {
  assertLayerCount('studentLayers', studentLayers);
  assertLayerCount('teacherLayers', teacherLayers);
  if (Array.isArray(spec)) return resolveExplicit(spec, studentLayers, teacherLayers);

  const ks = Array.from({ length: studentLayers }, (_, i) => i + 1);
  if (spec === 'every-other') {
    if (teacherLayers !== 2 * studentLayers) {
      throw new UserError(
        `"every-other" needs a teacher with exactly twice the student's layers (student ${studentLayers}, teacher ${teacherLayers})`,
        {
          where: 'mapping',
          fix: '"uniform" spreads the student layers evenly over any deeper teacher; or list the pairs explicitly',
        },
      );
    }
    return ks.map((k) => ({ student: k, teacher: 2 * k }));
  }
  if (spec === 'uniform' || spec === 'last-layers') {
    if (teacherLayers < studentLayers) {
      throw new UserError(
        `"${spec}" needs a teacher at least as deep as the student (student ${studentLayers}, teacher ${teacherLayers})`,
        {
          where: 'mapping',
          fix: 'list the pairs explicitly, e.g. [[1, 1], [2, 2]], leaving extra student layers unmapped',
        },
      );
    }
    // With L_T ≥ L_S, floor(k·L_T/L_S) rises by ≥ 1 per step and starts at ≥ 1.
    return spec === 'uniform'
      ? ks.map((k) => ({ student: k, teacher: Math.floor((k * teacherLayers) / studentLayers) }))
      : ks.map((k) => ({ student: k, teacher: teacherLayers - studentLayers + k }));
  }
  throw new UserError(`unknown layer mapping ${JSON.stringify(spec)}`, {
    where: 'mapping',
    fix: `use one of ${NAMED_MAPPINGS.map((m) => `"${m}"`).join(', ')} or a list of [student, teacher] pairs`,
  });
}

export function describePair(p: LayerPair): string {
  return `student ${p.student} ↔ teacher ${p.teacher}`;
}
