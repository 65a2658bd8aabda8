// The `npm run bench` table (src/bench/compare.ts) and the per-kernel profile's bookkeeping
// (src/bench/profile.ts), on hand-made reports whose medians, ratios and shares are worked out here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestPeer,
  buildRows,
  CandidateReport,
  CandidateRun,
  formatProbes,
  formatProfiles,
  formatSummary,
  formatTable,
  pooled,
  SgemmProbe,
  sgemmLimit,
} from '../../src/bench/compare';
import { categorizeKernel, ProfiledKernel, summarizeProfile } from '../../src/bench/profile';

function report(
  samplesMs: number[],
  opts: { rss?: number; cached?: number[]; heap?: number | null; flops?: number; cpu?: number } = {},
): CandidateReport {
  return {
    shape: { batchSize: 32 },
    step: { timing: { samplesMs }, cpuMsMedian: opts.cpu ?? 100 },
    ...(opts.cached ? { cached: { timing: { samplesMs: opts.cached } } } : {}),
    flops: { total: opts.flops ?? 1e11 },
    memory: { maxRssBytes: opts.rss ?? 2 ** 30, wasmHeapBytes: opts.heap ?? null },
  };
}

const run = (
  shape: string,
  label: string,
  peer: boolean,
  reports: CandidateReport[],
  extra: Partial<CandidateRun> = {},
): CandidateRun => ({ shape, label, peer, reports, errors: [], ...extra });

test('pooled gives median, quartiles and range of all samples', () => {
  assert.deepEqual(pooled([5, 1, 3]), { n: 3, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
  assert.deepEqual(pooled([4, 1, 3, 2]), { n: 4, median: 2.5, min: 1, max: 4, q1: 1.75, q3: 3.25 });
  assert.equal(pooled([7]).median, 7);
  assert.throws(() => pooled([]), /no samples/);
});

test('rows pool rounds, rank against the fastest peer of the same shape, and keep peak RSS per path', () => {
  const probes: SgemmProbe[] = [
    {
      shape: 'reference',
      m: 4096,
      k: 256,
      n: 1024,
      results: [
        { library: 'OpenBLAS', threads: 1, gflops: 80 },
        { library: 'OpenBLAS', threads: 2, gflops: 160 },
      ],
    },
  ];
  const rows = buildRows(
    [
      // transformers' fastest step (650) beats pytorch's (700) though its median is slower, and it
      // uses the least CPU (120 per step).
      run('reference', 'transformers', true, [report([1000, 1200, 650], { cpu: 120 }), report([1100], { cpu: 140 })]),
      run('reference', 'pytorch', true, [report([800, 900, 700], { rss: 3 * 2 ** 30, cpu: 150 })]),
      run('reference', 'wasm+blas', false, [
        report([400, 500], { cpu: 90 }),
        report([600], { rss: 2 ** 29, heap: 2 ** 28, cached: [200, 300], cpu: 60 }),
      ]),
      run('reference', 'wasm', false, [], { skipped: 'slow' }),
      run('base', 'transformers', true, [report([10_000])]),
      run('base', 'tensorflow', false, [], { errors: ['out of memory'] }),
    ],
    probes,
  );
  assert.equal(rows.length, 6);
  const [hf, pt, wb, stock, baseHf, baseTf] = rows;
  assert.equal(hf.step!.median, 1050);
  assert.equal(hf.rounds, 2);
  assert.equal(pt.step!.median, 800);
  assert.equal(bestPeer(rows.filter((r) => r.shape === 'reference'))!.label, 'pytorch');
  // Medians: pytorch's 800 / 500; best steps: any peer's fastest, transformers' 650, / 400; CPU
  // time: the least any peer used, transformers' median of its rounds (130), / ours (75).
  assert.equal(wb.xBestPeer, 800 / 500);
  assert.equal(wb.xBestPeerBestStep, 650 / 400);
  assert.equal(wb.xBestPeerCpu, 130 / 75);
  assert.equal(wb.xTransformers, 1050 / 500);
  assert.equal(pt.xBestPeer, 1);
  assert.equal(wb.seqPerSec, 32 / 0.5);
  assert.equal(wb.gflops, 1e11 / 0.5 / 1e9);
  assert.equal(wb.sgemmShare, 200 / 160);
  assert.equal(wb.maxRssBytes, 2 ** 30);
  assert.equal(wb.wasmHeapBytes, 2 ** 28);
  assert.equal(wb.cached!.median, 250);
  assert.equal(wb.cacheSpeedup, 500 / 250);
  assert.equal(hf.wasmHeapBytes, null);
  assert.equal(stock.note, 'not run: slow');
  assert.equal(stock.xBestPeer, undefined);
  // The base shape is ranked against its own peers only, and has no probe.
  assert.equal(baseHf.xBestPeer, 1);
  assert.equal(baseHf.sgemmShare, undefined);
  assert.equal(baseTf.note, 'failed: out of memory');
  assert.equal(sgemmLimit(probes, 'reference'), 160);
  assert.equal(sgemmLimit(probes, 'base'), undefined);

  const table = formatTable(rows);
  assert.equal(table.length, 2 + 6);
  const cols = (line: string): string[] =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const header = cols(table[0]);
  const wbCells = cols(table[4]);
  assert.equal(wbCells.length, header.length);
  assert.equal(wbCells[header.indexOf('shape')], 'reference');
  assert.equal(wbCells[header.indexOf('path')], '**wasm+blas**');
  assert.equal(wbCells[header.indexOf('ms/step median (IQR; min–max)')], '500.0 (450.0–550.0; 400.0–600.0)');
  assert.equal(wbCells[header.indexOf('× best peer (medians)')], '1.60');
  assert.equal(wbCells[header.indexOf('× best peer (best steps)')], '1.63');
  assert.equal(wbCells[header.indexOf('× best peer (CPU time)')], '1.73');
  assert.equal(wbCells[header.indexOf('× transformers')], '2.10');
  assert.equal(wbCells[header.indexOf('share of sgemm limit')], '125 %');
  assert.equal(wbCells[header.indexOf('teacher-cache step ms (speed-up)')], '250.0 (2.00×)');
  assert.equal(wbCells[header.indexOf('peak RSS MiB')], '1024');
  assert.equal(wbCells[header.indexOf('wasm heap MiB')], '256');
  assert.match(table[5], /^\| reference \| \*\*wasm\*\* \| not run: slow \|/);
  assert.equal(cols(table[5]).length, header.length);

  const summary = formatSummary(rows);
  assert.equal(summary.length, 2);
  assert.match(
    summary[0],
    /`reference`: \*\*wasm\+blas\*\* 500\.0 ms against pytorch 800\.0 ms: \*\*1\.60×\*\* the best peer by medians \(1\.63× by best steps, 1\.73× by CPU time\)/,
  );
  assert.match(summary[0], /pytorch 3072/);
  assert.match(summary[1], /`base`: best peer transformers 10000\.0 ms; none of our paths ran/);
});

test('the probe table has a column per library and thread count and the limit per shape', () => {
  const lines = formatProbes([
    {
      shape: 'reference',
      m: 4096,
      k: 256,
      n: 1024,
      results: [
        { library: 'OpenBLAS', threads: 1, gflops: 80 },
        { library: 'OpenBLAS', threads: 2, gflops: 150 },
        { library: 'MKL', threads: 2, gflops: 170.04 },
      ],
    },
    { shape: 'base', m: 4096, k: 768, n: 3072, results: [{ library: 'OpenBLAS', threads: 2, gflops: 140 }] },
  ]);
  assert.equal(
    lines[0],
    '| shape | product [m, k] · [k, n] | OpenBLAS, 1 thread | OpenBLAS, 2 threads | MKL, 2 threads | limit used |',
  );
  assert.equal(lines[2], '| reference | [4096, 256] · [256, 1024] | 80.0 | 150.0 | 170.0 | 170.0 |');
  assert.equal(lines[3], '| base | [4096, 768] · [768, 3072] | – | 140.0 | – | 140.0 |');
  assert.deepEqual(formatProbes([]), []);
});

const att = { batchSize: 2, heads: 4, seqLen: 8 };
const k = (
  name: string,
  ms: number,
  phase: ProfiledKernel['phase'],
  inputShapes: number[][] = [[16, 32]],
): ProfiledKernel => ({ name, ms, phase, inputShapes });

test('kernels are put in categories by name, then by phase, then by attention-map inputs', () => {
  assert.equal(categorizeKernel(k('BatchMatMul', 1, 'optimizer'), att), 'matmul');
  assert.equal(categorizeKernel(k('_FusedMatMul', 1, 'teacher-forward'), att), 'matmul');
  assert.equal(categorizeKernel(k('Multiply', 1, 'optimizer'), att), 'adam');
  assert.equal(categorizeKernel(k('DistilleryAdamW', 1, 'optimizer'), att), 'adam');
  assert.equal(categorizeKernel(k('Sum', 1, 'clip'), att), 'clip');
  assert.equal(categorizeKernel(k('DistilleryAttentionKlGrad', 1, 'backward'), att), 'attention-kl');
  assert.equal(categorizeKernel(k('Softmax', 1, 'student-forward'), att), 'softmax');
  assert.equal(categorizeKernel(k('DistilleryLayerNormGrad', 1, 'backward'), att), 'layernorm');
  assert.equal(categorizeKernel(k('Erf', 1, 'student-forward'), att), 'gelu');
  assert.equal(categorizeKernel(k('Transpose', 1, 'backward'), att), 'gather, slice, transpose, copy');
  // Op-by-op attention KL (the tensorflow backend): element-wise on [b, heads, s, s] in the objective.
  assert.equal(categorizeKernel(k('Log', 1, 'objective', [[2, 4, 8, 8]]), att), 'attention-kl');
  assert.equal(
    categorizeKernel(
      k('Multiply', 1, 'backward', [
        [2, 4, 8, 8],
        [2, 4, 8, 8],
      ]),
      att,
    ),
    'attention-maps, other element-wise',
  );
  assert.equal(categorizeKernel(k('Multiply', 1, 'backward', [[2, 4, 8, 7]]), att), 'other');
  assert.equal(categorizeKernel(k('Log', 1, 'objective', [[2, 2]]), att), 'other');
});

test('a profile sums kernel time by category, phase and name', () => {
  const p = summarizeProfile(
    [
      k('BatchMatMul', 6, 'student-forward'),
      k('BatchMatMul', 4, 'backward'),
      k('Multiply', 3, 'optimizer'),
      k('Multiply', 1, 'backward'),
      k('DistillerySoftmax', 2, 'teacher-forward'),
      k('Add', 4, 'objective'),
    ],
    att,
    50,
    { 'teacher-forward': 5, optimizer: 7 },
  );
  assert.equal(p.kernelMs, 20);
  assert.equal(p.wallMs, 50);
  assert.equal(p.kernels, 6);
  assert.deepEqual(
    p.categories.map((c) => [c.category, c.ms, c.share, c.calls]),
    [
      ['matmul', 10, 0.5, 2],
      ['softmax', 2, 0.1, 1],
      ['adam', 3, 0.15, 1],
      ['other', 5, 0.25, 2],
    ],
  );
  assert.deepEqual(
    p.phases.map((x) => [x.phase, x.ms, x.wallMs]),
    [
      ['teacher-forward', 2, 5],
      ['student-forward', 6, 0],
      ['objective', 4, 0],
      ['backward', 5, 0],
      ['clip', 0, 0],
      ['optimizer', 3, 7],
    ],
  );
  assert.deepEqual(
    p.top.map((t) => [t.name, t.category, t.ms, t.calls]),
    [
      ['BatchMatMul', 'matmul', 10, 2],
      ['Add', 'other', 4, 1],
      ['Multiply', 'adam', 3, 1],
      ['DistillerySoftmax', 'softmax', 2, 1],
      ['Multiply', 'other', 1, 1],
    ],
  );
  const table = formatProfiles([{ shape: 'reference', label: 'wasm+blas', peer: false, rounds: 1, profile: p }]);
  assert.equal(table[0], '| shape | path | kernel ms (of wall ms) | matmul | softmax | adam | other |');
  assert.equal(table[2], '| reference | wasm+blas | 20 (50) | 50.0 | 10.0 | 15.0 | 25.0 |');
});
