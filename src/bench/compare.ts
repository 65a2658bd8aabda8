/**
 * `npm run bench` (scripts/bench.mjs): the reports of every candidate on every shape, pooled
 * into rows, ranked against the best peer per shape, and written as one Markdown table (with the
 * sgemm probe and the per-kernel profiles). Pure functions, so the table is tested apart from the
 * minutes of benchmarking that feed it.
 */
import { KERNEL_CATEGORIES, KernelCategory, StepProfile } from './profile';

/** What the table needs of a report (src/bench/run-bench.ts or scripts/bench_*.py --json). */
export interface CandidateReport {
  shape: { batchSize: number };
  step: { timing: { samplesMs: number[] }; cpuMsMedian: number };
  cached?: { timing: { samplesMs: number[] } };
  flops: { total: number };
  memory: { maxRssBytes: number; wasmHeapBytes?: number | null };
  profile?: StepProfile;
  label?: string;
}

export interface CandidateRun {
  shape: string;
  label: string;
  /** A peer is what a user would run instead (transformers, TextBrewer, PyTorch). */
  peer: boolean;
  command?: string;
  /** Free text after the label: library versions, threads. */
  detail?: string;
  reports: CandidateReport[];
  errors: string[];
  /** Why the candidate was not run on this shape. */
  skipped?: string;
}

export interface Pooled {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

export interface BenchRow {
  shape: string;
  label: string;
  peer: boolean;
  detail?: string;
  command?: string;
  /** Set when there is no timing: "not run: …" or "failed: …". */
  note?: string;
  rounds: number;
  step?: Pooled;
  seqPerSec?: number;
  cpuMs?: number;
  gflops?: number;
  cached?: Pooled;
  cacheSpeedup?: number;
  maxRssBytes?: number;
  wasmHeapBytes?: number | null;
  profile?: StepProfile;
  /**
   * Our throughput over the peers': the best peer's median over ours; the fastest step any peer
   * took over ours; the least CPU time per step any peer used over ours (least disturbed by load).
   */
  xBestPeer?: number;
  xBestPeerBestStep?: number;
  xBestPeerCpu?: number;
  xTransformers?: number;
  /** gflops over the shape's sgemm limit. */
  sgemmShare?: number;
}

export interface SgemmProbe {
  shape: string;
  m: number;
  k: number;
  n: number;
  /** GFLOP/s by library ("OpenBLAS 0.3.21", "torch 2.13.0 (MKL)") and threads. */
  results: Array<{ library: string; threads: number; gflops: number }>;
}

function quantile(sorted: number[], p: number): number {
  if (sorted.length === 1) return sorted[0];
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, quartiles and range of samples pooled from every round. */
export function pooled(samples: number[]): Pooled {
  if (samples.length === 0) throw new Error('pooled: no samples');
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

/** The machine's sgemm limit for a shape: the best GFLOP/s any probed library reached at any thread count. */
export function sgemmLimit(probes: SgemmProbe[], shape: string): number | undefined {
  const p = probes.find((x) => x.shape === shape);
  if (!p || p.results.length === 0) return undefined;
  return Math.max(...p.results.map((r) => r.gflops));
}

/** One row per candidate and shape, with ratios against the best peer of the same shape. */
export function buildRows(runs: CandidateRun[], probes: SgemmProbe[] = []): BenchRow[] {
  const rows: BenchRow[] = runs.map((c) => {
    const base = {
      shape: c.shape,
      label: c.label,
      peer: c.peer,
      detail: c.detail,
      command: c.command,
      rounds: c.reports.length,
    };
    if (c.skipped) return { ...base, note: `not run: ${c.skipped}` };
    if (c.reports.length === 0) return { ...base, note: `failed: ${c.errors.join('; ') || 'no result'}` };
    const batch = c.reports[0].shape.batchSize;
    const step = pooled(c.reports.flatMap((r) => r.step.timing.samplesMs));
    const cachedSamples = c.reports.flatMap((r) => r.cached?.timing.samplesMs ?? []);
    const cached = cachedSamples.length ? pooled(cachedSamples) : undefined;
    const gflops = c.reports[0].flops.total / (step.median / 1000) / 1e9;
    const limit = sgemmLimit(probes, c.shape);
    const heaps = c.reports.map((r) => r.memory.wasmHeapBytes ?? 0);
    return {
      ...base,
      step,
      seqPerSec: batch / (step.median / 1000),
      cpuMs: pooled(c.reports.map((r) => r.step.cpuMsMedian)).median,
      gflops,
      ...(cached ? { cached, cacheSpeedup: step.median / cached.median } : {}),
      maxRssBytes: Math.max(...c.reports.map((r) => r.memory.maxRssBytes)),
      wasmHeapBytes: heaps.some((h) => h > 0) ? Math.max(...heaps) : null,
      ...(c.reports[c.reports.length - 1].profile ? { profile: c.reports[c.reports.length - 1].profile } : {}),
      ...(limit ? { sgemmShare: gflops / limit } : {}),
    };
  });
  for (const shape of shapesOf(rows)) {
    const timed = rows.filter((r) => r.shape === shape && r.step);
    const best = bestPeer(timed);
    const peers = timed.filter((r) => r.peer);
    const fastestPeerStep = Math.min(...peers.map((r) => r.step!.min));
    const leastPeerCpu = Math.min(...peers.map((r) => r.cpuMs!));
    const hf = timed.find((r) => r.label === 'transformers');
    for (const r of timed) {
      if (best) {
        r.xBestPeer = best.step!.median / r.step!.median;
        r.xBestPeerBestStep = fastestPeerStep / r.step!.min;
        if (r.cpuMs! > 0 && leastPeerCpu > 0) r.xBestPeerCpu = leastPeerCpu / r.cpuMs!;
      }
      if (hf) r.xTransformers = hf.step!.median / r.step!.median;
    }
  }
  return rows;
}

/** Shapes in the order they first appear. */
export function shapesOf(rows: Array<{ shape: string }>): string[] {
  return [...new Set(rows.map((r) => r.shape))];
}

/** The fastest peer by median among timed rows (of one shape). */
export function bestPeer(rows: BenchRow[]): BenchRow | undefined {
  const peers = rows.filter((r) => r.peer && r.step);
  return peers.length ? peers.reduce((a, b) => (b.step!.median < a.step!.median ? b : a)) : undefined;
}

/** The fastest of our paths by median (of one shape). */
export function bestOurs(rows: BenchRow[]): BenchRow | undefined {
  const ours = rows.filter((r) => !r.peer && r.step);
  return ours.length ? ours.reduce((a, b) => (b.step!.median < a.step!.median ? b : a)) : undefined;
}

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
const mib = (n: number | null | undefined): string => (n == null ? '–' : f0(n / 2 ** 20));
const pct = (n: number | undefined): string => (n === undefined ? '–' : `${f0(100 * n)} %`);
const opt = (n: number | undefined, f: (x: number) => string): string => (n === undefined ? '–' : f(n));
const cell = (s: string): string => s.replace(/\|/g, '/').replace(/\n/g, ' ');

/** The one table: every shape, every path, ratios against the best peer of its shape. */
export function formatTable(rows: BenchRow[]): string[] {
  const out = [
    '| shape | path | ms/step median (IQR; min–max) | sequences/s | × best peer (medians) | × best peer (best steps) | × best peer (CPU time) | × transformers | GFLOP/s | share of sgemm limit | CPU ms/step | teacher-cache step ms (speed-up) | peak RSS MiB | wasm heap MiB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const name = `${r.peer ? '' : '**'}${r.label}${r.peer ? '' : '**'}${r.detail ? ` (${r.detail})` : ''}`;
    if (!r.step) {
      out.push(`| ${r.shape} | ${cell(name)} | ${cell(r.note ?? '')} | | | | | | | | | | | |`);
      continue;
    }
    const s = r.step;
    out.push(
      `| ${r.shape} | ${cell(name)} | ${f1(s.median)} (${f1(s.q1)}–${f1(s.q3)}; ${f1(s.min)}–${f1(s.max)}) | ${f2(r.seqPerSec!)} | ${opt(r.xBestPeer, f2)} | ${opt(r.xBestPeerBestStep, f2)} | ${opt(r.xBestPeerCpu, f2)} | ${opt(r.xTransformers, f2)} | ${f1(r.gflops!)} | ${pct(r.sgemmShare)} | ${f0(r.cpuMs!)} | ${r.cached ? `${f1(r.cached.median)} (${f2(r.cacheSpeedup!)}×)` : '–'} | ${mib(r.maxRssBytes)} | ${mib(r.wasmHeapBytes)} |`,
    );
  }
  return out;
}

/** Per shape: the best peer, our fastest path and the ratio, and the peak RSS of each path. */
export function formatSummary(rows: BenchRow[]): string[] {
  const out: string[] = [];
  for (const shape of shapesOf(rows)) {
    const of = rows.filter((r) => r.shape === shape);
    const peer = bestPeer(of);
    const ours = bestOurs(of);
    const rss = of
      .filter((r) => r.maxRssBytes)
      .map((r) => `${r.label} ${mib(r.maxRssBytes)}`)
      .join(', ');
    const verdict =
      peer && ours
        ? `**${ours.label}** ${f1(ours.step!.median)} ms against ${peer.label} ${f1(peer.step!.median)} ms: **${f2(ours.xBestPeer!)}×** the best peer by medians (${f2(ours.xBestPeerBestStep!)}× by best steps, ${opt(ours.xBestPeerCpu, f2)}× by CPU time)`
        : peer
          ? `best peer ${peer.label} ${f1(peer.step!.median)} ms; none of our paths ran`
          : 'no peer ran';
    out.push(`- \`${shape}\`: ${verdict}. Peak RSS (MiB): ${rss || '–'}.`);
  }
  return out;
}

/** The sgemm probe as a table: one row per shape's largest product, one column per library × threads. */
export function formatProbes(probes: SgemmProbe[]): string[] {
  if (probes.length === 0) return [];
  const cols = [
    ...new Set(
      probes.flatMap((p) => p.results.map((r) => `${r.library}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`)),
    ),
  ];
  const out = [
    `| shape | product [m, k] · [k, n] | ${cols.join(' | ')} | limit used |`,
    `|---|---|${cols.map(() => '---|').join('')}---|`,
  ];
  for (const p of probes) {
    const by = new Map(
      p.results.map((r) => [`${r.library}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`, r.gflops]),
    );
    out.push(
      `| ${p.shape} | [${p.m}, ${p.k}] · [${p.k}, ${p.n}] | ${cols.map((c) => (by.has(c) ? f1(by.get(c)!) : '–')).join(' | ')} | ${opt(sgemmLimit(probes, p.shape), f1)} |`,
    );
  }
  return out;
}

/** Each profiled path's kernel time by category, as shares of its kernel time. */
export function formatProfiles(rows: BenchRow[]): string[] {
  const profiled = rows.filter((r) => r.profile);
  if (profiled.length === 0) return [];
  const used = KERNEL_CATEGORIES.filter((c) =>
    profiled.some((r) => r.profile!.categories.some((x) => x.category === c && x.ms > 0)),
  );
  const share = (p: StepProfile, c: KernelCategory): string => {
    const x = p.categories.find((y) => y.category === c);
    return x ? f1(100 * x.share) : '0';
  };
  const out = [
    `| shape | path | kernel ms (of wall ms) | ${used.join(' | ')} |`,
    `|---|---|---|${used.map(() => '---|').join('')}`,
  ];
  for (const r of profiled)
    out.push(
      `| ${r.shape} | ${r.label} | ${f0(r.profile!.kernelMs)} (${f0(r.profile!.wallMs)}) | ${used.map((c) => share(r.profile!, c)).join(' | ')} |`,
    );
  return out;
}
