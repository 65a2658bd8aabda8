/**
 * Kernels that TF.js backends lack and the model needs.
 *
 * The wasm backend registers no `UnsortedSegmentSum`, which the gradient of `tf.gather` (the
 * embedding lookup) calls, so training on wasm fails with "Kernel 'UnsortedSegmentSum' not
 * registered for backend 'wasm'". The cpu backend's version loops over every segment (one
 * equal/multiply/sum per vocabulary row: ~44 s for one BERT embedding gradient), so ours is a
 * single O(n·d) pass over the wasm heap instead.
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
const unsortedSegmentSumWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as unknown as Record<keyof tf.UnsortedSegmentSumInputs, tf.TensorInfo>;
  const numSegments = Number((attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments);
  if (!isWasmHeapBackend(backend)) throw new Error('UnsortedSegmentSum (distillery): not a wasm backend');
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const segRank = segmentIds.shape.length;
  for (let i = 0; i < segRank; i++) {
    if (segmentIds.shape[i] !== x.shape[i]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] is not a prefix of x shape [${x.shape}]`);
    }
  }
  const innerShape = x.shape.slice(segRank);
  const inner = tf.util.sizeFromShape(innerShape);
  const outInfo = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views are taken after makeOutput: allocating may grow the heap, which detaches older views.
  const out = backend.typedArrayFromHeap(outInfo);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  out.fill(0);
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id < 0 || id >= numSegments) continue;
    const src = i * inner;
    const dst = id * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += xs[src + j];
  }
  return outInfo;
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
}
