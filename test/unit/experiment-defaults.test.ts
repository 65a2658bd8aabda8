// New Experiment's data-derived defaults (src/experiment/defaults.ts): maxSeqLen from the longest
// dev example in the run's vocabulary, learning rates and epochs by teacher path, parameter counts
// that match the model's, time per epoch from a measured speed; and the config they go into.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  deriveExperimentDefaults,
  describeDefaults,
  estimateEpoch,
  formatEstimate,
  learningRates,
  longestExampleTokens,
  parameterCount,
  phaseStepFlops,
  roundSeqLen,
  sampleBatchLengths,
  teacherEpochs,
} from '../../src/experiment/defaults';
import { buildExperimentConfig, experimentText } from '../../src/extension/experiment';
import { validateConfig } from '../../src/validate/validate';
import { readGlueSplit } from '../../src/data/glue';
import { GLUE_TASKS } from '../../src/data/tasks';
import { WordPieceTokenizer } from '../../src/data/tokenizer';
import { countParameters } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS } from '../../src/model/config';
import { BERT_VOCAB, GLUE_DIR } from '../helpers/paths';

const SST2 = path.join(GLUE_DIR, 'SST-2');
const SCRATCH = { layers: 4, hiddenSize: 256, heads: 4, intermediateSize: 1024 };

test('roundSeqLen: up to a multiple of 8, at least 16, at most 512', () => {
  assert.equal(roundSeqLen(25), 32);
  assert.equal(roundSeqLen(56), 56);
  assert.equal(roundSeqLen(57), 64);
  assert.equal(roundSeqLen(3), 16);
  assert.equal(roundSeqLen(700), 512);
});

test('learning rates and teacher epochs follow the teacher path and the data size', () => {
  const scratch = learningRates('scratch');
  const fineTune = learningRates('fine-tune');
  // training from random weights needs 1e-4..1e-3; fine-tuning BERT's 2e-5..5e-5
  assert.ok(scratch.teacher! >= 1e-4 && scratch.teacher! <= 1e-3, `scratch teacher lr ${scratch.teacher}`);
  assert.ok(fineTune.teacher! >= 2e-5 && fineTune.teacher! <= 5e-5, `fine-tune teacher lr ${fineTune.teacher}`);
  assert.equal(learningRates('checkpoint').teacher, undefined);
  assert.ok(scratch.student > fineTune.student);

  assert.equal(teacherEpochs('checkpoint', 1000), undefined);
  assert.equal(teacherEpochs('fine-tune', 8000), 3);
  assert.equal(teacherEpochs('fine-tune', 67_349), 2);
  // scratch: about 4000 steps, 2..20 epochs
  assert.equal(teacherEpochs('scratch', 67_349, 32), 2);
  assert.equal(teacherEpochs('scratch', 16_000, 32), 8);
  assert.equal(teacherEpochs('scratch', 500, 32), 20);
});

test("parameterCount matches the model's own count", () => {
  for (const [layers, h, heads, f, vocab, labels] of [
    [4, 256, 4, 1024, 8000, 2],
    [2, 64, 4, 128, 60, 2],
    [12, 768, 12, 3072, 30522, 3],
  ]) {
    const c = {
      ...BERT_BASE_DEFAULTS,
      numHiddenLayers: layers,
      hiddenSize: h,
      numAttentionHeads: heads,
      intermediateSize: f,
      vocabSize: vocab,
      numLabels: labels,
    };
    assert.equal(
      parameterCount(
        { layers, hiddenSize: h, heads, intermediateSize: f, vocabSize: vocab, maxPositions: 512 },
        labels,
      ),
      countParameters(c).total,
    );
  }
});

test('time per epoch: steps × FLOPs per step / measured speed; batches padded to their own longest example', () => {
  const shape = { layers: 4, hiddenSize: 256, heads: 4, intermediateSize: 1024, vocabSize: 8000, maxPositions: 512 };
  const f32 = phaseStepFlops(shape, 2, [32], 32, 2);
  const f64 = phaseStepFlops(shape, 2, [64], 32, 2);
  assert.ok(f64.distillation > 2 * f32.distillation * 0.99, 'longer batches cost at least proportionally more');
  assert.ok(
    f32.teacherTraining > f32.distillation,
    'training a 4-layer teacher costs more than distilling into 2 layers',
  );
  const mixed = phaseStepFlops(shape, 2, [32, 64], 32, 2);
  assert.ok(Math.abs(mixed.distillation - (f32.distillation + f64.distillation) / 2) < 1);
  const e = estimateEpoch(1000, 32, 2e9, { gflopsPerSec: 4, backend: 'cpu' });
  assert.equal(e.steps, 32);
  assert.equal(e.seconds, 16);
  assert.equal(formatEstimate(16), '16 s');
  assert.equal(formatEstimate(600), '10 min');
  assert.equal(formatEstimate(3 * 3600), '3.0 h');
});

test('SST-2 with a teacher from scratch: maxSeqLen from the longest dev sentence in the built vocabulary, scratch learning rates', () => {
  const d = deriveExperimentDefaults({
    task: { kind: 'glue', name: 'sst2', dataDir: SST2 },
    teacher: { path: 'scratch', architecture: SCRATCH },
    studentLayers: 2,
  });
  assert.equal(d.trainExamples, 67_349);
  assert.equal(d.devExamples, 872);
  assert.equal(d.maxSeqLen, roundSeqLen(d.longestDevTokens));
  assert.ok(d.maxSeqLen % 8 === 0 && d.maxSeqLen < 128, `maxSeqLen ${d.maxSeqLen}`);
  assert.match(d.vocabulary, /built from the training set/);
  assert.deepEqual(d.lr, learningRates('scratch'));
  assert.equal(d.teacherEpochs, 2);
  assert.equal(d.teacher.vocabSize, 8000);
  assert.ok(d.studentParams < d.teacherParams);
  // SST-2 training rows are mostly short phrases: a typical padded batch is well under maxSeqLen
  const lens = sampleBatchLengths(
    readGlueSplit(GLUE_TASKS.sst2, SST2, 'train'),
    new WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a']),
    32,
    d.maxSeqLen,
  );
  assert.ok(lens.every((l) => l <= d.maxSeqLen));
  const lines = describeDefaults(d, 'scratch', { gflopsPerSec: 10, backend: 'wasm+blas' });
  assert.match(
    lines.teacher,
    /teacher 5\.4 M parameters \(4 layers, hidden 256\): trains 2 epoch\(s\) at lr 0\.0005, ≈ .+ per epoch \(2,105 steps, wasm\+blas\)/,
  );
  assert.match(lines.student, /student 3\.8 M parameters: distils at lr 0\.0002, ≈ .+ per epoch/);
  assert.match(lines.data, new RegExp(`longest dev example ${d.longestDevTokens} tokens .*→ maxSeqLen ${d.maxSeqLen}`));
  assert.match(describeDefaults(d, 'scratch', undefined).student, /time per epoch not measured/);
});

test('SST-2 with the bert-base-uncased vocabulary: the longest dev sentence is 55 word pieces → 56', () => {
  const tok = WordPieceTokenizer.fromVocabFile(BERT_VOCAB);
  assert.equal(longestExampleTokens(readGlueSplit(GLUE_TASKS.sst2, SST2, 'dev'), tok), 55);
  const d = deriveExperimentDefaults({
    task: { kind: 'glue', name: 'sst2', dataDir: SST2 },
    teacher: { path: 'scratch', vocab: BERT_VOCAB, architecture: SCRATCH },
    studentLayers: 2,
  });
  assert.equal(d.maxSeqLen, 56);
});

test("a fine-tune path reads the base folder's vocabulary and shape; the config gets fine-tuning rates and validates", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-defaults-'));
  const base = path.join(dir, 'models', 'base');
  fs.mkdirSync(base, { recursive: true });
  fs.writeFileSync(
    path.join(base, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 4,
      hidden_size: 64,
      num_attention_heads: 2,
      intermediate_size: 128,
      vocab_size: 9,
      max_position_embeddings: 64,
    }),
  );
  fs.writeFileSync(
    path.join(base, 'vocab.txt'),
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', 'film', '.'].join('\n') + '\n',
  );
  fs.writeFileSync(path.join(base, 'model.safetensors'), '');
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  fs.writeFileSync(path.join(data, 'train.csv'), 'text,label\ngood film,1\nbad film,0\n');
  // the longest dev row: 7 words + [CLS] [SEP] = 9 tokens (unknown words are one [UNK] each)
  fs.writeFileSync(path.join(data, 'dev.csv'), 'text,label\ngood,1\na very bad film . really bad,0\n');
  const task = {
    kind: 'custom' as const,
    train: path.join(data, 'train.csv'),
    dev: path.join(data, 'dev.csv'),
    textA: 'text',
    label: 'label',
  };
  const d = deriveExperimentDefaults({ task, teacher: { path: 'fine-tune', dir: base }, studentLayers: 2 });
  assert.equal(d.longestDevTokens, 9);
  assert.equal(d.maxSeqLen, 16);
  assert.deepEqual(d.lr, learningRates('fine-tune'));
  assert.equal(d.teacherEpochs, 3);
  assert.equal(d.teacher.hiddenSize, 64);

  const answers = {
    name: 'ft',
    teacher: { kind: 'fine-tune' as const, from: base, epochs: 3 },
    teacherLayers: 4,
    task,
    studentLayers: 2,
    algorithm: 'sid' as const,
    configDir: dir,
    derived: { maxSeqLen: d.maxSeqLen, lr: d.lr, teacherEpochs: d.teacherEpochs },
  };
  const cfg = buildExperimentConfig(answers) as {
    task: { maxSeqLen: number };
    teacher: { train: { lr: number; epochs: number } };
    optim: { lr: number };
  };
  assert.equal(cfg.task.maxSeqLen, 16);
  assert.deepEqual(cfg.teacher.train, { from: 'models/base', epochs: 3, lr: 3e-5 });
  assert.equal(cfg.optim.lr, 5e-5);
  const r = validateConfig(experimentText(answers), path.join(dir, 'ft.distill.json'));
  assert.deepEqual(
    r.problems.filter((p) => p.severity === 'error'),
    [],
  );
});

test('an unreadable data file: the error names the file', () => {
  assert.throws(
    () =>
      deriveExperimentDefaults({
        task: {
          kind: 'custom',
          train: '/nonexistent/train.csv',
          dev: '/nonexistent/dev.csv',
          textA: 'text',
          label: 'label',
        },
        teacher: { path: 'scratch', architecture: SCRATCH },
        studentLayers: 2,
      }),
    /nonexistent\/train\.csv/,
  );
});
