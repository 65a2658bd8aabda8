// `distillery demo --quick`: generates its task, trains a teacher on all of it (a teacher-only run),
// distils soft, pid and sid students from it in the data-scarce setting (100 sentences, random
// init, one seed) and prints the comparison table. The full demo runs 3 seeds; --quick says that
// one seed cannot tell a difference from seed noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { comparisonTable, meanAndSpread } from '../../src/train/demo';
import type { RunSummary } from '../../src/train/run-summary';
import { eventsOf, malformedEventLines, runCli, runFolders, runInfo, tmpDir } from '../helpers/train-fixtures';

test('demo --quick trains a teacher, finishes three student runs and prints the comparison table', () => {
  const dir = tmpDir('distillery-demo-');
  const r = runCli(['demo', '--quick', '--dir', dir, '--backend', 'wasm'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));

  const lines = r.stdout.split('\n');
  const header = lines.find((l) => l.startsWith('| algorithm |'));
  assert.ok(header, r.stdout);
  assert.match(
    header,
    /\| dev metric \| student params \| attn-KL L1 \| attn-KL L2 \| mean \[CLS\] cos dist \| steps \| time \|/,
  );
  const rows = lines.filter((l) => /^\| (soft|pid|sid) \|/.test(l));
  assert.deepEqual(
    rows.map((l) => l.split('|')[1].trim()),
    ['soft', 'pid', 'sid'],
  );
  for (const row of rows) {
    const cells = row
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    assert.match(cells[1], /^accuracy [01]\.\d{4}$/, row);
    assert.match(cells[3], /^\d+\.\d{4}$/, row);
    assert.match(cells[6], /^\d+$/, row);
  }
  assert.match(r.stdout, /teacher \([\d,]+ params, all 1000 training sentences\): dev accuracy [01]\.\d{4}/);
  assert.match(r.stdout, /students: 2 layers from random weights, distilled on 100 of the 1000 training sentences/);
  assert.match(r.stdout, /one seed per algorithm \(--quick\): differences may be seed noise/);

  // The teacher run and three student runs are on disk, finished; the students share the teacher
  // and have exported students.
  const runs = runFolders(path.join(dir, 'runs'));
  assert.equal(runs.length, 4);
  const started = runs.map((run) => eventsOf(run, 'run-started')[0]);
  for (const run of runs) {
    assert.equal(runInfo(run).status, 'finished');
    assert.deepEqual(malformedEventLines(run), []);
  }
  const students = runs.filter((_, i) => started[i].plan.stages.some((s) => s.kind !== 'teacher'));
  assert.equal(students.length, 3);
  for (const run of students) assert.equal(loadCheckpoint(path.join(run, 'student')).config.numHiddenLayers, 2);
  assert.ok(fs.existsSync(path.join(dir, 'teacher', 'model.safetensors')));
  const plans = Object.fromEntries(
    started
      .filter((e) => e.plan.stages.some((s) => s.kind !== 'teacher'))
      .map((e) => [e.config.algorithm, e.plan.stages.map((s) => s.kind)]),
  );
  assert.deepEqual(plans, {
    soft: ['classification'],
    pid: ['internal', 'internal', 'classification'],
    sid: ['internal', 'internal', 'classification'],
  });
  // the students see 100 of the 1000 sentences, from random weights
  for (const e of started.filter(
    (x) => x.config.algorithm !== undefined && x.plan.stages.some((s) => s.kind !== 'teacher'),
  )) {
    assert.equal(e.config.task.trainFraction, 0.1);
    assert.equal(e.config.student.init, 'random');
  }
});

test("the comparison table: mean ± sd over seeds, every seed, and whether the difference to soft is beyond the seeds' spread", () => {
  const run = (algorithm: string, value: number): RunSummary => ({
    runDir: `/r/${algorithm}`,
    runId: algorithm,
    algorithm,
    status: 'finished',
    studentParams: 79_042,
    best: { metric: 'accuracy', value, step: 10 },
    lastPerLayer: [
      { student: 1, teacher: 2, attentionKl: 0.5, clsCosine: 0.1 },
      { student: 2, teacher: 4, attentionKl: 0.25, clsCosine: 0.2 },
    ],
    steps: 100,
    durationMs: 5000,
  });
  const runs = [
    run('soft', 0.9),
    run('pid', 0.97),
    run('sid', 0.93),
    run('soft', 0.92),
    run('pid', 0.99),
    run('sid', 0.89),
  ];
  const table = comparisonTable(runs);
  assert.match(
    table,
    /\| algorithm \| dev metric \(mean ± sd, 2 seeds\) \| per seed \| student params \| attn-KL L1 \| attn-KL L2 \|/,
  );
  assert.match(
    table,
    /\| soft \| accuracy 0\.9100 ± 0\.0141 \| 0\.900 \/ 0\.920 \| 79,042 \| 0\.5000 \| 0\.2500 \| 0\.1500 \| 100 \| 5s \|/,
  );
  assert.match(table, /pid − soft: \+0\.0700 \(beyond the seed spread/);
  assert.match(table, /sid − soft: \+0\.0000 \(within the seed spread/);
  const m = meanAndSpread([1, 2, 3]);
  assert.deepEqual(m, { mean: 2, sd: 1, min: 1, max: 3 });
});
