// `distillery demo --quick`: generates its task, trains a teacher, distils soft, pid and sid
// students from it and prints the comparison table (about 45 s on two cores).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint';
import { eventsOf, malformedEventLines, runCli, runFolders, runInfo, tmpDir } from './helpers/train-fixtures';

test('demo --quick finishes three runs and prints the comparison table', () => {
  const dir = tmpDir('distillery-demo-');
  const r = runCli(['demo', '--quick', '--dir', dir, '--backend', 'wasm'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));

  const lines = r.stdout.split('\n');
  const header = lines.find((l) => l.startsWith('| algorithm |'));
  assert.ok(header, r.stdout);
  assert.match(header, /\| dev metric \| student params \| attn-KL L1 \| attn-KL L2 \| mean \[CLS\] cos dist \| steps \| time \|/);
  const rows = lines.filter((l) => /^\| (soft|pid|sid) \|/.test(l));
  assert.deepEqual(rows.map((l) => l.split('|')[1].trim()), ['soft', 'pid', 'sid']);
  for (const row of rows) {
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    assert.match(cells[1], /^accuracy 0\.\d{4}$/, row);
    assert.match(cells[3], /^\d+\.\d{4}$/, row);
    assert.match(cells[6], /^\d+$/, row);
  }
  assert.match(r.stdout, /teacher \([\d,]+ params\): dev accuracy 0\.\d{4}/);

  // The three runs are on disk, finished, share one teacher and have exported students.
  const runs = runFolders(path.join(dir, 'runs'));
  assert.equal(runs.length, 3);
  for (const run of runs) {
    assert.equal(runInfo(run).status, 'finished');
    assert.deepEqual(malformedEventLines(run), []);
    assert.equal(loadCheckpoint(path.join(run, 'student')).config.numHiddenLayers, 2);
  }
  assert.ok(fs.existsSync(path.join(dir, 'teacher', 'model.safetensors')));
  const plans = Object.fromEntries(runs.map((run) => {
    const started = eventsOf(run, 'run-started')[0];
    return [started.config.algorithm, started.plan.stages.map((s) => s.kind)];
  }));
  assert.deepEqual(plans, {
    soft: ['teacher', 'classification'],
    pid: ['internal', 'internal', 'classification'],
    sid: ['internal', 'internal', 'classification'],
  });
});
