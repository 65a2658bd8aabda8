import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePair, resolveMapping, type LayerPair, type MappingSpec } from '../../src/distill/mapping';
import { UserError } from '../../src/util/errors';

const pairs = (...xs: Array<[number, number]>): LayerPair[] => xs.map(([student, teacher]) => ({ student, teacher }));

function assertUserError(fn: () => unknown, where: string, message: RegExp, fix?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.equal(e.where, where);
    assert.match(e.message, message);
    if (fix) assert.match(e.fix ?? '', fix);
    return true;
  });
}

test('every-other maps k ↔ 2k and needs L_T = 2·L_S', () => {
  assert.deepEqual(resolveMapping('every-other', 6, 12), pairs([1, 2], [2, 4], [3, 6], [4, 8], [5, 10], [6, 12]));
  assert.deepEqual(resolveMapping('every-other', 2, 4), pairs([1, 2], [2, 4]));
  assertUserError(
    () => resolveMapping('every-other', 4, 12),
    'mapping',
    /twice the student's layers \(student 4, teacher 12\)/,
    /uniform/,
  );
});

test('uniform maps k ↔ floor(k·L_T/L_S), strictly increasing, top layers meet', () => {
  assert.deepEqual(resolveMapping('uniform', 6, 12), pairs([1, 2], [2, 4], [3, 6], [4, 8], [5, 10], [6, 12]));
  // 4 of 12: floor(3k) = 3, 6, 9, 12
  assert.deepEqual(resolveMapping('uniform', 4, 12), pairs([1, 3], [2, 6], [3, 9], [4, 12]));
  // 5 of 12: floor(12k/5) = floor(2.4) 2, floor(4.8) 4, floor(7.2) 7, floor(9.6) 9, 12
  assert.deepEqual(resolveMapping('uniform', 5, 12), pairs([1, 2], [2, 4], [3, 7], [4, 9], [5, 12]));
  // 3 of 4: floor(4/3) 1, floor(8/3) 2, 4
  assert.deepEqual(resolveMapping('uniform', 3, 4), pairs([1, 1], [2, 2], [3, 4]));
  assert.deepEqual(resolveMapping('uniform', 3, 3), pairs([1, 1], [2, 2], [3, 3]));
  for (let ls = 1; ls <= 12; ls++) {
    for (let lt = ls; lt <= 24; lt++) {
      const m = resolveMapping('uniform', ls, lt);
      assert.equal(m.length, ls);
      assert.ok(m[0].teacher >= 1);
      assert.equal(m[ls - 1].teacher, lt);
      for (let i = 1; i < m.length; i++)
        assert.ok(m[i].teacher > m[i - 1].teacher, `uniform ${ls}/${lt} not increasing`);
    }
  }
  assertUserError(() => resolveMapping('uniform', 6, 4), 'mapping', /at least as deep/, /explicitly/);
});

test('last-layers maps k ↔ L_T − L_S + k', () => {
  assert.deepEqual(resolveMapping('last-layers', 6, 12), pairs([1, 7], [2, 8], [3, 9], [4, 10], [5, 11], [6, 12]));
  assert.deepEqual(resolveMapping('last-layers', 2, 4), pairs([1, 3], [2, 4]));
  assertUserError(() => resolveMapping('last-layers', 5, 4), 'mapping', /at least as deep/);
});

test('explicit pairs are validated and sorted by student layer; layers may be left unmapped', () => {
  assert.deepEqual(
    resolveMapping(
      [
        [3, 12],
        [1, 4],
      ],
      4,
      12,
    ),
    pairs([1, 4], [3, 12]),
  );
  // Two student layers may learn from the same teacher layer.
  assert.deepEqual(
    resolveMapping(
      [
        [1, 6],
        [2, 6],
      ],
      2,
      12,
    ),
    pairs([1, 6], [2, 6]),
  );
});

test('explicit pairs: errors name the offending element and say how to fix it', () => {
  assertUserError(
    () =>
      resolveMapping(
        [
          [1, 2],
          [7, 4],
        ],
        6,
        12,
      ),
    'mapping[1][0]',
    /student layer 7 does not exist \(the student has 6 layers/,
    /1 to 6/,
  );
  assertUserError(
    () =>
      resolveMapping(
        [
          [1, 2],
          [2, 4],
          [3, 13],
        ],
        6,
        12,
      ),
    'mapping[2][1]',
    /teacher layer 13 does not exist/,
    /1 to 12/,
  );
  assertUserError(() => resolveMapping([[0, 2]], 6, 12), 'mapping[0][0]', /student layer 0 does not exist/);
  assertUserError(
    () =>
      resolveMapping(
        [
          [1, 2],
          [2, 4],
          [1, 6],
        ],
        6,
        12,
      ),
    'mapping[2][0]',
    /student layer 1 is mapped twice \(also at mapping\[0\]\)/,
    /at most one/,
  );
  assertUserError(() => resolveMapping([[1.5, 2]], 6, 12), 'mapping[0][0]', /must be an integer, got 1.5/);
  assertUserError(
    () => resolveMapping([[1, '2']] as unknown as MappingSpec, 6, 12),
    'mapping[0][1]',
    /teacher layer must be an integer, got "2"/,
  );
  assertUserError(() => resolveMapping([[1, 2, 3]] as unknown as MappingSpec, 6, 12), 'mapping[0]', /pair/, /\[k, m\]/);
  assertUserError(() => resolveMapping([], 6, 12), 'mapping', /empty/);
  assertUserError(
    () => resolveMapping('alternate' as MappingSpec, 6, 12),
    'mapping',
    /unknown layer mapping "alternate"/,
    /every-other/,
  );
});

test('describePair reads student ↔ teacher', () => {
  assert.equal(describePair({ student: 3, teacher: 6 }), 'student 3 ↔ teacher 6');
});
