/**
 * Fused kernels of the distillation step through the native addon, registered under their own
 * names for wasm and cpu when it loads (./index.ts), with the ops of ../ops.ts they implement
 * (./ops.ts): the model's softmax, the attention-KL loss, AdamW and the gradient norm. Elsewhere
 * those ops run their op-by-op composites, the reference the tests compare these with.
 *
 * - `DistillerySoftmax` / `DistillerySoftmaxGrad`: softmax over the last axis and its gradient,
 *   one pass each (the stock gradient is four ops over the whole attention map).
 * - `DistilleryAttentionKl` (+ its gradient, registered with TF.js): the masked sum of the
 *   attention KL in one pass instead of ~12 ops over [batch, heads, q, k], with a vectorised log.
 * - `DistilleryAdamW`: one AdamW update of one variable, one pass instead of ~11 ops, with the
 *   same float32 results (same operations in the same order).
 * - `DistillerySumSquares`: Σ x² of a tensor in one pass (gradient clipping's norms; tf.norm is
 *   abs, pow, sum and sqrt, three passes over every gradient).
 * - `DistillerySumRows`: the column sums of a [rows, cols] matrix (a bias gradient), one pass
 *   accumulated in double; ./ops.ts uses it on the tensorflow backend, whose Sum is slower there.
 * - `Transpose`: a permutation that only moves size-1 axes shares its input's data (the embedding
 *   gradient transposes 30 522 × 256 values by the identity); others are a native strided copy.
 * - `Slice`: a native strided copy.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas';
import { isCpuBackend, isWasmBackend } from './matmul';
import { f32View, outputs } from './elementwise';

type Info = tf.TensorInfo;

export const SOFTMAX_KERNEL = 'DistillerySoftmax';
export const SOFTMAX_GRAD_KERNEL = 'DistillerySoftmaxGrad';
export const ATTENTION_KL_KERNEL = 'DistilleryAttentionKl';
export const ATTENTION_KL_GRAD_KERNEL = 'DistilleryAttentionKlGrad';
export const ADAMW_KERNEL = 'DistilleryAdamW';
export const SUM_SQUARES_KERNEL = 'DistillerySumSquares';
export const SUM_ROWS_KERNEL = 'DistillerySumRows';
export const TRAINING_KERNELS = [
  SOFTMAX_KERNEL,
  SOFTMAX_GRAD_KERNEL,
  ATTENTION_KL_KERNEL,
  ATTENTION_KL_GRAD_KERNEL,
  ADAMW_KERNEL,
  SUM_SQUARES_KERNEL,
  SUM_ROWS_KERNEL,
] as const;

/** Attributes of DistilleryAttentionKl: the clamps of student and teacher probabilities inside the logs. */
export interface AttentionKlAttrs {
  eps: number;
  teacherEps: number;
}

/**
 * AdamW scalars, each already what the op-by-op path would use (rounded to float32 by the kernel);
 * `decay` is the weight-decay factor 1 − lr·wd, or null for a variable without weight decay.
 */
export interface AdamWAttrs {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  biasCorrection2Sqrt: number;
  eps: number;
  stepSize: number;
  decay: number | null;
}

function rowsCols(shape: readonly number[]): [number, number] {
  const cols = shape[shape.length - 1];
  return [cols === 0 ? 0 : tf.util.sizeFromShape(shape as number[]) / cols, cols];
}

/** One float32 value of a tensor (a scalar upstream gradient). */
function scalarValue(backend: unknown, t: Info): number {
  return f32View(backend, t)[0];
}

function assertFloat32(kernel: string, ...ts: Info[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`${kernel}: float32 tensors only, got ${t.dtype}`);
}

export function nativeTrainingKernels(native: NativeBlas): Record<(typeof TRAINING_KERNELS)[number], tf.KernelFunc> {
  return {
    [SOFTMAX_KERNEL]: ({ inputs, backend }) => {
      const { x } = inputs as { x: Info };
      assertFloat32(SOFTMAX_KERNEL, x);
      const [rows, cols] = rowsCols(x.shape);
      const out = outputs(backend, [x.shape]);
      if (rows > 0 && cols > 0) native.softmax(f32View(backend, x), out.views()[0], rows, cols);
      return out.infos()[0];
    },
    [SOFTMAX_GRAD_KERNEL]: ({ inputs, backend }) => {
      const { dy, y } = inputs as { dy: Info; y: Info };
      assertFloat32(SOFTMAX_GRAD_KERNEL, dy, y);
      const [rows, cols] = rowsCols(y.shape);
      const out = outputs(backend, [y.shape]);
      if (rows > 0 && cols > 0)
        native.softmaxGrad(f32View(backend, dy), f32View(backend, y), out.views()[0], rows, cols);
      return out.infos()[0];
    },
    [ATTENTION_KL_KERNEL]: ({ inputs, backend, attrs }) => {
      const { teacher, student, mask } = inputs as { teacher: Info; student: Info; mask: Info };
      assertFloat32(ATTENTION_KL_KERNEL, teacher, student, mask);
      const [b, h, q, k] = student.shape;
      const a = attrs as unknown as AttentionKlAttrs;
      const total =
        b === 0
          ? 0
          : native.attentionKl(
              f32View(backend, teacher),
              f32View(backend, student),
              f32View(backend, mask),
              b,
              h,
              q,
              k,
              a.eps,
              a.teacherEps,
            );
      const out = outputs(backend, [[]]);
      out.views()[0][0] = total;
      return out.infos()[0];
    },
    [ATTENTION_KL_GRAD_KERNEL]: ({ inputs, backend, attrs }) => {
      const { dy, teacher, student, mask } = inputs as { dy: Info; teacher: Info; student: Info; mask: Info };
      assertFloat32(ATTENTION_KL_GRAD_KERNEL, dy, teacher, student, mask);
      const [b, h, q, k] = student.shape;
      const scale = scalarValue(backend, dy);
      const out = outputs(backend, [student.shape]);
      if (b > 0)
        native.attentionKlGrad(
          f32View(backend, teacher),
          f32View(backend, student),
          f32View(backend, mask),
          out.views()[0],
          b,
          h,
          q,
          k,
          (attrs as unknown as AttentionKlAttrs).eps,
          scale,
        );
      return out.infos()[0];
    },
    [ADAMW_KERNEL]: ({ inputs, backend, attrs }) => {
      const { param, grad, m, v } = inputs as { param: Info; grad: Info; m: Info; v: Info };
      assertFloat32(ADAMW_KERNEL, param, grad, m, v);
      const a = attrs as unknown as AdamWAttrs;
      const n = tf.util.sizeFromShape(param.shape);
      const out = outputs(backend, [param.shape, param.shape, param.shape]);
      const [po, mo, vo] = out.views();
      native.adamw(
        f32View(backend, param),
        f32View(backend, grad),
        f32View(backend, m),
        f32View(backend, v),
        po,
        mo,
        vo,
        n,
        a.beta1,
        a.oneMinusBeta1,
        a.beta2,
        a.oneMinusBeta2,
        a.biasCorrection2Sqrt,
        a.eps,
        a.stepSize,
        a.decay ?? NaN,
      );
      return out.infos();
    },
    [SUM_SQUARES_KERNEL]: ({ inputs, backend }) => {
      const { x } = inputs as { x: Info };
      assertFloat32(SUM_SQUARES_KERNEL, x);
      const n = tf.util.sizeFromShape(x.shape);
      const total = n === 0 ? 0 : native.sumSquares(f32View(backend, x), n);
      const out = outputs(backend, [[]]);
      out.views()[0][0] = total;
      return out.infos()[0];
    },
    [SUM_ROWS_KERNEL]: ({ inputs, backend }) => {
      const { x } = inputs as { x: Info };
      assertFloat32(SUM_ROWS_KERNEL, x);
      if (x.shape.length !== 2) throw new Error(`${SUM_ROWS_KERNEL}: a 2-D tensor only, got shape [${x.shape}]`);
      const [rows, cols] = x.shape;
      const out = outputs(backend, [[cols]]);
      const sum = out.views()[0];
      if (rows === 0) sum.fill(0);
      else if (cols > 0) native.sumRows(f32View(backend, x), sum, rows, cols);
      return out.infos()[0];
    },
  };
}

/**
 * The permutation with size-1 axes dropped and axes that stay neighbours merged: [shape, perm] of
 * the equivalent transpose of the fewest axes (perm [0] when nothing moves).
 */
export function collapsePermutation(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  // Keep the input axes of size > 1, renumbered in input order.
  const kept = shape.map((d, i) => (d === 1 ? -1 : i)).filter((i) => i >= 0);
  const rank = new Map(kept.map((axis, i) => [axis, i]));
  const p = perm.filter((axis) => shape[axis] !== 1).map((axis) => rank.get(axis) as number);
  const s = kept.map((axis) => shape[axis]);
  if (p.length === 0) return { shape: [1], perm: [0] };
  // Merge output-order runs of consecutive input axes (i, i+1, …) into one axis.
  const groups: number[][] = [];
  for (const axis of p) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === axis) last.push(axis);
    else groups.push([axis]);
  }
  const byInput = [...groups].sort((x, y) => x[0] - y[0]);
  const mergedShape = byInput.map((g) => g.reduce((acc, axis) => acc * s[axis], 1));
  const mergedPerm = groups.map((g) => byInput.indexOf(g));
  return { shape: mergedShape, perm: mergedPerm };
}

interface RefCountingBackend {
  incRef(dataId: object): void;
}

/**
 * Transpose on wasm/cpu: a permutation that leaves the data's order as it is (identity once size-1
 * axes are dropped) shares its input's data; float32 permutations of up to six merged axes are a
 * native strided copy; anything else goes to the stock kernel.
 */
export function transposeKernel(native: NativeBlas | null, stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: Info };
      backend: unknown;
      attrs: { perm: number[] };
    };
    const x = inputs.x;
    const perm = attrs.perm;
    const outShape = perm.map((axis) => x.shape[axis]);
    const c = collapsePermutation(x.shape, perm);
    const b = backend as Partial<RefCountingBackend>;
    if (c.perm.every((axis, i) => axis === i) && x.dtype !== 'string' && typeof b.incRef === 'function') {
      b.incRef(x.dataId);
      return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
    }
    const n = tf.util.sizeFromShape(x.shape);
    if (
      !native ||
      x.dtype !== 'float32' ||
      c.perm.length > 6 ||
      n < MIN_NATIVE_COPY ||
      !(isWasmBackend(backend) || isCpuBackend(backend))
    )
      return stock(args);
    const strides = rowMajorStrides(c.shape);
    const out = outputs(backend, [outShape]);
    native.stridedCopy(
      f32View(backend, x),
      0,
      out.views()[0],
      c.perm.map((axis) => c.shape[axis]),
      c.perm.map((axis) => strides[axis]),
    );
    return out.infos()[0];
  };
}

/** Float32 slices as one native strided copy (the stock wasm kernel is slow on non-contiguous ones: a [CLS] slice took ~1 ms). */
export function sliceKernel(native: NativeBlas, stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: Info };
      backend: unknown;
      attrs: { begin: number | number[]; size: number | number[] };
    };
    const x = inputs.x;
    if (
      x.dtype !== 'float32' ||
      x.shape.length > 6 ||
      x.shape.length === 0 ||
      !(isWasmBackend(backend) || isCpuBackend(backend))
    )
      return stock(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    tf.slice_util.assertParamsValid(x, begin, size);
    if (tf.util.sizeFromShape(size) < MIN_NATIVE_COPY) return stock(args);
    const strides = rowMajorStrides(x.shape);
    const offset = begin.reduce((acc, b, a) => acc + b * strides[a], 0);
    const out = outputs(backend, [size]);
    native.stridedCopy(f32View(backend, x), offset, out.views()[0], size, strides);
    return out.infos()[0];
  };
}

/** Below this many values the stock copy's own cost is as small as a native call. */
const MIN_NATIVE_COPY = 4096;

function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    strides[a] = acc;
    acc *= shape[a];
  }
  return strides;
}

/** Softmax's gradient needs only its output: one pass (TF.js's own is four ops over the attention map). */
tf.registerGradient({
  kernelName: SOFTMAX_KERNEL,
  outputsToSave: [true],
  gradFunc: (dy, [y]) => ({
    x: () => tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { dy: dy as tf.Tensor, y }) as tf.Tensor,
  }),
});

/**
 * Gradients of DistilleryAttentionKl's sum. Autodiff asks only for the inputs on a path to what is
 * differentiated: in training that is the student alone (the native kernel); the teacher's
 * gradient, by ops, is there for completeness: ln max(t, τ) + t·[t ≥ τ]/max(t, τ) − ln max(s, ε).
 */
tf.registerGradient({
  kernelName: ATTENTION_KL_KERNEL,
  inputsToSave: ['teacher', 'student', 'mask'],
  gradFunc: (dy, saved, attrs) => {
    const [teacher, student, mask] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
    const a = attrs as unknown as AttentionKlAttrs;
    const d = dy as tf.Tensor;
    return {
      student: () =>
        tf
          .engine()
          .runKernel(
            ATTENTION_KL_GRAD_KERNEL,
            { dy: d, teacher, student, mask },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
      teacher: () => {
        const [b, , q, k] = teacher.shape;
        const tc = tf.maximum(teacher, a.teacherEps);
        const dXLogX = tf.add(
          tf.log(tc),
          tf.div(tf.mul(teacher, tf.cast(tf.greaterEqual(teacher, a.teacherEps), 'float32')), tc),
        );
        const pointwise = tf.sub(dXLogX, tf.log(tf.maximum(student, a.eps)));
        const both = tf.mul(tf.reshape(mask, [b, 1, 1, k]), tf.reshape(mask, [b, 1, q, 1]));
        // Only where both masks are set, as the kernel sums (a NaN elsewhere stays out).
        return tf.mul(
          tf.where(tf.cast(tf.broadcastTo(both, pointwise.shape), 'bool'), pointwise, tf.zerosLike(pointwise)),
          d,
        );
      },
      mask: () => tf.zerosLike(mask),
    };
  },
});
