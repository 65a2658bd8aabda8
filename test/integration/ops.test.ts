// The op registry (src/model/ops.ts): an op runs the implementation registered for the active
// backend, its composite for tensors other than float32 and on backends without one; and the fast
// kernels register theirs per kernel mode (the native ones with blas, the key layout without).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { defineOp, registerOps } from '../../src/model/ops';
import { resetKernelMode, setKernelMode } from '../../src/model/fast-kernels';
import { KEY_LAYOUT_OPS, NATIVE_OPS } from '../../src/model/fast-kernels/ops';
import { onBackend, setUpKernelBackends } from '../helpers/tensors';

let blasReason: string | undefined;

before(async () => {
  blasReason = await setUpKernelBackends();
});

test("an op runs the active backend's registered implementation on float32 tensors, else its composite", async () => {
  const op = defineOp('l2Norm', () => tf.scalar(1));
  const registered = { l2Norm: () => tf.scalar(2) };
  const f32 = tf.ones([3]);
  const i32 = tf.ones([3], 'int32');
  try {
    registerOps('wasm', registered);
    assert.equal(op(f32).dataSync()[0], 2);
    assert.equal(op(i32).dataSync()[0], 1, 'int32 goes to the composite');
    await onBackend('cpu', () => assert.equal(op(f32).dataSync()[0], 1, 'another backend has its own registrations'));
    registerOps('wasm', {});
    assert.equal(op(f32).dataSync()[0], 1, 'a later registration replaces the earlier one');
  } finally {
    registerOps('wasm', KEY_LAYOUT_OPS); // what the stock kernels registered
    tf.dispose([f32, i32]);
  }
});

test('the kernel modes register their ops: native with blas, the key layout without', async (t) => {
  // Observed through the op: with the key layout the keys are transposed before the product.
  const scores = defineOp('attentionScores', () => {
    throw new Error('composite');
  });
  const q = tf.ones([1, 2, 3, 4]) as tf.Tensor4D;
  const keys = tf.ones([3, 8]) as tf.Tensor2D;
  setKernelMode('stock');
  assert.deepEqual(scores(q, keys).shape, [1, 2, 3, 3]);
  await onBackend('cpu', () => assert.deepEqual(scores(q, keys).shape, [1, 2, 3, 3]));
  assert.ok(KEY_LAYOUT_OPS.attentionScores && !KEY_LAYOUT_OPS.layerNorm);
  if (blasReason) {
    t.skip(`native addon not available: ${blasReason}`);
    return;
  }
  setKernelMode('blas');
  assert.throws(() => scores(q, keys), /composite/, 'BLAS takes the transposed operand: the composite runs');
  assert.ok(NATIVE_OPS.layerNorm && NATIVE_OPS.softmax && NATIVE_OPS.adamW && !NATIVE_OPS.attentionScores);
  setKernelMode('stock');
  resetKernelMode();
  tf.dispose([q, keys]);
});
