// The top-layer row cut (BertModel.forward's topRows 'cls', src/model/bert.ts): the top layer
// carries only the [CLS] rows past its attention maps. Against the full computation on tiny
// models: logits, pooled vectors, per-layer [CLS] rows, attention maps, value vectors, every loss
// term and every gradient agree within 1e-6 (dropout on: the cut draws the full pass's masks), on
// the stock cpu kernels and on wasm with the native kernels where they load. Then: which stages
// keep full rows (the vocabulary's fullRows), the errors for full hidden states of a cut layer,
// the trainer deciding it per stage, and the bench's FLOP counts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BertInputs, BertModel, disposeBertOutputs, ForwardOptions } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { setKernelMode } from '../../src/model/fast-kernels';
import { keepFor, objectiveTerms, ObjectiveContext, topRowsFor } from '../../src/distill/objective';
import { StageLosses, Stage } from '../../src/distill/plan';
import { FULL_ROW_KEYS } from '../../src/config/loss-vocabulary';
import { BENCH_SHAPES, stepFlops } from '../../src/bench/shapes';
import { runBench } from '../../src/bench/run-bench';
import { EventSink } from '../../src/train/event-sink';
import { TrainingLoop } from '../../src/train/loop';
import { TaskData } from '../../src/train/task-data';
import { Encoding } from '../../src/data/encoding';
import { onBackend, relErr, setUpKernelBackends } from '../helpers/tensors';
import { tmpDir } from '../helpers/train-fixtures';

const config = (layers: number, hidden = 16, heads = 2): BertConfig => ({
  ...BERT_BASE_DEFAULTS,
  vocabSize: 50,
  hiddenSize: hidden,
  numHiddenLayers: layers,
  numAttentionHeads: heads,
  intermediateSize: 24,
  maxPositionEmbeddings: 20,
  numLabels: 3,
  labels: ['a', 'b', 'c'],
  initializerRange: 0.2,
  // BERT's dropout (0.1) stays on: the cut must reproduce the full pass's masks too.
});

/** Three sequences of 7 positions, two of them padded. */
function inputs(): BertInputs {
  return {
    inputIds: tf.tensor2d(
      [
        [2, 7, 9, 11, 3, 0, 0],
        [2, 5, 3, 8, 13, 14, 3],
        [2, 40, 41, 3, 0, 0, 0],
      ],
      [3, 7],
      'int32',
    ),
    tokenTypeIds: tf.tensor2d(
      [
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0],
      ],
      [3, 7],
      'int32',
    ),
    attentionMask: tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0, 0],
      ],
      [3, 7],
      'int32',
    ),
  };
}

let nativeMissing: string | undefined;
before(async () => {
  nativeMissing = await setUpKernelBackends();
});

function assertNear(a: tf.Tensor | undefined, b: tf.Tensor | undefined, what: string): void {
  assert.ok(a && b, `${what}: missing`);
  const e = relErr(a, b);
  assert.ok(e <= 1e-6, `${what}: relative error ${e}`);
}

/** The kernel setups compared: stock cpu kernels, and wasm with the native ones (dropout included). */
async function onEachKernelPath(f: (label: string) => void): Promise<void> {
  await onBackend('cpu', () => {
    setKernelMode('stock');
    f('cpu/stock');
  });
  setKernelMode(nativeMissing ? 'stock' : 'blas');
  try {
    f(nativeMissing ? 'wasm/stock' : 'wasm/blas');
  } finally {
    setKernelMode('stock');
  }
}

test('forward: the cut top layer gives the full pass’s logits, [CLS] rows, attention maps and values', async () => {
  await onEachKernelPath((label) => {
    const model = BertModel.randomInit(config(3), 5);
    const x = inputs();
    const L = 3;
    for (const training of [false, true]) {
      // With and without the top layer's attention maps (without: only [CLS] queries are computed).
      for (const attentions of [
        [0, 1, 2],
        [0, 1],
      ]) {
        tf.tidy(() => {
          const keep = { hiddenStates: [0, 1, 2], attentions, values: [0, 1, 2], cls: [0, 1, 2, 3] };
          const opts = { training, seed: 17 };
          const full = model.forward(x, { ...opts, keep, topRows: 'all' });
          const cut = model.forward(x, { ...opts, keep, topRows: 'cls' });
          const at = `${label}, training ${training}, top maps ${attentions.includes(2)}`;
          assertNear(cut.logits, full.logits, `logits (${at})`);
          assertNear(cut.pooled, full.pooled, `pooled (${at})`);
          for (let k = 0; k <= L; k++) assertNear(cut.cls[k], full.cls[k], `cls ${k} (${at})`);
          for (const k of attentions) assertNear(cut.attentions[k], full.attentions[k], `attention ${k} (${at})`);
          for (let k = 0; k < L; k++) assertNear(cut.values![k], full.values![k], `values ${k} (${at})`);
          for (let k = 0; k < L; k++) assertNear(cut.hiddenStates[k], full.hiddenStates[k], `hidden ${k} (${at})`);
          assert.equal(cut.hiddenStates[L], undefined, 'the cut layer has no full hidden state');
          assert.deepEqual(cut.cls[L].shape, [3, 16]);
          // The [CLS] rows are those of the full hidden state.
          const top = model.forward(x, { ...opts, keep: { hiddenStates: [L] } });
          assertNear(cut.cls[L], tf.reshape(tf.slice(top.hiddenStates[L], [0, 0, 0], [3, 1, 16]), [3, 16]), 'cls L');
        });
      }
    }
    tf.dispose(Object.values(x));
    model.dispose();
  });
});

test('training: every loss term and every gradient of the cut step equal the full step’s', async () => {
  await onEachKernelPath((label) => {
    // Student 2 × 16 (2 heads) from teacher 4 × 16: pairs 1→2, 2→4, so both top layers are mapped.
    const teacher = BertModel.randomInit(config(4), 6);
    const student = BertModel.randomInit(config(2), 7);
    const pairs = [
      { student: 1, teacher: 2 },
      { student: 2, teacher: 4 },
    ];
    const x = inputs();
    const labels = tf.tensor1d([0, 2, 1], 'float32');
    const vars = student.trainableVariables();
    const losses: StageLosses = { attentionKl: 1, clsCosine: 0.5, softLabel: 2, hardLabel: 0.3, valueRelation: 0.7 };
    const ctx: ObjectiveContext = { losses, temperature: 2, layers: pairs, regression: false, headAverage: false };
    const step = (cut: boolean) => {
      const keepT = keepFor(pairs, 'teacher', losses);
      const keepS = keepFor(pairs, 'student', losses);
      const rows = (keep: { hiddenStates: number[] }, m: BertModel) =>
        cut ? topRowsFor(keep, m.config.numHiddenLayers) : 'all';
      const t = teacher.forward(x, { training: false, keep: keepT, topRows: rows(keepT, teacher) });
      const values: number[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const s = student.forward(x, { training: true, seed: 99, keep: keepS, topRows: rows(keepS, student) });
        const { total, terms } = objectiveTerms(ctx, s, t, x.attentionMask, labels);
        for (const term of terms) values.push(term.value.dataSync()[0]);
        return total;
      }, vars);
      disposeBertOutputs(t);
      return { total: value, values, grads };
    };
    const full = step(false);
    const cut = step(true);
    assert.equal(cut.values.length, 2 * 3 + 2);
    cut.values.forEach((v, i) =>
      assert.ok(Math.abs(v - full.values[i]) <= 1e-6 * Math.max(1, Math.abs(full.values[i])), `${label} term ${i}`),
    );
    assertNear(cut.total, full.total, `${label} total`);
    for (const v of vars) assertNear(cut.grads[v.name], full.grads[v.name], `${label} gradient ${v.name}`);
    tf.dispose([full.total, cut.total, ...Object.values(full.grads), ...Object.values(cut.grads), labels]);
    tf.dispose(Object.values(x));
    teacher.dispose();
    student.dispose();
  });
});

test('full hidden states of a cut layer are an error, not garbage', () => {
  const model = BertModel.randomInit(config(2), 8);
  const x = inputs();
  assert.throws(
    () => model.forward(x, { training: false, keep: { hiddenStates: [1, 2] }, topRows: 'cls' }),
    /hidden state 2 \(the top layer\) was asked for in full.*keep\.cls \[2\]/,
  );
  // Omitting keep (all hidden states) does not type-check with topRows 'cls', and throws.
  // @ts-expect-error keep (with hiddenStates) is required with topRows 'cls'
  const bad: ForwardOptions = { training: false, topRows: 'cls' };
  assert.throws(() => model.forward(x, bad), /asked for in full/);
  // A loss reading a full hidden state the pass did not keep names what to keep.
  const out = model.forward(x, { training: false, keep: { hiddenStates: [], cls: [2] }, topRows: 'cls' });
  const ctx: ObjectiveContext = {
    losses: { hiddenMse: 1 },
    temperature: 1,
    layers: [{ student: 2, teacher: 2 }],
    regression: false,
    headAverage: false,
  };
  assert.throws(
    () => objectiveTerms(ctx, out, out, x.attentionMask, undefined),
    /full hidden state 2 is needed \(forward keep\.hiddenStates, and topRows 'all' for the top layer\)/,
  );
  disposeBertOutputs(out);
  tf.dispose(Object.values(x));
  model.dispose();
});

test('which stages keep their top layer full: those with a loss that reads full hidden states', () => {
  assert.deepEqual([...FULL_ROW_KEYS].sort(), ['embeddingMse', 'hiddenMse']);
  const pairs = [
    { student: 3, teacher: 6 },
    { student: 6, teacher: 12 },
  ];
  const rows = (losses: StageLosses) => ({
    student: topRowsFor(keepFor(pairs, 'student', losses), 6),
    teacher: topRowsFor(keepFor(pairs, 'teacher', losses), 12),
  });
  const cut = { student: 'cls', teacher: 'cls' };
  assert.deepEqual(rows({ attentionKl: 1, clsCosine: 1, softLabel: 1 }), cut);
  assert.deepEqual(rows({ hardLabel: 1 }), cut);
  // Value vectors come before the cut (they are the [CLS] query's values): no reason to keep rows.
  assert.deepEqual(rows({ attentionKl: 1, valueRelation: 1 }), cut);
  // embedding-mse reads hidden state 0 in full: the top layers can still be cut.
  assert.deepEqual(keepFor(pairs, 'student', { embeddingMse: 1 }).hiddenStates, [0]);
  assert.deepEqual(rows({ embeddingMse: 1, clsCosine: 1 }), cut);
  // hidden-mse on the top pair reads every row of both top layers.
  assert.deepEqual(rows({ attentionKl: 1, hiddenMse: 1 }), { student: 'all', teacher: 'all' });
  assert.deepEqual(rows({ hiddenMse: 1 }), { student: 'all', teacher: 'all' });
  // ...but not when the stage's pairs stop below the top.
  assert.equal(topRowsFor(keepFor([{ student: 3, teacher: 6 }], 'student', { hiddenMse: 1 }), 6), 'cls');
  const env = process.env.DISTILLERY_TOP_ROWS;
  try {
    process.env.DISTILLERY_TOP_ROWS = 'full';
    assert.deepEqual(rows({ attentionKl: 1 }), { student: 'all', teacher: 'all' });
    process.env.DISTILLERY_TOP_ROWS = 'some';
    assert.throws(() => rows({ attentionKl: 1 }), /DISTILLERY_TOP_ROWS must be 'full' or 'cls'/);
  } finally {
    if (env === undefined) delete process.env.DISTILLERY_TOP_ROWS;
    else process.env.DISTILLERY_TOP_ROWS = env;
  }
});

// ---- the trainer ------------------------------------------------------------------------------

function encodings(n: number, seed: number): Encoding[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + ((i * 7 + seed) % 9);
    const ids = Array.from({ length: len }, (_, j) => 5 + ((i * 13 + j * 5 + seed) % 40));
    return { tokens: ids.map(String), inputIds: ids, tokenTypeIds: ids.map(() => 0) };
  });
}

function taskData(): TaskData {
  const split = (n: number, seed: number) => {
    const enc = encodings(n, seed);
    const labels = enc.map((_, i) => i % 3);
    return {
      dataset: {
        task: 'synthetic',
        split: 'x',
        file: 'x',
        examples: labels.map((label, index) => ({ index, line: index + 2, textA: '', label })),
        labels: ['a', 'b', 'c'],
        isRegression: false,
      },
      encodings: enc,
      labels,
    };
  };
  return {
    info: {
      name: 'synthetic',
      labels: ['a', 'b', 'c'],
      isRegression: false,
      metrics: ['accuracy'],
      mainMetric: 'accuracy',
      numLabels: 3,
    },
    train: split(8, 1),
    dev: split(4, 2),
  };
}

interface Trained {
  terms: number[][];
  /** topRows of every training-step forward pass, by model. */
  rows: { student: string[]; teacher: string[] };
}

/** Two stages through the real TrainingLoop: the paper's losses, then hidden-mse on the top pair. */
async function train(): Promise<Trained> {
  const dir = tmpDir('distillery-toprows-');
  const teacher = BertModel.randomInit(config(2), 7);
  const student = BertModel.randomInit(config(1), 8);
  const rows: Trained['rows'] = { student: [], teacher: [] };
  // Record what each forward pass was asked for (training steps are the passes with a seed or
  // with soft labels' logits; eval passes are recorded too and told apart by `training`).
  const spy = (m: BertModel, into: string[]) => {
    const forward = m.forward.bind(m);
    m.forward = (i: BertInputs, o: ForwardOptions) => {
      if (o.training || m === teacher) into.push(o.topRows ?? 'all');
      return forward(i, o);
    };
  };
  spy(student, rows.student);
  spy(teacher, rows.teacher);
  const pairs = [{ student: 1, teacher: 2 }];
  const stage = (index: number, losses: StageLosses): Stage => ({
    index,
    name: `stage ${index}`,
    kind: 'internal',
    layers: pairs,
    epochs: 1,
    patience: null,
    selectBest: false,
    losses,
    temperature: 2,
  });
  const sink = new EventSink('toprows-test', path.join(dir, 'events.jsonl'));
  try {
    const loop = new TrainingLoop(
      {
        phase: 'student',
        model: student,
        teacher,
        pairs,
        headAverage: false,
        stages: [stage(0, { attentionKl: 1, clsCosine: 1, softLabel: 1 }), stage(1, { hiddenMse: 1, attentionKl: 1 })],
        data: taskData(),
        optim: {
          lr: 1e-3,
          batchSize: 4,
          warmup: 0,
          weightDecay: 0.01,
          maxGradNorm: 1,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-6,
          seed: 3,
        },
        batchSize: 4,
        evalBatchSize: 4,
        keepCheckpoints: 1,
        checkpointsDir: path.join(dir, 'checkpoints'),
        saveBest: () => path.join(dir, 'best'),
        padId: 0,
        stageOffset: 0,
        stepOffset: 0,
      },
      sink,
      { requested: null },
    );
    await loop.run();
    const terms = fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; terms?: Array<{ value: number }> })
      .filter((e) => e.type === 'step')
      .map((e) => e.terms!.map((t) => t.value));
    return { terms, rows };
  } finally {
    teacher.dispose();
    student.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the trainer cuts the top layers in a stage of the paper’s losses, keeps them for hidden-mse, and trains the same', async () => {
  await onBackend('cpu', async () => {
    setKernelMode('stock');
    const cut = await train();
    const env = process.env.DISTILLERY_TOP_ROWS;
    process.env.DISTILLERY_TOP_ROWS = 'full';
    let full: Trained;
    try {
      full = await train();
    } finally {
      if (env === undefined) delete process.env.DISTILLERY_TOP_ROWS;
      else process.env.DISTILLERY_TOP_ROWS = env;
    }
    // 8 examples in batches of 4: two steps per stage. Student training passes: stage 1 cut, stage 2 full.
    assert.deepEqual(cut.rows.student, ['cls', 'cls', 'all', 'all']);
    assert.deepEqual(full.rows.student, ['all', 'all', 'all', 'all']);
    // Teacher: two training passes per stage (then its eval passes, which read [CLS] rows and maps).
    assert.deepEqual(cut.rows.teacher.slice(0, 2), ['cls', 'cls']);
    assert.ok(full.rows.teacher.every((r) => r === 'all'));
    assert.equal(cut.terms.length, 4);
    cut.terms.forEach((step, i) =>
      step.forEach((v, j) =>
        assert.ok(
          Math.abs(v - full.terms[i][j]) <= 1e-6 * Math.max(1, Math.abs(full.terms[i][j])),
          `step ${i} term ${j}`,
        ),
      ),
    );
  });
});

// ---- the bench --------------------------------------------------------------------------------

test('bench FLOPs: the dense count as defined, and what the cut step computes', async () => {
  // base: 12 × 768 → 6 × 768, batch 32 × seq 128. The dense formula is the step as defined (1788 GFLOP).
  const shape = BENCH_SHAPES.base;
  const dense = stepFlops(shape);
  const cutF = stepFlops(shape, { teacher: 'cls', student: 'cls' });
  assert.equal(cutF.total, dense.total, 'the dense count does not depend on the cut');
  assert.equal(Math.round(dense.total / 1e9), 1788);
  assert.equal(dense.computed.total, dense.total);
  // An independent count of one cut top layer, product by product.
  const b = 32;
  const s = 128;
  const h = 768;
  const f = 3072;
  const n = b * s;
  const mm = (m: number, k: number, cols: number) => 2 * m * k * cols;
  const fullLayer = 4 * mm(n, h, h) + mm(n, h, f) + mm(n, f, h) + 2 * b * 12 * mm(s, 64, s);
  const cutLayer =
    3 * mm(n, h, h) + // Q, K, V over every row (the maps are read)
    b * 12 * mm(s, 64, s) + // Q·Kᵀ over every row
    b * 12 * mm(1, s, 64) + // P·V for the [CLS] row
    mm(b, h, h) + // attention output
    mm(b, h, f) +
    mm(b, f, h); // feed-forward
  const saved = (fullLayer - cutLayer) * (1 + 3); // teacher forward + student forward and backward
  assert.equal(dense.total - cutF.computed.total, saved);
  assert.ok(saved / dense.total > 0.09 && saved / dense.total < 0.11, `${saved / dense.total}`);

  // The tiny bench reports both and the topRows it ran; GFLOP/s divides the dense count.
  await onBackend('cpu', async () => {
    setKernelMode('stock');
    const r = await runBench({
      shape: BENCH_SHAPES.tiny,
      backend: 'cpu',
      kernels: 'stock',
      repeats: 1,
      warmup: 0,
      teacherCache: false,
    });
    assert.deepEqual(r.flops.topRows, { teacher: 'cls', student: 'cls' });
    assert.equal(r.flops.total, stepFlops(BENCH_SHAPES.tiny).total);
    assert.equal(r.flops.computed.total, stepFlops(BENCH_SHAPES.tiny, r.flops.topRows).computed.total);
    assert.ok(r.flops.computed.total < r.flops.total);
    const seconds = r.step.timing.medianMs / 1000;
    assert.ok(Math.abs(r.step.gflopsPerSec - r.flops.total / seconds / 1e9) < 1e-9);
    assert.ok(Math.abs(r.step.computedGflopsPerSec - r.flops.computed.total / seconds / 1e9) < 1e-9);
  });
});
