#!/usr/bin/env node
// `npm run bench`: every training path the project offers on this machine, side by side in one
// run, against the same step in PyTorch; writes docs/bench-results.md (table, commands,
// environment) and docs/bench-results.json (every raw report).
//
//   node scripts/bench.mjs [--shape reference|minilm|base|tiny] [--rounds N] [--repeats N] [--quick]
//                          [--only label,label] [--out docs/bench-results]
//
// Candidates run in rounds, interleaved (torch, wasm+blas, wasm+untransposed, …, then again), so
// a load change on a shared machine hits all of them alike; each candidate's samples from every
// round are pooled. The slow stock paths run one round. Ratios are against the peers a user would
// run instead: Hugging Face transformers' BertForSequenceClassification (scripts/bench_hf.py),
// TextBrewer's GeneralDistiller on the same models (scripts/bench_textbrewer.py) and a hand-written
// PyTorch BERT (scripts/bench_torch.py), all on the venv's torch.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const shape = opt('shape', 'reference');
const rounds = Number(opt('rounds', '3'));
const repeats = Number(opt('repeats', shape === 'tiny' ? '5' : '3'));
const quick = argv.includes('--quick');
const only = opt('only', '')?.split(',').filter(Boolean);
const outBase = path.resolve(root, opt('out', 'docs/bench-results'));
const venvPython = path.join(root, '.venv', 'bin', 'python');
const python = process.env.BENCH_PYTHON ?? (existsSync(venvPython) ? venvPython : '/usr/bin/python3');
// The tensorflow backend, when scripts/build-tfjs-node.mjs has built it.
const tensorflowBuilt =
  spawnSync(process.execPath, [path.join(root, 'scripts', 'build-tfjs-node.mjs'), '--check'], { stdio: 'ignore' })
    .status === 0;

// PyTorch's fastest setting here (see the issue): its own 2 threads, single-threaded OpenBLAS,
// and no core-type override. The node candidates get the same OpenBLAS environment so the
// products run on the same library code.
const blasEnv = { ...process.env };
delete blasEnv.OPENBLAS_CORETYPE;
delete blasEnv.OPENBLAS_L2_SIZE;
const torchEnv = { ...blasEnv, OPENBLAS_NUM_THREADS: '1' };

const envPrefix = (extra) => `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE${extra ? ` ${extra}` : ''}`;

/**
 * label, kind, backend/kernels, extra environment; `slow` ones run one round without the cache
 * phase; `tinyOnly` ones only on the tiny shape (the pure-JS cpu backend needs minutes per step on
 * the reference shape).
 */
const candidates = [
  { label: 'transformers', kind: 'torch', script: 'scripts/bench_hf.py' },
  { label: 'textbrewer', kind: 'torch', script: 'scripts/bench_textbrewer.py', noCache: true },
  { label: 'pytorch', kind: 'torch' },
  // The anchor's two OpenMP threads collapse when other processes want the cores; one thread does not.
  { label: 'pytorch, 1 thread', kind: 'torch', torchThreads: 1 },
  { label: 'tensorflow', kind: 'node', backend: 'tensorflow', kernels: 'auto', skip: !tensorflowBuilt },
  { label: 'wasm+blas', kind: 'node', backend: 'wasm', kernels: 'blas' },
  {
    label: 'wasm+blas, 1 thread',
    kind: 'node',
    backend: 'wasm',
    kernels: 'blas',
    extraEnv: { OPENBLAS_NUM_THREADS: '1', DISTILLERY_ELEMENTWISE_THREADS: '1' },
  },
  { label: 'wasm+untransposed', kind: 'node', backend: 'wasm', kernels: 'untransposed' },
  { label: 'wasm', kind: 'node', backend: 'wasm', kernels: 'stock', slow: shape !== 'tiny' },
  { label: 'cpu+blas', kind: 'node', backend: 'cpu', kernels: 'blas', tinyOnly: true },
  { label: 'cpu', kind: 'node', backend: 'cpu', kernels: 'stock', tinyOnly: true },
].filter(
  (c) =>
    !c.skip && !(c.tinyOnly && shape !== 'tiny') && !(quick && c.slow) && (!only?.length || only.includes(c.label)),
);
for (const c of candidates) {
  const cache = c.slow || c.noCache ? [] : ['--teacher-cache'];
  const extra = Object.entries(c.extraEnv ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  if (c.kind === 'torch') {
    c.env = torchEnv;
    c.file = python;
    c.args = [
      c.script ?? 'scripts/bench_torch.py',
      '--shape',
      shape,
      '--json',
      ...(c.torchThreads ? ['--threads', String(c.torchThreads)] : []),
      ...cache,
    ];
    c.cmd = `${envPrefix('OPENBLAS_NUM_THREADS=1')} ${python} ${c.args.join(' ')}`;
  } else {
    c.env = { ...blasEnv, ...(c.extraEnv ?? {}) };
    c.file = process.execPath;
    c.args = [
      'bin/distillery.js',
      'bench',
      '--shape',
      shape,
      '--backend',
      c.backend,
      '--kernels',
      c.kernels,
      '--json',
      ...cache,
    ];
    c.cmd = `${envPrefix(extra)} node ${c.args.join(' ')}`;
  }
}

function step(what, cmd, args, env) {
  process.stderr.write(`bench: ${what}\n`);
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r;
}

// The native addon (optional) and the CLI bundle.
step('building the native BLAS addon (optional)', process.execPath, ['native/build.mjs', '--optional'], process.env);
const built = step('bundling the CLI', process.execPath, ['scripts/build.mjs'], process.env);
if (built.status !== 0) {
  process.stderr.write(built.stderr);
  process.exit(1);
}

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const started = { date: new Date().toISOString(), load: load() };
const results = new Map(candidates.map((c) => [c.label, { candidate: c, reports: [], errors: [] }]));
const maxRounds = Math.max(1, rounds);
for (let r = 0; r < maxRounds; r++) {
  for (const c of candidates) {
    if (c.slow && r > 0) continue;
    const res = results.get(c.label);
    const reps = c.slow ? Math.min(2, repeats) : repeats;
    const args = [...c.args, '--repeats', String(reps), '--warmup', '1'];
    const t0 = Date.now();
    const p = step(`round ${r + 1}/${maxRounds}: ${c.label} (load ${load()})`, c.file, args, c.env);
    if (p.status !== 0) {
      res.errors.push(`${p.stderr}`.trim().split('\n').slice(-3).join(' | '));
      process.stderr.write(`bench: ${c.label} failed: ${res.errors.at(-1)}\n`);
      continue;
    }
    try {
      const rep = JSON.parse(p.stdout);
      rep.wallSeconds = (Date.now() - t0) / 1000;
      res.reports.push(rep);
      process.stderr.write(`bench:   ${c.label}: ${rep.step.timing.medianMs.toFixed(0)} ms/step median\n`);
    } catch (e) {
      res.errors.push(`unreadable output: ${e.message}`);
    }
  }
}
const finished = { date: new Date().toISOString(), load: load() };

function quantile(sorted, p) {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
function pooled(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0],
    max: s[s.length - 1],
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
  };
}

const rows = [];
for (const { candidate: c, reports, errors } of results.values()) {
  if (reports.length === 0) {
    rows.push({ label: c.label, error: errors.join('; ') || 'no result' });
    continue;
  }
  const batch = reports[0].shape.batchSize;
  const step = pooled(reports.flatMap((r) => r.step.timing.samplesMs));
  const cachedSamples = reports.flatMap((r) => r.cached?.timing.samplesMs ?? []);
  const cached = cachedSamples.length ? pooled(cachedSamples) : null;
  const last = reports[reports.length - 1];
  rows.push({
    label: c.label,
    command: c.cmd,
    rounds: reports.length,
    step,
    seqPerSec: batch / (step.median / 1000),
    cpuMs: pooled(reports.map((r) => r.step.cpuMsMedian)).median,
    gflops: last.flops.total / (step.median / 1000) / 1e9,
    cached,
    cacheSpeedup: cached ? step.median / cached.median : null,
    maxRssBytes: Math.max(...reports.map((r) => r.memory.maxRssBytes)),
    wasmHeapBytes: reports.some((r) => r.memory.wasmHeapBytes)
      ? Math.max(...reports.map((r) => r.memory.wasmHeapBytes ?? 0))
      : null,
    liveTensors: last.liveTensors ?? null,
    peer: c.kind === 'torch',
    detail:
      c.kind === 'torch'
        ? `torch ${last.environment.torch}${last.kernels.transformers ? `, transformers ${last.kernels.transformers}` : `, ${last.kernels.blas}`}`
        : last.backend?.startsWith('tensorflow')
          ? "TensorFlow's kernels"
          : last.kernels?.blas
            ? `${last.kernels.blas.config.split(' ').slice(0, 2).join(' ')}, ${last.kernels.blas.threads} threads`
            : '',
    errors,
  });
}
// Ratios against the best peer by median (the fastest of transformers, TextBrewer and the
// hand-written PyTorch step), and against transformers alone.
const peers = rows.filter((r) => r.peer && !r.error);
const torch = peers.length ? peers.reduce((a, b) => (b.step.median < a.step.median ? b : a)) : undefined;
const hf = rows.find((r) => r.label === 'transformers' && !r.error);
const mb = (n) => (n == null ? '–' : `${(n / 2 ** 20).toFixed(0)}`);
const f1 = (n) => n.toFixed(1);
const f2 = (n) => n.toFixed(2);

const s0 = results.values().next().value?.reports[0]?.shape;
const lines = [
  `# Benchmark results (${shape} shape)`,
  '',
  `Generated by \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (scripts/bench.mjs) on ${started.date}.`,
  s0
    ? `Shape: teacher ${s0.teacherLayers} / student ${s0.studentLayers} layers, hidden ${s0.hiddenSize}, ${s0.heads} heads, FF ${s0.intermediateSize}, vocabulary ${s0.vocabSize}, batch ${s0.batchSize} × sequence ${s0.seqLen}; attention-kl + cls-cosine on every mapped layer + soft-label, AdamW with clipping.`
    : '',
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average at start ${started.load}, at end ${finished.load} (the machine is shared: read ratios, not absolute times).`,
  `Each candidate: ${maxRounds} interleaved round(s) × ${repeats} timed steps after 1 warm-up (slow stock paths: 1 round × ${Math.min(2, repeats)}); medians of the pooled samples.`,
  '',
  torch
    ? `Best peer by median: **${torch.label}**.`
    : 'No peer ran (is the venv there? `bash scripts/setup-python.sh`).',
  '',
  '| path | ms/step median (IQR; min–max) | sequences/s | × transformers (median) | × best peer (median) | × best peer (best step) | GFLOP/s | CPU ms/step | teacher-cache step (ms) | cache speed-up | peak RSS MiB | wasm heap MiB |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) =>
    r.error
      ? `| ${r.label} | failed: ${r.error.replace(/\|/g, '/')} | | | | | | | | | | |`
      : `| ${r.label}${r.detail ? ` (${r.detail})` : ''} | ${f1(r.step.median)} (${f1(r.step.q1)}–${f1(r.step.q3)}; ${f1(r.step.min)}–${f1(r.step.max)}) | ${f2(r.seqPerSec)} | ${hf ? f2(r.seqPerSec / hf.seqPerSec) : '–'} | ${torch ? f2(r.seqPerSec / torch.seqPerSec) : '–'} | ${torch ? f2(torch.step.min / r.step.min) : '–'} | ${f1(r.gflops)} | ${f1(r.cpuMs)} | ${r.cached ? f1(r.cached.median) : '–'} | ${r.cacheSpeedup ? `${f2(r.cacheSpeedup)}×` : '–'} | ${mb(r.maxRssBytes)} | ${mb(r.wasmHeapBytes)} |`,
  ),
  '',
  "GFLOP/s counts matrix products only: per layer 2N(4h²+2hf) + 4·b·s²·h with N = b·s; a step is the teacher forward plus 3 × the student forward (docs/performance.md). CPU ms/step: user + system time of all the process's threads per step (median), the work done whatever the load. × best peer (best step): the best peer's fastest step over this path's fastest, the ratio least disturbed by other processes.",
  '',
  '## Commands',
  '',
  'Run from the repository root (each candidate is one process; `npm run bench` runs them all):',
  '',
  '```sh',
  ...rows.filter((r) => r.command).map((r) => `${r.command} --repeats ${repeats} --warmup 1   # ${r.label}`),
  '```',
  '',
];
mkdirSync(path.dirname(outBase), { recursive: true });
writeFileSync(`${outBase}.md`, lines.filter((l) => l !== null).join('\n'));
writeFileSync(
  `${outBase}.json`,
  JSON.stringify(
    {
      shape,
      rounds: maxRounds,
      repeats,
      started,
      finished,
      rows,
      reports: Object.fromEntries([...results].map(([k, v]) => [k, v.reports])),
    },
    null,
    2,
  ) + '\n',
);
process.stderr.write(`bench: wrote ${path.relative(root, outBase)}.md and .json\n`);
process.stdout.write(lines.join('\n') + '\n');
