// The one-cell smoke versions of the pre-trained-teacher study (repro/pretrained-smoke.sweep.json and
// repro/pretrained-e5-smoke.sweep.json): each committed sweep, with its data and checkpoint paths
// pointed at this machine's, runs through `distillery sweep` (a teacher fine-tuned from the real
// all-MiniLM-L6-v2 then a 2-layer SID student; the 12-layer e5-small then a 6-layer internal-all
// student, every-other) and `distillery report`. Skipped, saying how to fetch it, when a checkpoint is absent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { GLUE_DIR, REPO_ROOT } from '../helpers/paths';
import { pretrainedDir, pretrainedMissing } from '../helpers/pretrained';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import { eventsOf } from '../helpers/train-fixtures';

const noCola = fs.existsSync(path.join(GLUE_DIR, 'CoLA', 'dev.tsv')) ? false : `no CoLA data in ${GLUE_DIR}`;
const tmps: string[] = [];

after(() => {
  for (const tmp of tmps) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Each smoke sweep, the model it fine-tunes, and what its one student must show. */
const SMOKES = [
  {
    file: 'pretrained-smoke.sweep.json',
    model: 'all-minilm-l6-v2',
    teacherParams: 22_713_986, // all-MiniLM-L6-v2 with a 2-class head
    cell: 'sid_seed1',
    studentLayers: 2,
    // 2 layers from teacher layers 2 and 4, SID's three stages
    stages: [
      [[1, 2]],
      [
        [1, 2],
        [2, 4],
      ],
      [],
    ],
    title: 'the smoke sweep fine-tunes the pre-trained teacher, distils a 2-layer SID student from it and reports',
  },
  {
    file: 'pretrained-e5-smoke.sweep.json',
    model: 'e5-small',
    teacherParams: 33_360_770, // e5-small (12 layers) with a 2-class head
    cell: 'internal-all_seed1',
    studentLayers: 6,
    // 6 layers from teacher layers 2, 4, …, 12 at once, then classification
    stages: [
      [
        [1, 2],
        [2, 4],
        [3, 6],
        [4, 8],
        [5, 10],
        [6, 12],
      ],
      [],
    ],
    title:
      'the 12 → 6 smoke sweep fine-tunes e5-small, distils a 6-layer internal-all student (every-other) and reports',
  },
];

interface SmokeSweep {
  name: string;
  base: {
    task: { dataDir: string; trainFraction: number };
    teacher: { train: { from: string } };
    student: { layers: number };
  };
  grid: { algorithms: string[]; seeds: number[] };
}

for (const smoke of SMOKES) {
  test(smoke.title, { skip: pretrainedMissing(smoke.model) || noCola, timeout: 15 * 60_000 }, () => {
    ensureCliBuilt();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-pretrained-smoke-'));
    tmps.push(tmp);
    const sweep = parseJsonc(fs.readFileSync(path.join(REPO_ROOT, 'repro', smoke.file), 'utf8')) as SmokeSweep;
    // The committed paths assume ../shared and models/ beside the repository: point them at this machine's.
    assert.equal(sweep.base.task.dataDir, '../../shared/data/glue/CoLA');
    assert.equal(sweep.base.teacher.train.from, `../models/${smoke.model}`);
    assert.equal(sweep.grid.algorithms.length * sweep.grid.seeds.length, 1, 'one cell');
    sweep.base.task.dataDir = path.join(GLUE_DIR, 'CoLA');
    sweep.base.teacher.train.from = pretrainedDir(smoke.model);
    const file = path.join(tmp, smoke.file);
    fs.writeFileSync(file, JSON.stringify(sweep, null, 2));
    const out = path.join(tmp, 'out');

    const r = runCli(['sweep', file, '--out', out, '--concurrency', '1']);
    assert.equal(r.status, 0, `distillery sweep failed:\n${r.stderr}`);
    assert.match(r.stderr, /\[1\/2\] teacher: finished: dev matthews/);
    assert.match(r.stderr, new RegExp(`\\[2/2\\] ${smoke.cell}: finished: dev matthews`));

    const runs = fs.readdirSync(path.join(out, 'runs')).map((n) => path.join(out, 'runs', n));
    const teacherRun = runs.find((d) => path.basename(d).startsWith('teacher'))!;
    const studentRun = runs.find((d) => !path.basename(d).startsWith('teacher'))!;
    assert.ok(teacherRun && studentRun, runs.join(', '));
    // The teacher was fine-tuned from the real checkpoint: its base's notes, a dev evaluation.
    const teacherLogs = eventsOf(teacherRun, 'log')
      .map((e) => e.message)
      .join('\n');
    assert.match(teacherLogs, /teacher base: no classifier head in model\.safetensors/);
    const started = eventsOf(teacherRun, 'run-started')[0];
    assert.equal(started.params.teacher.total, smoke.teacherParams);
    assert.ok(eventsOf(teacherRun, 'eval').length >= 1);
    // The student's stages and their layer pairs, attention-KL per layer at evaluation.
    const plan = eventsOf(studentRun, 'run-started')[0].plan.stages;
    assert.deepEqual(
      plan.map((s) => s.layers),
      smoke.stages,
    );
    const evals = eventsOf(studentRun, 'eval');
    assert.ok(evals.length >= smoke.stages.length);
    assert.equal(evals[evals.length - 1].perLayer.length, smoke.studentLayers);
    assert.equal(eventsOf(studentRun, 'run-finished').length, 1);

    const rep = runCli(['report', out]);
    assert.equal(rep.status, 0, `distillery report failed:\n${rep.stderr}`);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, new RegExp(smoke.cell.split('_')[0]));
    assert.match(md, /mcc|matthews/i);
  });
}
