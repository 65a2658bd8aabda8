import * as tf from '@tensorflow/tfjs-core';
import type { BertInputs } from './bert';

/** Row-major int arrays of one padded batch, as the data layer produces them. */
export interface BatchArrays {
  size: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
}

/** Makes the model's input tensors; the caller disposes them (or calls inside tf.tidy). */
export function toBertInputs(b: BatchArrays): BertInputs {
  const shape: [number, number] = [b.size, b.seqLen];
  return {
    inputIds: tf.tensor2d(b.inputIds, shape, 'int32'),
    tokenTypeIds: tf.tensor2d(b.tokenTypeIds, shape, 'int32'),
    attentionMask: tf.tensor2d(b.attentionMask, shape, 'int32'),
  };
}

export function disposeInputs(i: BertInputs): void {
  tf.dispose([i.inputIds, i.tokenTypeIds, i.attentionMask]);
}
