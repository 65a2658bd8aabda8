/**
 * Batching: padding tokenised examples into rectangular arrays, and the (seeded, resumable) order
 * in which examples are visited.
 */
import type { Encoding } from './encoding';

/** A padded batch; every [size, seqLen] array is row-major. */
export interface Batch {
  size: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** 1 for a real token, 0 for padding. */
  attentionMask: Int32Array;
  /** Class id or score per row; NaN when unlabelled. */
  labels: Float32Array;
  /** Example.index of each row. */
  indices: number[];
}

/**
 * Pads the encodings to the longest one in the batch (not to a global maximum, so short batches
 * stay cheap). Padding uses `padId`, token type 0 and mask 0.
 */
export function makeBatch(encodings: Encoding[], labels: (number | null)[], indices: number[], padId: number): Batch {
  const size = encodings.length;
  if (size === 0) throw new Error('makeBatch: no encodings');
  if (labels.length !== size || indices.length !== size) {
    throw new Error(`makeBatch: ${size} encodings but ${labels.length} labels and ${indices.length} indices`);
  }
  let seqLen = 0;
  for (const e of encodings) {
    if (e.tokenTypeIds.length !== e.inputIds.length)
      throw new Error('makeBatch: inputIds and tokenTypeIds differ in length');
    seqLen = Math.max(seqLen, e.inputIds.length);
  }
  const inputIds = new Int32Array(size * seqLen).fill(padId);
  const tokenTypeIds = new Int32Array(size * seqLen);
  const attentionMask = new Int32Array(size * seqLen);
  const labelArr = new Float32Array(size);
  for (let r = 0; r < size; r++) {
    const e = encodings[r];
    const off = r * seqLen;
    inputIds.set(e.inputIds, off);
    tokenTypeIds.set(e.tokenTypeIds, off);
    attentionMask.fill(1, off, off + e.inputIds.length);
    const l = labels[r];
    labelArr[r] = l === null ? NaN : l;
  }
  return { size, seqLen, inputIds, tokenTypeIds, attentionMask, labels: labelArr, indices: [...indices] };
}

/** A seeded random number generator whose state can be saved in a checkpoint and restored exactly. */
export interface Rng {
  /** Uniform in [0, 1), 32 bits of randomness. */
  next(): number;
  /** Four unsigned 32-bit integers. */
  getState(): number[];
  setState(state: readonly number[]): void;
}

/** splitmix32: spreads a seed over the state so that nearby seeds give unrelated streams. */
function splitmix32(x: number): [next: number, out: number] {
  const a = (x + 0x9e3779b9) | 0;
  let t = a ^ (a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return [a, t >>> 0];
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/**
 * xoshiro128** (Blackman and Vigna), seeded through splitmix32. The seed is taken modulo 2^32
 * after truncation to an integer.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
  const s = new Uint32Array(4);
  let x = Math.trunc(seed) >>> 0;
  for (let i = 0; i < 4; i++) {
    const [nx, out] = splitmix32(x);
    x = nx;
    s[i] = out;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
  return {
    next(): number {
      const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9);
      const t = s[1] << 9;
      s[2] ^= s[0];
      s[3] ^= s[1];
      s[1] ^= s[2];
      s[0] ^= s[3];
      s[2] ^= t;
      s[3] = rotl(s[3], 11);
      return (result >>> 0) / 4294967296;
    },
    getState: () => Array.from(s),
    setState(state: readonly number[]): void {
      if (
        state.length !== 4 ||
        state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff) ||
        state.every((v) => v === 0)
      ) {
        throw new RangeError(
          `Rng.setState: expected four unsigned 32-bit integers, not all zero; got ${JSON.stringify(state)}`,
        );
      }
      s.set(state);
    },
  };
}

/** Fisher–Yates shuffle driven by `rng`; returns the same array. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * The example indices 0..n-1 grouped into batches of `batchSize` (the last may be smaller),
 * shuffled with a fresh RNG from `seed` when `shuffle` is set. Same arguments, same order.
 */
export function batchOrder(n: number, batchSize: number, shuffle: boolean, seed: number): number[][] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`batchOrder: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchOrder: batchSize must be a positive integer, got ${batchSize}`);
  const order = Array.from({ length: n }, (_, i) => i);
  if (shuffle) shuffleInPlace(order, createRng(seed));
  const batches: number[][] = [];
  for (let i = 0; i < n; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}
