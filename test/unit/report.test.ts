/**
 * `distillery report` over a sweep folder whose run folders are written here event by event
 * (as a cluster would leave them: some finished, one failed, one unfinished, one missing), so the
 * numbers in the tables are known exactly. Also the SVG charts and the statistics on their own.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import {
  createEvent,
  encodeEvent,
  TrainerEvent,
  TrainerEventBody,
  LayerEval,
  ParamCounts,
} from '../../src/protocol/events';
import { ResolvedConfig } from '../../src/config/types';
import { RunFolder } from '../../src/train/run-folder';
import { buildReport, meanStd, sampleKl } from '../../src/sweep/report';
import { PairedRun, pairedT, pairedTables } from '../../src/sweep/paired';
import { ManifestCell, SweepManifest, writeManifest } from '../../src/sweep/sweep-folder';
import { barChart, heatmaps, lineChart, niceTicks } from '../../src/sweep/svg';
import { main } from '../../src/cli/main';
import { isUserError } from '../../src/util/errors';
import { assertWellFormedXml } from '../helpers/xml';

// ---- a sweep folder written by hand -------------------------------------------------------------

const PARAMS: ParamCounts = { embeddings: 10, encoder: 20, pooler: 5, head: 2, total: 37 };
const ALGOS = ['soft', 'pid'] as const;
const SEEDS = [1, 2, 3];
const FRACTIONS = [0.1, 1];
const fracLabel = (f: number) => `${f * 100} %`;

/** dev accuracy per cell; undefined: the cell has no finished run. */
const METRIC: Record<string, number> = {
  'soft_seed1_frac0.1': 0.7,
  'soft_seed2_frac0.1': 0.72,
  'soft_seed3_frac0.1': 0.74,
  'pid_seed1_frac0.1': 0.8,
  'pid_seed2_frac0.1': 0.84,
  soft_seed1_frac1: 0.85,
  soft_seed2_frac1: 0.87,
  pid_seed1_frac1: 0.9,
  pid_seed3_frac1: 0.92,
};
const FAILED = 'soft_seed3_frac1';
const UNFINISHED = 'pid_seed2_frac1';
const MISSING = 'pid_seed3_frac0.1';

/** A peaked attention map: each query looks mostly at one key. */
function peaked(len: number, shift: number, sharp: number): number[][] {
  return Array.from({ length: len }, (_, q) => {
    const row = Array.from({ length: len }, (_, k) => (k === (q + shift) % len ? sharp : 1));
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((x) => x / sum);
  });
}

function writeRun(
  sweepDir: string,
  cellId: string,
  events: TrainerEventBody[],
  status: 'finished' | 'failed' | 'running',
): string {
  const folder = RunFolder.create(path.join(sweepDir, 'runs'), cellId, new Date('2026-01-01T00:00:00Z'));
  folder.writeInfo({ status, configFile: `/cluster/sweep/cells/${cellId}.distill.json`, pid: 999999 });
  const lines = events.map((b) => encodeEvent(createEvent(folder.id, b) as TrainerEvent));
  fs.writeFileSync(folder.eventsFile, lines.join('\n') + (status === 'running' ? '\n{"v":1,"type":"st' : '\n'));
  return folder.dir;
}

function started(algorithm: string, teacherStage: boolean): TrainerEventBody {
  return {
    type: 'run-started',
    runDir: '/cluster/x',
    config: { algorithm } as unknown as ResolvedConfig,
    backend: { kind: 'wasm', skipped: ['tensorflow'] },
    params: { teacher: PARAMS, student: PARAMS },
    dataset: { train: 100, eval: 20 },
    plan: {
      stages: teacherStage
        ? [{ index: 0, name: 'teacher training', kind: 'teacher', layers: [], losses: ['hard-label'], epochs: 1 }]
        : [],
    },
  };
}

function evalEvent(stage: number, value: number, perLayer: LayerEval[], isBest = true): TrainerEventBody {
  return {
    type: 'eval',
    step: 10,
    stage,
    epoch: 1,
    split: 'dev',
    metrics: { accuracy: value },
    mainMetric: { name: 'accuracy', value },
    perLayer,
    isBest,
  };
}

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function fixture(): { dir: string; manifest: SweepManifest } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-report-'));
  made.push(dir);
  const cells: ManifestCell[] = [];
  let index = 0;
  for (const a of ALGOS) {
    for (const s of SEEDS) {
      for (const f of FRACTIONS) {
        const id = `${a}_seed${s}_frac${f}`;
        cells.push({
          id,
          index: index++,
          kind: 'student',
          config: `cells/${id}.distill.json`,
          teacher: 'teacher',
          teacherDir: 'teachers/teacher',
          status: 'pending',
          attempts: 0,
          values: {
            algorithms: { label: a, id: a, value: a },
            seeds: { label: `seed ${s}`, id: `seed${s}`, value: s },
            fractions: { label: fracLabel(f), id: `frac${f}`, value: f },
          },
          ...(id === MISSING ? { lastError: 'never started' } : {}),
        });
        if (id === MISSING) continue;
        // Internal distillation leaves the student's attention closer to the teacher's.
        const kl = (a === 'pid' ? 0.01 : 0.05) * s;
        const perLayer = [
          { student: 1, teacher: 2, attentionKl: kl, clsCosine: 0.1 },
          { student: 2, teacher: 4, attentionKl: 2 * kl, clsCosine: 0.2 },
        ];
        const events: TrainerEventBody[] = [started(a, false)];
        if (id === FAILED) {
          events.push({ type: 'run-failed', reason: 'a loss became NaN at step 7' });
          writeRun(dir, id, events, 'failed');
          continue;
        }
        if (id === UNFINISHED) {
          events.push(evalEvent(1, 0.5, perLayer));
          writeRun(dir, id, events, 'running');
          continue;
        }
        events.push(evalEvent(1, METRIC[id], perLayer));
        if (a === 'pid') {
          const tokens = ['[CLS]', 'the', 'fox', 'chased', 'the', 'duck', '[SEP]'];
          events.push({
            type: 'attention-sample',
            step: 10,
            tokens,
            layers: [1, 2].map((k) => ({
              student: k,
              teacher: 2 * k,
              teacherMaps: [peaked(7, k, 20), peaked(7, k, 10)],
              studentMaps: [peaked(7, k, 6 * s), peaked(7, k + 1, 4)],
            })),
          });
        }
        events.push({
          type: 'run-finished',
          best: { metric: 'accuracy', value: METRIC[id], step: 10 },
          studentDir: '/cluster/x/student',
          durationMs: 60_000,
          summary: 'done',
        });
        writeRun(dir, id, events, 'finished');
      }
    }
  }
  const teacher: ManifestCell = {
    id: 'teacher',
    index: 0,
    kind: 'teacher',
    config: 'cells/teacher.distill.json',
    teacherDir: 'teachers/teacher',
    values: {},
    status: 'pending',
    attempts: 0,
  };
  writeRun(
    dir,
    'teacher',
    [
      started('hard', true),
      evalEvent(0, 0.95, []),
      evalEvent(1, 0.6, []),
      { type: 'run-finished', studentDir: '/x', durationMs: 30_000, summary: 'done' },
    ],
    'finished',
  );
  const manifest: SweepManifest = {
    version: 1,
    name: 'fixture',
    sweepFile: '/cluster/fixture.sweep.json',
    sweepText: '{ "base": "b.distill.json", "grid": { } }\n',
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    axes: [
      { key: 'algorithms', kind: 'algorithm', path: 'algorithm', labels: [...ALGOS] },
      { key: 'seeds', kind: 'seed', path: 'optim.seed', labels: SEEDS.map((s) => `seed ${s}`) },
      { key: 'fractions', kind: 'fraction', path: 'task.trainFraction', labels: FRACTIONS.map(fracLabel) },
    ],
    teachers: [teacher],
    cells,
    invocations: [
      {
        command: 'distillery sweep fixture.sweep.json --emit slurm',
        cwd: '/cluster',
        time: '2026-01-01T00:00:00Z',
        host: 'login1',
      },
    ],
  };
  writeManifest(dir, manifest);
  return { dir, manifest };
}

const close = (a: number | undefined, b: number, eps = 1e-9) =>
  assert.ok(a !== undefined && Math.abs(a - b) < eps, `${a} ≈ ${b}`);

// ---- tests -------------------------------------------------------------------------------------

test('the results table: rows = teacher + algorithms, columns = fractions, mean ± std over the finished seeds', () => {
  const { dir } = fixture();
  const r = buildReport(dir);
  assert.equal(r.file, path.join(dir, 'report.md'));
  assert.deepEqual(r.results.columns, ['10 %', '100 %']);
  assert.deepEqual(
    r.results.rows.map((x) => x.label),
    ['teacher', 'soft', 'pid'],
  );
  assert.equal(r.results.metric, 'accuracy');
  const [teacher, soft, pid] = r.results.rows;
  assert.ok(teacher.teacher);
  close(teacher.values[0]?.mean, 0.95);
  close(soft.values[0]?.mean, 0.72);
  close(soft.values[0]?.std, 0.02);
  assert.equal(soft.values[0]?.n, 3);
  assert.equal(soft.values[1]?.n, 2, 'the failed seed is left out');
  assert.equal(pid.values[0]?.n, 2, 'the missing seed is left out');
  assert.equal(pid.values[1]?.n, 2, 'the unfinished seed is left out');
  close(pid.values[1]?.mean, 0.91);
  const md = r.markdown;
  assert.match(md, /^\| algorithm \| 10 % \| 100 % \|$/m);
  assert.match(md, /^\| \*teacher\* \| \*95\.0\* \| \*95\.0\* \|$/m);
  assert.match(md, /^\| soft \| 72\.0 ± 2\.0 \| 86\.0 ± 1\.4 \(n=2\) \|$/m);
  assert.match(md, /^\| pid \| \*\*82\.0 ± 2\.8 \(n=2\)\*\* \| \*\*91\.0 ± 1\.4 \(n=2\)\*\* \|$/m);
});

test('per-layer attention-KL per algorithm, one table and chart per fraction', () => {
  const { dir } = fixture();
  const r = buildReport(dir);
  assert.deepEqual(
    r.attentionKl.map((t) => t.column),
    ['10 %', '100 %'],
  );
  const t = r.attentionKl[0].table;
  assert.deepEqual(t.columns, ['L1↔T2', 'L2↔T4']);
  assert.deepEqual(
    t.rows.map((x) => x.label),
    ['soft', 'pid'],
  );
  close(t.rows[0].values[0]?.mean, 0.1); // soft: 0.05 × (1 + 2 + 3) / 3
  close(t.rows[1].values[1]?.mean, 0.03); // pid: 2 × 0.01 × (1 + 2) / 2
  assert.match(
    r.markdown,
    /^\| pid \| \*\*0\.0150 ± 0\.0071 \(n=2\)\*\* \| \*\*0\.0300 ± 0\.0141 \(n=2\)\*\* \|$/m,
    'lower is better here',
  );
});

test('status, backends and the commands to reproduce', () => {
  const { dir } = fixture();
  const md = buildReport(dir).markdown;
  assert.match(
    md,
    /13 cells \(12 student, 1 shared teacher\).*10 finished, 1 failed, 0 stopped, 1 unfinished, 1 missing/,
  );
  assert.match(md, /Not finished \(3\):/);
  assert.match(md, new RegExp(`- \`${FAILED}\`: failed \\(a loss became NaN at step 7\\)`));
  assert.match(md, new RegExp(`- \`${UNFINISHED}\`: unfinished`));
  assert.match(md, new RegExp(`^\\| ${UNFINISHED} \\|.*\\| unfinished \\| accuracy 0\\.5000 so far \\|`, 'm'));
  assert.match(md, new RegExp(`- \`${MISSING.replace(/\./g, '\\.')}\`: missing \\(never started\\)`));
  assert.match(md, /Backend: wasm \(12 runs\)/);
  assert.match(md, /```sh\ncd \/cluster\ndistillery sweep fixture\.sweep\.json --emit slurm\ndistillery report /);
  assert.match(md, /<summary>Sweep file<\/summary>/);
  // The cells table lists every cell with a link to its run folder.
  assert.match(
    md,
    /^\| pid_seed1_frac1 \| pid \| seed 1 \| 100 % \| finished \| accuracy 0\.9000 \| 0 \| 60s \| wasm \| \[pid_seed1_frac1-20260101-000000\]\(runs\/pid_seed1_frac1-20260101-000000\) \|$/m,
  );
});

test('the run summaries behind the report are written beside it, one per cell, paths relative to it', () => {
  const { dir } = fixture();
  const out = path.join(dir, 'published', 'sst2.md');
  const r = buildReport(dir, { out });
  assert.equal(r.runsFile, path.join(dir, 'published', 'sst2-runs.json'));
  assert.match(r.markdown, /\[`sst2-runs\.json`\]\(sst2-runs\.json\)/);
  const records = JSON.parse(fs.readFileSync(r.runsFile, 'utf8')) as Array<{
    id: string;
    status: string;
    runDir?: string;
    values: Record<string, string>;
    summary?: { best?: { value: number }; runDir?: string };
  }>;
  assert.equal(records.length, r.cells.length);
  const pid = records.find((x) => x.id === 'pid_seed1_frac1')!;
  assert.equal(pid.status, 'finished');
  assert.equal(pid.runDir, '../runs/pid_seed1_frac1-20260101-000000');
  assert.deepEqual(pid.values, { algorithms: 'pid', seeds: 'seed 1', fractions: '100 %' });
  assert.equal(pid.summary?.best?.value, 0.9);
  assert.equal(pid.summary?.runDir, undefined, 'no absolute paths');
  assert.equal(records.find((x) => x.id === MISSING)?.summary, undefined);
});

test('the plots are well-formed SVG with every series, error bars and the attention maps of the best internal cell', () => {
  const { dir } = fixture();
  const r = buildReport(dir);
  assert.deepEqual(r.svgFiles.map((f) => path.basename(f)).sort(), [
    'report-attention-kl-10.svg',
    'report-attention-kl-100.svg',
    'report-attention-pid_seed3_frac1.svg',
    'report-metric-vs-fraction.svg',
  ]);
  assert.equal(r.sampleCell, 'pid_seed3_frac1', 'the finished pid cell with the best metric');
  for (const f of r.svgFiles) {
    const svg = fs.readFileSync(f, 'utf8');
    assertWellFormedXml(svg, path.basename(f));
    assert.ok(r.markdown.includes(`](${path.basename(f)})`), `${path.basename(f)} is linked from the report`);
  }
  const line = fs.readFileSync(
    r.svgFiles.find((f) => f.endsWith('metric-vs-fraction.svg'))!,
    'utf8',
  );
  for (const a of ALGOS) {
    const group = new RegExp(`<g class="series" data-series="${a}">([\\s\\S]*?)</g>`).exec(line)?.[1] ?? '';
    assert.equal((group.match(/<circle /g) ?? []).length, 2, `${a}: one point per fraction`);
    assert.match(group, /<polyline /);
    assert.match(group, /<path d="M[\d. ]+V/, `${a}: error bars`);
  }
  assert.match(line, /class="legend"[\s\S]*>soft<[\s\S]*>pid</);
  assert.match(line, />10 %<\/text>[\s\S]*>100 %<\/text>/);
  const maps = fs.readFileSync(
    r.svgFiles.find((f) => f.includes('attention-pid'))!,
    'utf8',
  );
  assert.equal((maps.match(/<g class="heatmap"/g) ?? []).length, 4, 'teacher and student for each of 2 layers');
  assert.equal(
    (maps.match(/<rect x="[\d.]+" y="[\d.]+" width="\d+" height="\d+" fill="#[0-9a-f]{6}"><title>/g) ?? []).length,
    4 * 49,
  );
  assert.match(maps, /fox → chased/);
});

test('against soft, paired by seed: differences, ahead, paired t and attention-KL lower, per fraction', () => {
  const { dir } = fixture();
  const r = buildReport(dir);
  assert.deepEqual(
    r.paired.map((t) => [t.column, t.baseline]),
    [
      ['10 %', 'soft'],
      ['100 %', 'soft'],
    ],
  );
  // 10 %: pid 0.80, 0.84 (seed 3 missing) against soft 0.70, 0.72: differences 10 and 12 points.
  const [small, full] = r.paired.map((t) => t.rows);
  assert.deepEqual(
    small.map((x) => x.label),
    ['pid'],
    'the baseline has no row of its own',
  );
  assert.equal(small[0].pairs, 2);
  close(small[0].diff?.mean, 11);
  close(small[0].diff?.std, Math.SQRT2);
  assert.equal(small[0].ahead, 2);
  assert.equal(small[0].tied, 0);
  close(small[0].t, 11); // 11 / (√2 / √2)
  assert.deepEqual([small[0].attentionLower, small[0].attentionTotal], [4, 4]);
  // 100 %: soft's seed 3 failed and pid's seed 2 is unfinished, so only seed 1 pairs: 0.90 − 0.85.
  assert.equal(full[0].pairs, 1);
  close(full[0].diff?.mean, 5);
  assert.equal(full[0].t, undefined, 'no t from one pair');
  assert.deepEqual([full[0].attentionLower, full[0].attentionTotal], [2, 2]);
  assert.match(r.markdown, /^## Against `soft`, paired by seed$/m);
  assert.match(r.markdown, /^\| pid \| 2 \| \+11\.00 ± 1\.41 \| 2\/2 \| 0 \| \+11\.00 \| 4\/4 \|$/m);
  assert.match(r.markdown, /^\| pid \| 1 \| \+5\.00 \| 1\/1 \| 0 \| — \| 2\/2 \|$/m);

  // Another baseline: soft against pid, the signs flip; an unknown one names the choices.
  const other = buildReport(dir, { baseline: 'pid' });
  assert.equal(other.paired[0].rows[0].label, 'soft');
  close(other.paired[0].rows[0].diff?.mean, -11);
  close(other.paired[0].rows[0].t, -11);
  assert.deepEqual([other.paired[0].rows[0].attentionLower, other.paired[0].rows[0].attentionTotal], [0, 4]);
  assert.match(other.markdown, /^\| soft \| 2 \| −11\.00 ± 1\.41 \| 0\/2 \| 0 \| −11\.00 \| 0\/4 \|$/m);
  assert.throws(
    () => buildReport(dir, { baseline: 'hard' }),
    (e: unknown) =>
      isUserError(e) &&
      /--baseline hard is not one of the sweep's algorithms/.test(e.message) &&
      /fix: use one of: soft, pid/.test(e.describe()),
  );
});

test('pairedTables: pairs by seed within a column and by the other row fields; ties and a constant difference', () => {
  const kl = (...xs: number[]) => new Map(xs.map((x, i) => [`L${i + 1}↔T${2 * i + 2}`, x]));
  const run = (
    row: string,
    seed: number,
    value: number,
    attention: Map<string, number>,
    column = 'all',
  ): PairedRun => ({
    row,
    // A second varied field ("lr") stays fixed in the pairing: pid · lr 1 pairs with soft · lr 1.
    baselineRow: row.replace(/^\w+/, 'soft'),
    column,
    seed: `seed ${seed}`,
    value,
    attentionKl: attention,
  });
  const runs = [
    run('soft · lr 1', 1, 0.5, kl(0.4, 0.3)),
    run('soft · lr 1', 2, 0.6, kl(0.4, 0.3)),
    run('soft · lr 1', 3, 0.7, kl(0.4, 0.3)),
    run('soft · lr 2', 1, 0.9, kl(0.1, 0.1)),
    run('pid · lr 1', 1, 0.5, kl(0.2, 0.5)),
    run('pid · lr 1', 2, 0.65, kl(0.2, 0.1)),
    run('pid · lr 1', 3, 0.72, kl(0.5, 0.1)),
    run('pid · lr 2', 1, 0.95, kl(0.05, 0.2)),
    run('pid · lr 2', 2, 0.99, kl(0.05, 0.2)), // no soft · lr 2 in seed 2: unpaired
    run('sid · lr 1', 1, 0.51, kl(0.1, 0.1)),
    run('sid · lr 1', 2, 0.61, kl(0.1, 0.1)),
    run('hard · lr 1', 1, 0.5, kl(0.4, 0.3), 'other column'),
  ];
  const [t] = pairedTables(
    runs,
    'soft',
    ['soft · lr 1', 'pid · lr 1', 'sid · lr 1', 'soft · lr 2', 'pid · lr 2'],
    ['all', 'other column'],
  );
  assert.equal(t.column, 'all');
  const by = new Map(t.rows.map((r) => [r.label, r]));
  assert.deepEqual([...by.keys()], ['pid · lr 1', 'sid · lr 1', 'pid · lr 2']);
  // pid · lr 1 − soft · lr 1: 0, +5, +2 points.
  const d = [0, 5, 2];
  const m = 7 / 3;
  const sd = Math.sqrt(d.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
  const pid1 = by.get('pid · lr 1')!;
  close(pid1.diff?.mean, m);
  close(pid1.diff?.std, sd);
  close(pid1.t, m / (sd / Math.sqrt(3)));
  assert.deepEqual([pid1.ahead, pid1.tied, pid1.pairs], [2, 1, 3]);
  // Attention-KL lower than soft's (0.4, 0.3): seed 1 layer 1; seed 2 both; seed 3 layer 2.
  assert.deepEqual([pid1.attentionLower, pid1.attentionTotal], [4, 6]);
  // sid · lr 1: +1 point in both seeds, so the differences do not vary and t is not defined.
  const sid = by.get('sid · lr 1')!;
  close(sid.diff?.mean, 1);
  close(sid.diff?.std, 0);
  assert.equal(sid.t, undefined);
  // pid · lr 2 pairs with soft · lr 2 in seed 1 only.
  assert.equal(by.get('pid · lr 2')!.pairs, 1);
  close(by.get('pid · lr 2')!.diff?.mean, 5);
  // A column without a baseline run gives no table.
  assert.equal(pairedTables(runs, 'soft', ['hard · lr 1'], ['other column']).length, 0);
  // pairedT on its own: 1, 2, 3 → 2 / (1 / √3).
  close(pairedT([1, 2, 3]), 2 * Math.sqrt(3));
  assert.equal(pairedT([4]), undefined);
  assert.equal(pairedT([0, 0, 0]), undefined);
});

test('report verb: --out elsewhere puts the plots beside it; --sample-cell chooses the heatmap; errors are clear', async () => {
  const { dir } = fixture();
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-report-out-'));
  made.push(outDir);
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const cli = { stdout, stderr: new PassThrough(), stdin: new PassThrough(), interactive: false };
  const code = await main(
    ['report', dir, '--out', path.join(outDir, 'repro.md'), '--sample-cell', 'pid_seed2_frac0.1', '--json'],
    cli,
  );
  assert.equal(code, 0);
  const json = JSON.parse(text) as {
    file: string;
    svg: string[];
    sampleCell: string;
    paired: Array<{ column: string; baseline: string }>;
  };
  assert.equal(json.file, path.join(outDir, 'repro.md'));
  assert.equal(json.sampleCell, 'pid_seed2_frac0.1');
  assert.deepEqual(
    json.paired.map((t) => t.baseline),
    ['soft', 'soft'],
  );
  assert.ok(json.svg.every((f) => path.dirname(f) === outDir && path.basename(f).startsWith('repro-')));
  const md = fs.readFileSync(json.file, 'utf8');
  assert.match(md, /\(\.\.\/[^)]*runs\/pid_seed1_frac1-20260101-000000\)/, 'run links relative to the report');

  assert.throws(
    () => buildReport(dir, { sampleCell: 'nope' }),
    (e: unknown) => isUserError(e) && /no cell "nope"/.test(e.message),
  );
  assert.throws(
    () => buildReport(outDir),
    (e: unknown) => isUserError(e) && /not a sweep folder/.test(e.message),
  );
  assert.equal(await main(['report', outDir], { ...cli, stdout: new PassThrough() }), 2);
  assert.equal(await main(['report', dir, '--baseline', 'nope'], { ...cli, stdout: new PassThrough() }), 2);
});

test('statistics and chart helpers', () => {
  const s = meanStd([1, 2, 3, NaN])!;
  assert.equal(s.mean, 2);
  assert.equal(s.std, 1);
  assert.equal(s.n, 3);
  assert.deepEqual(meanStd([5]), { mean: 5, std: 0, n: 1 });
  assert.equal(meanStd([]), undefined);
  assert.deepEqual(niceTicks(0.71, 0.93), [0.7, 0.75, 0.8, 0.85, 0.9, 0.95]);
  assert.deepEqual(niceTicks(0, 8.2), [0, 2, 4, 6, 8, 10]);
  // KL of identical maps is 0; of a peaked teacher against a uniform student, log(len) minus the teacher's entropy.
  const same = { student: 1, teacher: 2, teacherMaps: [peaked(4, 0, 5)], studentMaps: [peaked(4, 0, 5)] };
  assert.equal(sampleKl(same), 0);
  const uniform = {
    student: 1,
    teacher: 2,
    teacherMaps: [
      [
        [1, 0],
        [0, 1],
      ],
    ],
    studentMaps: [
      [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    ],
  };
  close(sampleKl(uniform), Math.log(2));
  const odd = '<b> & "q"';
  for (const svg of [
    lineChart(
      { title: odd, xLabel: 'x', yLabel: 'y' },
      ['a', 'b'],
      [
        {
          name: odd,
          points: [
            { x: 0, y: 1, err: 0.1 },
            { x: 1, y: NaN },
          ],
        },
      ],
    ),
    barChart({ title: 't', xLabel: odd, yLabel: 'y' }, [odd], [{ name: 's', points: [{ x: 0, y: 2e-8, err: 1e-9 }] }]),
    heatmaps(
      odd,
      ['<s>', '&'],
      [
        {
          caption: odd,
          panels: [
            {
              title: odd,
              map: [
                [1, 0],
                [0.5, 0.5],
              ],
            },
          ],
        },
      ],
    ),
  ]) {
    assertWellFormedXml(svg, 'escaped');
    assert.ok(svg.includes('&lt;b&gt; &amp; &quot;q&quot;'));
  }
});
