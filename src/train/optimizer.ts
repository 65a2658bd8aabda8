/**
 * AdamW as torch.optim.AdamW (1.13 single-tensor path, amsgrad off), with BERT's weight-decay
 * exclusions, and gradient clipping as torch.nn.utils.clip_grad_norm_. Element-wise operations
 * follow torch's order so float32 results agree to rounding; test/integration/optimizer.test.ts checks this
 * against torch itself.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedTensor, numel } from '../model/named-tensors';
import { UserError } from '../util/errors';
import type { AdamWAttrs } from '../model/fast-kernels/training-kernels';
import { AdamWState, defineOp } from '../model/ops';

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface MomentState {
  name: string;
  m: NamedTensor;
  v: NamedTensor;
  /**
   * Updates this variable has had. Differs from the global step only when some steps gave it no
   * gradient (torch counts per parameter); when absent, setState uses the global step.
   */
  step?: number;
}

/** Plain data, so a checkpoint can store it. */
export interface OptimizerState {
  /** applyGradients calls so far. */
  step: number;
  moments: MomentState[];
}

/** BERT convention: no weight decay for biases and LayerNorm weights. */
export function decayApplies(name: string): boolean {
  return !(name.endsWith('.bias') || name.includes('LayerNorm') || name.includes('layer_norm'));
}

/** op(x), then x freed. */
function consume(x: tf.Tensor, op: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  const y = op(x);
  x.dispose();
  return y;
}

/** op(a, b), then both freed. */
function combine(a: tf.Tensor, b: tf.Tensor, op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  const y = op(a, b);
  a.dispose();
  b.dispose();
  return y;
}

/** One AdamW update of one variable, in place (a backend may fuse it into one pass). */
const adamW = defineOp('adamW', (slot: AdamWState, g: tf.Tensor, a: AdamWAttrs): void => {
  // The new moments replace the old as soon as they are final. Each handle is dropped after its
  // assign: tf.memory() counts bytes per handle, and the variable holds the data on its own.
  // m = β1·m + (1 − β1)·g
  const m = combine(tf.mul(slot.m, a.beta1), tf.mul(g, a.oneMinusBeta1), tf.add);
  slot.m.assign(m);
  m.dispose();
  // v = β2·v + (1 − β2)·g·g
  const v = combine(
    tf.mul(slot.v, a.beta2),
    consume(tf.mul(g, a.oneMinusBeta2), (x) => tf.mul(x, g)),
    tf.add,
  );
  slot.v.assign(v);
  v.dispose();
  const denom = consume(
    consume(tf.sqrt(slot.v), (x) => tf.div(x, a.biasCorrection2Sqrt)),
    (x) => tf.add(x, a.eps),
  );
  const update = combine(tf.mul(slot.m, a.stepSize), denom, tf.div);
  const decayed = a.decay !== null ? tf.mul(slot.variable, a.decay) : slot.variable;
  const p = tf.sub(decayed, update);
  update.dispose();
  if (decayed !== slot.variable) decayed.dispose();
  slot.variable.assign(p);
  p.dispose();
});

interface Slot {
  name: string;
  variable: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  step: number;
  weightDecay: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * A non-trainable float32 variable of zeros. Left unnamed: TF.js variable names are global, and two
 * optimizers over the same parameter names (teacher and student, say) must not collide.
 */
function zerosVariable(shape: readonly number[]): tf.Variable {
  const zeros = tf.zeros([...shape]);
  const variable = tf.variable(zeros, false);
  zeros.dispose(); // the variable holds its own reference to the data
  return variable;
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

export class AdamW {
  private readonly slots: Slot[];
  private readonly opts: AdamWOptions;
  private step = 0;
  private disposed = false;

  constructor(vars: Array<{ name: string; variable: tf.Variable }>, opts: AdamWOptions) {
    // The same checks torch makes; these values come from code or an already validated config.
    if (!(opts.lr >= 0)) throw new RangeError(`AdamW: invalid learning rate ${opts.lr}`);
    if (!(opts.eps >= 0)) throw new RangeError(`AdamW: invalid eps ${opts.eps}`);
    if (!(opts.beta1 >= 0 && opts.beta1 < 1)) throw new RangeError(`AdamW: invalid beta1 ${opts.beta1}`);
    if (!(opts.beta2 >= 0 && opts.beta2 < 1)) throw new RangeError(`AdamW: invalid beta2 ${opts.beta2}`);
    if (!(opts.weightDecay >= 0)) throw new RangeError(`AdamW: invalid weight decay ${opts.weightDecay}`);
    const seen = new Set<string>();
    for (const { name, variable } of vars) {
      if (seen.has(name)) throw new Error(`AdamW: variable "${name}" given twice`);
      seen.add(name);
      if (variable.dtype !== 'float32') throw new Error(`AdamW: variable "${name}" is ${variable.dtype}, not float32`);
    }
    this.opts = { ...opts };
    this.slots = vars.map(({ name, variable }) => ({
      name,
      variable,
      m: zerosVariable(variable.shape),
      v: zerosVariable(variable.shape),
      step: 0,
      weightDecay: decayApplies(name) ? opts.weightDecay : 0,
    }));
  }

  /**
   * One update with `grads` (by variable name) at learning rate `lr` (overrides opts.lr). A variable
   * without a gradient is left alone, moments included, as torch does for `grad is None`.
   */
  applyGradients(grads: Record<string, tf.Tensor>, lr: number): void {
    this.assertLive();
    const byName = new Map(this.slots.map((s) => [s.name, s]));
    for (const [name, g] of Object.entries(grads)) {
      const slot = byName.get(name);
      if (!slot) throw new Error(`AdamW: gradient for unknown variable "${name}"`);
      if (!sameShape(g.shape, slot.variable.shape)) {
        throw new Error(
          `AdamW: gradient for "${name}" has shape ${fmtShape(g.shape)}, the variable ${fmtShape(slot.variable.shape)}`,
        );
      }
    }
    const { beta1, beta2, eps } = this.opts;
    this.step += 1;
    for (const slot of this.slots) {
      const g = grads[slot.name];
      if (g === undefined) continue;
      slot.step += 1;
      // One tidy per variable, each temporary freed as soon as it is used, and the moments assigned
      // as soon as they are final: at most three copies of one variable are alive at a time (a
      // single tidy over every variable kept ~14 copies of the whole model until the end). The ops
      // and their order are unchanged, so the results are too.
      tf.tidy(() => this.updateVariable(slot, g, lr, beta1, beta2, eps));
    }
  }

  private updateVariable(slot: Slot, g: tf.Tensor, lr: number, beta1: number, beta2: number, eps: number): void {
    // Scalars are computed in double and rounded to float32 by the ops, as torch does with Python
    // floats.
    const attrs: AdamWAttrs = {
      beta1,
      oneMinusBeta1: 1 - beta1,
      beta2,
      oneMinusBeta2: 1 - beta2,
      biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** slot.step),
      eps,
      stepSize: lr / (1 - beta1 ** slot.step),
      decay: slot.weightDecay !== 0 ? 1 - lr * slot.weightDecay : null,
    };
    adamW(slot, g, attrs);
  }

  /** A copy of the moments and step counts, detached from the optimizer. */
  getState(): OptimizerState {
    this.assertLive();
    const plain = (t: tf.Variable): NamedTensor => ({
      shape: [...t.shape],
      // slice(): some backends hand out their own storage from dataSync.
      data: (t.dataSync() as Float32Array).slice(),
    });
    return {
      step: this.step,
      moments: this.slots.map((s) => ({ name: s.name, m: plain(s.m), v: plain(s.v), step: s.step })),
    };
  }

  /**
   * Restores a state from getState (e.g. read from a checkpoint). Everything is checked before
   * anything is assigned, so a rejected state leaves the optimizer as it was. `where` names the
   * source in errors (the checkpoint file, say).
   */
  setState(s: OptimizerState, where = 'optimizer state'): void {
    this.assertLive();
    const fix = 'resume from a checkpoint written for this same student (layers and widths), or start the run afresh';
    const bad = (msg: string): UserError => new UserError(msg, { where, fix });
    const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
    if (!isCount(s.step)) throw bad(`step must be a non-negative integer, got ${String(s.step)}`);

    const given = new Map<string, MomentState>();
    for (const mom of s.moments) {
      if (given.has(mom.name)) throw bad(`variable "${mom.name}" appears twice`);
      if (!this.slots.some((sl) => sl.name === mom.name)) throw bad(`variable "${mom.name}" is not in this model`);
      given.set(mom.name, mom);
    }
    for (const slot of this.slots) {
      const mom = given.get(slot.name);
      if (!mom) throw bad(`no moments for variable "${slot.name}"`);
      for (const [which, t] of [
        ['m', mom.m],
        ['v', mom.v],
      ] as const) {
        if (!sameShape(t.shape, slot.variable.shape)) {
          throw bad(
            `${which} of variable "${slot.name}" has shape ${fmtShape(t.shape)}, the model's is ${fmtShape(slot.variable.shape)}`,
          );
        }
        if (t.data.length !== numel(t.shape)) {
          throw bad(`${which} of variable "${slot.name}" has ${t.data.length} values for shape ${fmtShape(t.shape)}`);
        }
      }
      if (mom.step !== undefined && !(isCount(mom.step) && mom.step <= s.step)) {
        throw bad(`step of variable "${slot.name}" must be an integer in [0, ${s.step}], got ${String(mom.step)}`);
      }
    }

    this.step = s.step;
    for (const slot of this.slots) {
      const mom = given.get(slot.name) as MomentState;
      tf.tidy(() => {
        slot.m.assign(tf.tensor(mom.m.data, mom.m.shape, 'float32'));
        slot.v.assign(tf.tensor(mom.v.data, mom.v.shape, 'float32'));
      });
      slot.step = mom.step ?? s.step;
    }
  }

  /** Frees the moments; the model's variables stay with their owner. */
  dispose(): void {
    if (this.disposed) return;
    for (const slot of this.slots) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.disposed = true;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('AdamW: used after dispose()');
  }
}

/**
 * One gradient's norm (a backend may compute it in one pass). The default is Square and Sum:
 * tf.norm's Abs and Pow(x, 2) give the same values, but TensorFlow's general Pow took 11 % of a
 * reference step on the tensorflow backend in the per-kernel profile (docs/performance.md).
 */
const l2Norm = defineOp('l2Norm', (x) => tf.sqrt(tf.sum(tf.square(x))) as tf.Scalar);

/**
 * As torch.nn.utils.clip_grad_norm_ (L2): the norm of all gradients as one vector and, when
 * maxNorm / (norm + 1e-6) < 1, the gradients scaled by that. Returns new tensors (the caller owns
 * them, the inputs are untouched) and the norm before clipping. A non-finite norm propagates into
 * the gradients as in torch, so the caller should check `norm`.
 */
export function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: number } {
  if (!(maxNorm > 0)) throw new RangeError(`clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  const names = Object.keys(grads);
  if (names.length === 0) return { grads: {}, norm: 0 };
  const normTensor = tf.tidy(() => tf.norm(tf.stack(names.map((n) => l2Norm(grads[n])))));
  const norm = normTensor.dataSync()[0];
  normTensor.dispose();
  // torch computes the coefficient in float32; Math.fround reproduces each float32 rounding.
  const coef = Math.fround(Math.fround(maxNorm) / Math.fround(norm + Math.fround(1e-6)));
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = coef >= 1 ? tf.clone(grads[n]) : tf.mul(grads[n], coef);
  return { grads: out, norm };
}
