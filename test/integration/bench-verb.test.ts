// `distillery bench` on the tiny shape: a well-formed report (JSON and text, peak memory included), the teacher-cache
// phase, flags checked as user errors. No timing assertions: the machine is shared and noisy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main';
import { CliIO } from '../../src/cli/io';
import { BENCH_SHAPES, stepFlops } from '../../src/bench/shapes';
import { summarize } from '../../src/bench/run-bench';

function memoryIO(): { io: CliIO; out: () => string; err: () => string } {
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => chunks.out.push(c));
  stderr.on('data', (c: Buffer) => chunks.err.push(c));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), interactive: false },
    out: () => Buffer.concat(chunks.out).toString('utf8'),
    err: () => Buffer.concat(chunks.err).toString('utf8'),
  };
}

test('bench --json on the tiny shape reports timing, throughput, FLOPs, tensors and memory', async () => {
  const m = memoryIO();
  const code = await main(
    ['bench', '--shape', 'tiny', '--backend', 'wasm', '--repeats', '3', '--warmup', '1', '--teacher-cache', '--json'],
    m.io,
  );
  assert.equal(code, 0, m.err());
  const r = JSON.parse(m.out());
  assert.equal(r.tool, 'distillery');
  assert.equal(r.backend, 'wasm');
  assert.match(r.label, /^wasm(\+(blas|untransposed))?$/);
  assert.deepEqual(r.shape, BENCH_SHAPES.tiny);
  assert.equal(r.repeats, 3);
  assert.equal(r.step.timing.samplesMs.length, 3);
  const t = r.step.timing;
  assert.ok(
    t.minMs > 0 && t.minMs <= t.q1Ms && t.q1Ms <= t.medianMs && t.medianMs <= t.q3Ms && t.q3Ms <= t.maxMs,
    JSON.stringify(t),
  );
  assert.ok(Math.abs(r.step.sequencesPerSec - 4 / (t.medianMs / 1000)) < 1e-9);
  assert.equal(r.flops.total, stepFlops(BENCH_SHAPES.tiny).total);
  assert.ok(Math.abs(r.step.gflopsPerSec - r.flops.total / (t.medianMs / 1000) / 1e9) < 1e-9);
  assert.ok(Number.isFinite(r.step.loss.first) && r.step.loss.first > 0);
  assert.equal(r.liveTensors.after, r.liveTensors.before, 'steps leak no tensors');
  assert.ok(r.memory.maxRssBytes > 10 * 2 ** 20);
  assert.ok(r.memory.wasmHeapBytes >= 16 * 2 ** 20);
  assert.ok(r.memory.estimate.totalBytes > 0);
  // tf.memory()'s high-water mark over a step counts the weights and moments (exactly the
  // estimate's persistent bytes) plus the step's own tensors.
  assert.ok(
    r.memory.peakTensorBytes > r.memory.estimate.persistentBytes,
    `${r.memory.peakTensorBytes} vs ${r.memory.estimate.persistentBytes}`,
  );
  assert.equal(r.cached.cache.entries, 4);
  assert.equal(r.cached.cache.hits, 4 * 3, 'every cached step is served from the cache');
  assert.ok(r.cached.speedup > 0);
  assert.match(m.err(), /warm-up step 1\/1/);
});

test('bench without --json prints a readable summary', async () => {
  const m = memoryIO();
  const code = await main(
    ['bench', '--shape', 'tiny', '--backend', 'wasm', '--kernels', 'stock', '--repeats', '1', '--warmup', '0'],
    m.io,
  );
  assert.equal(code, 0, m.err());
  const text = m.out();
  assert.match(text, /tiny shape \(teacher 2 \/ student 1 layers/);
  assert.match(text, /backend: +wasm\b/);
  assert.match(text, /sequences\/s/);
  assert.match(text, /live tensors: +\d+ before, \d+ after/);
  assert.match(text, /wasm heap/);
  assert.match(text, /peak tensors \d+ MiB/);
});

test('bench refuses unknown shapes, kernels and bad counts as user errors', async () => {
  for (const [args, pattern] of [
    [['--shape', 'huge'], /--shape: unknown shape "huge"/],
    [['--kernels', 'gpu'], /--kernels: unknown kernels "gpu"/],
    [['--repeats', '0'], /--repeats: must be an integer from 1 to 10000/],
    [['--repeats', '1e308'], /--repeats: must be an integer from 1 to 10000 \(got 1e\+308\)/],
  ] as Array<[string[], RegExp]>) {
    const m = memoryIO();
    assert.equal(await main(['bench', ...args], m.io), 2);
    assert.match(m.err(), pattern);
  }
});

test('FLOP count and timing summary by hand', () => {
  const f = stepFlops(BENCH_SHAPES.reference);
  // One layer: 2·4096·(4·256² + 2·256·1024) + 4·32·128²·256 = 6 979 321 856.
  const layer = 6_979_321_856;
  const model = (l: number) => l * layer + 2 * 32 * 256 * 256 + 2 * 32 * 256 * 2;
  assert.equal(f.teacherForward, model(4));
  assert.equal(f.total, model(4) + 3 * model(2));
  assert.equal(f.cachedTotal, 3 * model(2));
  const s = summarize([5, 1, 4, 2, 3]);
  assert.deepEqual([s.minMs, s.q1Ms, s.medianMs, s.q3Ms, s.maxMs], [1, 2, 3, 4, 5]);
  assert.equal(summarize([2, 4]).medianMs, 3);
});

test('bench --soak samples resident memory and live tensors ten times over the extra steps', async () => {
  const m = memoryIO();
  const code = await main(
    ['bench', '--shape', 'tiny', '--backend', 'wasm', '--repeats', '1', '--warmup', '1', '--soak', '30', '--json'],
    m.io,
  );
  assert.equal(code, 0, m.err());
  const r = JSON.parse(m.out());
  assert.equal(r.soak.steps, 30);
  assert.deepEqual(r.soak.atStep, [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
  assert.equal(r.soak.rssBytes.length, 10);
  assert.equal(r.soak.heapUsedBytes.length, 10);
  assert.equal(r.soak.externalBytes.length, 10);
  assert.ok(r.soak.rssBytes.every((b: number) => b > 10 * 2 ** 20));
  assert.equal(r.soak.tensorGrowth, 0, 'the steps leak no tensors');
  assert.equal(r.soak.rssGrowthBytes, r.soak.rssBytes[9] - r.soak.rssBytes[0]);
});

test("bench --profile prints where the step's kernel time goes; the JSON report always has it", async () => {
  const m = memoryIO();
  const code = await main(
    ['bench', '--shape', 'tiny', '--backend', 'wasm', '--repeats', '1', '--warmup', '1', '--profile'],
    m.io,
  );
  assert.equal(code, 0, m.err());
  assert.match(m.out(), /profile: +one step, \d+ kernels, [\d.]+ ms in kernels/);
  assert.match(m.out(), /^ +matmul +[\d.]+ ms +[\d.]+ % +\d+ calls$/m);
  assert.match(m.out(), /phases: teacher-forward [\d.]+ ms, student-forward/);
  const j = memoryIO();
  assert.equal(
    await main(
      [
        'bench',
        '--shape',
        'tiny',
        '--backend',
        'wasm',
        '--kernels',
        'stock',
        '--repeats',
        '1',
        '--warmup',
        '0',
        '--json',
      ],
      j.io,
    ),
    0,
    j.err(),
  );
  const p = JSON.parse(j.out()).profile;
  const matmul = p.categories.find((c: { category: string }) => c.category === 'matmul');
  // Teacher (2 layers) and student (1 layer) forward: 6 dense layers of 2 products and 2 batched attention products per layer, plus the pooler and classifier.
  assert.ok(matmul.calls >= 3 * (6 + 2) && matmul.ms > 0, JSON.stringify(matmul));
  const shares = p.categories.reduce((a: number, c: { share: number }) => a + c.share, 0);
  assert.ok(Math.abs(shares - 1) < 1e-9, `shares sum to ${shares}`);
  assert.ok(p.kernelMs > 0 && p.kernelMs <= p.wallMs, `${p.kernelMs} of ${p.wallMs}`);
  assert.ok(
    p.phases.find((x: { phase: string }) => x.phase === 'optimizer').ms > 0,
    'AdamW runs in the optimizer phase',
  );
});

test("bench --sgemm times OpenBLAS alone on the shape's largest product, or says why it cannot", async () => {
  const m = memoryIO();
  const code = await main(['bench', '--shape', 'tiny', '--sgemm', '--repeats', '2', '--json'], m.io);
  if (code !== 0) {
    assert.match(m.err(), /the sgemm probe needs the native addon/);
    return;
  }
  const r = JSON.parse(m.out());
  assert.deepEqual([r.shape, r.m, r.k, r.n], ['tiny', 64, 32, 64]);
  assert.deepEqual(
    r.results.map((x: { threads: number }) => x.threads),
    [1, 2],
  );
  for (const x of r.results) {
    assert.equal(x.samplesMs.length, 2);
    assert.ok(Math.abs(x.gflops - (2 * 64 * 64 * 32) / (Math.min(...x.samplesMs) / 1000) / 1e9) < 1e-9);
    assert.match(x.library, /OpenBLAS/);
  }
});
