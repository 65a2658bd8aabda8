/**
 * The machine's sgemm limit for a bench shape: OpenBLAS sgemm alone (the native addon, the
 * library the blas kernels call) on the shape's largest product, [batch·seq, hidden] ·
 * [hidden, FF], at 1 and 2 threads. The best of several runs: a limit, not a typical speed.
 */
import { loadNativeBlas } from '../model/fast-kernels/native-blas';
import { BenchShape } from './shapes';
import { UserError } from '../util/errors';

export interface SgemmProbeResult {
  shape: string;
  m: number;
  k: number;
  n: number;
  results: Array<{ library: string; threads: number; gflops: number; samplesMs: number[] }>;
}

export function largestProduct(shape: BenchShape): { m: number; k: number; n: number } {
  return { m: shape.batchSize * shape.seqLen, k: shape.hiddenSize, n: shape.intermediateSize };
}

export function probeSgemm(shape: BenchShape, threads: number[] = [1, 2], repeats = 5): SgemmProbeResult {
  const status = loadNativeBlas();
  if (!status.blas)
    throw new UserError(`the sgemm probe needs the native addon: ${status.reason}`, {
      where: '--sgemm',
      fix: 'build it with `node native/build.mjs` (needs a C compiler and libopenblas-dev)',
    });
  const blas = status.blas;
  const { m, k, n } = largestProduct(shape);
  const a = new Float32Array(m * k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(k * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const c = new Float32Array(m * n);
  const before = blas.threads();
  const library = blas.config().split(' ').slice(0, 2).join(' ');
  const results: SgemmProbeResult['results'] = [];
  try {
    for (const t of threads) {
      blas.setThreads(t);
      const samplesMs: number[] = [];
      for (let i = 0; i <= repeats; i++) {
        const t0 = process.hrtime.bigint();
        blas.sgemm(a, 0, b, 0, c, 0, false, false, m, n, k, 1, 0, 0, 0, null, 0);
        if (i > 0) samplesMs.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first warms up
      }
      results.push({ library, threads: t, gflops: (2 * m * n * k) / (Math.min(...samplesMs) / 1000) / 1e9, samplesMs });
    }
  } finally {
    blas.setThreads(before);
  }
  return { shape: shape.name, m, k, n, results };
}
