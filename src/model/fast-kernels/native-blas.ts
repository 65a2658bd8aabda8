/**
 * Loads the optional native BLAS addon (native/*.c, built by `node native/build.mjs`). It is
 * optional: when it is missing or fails to load, `loadNativeBlas()` says why and the matrix
 * kernels stay on the pure-wasm path.
 *
 * DISTILLERY_NATIVE_BLAS: a path to the .node file to load instead, or "off" to never load it.
 * DISTILLERY_ELEMENTWISE_THREADS: threads for its element-wise kernels (default: one per core).
 * OPENBLAS_NUM_THREADS: threads for the products (OpenBLAS's own setting).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NativeBlas {
  /**
   * For i in [0, batch): C_i = op(A_i)·op(B_i) (+ bias on every row), row-major, operands starting
   * at element offset + i·stride of their arrays (stride 0 repeats one matrix). Runs on the arrays'
   * memory: a view of the wasm heap works without copying.
   */
  sgemm(
    a: Float32Array,
    aOff: number,
    b: Float32Array,
    bOff: number,
    c: Float32Array,
    cOff: number,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
    bias: Float32Array | null,
    biasOff: number,
  ): void;
  setThreads(n: number): void;
  threads(): number;
  /** The library's own description, e.g. "OpenBLAS 0.3.21 … Haswell MAX_THREADS=64". */
  config(): string;
  /**
   * out[r·cols + j] = a[aOff + r·aRs + j·aCs] op b[bOff + r·bRs + j·bCs] (op 0 add, 1 sub, 2 mul,
   * 3 div): strides (cols, 1) for a full operand, (0, 0) a scalar, (0, 1) a repeated row, (1, 0)
   * one value per row.
   */
  binary(
    op: number,
    a: Float32Array,
    aOff: number,
    aRs: number,
    aCs: number,
    b: Float32Array,
    bOff: number,
    bRs: number,
    bCs: number,
    out: Float32Array,
    outOff: number,
    rows: number,
    cols: number,
  ): void;
  /** x·½(1 + erf(x/√2)) over n values. */
  gelu(x: Float32Array, xOff: number, out: Float32Array, outOff: number, n: number): void;
  /** dy·(Φ(x) + x·φ(x)) over n values. */
  geluGrad(
    dy: Float32Array,
    dyOff: number,
    x: Float32Array,
    xOff: number,
    out: Float32Array,
    outOff: number,
    n: number,
  ): void;
  /** Row-wise LayerNorm of x [rows, cols] (views from offset 0). */
  layerNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    out: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** x·1/(1 − rate) where the counter-based uniform of (seed, index) is ≥ rate, else 0. */
  dropout(x: Float32Array, out: Float32Array, n: number, rate: number, seedHi: number, seedLo: number): void;
  /** out[j] = Σ_r x[r·cols + j] (accumulated in double), views from offset 0. */
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /**
   * Σ over query rows whose mask is set and keys whose mask is set of t·ln max(t, tEps) −
   * t·ln max(s, eps), summed in double; t and s [batch, heads, q, k], mask [batch, k], q = k.
   */
  attentionKl(
    t: Float32Array,
    s: Float32Array,
    mask: Float32Array,
    batch: number,
    heads: number,
    q: number,
    k: number,
    eps: number,
    tEps: number,
  ): number;
  /** scale·∂/∂s of attentionKl's sum: −scale·t/s where both masks are set and s ≥ eps, else 0. */
  attentionKlGrad(
    t: Float32Array,
    s: Float32Array,
    mask: Float32Array,
    out: Float32Array,
    batch: number,
    heads: number,
    q: number,
    k: number,
    eps: number,
    scale: number,
  ): void;
  /** Softmax of each row of x [rows, cols]. */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** y·(dy − Σ dy·y) per row. */
  softmaxGrad(dy: Float32Array, y: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** One AdamW update of n values (src/train/optimizer.ts); decay NaN for none. Scalars are rounded to float32. */
  adamw(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    pOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    n: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    biasCorrection2Sqrt: number,
    eps: number,
    stepSize: number,
    decay: number,
  ): void;
  /** out (row-major, `shape`)[i0, …] = x[offset + Σ i_a·strides[a]], up to 6 axes: a transpose or a slice. */
  stridedCopy(x: Float32Array, offset: number, out: Float32Array, shape: number[], strides: number[]): void;
  /** out[i, :] = x[ids[i], :] for rows of `inner` values (x has `rows` rows; ids are range-checked). */
  gatherRows(x: Float32Array, rows: number, ids: Int32Array, out: Float32Array, inner: number): void;
  /** Σ x² over n values (float sums of 1 024 squares, added in double). */
  sumSquares(x: Float32Array, n: number): number;
  setElementwiseThreads(n: number): void;
  elementwiseThreads(): number;
}

export interface NativeBlasStatus {
  blas: NativeBlas | null;
  /** The file that was loaded. */
  path?: string;
  /** Why there is no addon. */
  reason?: string;
}

/** A developer's build (native/build.mjs, linked to the system's OpenBLAS). */
const ADDON = path.join('native', 'build', 'distillery_blas.node');
/** What a platform package of the extension ships (native/build-portable.mjs, OpenBLAS linked in). */
export const PREBUILT_ADDON = path.join(
  'native',
  'prebuilds',
  `${process.platform}-${process.arch}`,
  'distillery_blas.node',
);

/**
 * The addon next to the sources (src/model/fast-kernels → repo) or the bundle (dist → repo or the
 * installed extension); at each level a developer's own build wins over the prebuilt one.
 */
function candidates(): string[] {
  const out: string[] = [];
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    out.push(path.join(dir, ADDON), path.join(dir, PREBUILT_ADDON));
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

function isNativeBlas(x: unknown): x is NativeBlas {
  const o = x as Partial<NativeBlas> | null;
  return (
    !!o &&
    typeof o.sgemm === 'function' &&
    typeof o.setThreads === 'function' &&
    typeof o.config === 'function' &&
    typeof o.binary === 'function' &&
    typeof o.gelu === 'function' &&
    typeof o.geluGrad === 'function' &&
    typeof o.layerNorm === 'function' &&
    typeof o.layerNormGrad === 'function' &&
    typeof o.dropout === 'function' &&
    typeof o.sumRows === 'function' &&
    typeof o.attentionKl === 'function' &&
    typeof o.attentionKlGrad === 'function' &&
    typeof o.softmax === 'function' &&
    typeof o.softmaxGrad === 'function' &&
    typeof o.adamw === 'function' &&
    typeof o.stridedCopy === 'function' &&
    typeof o.gatherRows === 'function' &&
    typeof o.sumSquares === 'function'
  );
}

let cached: NativeBlasStatus | undefined;

export function loadNativeBlas(): NativeBlasStatus {
  if (cached) return cached;
  const override = process.env.DISTILLERY_NATIVE_BLAS;
  if (override && /^(off|0|false|no)$/i.test(override)) {
    cached = { blas: null, reason: 'turned off by DISTILLERY_NATIVE_BLAS' };
    return cached;
  }
  const file = override || candidates().find((p) => fs.existsSync(p));
  if (!file) {
    cached = {
      blas: null,
      reason: `not in this install (no ${ADDON} or ${PREBUILT_ADDON}): install the extension's ${process.platform}-${process.arch} package, or run \`node native/build.mjs\` in a checkout (needs a C compiler and libopenblas-dev)`,
    };
    return cached;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod: unknown = require(file);
    if (!isNativeBlas(mod))
      throw new Error('it lacks functions this version needs; rebuild it with `node native/build.mjs --force`');
    // Threads for the element-wise kernels (default: one per core).
    const ew = Number(process.env.DISTILLERY_ELEMENTWISE_THREADS);
    if (Number.isInteger(ew) && ew >= 1) mod.setElementwiseThreads(Math.min(ew, 16));
    cached = { blas: mod, path: file };
  } catch (e) {
    cached = {
      blas: null,
      path: file,
      reason: `failed to load ${file}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`,
    };
  }
  return cached;
}
