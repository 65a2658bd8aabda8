import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { AdamW, AdamWOptions, OptimizerState, clipByGlobalNorm, decayApplies } from '../../src/train/optimizer';
import { linearWarmupDecay, warmupSteps } from '../../src/train/lr-schedule';
import { UserError } from '../../src/util/errors';
import { KernelMode, resetKernelMode, setKernelMode } from '../../src/model/fast-kernels';
import { loadNativeBlas } from '../../src/model/fast-kernels/native-blas';
import { PYTHON } from '../helpers/python';
import { seededRandom as rng } from '../helpers/numeric';

const REFERENCE = path.join(__dirname, '..', 'reference', 'optimizer_reference.py');

before(async () => {
  await initBackend('wasm');
});

// ---------------------------------------------------------------- fixtures

interface ParamSpec {
  name: string;
  shape: number[];
  data: number[];
}
type StepGrads = Record<string, number[] | null>;

const PARAM_SHAPES: Array<[string, number[]]> = [
  ['encoder.dense.weight', [4, 3]],
  ['encoder.dense.bias', [4]],
  ['encoder.LayerNorm.weight', [4]],
  ['classifier.weight', [2, 4]],
];

const OPTS: AdamWOptions = { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
const MAX_NORM = 1.0;
const TOTAL_STEPS = 5;
const WARMUP_STEPS = warmupSteps(TOTAL_STEPS, 0.4); // 2

function initialParams(): ParamSpec[] {
  const r = rng(7);
  // Magnitudes in [0.5, 1.5] keep values away from 0, so a relative tolerance is meaningful.
  return PARAM_SHAPES.map(([name, shape]) => ({
    name,
    shape,
    data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
      Math.fround((r() < 0.5 ? -1 : 1) * (0.5 + r())),
    ),
  }));
}

/** Per-step scales chosen so clipping engages on some steps (norm > 1) and not on others. */
const GRAD_SCALES = [0.1, 0.8, 0.2, 1.5, 0.05];

function stepGrads(skip: { step: number; name: string } | null): StepGrads[] {
  const r = rng(11);
  return GRAD_SCALES.map((scale, step) => {
    const out: StepGrads = {};
    for (const [name, shape] of PARAM_SHAPES) {
      const values = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(scale * (2 * r() - 1)));
      out[name] = skip && skip.step === step && skip.name === name ? null : values;
    }
    return out;
  });
}

function makeVars(params: ParamSpec[]): Array<{ name: string; variable: tf.Variable }> {
  return params.map((p) => ({ name: p.name, variable: tf.variable(tf.tensor(p.data, p.shape, 'float32'), true) }));
}

function readVars(vars: Array<{ name: string; variable: tf.Variable }>): Record<string, Float32Array> {
  return Object.fromEntries(vars.map((v) => [v.name, (v.variable.dataSync() as Float32Array).slice()]));
}

function disposeVars(vars: Array<{ name: string; variable: tf.Variable }>): void {
  for (const v of vars) v.variable.dispose();
}

/** The trainer's inner loop: clip, then step at the scheduled rate. Returns norms and lrs. */
function runSteps(opt: AdamW, grads: StepGrads[], from: number, to: number): { norms: number[]; lrs: number[] } {
  const norms: number[] = [];
  const lrs: number[] = [];
  for (let step = from; step < to; step++) {
    const raw: Record<string, tf.Tensor> = {};
    for (const [name, data] of Object.entries(grads[step])) {
      if (data === null) continue;
      const shape = PARAM_SHAPES.find(([n]) => n === name)![1];
      raw[name] = tf.tensor(data, shape, 'float32');
    }
    const clipped = clipByGlobalNorm(raw, MAX_NORM);
    const lr = linearWarmupDecay(step, TOTAL_STEPS, WARMUP_STEPS, OPTS.lr);
    opt.applyGradients(clipped.grads, lr);
    tf.dispose(Object.values(raw));
    tf.dispose(Object.values(clipped.grads));
    norms.push(clipped.norm);
    lrs.push(lr);
  }
  return { norms, lrs };
}

interface ReferenceCase {
  params: Record<string, number[]>;
  norms: number[];
  lrs: number[];
}

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

function runReference(cases: Array<{ params: ParamSpec[]; grads: StepGrads[] }>): ReferenceCase[] {
  const input = JSON.stringify({
    opts: { ...OPTS, peakLr: OPTS.lr, maxNorm: MAX_NORM, totalSteps: TOTAL_STEPS, warmupSteps: WARMUP_STEPS },
    cases,
  });
  const r = spawnSync(PYTHON, [REFERENCE], { input, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `reference failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { cases: ReferenceCase[] }).cases;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-12);
    assert.ok(err <= rel, `${what}[${i}]: ${actual[i]} vs torch ${expected[i]} (relative error ${err})`);
  }
}

// ---------------------------------------------------------------- against torch

test('AdamW + clip_grad_norm_ + linear schedule match torch over 5 steps', { timeout: 60_000 }, (t) => {
  if (!torchAvailable()) {
    t.skip(`${PYTHON} with torch is not available`);
    return;
  }
  const params = initialParams();
  const cases = [
    { params, grads: stepGrads(null) },
    // A variable without a gradient on one step: torch leaves it (and its step count) alone.
    { params, grads: stepGrads({ step: 2, name: 'classifier.weight' }) },
  ];
  const reference = runReference(cases);

  // The op-by-op update and, when the addon is built, its native AdamW kernel.
  const modes: KernelMode[] = loadNativeBlas().blas ? ['stock', 'blas'] : ['stock'];
  for (const mode of modes) {
    setKernelMode(mode);
    cases.forEach((c, i) => {
      const vars = makeVars(c.params);
      const opt = new AdamW(vars, OPTS);
      const { norms, lrs } = runSteps(opt, c.grads, 0, TOTAL_STEPS);
      const ref = reference[i];
      assertClose(lrs, ref.lrs, 1e-12, `case ${i} lr`);
      assertClose(norms, ref.norms, 1e-6, `case ${i} grad norm`);
      const got = readVars(vars);
      for (const p of c.params) {
        assertClose(got[p.name], ref.params[p.name], 1e-6, `${mode} kernels, case ${i} ${p.name}`);
        // Every parameter actually moved (lr 0 on step 0 must not have frozen anything).
        assert.ok(
          got[p.name].some((x, k) => x !== p.data[k]),
          `case ${i} ${p.name} did not change`,
        );
      }
      opt.dispose();
      disposeVars(vars);
    });
  }
  setKernelMode('stock');
  resetKernelMode();
  // The schedule really warms up from 0 and clipping engaged on some steps but not all.
  assert.equal(reference[0].lrs[0], 0);
  assert.ok(reference[0].norms.some((n) => n > MAX_NORM) && reference[0].norms.some((n) => n < MAX_NORM));
});

// ---------------------------------------------------------------- state, memory, errors

test('save/restore mid-way gives bit-identical params to an uninterrupted run', () => {
  const params = initialParams();
  const grads = stepGrads({ step: 1, name: 'encoder.dense.bias' });

  const straightVars = makeVars(params);
  const straight = new AdamW(straightVars, OPTS);
  runSteps(straight, grads, 0, TOTAL_STEPS);
  const expected = readVars(straightVars);
  straight.dispose();
  disposeVars(straightVars);

  const firstVars = makeVars(params);
  const first = new AdamW(firstVars, OPTS);
  runSteps(first, grads, 0, 2);
  // Round-trip through plain data, as a checkpoint would.
  const saved: OptimizerState = structuredClone(first.getState());
  const savedParams = readVars(firstVars);
  assert.equal(saved.step, 2);
  assert.equal(saved.moments.find((m) => m.name === 'encoder.dense.bias')?.step, 1);
  first.dispose();
  disposeVars(firstVars);

  const resumedVars = makeVars(params.map((p) => ({ ...p, data: Array.from(savedParams[p.name]) })));
  const resumed = new AdamW(resumedVars, OPTS);
  resumed.setState(saved);
  runSteps(resumed, grads, 2, TOTAL_STEPS);
  const got = readVars(resumedVars);
  for (const p of params) assert.deepEqual(got[p.name], expected[p.name], p.name);
  assert.deepEqual(resumed.getState(), structuredClone(resumed.getState()));
  resumed.dispose();
  disposeVars(resumedVars);
});

test('getState is a detached copy', () => {
  const vars = makeVars(initialParams());
  const opt = new AdamW(vars, OPTS);
  runSteps(opt, stepGrads(null), 0, 2);
  const state = opt.getState();
  const before = state.moments[0].m.data[0];
  assert.notEqual(before, 0);
  runSteps(opt, stepGrads(null), 2, 3);
  assert.equal(state.moments[0].m.data[0], before);
  opt.dispose();
  disposeVars(vars);
});

test('no tensor leaks over 50 steps; dispose frees the moments', () => {
  const params = initialParams();
  const vars = makeVars(params);
  const baseline = tf.memory().numTensors;
  const opt = new AdamW(vars, OPTS);
  const withOptimizer = tf.memory().numTensors;
  assert.equal(withOptimizer - baseline, 2 * params.length);
  const grads = stepGrads(null);
  for (let i = 0; i < 50; i++) {
    runSteps(opt, grads, i % TOTAL_STEPS, (i % TOTAL_STEPS) + 1);
    assert.equal(tf.memory().numTensors, withOptimizer, `after step ${i + 1}`);
  }
  opt.getState();
  assert.equal(tf.memory().numTensors, withOptimizer);
  opt.dispose();
  assert.equal(tf.memory().numTensors, baseline);
  assert.throws(() => opt.applyGradients({}, 0.1), /after dispose/);
  disposeVars(vars);
});

/**
 * The update as it was first written, one tf.tidy over every variable (all their temporaries alive
 * until the end): the same ops in the same order, so the memory-lean AdamW must match it bit for bit.
 */
class AllAtOnceAdamW {
  private readonly slots: Array<{
    name: string;
    variable: tf.Variable;
    m: tf.Variable;
    v: tf.Variable;
    step: number;
    wd: number;
  }>;

  constructor(
    vars: Array<{ name: string; variable: tf.Variable }>,
    private readonly o: AdamWOptions,
  ) {
    this.slots = vars.map(({ name, variable }) => ({
      name,
      variable,
      m: tf.variable(tf.zerosLike(variable), false),
      v: tf.variable(tf.zerosLike(variable), false),
      step: 0,
      wd: decayApplies(name) ? o.weightDecay : 0,
    }));
  }

  applyGradients(grads: Record<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps } = this.o;
    tf.tidy(() => {
      for (const slot of this.slots) {
        const g = grads[slot.name];
        if (g === undefined) continue;
        slot.step += 1;
        const biasCorrection1 = 1 - beta1 ** slot.step;
        const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** slot.step);
        const stepSize = lr / biasCorrection1;
        let p: tf.Tensor = slot.variable;
        if (slot.wd !== 0) p = tf.mul(p, 1 - lr * slot.wd);
        const m = tf.add(tf.mul(slot.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.mul(g, 1 - beta2), g));
        const denom = tf.add(tf.div(tf.sqrt(v), biasCorrection2Sqrt), eps);
        p = tf.sub(p, tf.div(tf.mul(m, stepSize), denom));
        slot.m.assign(m);
        slot.v.assign(v);
        slot.variable.assign(p);
      }
    });
  }

  moments(): Record<string, { m: Float32Array; v: Float32Array }> {
    return Object.fromEntries(
      this.slots.map((s) => [
        s.name,
        { m: (s.m.dataSync() as Float32Array).slice(), v: (s.v.dataSync() as Float32Array).slice() },
      ]),
    );
  }

  dispose(): void {
    for (const s of this.slots) tf.dispose([s.m, s.v]);
  }
}

test("applyGradients frees each variable's temporaries before the next: peak ≤ 3 copies of the largest variable, results bit-identical", async () => {
  // An embedding-dominated model, as BERT's word embeddings dominate a small student.
  const shapes: Array<[string, number[]]> = [
    ['bert.embeddings.word_embeddings.weight', [500, 64]],
    ['encoder.dense.weight', [64, 64]],
    ['encoder.dense.bias', [64]],
    ['encoder.LayerNorm.weight', [64]],
    ['classifier.weight', [2, 64]],
  ];
  const r = rng(5);
  const params: ParamSpec[] = shapes.map(([name, shape]) => ({
    name,
    shape,
    data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(2 * r() - 1)),
  }));
  const paramBytes = 4 * params.reduce((a, p) => a + p.data.length, 0);
  const largestBytes = 4 * Math.max(...params.map((p) => p.data.length));
  const leanVars = makeVars(params);
  const refVars = makeVars(params);
  const lean = new AdamW(leanVars, OPTS);
  const ref = new AllAtOnceAdamW(refVars, OPTS);
  const peaks = { lean: 0, ref: 0 };
  for (let step = 0; step < 5; step++) {
    const grads: Record<string, tf.Tensor> = {};
    for (const p of params) {
      // One variable without a gradient on one step: its moments and step count stay put.
      if (step === 2 && p.name === 'classifier.weight') continue;
      grads[p.name] = tf.tensor(
        p.data.map(() => Math.fround(0.1 * (2 * r() - 1))),
        p.shape,
        'float32',
      );
    }
    const lr = 0.01 * (step + 1);
    for (const [which, opt] of [
      ['lean', lean],
      ['ref', ref],
    ] as const) {
      const start = tf.memory().numBytes;
      const profile = await tf.profile(() => opt.applyGradients(grads, lr));
      peaks[which] = Math.max(peaks[which], profile.peakBytes - start);
      assert.equal(profile.newBytes, 0, `${which}: nothing left behind`);
    }
    tf.dispose(Object.values(grads));
  }
  // Two operands and a result of the largest variable, plus a few scalars.
  assert.ok(peaks.lean <= 3 * largestBytes + 1024, `peak ${peaks.lean} B, largest variable ${largestBytes} B`);
  assert.ok(peaks.lean < 3 * paramBytes, `peak ${peaks.lean} B, parameters ${paramBytes} B`);
  // The all-at-once update kept ~14 copies of every variable.
  assert.ok(
    peaks.ref > 10 * paramBytes && peaks.lean < peaks.ref / 4,
    `peaks ${JSON.stringify(peaks)}, parameters ${paramBytes} B`,
  );

  const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const got = readVars(leanVars);
  const want = readVars(refVars);
  const refMoments = ref.moments();
  for (const p of params) {
    assert.ok(bits(got[p.name]).equals(bits(want[p.name])), `${p.name}: weights differ`);
    const mom = lean.getState().moments.find((m) => m.name === p.name)!;
    assert.ok(bits(mom.m.data).equals(bits(refMoments[p.name].m)), `${p.name}: m differs`);
    assert.ok(bits(mom.v.data).equals(bits(refMoments[p.name].v)), `${p.name}: v differs`);
    assert.ok(
      got[p.name].some((x, k) => x !== Math.fround(p.data[k])),
      `${p.name} did not change`,
    );
  }
  lean.dispose();
  ref.dispose();
  disposeVars(leanVars);
  disposeVars(refVars);
});

test('setState rejects a state for another model, naming the variable, and changes nothing', () => {
  const vars = makeVars(initialParams());
  const opt = new AdamW(vars, OPTS);
  runSteps(opt, stepGrads(null), 0, 1);
  const good = opt.getState();

  const expectRejected = (mutate: (s: OptimizerState) => void, pattern: RegExp): void => {
    const s = structuredClone(good);
    mutate(s);
    assert.throws(
      () => opt.setState(s, 'checkpoints/40/optimizer.safetensors'),
      (e: unknown) => {
        assert.ok(e instanceof UserError, 'a UserError');
        assert.match(e.message, pattern);
        assert.equal(e.where, 'checkpoints/40/optimizer.safetensors');
        assert.ok(e.fix);
        return true;
      },
    );
  };
  expectRejected((s) => {
    s.moments = s.moments.filter((m) => m.name !== 'classifier.weight');
  }, /no moments for variable "classifier\.weight"/);
  expectRejected((s) => {
    s.moments[0] = { ...s.moments[0], name: 'pooler.dense.weight' };
  }, /"pooler\.dense\.weight" is not in this model/);
  expectRejected((s) => {
    s.moments.push(structuredClone(s.moments[1]));
  }, /"encoder\.dense\.bias" appears twice/);
  expectRejected((s) => {
    s.moments[0].v.shape = [3, 4];
  }, /v of variable "encoder\.dense\.weight" has shape \[3, 4\]/);
  expectRejected((s) => {
    s.moments[1].m.data = new Float32Array(3);
  }, /m of variable "encoder\.dense\.bias" has 3 values/);
  expectRejected((s) => {
    s.step = -1;
  }, /step must be a non-negative integer/);
  expectRejected((s) => {
    s.moments[2].step = 5;
  }, /step of variable "encoder\.LayerNorm\.weight"/);

  assert.deepEqual(opt.getState(), good);
  opt.dispose();
  disposeVars(vars);
});

test('applyGradients rejects unknown names and wrong shapes', () => {
  const vars = makeVars(initialParams());
  const opt = new AdamW(vars, OPTS);
  const g = tf.zeros([3]);
  assert.throws(() => opt.applyGradients({ 'nope.weight': g }, 0.1), /unknown variable "nope\.weight"/);
  assert.throws(() => opt.applyGradients({ 'encoder.dense.bias': g }, 0.1), /"encoder\.dense\.bias" has shape \[3\]/);
  assert.equal(opt.getState().step, 0);
  g.dispose();
  opt.dispose();
  disposeVars(vars);
});

// ---------------------------------------------------------------- small pieces by hand

test('decayApplies follows the BERT convention', () => {
  assert.equal(decayApplies('bert.encoder.layer.0.attention.self.query.weight'), true);
  assert.equal(decayApplies('classifier.weight'), true);
  assert.equal(decayApplies('bert.encoder.layer.0.attention.self.query.bias'), false);
  assert.equal(decayApplies('bert.embeddings.LayerNorm.weight'), false);
  assert.equal(decayApplies('bert.embeddings.LayerNorm.bias'), false);
  assert.equal(decayApplies('encoder.layer_norm.weight'), false);
  assert.equal(decayApplies('bert.embeddings.word_embeddings.weight'), true);
});

test('a single AdamW step by hand: decay only where it applies', () => {
  const w = tf.variable(tf.tensor([2], [1]), true);
  const b = tf.variable(tf.tensor([2], [1]), true);
  const opt = new AdamW(
    [
      { name: 'w.weight', variable: w },
      { name: 'w.bias', variable: b },
    ],
    { ...OPTS, eps: 0, weightDecay: 0.5 },
  );
  const g = tf.tensor([0.3], [1]);
  opt.applyGradients({ 'w.weight': g, 'w.bias': g }, 0.1);
  // Step 1: m̂ = g, v̂ = g², so the Adam step is lr·sign(g); decay multiplies by 1 − lr·wd first.
  assert.ok(Math.abs(w.dataSync()[0] - (2 * (1 - 0.1 * 0.5) - 0.1)) < 1e-6);
  assert.ok(Math.abs(b.dataSync()[0] - (2 - 0.1)) < 1e-6);
  tf.dispose([g, w, b]);
  opt.dispose();
});

test('clipByGlobalNorm: scales only above maxNorm and leaves the inputs alone', () => {
  const a = tf.tensor([3, 0]);
  const b = tf.tensor([[4]]);
  const big = clipByGlobalNorm({ a, b }, 1);
  assert.ok(Math.abs(big.norm - 5) < 1e-6);
  const scale = 1 / (5 + 1e-6);
  assertClose(big.grads.a.dataSync(), [3 * scale, 0], 1e-6, 'a');
  assertClose(big.grads.b.dataSync(), [4 * scale], 1e-6, 'b');
  assert.deepEqual(Array.from(a.dataSync()), [3, 0]);
  const small = clipByGlobalNorm({ a, b }, 10);
  assert.deepEqual(Array.from(small.grads.a.dataSync()), [3, 0]);
  assert.notEqual(small.grads.a, a, 'a new tensor the caller owns');
  assert.deepEqual(clipByGlobalNorm({}, 1), { grads: {}, norm: 0 });
  tf.dispose([a, b, ...Object.values(big.grads), ...Object.values(small.grads)]);
});

test('linearWarmupDecay: hand values', () => {
  const lr = (s: number): number => linearWarmupDecay(s, 10, 2, 1e-3);
  assert.equal(lr(0), 0);
  assert.equal(lr(1), 5e-4);
  assert.equal(lr(2), 1e-3);
  assert.equal(lr(6), 5e-4);
  assert.equal(lr(9), 1.25e-4);
  assert.equal(lr(10), 0);
  assert.equal(lr(12), 0);
  // No warm-up: the first step already runs at the peak.
  assert.equal(linearWarmupDecay(0, 4, 0, 1), 1);
  assert.equal(linearWarmupDecay(1, 4, 0, 1), 0.75);
  // Warm-up over every step: never decays.
  assert.equal(linearWarmupDecay(3, 4, 4, 1), 0.75);
});

test('warmupSteps: fractions round up, counts pass through, nonsense is a UserError', () => {
  assert.equal(warmupSteps(100, 0.1), 10);
  assert.equal(warmupSteps(100, 0.07), 7);
  assert.equal(warmupSteps(10, 0.25), 3);
  assert.equal(warmupSteps(100, 0), 0);
  assert.equal(warmupSteps(100, 1), 1);
  assert.equal(warmupSteps(100, 500), 500);
  for (const bad of [-0.1, 1.5, Number.NaN]) {
    assert.throws(
      () => warmupSteps(100, bad),
      (e: unknown) => e instanceof UserError && e.where === 'optim.warmup',
    );
  }
});
