// The teacher-output cache (src/train/teacher-cache.ts): through the real TrainingLoop, a run with
// the cache gives the same losses as one without, and the second epoch is served from the cache;
// float16 storage round-trips within half precision; the memory bound is honoured.
//
// Bit-for-bit equality needs kernels whose results do not depend on the batch's padded length:
// the stock cpu kernels (used here). BLAS and XNNPACK pick code paths by matrix size, so with them
// a teacher output differs in the last bit between batches, cached or not (docs/performance.md).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { BertModel } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { makeBatch } from '../../src/data/batching';
import { Encoding } from '../../src/data/encoding';
import { EventSink } from '../../src/train/event-sink';
import { TrainingLoop } from '../../src/train/loop';
import { TaskData } from '../../src/train/task-data';
import { Stage } from '../../src/distill/plan';
import { TeacherCache, fromHalf, toHalf } from '../../src/train/teacher-cache';
import { setKernelMode } from '../../src/model/fast-kernels';

const config = (layers: number): BertConfig => ({
  ...BERT_BASE_DEFAULTS,
  vocabSize: 60,
  hiddenSize: 16,
  numHiddenLayers: layers,
  numAttentionHeads: 2,
  intermediateSize: 32,
  maxPositionEmbeddings: 32,
  numLabels: 2,
  labels: ['a', 'b'],
});

/** Varying lengths, so each epoch's shuffled batches pad the same example differently. */
function encodings(n: number, seed: number): Encoding[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + ((i * 7 + seed) % 9);
    const ids = Array.from({ length: len }, (_, j) => 5 + ((i * 13 + j * 5 + seed) % 50));
    return { tokens: ids.map(String), inputIds: ids, tokenTypeIds: ids.map(() => 0) };
  });
}

function taskData(): TaskData {
  const split = (n: number, seed: number) => {
    const enc = encodings(n, seed);
    const labels = enc.map((_, i) => i % 2);
    return {
      dataset: {
        task: 'synthetic',
        split: 'x',
        file: 'x',
        examples: labels.map((label, index) => ({ index, line: index + 2, textA: '', label })),
        labels: ['a', 'b'],
        isRegression: false,
      },
      encodings: enc,
      labels,
    };
  };
  return {
    info: {
      name: 'synthetic',
      labels: ['a', 'b'],
      isRegression: false,
      metrics: ['accuracy'],
      mainMetric: 'accuracy',
      numLabels: 2,
    },
    train: split(10, 1),
    dev: split(4, 2),
  };
}

interface StepTerms {
  step: number;
  terms: Array<{ name: string; layer?: number; value: number }>;
}

async function train(cache: TeacherCache | undefined): Promise<StepTerms[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-cache-'));
  const teacher = BertModel.randomInit(config(2), 7);
  const student = BertModel.randomInit(config(1), 8);
  const pairs = [{ student: 1, teacher: 2 }];
  const stage: Stage = {
    index: 0,
    name: 'all layers',
    kind: 'internal',
    layers: pairs,
    epochs: 2,
    patience: null,
    selectBest: false,
    losses: { attentionKl: 1, clsCosine: 1, softLabel: 1 },
    temperature: 2,
  };
  const sink = new EventSink('cache-test', path.join(dir, 'events.jsonl'));
  try {
    const loop = new TrainingLoop(
      {
        phase: 'student',
        model: student,
        teacher,
        pairs,
        headAverage: false,
        stages: [stage],
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
        teacherCache: cache,
      },
      sink,
      { requested: null },
    );
    await loop.run();
    return fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string } & StepTerms)
      .filter((e) => e.type === 'step')
      .map((e) => ({ step: e.step, terms: e.terms }));
  } finally {
    teacher.dispose();
    student.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

before(async () => {
  const warn = console.warn;
  console.warn = () => undefined; // the cpu backend's tfjs-node advert
  try {
    await initBackend('cpu');
  } finally {
    console.warn = warn;
  }
  setKernelMode('stock');
});

test('a run with the teacher cache has the losses of a run without it, and epoch 2 hits the cache', async () => {
  const plain = await train(undefined);
  const cache = new TeacherCache();
  const cached = await train(cache);
  assert.equal(plain.length, 6); // 10 examples in batches of 4: 3 steps × 2 epochs
  assert.deepEqual(cached, plain);
  const st = cache.stats();
  assert.equal(st.entries, 10);
  assert.equal(st.misses, 10, 'epoch 1 computes every example once');
  assert.equal(st.hits, 10, 'epoch 2 is served from the cache');
  assert.equal(st.teacherPasses, 3, 'only epoch 1 runs the teacher');
});

test('cached outputs equal the teacher on a differently padded batch; a partial hit runs only the missing rows', () => {
  const teacher = BertModel.randomInit(config(2), 11);
  const enc = encodings(6, 4);
  const keep = { cls: [1, 2], attentions: [0, 1] };
  const cache = new TeacherCache();
  const first = makeBatch(
    [0, 1, 2].map((i) => enc[i]),
    [0, 0, 0],
    [0, 1, 2],
    0,
  );
  tf.dispose(
    Object.values(cache.outputs(teacher, first, keep, 0))
      .flat()
      .filter(Boolean) as tf.Tensor[],
  );
  // Rows 0-2 cached, 3-5 not: one teacher pass over the three missing rows.
  const rows = [4, 2, 5, 0, 3, 1];
  const batch = makeBatch(
    rows.map((i) => enc[i]),
    rows.map(() => 0),
    rows,
    0,
  );
  const out = cache.outputs(teacher, batch, keep, 0);
  assert.equal(cache.stats().teacherPasses, 2);
  assert.equal(cache.stats().hits, 3);
  const inputs = {
    inputIds: tf.tensor2d(batch.inputIds, [6, batch.seqLen], 'int32'),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [6, batch.seqLen], 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, [6, batch.seqLen], 'int32'),
  };
  const direct = teacher.forward(inputs, { training: false, keep });
  assert.deepEqual(Array.from(out.logits.dataSync()), Array.from(direct.logits.dataSync()));
  // The cache's teacher passes carry only the [CLS] rows through the top layer (topRows 'cls');
  // `direct` computes every row: the stock cpu kernels sum in the same order either way.
  assert.equal(out.hiddenStates.filter(Boolean).length, 0, 'the cache serves no full hidden states');
  for (const k of keep.cls) {
    assert.deepEqual(out.cls[k].shape, [6, 16]);
    assert.deepEqual(Array.from(out.cls[k].dataSync()), Array.from(direct.cls[k].dataSync()));
  }
  const mask = batch.attentionMask;
  const s = batch.seqLen;
  for (const k of keep.attentions) {
    const a = out.attentions[k].dataSync();
    const d = direct.attentions[k].dataSync();
    for (let r = 0; r < 6; r++)
      for (let h = 0; h < 2; h++)
        for (let q = 0; q < s; q++)
          for (let j = 0; j < s; j++) {
            const i = ((r * 2 + h) * s + q) * s + j;
            if (mask[r * s + q] && mask[r * s + j]) assert.equal(a[i], d[i], `attention ${k} [${r},${h},${q},${j}]`);
            else assert.equal(a[i], 0, 'padded entries are zero');
          }
  }
  teacher.dispose();
});

test('float16 storage rounds attention maps to half precision and halves their bytes', () => {
  for (const x of [0, 1, 0.5, 1 / 3, 1e-3, 6e-5, 1e-7, 65504]) {
    const back = fromHalf(toHalf(x));
    assert.ok(Math.abs(back - x) <= Math.max(x * 2 ** -11, 2 ** -25), `${x} → ${back}`);
  }
  assert.equal(fromHalf(toHalf(-2)), -2);
  assert.equal(fromHalf(toHalf(1e9)), Infinity);
  const teacher = BertModel.randomInit(config(2), 12);
  const enc = encodings(4, 9);
  const keep = { cls: [2], attentions: [1] };
  const batch = makeBatch(enc, [0, 0, 0, 0], [0, 1, 2, 3], 0);
  const full = new TeacherCache();
  const half = new TeacherCache({ attentionPrecision: 'float16' });
  for (const c of [full, half])
    tf.dispose(
      Object.values(c.outputs(teacher, batch, keep, 0))
        .flat()
        .filter(Boolean) as tf.Tensor[],
    );
  const a = full.outputs(teacher, batch, keep, 0).attentions[1].dataSync();
  const b = half.outputs(teacher, batch, keep, 0).attentions[1].dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst > 0 && worst < 1e-3, `float16 error ${worst}`);
  assert.ok(half.stats().bytes < full.stats().bytes);
  teacher.dispose();
});

test('the memory bound stops storing; examples past it are computed every time', () => {
  const teacher = BertModel.randomInit(config(2), 13);
  const enc = encodings(8, 5);
  const keep = { cls: [2], attentions: [1] };
  const cache = new TeacherCache({ maxBytes: 3000 });
  const batch = makeBatch(
    enc,
    enc.map(() => 0),
    enc.map((_, i) => i),
    0,
  );
  for (let epoch = 0; epoch < 2; epoch++)
    tf.dispose(
      Object.values(cache.outputs(teacher, batch, keep, 0))
        .flat()
        .filter(Boolean) as tf.Tensor[],
    );
  const st = cache.stats();
  assert.ok(st.bytes <= 3000 && st.entries > 0 && st.entries < 8, JSON.stringify(st));
  assert.equal(st.hits, st.entries, 'the second pass hits exactly the stored examples');
  assert.equal(st.teacherPasses, 2, 'and runs the teacher once for the rest');
  teacher.dispose();
});

test('on wasm the reused staging buffers leave a short row padded with zeros after a batch of full rows', async () => {
  const backend = tf.getBackend();
  await initBackend('wasm');
  try {
    const teacher = BertModel.randomInit(config(2), 14);
    const keep = { cls: [2], attentions: [1] };
    const cache = new TeacherCache();
    // Four examples of 11 tokens (full rows), then four of 3–11 tokens padded to 11: same staging size.
    const enc = encodings(40, 0);
    const full = enc
      .map((_, i) => i)
      .filter((i) => enc[i].inputIds.length === 11)
      .slice(0, 4);
    const mixed = [
      ...enc
        .map((_, i) => i)
        .filter((i) => enc[i].inputIds.length < 11)
        .slice(0, 3),
      full[0],
    ];
    assert.equal(full.length, 4);
    const batchOf = (rows: number[]) =>
      makeBatch(
        rows.map((i) => enc[i]),
        rows.map(() => 0),
        rows,
        0,
      );
    for (const rows of [full, mixed])
      tf.dispose(
        Object.values(cache.outputs(teacher, batchOf(rows), keep, 0))
          .flat()
          .filter(Boolean) as tf.Tensor[],
      );
    tf.dispose(
      Object.values(cache.outputs(teacher, batchOf(full), keep, 0))
        .flat()
        .filter(Boolean) as tf.Tensor[],
    );
    const batch = batchOf(mixed);
    const maps = cache.outputs(teacher, batch, keep, 0).attentions[1];
    const v = maps.dataSync();
    const [, heads, s] = maps.shape;
    assert.equal(cache.stats().hits, 9, 'the last two batches served from the cache');
    for (let r = 0; r < 4; r++) {
      const len = enc[mixed[r]].inputIds.length;
      for (let h = 0; h < heads; h++)
        for (let q = 0; q < s; q++)
          for (let k = 0; k < s; k++) {
            const x = v[((r * heads + h) * s + q) * s + k];
            if (q >= len || k >= len) assert.equal(x, 0, `row ${r} (length ${len}) at ${q},${k}`);
          }
    }
    maps.dispose();
    teacher.dispose();
  } finally {
    await tf.setBackend(backend);
  }
});
