// Times the `base` step's dense products and the bias gradient's row sum on the tensorflow backend:
// TensorFlow's MatMul / Sum against the addon's OpenBLAS sgemm / sumRows on TensorFlow's memory
// (zero-copy views, ../../src/model/fast-kernels/tensorflow-memory.ts), interleaved. Not a test:
// run it by hand, alone on the machine for steady figures (docs/performance.md):
//
//   node --import tsx test/perf/tensorflow-linear.perf.ts [rounds] [name filter, e.g. Σ]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { setKernelMode } from '../../src/model/fast-kernels';
import { loadNativeBlas } from '../../src/model/fast-kernels/native-blas';
import {
  inViewScope,
  tensorflowF32View,
  tensorflowOutputs,
  type TensorflowBackendLike,
} from '../../src/model/fast-kernels/tensorflow-memory';

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const filter = process.argv[3] ?? '';
  await initBackend('tensorflow');
  const info = setKernelMode('blas');
  if (info.tensorflow !== 'fused') throw new Error(`no fused kernels on tensorflow: ${info.tensorflowUnavailable}`);
  const blas = loadNativeBlas().blas!;
  const backend = tf.findBackend('tensorflow') as unknown as TensorflowBackendLike;
  const onTf = (shape: number[]): tf.Tensor2D => tf.tidy(() => tf.add(tf.randomNormal(shape), 0) as tf.Tensor2D);
  const n = 4096;
  // [rows, inner, cols] of x·w for the three dense shapes of a base layer.
  const shapes: Array<[number, number, number]> = [
    [n, 768, 768],
    [n, 768, 3072],
    [n, 3072, 768],
  ];
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const fmt = (a: number[]): string => `${median(a).toFixed(1)} ms (min ${Math.min(...a).toFixed(1)})`;
  /** out = op(a)·op(b) on TensorFlow's memory, a new tensor [m, cols]. */
  const native = (a: tf.Tensor2D, b: tf.Tensor2D, ta: boolean, tb: boolean): tf.Tensor => {
    const m = ta ? a.shape[1] : a.shape[0];
    const k = ta ? a.shape[0] : a.shape[1];
    const cols = tb ? b.shape[0] : b.shape[1];
    const kernel = inViewScope(
      () => backend.binding,
      () => {
        const out = tensorflowOutputs(backend, [[m, cols]]);
        const av = tensorflowF32View(backend, a);
        const bv = tensorflowF32View(backend, b);
        blas.sgemm(av, 0, bv, 0, out.views()[0], 0, ta, tb, m, cols, k, 1, 0, 0, 0, null, 0);
        return out.infos()[0];
      },
    );
    const outInfo = kernel({ inputs: {}, backend: backend as unknown as tf.KernelBackend, attrs: {} }) as tf.TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(outInfo);
  };
  const rowSum = (x: tf.Tensor2D): tf.Tensor => {
    const kernel = inViewScope(
      () => backend.binding,
      () => {
        const out = tensorflowOutputs(backend, [[x.shape[1]]]);
        blas.sumRows(tensorflowF32View(backend, x), out.views()[0], x.shape[0], x.shape[1]);
        return out.infos()[0];
      },
    );
    return tf
      .engine()
      .makeTensorFromTensorInfo(
        kernel({ inputs: {}, backend: backend as unknown as tf.KernelBackend, attrs: {} }) as tf.TensorInfo,
      );
  };
  /** y + b (b one row, repeated) by the addon's binary kernel, a new tensor. */
  const biasAdd = (y: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor => {
    const [rows, cols] = y.shape;
    const kernel = inViewScope(
      () => backend.binding,
      () => {
        const out = tensorflowOutputs(backend, [[rows, cols]]);
        const yv = tensorflowF32View(backend, y);
        const bv = tensorflowF32View(backend, b);
        blas.binary(0, yv, 0, cols, 1, bv, 0, 0, 1, out.views()[0], 0, rows, cols);
        return out.infos()[0];
      },
    );
    return tf
      .engine()
      .makeTensorFromTensorInfo(
        kernel({ inputs: {}, backend: backend as unknown as tf.KernelBackend, attrs: {} }) as tf.TensorInfo,
      );
  };
  console.log(`OpenBLAS threads ${blas.threads()}`);
  for (const [rows, inner, cols] of shapes) {
    const x = onTf([rows, inner]);
    const w = onTf([inner, cols]);
    const dy = onTf([rows, cols]);
    const b = tf.tidy(() => tf.add(tf.randomNormal([cols]), 0) as tf.Tensor1D);
    const cases: Record<string, [() => tf.Tensor, () => tf.Tensor]> = {
      [`x·w [${rows},${inner}]·[${inner},${cols}]`]: [() => tf.matMul(x, w), () => native(x, w, false, false)],
      [`dy·wᵀ [${rows},${cols}]·[${cols},${inner}]`]: [
        () => tf.matMul(dy, w, false, true),
        () => native(dy, w, false, true),
      ],
      [`xᵀ·dy [${inner},${rows}]·[${rows},${cols}]`]: [
        () => tf.matMul(x, dy, true, false),
        () => native(x, dy, true, false),
      ],
      [`Σ rows of dy [${rows},${cols}]`]: [() => tf.sum(dy, 0), () => rowSum(dy)],
      [`dy + b [${rows},${cols}]`]: [() => tf.add(dy, b), () => biasAdd(dy, b)],
    };
    for (const [name, [stockF, nativeF]] of Object.entries(cases)) {
      if (!name.includes(filter)) continue;
      const ms = { tf: [] as number[], native: [] as number[] };
      let maxRel = 0;
      for (let r = 0; r <= rounds; r++) {
        for (const which of ['tf', 'native'] as const) {
          const t0 = performance.now();
          const out = (which === 'tf' ? stockF : nativeF)();
          if (r > 0) ms[which].push(performance.now() - t0); // round 0 warms up
          out.dispose();
        }
      }
      const a = stockF();
      const c = nativeF();
      maxRel = tf.tidy(() => tf.max(tf.div(tf.abs(tf.sub(a, c)), tf.add(tf.abs(a), 1))).dataSync()[0]);
      tf.dispose([a, c]);
      console.log(
        `${name}: TensorFlow ${fmt(ms.tf)}, native ${fmt(ms.native)}, max rel diff ${maxRel.toExponential(1)}`,
      );
    }
    tf.dispose([x, w, dy, b]);
  }
  setKernelMode('stock');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
