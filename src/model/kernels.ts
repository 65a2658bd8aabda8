/**
 * Kernels that TF.js backends lack and the model needs.
 *
 * The wasm backend registers no `UnsortedSegmentSum`, which the gradient of `tf.gather` (the
 * embedding lookup) calls, so training on wasm fails with "Kernel 'UnsortedSegmentSum' not
 * registered for backend 'wasm'". The cpu backend's version loops over every segment (one
 * equal/multiply/sum per vocabulary row: ~44 s for one BERT embedding gradient, over a minute per
 * step even for a tiny model with BERT's vocabulary), so both backends get a single O(n·d) pass:
 * over the wasm heap, or over the cpu backend's arrays. Rows are added in index order in float32;
 * the stock kernel's reduction orders them differently, so the two agree to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's entry point registers no gradients (the tfjs union package does); training needs them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { installFastKernels } from './fast-kernels';

/** The parts of tfjs-backend-wasm's `BackendWasm` this kernel uses (typed structurally). */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

function isWasmHeapBackend(b: unknown): b is WasmHeapBackend {
  const o = b as Partial<WasmHeapBackend> | null;
  return !!o && typeof o.makeOutput === 'function' && typeof o.typedArrayFromHeap === 'function';
}

/**
 * Sums the rows of `x` into `numSegments` rows: out[segmentIds[i], ...] += x[i, ...]. `segmentIds`
 * indexes the leading dimensions of `x` (its shape is a prefix of x's shape); ids outside
 * [0, numSegments) are dropped, as TensorFlow does.
 */
function segmentArgs(args: Parameters<tf.KernelFunc>[0]): {
  x: tf.TensorInfo;
  segmentIds: tf.TensorInfo;
  numSegments: number;
  innerShape: number[];
  inner: number;
} {
  const { x, segmentIds } = args.inputs as unknown as Record<keyof tf.UnsortedSegmentSumInputs, tf.TensorInfo>;
  const numSegments = Number((args.attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const segRank = segmentIds.shape.length;
  for (let i = 0; i < segRank; i++) {
    if (segmentIds.shape[i] !== x.shape[i]) {
      throw new Error(
        `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] is not a prefix of x shape [${x.shape}]`,
      );
    }
  }
  const innerShape = x.shape.slice(segRank);
  return { x, segmentIds, numSegments, innerShape, inner: tf.util.sizeFromShape(innerShape) };
}

/** out[ids[i]] += xs[i] row by row, in index order; ids outside [0, numSegments) are dropped. */
function scatterAddRows(
  out: tf.TypedArray,
  xs: tf.TypedArray,
  ids: tf.TypedArray,
  numSegments: number,
  inner: number,
): void {
  out.fill(0);
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id < 0 || id >= numSegments) continue;
    const src = i * inner;
    const dst = id * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += xs[src + j];
  }
}

const unsortedSegmentSumWasm: tf.KernelFunc = (args) => {
  const { backend } = args;
  if (!isWasmHeapBackend(backend)) throw new Error('UnsortedSegmentSum (distillery): not a wasm backend');
  const { x, segmentIds, numSegments, innerShape, inner } = segmentArgs(args);
  const outInfo = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views are taken after makeOutput: allocating may grow the heap, which detaches older views.
  scatterAddRows(
    backend.typedArrayFromHeap(outInfo),
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(segmentIds),
    numSegments,
    inner,
  );
  return outInfo;
};

/** The parts of tfjs-backend-cpu's `MathBackendCPU` this kernel uses (typed structurally). */
interface CpuArrayBackend {
  data: { get(dataId: object): { values?: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

function isCpuArrayBackend(b: unknown): b is CpuArrayBackend {
  const o = b as Partial<CpuArrayBackend> | null;
  return (
    !!o &&
    typeof o.makeTensorInfo === 'function' &&
    typeof (o.data as { get?: unknown } | undefined)?.get === 'function'
  );
}

const unsortedSegmentSumCpu: tf.KernelFunc = (args) => {
  const { backend } = args;
  if (!isCpuArrayBackend(backend)) throw new Error('UnsortedSegmentSum (distillery): not a cpu backend');
  const { x, segmentIds, numSegments, innerShape, inner } = segmentArgs(args);
  const xs = backend.data.get(x.dataId).values as tf.TypedArray;
  const ids = backend.data.get(segmentIds.dataId).values as tf.TypedArray;
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  scatterAddRows(out, xs, ids, numSegments, inner);
  return backend.makeTensorInfo([numSegments, ...innerShape], x.dtype, out);
};

/**
 * Registers the kernels above where the backend lacks them, and the faster matrix-product kernels
 * (./fast-kernels: native BLAS or untransposed wasm products, per DISTILLERY_KERNELS, default
 * auto). Safe to call any number of times.
 */
export function registerMissingKernels(): void {
  installFastKernels();
  if (!tf.getKernel(tf.UnsortedSegmentSum, 'wasm')) {
    tf.registerKernel({
      kernelName: tf.UnsortedSegmentSum,
      backendName: 'wasm',
      kernelFunc: unsortedSegmentSumWasm,
    });
  }
  // The cpu backend has one, too slow to train with: replaced (once) by the single pass.
  const cpu = tf.getKernel(tf.UnsortedSegmentSum, 'cpu');
  if (cpu && cpu.kernelFunc !== unsortedSegmentSumCpu) {
    tf.unregisterKernel(tf.UnsortedSegmentSum, 'cpu');
    tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName: 'cpu', kernelFunc: unsortedSegmentSumCpu });
  }
}
