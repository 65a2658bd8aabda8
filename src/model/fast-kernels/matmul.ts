/**
 * Matrix-product kernels (BatchMatMul, _FusedMatMul) that replace the stock ones of the wasm and
 * cpu backends. Forward and backward passes of BERT are made of products, and the stock wasm
 * kernel is fast (XNNPACK) only for an untransposed 2-D product: a transposed operand or a batch
 * dimension falls onto a scalar loop 10-70× slower (../../../../shared/notes/tfjs-performance.md),
 * and backward passes are full of exactly those. Two replacements:
 *
 * - `blas`: every product goes to the native addon's sgemm (OpenBLAS), which handles transposes
 *   and batches itself, reading the operands in place from the wasm heap (or the cpu backend's
 *   arrays) and writing the result straight into the output tensor.
 * - `untransposed` (wasm, no addon needed): transposed operands are transposed explicitly first,
 *   batched products run as a loop of 2-D products, so every product takes XNNPACK's fast path.
 *
 * Both compute the same sums as the stock kernels, in a different order: results agree to float32
 * rounding, not bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas';

type Info = tf.TensorInfo;

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use (typed structurally). */
export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  disposeData(dataId: object): boolean;
}

/** The parts of tfjs-backend-cpu's MathBackendCPU these kernels use. */
export interface CpuBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): Info;
}

export function isWasmBackend(b: unknown): b is WasmBackendLike {
  const o = b as Partial<WasmBackendLike> | null;
  return !!o && typeof o.makeOutput === 'function' && !!o.wasm && !!o.dataIdMap;
}

export function isCpuBackend(b: unknown): b is CpuBackendLike {
  const o = b as Partial<CpuBackendLike> | null;
  return !!o && typeof o.makeTensorInfo === 'function' && typeof o.readSync === 'function' && !isWasmBackend(b);
}

/** Sizes of op(A)·op(B) with broadcast batch dimensions. */
export interface MatMulGeometry {
  m: number;
  n: number;
  k: number;
  /** Broadcast batch shape followed by [m, n]. */
  outShape: number[];
  batch: number;
  batchA: number;
  batchB: number;
  /** For output batch i, the batch index of A and of B (when `sameOrSharedBatch`). */
  indexA(i: number): number;
  indexB(i: number): number;
}

export function matMulGeometry(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulGeometry {
  if (aShape.length < 2 || bShape.length < 2)
    throw new Error(`matMul: operands must have rank ≥ 2, got [${aShape}] and [${bShape}]`);
  const ar = aShape.length;
  const br = bShape.length;
  const m = transposeA ? aShape[ar - 1] : aShape[ar - 2];
  const k = transposeA ? aShape[ar - 2] : aShape[ar - 1];
  const kB = transposeB ? bShape[br - 1] : bShape[br - 2];
  const n = transposeB ? bShape[br - 2] : bShape[br - 1];
  if (k !== kB) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${aShape} and ${bShape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = tf.util.sizeFromShape(outer);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  return {
    m,
    n,
    k,
    outShape: [...outer, m, n],
    batch,
    batchA,
    batchB,
    indexA: (i) => (batchA === 1 ? 0 : i),
    indexB: (i) => (batchB === 1 ? 0 : i),
  };
}

/**
 * Runs the product on Float32Array memory through sgemm: one call when the batch layout allows
 * (equal batches, or a shared B folded into A's rows), one per output matrix otherwise.
 */
function sgemmInto(
  blas: NativeBlas,
  g: MatMulGeometry,
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  c: Float32Array,
  cOff: number,
  transposeA: boolean,
  transposeB: boolean,
  bias: Float32Array | null,
  biasOff: number,
): void {
  const { m, n, k, batch, batchA, batchB } = g;
  const sA = m * k;
  const sB = k * n;
  const sC = m * n;
  if (batchB === 1 && batchA === batch && !transposeA) {
    // [batch, m, k]·[k, n] is one [batch·m, k]·[k, n] product.
    blas.sgemm(a, aOff, b, bOff, c, cOff, false, transposeB, batch * m, n, k, 1, 0, 0, 0, bias, biasOff);
  } else if (batchA === batch && batchB === batch) {
    blas.sgemm(a, aOff, b, bOff, c, cOff, transposeA, transposeB, m, n, k, batch, sA, sB, sC, bias, biasOff);
  } else if (batchA === 1 || batchB === 1) {
    blas.sgemm(
      a,
      aOff,
      b,
      bOff,
      c,
      cOff,
      transposeA,
      transposeB,
      m,
      n,
      k,
      batch,
      batchA === 1 ? 0 : sA,
      batchB === 1 ? 0 : sB,
      sC,
      bias,
      biasOff,
    );
  } else {
    throw new Error('sgemmInto: batches that both broadcast go to the stock kernel');
  }
}

/**
 * Batches the replacements handle: equal, or one side a single matrix. TF.js's stock kernels pair
 * other batch shapes by index modulo the batch size (not NumPy broadcasting); those go to the stock
 * kernel so results stay the same as stock TF.js.
 */
export function sameOrSharedBatch(g: MatMulGeometry): boolean {
  return g.batchA === g.batchB || g.batchA === 1 || g.batchB === 1;
}

function heapF32(backend: WasmBackendLike): Float32Array {
  // A fresh view each time: allocating can grow the heap, which detaches older views.
  return new Float32Array(backend.wasm.HEAPU8.buffer);
}

function wasmOffset(backend: WasmBackendLike, t: Info): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('matMul (distillery): tensor data is not on the wasm backend');
  if (d.memoryOffset % 4 !== 0) throw new Error('matMul (distillery): misaligned float32 tensor');
  return d.memoryOffset / 4;
}

/** A bias the BLAS kernels can add row by row: none, or n values (rank 1, or [1, …, 1, n]). */
function rowBias(bias: Info | undefined | null, n: number): Info | null | 'unsupported' {
  if (!bias) return null;
  if (
    bias.dtype !== 'float32' ||
    tf.util.sizeFromShape(bias.shape) !== n ||
    (bias.shape.length > 0 && bias.shape[bias.shape.length - 1] !== n)
  )
    return 'unsupported';
  return bias;
}

function checkFloat(name: string, ...ts: Info[]): void {
  for (const t of ts)
    if (t.dtype !== 'float32') throw new Error(`${name} for non non-float32 tensors not yet supported.`);
}

interface MatMulArgs {
  inputs: { a: Info; b: Info; bias?: Info | null; preluActivationWeights?: Info | null };
  backend: unknown;
  attrs: { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number };
}

function argsOf(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): MatMulArgs {
  return args as unknown as MatMulArgs;
}

/**
 * BatchMatMul / _FusedMatMul kernels around an sgemm `run` for one backend: shapes and activations
 * sgemm cannot take (broadcast batches, activations other than relu, odd biases) go to the stock kernel.
 */
function sgemmKernels<B>(
  backendName: string,
  isBackend: (b: unknown) => b is B,
  run: (backend: B, a: Info, b: Info, tA: boolean, tB: boolean, bias: Info | null, relu: boolean) => Info,
  stock: { batchMatMul: tf.KernelFunc; fusedMatMul?: tf.KernelFunc },
): { batchMatMul: tf.KernelFunc; fusedMatMul: tf.KernelFunc } {
  const batchMatMul: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = argsOf(args);
    if (!isBackend(backend)) throw new Error(`BatchMatMul (distillery): not a ${backendName} backend`);
    checkFloat('BatchMatMul', inputs.a, inputs.b);
    if (!sameOrSharedBatch(matMulGeometry(inputs.a.shape, inputs.b.shape, !!attrs.transposeA, !!attrs.transposeB)))
      return stock.batchMatMul(args);
    return run(backend, inputs.a, inputs.b, !!attrs.transposeA, !!attrs.transposeB, null, false);
  };
  const fusedMatMul: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = argsOf(args);
    if (!isBackend(backend)) throw new Error(`_FusedMatMul (distillery): not a ${backendName} backend`);
    checkFloat('_FusedMatMul', inputs.a, inputs.b);
    const act = attrs.activation ?? 'linear';
    const g = matMulGeometry(inputs.a.shape, inputs.b.shape, !!attrs.transposeA, !!attrs.transposeB);
    const bias = rowBias(inputs.bias, g.n);
    if ((act !== 'linear' && act !== 'relu') || bias === 'unsupported' || !sameOrSharedBatch(g)) {
      if (!stock.fusedMatMul) throw new Error(`_FusedMatMul (distillery): activation ${act} is not supported`);
      return stock.fusedMatMul(args);
    }
    return run(backend, inputs.a, inputs.b, !!attrs.transposeA, !!attrs.transposeB, bias, act === 'relu');
  };
  return { batchMatMul, fusedMatMul };
}

/** BatchMatMul / _FusedMatMul (bias, linear or relu) on the wasm backend through sgemm. */
export function blasWasmKernels(
  blas: NativeBlas,
  stock: { batchMatMul: tf.KernelFunc; fusedMatMul?: tf.KernelFunc },
): { batchMatMul: tf.KernelFunc; fusedMatMul: tf.KernelFunc } {
  const run = (
    backend: WasmBackendLike,
    a: Info,
    b: Info,
    tA: boolean,
    tB: boolean,
    bias: Info | null,
    relu: boolean,
  ): Info => {
    const g = matMulGeometry(a.shape, b.shape, tA, tB);
    const out = backend.makeOutput(g.outShape, 'float32');
    if (tf.util.sizeFromShape(g.outShape) === 0) return out;
    const heap = heapF32(backend);
    const cOff = wasmOffset(backend, out);
    if (g.k === 0 && !bias) {
      heap.fill(0, cOff, cOff + g.batch * g.m * g.n);
    } else {
      sgemmInto(
        blas,
        g,
        heap,
        wasmOffset(backend, a),
        heap,
        wasmOffset(backend, b),
        heap,
        cOff,
        tA,
        tB,
        bias ? heap : null,
        bias ? wasmOffset(backend, bias) : 0,
      );
    }
    if (relu) {
      const c = heap.subarray(cOff, cOff + g.batch * g.m * g.n);
      for (let i = 0; i < c.length; i++) if (c[i] < 0) c[i] = 0;
    }
    return out;
  };
  return sgemmKernels('wasm', isWasmBackend, run, stock);
}

function cpuValues(backend: CpuBackendLike, t: Info): Float32Array {
  const v = backend.readSync(t.dataId);
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/** BatchMatMul / _FusedMatMul on the pure-JS cpu backend through sgemm. */
export function blasCpuKernels(
  blas: NativeBlas,
  stock: { batchMatMul: tf.KernelFunc; fusedMatMul?: tf.KernelFunc },
): { batchMatMul: tf.KernelFunc; fusedMatMul: tf.KernelFunc } {
  const run = (
    backend: CpuBackendLike,
    a: Info,
    b: Info,
    tA: boolean,
    tB: boolean,
    bias: Info | null,
    relu: boolean,
  ): Info => {
    const g = matMulGeometry(a.shape, b.shape, tA, tB);
    const c = new Float32Array(tf.util.sizeFromShape(g.outShape));
    if (c.length > 0 && (g.k > 0 || bias)) {
      sgemmInto(
        blas,
        g,
        cpuValues(backend, a),
        0,
        cpuValues(backend, b),
        0,
        c,
        0,
        tA,
        tB,
        bias ? cpuValues(backend, bias) : null,
        0,
      );
    }
    if (relu) for (let i = 0; i < c.length; i++) if (c[i] < 0) c[i] = 0;
    return backend.makeTensorInfo(g.outShape, 'float32', c);
  };
  return sgemmKernels('cpu', isCpuBackend, run, stock);
}

/**
 * BatchMatMul on wasm arranged so every product is an untransposed 2-D one (XNNPACK's fast path):
 * transposed operands are transposed explicitly (a cheap memory pass), a batch against one shared
 * matrix is folded into rows, and other batches run as a loop of 2-D products on heap copies.
 */
export function untransposedWasmKernel(stock: {
  batchMatMul: tf.KernelFunc;
  transpose: tf.KernelFunc;
  reshape: tf.KernelFunc;
}): tf.KernelFunc {
  const call = (
    f: tf.KernelFunc,
    inputs: Record<string, Info>,
    backend: WasmBackendLike,
    attrs: tf.NamedAttrMap,
  ): Info => f({ inputs, backend: backend as unknown as tf.KernelBackend, attrs }) as Info;
  const transposeLast2 = (backend: WasmBackendLike, x: Info): Info => {
    const r = x.shape.length;
    const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
    return call(stock.transpose, { x }, backend, { perm });
  };
  const product2d = (backend: WasmBackendLike, a: Info, b: Info): Info =>
    call(stock.batchMatMul, { a, b }, backend, { transposeA: false, transposeB: false });

  return (args) => {
    const { inputs, backend, attrs } = argsOf(args);
    if (!isWasmBackend(backend)) throw new Error('BatchMatMul (distillery): not a wasm backend');
    checkFloat('BatchMatMul', inputs.a, inputs.b);
    const temps: Info[] = [];
    try {
      const a = attrs.transposeA ? transposeLast2(backend, inputs.a) : inputs.a;
      if (attrs.transposeA) temps.push(a);
      const b = attrs.transposeB ? transposeLast2(backend, inputs.b) : inputs.b;
      if (attrs.transposeB) temps.push(b);
      const g = matMulGeometry(a.shape, b.shape, false, false);
      // An empty product (no output, or k = 0: all zeros) is the stock kernel's; XNNPACK refuses it.
      if (tf.util.sizeFromShape(g.outShape) === 0 || g.k === 0) {
        return call(stock.batchMatMul, { a, b }, backend, { transposeA: false, transposeB: false });
      }
      // One 2-D product: no batch, or a batch against one shared B folded into A's rows.
      if (g.batch === 1 || g.batchB === 1) {
        const a2 = call(stock.reshape, { x: a }, backend, { shape: [g.batch * g.m, g.k] });
        const b2 = call(stock.reshape, { x: b }, backend, { shape: [g.k, g.n] });
        temps.push(a2, b2);
        const out = product2d(backend, a2, b2);
        const shaped = call(stock.reshape, { x: out }, backend, { shape: g.outShape });
        backend.disposeData(out.dataId);
        return shaped;
      }
      if (!sameOrSharedBatch(g))
        return call(stock.batchMatMul, { a, b }, backend, { transposeA: false, transposeB: false });
      const out = backend.makeOutput(g.outShape, 'float32');
      const sA = g.m * g.k;
      const sB = g.k * g.n;
      const sC = g.m * g.n;
      const aBase = wasmOffset(backend, a);
      const bBase = wasmOffset(backend, b);
      const outBase = wasmOffset(backend, out);
      for (let i = 0; i < g.batch; i++) {
        // Fresh operands for every product: the stock kernel caches XNNPACK's packed weights by
        // the B tensor's id, so refilling one scratch tensor would reuse stale weights.
        const ai = backend.makeOutput([g.m, g.k], 'float32');
        const bi = backend.makeOutput([g.k, g.n], 'float32');
        let heap = heapF32(backend);
        const srcA = aBase + g.indexA(i) * sA;
        const srcB = bBase + g.indexB(i) * sB;
        heap.copyWithin(wasmOffset(backend, ai), srcA, srcA + sA);
        heap.copyWithin(wasmOffset(backend, bi), srcB, srcB + sB);
        const ci = product2d(backend, ai, bi);
        backend.disposeData(ai.dataId);
        backend.disposeData(bi.dataId);
        heap = heapF32(backend);
        const ciOff = wasmOffset(backend, ci);
        heap.copyWithin(outBase + i * sC, ciOff, ciOff + sC);
        backend.disposeData(ci.dataId);
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/**
 * _FusedMatMul on wasm with transposed operands transposed explicitly first: the stock kernel's
 * transposed paths are slow, and with a bias and a transposed operand its results differ from
 * matMul + bias (TF.js 4.22; test/integration/fast-kernels.test.ts compares against the unfused ops).
 */
export function untransposedFusedWasmKernel(stock: {
  fusedMatMul: tf.KernelFunc;
  transpose: tf.KernelFunc;
}): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = argsOf(args);
    if (!isWasmBackend(backend) || (!attrs.transposeA && !attrs.transposeB)) return stock.fusedMatMul(args);
    const temps: Info[] = [];
    const untranspose = (x: Info): Info => {
      const r = x.shape.length;
      const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
      const t = stock.transpose({
        inputs: { x },
        backend: backend as unknown as tf.KernelBackend,
        attrs: { perm },
      }) as Info;
      temps.push(t);
      return t;
    };
    try {
      const a = attrs.transposeA ? untranspose(inputs.a) : inputs.a;
      const b = attrs.transposeB ? untranspose(inputs.b) : inputs.b;
      return stock.fusedMatMul({
        ...args,
        inputs: { ...args.inputs, a, b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}
