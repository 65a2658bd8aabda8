/**
 * BERT's exact GELU, x·½(1 + erf(x/√2)), never the tanh approximation (its outputs differ from a
 * Hugging Face checkpoint's by up to ~1e-3). Backends without an `Erf` kernel get erf built from
 * supported ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineOp } from './ops';

export type ErfImpl = 'auto' | 'native' | 'ops';

export function hasNativeErf(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(tf.Erf, backendName) !== undefined;
}

// Odd/even minimax rational for erf on [-4, 4] (the float erf of Eigen/XLA); beyond ±4 erf is
// ±1 in float32. Error about 7e-8 in exact arithmetic, about 4e-7 evaluated in float32.
const ERF_NUM = [
  -1.60960333262415e-2, -2.95459980854025e-3, -7.34990630326855e-4, -5.69250639462346e-5, -2.10102402082508e-6,
  2.77068142495902e-8, -2.72614225801306e-10,
];
const ERF_DEN = [
  -1.42647390514189e-2, -7.37332916720468e-3, -1.68282697438203e-3, -2.13374055278905e-4, -1.45660718464996e-5,
];

/** Polynomial in `x2` with coefficients by ascending power, by Horner's rule. */
function horner(x2: tf.Tensor, coeffs: readonly number[]): tf.Tensor {
  let acc: tf.Tensor = tf.scalar(coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) acc = tf.add(tf.mul(acc, x2), coeffs[i]);
  return acc;
}

/** erf from multiply/add/divide only, for backends without an `Erf` kernel. */
export function erfFromOps(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const xc = tf.clipByValue(x, -4, 4);
    const x2 = tf.square(xc);
    return tf.div(tf.mul(xc, horner(x2, ERF_NUM)), horner(x2, ERF_DEN));
  });
}

export function erf(x: tf.Tensor, impl: ErfImpl = 'auto'): tf.Tensor {
  const native = impl === 'native' || (impl === 'auto' && hasNativeErf());
  return native ? tf.erf(x) : erfFromOps(x);
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Φ(x) = ½(1 + erf(x/√2)), the standard normal CDF. */
function normalCdf(x: tf.Tensor, impl: ErfImpl): tf.Tensor {
  return tf.mul(tf.add(erf(tf.mul(x, INV_SQRT2), impl), 1), 0.5);
}

/**
 * Exact GELU with an analytic gradient, d/dx x·Φ(x) = Φ(x) + x·φ(x): only x is kept for the
 * backward pass instead of every intermediate of the erf evaluation.
 */
export function gelu<T extends tf.Tensor>(x: T, impl: ErfImpl = 'auto'): T {
  // 'auto' is the op a backend may replace (./ops.ts): the native addon's fused kernels make it
  // one pass forward and one backward instead of about five and ten element-wise ops.
  return (impl === 'auto' ? geluOp(x) : geluByImpl[impl](x)) as T;
}

function makeGelu(impl: ErfImpl): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([input]);
    return {
      value: tf.mul(input, normalCdf(input, impl)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs] = saved;
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
        return tf.mul(dy, tf.add(normalCdf(xs, impl), tf.mul(xs, pdf)));
      },
    };
  });
}

const geluByImpl: Record<ErfImpl, (x: tf.Tensor) => tf.Tensor> = {
  auto: makeGelu('auto'),
  native: makeGelu('native'),
  ops: makeGelu('ops'),
};

const geluOp = defineOp('gelu', geluByImpl.auto);
