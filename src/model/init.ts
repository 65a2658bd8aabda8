/**
 * Seeded random numbers for weight initialisation, computed in JS so that a seed gives the same
 * weights on every backend. Each tensor draws from its own stream, keyed by (seed, name), so
 * adding or removing a tensor does not shift the values of the others.
 */

/** FNV-1a over the characters of `s`, mixed with `seed`, as a 32-bit unsigned integer. */
function hashSeed(seed: number, s: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  h = Math.imul(h, 0x01000193) >>> 0;
  // Seeds beyond 32 bits still matter: fold the high part in too.
  h = Math.imul(h ^ (Math.floor(seed / 2 ** 32) >>> 0), 0x01000193) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** xoshiro128** seeded through splitmix32; returns uniforms in [0, 1). */
export function seededUniform(seed: number, stream = ''): () => number {
  let x = hashSeed(seed, stream);
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(),
    b = splitmix(),
    c = splitmix(),
    d = splitmix();
  return () => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    return r / 2 ** 32;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** `n` draws from N(0, std²) (Box–Muller), as Hugging Face's `normal_` initialiser does. */
export function seededNormal(n: number, std: number, seed: number, stream: string): Float32Array {
  const u = seededUniform(seed, stream);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - u(); // (0, 1]: log stays finite
    const u2 = u();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
