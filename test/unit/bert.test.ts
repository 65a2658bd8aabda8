// The TF.js BERT's own contract on the wasm backend: seeded initialisation, parameter counts,
// lossless weight round trips, dropout only in training, finite gradients everywhere, no leaks.
// Numerical agreement with PyTorch is in bert-reference.test.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { BertModel, BertInputs, bertParameterSpecs, countParameters } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { NamedTensors } from '../../src/model/named-tensors';
import { UserError } from '../../src/util/errors';

/** Small, with every width different so a swapped dimension cannot go unnoticed. */
const SMALL: BertConfig = {
  ...BERT_BASE_DEFAULTS,
  vocabSize: 50,
  hiddenSize: 16,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 24,
  maxPositionEmbeddings: 20,
  typeVocabSize: 2,
  numLabels: 3,
  labels: ['a', 'b', 'c'],
  initializerRange: 0.2,
};

function inputs(): BertInputs {
  return {
    inputIds: tf.tensor2d(
      [
        [2, 7, 9, 11, 3, 0],
        [2, 5, 3, 8, 13, 3],
      ],
      [2, 6],
      'int32',
    ),
    tokenTypeIds: tf.tensor2d(
      [
        [0, 0, 0, 1, 1, 0],
        [0, 0, 0, 1, 1, 1],
      ],
      [2, 6],
      'int32',
    ),
    attentionMask: tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
      ],
      [2, 6],
      'int32',
    ),
  };
}

function setValue(v: tf.Variable, data: Float32Array): void {
  const t = tf.tensor(data, v.shape);
  v.assign(t);
  t.dispose();
}

function disposeInputs(i: BertInputs): void {
  tf.dispose([i.inputIds, i.tokenTypeIds, i.attentionMask]);
}

function assertSameTensors(a: NamedTensors, b: NamedTensors): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, t] of a) {
    const u = b.get(name)!;
    assert.deepEqual(u.shape, t.shape, name);
    assert.deepEqual(u.data, t.data, name);
  }
}

before(async () => {
  await initBackend('wasm');
});

test('parameter counts: a small config by hand, and bert-base', () => {
  // h = 16, V = 50, P = 20, T = 2, I = 24, L = 2, labels = 3.
  // embeddings: (50 + 20 + 2)·16 + LayerNorm 2·16                              = 1184
  // per layer: Q, K, V, attention output 4·(16·16 + 16) = 1088; LayerNorm 32;
  //            intermediate 16·24 + 24 = 408; output 24·16 + 16 = 400; LayerNorm 32 → 1960
  // encoder: 2 · 1960 = 3920; pooler 16·16 + 16 = 272; head 16·3 + 3 = 51
  const small = { embeddings: 1184, encoder: 3920, pooler: 272, head: 51, total: 1184 + 3920 + 272 + 51 };
  assert.deepEqual(countParameters(SMALL), small);
  const model = BertModel.randomInit(SMALL, 1);
  try {
    assert.deepEqual(model.parameterCounts(), small);
    const stored = model.trainableVariables().reduce((n, v) => n + v.size, 0);
    assert.equal(stored, small.total);
  } finally {
    model.dispose();
  }

  // bert-base-uncased (h = 768, V = 30522, P = 512, T = 2, I = 3072, L = 12):
  // embeddings: (30522 + 512 + 2)·768 + 2·768 = 23,835,648 + 1,536          = 23,837,184
  // per layer: 4·(768² + 768) = 2,362,368; 2 LayerNorms 3,072;
  //            768·3072 + 3072 = 2,362,368; 3072·768 + 768 = 2,360,064        = 7,087,872
  // encoder: 12 · 7,087,872                                                    = 85,054,464
  // pooler: 768² + 768                                                         = 590,592
  // 23,837,184 + 85,054,464 + 590,592                                          = 109,482,240
  const base = countParameters(BERT_BASE_DEFAULTS);
  assert.equal(base.embeddings, 23_837_184);
  assert.equal(base.encoder, 85_054_464);
  assert.equal(base.pooler, 590_592);
  assert.equal(base.embeddings + base.encoder + base.pooler, 109_482_240);
  assert.equal(base.head, 768 * 2 + 2);
});

test('randomInit is deterministic for a seed and follows Hugging Face _init_weights', () => {
  const a = BertModel.randomInit(SMALL, 7);
  const b = BertModel.randomInit(SMALL, 7);
  const c = BertModel.randomInit(SMALL, 8);
  try {
    const ta = a.toNamedTensors();
    assertSameTensors(ta, b.toNamedTensors());
    const tc = c.toNamedTensors();
    const q = 'bert.encoder.layer.0.attention.self.query.weight';
    assert.notDeepEqual(ta.get(q)!.data, tc.get(q)!.data);

    const word = ta.get('bert.embeddings.word_embeddings.weight')!;
    const h = SMALL.hiddenSize;
    assert.ok(
      word.data.subarray(SMALL.padTokenId * h, (SMALL.padTokenId + 1) * h).every((v) => v === 0),
      'padding row zeroed',
    );
    for (const spec of bertParameterSpecs(SMALL)) {
      const d = ta.get(spec.name)!.data;
      if (spec.kind === 'norm-weight')
        assert.ok(
          d.every((v) => v === 1),
          spec.name,
        );
      if (spec.kind === 'bias' || spec.kind === 'norm-bias')
        assert.ok(
          d.every((v) => v === 0),
          spec.name,
        );
    }
    // N(0, initializerRange): check the moments of all Linear/Embedding weights pooled together.
    const w = bertParameterSpecs(SMALL)
      .filter((s) => s.kind === 'linear' || s.kind === 'embedding')
      .flatMap((s) => Array.from(ta.get(s.name)!.data));
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(std / SMALL.initializerRange - 1) < 0.05, `std ${std}`);
    // Plain normal, not truncated: some draws lie beyond 2σ (about 4.6% of them).
    assert.ok(w.filter((v) => Math.abs(v) > 2 * SMALL.initializerRange).length > w.length * 0.03);
  } finally {
    [a, b, c].forEach((m) => m.dispose());
  }
});

test('toNamedTensors ⇄ fromNamedTensors is exact, in PyTorch orientation', () => {
  const model = BertModel.randomInit(SMALL, 3);
  const named = model.toNamedTensors();
  const again = BertModel.fromNamedTensors(SMALL, named);
  try {
    assertSameTensors(named, again.toNamedTensors());
    assert.deepEqual(again.newlyInitialized, []);
    // A Linear weight is [out, in] outside and [in, out] inside.
    const name = 'bert.encoder.layer.1.intermediate.dense.weight';
    const pt = named.get(name)!;
    assert.deepEqual(pt.shape, [SMALL.intermediateSize, SMALL.hiddenSize]);
    const v = model.variable(name);
    assert.deepEqual(v.shape, [SMALL.hiddenSize, SMALL.intermediateSize]);
    const inside = v.arraySync() as number[][];
    assert.equal(inside[3][5], pt.data[5 * SMALL.hiddenSize + 3]);
    assert.equal(model.variable('classifier.weight').shape[1], SMALL.numLabels);
  } finally {
    model.dispose();
    again.dispose();
  }
});

test('fromNamedTensors: new head when classifier.* is absent, aliases accepted, bad weights refused', () => {
  const model = BertModel.randomInit(SMALL, 3);
  const named = model.toNamedTensors();
  model.dispose();

  // A bare BertModel checkpoint: no 'bert.' prefix, old gamma/beta LayerNorm names, no head.
  const bare: NamedTensors = new Map();
  for (const [name, t] of named) {
    if (name.startsWith('classifier.')) continue;
    bare.set(
      name
        .replace(/^bert\./, '')
        .replace(/LayerNorm\.weight$/, 'LayerNorm.gamma')
        .replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
      t,
    );
  }
  bare.set('cls.predictions.bias', { shape: [SMALL.vocabSize], data: new Float32Array(SMALL.vocabSize) }); // unused, ignored
  const h1 = BertModel.fromNamedTensors(SMALL, bare, { initHeadSeed: 5 });
  const h2 = BertModel.fromNamedTensors(SMALL, bare, { initHeadSeed: 5 });
  const h3 = BertModel.fromNamedTensors(SMALL, bare, { initHeadSeed: 6 });
  try {
    assert.deepEqual(h1.newlyInitialized, ['classifier.weight', 'classifier.bias']);
    const t1 = h1.toNamedTensors();
    for (const [name, t] of named) {
      if (!name.startsWith('classifier.')) assert.deepEqual(t1.get(name)!.data, t.data, name);
    }
    assert.deepEqual(t1.get('classifier.weight')!.data, h2.toNamedTensors().get('classifier.weight')!.data);
    assert.notDeepEqual(t1.get('classifier.weight')!.data, h3.toNamedTensors().get('classifier.weight')!.data);
    assert.ok(t1.get('classifier.bias')!.data.every((v) => v === 0));
  } finally {
    [h1, h2, h3].forEach((m) => m.dispose());
  }

  const missing = new Map(named);
  missing.delete('bert.encoder.layer.1.output.dense.bias');
  assert.throws(
    () => BertModel.fromNamedTensors(SMALL, missing, { source: 'm/model.safetensors' }),
    (e: unknown) =>
      e instanceof UserError &&
      e.where === 'm/model.safetensors' &&
      /layer\.1\.output\.dense\.bias.*missing/.test(e.message),
  );

  const wrongHead = new Map(named);
  wrongHead.set('classifier.weight', { shape: [2, SMALL.hiddenSize], data: new Float32Array(2 * SMALL.hiddenSize) });
  assert.throws(
    () => BertModel.fromNamedTensors(SMALL, wrongHead),
    (e: unknown) => e instanceof UserError && /\[2, 16\].*\[3, 16\]/.test(e.message) && /num_labels/.test(e.fix ?? ''),
  );

  assert.throws(
    () => BertModel.randomInit({ ...SMALL, numAttentionHeads: 3 }, 1),
    (e: unknown) => e instanceof UserError && /not a multiple/.test(e.message),
  );
});

test('dropout only when training; a seed makes the masks reproducible', () => {
  const model = BertModel.randomInit({ ...SMALL, hiddenDropoutProb: 0.3, attentionProbsDropoutProb: 0.3 }, 2);
  const x = inputs();
  const logits = (opts: { training: boolean; seed?: number }) =>
    tf.tidy(() => Array.from(model.forward(x, opts).logits.dataSync()));
  try {
    const eval1 = logits({ training: false });
    assert.deepEqual(logits({ training: false }), eval1);
    assert.deepEqual(logits({ training: false, seed: 9 }), eval1, 'a seed does not turn dropout on');
    const train1 = logits({ training: true, seed: 1 });
    assert.notDeepEqual(train1, eval1);
    assert.deepEqual(logits({ training: true, seed: 1 }), train1);
    assert.notDeepEqual(logits({ training: true, seed: 2 }), train1);
    assert.notDeepEqual(logits({ training: true }), logits({ training: true }));
  } finally {
    model.dispose();
    disposeInputs(x);
  }
});

test('forward: output shapes, probability rows sum to 1 with padded keys at exactly 0, no NaN for an all-padding row', () => {
  const model = BertModel.randomInit(SMALL, 4);
  const x = inputs();
  const empty: BertInputs = {
    inputIds: tf.zeros([1, 4], 'int32') as tf.Tensor2D,
    tokenTypeIds: tf.zeros([1, 4], 'int32') as tf.Tensor2D,
    attentionMask: tf.zeros([1, 4], 'int32') as tf.Tensor2D,
  };
  try {
    tf.tidy(() => {
      const out = model.forward(x, { training: false });
      assert.deepEqual(out.logits.shape, [2, 3]);
      assert.deepEqual(out.pooled.shape, [2, 16]);
      assert.equal(out.hiddenStates.length, 3);
      out.hiddenStates.forEach((h) => assert.deepEqual(h.shape, [2, 6, 16]));
      assert.equal(out.attentions.length, 2);
      for (const a of out.attentions) {
        assert.deepEqual(a.shape, [2, 2, 6, 6]);
        const p = a.arraySync();
        for (const row of p[0].flat()) {
          assert.equal(row[5], 0, 'the padded key of sequence 0 gets no attention');
          assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6);
        }
      }
      const e = model.forward(empty, { training: false });
      for (const t of [e.logits, ...e.hiddenStates, ...e.attentions]) {
        assert.ok(t.dataSync().every(Number.isFinite), 'finite outputs for a fully padded sequence');
      }
      // All keys masked alike: uniform attention, as Hugging Face's finfo.min mask gives.
      assert.ok(e.attentions[0].dataSync().every((v) => Math.abs(v - 0.25) < 1e-7));
    });
  } finally {
    model.dispose();
    disposeInputs(x);
    disposeInputs(empty);
  }
});

test('forward keeps only the requested hidden states and attentions', () => {
  const model = BertModel.randomInit(SMALL, 4);
  const x = inputs();
  try {
    const all = model.forward(x, { training: false });
    const before = tf.memory().numTensors;
    const some = model.forward(x, { training: false, keep: { hiddenStates: [0, 2], attentions: [1] } });
    // logits, pooled, 2 hidden states, 1 attention map: nothing else survives the call.
    assert.equal(tf.memory().numTensors - before, 5);
    assert.equal(some.hiddenStates[1], undefined);
    assert.equal(some.attentions[0], undefined);
    assert.deepEqual(some.hiddenStates[2].dataSync(), all.hiddenStates[2].dataSync());
    assert.deepEqual(some.attentions[1].dataSync(), all.attentions[1].dataSync());
    assert.deepEqual(some.logits.dataSync(), all.logits.dataSync());
    tf.dispose([some as unknown as tf.TensorContainer, all as unknown as tf.TensorContainer]);
    assert.throws(() => model.forward(x, { training: false, keep: { attentions: [2] } }), /outside 0\.\.1/);
  } finally {
    model.dispose();
    disposeInputs(x);
  }
});

test('gradients on wasm exist and are finite for every trainable variable, and match finite differences', () => {
  const model = BertModel.randomInit(SMALL, 5);
  const x = inputs();
  const labels = tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3);
  const loss = () =>
    tf.tidy(() => tf.losses.softmaxCrossEntropy(labels, model.forward(x, { training: false }).logits) as tf.Scalar);
  try {
    const vars = model.trainableVariables();
    assert.equal(vars.length, bertParameterSpecs(SMALL).length);
    const { value, grads } = tf.variableGrads(loss, vars);
    const byName = new Map<string, tf.Tensor>();
    for (const name of model.parameterNames()) {
      const g = grads[model.variable(name).name];
      assert.ok(g, `gradient for ${name}`);
      assert.deepEqual(g.shape, model.variable(name).shape);
      assert.ok(g.dataSync().every(Number.isFinite), `finite gradient for ${name}`);
      byName.set(name, g);
    }
    // Every parameter that the inputs reach gets a non-zero gradient. Exceptions: embedding tables
    // (unused rows get 0) and the key bias, which shifts a whole score row alike, so softmax
    // cancels it and its true gradient is 0 (only rounding noise remains).
    for (const name of model.parameterNames()) {
      if (name.includes('_embeddings.') || name.endsWith('attention.self.key.bias')) continue;
      assert.ok(
        byName
          .get(name)!
          .dataSync()
          .some((v) => v !== 0),
        `non-zero gradient for ${name}`,
      );
    }

    // Central differences in float32 on a few entries across the network.
    const checks: Array<[string, number]> = [
      ['classifier.bias', 1],
      ['bert.pooler.dense.weight', 17],
      ['bert.encoder.layer.1.output.dense.weight', 40],
      ['bert.encoder.layer.0.intermediate.dense.bias', 3],
      ['bert.encoder.layer.0.attention.self.query.weight', 21],
      ['bert.encoder.layer.0.attention.self.value.bias', 6],
      ['bert.encoder.layer.1.attention.self.key.weight', 50],
      ['bert.embeddings.LayerNorm.weight', 4],
      ['bert.embeddings.word_embeddings.weight', 7 * 16 + 2],
    ];
    const eps = 1e-2;
    for (const [name, index] of checks) {
      const v = model.variable(name);
      const original = v.dataSync().slice() as Float32Array;
      const at = (delta: number) => {
        const d = original.slice();
        d[index] += delta;
        setValue(v, d);
        const l = loss();
        const out = l.dataSync()[0];
        l.dispose();
        return out;
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      setValue(v, original);
      const analytic = byName.get(name)!.dataSync()[index];
      assert.ok(
        Math.abs(numeric - analytic) < 3e-5 + 0.01 * Math.abs(analytic),
        `${name}[${index}]: analytic ${analytic}, numeric ${numeric}`,
      );
    }
    value.dispose();
    tf.dispose(Object.values(grads));
  } finally {
    model.dispose();
    disposeInputs(x);
    labels.dispose();
  }
});

test('a model loaded with trainable: false has no trainable variables', () => {
  const model = BertModel.randomInit(SMALL, 1);
  const frozen = BertModel.fromNamedTensors(SMALL, model.toNamedTensors(), { trainable: false });
  try {
    assert.equal(frozen.trainableVariables().length, 0);
    assert.equal(frozen.variable('classifier.bias').trainable, false);
  } finally {
    model.dispose();
    frozen.dispose();
  }
});

test("no tensors leak: forward inside tidy, a training step's gradients, and dispose", () => {
  const x = inputs();
  const before = tf.memory().numTensors;
  const model = BertModel.randomInit(SMALL, 6);
  const nVars = bertParameterSpecs(SMALL).length;
  assert.equal(tf.memory().numTensors, before + nVars);
  tf.tidy(() => {
    model.forward(x, { training: true, seed: 3 });
    model.forward(x, { training: false });
  });
  assert.equal(tf.memory().numTensors, before + nVars);
  const { value, grads } = tf.variableGrads(() => tf.sum(model.forward(x, { training: true }).logits) as tf.Scalar);
  value.dispose();
  tf.dispose(Object.values(grads));
  assert.equal(tf.memory().numTensors, before + nVars);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => model.forward(x, { training: false }), /after dispose/);
  disposeInputs(x);
});
