/**
 * Element-wise kernels through the native addon (same files as the BLAS products): Add, Sub,
 * Multiply and RealDiv over float32 tensors, and the fused exact-GELU pair `DistilleryGelu` /
 * `DistilleryGeluGrad` (the gelu op of ../ops.ts, through ./ops.ts). On wasm they read and write
 * the heap in place; large arrays are split over the machine's cores. TF.js's wasm element-wise
 * kernels run on one thread with 128-bit SIMD, and after the products moved to BLAS they were most
 * of a training step (docs/performance.md).
 *
 * The binary kernels take the broadcasts a BERT step uses: equal shapes, a scalar, a trailing row
 * ([n, h] with [h]) and one value per row ([n, h] with [n, 1]); anything else, integer tensors and
 * small tensors go to the stock kernels. IEEE add/sub/mul/div give the stock results bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas';
import { CpuBackendLike, isCpuBackend, isWasmBackend, WasmBackendLike } from './matmul';
import { isTensorflowBackend, tensorflowF32View, tensorflowOutputs } from './tensorflow-memory';

type Info = tf.TensorInfo;

export const GELU_KERNEL = 'DistilleryGelu';
export const GELU_GRAD_KERNEL = 'DistilleryGeluGrad';
export const LAYER_NORM_KERNEL = 'DistilleryLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'DistilleryLayerNormGrad';
export const DROPOUT_KERNEL = 'DistilleryDropout';
/** Every kernel this module registers under its own name (not replacing a stock one). */
export const FUSED_KERNELS = [
  GELU_KERNEL,
  GELU_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  DROPOUT_KERNEL,
] as const;

/** Below this many output values the stock kernel's own cost is as small as ours. */
const MIN_NATIVE_SIZE = 4096;

export const BINARY_OPS = { [tf.Add]: 0, [tf.Sub]: 1, [tf.Multiply]: 2, [tf.RealDiv]: 3 } as const;

/** An operand's strides in the [rows, cols] view of the output. */
interface OperandView {
  rs: number;
  cs: number;
}

export interface BinaryPlan {
  rows: number;
  cols: number;
  a: OperandView;
  b: OperandView;
  outShape: number[];
}

type Kind = { kind: 'full' } | { kind: 'scalar' } | { kind: 'row'; period: number } | { kind: 'col'; rows: number };

function classify(shape: readonly number[], out: readonly number[]): Kind | null {
  const n = tf.util.sizeFromShape(out as number[]);
  const size = tf.util.sizeFromShape(shape as number[]);
  if (size === 1) return { kind: 'scalar' };
  const padded = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  if (size === n) return { kind: 'full' };
  // [1, …, 1, out[k:]]: a row repeated; [out[:k], 1, …, 1]: one value per row.
  let k = 0;
  while (k < padded.length && padded[k] === 1) k++;
  if (padded.slice(k).every((d, i) => d === out[k + i]))
    return { kind: 'row', period: tf.util.sizeFromShape(out.slice(k)) };
  let e = padded.length;
  while (e > 0 && padded[e - 1] === 1) e--;
  if (padded.slice(0, e).every((d, i) => d === out[i]))
    return { kind: 'col', rows: tf.util.sizeFromShape(out.slice(0, e)) };
  return null;
}

/** How to run `a op b` as one strided [rows, cols] loop, or null when the broadcast is another kind. */
export function planBinary(aShape: readonly number[], bShape: readonly number[]): BinaryPlan | null {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape as number[], bShape as number[]);
  const n = tf.util.sizeFromShape(outShape);
  if (n === 0) return null;
  const ka = classify(aShape, outShape);
  const kb = classify(bShape, outShape);
  if (!ka || !kb) return null;
  let rows: number;
  let cols: number;
  const row = [ka, kb].find((k) => k.kind === 'row') as { period: number } | undefined;
  const col = [ka, kb].find((k) => k.kind === 'col') as { rows: number } | undefined;
  if (row && col) {
    if (row.period * col.rows !== n) return null;
    cols = row.period;
    rows = col.rows;
  } else if (row) {
    cols = row.period;
    rows = n / cols;
  } else if (col) {
    rows = col.rows;
    cols = n / rows;
  } else {
    cols = outShape.length ? outShape[outShape.length - 1] : 1;
    rows = n / cols;
  }
  const view = (k: Kind): OperandView | null => {
    switch (k.kind) {
      case 'full':
        return { rs: cols, cs: 1 };
      case 'scalar':
        return { rs: 0, cs: 0 };
      case 'row':
        return k.period === cols ? { rs: 0, cs: 1 } : null;
      case 'col':
        return k.rows === rows ? { rs: 1, cs: 0 } : null;
    }
  };
  const a = view(ka);
  const b = view(kb);
  return a && b ? { rows, cols, a, b, outShape } : null;
}

function wasmF32(backend: WasmBackendLike): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer);
}

function wasmOff(backend: WasmBackendLike, t: Info): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('distillery kernel: tensor data is not on the wasm backend');
  return d.memoryOffset / 4;
}

function cpuF32(backend: CpuBackendLike, t: Info): Float32Array {
  const v = backend.readSync(t.dataId);
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/** Add / Sub / Multiply / RealDiv through the addon on wasm or cpu, else the stock kernel. */
export function nativeBinaryKernel(native: NativeBlas, op: number, stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as { inputs: { a: Info; b: Info }; backend: unknown };
    const { a, b } = inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const plan = planBinary(a.shape, b.shape);
    if (!plan || plan.rows * plan.cols < MIN_NATIVE_SIZE) return stock(args);
    if (isWasmBackend(backend)) {
      const out = backend.makeOutput(plan.outShape, 'float32');
      const heap = wasmF32(backend);
      native.binary(
        op,
        heap,
        wasmOff(backend, a),
        plan.a.rs,
        plan.a.cs,
        heap,
        wasmOff(backend, b),
        plan.b.rs,
        plan.b.cs,
        heap,
        wasmOff(backend, out),
        plan.rows,
        plan.cols,
      );
      return out;
    }
    if (isCpuBackend(backend)) {
      const values = new Float32Array(plan.rows * plan.cols);
      native.binary(
        op,
        cpuF32(backend, a),
        0,
        plan.a.rs,
        plan.a.cs,
        cpuF32(backend, b),
        0,
        plan.b.rs,
        plan.b.cs,
        values,
        0,
        plan.rows,
        plan.cols,
      );
      return backend.makeTensorInfo(plan.outShape, 'float32', values);
    }
    return stock(args);
  };
}

/**
 * Pow with the exponent 2 (a scalar, any dtype) as x·x through the native multiply: tf.norm, as
 * clipByGlobalNorm calls it, squares every gradient with Pow, whose stock wasm kernel runs powf per
 * element. x·x is x² correctly rounded (powf may differ in the last bit). Other exponents go to the
 * stock kernel.
 */
export function nativeSquarePowKernel(native: NativeBlas, stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as { inputs: { a: Info; b: Info }; backend: unknown };
    const { a, b } = inputs;
    if (
      a.dtype !== 'float32' ||
      tf.util.sizeFromShape(b.shape) !== 1 ||
      tf.util.sizeFromShape(a.shape) < MIN_NATIVE_SIZE
    )
      return stock(args);
    let exponent: number;
    if (isWasmBackend(backend)) {
      const d = backend.dataIdMap.get(b.dataId);
      if (!d) return stock(args);
      exponent =
        b.dtype === 'int32'
          ? new Int32Array(backend.wasm.HEAPU8.buffer, d.memoryOffset, 1)[0]
          : b.dtype === 'float32'
            ? new Float32Array(backend.wasm.HEAPU8.buffer, d.memoryOffset, 1)[0]
            : NaN;
    } else if (isCpuBackend(backend)) {
      exponent = Number((backend.readSync(b.dataId) as ArrayLike<number>)[0]);
    } else {
      return stock(args);
    }
    if (exponent !== 2) return stock(args);
    return nativeBinaryKernel(
      native,
      BINARY_OPS[tf.Multiply],
      stock,
    )({ ...args, inputs: { a, b: a } } as unknown as Parameters<tf.KernelFunc>[0]);
  };
}

/** The fused GELU forward (inputs {x}) and gradient (inputs {dy, x}) kernels. */
export function nativeGeluKernels(native: NativeBlas): { gelu: tf.KernelFunc; geluGrad: tf.KernelFunc } {
  const run = (backend: unknown, x: Info, dy: Info | null): Info => {
    if (x.dtype !== 'float32' || (dy && dy.dtype !== 'float32')) throw new Error('DistilleryGelu: float32 only');
    const n = tf.util.sizeFromShape(x.shape);
    if (dy && tf.util.sizeFromShape(dy.shape) !== n) throw new Error('DistilleryGeluGrad: dy and x differ in size');
    if (isWasmBackend(backend)) {
      const out = backend.makeOutput(x.shape, 'float32');
      const heap = wasmF32(backend);
      if (dy) native.geluGrad(heap, wasmOff(backend, dy), heap, wasmOff(backend, x), heap, wasmOff(backend, out), n);
      else native.gelu(heap, wasmOff(backend, x), heap, wasmOff(backend, out), n);
      return out;
    }
    if (isCpuBackend(backend)) {
      const values = new Float32Array(n);
      if (dy) native.geluGrad(cpuF32(backend, dy), 0, cpuF32(backend, x), 0, values, 0, n);
      else native.gelu(cpuF32(backend, x), 0, values, 0, n);
      return backend.makeTensorInfo(x.shape, 'float32', values);
    }
    if (isTensorflowBackend(backend)) {
      const out = tensorflowOutputs(backend, [x.shape]);
      const [o] = out.views();
      if (dy) native.geluGrad(tensorflowF32View(backend, dy), 0, tensorflowF32View(backend, x), 0, o, 0, n);
      else native.gelu(tensorflowF32View(backend, x), 0, o, 0, n);
      return out.infos()[0];
    }
    throw new Error('DistilleryGelu: not a wasm, cpu or tensorflow backend');
  };
  return {
    gelu: (args) => run(args.backend, (args.inputs as { x: Info }).x, null),
    geluGrad: (args) => {
      const { dy, x } = args.inputs as { dy: Info; x: Info };
      return run(args.backend, x, dy);
    },
  };
}

/**
 * A float32 tensor's values as a view: the wasm heap in place, the cpu backend's own array, or
 * TensorFlow's memory (./tensorflow-memory.ts; only inside its view scope).
 */
export function f32View(backend: unknown, t: Info): Float32Array {
  if (t.dtype !== 'float32') throw new Error('distillery kernel: float32 only');
  const n = tf.util.sizeFromShape(t.shape);
  if (isWasmBackend(backend)) {
    const d = backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error('distillery kernel: tensor data is not on the wasm backend');
    return new Float32Array(backend.wasm.HEAPU8.buffer, d.memoryOffset, n);
  }
  if (isCpuBackend(backend)) return cpuF32(backend, t).subarray(0, n);
  if (isTensorflowBackend(backend)) return tensorflowF32View(backend, t);
  throw new Error('distillery kernel: not a wasm, cpu or tensorflow backend');
}

/** Output tensors to fill: on wasm and tensorflow allocated by the backend first (views are taken after). */
export function outputs(backend: unknown, shapes: number[][]): { infos: () => Info[]; views: () => Float32Array[] } {
  if (isWasmBackend(backend)) {
    const infos = shapes.map((s) => backend.makeOutput(s, 'float32'));
    return { infos: () => infos, views: () => infos.map((i) => f32View(backend, i)) };
  }
  if (isCpuBackend(backend)) {
    const arrays = shapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
    return { infos: () => shapes.map((s, i) => backend.makeTensorInfo(s, 'float32', arrays[i])), views: () => arrays };
  }
  if (isTensorflowBackend(backend)) return tensorflowOutputs(backend, shapes);
  throw new Error('distillery kernel: not a wasm, cpu or tensorflow backend');
}

/**
 * LayerNorm over the last axis (inputs {x, gamma, beta}, attr eps) and its gradient (inputs
 * {dy, x, gamma} → [dx, dgamma, dbeta]), and dropout (inputs {x}, attrs rate, seedHi, seedLo; its
 * gradient is the same kernel applied to dy with the same seed).
 */
export function nativeFusedKernels(native: NativeBlas): {
  layerNorm: tf.KernelFunc;
  layerNormGrad: tf.KernelFunc;
  dropout: tf.KernelFunc;
} {
  const rowsCols = (shape: number[]): [number, number] => {
    const cols = shape[shape.length - 1];
    return [tf.util.sizeFromShape(shape) / cols, cols];
  };
  return {
    layerNorm: ({ inputs, backend, attrs }) => {
      const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta: Info };
      const [rows, cols] = rowsCols(x.shape);
      const out = outputs(backend, [x.shape]);
      const [o] = out.views();
      native.layerNorm(
        f32View(backend, x),
        f32View(backend, gamma),
        f32View(backend, beta),
        o,
        rows,
        cols,
        Number((attrs as { eps: number }).eps),
      );
      return out.infos()[0];
    },
    layerNormGrad: ({ inputs, backend, attrs }) => {
      const { dy, x, gamma } = inputs as { dy: Info; x: Info; gamma: Info };
      const [rows, cols] = rowsCols(x.shape);
      const out = outputs(backend, [x.shape, gamma.shape, gamma.shape]);
      const [dx, dg, db] = out.views();
      native.layerNormGrad(
        f32View(backend, dy),
        f32View(backend, x),
        f32View(backend, gamma),
        dx,
        dg,
        db,
        rows,
        cols,
        Number((attrs as { eps: number }).eps),
      );
      return out.infos();
    },
    dropout: ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: Info };
      const a = attrs as { rate: number; seedHi: number; seedLo: number };
      const out = outputs(backend, [x.shape]);
      const [o] = out.views();
      native.dropout(f32View(backend, x), o, tf.util.sizeFromShape(x.shape), a.rate, a.seedHi >>> 0, a.seedLo >>> 0);
      return out.infos()[0];
    },
  };
}

// Their gradients, registered as TF.js registers its own, so that autodiff calls the grad kernels.
const run = (name: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap) =>
  tf.engine().runKernel(name, inputs, attrs);
tf.registerGradient({
  kernelName: GELU_KERNEL,
  inputsToSave: ['x'],
  gradFunc: (dy, [x]) => ({ x: () => run(GELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x }) as tf.Tensor }),
});
tf.registerGradient({
  kernelName: LAYER_NORM_KERNEL,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, [x, gamma], attrs) => {
    const [dx, dgamma, dbeta] = run(LAYER_NORM_GRAD_KERNEL, { dy: dy as tf.Tensor, x, gamma }, attrs) as tf.Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
});
// The mask is recomputed from the seed, not stored.
tf.registerGradient({
  kernelName: DROPOUT_KERNEL,
  gradFunc: (dy, _saved, attrs) => ({ x: () => run(DROPOUT_KERNEL, { x: dy as tf.Tensor }, attrs) as tf.Tensor }),
});
