/**
 * Softmax over the last axis, as tf.softmax computes it. When the native addon's kernels are
 * registered for the backend (src/model/fast-kernels) it runs one pass forward and one backward,
 * keeping only the output for the gradient; TF.js's own gradient is four ops over the whole
 * attention map.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SOFTMAX_GRAD_KERNEL, SOFTMAX_KERNEL } from './fast-kernels/training-kernels';

export function softmax<T extends tf.Tensor>(x: T): T {
  if (x.dtype === 'float32' && tf.getKernel(SOFTMAX_KERNEL, tf.getBackend())) return fusedSoftmax(x) as T;
  return tf.softmax(x, -1) as T;
}

const fusedSoftmax = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const y = tf.engine().runKernel(SOFTMAX_KERNEL, { x: args[0] as tf.Tensor }) as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { dy, y: saved[0] }) as tf.Tensor,
  };
});
