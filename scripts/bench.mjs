#!/usr/bin/env node
// `npm run bench`: every training path the project offers on this machine, side by side in one
// run with the peers a user would run instead, on every bench shape; writes docs/bench-results.md
// (one table, the sgemm probe, the per-kernel profiles, commands, environment) and
// docs/bench-results.json (every raw report).
//
//   node scripts/bench.mjs [--shapes reference,minilm,base] [--quick] [--rounds N] [--repeats N]
//                          [--only label,label] [--out docs/bench-results]
//   (--shape NAME is --shapes with one name; tiny is for smoke checks)
//
// Per shape, candidates run in rounds, interleaved (transformers, textbrewer, pytorch, tensorflow,
// wasm+blas, …, then again), so a load change on a shared machine hits all of them alike; each
// candidate's samples from every round are pooled. Shapes run one after the other, each between
// two sgemm probes (OpenBLAS through the addon, torch's MKL): the probes' best is the shape's sgemm
// limit. Ratios are against the fastest peer of the same shape by medians: Hugging Face
// transformers' BertForSequenceClassification (scripts/bench_hf.py), TextBrewer's
// GeneralDistiller on the same models (scripts/bench_textbrewer.py) and a hand-written PyTorch BERT
// (scripts/bench_torch.py), all on the venv's torch. The larger shapes get fewer rounds and
// repeats (PLAN below), and paths that cannot or need not run on a shape are listed with the reason.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = argv.includes('--quick');
const shapes = (opt('shapes', opt('shape', 'reference,minilm,base')) ?? '').split(',').filter(Boolean);
const known = ['reference', 'minilm', 'base', 'tiny'];
for (const s of shapes) {
  if (!known.includes(s)) {
    process.stderr.write(`bench: unknown shape "${s}" in --shapes; use ${known.join(', ')}\n`);
    process.exit(2);
  }
}
const only = opt('only', '')?.split(',').filter(Boolean);
const outBase = path.resolve(root, opt('out', 'docs/bench-results'));
const venvPython = path.join(root, '.venv', 'bin', 'python');
const python = process.env.BENCH_PYTHON ?? (existsSync(venvPython) ? venvPython : '/usr/bin/python3');
// The tensorflow backend, when scripts/build-tfjs-node.mjs has built it.
const tensorflowBuilt =
  spawnSync(process.execPath, [path.join(root, 'scripts', 'build-tfjs-node.mjs'), '--check'], { stdio: 'ignore' })
    .status === 0;

/**
 * Rounds × timed steps (after one warm-up) per shape, and whether to time the teacher-cache step
 * too: a base step takes ~15 s on an idle 2-core machine and minutes on a loaded one.
 */
const PLAN = {
  tiny: { rounds: 3, repeats: 5, cache: true },
  reference: { rounds: quick ? 2 : 3, repeats: quick ? 2 : 3, cache: true },
  minilm: { rounds: quick ? 1 : 2, repeats: quick ? 1 : 2, cache: !quick },
  base: { rounds: 1, repeats: quick ? 1 : 2, cache: false },
};
// With --quick only the peers and the paths that can be fastest run (no one-thread variants, no
// addon-free or stock wasm).
const notQuick = () => (quick ? 'not with --quick' : null);
const plan = (shape) => ({
  ...PLAN[shape],
  ...(opt('rounds') ? { rounds: Number(opt('rounds')) } : {}),
  ...(opt('repeats') ? { repeats: Number(opt('repeats')) } : {}),
});

// PyTorch's fastest setting here: its own 2 threads, single-threaded OpenBLAS, and no core-type
// override. The node candidates get the same OpenBLAS environment.
const blasEnv = { ...process.env };
delete blasEnv.OPENBLAS_CORETYPE;
delete blasEnv.OPENBLAS_L2_SIZE;
const torchEnv = { ...blasEnv, OPENBLAS_NUM_THREADS: '1' };
const envPrefix = (extra) => `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE${extra ? ` ${extra}` : ''}`;

// The heap guard refuses these before the first step (src/train/heap-check.ts): say so up front.
const WASM_HEAP = {
  base: 'the 4 GiB wasm heap holds batch ≤ 9 at this shape (docs/performance.md)',
  minilm: "the 4 GiB wasm heap holds batch ≤ 27 at this shape (the heap guard's estimate)",
};
/**
 * label, kind, backend/kernels, extra environment; `skip(shape)` says why a candidate does not run
 * on a shape; `slow` ones run one round of at most 2 steps without the cache phase.
 */
const CANDIDATES = [
  { label: 'transformers', kind: 'torch', script: 'scripts/bench_hf.py' },
  { label: 'textbrewer', kind: 'torch', script: 'scripts/bench_textbrewer.py', noCache: true },
  { label: 'pytorch', kind: 'torch' },
  // The anchor's two OpenMP threads collapse when other processes want the cores; one thread does not.
  {
    label: 'pytorch, 1 thread',
    kind: 'torch',
    torchThreads: 1,
    skip: (s) => notQuick() ?? (['reference', 'tiny'].includes(s) ? null : 'reference shape only (time)'),
  },
  {
    label: 'tensorflow',
    kind: 'node',
    backend: 'tensorflow',
    kernels: 'auto',
    skip: () => (tensorflowBuilt ? null : 'backend not built (node scripts/build-tfjs-node.mjs)'),
  },
  { label: 'wasm+blas', kind: 'node', backend: 'wasm', kernels: 'blas', skip: (s) => WASM_HEAP[s] ?? null },
  {
    label: 'wasm+blas, 1 thread',
    kind: 'node',
    backend: 'wasm',
    kernels: 'blas',
    extraEnv: { OPENBLAS_NUM_THREADS: '1', DISTILLERY_ELEMENTWISE_THREADS: '1' },
    skip: (s) => notQuick() ?? (['reference', 'tiny'].includes(s) ? null : 'reference shape only (time)'),
  },
  {
    label: 'wasm+untransposed',
    kind: 'node',
    backend: 'wasm',
    kernels: 'untransposed',
    skip: (s) =>
      WASM_HEAP[s] ??
      notQuick() ??
      (['reference', 'tiny'].includes(s) ? null : 'reference shape only (~20 GFLOP/s: minutes per step)'),
  },
  {
    label: 'wasm',
    kind: 'node',
    backend: 'wasm',
    kernels: 'stock',
    slow: true,
    skip: (s) =>
      WASM_HEAP[s] ??
      (quick ? 'not with --quick' : ['reference', 'tiny'].includes(s) ? null : 'reference shape only (~3 GFLOP/s)'),
  },
  {
    label: 'cpu+blas',
    kind: 'node',
    backend: 'cpu',
    kernels: 'blas',
    skip: (s) => (s === 'tiny' ? null : 'tiny shape only (JavaScript element-wise kernels)'),
  },
  {
    label: 'cpu',
    kind: 'node',
    backend: 'cpu',
    kernels: 'stock',
    skip: (s) => (s === 'tiny' ? null : 'tiny shape only (JavaScript kernels)'),
  },
].filter((c) => !only?.length || only.includes(c.label));

function commandFor(c, shape) {
  const p = plan(shape);
  const cache = c.slow || c.noCache || !p.cache ? [] : ['--teacher-cache'];
  const extra = Object.entries(c.extraEnv ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  if (c.kind === 'torch') {
    const args = [
      c.script ?? 'scripts/bench_torch.py',
      '--shape',
      shape,
      '--json',
      ...(c.torchThreads ? ['--threads', String(c.torchThreads)] : []),
      ...cache,
    ];
    const shown = python.startsWith(`${root}${path.sep}`) ? path.relative(root, python) : python;
    return {
      file: python,
      args,
      env: torchEnv,
      cmd: `${envPrefix('OPENBLAS_NUM_THREADS=1')} ${shown} ${args.join(' ')}`,
    };
  }
  const args = [
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
  return {
    file: process.execPath,
    args,
    env: { ...blasEnv, ...(c.extraEnv ?? {}) },
    cmd: `${envPrefix(extra)} node ${args.join(' ')}`,
  };
}

function step(what, cmd, args, env) {
  process.stderr.write(`bench: ${what}\n`);
  return spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

// The native addon (optional) and the CLI bundle.
step('building the native BLAS addon (optional)', process.execPath, ['native/build.mjs', '--optional'], process.env);
const built = step('bundling the CLI', process.execPath, ['scripts/build.mjs'], process.env);
if (built.status !== 0) {
  process.stderr.write(built.stderr);
  process.exit(1);
}
// The table code is TypeScript (src/bench/compare.ts, tested in test/unit/bench-compare.test.ts).
const { tsImport } = await import('tsx/esm/api');
const cmp = await tsImport('../src/bench/compare.ts', import.meta.url);

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const started = { date: new Date().toISOString(), load: load() };
const runs = [];
const probes = [];
const rawProbes = [];

/** OpenBLAS (through the addon) and torch's sgemm alone on the shape's largest product. */
function probe(shape) {
  const out = [];
  const node = step(
    `sgemm probe, ${shape}: OpenBLAS`,
    process.execPath,
    ['bin/distillery.js', 'bench', '--shape', shape, '--sgemm', '--json'],
    blasEnv,
  );
  if (node.status === 0) out.push(JSON.parse(node.stdout));
  else process.stderr.write(`bench: OpenBLAS probe failed: ${node.stderr.trim().split('\n').slice(-2).join(' | ')}\n`);
  const py = step(
    `sgemm probe, ${shape}: torch`,
    python,
    ['scripts/sgemm_probe.py', '--shape', shape, '--json'],
    blasEnv,
  );
  if (py.status === 0) out.push(JSON.parse(py.stdout));
  else process.stderr.write(`bench: torch probe failed: ${py.stderr.trim().split('\n').slice(-2).join(' | ')}\n`);
  return out;
}

for (const shape of shapes) {
  const p = plan(shape);
  const before = probe(shape);
  const cands = CANDIDATES.map((c) => ({
    c,
    skipped: c.skip?.(shape) ?? null,
    ...commandFor(c, shape),
    reports: [],
    errors: [],
  }));
  for (let r = 0; r < Math.max(1, p.rounds); r++) {
    for (const x of cands) {
      if (x.skipped || (x.c.slow && r > 0)) continue;
      const reps = x.c.slow ? Math.min(2, p.repeats) : p.repeats;
      const t0 = Date.now();
      const res = step(
        `${shape}, round ${r + 1}/${p.rounds}: ${x.c.label} (load ${load()})`,
        x.file,
        [...x.args, '--repeats', String(reps), '--warmup', '1'],
        x.env,
      );
      if (res.status !== 0) {
        x.errors.push(`${res.stderr}`.trim().split('\n').slice(-3).join(' | '));
        process.stderr.write(`bench: ${x.c.label} failed: ${x.errors.at(-1)}\n`);
        continue;
      }
      try {
        const rep = JSON.parse(res.stdout);
        rep.wallSeconds = (Date.now() - t0) / 1000;
        x.reports.push(rep);
        process.stderr.write(
          `bench:   ${x.c.label}: ${rep.step.timing.medianMs.toFixed(0)} ms/step median, peak RSS ${(rep.memory.maxRssBytes / 2 ** 20).toFixed(0)} MiB\n`,
        );
      } catch (e) {
        x.errors.push(`unreadable output: ${e.message}`);
      }
    }
  }
  const after = probe(shape);
  rawProbes.push(...before, ...after);
  // The limit is the best either probe reached, per library and thread count.
  const best = new Map();
  for (const pr of [...before, ...after])
    for (const r of pr.results) {
      const k = `${r.library}\u0000${r.threads}`;
      if (!best.has(k) || best.get(k).gflops < r.gflops)
        best.set(k, { library: r.library, threads: r.threads, gflops: r.gflops });
    }
  if (best.size)
    probes.push({
      shape,
      m: (before[0] ?? after[0]).m,
      k: (before[0] ?? after[0]).k,
      n: (before[0] ?? after[0]).n,
      results: [...best.values()],
    });
  for (const x of cands) {
    const last = x.reports.at(-1);
    runs.push({
      shape,
      label: x.c.label,
      peer: x.c.kind === 'torch',
      command: x.skipped ? undefined : `${x.cmd} --repeats ${x.c.slow ? Math.min(2, p.repeats) : p.repeats} --warmup 1`,
      detail: last ? describe(x.c, last) : undefined,
      reports: x.reports,
      errors: x.errors,
      ...(x.skipped ? { skipped: x.skipped } : {}),
    });
  }
  // Written after every shape, so a run cut short still leaves the shapes it finished.
  write(shape === shapes.at(-1));
}

function describe(c, rep) {
  if (c.kind === 'torch')
    return `torch ${rep.environment.torch}${rep.kernels?.transformers ? `, transformers ${rep.kernels.transformers}` : ''}${c.torchThreads ? '' : ', 2 threads'}`;
  if (rep.backend?.startsWith('tensorflow')) return "TensorFlow's kernels";
  if (rep.kernels?.blas)
    return `${rep.kernels.blas.config.split(' ').slice(0, 2).join(' ')}, ${rep.kernels.blas.threads} threads`;
  return '';
}

function write(last) {
  const finished = { date: new Date().toISOString(), load: load() };
  const done = [...new Set(runs.map((r) => r.shape))];
  const rows = cmp.buildRows(runs, probes);
  const planText = done
    .map(
      (s) =>
        `${s} ${plan(s).rounds} round(s) × ${plan(s).repeats} steps${plan(s).cache ? ' (+ as many teacher-cache steps)' : ''}`,
    )
    .join('; ');
  const lines = [
    `# Benchmark results`,
    '',
    `Generated by \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (scripts/bench.mjs) from ${started.date} to ${finished.date}.${last ? '' : ` Partial: the run was still going (shapes done: ${done.join(', ')} of ${shapes.join(', ')}).`}`,
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average at start ${started.load}, at end ${finished.load}. The machine is shared: read the ratios, which come from interleaved rounds in this one run, not the absolute times.`,
    `Each candidate, per shape: ${planText}, each after 1 warm-up step; medians of the pooled samples. The stock wasm path runs one round of at most 2 steps.`,
    'The step: attention-kl + cls-cosine on every mapped layer (student k ← teacher k·L_T/L_S) + soft-label, AdamW with clipping, batch 32 × sequence 128. Shapes: reference 4 → 2 layers × 256; minilm 12 → 6 × 384 (12 heads, FF 1536); base 12 → 6 × 768 (docs/performance.md).',
    '',
    '## Per shape',
    '',
    ...cmp.formatSummary(rows),
    '',
    '## All paths and peers',
    '',
    ...cmp.formatTable(rows),
    '',
    "Peers (plain) are what a user would run instead; our paths are in bold. × best peer: the fastest peer's median step over this path's (above 1: faster than every peer); by best steps: the fastest step any peer took over this path's fastest; by CPU time: the least CPU time per step any peer used over this path's (user + system of all threads, less disturbed by other processes than wall time). GFLOP/s counts matrix products only: per layer 2N(4h²+2hf) + 4·b·s²·h with N = b·s; a step is the teacher forward plus 3 × the student forward. Share of sgemm limit: GFLOP/s over the best the probe below reached on the shape's largest product. CPU ms/step: user + system time of all the process's threads per step (median). Peak RSS: the process's high-water mark (getrusage).",
    '',
    '## sgemm limit (measured in this run)',
    '',
    "sgemm alone on each shape's largest product, before and after the shape's rounds (the better of the two): OpenBLAS through the native addon (`distillery bench --shape S --sgemm`), and torch's own (`scripts/sgemm_probe.py`). Best of 5 products each, GFLOP/s:",
    '',
    ...cmp.formatProbes(probes),
    '',
    "## Where a step's kernel time goes",
    '',
    "One extra, untimed step of each of our paths under `tf.profile` (`distillery bench --profile`), the last round's: each kernel's time, in % of all kernel time, by category (docs/performance.md says how kernels are put in categories). Each kernel is timed around its own work; the profiled step's wall time also counts the JavaScript between kernels and the profiler's bookkeeping.",
    '',
    ...cmp.formatProfiles(rows),
    '',
    '## Commands',
    '',
    'Run from the repository root (each candidate is one process; `npm run bench` runs them all):',
    '',
    '```sh',
    ...rows.filter((r) => r.command).map((r) => `${r.command}   # ${r.label}`),
    '```',
    '',
  ];
  mkdirSync(path.dirname(outBase), { recursive: true });
  const atomic = (file, text) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  atomic(`${outBase}.md`, lines.join('\n'));
  atomic(
    `${outBase}.json`,
    JSON.stringify(
      {
        shapes: done,
        complete: last,
        plan: Object.fromEntries(done.map((s) => [s, plan(s)])),
        started,
        finished,
        probes,
        rawProbes,
        rows,
        runs,
      },
      null,
      2,
    ) + '\n',
  );
  process.stderr.write(`bench: wrote ${path.relative(root, outBase)}.md and .json (${done.join(', ')})\n`);
  if (last) process.stdout.write(lines.join('\n') + '\n');
}
