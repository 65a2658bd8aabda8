import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildExperimentConfig,
  configRelative,
  experimentFileName,
  experimentText,
  glueFolderProblem,
  guessGlueDataDir,
  readHeaderColumns,
  studentLayerChoices,
  suggestName,
} from '../../src/extension/experiment';
import { validateConfig } from '../../src/validate/validate';

function workspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-exp-'));
  const teacher = path.join(dir, 'models', 'bert-sst2');
  fs.mkdirSync(teacher, { recursive: true });
  fs.writeFileSync(
    path.join(teacher, 'config.json'),
    JSON.stringify({ model_type: 'bert', num_hidden_layers: 12, id2label: { 0: 'negative', 1: 'positive' } }),
  );
  fs.writeFileSync(path.join(teacher, 'model.safetensors'), '');
  fs.writeFileSync(path.join(teacher, 'vocab.txt'), '[PAD]\n');
  const sst = path.join(dir, 'data', 'glue', 'SST-2');
  fs.mkdirSync(sst, { recursive: true });
  for (const f of ['train.tsv', 'dev.tsv']) fs.writeFileSync(path.join(sst, f), 'sentence\tlabel\nok\t1\n');
  fs.writeFileSync(path.join(dir, 'data', 'reviews.csv'), 'id,review,stars\n1,"good",5\n');
  fs.writeFileSync(path.join(dir, 'data', 'reviews-dev.csv'), 'id,review,stars\n2,"bad",1\n');
  return dir;
}

test('New Experiment: a GLUE task with a fine-tuned teacher gives a config that validates without problems', () => {
  const dir = workspace();
  const answers = {
    name: 'sst2-sid-6l',
    teacher: { kind: 'checkpoint' as const, dir: path.join(dir, 'models', 'bert-sst2') },
    teacherLayers: 12,
    task: { kind: 'glue' as const, name: 'sst2' as const, dataDir: path.join(dir, 'data', 'glue', 'SST-2') },
    studentLayers: 6,
    algorithm: 'sid' as const,
    configDir: dir,
  };
  const cfg = buildExperimentConfig(answers);
  assert.deepEqual(cfg.task, { name: 'sst2', dataDir: 'data/glue/SST-2', maxSeqLen: 128 });
  assert.deepEqual(cfg.teacher, { checkpoint: 'models/bert-sst2' });
  assert.deepEqual(cfg.student, { layers: 6, init: 'teacher-layers' });
  assert.equal(cfg.mapping, 'every-other');
  assert.equal(cfg.algorithm, 'sid');
  const text = experimentText(answers);
  const file = path.join(dir, experimentFileName(answers.name));
  assert.equal(path.basename(file), 'sst2-sid-6l.distill.json');
  const r = validateConfig(text, file);
  assert.deepEqual(r.problems, []);
  assert.equal(r.config?.student.layers, 6);
});

test('New Experiment: custom CSV data and a teacher trained from scratch; uniform mapping for a non-halving student', () => {
  const dir = workspace();
  const train = path.join(dir, 'data', 'reviews.csv');
  assert.deepEqual(readHeaderColumns(train), ['id', 'review', 'stars']);
  const answers = {
    name: 'reviews',
    teacher: { kind: 'scratch' as const, layers: 4, hiddenSize: 64, heads: 4, intermediateSize: 128, epochs: 2 },
    task: {
      kind: 'custom' as const,
      train,
      dev: path.join(dir, 'data', 'reviews-dev.csv'),
      textA: 'review',
      label: 'stars',
    },
    studentLayers: 3,
    algorithm: 'pid' as const,
    configDir: dir,
  };
  const cfg = buildExperimentConfig(answers);
  assert.deepEqual(cfg.task, {
    name: 'custom',
    maxSeqLen: 128,
    custom: { train: 'data/reviews.csv', dev: 'data/reviews-dev.csv', textA: 'review', label: 'stars' },
  });
  assert.equal(cfg.mapping, 'uniform');
  const r = validateConfig(experimentText(answers), path.join(dir, 'reviews.distill.json'));
  assert.deepEqual(
    r.problems.filter((p) => p.severity === 'error'),
    [],
  );
});

test('helpers: relative paths, file names, student sizes, names, header rows, GLUE folder checks', () => {
  assert.equal(configRelative('/ws', '/ws/data/glue/SST-2'), 'data/glue/SST-2');
  assert.equal(configRelative('/ws/configs', '/ws/models/bert'), '../models/bert');
  assert.equal(configRelative('/ws', '/ws'), '.');
  assert.equal(experimentFileName('  SST-2 sid / 6 layers '), 'SST-2-sid-6-layers.distill.json');
  assert.equal(experimentFileName('x.distill.json'), 'x.distill.json');
  assert.equal(experimentFileName('///'), 'experiment.distill.json');
  assert.deepEqual(studentLayerChoices(12), [6, 4, 3, 2]);
  assert.deepEqual(studentLayerChoices(4), [2, 1]);
  assert.deepEqual(studentLayerChoices(undefined), [6, 4, 3, 2]);
  assert.equal(suggestName({ kind: 'glue', name: 'mrpc', dataDir: '/d' }, 'hard+soft', 4), 'mrpc-hard-soft-4l');

  const dir = workspace();
  const tsv = path.join(dir, 'x.tsv');
  fs.writeFileSync(tsv, 'sentence\tlabel\na\t1\n');
  assert.deepEqual(readHeaderColumns(tsv), ['sentence', 'label']);
  const jsonl = path.join(dir, 'x.jsonl');
  fs.writeFileSync(jsonl, '{"text": "a", "label": "pos"}\n');
  assert.deepEqual(readHeaderColumns(jsonl), ['text', 'label']);
  assert.deepEqual(readHeaderColumns(path.join(dir, 'missing.csv')), []);

  assert.equal(glueFolderProblem('sst2', path.join(dir, 'data', 'glue', 'SST-2')), undefined);
  assert.equal(glueFolderProblem('sst2', path.join(dir, 'data', 'glue')), 'choose the SST-2 folder inside it');
  assert.equal(glueFolderProblem('mrpc', path.join(dir, 'models')), 'it has no train.tsv or dev.tsv');
  assert.equal(guessGlueDataDir(dir, 'sst2'), path.join(dir, 'data', 'glue', 'SST-2'));
  assert.equal(guessGlueDataDir(dir, 'rte'), undefined);
});
