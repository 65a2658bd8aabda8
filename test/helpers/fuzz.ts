/**
 * Settings shared by the property-based (fuzz) tests, and the one way they run a property.
 *
 * - FUZZ_RUNS=N runs every property N times instead of its default (e.g. 100 for a quick look,
 *   100000 for a long hunt);
 * - FUZZ_SEED=S (and FUZZ_PATH=P) replay a failure: fast-check's error, which node:test prints,
 *   names both ("seed: S, path: P"), together with the shrunk counterexample and the property's
 *   own assertion. Select the failing test with --test-name-pattern when replaying: the path
 *   belongs to that one property.
 */
import fc from 'fast-check';

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** The run count for a property: FUZZ_RUNS when set, else `dflt`. */
export function fuzzRuns(dflt: number): number {
  const n = envInt('FUZZ_RUNS');
  if (n !== undefined && n < 1) throw new Error(`FUZZ_RUNS must be at least 1, got ${n}`);
  return n ?? dflt;
}

/**
 * fc.assert with the run count and replay settings above. On failure fast-check throws an Error
 * whose message holds the seed, the path and the counterexample; the FUZZ_SEED line is added so
 * that the replay command can be copied from the test output.
 */
export function checkProperty<Ts>(property: fc.IProperty<Ts>, defaultRuns: number): void {
  const seed = envInt('FUZZ_SEED');
  const replayPath = process.env.FUZZ_PATH;
  try {
    fc.assert(property, {
      numRuns: fuzzRuns(defaultRuns),
      ...(seed !== undefined ? { seed } : {}),
      ...(replayPath ? { path: replayPath } : {}),
      // Long generated texts make counterexamples hard to read; shrinking keeps them small.
      verbose: 0,
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const m = /seed: (-?\d+), path: "([^"]*)"/.exec(message);
    // The seed and path replay this property only: select its test by name.
    const replay = m
      ? `\nreplay: FUZZ_SEED=${m[1]} FUZZ_PATH=${m[2]} node --import tsx --test --test-name-pattern='<this test>' <this test file>`
      : '';
    // fast-check keeps the property's own failure as the cause; show it, it says what went wrong.
    const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
    const why = cause instanceof Error ? `\nthe property failed with: ${cause.stack ?? cause.message}` : '';
    throw new Error(`${message}${replay}${why}`, { cause: e });
  }
}

/** Numbers that break arithmetic: huge, tiny, negative zero, beyond exact integers, not integers. */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 53 + 2,
    Number.MAX_SAFE_INTEGER,
    4294967295,
    1e-300,
    48,
    49,
    512,
    513,
    4096,
    4097,
    1000,
    1001,
    1e7,
    1e9,
  ),
  fc.integer({ min: -10, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any JSON value, with nasty numbers more likely than fast-check's default mix. */
export const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: nastyNumber, weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 3 },
  {
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      '',
      'x',
      '1e308',
      'custom',
      '../..',
      '/',
      [],
      {},
      [[1, 1]],
      [[0, 99]],
    ),
    weight: 2,
  },
);
