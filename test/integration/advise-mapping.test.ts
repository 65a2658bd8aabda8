/**
 * `distillery advise-mapping` on a tiny random teacher and SST-2 slices: a student that copies the
 * teacher's first layers (so its layer k is the teacher's layer k exactly) has zero KL and zero
 * cosine distance on those pairs and gets them proposed; widths and heads that differ; errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { adviseMapping } from '../../src/train/advise-mapping';
import { isUserError } from '../../src/util/errors';
import { customSst2Task, tmpDir, writeConfig, writeSmallVocab } from '../helpers/train-fixtures';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import * as fs from 'node:fs';
import { initBackend } from '../../src/model/backend';
import { BertModel } from '../../src/model/bert';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { WordPieceTokenizer } from '../../src/data/tokenizer';
import { initStudentFromTeacher, studentConfig } from '../../src/distill/student-init';
import { layerCosts } from '../../src/distill/layer-costs';
import { evaluate } from '../../src/train/evaluate';
import { readTaskDatasets } from '../../src/train/task-data';
import { loadConfigFile } from '../../src/validate/validate';
import { runMain } from '../helpers/cli-in-process';

const work = tmpDir('distillery-advise-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const task = { ...customSst2Task(work, 16, 12), maxSeqLen: 32 };
const vocab = writeSmallVocab(path.join(work, 'vocab.txt'), [
  path.join(work, 'data', 'train.tsv'),
  path.join(work, 'data', 'dev.tsv'),
]);
writeTinyCheckpoint(path.join(work, 'teacher'), {
  vocabFile: vocab,
  layers: 4,
  hidden: 16,
  heads: 2,
  intermediate: 32,
  maxPositions: 32,
  seed: 5,
});

function config(name: string, over: Record<string, unknown>): string {
  return writeConfig(work, name, {
    task,
    teacher: { checkpoint: 'teacher' },
    student: { layers: 2, init: 'teacher-layers' },
    mapping: [
      [1, 1],
      [2, 2],
    ],
    algorithm: 'pid',
    optim: { batchSize: 4, seed: 1 },
    backend: 'wasm',
    runsDir: 'runs',
    ...over,
  });
}

test('a student copying teacher layers 1–2 matches them exactly there, and that mapping is proposed', async () => {
  const a = await adviseMapping(config('copy', {}), { sample: 8 });
  assert.equal(a.examples, 8);
  assert.equal(a.attentionKl.length, 2);
  assert.equal(a.attentionKl[0].length, 4);
  assert.ok(a.clsCosine);
  for (const k of [0, 1]) {
    assert.ok(a.attentionKl[k][k] < 1e-5, `KL s${k + 1}/t${k + 1} = ${a.attentionKl[k][k]}`);
    assert.ok(a.clsCosine[k][k] < 1e-5, `cos s${k + 1}/t${k + 1} = ${a.clsCosine[k][k]}`);
  }
  // Other pairs differ (the random teacher's layers are unlike one another).
  for (const [s, t] of [
    [0, 1],
    [0, 2],
    [1, 0],
    [1, 3],
  ])
    assert.ok(a.attentionKl[s][t] > 1e-3, `KL s${s + 1}/t${t + 1} = ${a.attentionKl[s][t]}`);
  for (const row of a.attentionKl) for (const x of row) assert.ok(x >= -1e-6 && Number.isFinite(x));
  assert.deepEqual(a.proposed, [
    [1, 1],
    [2, 2],
  ]);
  assert.equal(a.comparison.same, true);
  assert.equal(a.snippet, '"mapping": [[1, 1], [2, 2]]');
  assert.ok(a.notes.some((n) => n.includes('teacher-layers')));
});

test('the CLI prints both heatmaps, the snippet and the comparison; --json has the matrices', async () => {
  const file = config('cli', { mapping: 'uniform' });
  const text = await runMain(['advise-mapping', file, '--sample', '6']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /attention KL, KL\(A_T ‖ A_S\)/);
  assert.match(text.stdout, /\[CLS\] cosine distance/);
  assert.match(text.stdout, /^s1 /m);
  assert.match(text.stdout, /proposed: "mapping": \[\[1, \d\], \[2, \d\]\]/);
  assert.match(text.stdout, /current: {2}"mapping": \[\[1, 2\], \[2, 4\]\]/);
  const json = await runMain(['advise-mapping', file, '--sample', '6', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const a = JSON.parse(json.stdout) as {
    attentionKl: number[][];
    clsCosine: number[][];
    proposed: [number, number][];
    current: [number, number][];
    examples: number;
  };
  assert.equal(a.examples, 6);
  assert.deepEqual(a.current, [
    [1, 2],
    [2, 4],
  ]);
  // With the student copied from teacher layers 2 and 4, student layer 1 sees the embeddings, as
  // teacher layer 1 does, not layer 2's input; every proposed pair is strictly increasing.
  assert.ok(a.proposed[0][1] < a.proposed[1][1]);
  assert.equal(a.attentionKl.length, 2);
  assert.equal(a.clsCosine[0].length, 4);
});

test('a narrower student: no cosine matrix, a note, the mapping from the attention KL alone', async () => {
  const a = await adviseMapping(
    config('narrow', { student: { layers: 2, hiddenSize: 8, heads: 2, intermediateSize: 16, init: 'random' } }),
    { sample: 4 },
  );
  assert.equal(a.clsCosine, null);
  assert.ok(a.notes.some((n) => n.includes('widths differ')));
  assert.ok(a.notes.some((n) => n.includes('"random"')));
  assert.match(a.costRule, /^1 × attention KL, /);
  assert.equal(a.proposed.length, 2);
});

test('unequal head counts: a user error naming student.heads unless losses.attentionKlHeads is "average"', async () => {
  const student = { layers: 2, hiddenSize: 16, heads: 4, intermediateSize: 32, init: 'random' };
  const r = await runMain(['advise-mapping', config('heads', { student }), '--sample', '2']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /student\.heads/);
  assert.match(r.stderr, /fix: .*attentionKlHeads/);
  const a = await adviseMapping(config('heads-avg', { student, losses: { attentionKlHeads: 'average' } }), {
    sample: 2,
  });
  assert.equal(a.headAverage, true);
  assert.ok(a.notes.some((n) => n.includes('head-averaged')));
});

test('a teacher the run would train first, and a bad --sample: user errors with a fix', async () => {
  const file = config('trains', { teacher: { train: { from: 'teacher', epochs: 1 }, output: 'not-yet' } });
  await assert.rejects(
    adviseMapping(file),
    (e) => isUserError(e) && e.where === 'teacher' && /--teacher-only/.test(e.fix ?? ''),
  );
  const r = await runMain(['advise-mapping', config('sample', {}), '--sample', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--sample: must be an integer of at least 1/);
  const missing = await runMain(['advise-mapping', path.join(work, 'nope.distill.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.distill\.json: config file not found/);
});

test("each matrix entry equals the per-layer value of the trainer's own dev evaluation for that pair", async () => {
  const teacherDir = path.join(work, 'teacher');
  await initBackend('wasm');
  const info = readTaskDatasets(loadConfigFile(config('evaluate', {})).task);
  const ck = loadCheckpoint(teacherDir, { numLabels: 2 });
  const sCfg = studentConfig(ck.config, { layers: 2 });
  const pairs = [
    { student: 1, teacher: 3 },
    { student: 2, teacher: 4 },
  ];
  const teacher = BertModel.fromNamedTensors(ck.config, ck.tensors, { trainable: false });
  const student = BertModel.fromNamedTensors(sCfg, initStudentFromTeacher(ck.tensors, ck.config, sCfg, pairs));
  const tokenizer = WordPieceTokenizer.fromModelDir(teacherDir);
  const examples = info.dev.examples.slice(0, 10);
  const encodings = examples.map((e) => tokenizer.encode(e.textA, e.textB, 32));
  try {
    const costs = await layerCosts(teacher, student, encodings, {
      batchSize: 4,
      padId: tokenizer.padId,
      headAverage: false,
      withCosine: true,
    });
    const split = { dataset: { ...info.dev, examples }, encodings, labels: examples.map((e) => e.label) };
    // Every (student, teacher) pair, as if each were the mapping.
    for (let s = 1; s <= 2; s++) {
      for (let t = 1; t <= 4; t++) {
        const ev = await evaluate(
          { student, teacher, pairs: [{ student: s, teacher: t }], headAverage: false },
          info.info,
          split,
          4,
          tokenizer.padId,
        );
        const [l] = ev.perLayer;
        assert.ok(
          Math.abs(l.attentionKl - costs.attentionKl[s - 1][t - 1]) <= 1e-6 * Math.max(1, l.attentionKl),
          `KL s${s}/t${t}: ${l.attentionKl} vs ${costs.attentionKl[s - 1][t - 1]}`,
        );
        assert.ok(
          Math.abs(l.clsCosine - costs.clsCosine![s - 1][t - 1]) <= 1e-6,
          `cos s${s}/t${t}: ${l.clsCosine} vs ${costs.clsCosine![s - 1][t - 1]}`,
        );
      }
    }
  } finally {
    teacher.dispose();
    student.dispose();
  }
});
