/**
 * Softmax over the last axis, as tf.softmax computes it; a backend may register a faster one
 * (./ops.ts), e.g. the native addon's single pass forward and backward.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineOp } from './ops';

const softmaxOp = defineOp('softmax', (x) => tf.softmax(x, -1));

export function softmax<T extends tf.Tensor>(x: T): T {
  return softmaxOp(x) as T;
}
