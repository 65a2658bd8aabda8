/** The advisor's dynamic programme and cost combination on hand-made matrices, checked against brute force. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  combineCosts,
  compareMappings,
  CostMatrix,
  mappingSnippet,
  monotoneMapping,
  rescale01,
} from '../../src/distill/mapping-advisor';
import { isUserError } from '../../src/util/errors';

const teachers = (m: { pairs: { teacher: number }[] }) => m.pairs.map((p) => p.teacher);

/** Every strictly increasing choice of teacher layers, the cheapest first (earliest on ties). */
function bruteForce(cost: CostMatrix): { teachers: number[]; total: number } {
  const ls = cost.length;
  const lt = cost[0].length;
  let best = { teachers: [] as number[], total: Infinity };
  const walk = (s: number, from: number, chosen: number[], sum: number): void => {
    if (s === ls) {
      if (sum < best.total) best = { teachers: [...chosen], total: sum };
      return;
    }
    for (let t = from; t < lt; t++) walk(s + 1, t + 1, [...chosen, t + 1], sum + cost[s][t]);
  };
  walk(0, 0, [], 0);
  return best;
}

test('the cheapest monotone path, even when the per-row minima are not monotone', () => {
  // Row minima: s1 → t3, s2 → t2, which is not increasing.
  const cost = [
    [0.5, 0.4, 0.0, 0.9],
    [0.6, 0.0, 0.7, 0.8],
  ];
  const m = monotoneMapping(cost);
  assert.equal(m.total, bruteForce(cost).total);
  assert.deepEqual(teachers(m), bruteForce(cost).teachers);
  // s1→t1 + s2→t2 = 0.5, s1→t2 + s2→t3 = 1.1, s1→t3 + s2→t4 = 0.8: the first wins.
  assert.deepEqual(teachers(m), [1, 2]);
  assert.ok(Math.abs(m.total - 0.5) < 1e-12);
});

test('a clear diagonal is found: student k ↔ teacher 2k', () => {
  const cost = Array.from({ length: 3 }, (_, s) =>
    Array.from({ length: 6 }, (_, t) => Math.abs(t + 1 - 2 * (s + 1)) + 0.1),
  );
  assert.deepEqual(teachers(monotoneMapping(cost)), [2, 4, 6]);
});

test('ties go to the earlier teacher layers', () => {
  assert.deepEqual(
    teachers(
      monotoneMapping([
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ]),
    ),
    [1, 2],
  );
  assert.deepEqual(
    teachers(
      monotoneMapping([
        [1, 0, 0, 1],
        [1, 1, 0, 0],
      ]),
    ),
    [2, 3],
  );
  assert.deepEqual(teachers(monotoneMapping([[5, 5, 5]])), [1]);
});

test('L_S = L_T has one monotone mapping, the identity, whatever the costs', () => {
  const cost = [
    [9, 0, 0],
    [0, 9, 0],
    [0, 0, 9],
  ];
  const m = monotoneMapping(cost);
  assert.deepEqual(teachers(m), [1, 2, 3]);
  assert.equal(m.total, 27);
});

test('L_S = 1 picks the cheapest teacher layer', () => {
  assert.deepEqual(monotoneMapping([[0.3, 0.2, 0.05, 0.2]]).pairs, [{ student: 1, teacher: 3 }]);
});

test('matches brute force on random matrices', () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 200; trial++) {
    const ls = 1 + Math.floor(rand() * 4);
    const lt = ls + Math.floor(rand() * 4);
    // Coarse values make ties common.
    const cost = Array.from({ length: ls }, () => Array.from({ length: lt }, () => Math.floor(rand() * 4)));
    const m = monotoneMapping(cost);
    const b = bruteForce(cost);
    assert.equal(m.total, b.total, JSON.stringify(cost));
    assert.deepEqual(teachers(m), b.teachers, JSON.stringify(cost));
    for (let i = 1; i < m.pairs.length; i++) assert.ok(m.pairs[i].teacher > m.pairs[i - 1].teacher);
  }
});

test('a student deeper than its teacher is a user error naming student.layers', () => {
  assert.throws(
    () => monotoneMapping([[0], [0]]),
    (e) => isUserError(e) && e.where === 'student.layers',
  );
});

test('costs are rescaled to [0, 1] and weighted; weight 0 drops a term; no weights → both', () => {
  assert.deepEqual(
    rescale01([
      [2, 4],
      [6, 10],
    ]),
    [
      [0, 0.25],
      [0.5, 1],
    ],
  );
  assert.deepEqual(rescale01([[3, 3]]), [[0, 0]]);
  const kl = [
    [0, 10],
    [10, 0],
  ];
  const cos = [
    [0.2, 0.1],
    [0.1, 0.2],
  ];
  assert.deepEqual(
    combineCosts([
      { matrix: kl, weight: 1 },
      { matrix: cos, weight: 1 },
    ]),
    [
      [1, 1],
      [1, 1],
    ],
  );
  assert.deepEqual(
    combineCosts([
      { matrix: kl, weight: 2 },
      { matrix: cos, weight: 0 },
    ]),
    [
      [0, 2],
      [2, 0],
    ],
  );
  assert.deepEqual(
    combineCosts([
      { matrix: kl, weight: 0 },
      { matrix: cos, weight: 0 },
    ]),
    [
      [1, 1],
      [1, 1],
    ],
  );
  assert.deepEqual(
    combineCosts([
      { matrix: kl, weight: 1 },
      { matrix: null, weight: 1 },
    ]),
    [
      [0, 1],
      [1, 0],
    ],
  );
});

test('the snippet and the comparison with the current mapping', () => {
  const cost = [
    [0, 1, 2, 3],
    [3, 2, 1, 0],
  ];
  const proposed = monotoneMapping(cost).pairs;
  assert.equal(mappingSnippet(proposed), '"mapping": [[1, 1], [2, 4]]');
  const c = compareMappings(
    cost,
    [
      { student: 1, teacher: 2 },
      { student: 2, teacher: 4 },
    ],
    proposed,
  );
  assert.equal(c.same, false);
  assert.deepEqual(c.changed, [{ student: 1, current: 2, proposed: 1 }]);
  assert.equal(c.currentCost, 1);
  assert.equal(c.proposedCost, 0);
  const partial = compareMappings(cost, [{ student: 2, teacher: 4 }], proposed);
  assert.deepEqual(partial.unmapped, [1]);
  assert.equal(partial.same, false);
  assert.equal(compareMappings(cost, proposed, proposed).same, true);
});
