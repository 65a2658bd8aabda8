/**
 * Memory-bound wasm kernels that the stock backend runs far slower than a copy loop:
 *
 * - Sum over leading axes (the gradient of every bias and LayerNorm parameter: [tokens, width] →
 *   [width]). The stock kernel first transposes the input so the reduced axes come last, then
 *   reduces; this adds the rows in place instead, accumulating in float64 and rounding once (so
 *   it is at least as accurate as the float32 stock sum).
 * - GatherV2 on axis 0 (the embedding lookups): one row copy per index instead of the stock
 *   element-by-element strided loop.
 * - Identity, and Cast to the same dtype, as a shared reference (what the stock Reshape and the cpu
 *   backend's Identity do) instead of a copy. TF.js clones every tensor a gradient needs when it
 *   records an op (engine.saveTensorsForBackwardMode), so on wasm a training step copied its
 *   activations once more: ~260 copies per reference step. Tensors are immutable (a Variable's
 *   assign swaps its data, never writes into it), so sharing is safe.
 *
 * Other cases go to the stock kernels unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isWasmBackend, WasmBackendLike } from './matmul';
import type { NativeBlas } from './native-blas';

type Info = tf.TensorInfo;

function heapView(backend: WasmBackendLike, t: Info): Float32Array | Int32Array {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('distillery kernel: tensor data is not on the wasm backend');
  const size = tf.util.sizeFromShape(t.shape);
  return t.dtype === 'int32'
    ? new Int32Array(backend.wasm.HEAPU8.buffer, d.memoryOffset, size)
    : new Float32Array(backend.wasm.HEAPU8.buffer, d.memoryOffset, size);
}

/**
 * Sum with the reduced axes a leading block [0, r): rows of width `inner` added together (by the
 * native addon when given, else in JavaScript).
 */
export function leadingSumWasm(stockSum: tf.KernelFunc, native?: NativeBlas | null): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: Info };
      backend: unknown;
      attrs: { axis: number | number[]; keepDims: boolean };
    };
    const x = inputs.x;
    if (!isWasmBackend(backend) || x.dtype !== 'float32' || x.shape.length < 2) return stockSum(args);
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
    const r = axes.length;
    if (r === 0 || r === x.shape.length || axes.some((a, i) => a !== i)) return stockSum(args);
    const outerShape = x.shape.slice(0, r);
    const innerShape = x.shape.slice(r);
    const rows = tf.util.sizeFromShape(outerShape);
    const inner = tf.util.sizeFromShape(innerShape);
    const outShape = attrs.keepDims ? [...outerShape.map(() => 1), ...innerShape] : innerShape;
    const out = backend.makeOutput(outShape, 'float32');
    const xs = heapView(backend, x);
    if (native) {
      native.sumRows(xs as Float32Array, heapView(backend, out) as Float32Array, rows, inner);
      return out;
    }
    const acc = new Float64Array(inner);
    for (let row = 0; row < rows; row++) {
      const base = row * inner;
      for (let j = 0; j < inner; j++) acc[j] += xs[base + j];
    }
    (heapView(backend, out) as Float32Array).set(acc);
    return out;
  };
}

/**
 * GatherV2 along axis 0 without batch dimensions: out[i, …] = x[indices[i], …], float32 rows by
 * the native addon when given (one call instead of a typed-array copy per row).
 */
export function rowGatherWasm(stockGather: tf.KernelFunc, native?: NativeBlas | null): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: Info; indices: Info };
      backend: unknown;
      attrs: { axis: number; batchDims: number };
    };
    const { x, indices } = inputs;
    if (
      !isWasmBackend(backend) ||
      (x.dtype !== 'float32' && x.dtype !== 'int32') ||
      indices.dtype !== 'int32' ||
      x.shape.length < 1
    )
      return stockGather(args);
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    if (axis !== 0 || (attrs.batchDims ?? 0) !== 0) return stockGather(args);
    const rowsIn = x.shape[0];
    const inner = tf.util.sizeFromShape(x.shape.slice(1));
    const ids = heapView(backend, indices).slice(); // a copy: makeOutput may move the heap
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      tf.util.assert(id <= rowsIn - 1 && id >= 0, () => `GatherV2: the index value ${id} is not in [0, ${rowsIn - 1}]`);
    }
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    if (ids.length === 0 || inner === 0) return out;
    const src = heapView(backend, x);
    const dst = heapView(backend, out);
    if (native && x.dtype === 'float32') {
      native.gatherRows(src as Float32Array, rowsIn, ids as Int32Array, dst as Float32Array, inner);
      return out;
    }
    for (let i = 0; i < ids.length; i++) {
      const from = ids[i] * inner;
      dst.set(src.subarray(from, from + inner), i * inner);
    }
    return out;
  };
}

interface RefCountingBackend {
  incRef(dataId: object): void;
}

/** Identity / same-dtype Cast: the input's data under a new reference, no copy. */
export function sharedIdentityWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: Info };
      backend: unknown;
      attrs?: { dtype?: tf.DataType };
    };
    const x = inputs.x;
    const dtype = attrs?.dtype ?? x.dtype;
    const b = backend as Partial<RefCountingBackend>;
    if (!isWasmBackend(backend) || x.dtype === 'string' || dtype !== x.dtype || typeof b.incRef !== 'function')
      return stock(args);
    b.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
