// The one-cell smoke version of the pre-trained-teacher study (repro/pretrained-smoke.sweep.json):
// the committed sweep, with its data and checkpoint paths pointed at this machine's, runs through
// `distillery sweep` (teacher fine-tuned from the real all-MiniLM-L6-v2, then a SID student) and
// `distillery report`. Skipped, saying how to fetch it, when the checkpoint is absent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { GLUE_DIR, REPO_ROOT } from '../helpers/paths';
import { PRETRAINED_DIR, pretrainedMissing } from '../helpers/pretrained';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import { eventsOf } from '../helpers/train-fixtures';

const SWEEP = path.join(REPO_ROOT, 'repro', 'pretrained-smoke.sweep.json');
const skip =
  pretrainedMissing() ||
  (fs.existsSync(path.join(GLUE_DIR, 'CoLA', 'dev.tsv')) ? false : `no CoLA data in ${GLUE_DIR}`);
let tmp: string | undefined;

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface SmokeSweep {
  name: string;
  base: {
    task: { dataDir: string; trainFraction: number };
    teacher: { train: { from: string } };
    student: { layers: number };
  };
  grid: { algorithms: string[]; seeds: number[] };
}

test(
  'the smoke sweep fine-tunes the pre-trained teacher, distils a 2-layer SID student from it and reports',
  { skip, timeout: 15 * 60_000 },
  () => {
    ensureCliBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-pretrained-smoke-'));
    const sweep = parseJsonc(fs.readFileSync(SWEEP, 'utf8')) as SmokeSweep;
    // The committed paths assume ../shared and models/ beside the repository: point them at this machine's.
    assert.equal(sweep.base.task.dataDir, '../../shared/data/glue/CoLA');
    assert.equal(sweep.base.teacher.train.from, '../models/all-minilm-l6-v2');
    assert.equal(sweep.grid.algorithms.length * sweep.grid.seeds.length, 1, 'one cell');
    sweep.base.task.dataDir = path.join(GLUE_DIR, 'CoLA');
    sweep.base.teacher.train.from = PRETRAINED_DIR;
    const file = path.join(tmp, 'pretrained-smoke.sweep.json');
    fs.writeFileSync(file, JSON.stringify(sweep, null, 2));
    const out = path.join(tmp, 'out');

    const r = runCli(['sweep', file, '--out', out, '--concurrency', '1']);
    assert.equal(r.status, 0, `distillery sweep failed:\n${r.stderr}`);
    assert.match(r.stderr, /\[1\/2\] teacher: finished: dev matthews/);
    assert.match(r.stderr, /\[2\/2\] sid_seed1: finished: dev matthews/);

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
    assert.equal(started.params.teacher.total, 22_713_986, 'all-MiniLM-L6-v2 with a 2-class head');
    assert.ok(eventsOf(teacherRun, 'eval').length >= 1);
    // The student: 2 layers from teacher layers 2 and 4, SID's three stages, attention-KL per layer at evaluation.
    const plan = eventsOf(studentRun, 'run-started')[0].plan.stages;
    assert.deepEqual(
      plan.map((s) => s.layers),
      [
        [[1, 2]],
        [
          [1, 2],
          [2, 4],
        ],
        [],
      ],
    );
    const evals = eventsOf(studentRun, 'eval');
    assert.ok(evals.length >= 3);
    assert.equal(evals[evals.length - 1].perLayer.length, 2);
    assert.equal(eventsOf(studentRun, 'run-finished').length, 1);

    const rep = runCli(['report', out]);
    assert.equal(rep.status, 0, `distillery report failed:\n${rep.stderr}`);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, /sid/);
    assert.match(md, /mcc|matthews/i);
  },
);
