/**
 * One distillation step as the trainer runs it (src/train/loop.ts, TrainingLoop.trainStep), built
 * from the same modules: teacher forward without gradients (or the teacher-output cache), student
 * forward and backward through the objective (attention-kl + cls-cosine on every mapped layer,
 * soft-label), clipByGlobalNorm, AdamW. Data are synthetic: `seqLen` tokens per row, no padding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BertModel, BertOutputs, disposeBertOutputs } from '../model/bert';
import { toBertInputs, disposeInputs } from '../model/inputs';
import { Batch, createRng } from '../data/batching';
import { keepFor, objectiveTerms, ObjectiveContext, topRowsFor } from '../distill/objective';
import type { TopRows } from '../model/bert';
import { AdamW, clipByGlobalNorm } from '../train/optimizer';
import { TeacherCache } from '../train/teacher-cache';
import { BenchShape, benchModelConfig, benchPairs } from './shapes';
import { StepPhase } from './profile';

export interface StepResult {
  loss: number;
  terms: number[];
  gradNorm: number;
}

/** The bench's training setup: models, optimizer, one fixed batch. Dispose when done. */
export class DistillStepBench {
  readonly teacher: BertModel;
  readonly student: BertModel;
  readonly batch: Batch;
  private readonly vars: Array<{ name: string; variable: tf.Variable }>;
  private readonly hfNameByVar = new Map<string, string>();
  private readonly optimizer: AdamW;
  private readonly ctx: ObjectiveContext;
  private readonly pairs: Array<{ student: number; teacher: number }>;
  private step = 0;

  constructor(
    readonly shape: BenchShape,
    seed = 42,
  ) {
    this.teacher = BertModel.randomInit(benchModelConfig(shape, 'teacher'), seed);
    this.student = BertModel.randomInit(benchModelConfig(shape, 'student'), seed + 1);
    this.vars = this.student.parameterNames().map((name) => ({ name, variable: this.student.variable(name) }));
    for (const v of this.vars) this.hfNameByVar.set(v.variable.name, v.name);
    this.optimizer = new AdamW(this.vars, { lr: 5e-5, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
    this.pairs = benchPairs(shape);
    this.ctx = {
      losses: { attentionKl: 1, clsCosine: 1, softLabel: 1 },
      temperature: 1,
      layers: this.pairs,
      regression: false,
      headAverage: false,
    };
    this.batch = syntheticBatch(shape, seed);
  }

  /**
   * One step; with `cache`, teacher outputs come from it (filled on first sight of each row).
   * `mark` is called as each phase starts (the per-kernel profile attributes kernels by it).
   */
  run(cache?: TeacherCache, mark: (phase: StepPhase) => void = () => undefined): StepResult {
    const inputs = toBertInputs(this.batch);
    const labels = tf.tensor1d(this.batch.labels, 'float32');
    const kept: tf.Scalar[] = [];
    let teacherOut: BertOutputs | undefined;
    try {
      const keepT = keepFor(this.pairs, 'teacher', this.ctx.losses);
      const keepS = keepFor(this.pairs, 'student', this.ctx.losses);
      mark('teacher-forward');
      teacherOut = cache
        ? cache.outputs(this.teacher, this.batch, keepT, 0)
        : this.teacher.forward(inputs, { training: false, keep: keepT, topRows: this.topRows().teacher });
      const out = teacherOut;
      const { value, grads } = tf.variableGrads(
        () => {
          mark('student-forward');
          const so = this.student.forward(inputs, {
            training: true,
            seed: 1_000_003 + this.step,
            keep: keepS,
            topRows: this.topRows().student,
          });
          mark('objective');
          const { total, terms } = objectiveTerms(this.ctx, so, out, inputs.attentionMask, labels);
          for (const t of terms) kept.push(tf.keep(t.value));
          mark('backward');
          return total;
        },
        this.vars.map((v) => v.variable),
      );
      const byName: Record<string, tf.Tensor> = {};
      for (const [varName, g] of Object.entries(grads)) byName[this.hfNameByVar.get(varName) ?? varName] = g;
      mark('clip');
      const clipped = clipByGlobalNorm(byName, 1);
      tf.dispose(Object.values(grads));
      const loss = value.dataSync()[0];
      value.dispose();
      const terms = kept.map((k) => k.dataSync()[0]);
      mark('optimizer');
      this.optimizer.applyGradients(clipped.grads, 5e-5);
      mark('end');
      tf.dispose(Object.values(clipped.grads));
      this.step++;
      return { loss, terms, gradNorm: clipped.norm };
    } finally {
      tf.dispose(kept);
      if (teacherOut) disposeBertOutputs(teacherOut);
      disposeInputs(inputs);
      labels.dispose();
    }
  }

  /**
   * Which rows each model's top layer computes, as the trainer decides it from the losses (the
   * bench's cut its top layers to the [CLS] rows past the attention maps unless
   * DISTILLERY_TOP_ROWS=full).
   */
  topRows(): { teacher: TopRows; student: TopRows } {
    const rows = (who: 'teacher' | 'student', m: BertModel) =>
      topRowsFor(keepFor(this.pairs, who, this.ctx.losses), m.config.numHiddenLayers);
    return { teacher: rows('teacher', this.teacher), student: rows('student', this.student) };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.teacher.dispose();
    this.student.dispose();
  }
}

/** Rows of [CLS] random-tokens [SEP], every position a real token; random binary labels. */
export function syntheticBatch(shape: BenchShape, seed: number): Batch {
  const { batchSize: b, seqLen: s, vocabSize: v } = shape;
  const rng = createRng(seed);
  const inputIds = new Int32Array(b * s);
  const low = Math.min(1000, Math.floor(v / 2));
  for (let i = 0; i < b * s; i++) inputIds[i] = low + Math.floor(rng.next() * (v - low));
  for (let r = 0; r < b; r++) {
    inputIds[r * s] = Math.min(101, v - 1);
    inputIds[r * s + s - 1] = Math.min(102, v - 1);
  }
  return {
    size: b,
    seqLen: s,
    inputIds,
    tokenTypeIds: new Int32Array(b * s),
    attentionMask: new Int32Array(b * s).fill(1),
    labels: Float32Array.from({ length: b }, () => (rng.next() < 0.5 ? 0 : 1)),
    indices: Array.from({ length: b }, (_, i) => i),
  };
}
