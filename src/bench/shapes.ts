/**
 * The fixed shapes `distillery bench` times, and the matrix-product FLOPs of one distillation step
 * on them (counted analytically, so GFLOP/s compares across backends and PyTorch).
 */
import { BertConfig, BERT_BASE_DEFAULTS } from '../model/config';
import type { TopRows } from '../model/bert';

export const BENCH_SHAPE_NAMES = ['reference', 'minilm', 'base', 'gpu', 'tiny'] as const;
export type BenchShapeName = (typeof BENCH_SHAPE_NAMES)[number];

export interface BenchShape {
  name: BenchShapeName;
  teacherLayers: number;
  studentLayers: number;
  hiddenSize: number;
  heads: number;
  intermediateSize: number;
  vocabSize: number;
  batchSize: number;
  seqLen: number;
  numLabels: number;
}

export const BENCH_SHAPES: Record<BenchShapeName, BenchShape> = {
  /** The reference: a 4-layer teacher distilled into 2 layers, hidden 256. */
  reference: {
    name: 'reference',
    teacherLayers: 4,
    studentLayers: 2,
    hiddenSize: 256,
    heads: 4,
    intermediateSize: 1024,
    vocabSize: 30522,
    batchSize: 32,
    seqLen: 128,
    numLabels: 2,
  },
  /** A MiniLM-L12-H384-sized teacher (12 layers, hidden 384, 12 heads, FF 1536) into 6 layers. */
  minilm: {
    name: 'minilm',
    teacherLayers: 12,
    studentLayers: 6,
    hiddenSize: 384,
    heads: 12,
    intermediateSize: 1536,
    vocabSize: 30522,
    batchSize: 32,
    seqLen: 128,
    numLabels: 2,
  },
  /** BERT-base teacher (12 layers, hidden 768) into 6 × 768: on a CPU it needs the tensorflow backend (the wasm heap holds batch ≤ 9). */
  base: {
    name: 'base',
    teacherLayers: 12,
    studentLayers: 6,
    hiddenSize: 768,
    heads: 12,
    intermediateSize: 3072,
    vocabSize: 30522,
    batchSize: 32,
    seqLen: 128,
    numLabels: 2,
  },
  /** The base shape under its earlier name, kept for scripts that use it. */
  gpu: {
    name: 'gpu',
    teacherLayers: 12,
    studentLayers: 6,
    hiddenSize: 768,
    heads: 12,
    intermediateSize: 3072,
    vocabSize: 30522,
    batchSize: 32,
    seqLen: 128,
    numLabels: 2,
  },
  /** Runs in well under a second per step anywhere: for tests and smoke checks. */
  tiny: {
    name: 'tiny',
    teacherLayers: 2,
    studentLayers: 1,
    hiddenSize: 32,
    heads: 2,
    intermediateSize: 64,
    vocabSize: 500,
    batchSize: 4,
    seqLen: 16,
    numLabels: 2,
  },
};

export function isBenchShapeName(s: string): s is BenchShapeName {
  return (BENCH_SHAPE_NAMES as readonly string[]).includes(s);
}

export function benchModelConfig(shape: BenchShape, who: 'teacher' | 'student'): BertConfig {
  return {
    ...BERT_BASE_DEFAULTS,
    vocabSize: shape.vocabSize,
    hiddenSize: shape.hiddenSize,
    numHiddenLayers: who === 'teacher' ? shape.teacherLayers : shape.studentLayers,
    numAttentionHeads: shape.heads,
    intermediateSize: shape.intermediateSize,
    maxPositionEmbeddings: Math.max(512, shape.seqLen),
    numLabels: shape.numLabels,
    labels: Array.from({ length: shape.numLabels }, (_, i) => `LABEL_${i}`),
  };
}

/**
 * Student layer k learns from teacher layer k·L_T/L_S (the 'uniform' mapping; 'every-other' when
 * L_T = 2·L_S): 1→2, 2→4 on the reference shape.
 */
export function benchPairs(shape: BenchShape): Array<{ student: number; teacher: number }> {
  return Array.from({ length: shape.studentLayers }, (_, i) => ({
    student: i + 1,
    teacher: Math.floor(((i + 1) * shape.teacherLayers) / shape.studentLayers),
  }));
}

export interface ModelStepFlops {
  /** One encoder forward pass, per model. */
  teacherForward: number;
  studentForward: number;
  /** Gradients w.r.t. inputs and weights: twice the forward products. */
  studentBackward: number;
  /** teacherForward + studentForward + studentBackward. */
  total: number;
  /** The teacher's share removed: what a step costs with the teacher-output cache. */
  cachedTotal: number;
}

/**
 * The step's matrix-product FLOPs by the dense formula (every row of every layer: the work of the
 * step as defined, what the peers compute, and what GFLOP/s divides), and `computed`: what this
 * run multiplies, with the top layers cut to their [CLS] rows where `topRows` says so.
 */
export interface StepFlops extends ModelStepFlops {
  computed: ModelStepFlops;
  topRows: { teacher: TopRows; student: TopRows };
}

/**
 * Matrix-product FLOPs (2 per multiply-add), with N = batch·seq tokens, h hidden, f FF width:
 *   per layer:  2N·(4h² + 2hf)   Q, K, V, attention-output and the two FF products
 *             + 4·batch·seq²·h   QKᵀ and PV over all heads
 *   per model:  L·layer + 2·batch·h² (pooler) + 2·batch·h·labels (classifier)
 *   step:       F_teacher + 3·F_student (backward = 2× forward: input and weight gradients)
 * A top layer cut to its [CLS] rows (topRows 'cls', attention maps read by attention-kl) computes
 *   2N·3h² (Q, K, V) + 2·b·s²·h (QKᵀ) + 2·b·s·h (PV, one query row) + 2b·(h² + 2hf)
 * and without its attention maps 2N·2h² + 2b·h² (the [CLS] queries) + 4·b·s·h + 2b·(h² + 2hf).
 * Element-wise work (softmax, LayerNorm, GELU, losses, AdamW) and the embedding gather are not
 * counted, so GFLOP/s is a lower bound on the work done.
 */
export function stepFlops(
  shape: BenchShape,
  topRows: { teacher: TopRows; student: TopRows } = { teacher: 'all', student: 'all' },
  /** Whether the top layers' attention maps are read (attention-kl on the top pair, as in the bench). */
  topProbs = true,
): StepFlops {
  const { batchSize: b, seqLen: s, hiddenSize: h, intermediateSize: f, numLabels } = shape;
  const n = b * s;
  const layer = 2 * n * (4 * h * h + 2 * h * f) + 4 * b * s * s * h;
  const clsTop = topProbs
    ? 2 * n * 3 * h * h + 2 * b * s * s * h + 2 * b * s * h + 2 * b * (h * h + 2 * h * f)
    : 2 * n * 2 * h * h + 2 * b * h * h + 4 * b * s * h + 2 * b * (h * h + 2 * h * f);
  const model = (layers: number, rows: TopRows): number =>
    (layers - 1) * layer + (rows === 'cls' ? clsTop : layer) + 2 * b * h * h + 2 * b * h * numLabels;
  const sum = (teacherForward: number, studentForward: number): ModelStepFlops => ({
    teacherForward,
    studentForward,
    studentBackward: 2 * studentForward,
    total: teacherForward + 3 * studentForward,
    cachedTotal: 3 * studentForward,
  });
  return {
    ...sum(model(shape.teacherLayers, 'all'), model(shape.studentLayers, 'all')),
    computed: sum(model(shape.teacherLayers, topRows.teacher), model(shape.studentLayers, topRows.student)),
    topRows,
  };
}

export const FLOPS_FORMULA =
  'per layer 2N(4h²+2hf) + 4·b·s²·h (N = b·s); per model L·layer + 2bh² + 2bh·labels; step = teacher forward + 3 × student forward. GFLOP/s divides this dense count; computed: the same with a top layer cut to its [CLS] rows counted as 6Nh² + 2bs²h + 2bsh + 2b(h²+2hf)';
