/**
 * `distillery bench`: times the distillation step (./distill-step.ts) on a fixed shape after
 * warm-up, over several repeats, and reports the median and spread, throughput, achieved GFLOP/s,
 * live tensors and peak memory. With the teacher-output cache it also times the cached step
 * (teacher outputs assembled from the cache) in the same run, so the speed-up is a same-run ratio.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, BackendRequest } from '../model/backend';
import { KernelMode, KernelsInfo, setKernelMode } from '../model/fast-kernels';
import { estimateStepMemory, StepMemoryEstimate, wasmHeapBytes } from '../model/fast-kernels/heap-budget';
import { TeacherCache, TeacherCacheStats } from '../train/teacher-cache';
import { DistillStepBench, StepResult } from './distill-step';
import { BenchShape, FLOPS_FORMULA, stepFlops, StepFlops, benchModelConfig } from './shapes';
import { countParameters } from '../model/bert';
import { formatProfile, profileStep, StepProfile } from './profile';

export interface BenchOptions {
  shape: BenchShape;
  backend: BackendRequest;
  kernels: KernelMode;
  repeats: number;
  warmup: number;
  /** Also time the step with teacher outputs from the cache. */
  teacherCache: boolean;
  seed?: number;
  /** Then run this many more steps, sampling resident memory and live tensors (a leak check). */
  soak?: number;
  /** Progress lines for people (stderr). */
  progress?: (line: string) => void;
}

export interface TimingSummary {
  medianMs: number;
  minMs: number;
  maxMs: number;
  q1Ms: number;
  q3Ms: number;
  samplesMs: number[];
}

export interface PhaseReport {
  timing: TimingSummary;
  /**
   * Median CPU time (user + system, all threads) per step: less sensitive to other processes than
   * wall time on a shared machine, though spinning threads count too.
   */
  cpuMsMedian: number;
  sequencesPerSec: number;
  /**
   * The dense FLOP count (flops.total: every row, the step as defined, what the peers compute) /
   * median step time: comparable across paths and peers whatever rows a path skips.
   */
  gflopsPerSec: number;
  /** The FLOPs this run actually multiplied (flops.computed) / median step time. */
  computedGflopsPerSec: number;
  /** Loss of the first and last timed step (a sanity check that the step computes something). */
  loss: { first: number; last: number };
}

/** Resident memory and live tensors sampled over a long run of steps: both flat when nothing leaks. */
export interface SoakReport {
  steps: number;
  /** Step index of each sample (after the timed steps). */
  atStep: number[];
  rssBytes: number[];
  /** V8's heap in use and the memory of JS objects outside it (typed arrays' buffers, native handles' reported sizes). */
  heapUsedBytes: number[];
  externalBytes: number[];
  liveTensors: number[];
  /** Last sample minus the first (the first is taken after a tenth of the steps, once allocators settle). */
  rssGrowthBytes: number;
  tensorGrowth: number;
}

export interface BenchReport {
  version: 1;
  tool: 'distillery';
  shape: BenchShape;
  backend: string;
  /** What the matrix products ran on: stock, untransposed (wasm) or blas (native OpenBLAS). */
  kernels: KernelsInfo & { active: string };
  /** "wasm+blas", "wasm", "cpu"…: backend plus kernel path, the label in tables. */
  label: string;
  warmup: number;
  repeats: number;
  flops: StepFlops & { formula: string };
  step: PhaseReport;
  cached?: PhaseReport & { speedup: number; cache: TeacherCacheStats };
  liveTensors: { before: number; after: number };
  /** With `soak`: memory over the extra steps. */
  soak?: SoakReport;
  /** Where one (untimed, profiled) uncached step's kernel time goes. */
  profile: StepProfile;
  memory: {
    /** process.resourceUsage().maxRSS: the process's peak resident set. */
    maxRssBytes: number;
    /** The wasm heap's size (it only grows, so this is its peak); null off wasm. */
    wasmHeapBytes: number | null;
    /**
     * High-water mark of tf.memory().numBytes over one (untimed) uncached step, from tf.profile:
     * the weights, moments and every tensor alive at the step's peak. TF.js counts bytes per tensor
     * handle, so a view that shares its data (a reshape) counts again: an upper bound on tensor data.
     */
    peakTensorBytes: number;
    /** The analytic estimate used to refuse oversized batches on wasm. */
    estimate: StepMemoryEstimate;
  };
  environment: { node: string; platform: string; cpus: number; cpuModel: string; openblasEnv: Record<string, string> };
  date: string;
}

export function summarize(samplesMs: number[]): TimingSummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const q = (p: number): number => {
    if (s.length === 1) return s[0];
    const pos = p * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  };
  return { medianMs: q(0.5), minMs: s[0], maxMs: s[s.length - 1], q1Ms: q(0.25), q3Ms: q(0.75), samplesMs };
}

function phase(
  samplesMs: number[],
  cpuMs: number[],
  results: StepResult[],
  shape: BenchShape,
  flops: number,
  computedFlops: number,
): PhaseReport {
  const timing = summarize(samplesMs);
  return {
    timing,
    cpuMsMedian: summarize(cpuMs).medianMs,
    sequencesPerSec: shape.batchSize / (timing.medianMs / 1000),
    gflopsPerSec: flops / (timing.medianMs / 1000) / 1e9,
    computedGflopsPerSec: computedFlops / (timing.medianMs / 1000) / 1e9,
    loss: { first: results[0].loss, last: results[results.length - 1].loss },
  };
}

/**
 * One turn of the event loop between steps, as the trainer takes (src/train/loop.ts): Node frees
 * what the external ArrayBuffers of the tensorflow backend's zero-copy views held only then, so
 * steps run back to back without it keep every step's released intermediates (measured: 64 KiB
 * per call of a fused [64, 256] kernel, until the loop turns).
 */
const betweenSteps = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

async function timeSteps(
  n: number,
  run: () => StepResult,
): Promise<{ ms: number[]; cpuMs: number[]; results: StepResult[] }> {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  const results: StepResult[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    results.push(run());
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    await betweenSteps();
  }
  return { ms, cpuMs, results };
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.progress ?? (() => undefined);
  const info = await initBackend(opts.backend);
  const kernels = setKernelMode(opts.kernels);
  const backend = tf.getBackend();
  const active = backend === 'wasm' ? kernels.wasm : backend === 'cpu' ? kernels.cpu : 'native';
  const label = active === 'stock' || active === 'native' ? info.kind : `${info.kind}+${active}`;
  const shape = opts.shape;
  const size = (who: 'teacher' | 'student') => {
    const config = benchModelConfig(shape, who);
    return { config, params: countParameters(config).total };
  };
  const estimate = estimateStepMemory(size('teacher'), size('student'), shape.batchSize, shape.seqLen);
  log(`bench: ${shape.name} shape on ${label}: warm-up ${opts.warmup}, repeats ${opts.repeats}`);

  const bench = new DistillStepBench(shape, opts.seed ?? 42);
  const flops = stepFlops(shape, bench.topRows());
  try {
    for (let i = 0; i < opts.warmup; i++) {
      const t0 = Date.now();
      bench.run();
      log(`bench: warm-up step ${i + 1}/${opts.warmup}: ${Date.now() - t0} ms`);
      await betweenSteps();
    }
    const before = tf.memory().numTensors;
    const plain = await timeSteps(opts.repeats, () => bench.run());
    log(`bench: steps (ms): ${plain.ms.map((m) => m.toFixed(0)).join(', ')}`);
    let cached: BenchReport['cached'];
    if (opts.teacherCache) {
      const cache = new TeacherCache();
      bench.run(cache); // fills the cache: the "first epoch"
      await betweenSteps();
      const hits = await timeSteps(opts.repeats, () => bench.run(cache));
      log(`bench: cached steps (ms): ${hits.ms.map((m) => m.toFixed(0)).join(', ')}`);
      const p = phase(hits.ms, hits.cpuMs, hits.results, shape, flops.cachedTotal, flops.computed.cachedTotal);
      cached = { ...p, speedup: summarize(plain.ms).medianMs / p.timing.medianMs, cache: cache.stats() };
      cache.clear();
    }
    const after = tf.memory().numTensors;
    const soak = opts.soak ? await runSoak(opts.soak, () => bench.run(), log) : undefined;
    // Read before the profiled step below, so that peak RSS is that of the timed steps.
    const maxRssBytes = process.resourceUsage().maxRSS * 1024;
    const heapBytes = wasmHeapBytes();
    // The peak and the per-kernel profile come from one extra, untimed step (profiling adds
    // bookkeeping to every kernel).
    const { profile, peakBytes: peakTensorBytes } = await profileStep((mark) => {
      bench.run(undefined, mark);
    }, shape);
    log(`bench: peak tensor memory of one step: ${fmtBytes(peakTensorBytes)}`);
    return {
      version: 1,
      tool: 'distillery',
      shape,
      backend: info.kind,
      kernels: { ...kernels, active },
      label,
      warmup: opts.warmup,
      repeats: opts.repeats,
      flops: { ...flops, formula: FLOPS_FORMULA },
      step: phase(plain.ms, plain.cpuMs, plain.results, shape, flops.total, flops.computed.total),
      ...(cached ? { cached } : {}),
      liveTensors: { before, after },
      ...(soak ? { soak } : {}),
      profile,
      memory: { maxRssBytes, wasmHeapBytes: heapBytes, peakTensorBytes, estimate },
      environment: {
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        openblasEnv: Object.fromEntries(
          Object.entries(process.env).filter(([k]) => k.startsWith('OPENBLAS_')) as Array<[string, string]>,
        ),
      },
      date: new Date().toISOString(),
    };
  } finally {
    bench.dispose();
  }
}

async function runSoak(steps: number, step: () => unknown, log: (line: string) => void): Promise<SoakReport> {
  const every = Math.max(1, Math.floor(steps / 10));
  const r: SoakReport = {
    steps,
    atStep: [],
    rssBytes: [],
    heapUsedBytes: [],
    externalBytes: [],
    liveTensors: [],
    rssGrowthBytes: 0,
    tensorGrowth: 0,
  };
  for (let i = 1; i <= steps; i++) {
    step();
    await betweenSteps();
    if (i % every === 0 || i === steps) {
      r.atStep.push(i);
      const mem = process.memoryUsage();
      r.rssBytes.push(mem.rss);
      r.heapUsedBytes.push(mem.heapUsed);
      r.externalBytes.push(mem.external);
      r.liveTensors.push(tf.memory().numTensors);
      log(
        `bench: soak step ${i}/${steps}: RSS ${fmtBytes(mem.rss)}, JS heap ${fmtBytes(mem.heapUsed)}, external ${fmtBytes(mem.external)}, ${r.liveTensors[r.liveTensors.length - 1]} tensors`,
      );
    }
  }
  r.rssGrowthBytes = r.rssBytes[r.rssBytes.length - 1] - r.rssBytes[0];
  r.tensorGrowth = r.liveTensors[r.liveTensors.length - 1] - r.liveTensors[0];
  return r;
}

function fmtBytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

/** The report for people. */
export function formatBenchReport(r: BenchReport, opts: { profile?: boolean } = {}): string {
  const t = r.step.timing;
  const s = r.shape;
  const lines = [
    `distillery bench: ${s.name} shape (teacher ${s.teacherLayers} / student ${s.studentLayers} layers, hidden ${s.hiddenSize}, ${s.heads} heads, FF ${s.intermediateSize}, vocab ${s.vocabSize}, batch ${s.batchSize} × seq ${s.seqLen})`,
    `backend:        ${r.label}${r.backend.startsWith('tensorflow') ? (r.kernels.tensorflow === 'fused' ? " (TensorFlow's kernels; the addon's fused kernels on its memory)" : ` (TensorFlow's own kernels${r.kernels.tensorflowUnavailable ? `; no fused kernels: ${r.kernels.tensorflowUnavailable}` : ''})`) : r.kernels.blas ? ` (${r.kernels.blas.config}, ${r.kernels.blas.threads} threads)` : r.kernels.blasUnavailable ? ` (native BLAS: ${r.kernels.blasUnavailable})` : ''}`,
    `step:           ${t.medianMs.toFixed(1)} ms median (min ${t.minMs.toFixed(1)}, IQR ${t.q1Ms.toFixed(1)}–${t.q3Ms.toFixed(1)}, max ${t.maxMs.toFixed(1)}; ${r.repeats} repeats after ${r.warmup} warm-up)`,
    `cpu time:       ${r.step.cpuMsMedian.toFixed(1)} ms per step (median, all threads)`,
    `throughput:     ${r.step.sequencesPerSec.toFixed(2)} sequences/s, ${r.step.gflopsPerSec.toFixed(1)} GFLOP/s (${(r.flops.total / 1e9).toFixed(1)} GFLOP of matrix products per step, dense count)`,
    `computed:       ${(r.flops.computed.total / 1e9).toFixed(1)} GFLOP per step (top layers: teacher ${r.flops.topRows.teacher} rows, student ${r.flops.topRows.student} rows), ${r.step.computedGflopsPerSec.toFixed(1)} GFLOP/s`,
  ];
  if (r.cached) {
    const c = r.cached.timing;
    lines.push(
      `teacher cache:  ${c.medianMs.toFixed(1)} ms median (min ${c.minMs.toFixed(1)}, max ${c.maxMs.toFixed(1)}): ${r.cached.sequencesPerSec.toFixed(2)} sequences/s, ${r.cached.speedup.toFixed(2)}× the uncached step; ${fmtBytes(r.cached.cache.bytes)} for ${r.cached.cache.entries} examples`,
    );
  }
  lines.push(
    `live tensors:   ${r.liveTensors.before} before, ${r.liveTensors.after} after`,
    ...(r.soak
      ? [
          `soak:           ${r.soak.steps} more steps: RSS ${fmtBytes(r.soak.rssBytes[0])} → ${fmtBytes(r.soak.rssBytes[r.soak.rssBytes.length - 1])} (${r.soak.rssGrowthBytes >= 0 ? '+' : '−'}${fmtBytes(Math.abs(r.soak.rssGrowthBytes))} after step ${r.soak.atStep[0]}), live tensors ${r.soak.liveTensors[0]} → ${r.soak.liveTensors[r.soak.liveTensors.length - 1]}`,
        ]
      : []),
    `memory:         peak RSS ${fmtBytes(r.memory.maxRssBytes)}${r.memory.wasmHeapBytes !== null ? `, wasm heap ${fmtBytes(r.memory.wasmHeapBytes)}` : ''}, peak tensors ${fmtBytes(r.memory.peakTensorBytes)} (estimated step peak ${fmtBytes(r.memory.estimate.totalBytes)})`,
    `loss:           ${r.step.loss.first.toFixed(4)} → ${r.step.loss.last.toFixed(4)}`,
  );
  if (opts.profile) lines.push(formatProfile(r.profile));
  return lines.join('\n');
}
