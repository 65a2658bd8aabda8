/**
 * The training loop over a stage plan: batches → forward (teacher without gradients, student
 * with) → weighted loss terms → clipped gradients → AdamW, with dev evaluation, early stopping on
 * a plateau, best-model selection, periodic and stop checkpoints, and exact resume. The same loop
 * trains a teacher (one hard-label stage, no teacher) and distils a student.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BertModel, BertOutputs } from '../model/bert';
import { disposeBertOutputs } from '../model/bert';
import { toBertInputs, disposeInputs } from '../model/inputs';
import { batchOrder, makeBatch } from '../data/batching';
import { Encoding } from '../data/encoding';
import { LayerPair } from '../distill/mapping';
import { Stage, stageWeightsAt, trainsInternal, type StageLosses } from '../distill/plan';
import { valueRelationMaps } from '../distill/losses';
import { keepFor, needsFullTeacherOutputs, objectiveTerms, ObjectiveContext, topRowsFor } from '../distill/objective';
import { PER_LAYER_KEYS, type LossName } from '../config/loss-vocabulary';
import { ResolvedOptim } from '../config/types';
import { AdamW, clipByGlobalNorm } from './optimizer';
import { linearWarmupDecay, warmupSteps } from './lr-schedule';
import { evaluate, EvalOutcome } from './evaluate';
import { TaskData } from './task-data';
import { EventSink } from './event-sink';
import {
  HIDDEN_PROJECTION_BIAS,
  HIDDEN_PROJECTION_WEIGHT,
  LoopPosition,
  PROJECTION_NAME,
  StageTracking,
  TrainingCheckpoint,
  TrainingState,
  listCheckpoints,
  pruneCheckpoints,
  saveTrainingCheckpoint,
} from './checkpoint-store';
import { NamedTensors } from '../model/named-tensors';
import type { TeacherCache } from './teacher-cache';
import { readSafetensorsFile, serializeSafetensors, toFloat32 } from '../model/safetensors';
import { writeDirAtomic } from '../util/atomic-fs';
import { assertPhaseFitsWasmHeap, phaseMemoryPlan } from './heap-check';

/** Set by a signal handler; the loop checkpoints and returns at the next step boundary. */
export interface StopSignal {
  requested: string | null;
}

export interface LoopSetup {
  phase: 'teacher' | 'student';
  model: BertModel;
  teacher?: BertModel;
  /** Every mapped pair (dev similarity is reported for all of them). */
  pairs: LayerPair[];
  /** Learned [dStudent, dTeacher] map for cls-cosine when hidden sizes differ. */
  projection?: tf.Variable;
  /** Learned map (TinyBERT's fit_dense) for hidden-mse and embedding-mse when hidden sizes differ. */
  hiddenProjection?: { weight: tf.Variable; bias: tf.Variable };
  headAverage: boolean;
  /** The stages, each with the losses it trains and their weights. */
  stages: Stage[];
  data: TaskData;
  optim: ResolvedOptim;
  batchSize: number;
  evalEverySteps?: number;
  evalBatchSize: number;
  checkpointEverySteps?: number;
  keepCheckpoints: number;
  checkpointsDir: string;
  /** Writes the model as the best so far (Hugging Face layout); returns the folder. */
  saveBest: (model: BertModel) => string;
  padId: number;
  /** A fixed dev example whose attention maps are sent with every evaluation. */
  sample?: Encoding;
  /** Reuses the teacher's outputs per training example after their first computation (src/train/teacher-cache.ts). */
  teacherCache?: TeacherCache;
  /** Added to stage indices in events, so teacher and student stages number as one plan. */
  stageOffset: number;
  /** Added to step numbers in events, so student steps follow the teacher's on one axis. */
  stepOffset: number;
}

export type LoopResult =
  { outcome: 'finished'; best: TrainingState['best'] } | { outcome: 'stopped'; checkpoint: string };

export class NonFiniteLossError extends Error {
  constructor(
    readonly term: string,
    readonly layer: number | undefined,
    readonly step: number,
  ) {
    super(
      `the ${term} loss${layer !== undefined ? ` of student layer ${layer}` : ''} became non-finite at step ${step}`,
    );
  }
}

/** Data order of one epoch: a pure function of the seed and the position, so resume replays it. */
export function epochSeed(seed: number, phase: 'teacher' | 'student', stage: number, epoch: number): number {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (const v of [phase === 'teacher' ? 1 : 2, stage, epoch]) {
    h = Math.imul(h ^ (v + 0x7f4a7c15), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

export function dropoutSeed(seed: number, phase: 'teacher' | 'student', globalStep: number): number {
  return epochSeed(seed, phase, 1_000_003, globalStep);
}

export class TrainingLoop {
  private readonly vars: Array<{ name: string; variable: tf.Variable }>;
  private readonly hfNameByVar = new Map<string, string>();
  private best: TrainingState['best'] = null;
  private lastCheckpoint: string | null = null;

  constructor(
    private readonly s: LoopSetup,
    private readonly sink: EventSink,
    private readonly stop: StopSignal,
  ) {
    this.vars = s.model.parameterNames().map((name) => ({ name, variable: s.model.variable(name) }));
    if (s.projection) this.vars.push({ name: PROJECTION_NAME, variable: s.projection });
    if (s.hiddenProjection) {
      this.vars.push(
        { name: HIDDEN_PROJECTION_WEIGHT, variable: s.hiddenProjection.weight },
        { name: HIDDEN_PROJECTION_BIAS, variable: s.hiddenProjection.bias },
      );
    }
    for (const v of this.vars) this.hfNameByVar.set(v.variable.name, v.name);
  }

  latestCheckpoint(): string | null {
    return this.lastCheckpoint ?? listCheckpoints(this.s.checkpointsDir).pop() ?? null;
  }

  stepsPerEpoch(): number {
    return Math.ceil(this.s.data.train.encodings.length / this.s.batchSize);
  }

  async run(resume?: TrainingCheckpoint): Promise<LoopResult> {
    const s = this.s;
    // On wasm, refuse a batch the 4 GiB heap cannot hold before the phase's first step.
    assertPhaseFitsWasmHeap(phaseMemoryPlan(s));
    let pos: LoopPosition = resume
      ? { ...resume.state.position }
      : { stageIndex: 0, epoch: 0, batch: 0, globalStep: 0, stageStep: 0 };
    let tracking: StageTracking = resume ? { ...resume.state.tracking } : { best: null, badEvals: 0 };
    this.best = resume?.state.best ?? null;
    const perEpoch = this.stepsPerEpoch();
    const n = s.data.train.encodings.length;

    for (let si = pos.stageIndex; si < s.stages.length; si++) {
      const stage = s.stages[si];
      const total = stage.epochs * perEpoch;
      const warm = warmupSteps(total, s.optim.warmup);
      const optimizer = new AdamW(this.vars, {
        lr: s.optim.lr,
        beta1: s.optim.beta1,
        beta2: s.optim.beta2,
        eps: s.optim.eps,
        weightDecay: s.optim.weightDecay,
      });
      try {
        const resumingHere = resume !== undefined && si === resume.state.position.stageIndex;
        if (resumingHere && resume.optimizer.moments.length > 0) optimizer.setState(resume.optimizer, resume.dir);
        if (!resumingHere) {
          pos = { stageIndex: si, epoch: 0, batch: 0, globalStep: pos.globalStep, stageStep: 0 };
          tracking = { best: null, badEvals: 0 };
          fs.rmSync(this.stageBestDir(), { recursive: true, force: true });
        }
        this.sink.emit({
          type: 'stage-started',
          stage: si + s.stageOffset,
          name: stage.name,
          kind: stage.kind,
          epochs: stage.epochs,
          stepsPlanned: total,
        });
        let reason: 'epochs' | 'plateau' = 'epochs';
        const snapshot = (): Omit<TrainingCheckpoint, 'dir'> => this.snapshot(pos, tracking, optimizer, 'periodic');

        epochs: for (let ep = pos.epoch; ep < stage.epochs; ep++) {
          const order = batchOrder(n, s.batchSize, true, epochSeed(s.optim.seed, s.phase, si, ep));
          for (let bi = ep === pos.epoch ? pos.batch : 0; bi < order.length; bi++) {
            pos = { ...pos, epoch: ep, batch: bi };
            if (this.stop.requested) {
              const ck = snapshot();
              const dir = this.saveCheckpoint({ ...ck, state: { ...ck.state, reason: 'stop' } }, 'stop');
              return { outcome: 'stopped', checkpoint: dir };
            }
            const lr = linearWarmupDecay(pos.stageStep, total, warm, s.optim.lr);
            this.trainStep(stage, si, ep, order[bi], lr, pos.globalStep, optimizer, pos.stageStep, total);
            pos = { ...pos, batch: bi + 1, globalStep: pos.globalStep + 1, stageStep: pos.stageStep + 1 };
            if (s.evalEverySteps && pos.globalStep % s.evalEverySteps === 0) {
              if (await this.evalAndTrack(stage, si, ep, pos.globalStep, tracking)) {
                reason = 'plateau';
                break epochs;
              }
            }
            if (s.checkpointEverySteps && pos.globalStep % s.checkpointEverySteps === 0)
              this.saveCheckpoint(snapshot(), 'periodic');
            // Let signal handlers run between steps.
            await new Promise<void>((r) => setImmediate(r));
          }
          pos = { ...pos, epoch: ep + 1, batch: 0 };
          if (!s.evalEverySteps && (await this.evalAndTrack(stage, si, ep, pos.globalStep, tracking))) {
            reason = 'plateau';
            break;
          }
        }
        // With evaluations every N steps, the stage's last steps may not have been evaluated: its
        // final weights are a candidate for the best too.
        if (reason === 'epochs' && s.evalEverySteps && pos.stageStep > 0 && pos.globalStep % s.evalEverySteps !== 0) {
          await this.evalAndTrack(stage, si, stage.epochs - 1, pos.globalStep, tracking);
        }
        if (stage.selectBest) {
          const restored = this.restoreStageBest(si);
          if (restored !== null) {
            this.sink.emit({
              type: 'log',
              level: 'info',
              message: `stage ${si + s.stageOffset + 1} (${stage.name}): continuing from the weights of its best evaluation, at step ${s.stepOffset + restored}`,
            });
          }
        }
        this.sink.emit({
          type: 'stage-finished',
          stage: si + s.stageOffset,
          reason,
          ...(stage.kind === 'internal' && tracking.best !== null ? { bestLoss: tracking.best } : {}),
        });
        // The next stage starts with a fresh optimizer, so the stage-end checkpoint needs no moments.
        pos = { stageIndex: si + 1, epoch: 0, batch: 0, globalStep: pos.globalStep, stageStep: 0 };
        tracking = { best: null, badEvals: 0 };
        const end = this.snapshot(pos, tracking, undefined, 'stage-end');
        this.saveCheckpoint(end, 'stage-end');
        fs.rmSync(this.stageBestDir(), { recursive: true, force: true });
      } finally {
        optimizer.dispose();
      }
    }
    return { outcome: 'finished', best: this.best };
  }

  private snapshot(
    pos: LoopPosition,
    tracking: StageTracking,
    optimizer: AdamW | undefined,
    reason: string,
  ): Omit<TrainingCheckpoint, 'dir'> {
    const weights: NamedTensors = this.s.model.toNamedTensors();
    if (this.s.projection) {
      weights.set(PROJECTION_NAME, {
        shape: [...this.s.projection.shape],
        data: this.s.projection.dataSync() as Float32Array,
      });
    }
    const hp = this.s.hiddenProjection;
    if (hp) {
      weights.set(HIDDEN_PROJECTION_WEIGHT, {
        shape: [...hp.weight.shape],
        data: hp.weight.dataSync() as Float32Array,
      });
      weights.set(HIDDEN_PROJECTION_BIAS, { shape: [...hp.bias.shape], data: hp.bias.dataSync() as Float32Array });
    }
    const opt = optimizer ? optimizer.getState() : { step: 0, moments: [] };
    return {
      state: {
        version: 1,
        phase: this.s.phase,
        position: { ...pos },
        tracking: { ...tracking },
        best: this.best,
        seed: this.s.optim.seed,
        optimizerStep: opt.step,
        optimizerVarSteps: {},
        reason,
        savedAt: new Date().toISOString(),
      },
      weights,
      optimizer: opt,
    };
  }

  private saveCheckpoint(ck: Omit<TrainingCheckpoint, 'dir'>, reason: 'periodic' | 'stage-end' | 'stop'): string {
    const dir = saveTrainingCheckpoint(this.s.checkpointsDir, ck);
    pruneCheckpoints(this.s.checkpointsDir, Math.max(1, this.s.keepCheckpoints));
    this.lastCheckpoint = dir;
    this.sink.emit({ type: 'checkpoint', step: this.s.stepOffset + ck.state.position.globalStep, path: dir, reason });
    return dir;
  }

  /** The objective at one step of the stage: its weights (and temperature) after its schedules. */
  private objective(stage: Stage, stageStep: number, stageSteps: number): ObjectiveContext {
    const now = stageWeightsAt(stage, stageStep, stageSteps);
    const hp = this.s.hiddenProjection;
    return {
      losses: now.losses,
      temperature: now.temperature,
      layers: stage.layers,
      regression: this.s.data.info.isRegression,
      headAverage: this.s.headAverage,
      projection: this.s.projection as tf.Tensor2D | undefined,
      ...(hp ? { hiddenProjection: { weight: hp.weight as tf.Tensor2D, bias: hp.bias as tf.Tensor1D } } : {}),
    };
  }

  private trainStep(
    stage: Stage,
    si: number,
    epoch: number,
    rows: number[],
    lr: number,
    globalStep: number,
    optimizer: AdamW,
    stageStep: number,
    stageSteps: number,
  ): void {
    const s = this.s;
    const started = Date.now();
    const split = s.data.train;
    const batch = makeBatch(
      rows.map((i) => split.encodings[i]),
      rows.map((i) => split.labels[i]),
      rows,
      s.padId,
    );
    const inputs = toBertInputs(batch);
    const labels = tf.tensor1d(batch.labels, 'float32');
    const internal = stage.kind === 'internal' || trainsInternal(stage.losses);
    const needTeacher = s.teacher !== undefined && (internal || stage.losses.softLabel !== undefined);
    const none = { hiddenStates: [], attentions: [], values: [], cls: [] };
    let teacherOut: BertOutputs | undefined;
    const kept: tf.Scalar[] = [];
    let meta: Array<{ name: LossName; layer?: number; weight: number }> = [];
    try {
      // The teacher runs outside the gradient tape: no gradients, and far less memory.
      if (needTeacher) {
        const keepT = internal ? keepFor(stage.layers, 'teacher', stage.losses) : none;
        // The frozen teacher's outputs per example are reused from the cache when one is given; it
        // holds [CLS] vectors and attention maps only, so stages with whole hidden states or value
        // vectors (hidden-mse, embedding-mse, value-relation) run the teacher.
        teacherOut =
          s.teacherCache && !needsFullTeacherOutputs(stage.losses)
            ? s.teacherCache.outputs(s.teacher!, batch, keepT, s.padId)
            : s.teacher!.forward(inputs, {
                training: false,
                keep: keepT,
                // The top layer's rows past its attention maps only where a loss reads them (hidden-mse).
                topRows: topRowsFor(keepT, s.teacher!.config.numHiddenLayers),
              });
      }
      const keepS = internal ? keepFor(stage.layers, 'student', stage.losses) : none;
      const ctx = this.objective(stage, stageStep, stageSteps);
      const { value, grads } = tf.variableGrads(
        () => {
          const out = s.model.forward(inputs, {
            training: true,
            seed: dropoutSeed(s.optim.seed, s.phase, globalStep),
            keep: keepS,
            topRows: topRowsFor(keepS, s.model.config.numHiddenLayers),
          });
          const { total, terms } = objectiveTerms(ctx, out, teacherOut, inputs.attentionMask, labels);
          meta = terms.map((t) => ({ name: t.name, layer: t.layer, weight: t.weight }));
          for (const t of terms) kept.push(tf.keep(t.value));
          return total;
        },
        this.vars.map((v) => v.variable),
      );
      const byName: Record<string, tf.Tensor> = {};
      for (const [varName, g] of Object.entries(grads)) byName[this.hfNameByVar.get(varName) ?? varName] = g;
      const clipped = clipByGlobalNorm(byName, s.optim.maxGradNorm > 0 ? s.optim.maxGradNorm : Infinity);
      tf.dispose(Object.values(grads));
      const loss = value.dataSync()[0];
      value.dispose();
      const values = kept.map((k) => k.dataSync()[0]);
      // Check before updating, so the weights (and the last checkpoint) stay finite.
      const bad = values.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0 || !Number.isFinite(loss) || !Number.isFinite(clipped.norm)) {
        tf.dispose(Object.values(clipped.grads));
        const t = bad >= 0 ? meta[bad] : { name: 'gradient norm', layer: undefined };
        throw new NonFiniteLossError(t.name, t.layer, s.stepOffset + globalStep + 1);
      }
      optimizer.applyGradients(clipped.grads, lr);
      tf.dispose(Object.values(clipped.grads));
      const elapsedMs = Date.now() - started;
      this.sink.emit({
        type: 'step',
        step: s.stepOffset + globalStep + 1,
        stage: si + s.stageOffset,
        epoch: epoch + 1,
        lr,
        loss,
        terms: meta.map((m, i) => ({
          name: m.name,
          ...(m.layer !== undefined ? { layer: m.layer } : {}),
          value: values[i],
          weight: m.weight,
        })),
        // The temperature soft-label used at this step (it may be scheduled).
        ...(ctx.losses.softLabel !== undefined && !ctx.regression ? { temperature: ctx.temperature } : {}),
        gradNorm: clipped.norm,
        examplesPerSec: rows.length / Math.max(1e-3, elapsedMs / 1000),
        elapsedMs,
        liveTensors: tf.memory().numTensors,
      });
    } finally {
      tf.dispose(kept);
      if (teacherOut) disposeBertOutputs(teacherOut);
      disposeInputs(inputs);
      labels.dispose();
    }
  }

  /** Evaluates, tracks the stage's criterion and the best model; true when the stage has plateaued. */
  private async evalAndTrack(
    stage: Stage,
    si: number,
    epoch: number,
    step: number,
    tracking: StageTracking,
  ): Promise<boolean> {
    const s = this.s;
    const hp = s.hiddenProjection;
    // The optional terms are measured on dev when some stage of the run trains them.
    const trains = (k: 'hiddenMse' | 'valueRelation' | 'embeddingMse') =>
      s.stages.some((st) => st.losses[k] !== undefined);
    const outcome = await evaluate(
      {
        student: s.model,
        teacher: s.teacher,
        pairs: s.pairs,
        headAverage: s.headAverage,
        projection: s.projection as tf.Tensor2D | undefined,
        terms: {
          hiddenMse: trains('hiddenMse'),
          valueRelation: trains('valueRelation'),
          embeddingMse: trains('embeddingMse'),
        },
        ...(hp ? { hiddenProjection: { weight: hp.weight as tf.Tensor2D, bias: hp.bias as tf.Tensor1D } } : {}),
      },
      s.data.info,
      s.data.dev,
      s.evalBatchSize,
      s.padId,
    );
    let isBest = false;
    let criterion: number;
    let improved: boolean;
    if (stage.kind === 'internal') {
      criterion = this.internalDevLoss(stage, outcome);
      improved = Number.isFinite(criterion) && (tracking.best === null || criterion < tracking.best - 1e-6);
    } else {
      criterion = outcome.mainMetric.value;
      improved = Number.isFinite(criterion) && (tracking.best === null || criterion > tracking.best);
      // The run's best (what best/ and the export hold) is the best dev metric of any stage that
      // trains the task head; selectBest only decides whether a stage ends on its own best weights.
      if (Number.isFinite(criterion) && (this.best === null || criterion > this.best.value)) {
        this.best = { metric: outcome.mainMetric.name, value: criterion, step: s.stepOffset + step };
        isBest = true;
      }
    }
    if (improved) {
      tracking.best = criterion;
      tracking.badEvals = 0;
      if (stage.selectBest) this.saveStageBest(si, step);
    } else tracking.badEvals++;
    this.sink.emit({
      type: 'eval',
      step: s.stepOffset + step,
      stage: si + s.stageOffset,
      epoch: epoch + 1,
      split: 'dev',
      metrics: outcome.metrics,
      mainMetric: outcome.mainMetric,
      perLayer: outcome.perLayer,
      ...(outcome.embeddingMse !== undefined ? { embeddingMse: outcome.embeddingMse } : {}),
      isBest,
    });
    if (isBest) {
      const dir = s.saveBest(s.model);
      this.sink.emit({ type: 'checkpoint', step: s.stepOffset + step, path: dir, reason: 'best' });
    }
    if (s.sample && s.teacher) this.emitAttentionSample(step);
    return stage.patience !== null && tracking.badEvals >= stage.patience;
  }

  /** Where a selectBest stage keeps the weights of its best evaluation until the stage ends. */
  private stageBestDir(): string {
    return path.join(this.s.checkpointsDir, 'stage-best');
  }

  /**
   * Saves the trained variables as they are (TF.js orientation; only restoreStageBest reads them).
   * On disk rather than in memory so a resumed stage can still go back to a best from before the kill.
   */
  private saveStageBest(si: number, step: number): void {
    const weights: NamedTensors = new Map();
    for (const v of this.vars)
      weights.set(v.name, { shape: [...v.variable.shape], data: (v.variable.dataSync() as Float32Array).slice() });
    writeDirAtomic(this.stageBestDir(), (tmp) => {
      fs.writeFileSync(
        path.join(tmp, 'weights.safetensors'),
        serializeSafetensors(weights, { format: 'distillery-stage-best' }),
      );
      fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify({ stage: si, step }) + '\n');
    });
  }

  /** Puts back the weights of stage `si`'s best evaluation; returns its step, or null when there is none. */
  private restoreStageBest(si: number): number | null {
    const dir = this.stageBestDir();
    let meta: { stage: number; step: number };
    try {
      meta = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { stage: number; step: number };
    } catch {
      return null;
    }
    if (meta.stage !== si) return null;
    const file = path.join(dir, 'weights.safetensors');
    const st = readSafetensorsFile(file);
    for (const v of this.vars) {
      const e = st.entries.get(v.name);
      if (!e) throw new Error(`${file} has no tensor "${v.name}"`);
      tf.tidy(() => v.variable.assign(tf.tensor(toFloat32(e, file), e.shape, 'float32')));
    }
    return meta.step;
  }

  /**
   * The stage's own objective on dev: its weighted internal terms over its active layers, at the
   * configured weights (not the scheduled ones, so that evaluations within a stage compare).
   */
  private internalDevLoss(stage: Stage, outcome: EvalOutcome): number {
    const w = stage.losses;
    let sum = 0;
    for (const p of stage.layers) {
      const l = outcome.perLayer.find((x) => x.student === p.student);
      if (!l) continue;
      for (const k of PER_LAYER_KEYS) {
        const weight = w[k];
        const value = l[k];
        if (weight && value !== undefined) sum += weight * value;
      }
    }
    if (w.embeddingMse && outcome.embeddingMse !== undefined) sum += w.embeddingMse * outcome.embeddingMse;
    return sum;
  }

  private emitAttentionSample(step: number): void {
    const s = this.s;
    const enc = s.sample!;
    const len = enc.inputIds.length;
    const inputs = toBertInputs({
      size: 1,
      seqLen: len,
      inputIds: Int32Array.from(enc.inputIds),
      tokenTypeIds: Int32Array.from(enc.tokenTypeIds),
      attentionMask: new Int32Array(len).fill(1),
    });
    // Value relations (MiniLM) go next to the attention maps only in runs that train value-relation.
    const wanted: StageLosses = s.stages.some((st) => st.losses.valueRelation !== undefined)
      ? { attentionKl: 1, valueRelation: 1 }
      : { attentionKl: 1 };
    const keepS = keepFor(s.pairs, 'student', wanted);
    const keepT = keepFor(s.pairs, 'teacher', wanted);
    const maps = tf.tidy(() => {
      const so = s.model.forward(inputs, {
        training: false,
        keep: keepS,
        topRows: topRowsFor(keepS, s.model.config.numHiddenLayers),
      });
      const to = s.teacher!.forward(inputs, {
        training: false,
        keep: keepT,
        topRows: topRowsFor(keepT, s.teacher!.config.numHiddenLayers),
      });
      return s.pairs.map((p) => {
        const pair: tf.Tensor4D[] = [to.attentions[p.teacher - 1], so.attentions[p.student - 1]];
        const tv = to.values?.[p.teacher - 1];
        const sv = so.values?.[p.student - 1];
        if (tv && sv) pair.push(valueRelationMaps(tv), valueRelationMaps(sv));
        return pair;
      });
    });
    const round = (x: number[][][]) => x.map((h) => h.map((r) => r.map((v) => Math.round(v * 1e4) / 1e4)));
    const finite = (x: number[][][] | undefined) =>
      x === undefined || x.every((h) => h.every((r) => r.every(Number.isFinite)));
    const first = (t: tf.Tensor4D | undefined) => (t ? round((t.arraySync() as number[][][][])[0]) : undefined);
    const layers = s.pairs
      .map((p, i) => {
        const [teacherMaps, studentMaps, teacherValueRelations, studentValueRelations] = maps[i].map(first);
        return {
          student: p.student,
          teacher: p.teacher,
          teacherMaps: teacherMaps!,
          studentMaps: studentMaps!,
          ...(teacherValueRelations && studentValueRelations ? { teacherValueRelations, studentValueRelations } : {}),
        };
        // Maps are plain numbers in the protocol; a diverged layer (NaN) has nothing to show.
      })
      .filter(
        (l) =>
          finite(l.teacherMaps) &&
          finite(l.studentMaps) &&
          finite(l.teacherValueRelations) &&
          finite(l.studentValueRelations),
      );
    tf.dispose(maps.flat());
    disposeInputs(inputs);
    if (layers.length > 0)
      this.sink.emit({ type: 'attention-sample', step: s.stepOffset + step, tokens: enc.tokens, layers });
  }
}
