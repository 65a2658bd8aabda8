/**
 * Where one distillation step's time goes: every kernel TF.js ran in a profiled step (tf.profile
 * times each kernel function in place on wasm, cpu and tensorflow), attributed to the step's phase
 * (from marks the step sets) and to a category by kernel name, phase and input shape.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of DistillStepBench.run, in order; a kernel belongs to the last phase marked before it. */
export const STEP_PHASES = [
  'teacher-forward',
  'student-forward',
  'objective',
  'backward',
  'clip',
  'optimizer',
  'end',
] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export const KERNEL_CATEGORIES = [
  'matmul',
  'attention-kl',
  'softmax',
  'layernorm',
  'gelu',
  'dropout',
  'attention-maps, other element-wise',
  'adam',
  'clip',
  'gather, slice, transpose, copy',
  'other',
] as const;
export type KernelCategory = (typeof KERNEL_CATEGORIES)[number];

export interface ProfiledKernel {
  name: string;
  ms: number;
  phase: StepPhase;
  inputShapes: number[][];
}

export interface StepProfile {
  /** Sum of every kernel's time; the rest of the step's wall time is JavaScript between kernels. */
  kernelMs: number;
  /** Wall time of the profiled step (profiling adds a little per kernel). */
  wallMs: number;
  kernels: number;
  categories: Array<{ category: KernelCategory; ms: number; share: number; calls: number }>;
  phases: Array<{ phase: StepPhase; ms: number; wallMs: number }>;
  /** The kernels by name, slowest first. */
  top: Array<{ name: string; ms: number; calls: number; category: KernelCategory }>;
}

const MATMUL = new Set(['MatMul', 'BatchMatMul', '_FusedMatMul', 'Einsum']);
const BY_NAME: Record<string, KernelCategory> = {
  DistilleryAttentionKl: 'attention-kl',
  DistilleryAttentionKlGrad: 'attention-kl',
  Softmax: 'softmax',
  DistillerySoftmax: 'softmax',
  DistillerySoftmaxGrad: 'softmax',
  DistilleryLayerNorm: 'layernorm',
  DistilleryLayerNormGrad: 'layernorm',
  DistilleryGelu: 'gelu',
  DistilleryGeluGrad: 'gelu',
  Erf: 'gelu',
  DistilleryDropout: 'dropout',
  DistilleryAdamW: 'adam',
  DistillerySumSquares: 'clip',
  GatherV2: 'gather, slice, transpose, copy',
  Slice: 'gather, slice, transpose, copy',
  StridedSlice: 'gather, slice, transpose, copy',
  Transpose: 'gather, slice, transpose, copy',
  Reshape: 'gather, slice, transpose, copy',
  Identity: 'gather, slice, transpose, copy',
  Cast: 'gather, slice, transpose, copy',
  Concat: 'gather, slice, transpose, copy',
  Pack: 'gather, slice, transpose, copy',
  UnsortedSegmentSum: 'gather, slice, transpose, copy',
  Pad: 'gather, slice, transpose, copy',
  Tile: 'gather, slice, transpose, copy',
};

/** An attention map's shape: [batch, heads, seq, seq]. */
function isAttentionShape(s: number[], attention: AttentionDims): boolean {
  return (
    s.length === 4 &&
    s[0] === attention.batchSize &&
    s[1] === attention.heads &&
    s[2] === attention.seqLen &&
    s[3] === attention.seqLen
  );
}

export interface AttentionDims {
  batchSize: number;
  heads: number;
  seqLen: number;
}

/**
 * The category of one kernel. Products, the fused kernels and copies go by name; every kernel of
 * the optimizer and clipping phases is AdamW's or clipping's (on the tensorflow backend these are
 * op by op); other element-wise kernels on attention maps are the attention KL's when they run in
 * the objective (its forward), otherwise they are softmax gradients, masks, scaling or dropout of
 * the composed backends, which a kernel name cannot tell apart.
 */
export function categorizeKernel(
  k: Pick<ProfiledKernel, 'name' | 'phase' | 'inputShapes'>,
  attention: AttentionDims,
): KernelCategory {
  if (MATMUL.has(k.name)) return 'matmul';
  if (k.phase === 'optimizer') return 'adam';
  if (k.phase === 'clip') return 'clip';
  const named = BY_NAME[k.name];
  if (named) return named;
  if (k.inputShapes.some((s) => isAttentionShape(s, attention)))
    return k.phase === 'objective' ? 'attention-kl' : 'attention-maps, other element-wise';
  return 'other';
}

/** Folds profiled kernels into categories, phases and a per-name list. */
export function summarizeProfile(
  kernels: ProfiledKernel[],
  attention: AttentionDims,
  wallMs: number,
  phaseWallMs: Partial<Record<StepPhase, number>> = {},
): StepProfile {
  const kernelMs = kernels.reduce((a, k) => a + k.ms, 0);
  const cat = new Map<KernelCategory, { ms: number; calls: number }>(
    KERNEL_CATEGORIES.map((c) => [c, { ms: 0, calls: 0 }]),
  );
  const phase = new Map<StepPhase, number>(STEP_PHASES.map((p) => [p, 0]));
  const byName = new Map<string, { ms: number; calls: number; category: KernelCategory }>();
  for (const k of kernels) {
    const c = categorizeKernel(k, attention);
    const e = cat.get(c)!;
    e.ms += k.ms;
    e.calls++;
    phase.set(k.phase, (phase.get(k.phase) ?? 0) + k.ms);
    // One name can fall in several categories (a Multiply in AdamW and in the loss): keyed by both.
    const key = `${k.name}\u0000${c}`;
    const n = byName.get(key) ?? { ms: 0, calls: 0, category: c };
    n.ms += k.ms;
    n.calls++;
    byName.set(key, n);
  }
  return {
    kernelMs,
    wallMs,
    kernels: kernels.length,
    categories: KERNEL_CATEGORIES.map((category) => {
      const e = cat.get(category)!;
      return { category, ms: e.ms, share: kernelMs > 0 ? e.ms / kernelMs : 0, calls: e.calls };
    }).filter((c) => c.calls > 0),
    phases: STEP_PHASES.filter((p) => p !== 'end').map((p) => ({
      phase: p,
      ms: phase.get(p) ?? 0,
      wallMs: phaseWallMs[p] ?? 0,
    })),
    top: [...byName].map(([key, v]) => ({ name: key.split('\u0000')[0], ...v })).sort((a, b) => b.ms - a.ms),
  };
}

/**
 * Runs `step` under tf.profile; `step` calls `mark(phase)` as it enters each phase. Returns the
 * profile and tf.profile's high-water mark of tensor bytes.
 */
export async function profileStep(
  step: (mark: (p: StepPhase) => void) => void,
  attention: AttentionDims,
): Promise<{ profile: StepProfile; peakBytes: number }> {
  const engine = tf.engine();
  const marks: Array<{ phase: StepPhase; at: number; t: number }> = [];
  const mark = (p: StepPhase): void => {
    // activeProfile.kernels is the list tf.profile fills while it runs.
    marks.push({ phase: p, at: engine.state.activeProfile.kernels.length, t: performance.now() });
  };
  const t0 = performance.now();
  const info = await tf.profile(() => {
    step(mark);
  });
  const wallMs = performance.now() - t0;
  const phaseOf = (i: number): StepPhase => {
    let p: StepPhase = 'teacher-forward';
    for (const m of marks) if (m.at <= i) p = m.phase;
    return p;
  };
  // tf.profile also lists custom-gradient scopes ("unnamed scope", "fusedMatMul__op"), whose time
  // includes the kernels they ran, which it lists too: only registered kernels count.
  const backend = tf.getBackend();
  const kernels: ProfiledKernel[] = [];
  info.kernels.forEach((k, i) => {
    if (!tf.getKernel(k.name, backend)) return;
    kernels.push({
      name: k.name,
      ms: typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0,
      phase: phaseOf(i),
      inputShapes: k.inputShapes ?? [],
    });
  });
  const phaseWallMs: Partial<Record<StepPhase, number>> = {};
  for (let i = 0; i + 1 < marks.length; i++)
    phaseWallMs[marks[i].phase] = (phaseWallMs[marks[i].phase] ?? 0) + marks[i + 1].t - marks[i].t;
  return { profile: summarizeProfile(kernels, attention, wallMs, phaseWallMs), peakBytes: info.peakBytes };
}

/** The profile for people: categories with their share of kernel time, then phases. */
export function formatProfile(p: StepProfile, topN = 12): string {
  const lines = [
    `profile:        one step, ${p.kernels} kernels, ${p.kernelMs.toFixed(0)} ms in kernels of ${p.wallMs.toFixed(0)} ms wall (profiled)`,
    ...p.categories.map(
      (c) =>
        `  ${c.category.padEnd(36)} ${c.ms.toFixed(1).padStart(9)} ms  ${(100 * c.share).toFixed(1).padStart(5)} %  ${String(c.calls).padStart(5)} calls`,
    ),
    `  phases: ${p.phases.map((ph) => `${ph.phase} ${ph.ms.toFixed(0)} ms`).join(', ')}`,
    `  slowest kernels: ${p.top
      .slice(0, topN)
      .map((k) => `${k.name} [${k.category}] ${k.ms.toFixed(0)} ms × ${k.calls}`)
      .join('; ')}`,
  ];
  return lines.join('\n');
}
