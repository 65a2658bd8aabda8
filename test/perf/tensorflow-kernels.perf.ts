// Times each fused kernel on the tensorflow backend against the composite ops it replaces, at the
// `base` step's tensor sizes, interleaved (docs/performance.md, "The fused kernels on TensorFlow's
// memory"). Not a test: run it by hand, alone on the machine for steady figures:
//
//   node --import tsx test/perf/tensorflow-kernels.perf.ts [rounds]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { setKernelMode } from '../../src/model/fast-kernels';
import { SOFTMAX_GRAD_KERNEL } from '../../src/model/fast-kernels/training-kernels';
import { dropout, layerNorm } from '../../src/model/ops';
import { gelu } from '../../src/model/gelu';
import { softmax } from '../../src/model/softmax';
import { attentionKl } from '../../src/distill/losses';

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 10);
  await initBackend('tensorflow');
  const info = setKernelMode('blas');
  if (info.tensorflow !== 'fused') throw new Error(`no fused kernels on tensorflow: ${info.tensorflowUnavailable}`);
  // Inputs computed by TensorFlow, as the model's are.
  const onTf = <T extends tf.Tensor>(f: () => T): T => tf.tidy(() => tf.add(f(), 0) as T);
  const ff = onTf(() => tf.randomNormal([4096, 3072]));
  const h = onTf(() => tf.randomNormal([4096, 768])) as tf.Tensor2D;
  const gamma = onTf(() => tf.randomNormal([768], 1, 0.1)) as tf.Tensor1D;
  const scores = onTf(() => tf.randomNormal([32, 12, 128, 128], 0, 3));
  const probs = tf.tidy(() => tf.softmax(scores)) as tf.Tensor4D;
  const mask = tf.ones([32, 128], 'int32') as tf.Tensor2D;
  const cases: Record<string, () => tf.TensorContainer> = {
    'softmax [32,12,128,128]': () => softmax(scores),
    'softmax gradient': () => {
      if (tf.getKernel(SOFTMAX_GRAD_KERNEL, 'tensorflow'))
        return tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { dy: scores, y: probs }) as tf.Tensor;
      const dyy = tf.mul(scores, probs); // TF.js's own Softmax gradient
      return tf.sub(dyy, tf.mul(tf.sum(dyy, [-1], true), probs));
    },
    'GELU [4096,3072]': () => gelu(ff),
    'GELU forward + backward': () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), ff)))(ff),
    'LayerNorm [4096,768]': () => layerNorm(h, gamma, gamma, 1e-12),
    'LayerNorm forward + backward': () =>
      tf.grads((a: tf.Tensor, g: tf.Tensor) =>
        tf.sum(tf.mul(layerNorm(a as tf.Tensor2D, g as tf.Tensor1D, gamma, 1e-12), h)),
      )([h, gamma]),
    'dropout [4096,768] forward + backward': () =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(dropout(a, 0.1, 'perf'), h)))(h),
    'attention KL forward + backward': () =>
      tf.grad((s: tf.Tensor) => attentionKl(probs, s as tf.Tensor4D, mask))(probs),
  };
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  for (const [name, f] of Object.entries(cases)) {
    const ms: Record<'stock' | 'blas', number[]> = { stock: [], blas: [] };
    for (let r = 0; r <= rounds; r++)
      for (const mode of ['stock', 'blas'] as const) {
        setKernelMode(mode);
        const t0 = performance.now();
        tf.dispose(tf.tidy(f));
        if (r > 0) ms[mode].push(performance.now() - t0); // round 0 warms up
      }
    const fmt = (a: number[]): string => `${median(a).toFixed(1)} ms (min ${Math.min(...a).toFixed(1)})`;
    console.log(`${name}: composites ${fmt(ms.stock)}, fused ${fmt(ms.blas)}`);
  }
  setKernelMode('stock');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
