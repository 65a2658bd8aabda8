/**
 * The native addon's kernels on the `tensorflow` backend (@tensorflow/tfjs-node) read and write
 * TensorFlow's own tensor memory: the binding that scripts/build-tfjs-node.mjs builds with
 * native/tfjs-node/binding.patch gives a Float32Array view of a tensor id's data (no copy) and
 * allocates new float32 tensors with a writable view. Without that patch (a stock binding, another
 * tfjs-node version) `tensorflowViews` says why and the backend runs the composite ops.
 *
 * A view is valid while its tensor lives: the kernels run inside `inViewScope`, which releases
 * (detaches) every view the kernel took when it returns, while the engine still holds its inputs
 * and the new outputs are in the backend's tensor map.
 */
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;

/** The entry points of the patched binding (native/tfjs-node/distillery_tensors.cc). */
export interface TensorflowViewBinding {
  tensorView(id: number): ArrayBuffer;
  allocTensor(shape: number[]): [number, ArrayBuffer];
  releaseView(view: ArrayBuffer): void;
  TF_FLOAT: number;
}

interface TensorflowTensorData {
  shape: number[];
  dtype: number;
  /** Values written from JS and not yet given to TensorFlow (then id is -1). */
  values: tf.backend_util.BackendValues | null;
  id: number;
  refCount: number;
}

/** The parts of tfjs-node's NodeJSKernelBackend these kernels use (typed structurally). */
export interface TensorflowBackendLike {
  binding: TensorflowViewBinding;
  tensorMap: {
    get(dataId: object): TensorflowTensorData | undefined;
    set(dataId: object, d: TensorflowTensorData): void;
  };
  isUsingGpuDevice: boolean;
}

export function isTensorflowBackend(b: unknown): b is TensorflowBackendLike {
  const o = b as Partial<TensorflowBackendLike> | null;
  return !!o && !!o.tensorMap && !!o.binding && typeof o.binding.tensorView === 'function';
}

/** Whether the registered tensorflow backend can run the native kernels, or why not. */
export function tensorflowViews(): { ok: true } | { ok: false; reason: string } {
  if (!tf.findBackendFactory('tensorflow')) return { ok: false, reason: 'the tensorflow backend is not loaded' };
  const backend: unknown = tf.findBackend('tensorflow');
  const o = backend as Partial<TensorflowBackendLike> | null;
  if (!o || !o.binding) return { ok: false, reason: 'the tensorflow backend is not initialised' };
  if (o.isUsingGpuDevice) return { ok: false, reason: 'the tensorflow backend runs on a GPU (host views only)' };
  if (!isTensorflowBackend(backend))
    return {
      ok: false,
      reason:
        "tfjs-node's binding has no zero-copy views (built without native/tfjs-node/binding.patch): run `node scripts/build-tfjs-node.mjs`",
    };
  return { ok: true };
}

/** Views taken by the kernel running now, released when it returns. */
let scope: ArrayBuffer[] | null = null;

/** `kernel` with every view it takes released when it returns (or throws). */
export function inViewScope(binding: () => TensorflowViewBinding, kernel: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const outer = scope;
    const mine: ArrayBuffer[] = [];
    scope = mine;
    try {
      return kernel(args);
    } finally {
      scope = outer;
      const b = binding();
      for (const v of mine) b.releaseView(v);
    }
  };
}

function track(view: ArrayBuffer): ArrayBuffer {
  if (!scope) throw new Error('distillery kernel: a tensorflow view outside inViewScope would outlive its tensor');
  scope.push(view);
  return view;
}

/** A float32 tensor's values: TensorFlow's memory, or the JS values not yet handed to it. */
export function tensorflowF32View(backend: TensorflowBackendLike, t: Info): Float32Array {
  const d = backend.tensorMap.get(t.dataId);
  if (!d) throw new Error('distillery kernel: tensor data is not on the tensorflow backend');
  const n = tf.util.sizeFromShape(t.shape);
  if (d.values != null)
    return (d.values instanceof Float32Array ? d.values : Float32Array.from(d.values as ArrayLike<number>)).subarray(
      0,
      n,
    );
  return new Float32Array(track(backend.binding.tensorView(d.id)), 0, n);
}

/** New float32 tensors of the backend, each with a writable view. */
export function tensorflowOutputs(
  backend: TensorflowBackendLike,
  shapes: number[][],
): { infos: () => Info[]; views: () => Float32Array[] } {
  const made = shapes.map((shape) => {
    const [id, buffer] = backend.binding.allocTensor(shape);
    const dataId = {};
    backend.tensorMap.set(dataId, { shape, dtype: backend.binding.TF_FLOAT, values: null, id, refCount: 1 });
    return {
      info: { dataId, shape, dtype: 'float32' as const },
      view: new Float32Array(track(buffer), 0, tf.util.sizeFromShape(shape)),
    };
  });
  return { infos: () => made.map((m) => m.info), views: () => made.map((m) => m.view) };
}
