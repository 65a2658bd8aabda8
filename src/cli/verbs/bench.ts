import { Verb, BACKEND_FLAG, JSON_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { UserError } from '../../util/errors';
import { isBackendRequest } from '../../model/backend';
import { isKernelMode, KERNEL_MODES } from '../../model/fast-kernels';
import { BENCH_SHAPES, BENCH_SHAPE_NAMES, isBenchShapeName } from '../../bench/shapes';
import { formatBenchReport, runBench } from '../../bench/run-bench';
import { probeSgemm } from '../../bench/sgemm-probe';

export const benchVerb: Verb = {
  name: 'bench',
  summary: 'time the distillation step (teacher forward, student forward+backward, AdamW) on a fixed shape',
  positionals: [],
  flags: [
    JSON_FLAG,
    {
      name: 'shape',
      type: 'string',
      value: 'NAME',
      description: `${BENCH_SHAPE_NAMES.join(', ')} (default reference)`,
    },
    BACKEND_FLAG,
    {
      name: 'kernels',
      type: 'string',
      value: 'MODE',
      description: `matrix-product kernels: ${KERNEL_MODES.join(', ')} (default auto)`,
    },
    {
      name: 'repeats',
      type: 'number',
      value: 'N',
      description: 'timed steps (default 5; 3 for the base and gpu shapes)',
    },
    { name: 'warmup', type: 'number', value: 'N', description: 'untimed steps first (default 1)' },
    {
      name: 'soak',
      type: 'number',
      value: 'N',
      description: 'then N more steps, sampling resident memory and live tensors ten times (a leak check)',
    },
    {
      name: 'teacher-cache',
      type: 'boolean',
      description: 'also time steps whose teacher outputs come from the teacher-output cache',
    },
    {
      name: 'sgemm',
      type: 'boolean',
      description:
        "instead of the step: OpenBLAS sgemm alone on the shape's largest product, 1 and 2 threads (the machine's limit)",
    },
    {
      name: 'profile',
      type: 'boolean',
      description:
        "print where one step's kernel time goes (matmul, attention-kl, softmax, layernorm, adam, …; always in --json)",
    },
  ],
  details: [
    'Shapes (teacher/student layers, hidden, heads, FF, vocab, batch × seq):',
    ...BENCH_SHAPE_NAMES.map((n) => {
      const s = BENCH_SHAPES[n];
      return `  ${n.padEnd(10)} ${s.teacherLayers}/${s.studentLayers} layers, hidden ${s.hiddenSize}, ${s.heads} heads, FF ${s.intermediateSize}, vocab ${s.vocabSize}, ${s.batchSize} × ${s.seqLen}`;
    }),
    'Losses: attention-kl and cls-cosine on every mapped layer, soft-label; AdamW with clipping.',
    'GFLOP/s counts matrix products only (forward + 2× forward for backward; see docs/performance.md).',
    'Examples:',
    '  distillery bench',
    '  distillery bench --backend wasm --kernels untransposed --repeats 3',
    '  distillery bench --shape tiny --json',
    '  distillery bench --shape minilm --profile',
  ].join('\n'),
  async run(flags, io) {
    const shapeName = flags.string('shape') ?? 'reference';
    if (!isBenchShapeName(shapeName))
      throw new UserError(`unknown shape "${shapeName}"`, {
        where: '--shape',
        fix: `use one of ${BENCH_SHAPE_NAMES.join(', ')}`,
      });
    const backend = flags.string('backend') ?? 'auto';
    if (!isBackendRequest(backend))
      throw new UserError(`unknown backend "${backend}"`, {
        where: '--backend',
        fix: 'use auto, tensorflow-gpu, tensorflow, wasm or cpu',
      });
    const kernels = flags.string('kernels') ?? 'auto';
    if (!isKernelMode(kernels))
      throw new UserError(`unknown kernels "${kernels}"`, {
        where: '--kernels',
        fix: `use one of ${KERNEL_MODES.join(', ')}`,
      });
    if (flags.bool('sgemm')) {
      const probe = probeSgemm(BENCH_SHAPES[shapeName], [1, 2], flags.integer('repeats', 1, 10_000) ?? 5);
      if (flags.bool('json')) await writeJson(io, probe);
      else
        for (const r of probe.results)
          writeLine(
            io.stdout,
            `sgemm [${probe.m}, ${probe.k}] · [${probe.k}, ${probe.n}], ${r.library}, ${r.threads} thread(s): ${r.gflops.toFixed(1)} GFLOP/s (best of ${r.samplesMs.length})`,
          );
      return 0;
    }
    const repeats = flags.integer('repeats', 1, 10_000) ?? (shapeName === 'gpu' || shapeName === 'base' ? 3 : 5);
    const warmup = flags.integer('warmup', 0, 10_000) ?? 1;
    const soak = flags.integer('soak', 1, 1_000_000);
    const report = await runBench({
      shape: BENCH_SHAPES[shapeName],
      backend,
      kernels,
      repeats,
      warmup,
      teacherCache: flags.bool('teacher-cache'),
      ...(soak !== undefined ? { soak } : {}),
      progress: (line) => writeLine(io.stderr, line),
    });
    if (flags.bool('json')) await writeJson(io, report);
    else writeLine(io.stdout, formatBenchReport(report, { profile: flags.bool('profile') }));
    return 0;
  },
};
