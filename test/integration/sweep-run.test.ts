/**
 * End to end on a tiny grid: a scratch teacher shared by 2 algorithms × 2 seeds of 1-layer
 * students, run as child processes of the real CLI with concurrency 2. One cell is killed with
 * SIGKILL after its first checkpoint; the second invocation resumes it and only it; the third
 * starts nothing. Then `report` reads the run folders back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateDemoTask } from '../../src/data/demo-task';
import { planSweep } from '../../src/sweep/plan';
import { runSweep, SweepOutcome } from '../../src/sweep/runner';
import { readManifest } from '../../src/sweep/sweep-folder';
import { findCellRuns } from '../../src/sweep/cell-runs';
import { buildReport } from '../../src/sweep/report';
import { main } from '../../src/cli/main';
import { CLI, ensureCliBuilt, eventsOf, runFolders, tmpDir } from '../helpers/train-fixtures';
import { PassThrough } from 'node:stream';
import { assertWellFormedXml } from '../helpers/xml';

function sweepFixture(): { dir: string; file: string } {
  const dir = tmpDir('distillery-sweep-');
  generateDemoTask(path.join(dir, 'data'), { trainSize: 96, devSize: 32, seed: 5 });
  const base = {
    task: {
      name: 'custom',
      maxSeqLen: 24,
      custom: {
        train: 'data/train.tsv',
        dev: 'data/dev.tsv',
        format: 'tsv',
        textA: 'sentence',
        label: 'label',
        labels: ['0', '1'],
      },
    },
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 2, hiddenSize: 32, heads: 2, intermediateSize: 64, maxPositions: 32 },
        vocab: 'data/vocab.txt',
        epochs: 1,
        lr: 1e-3,
        batchSize: 32,
      },
    },
    student: { layers: 1 },
    stages: { epochsPerLayer: 1, classificationEpochs: 1 },
    optim: { lr: 1e-3, batchSize: 32, dropout: 0 },
  };
  const file = path.join(dir, 'tiny.sweep.json');
  fs.writeFileSync(
    file,
    `// a tiny grid for the tests\n${JSON.stringify({ base, grid: { algorithms: ['soft', 'pid'], seeds: [1, 2], fractions: [1] } }, null, 2)}\n`,
  );
  return { dir, file };
}

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  err.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return {
    io: { stdout: out, stderr: err, stdin: new PassThrough(), interactive: false },
    text: () => ({ stdout, stderr }),
  };
}

test(
  'a tiny sweep runs every cell once, resumes a killed cell, skips finished ones, and reports',
  { timeout: 240_000 },
  async () => {
    ensureCliBuilt();
    const { dir, file } = sweepFixture();
    const out = path.join(dir, 'sweep');
    const plan = planSweep(file, { out });
    assert.deepEqual(
      plan.teachers.map((t) => t.id),
      ['teacher'],
    );
    assert.deepEqual(
      plan.cells.map((c) => c.id),
      ['soft_seed1_frac1', 'soft_seed2_frac1', 'pid_seed1_frac1', 'pid_seed2_frac1'],
    );

    const victim = 'pid_seed2_frac1';
    let killed = false;
    const log: string[] = [];
    const stop = { requested: null };
    const first = await runSweep(plan, {
      cli: [process.execPath, CLI],
      concurrency: 2,
      stop,
      log: (l) => log.push(l),
      onCellEvent: (id, e, control) => {
        // After its first checkpoint (end of the layer stage), as a crash or an OOM kill would.
        if (id === victim && e.type === 'checkpoint' && !killed) {
          killed = true;
          control.kill('SIGKILL');
        }
      },
    });
    assert.ok(killed, 'the victim cell reached a checkpoint');
    assert.deepEqual(
      first.trained.sort(),
      ['pid_seed1_frac1', 'pid_seed2_frac1', 'soft_seed1_frac1', 'soft_seed2_frac1', 'teacher'],
      log.join('\n'),
    );
    assert.deepEqual(first.failed, [victim]);
    assert.equal(fs.existsSync(path.join(out, 'teachers', 'teacher', 'READY')), true);
    // The teacher cell ran `train --teacher-only`: no student of its own.
    const teacherRun = runFolders(path.join(out, 'runs')).find((r) => path.basename(r).startsWith('teacher-'))!;
    assert.equal(JSON.parse(fs.readFileSync(path.join(teacherRun, 'run.json'), 'utf8')).teacherOnly, true);
    assert.equal(fs.existsSync(path.join(teacherRun, 'student')), false);
    assert.deepEqual(
      eventsOf(teacherRun, 'stage-started').map((s) => s.kind),
      ['teacher'],
    );

    // The manifest: every cell, its run folder, its status; written atomically (valid JSON).
    const m1 = readManifest(out)!;
    assert.equal(m1.cells.length, 4);
    assert.equal(m1.teachers.length, 1);
    for (const c of [...m1.teachers, ...m1.cells]) {
      assert.ok(c.runDir && fs.existsSync(path.join(out, c.runDir, 'run.json')), `${c.id} has its run folder`);
      assert.equal(c.status, c.id === victim ? 'crashed' : 'finished', c.id);
      assert.equal(c.config, `cells/${c.id}.distill.json`);
    }
    // Every cell reads the shared teacher instead of training its own.
    for (const c of m1.cells) {
      const cfg = JSON.parse(fs.readFileSync(path.join(out, c.config), 'utf8')) as {
        teacher: unknown;
        optim: { seed: number };
        algorithm: string;
      };
      assert.deepEqual(cfg.teacher, { checkpoint: '../teachers/teacher' });
      assert.equal(cfg.optim.seed, c.values.seeds.value);
      assert.equal(cfg.algorithm, c.values.algorithms.value);
      assert.equal(
        eventsOf(path.join(out, c.runDir!), 'stage-started').some((s) => s.kind === 'teacher'),
        false,
        `${c.id} trains no teacher`,
      );
    }
    const runsAfterFirst = runFolders(path.join(out, 'runs'));
    assert.equal(runsAfterFirst.length, 5);

    // Second invocation: the killed cell resumes in its own run folder; nothing else runs.
    const second: SweepOutcome = await runSweep(planSweep(file, { out }), {
      cli: [process.execPath, CLI],
      concurrency: 2,
      stop,
      log: (l) => log.push(l),
    });
    assert.deepEqual(second.resumed, [victim], log.join('\n'));
    assert.deepEqual(second.trained, []);
    assert.equal(second.skipped.length, 4);
    assert.deepEqual(runFolders(path.join(out, 'runs')), runsAfterFirst, 'no new run folders');
    const victimRun = path.join(out, readManifest(out)!.cells.find((c) => c.id === victim)!.runDir!);
    const starts = eventsOf(victimRun, 'run-started');
    assert.equal(starts.length, 2);
    assert.ok(starts[1].resumedFrom, 'the second start continues from a checkpoint');
    assert.equal(eventsOf(victimRun, 'run-finished').length, 1);
    assert.ok(readManifest(out)!.cells.every((c) => c.status === 'finished'));

    // Third invocation, through the verb: everything is finished, so nothing starts.
    const cli = io();
    const code = await main(
      ['sweep', file, '--out', out, '--concurrency', '2', '--cli', `${process.execPath} ${CLI}`],
      cli.io,
    );
    assert.equal(code, 0, cli.text().stderr);
    assert.match(cli.text().stdout, /5\/5 cells finished \(0 trained, 0 resumed, 5 skipped\)/);
    assert.deepEqual(runFolders(path.join(out, 'runs')), runsAfterFirst);
    assert.equal(
      [...findCellRuns(path.join(out, 'runs')).values()].every((runs) => runs.length === 1),
      true,
    );

    // The report: teacher + 2 algorithm rows, 1 fraction column; plots are well-formed SVG with the series.
    const r = buildReport(out);
    assert.deepEqual(
      r.results.rows.map((x) => x.label),
      ['teacher', 'soft', 'pid'],
    );
    assert.deepEqual(r.results.columns, ['100 %']);
    for (const row of r.results.rows.filter((x) => !x.teacher)) {
      assert.equal(row.values.length, 1);
      assert.equal(row.values[0]?.n, 2, `${row.label}: both seeds`);
    }
    assert.equal(r.attentionKl.length, 1);
    assert.deepEqual(
      r.attentionKl[0].table.rows.map((x) => x.label),
      ['soft', 'pid'],
    );
    assert.deepEqual(r.attentionKl[0].table.columns, ['L1↔T2']);
    assert.match(r.markdown, /\| algorithm \| 100 % \|/);
    assert.match(r.markdown, /\| soft \| [\d.]+ ± [\d.]+/);
    assert.match(r.markdown, /Backend: [\w-]+ \(5 runs\)/);
    assert.match(r.markdown, /Every cell finished/);
    assert.match(r.markdown, /distillery sweep /);
    assert.ok(r.sampleCell?.startsWith('pid_'), 'the heatmap shows an internal-distillation cell');
    assert.equal(r.svgFiles.length, 3);
    for (const f of r.svgFiles) {
      const svg = fs.readFileSync(f, 'utf8');
      assertWellFormedXml(svg, path.basename(f));
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    }
    const bars = fs.readFileSync(
      r.svgFiles.find((f) => f.includes('attention-kl'))!,
      'utf8',
    );
    assert.match(bars, /data-series="soft"/);
    assert.match(bars, /data-series="pid"/);
    const maps = fs.readFileSync(
      r.svgFiles.find((f) => /attention-pid/.test(f))!,
      'utf8',
    );
    assert.match(maps, /data-series="teacher layer 2"/);
    assert.match(maps, /data-series="student layer 1"/);
    assert.match(maps, /\[CLS\]/);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
