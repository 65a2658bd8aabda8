/**
 * One run of a config, start to finish: backend, data, teacher (loaded or trained), student
 * (initialised from the teacher), stage plan, training loop, export. `startRun` makes a new run
 * folder; `resumeRun` continues one from its latest checkpoints after a stop or a kill -9.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { LOSS_NAME_BY_KEY, ResolvedConfig, isScratchTraining } from '../config/types';
import { loadConfigFile, resolveConfig } from '../config/validate';
import { initBackend, BackendInfo, BackendRequest } from '../model/backend';
import { BertModel, countParameters } from '../model/bert';
import { BertConfig } from '../model/config';
import { loadCheckpoint, saveCheckpoint } from '../model/checkpoint';
import { WordPieceTokenizer } from '../data/tokenizer';
import { buildWordPieceVocab } from '../data/vocab-builder';
import { resolveMapping, LayerPair } from '../distill/mapping';
import { LOSS_KEYS, LossWeights, planCustomStages, planStages, Stage } from '../distill/plan';
import { initStudentFromTeacher, studentConfig } from '../distill/student-init';
import { PlannedStage, RunStartedEvent } from '../protocol/events';
import { kernelsReport } from '../model/fast-kernels';
import { resolveModelFolder } from '../model/model-folder';
import { UserError, isUserError } from '../util/errors';
import { recoverDir, writeFileAtomic } from '../util/atomic-fs';
import { isProcessAlive } from '../util/process-alive';
import { EventSink } from './event-sink';
import { loadTaskData, readRunDatasets, TaskData } from './task-data';
import { NonFiniteLossError, StopSignal, TrainingLoop } from './loop';
import { HIDDEN_PROJECTION_BIAS, HIDDEN_PROJECTION_WEIGHT, listCheckpoints, loadTrainingCheckpoint, PROJECTION_NAME, TrainingCheckpoint } from './checkpoint-store';
import { RunFolder } from './run-folder';
import { readEvents } from './run-summary';
import { exportStudent } from './export';
import { TeacherCache, TeacherCacheStats } from './teacher-cache';

export interface RunIO {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  interactive?: boolean;
  stop: StopSignal;
  /** Overrides the config's backend (the CLI's --backend). */
  backend?: BackendRequest;
  /** Train the teacher (teacher.train) and stop: no student (the CLI's --teacher-only). */
  teacherOnly?: boolean;
  /** Turns teacherCache.enabled on for a new run (the CLI's --teacher-cache); kept in its config.json. */
  teacherCache?: boolean;
}

export interface RunOutcome {
  runDir: string;
  status: 'finished' | 'stopped' | 'failed';
  best?: { metric: string; value: number; step: number } | null;
  studentDir?: string;
  error?: unknown;
}

/** Validates the config, creates runs/<id>/ and runs it. */
export async function startRun(configFile: string, io: RunIO): Promise<RunOutcome> {
  const warnings: string[] = [];
  // A missing or unreadable config is the user's to fix (a UserError), not a crash.
  const resolved = loadConfigFile(configFile, { onWarning: (p) => warnings.push(`${p.pathText}: ${p.message}`) });
  const config = io.teacherCache ? { ...resolved, teacherCache: { ...resolved.teacherCache, enabled: true } } : resolved;
  if (io.teacherOnly && !('train' in config.teacher)) {
    throw new UserError('--teacher-only trains the teacher, but this config uses a ready one (teacher.checkpoint)', {
      where: configFile, fix: 'describe the teacher to train under teacher.train, or drop --teacher-only',
    });
  }
  const name = config.name ?? path.basename(configFile).replace(/\.distill\.json$|\.json$/i, '');
  const folder = RunFolder.create(config.runsDir, name);
  writeFileAtomic(folder.configFile, JSON.stringify(config, null, 2) + '\n');
  // Kept in run.json so that `resume` also stops after the teacher.
  folder.writeInfo({ status: 'running', configFile: path.resolve(configFile), ...(io.teacherOnly ? { teacherOnly: true } : {}) });
  return execute(folder, config, io, warnings, false);
}

/** Continues a run from its newest checkpoints; the remaining steps equal an uninterrupted run's. */
export async function resumeRun(runDir: string, io: RunIO): Promise<RunOutcome> {
  const folder = RunFolder.open(runDir);
  const info = folder.readInfo();
  if (info?.status === 'finished') {
    throw new UserError('this run has already finished', { where: runDir, fix: `its student is in ${folder.studentDir}; start a new run with \`distillery train\`` });
  }
  if (info?.status === 'running' && info.pid !== process.pid && isProcessAlive(info.pid)) {
    throw new UserError(`this run is still running (pid ${info.pid})`, { where: runDir, fix: 'stop it first (distillery stop, or kill the process), then resume' });
  }
  const config = resolveConfig(fs.readFileSync(folder.configFile, 'utf8'), folder.configFile);
  folder.writeInfo({ status: 'running', pid: process.pid });
  return execute(folder, config, { ...io, teacherOnly: io.teacherOnly || info?.teacherOnly === true }, [], true);
}

interface Prepared {
  backend: BackendInfo;
  /** The matrix-product kernels the backend runs (blas, untransposed, stock), and the addon or why not. */
  kernels: ReturnType<typeof kernelsReport>;
  tokenizer: WordPieceTokenizer;
  data: TaskData;
  vocabFile: string;
  doLowerCase: boolean;
}

async function execute(folder: RunFolder, config: ResolvedConfig, io: RunIO, warnings: string[], resuming: boolean): Promise<RunOutcome> {
  // Read before this invocation appends its own run-started.
  const previousStart = resuming ? readEvents(folder.eventsFile).find((e): e is RunStartedEvent => e.type === 'run-started') : undefined;
  const sink = new EventSink(folder.id, folder.eventsFile, { stdout: io.stdout, stderr: io.stderr, interactive: io.interactive });
  const started = Date.now();
  const disposables: Array<{ dispose(): void }> = [];
  let lastCheckpoint: () => string | null = () => listCheckpoints(folder.checkpointsDir).pop() ?? null;
  try {
    // Lets the tests drive the internal-error path of a run (test/cli-errors.test.ts).
    if (process.env.DISTILLERY_TEST_INTERNAL_ERROR === 'run') throw new Error('deliberate internal error in a run (DISTILLERY_TEST_INTERNAL_ERROR)');
    const prep = await prepare(folder, config, io);
    const seed = config.optim.seed;

    // ---- teacher -------------------------------------------------------------------------
    const teacherSpec = config.teacher;
    const trainsTeacher = 'train' in teacherSpec;
    const teacherOut = trainsTeacher ? teacherSpec.output ?? folder.teacherDir : teacherSpec.checkpoint;
    // The teacher may live outside the run folder (teacher.output): put it back if a kill left it aside.
    recoverDir(teacherOut);
    const teacherReady = !trainsTeacher || fs.existsSync(path.join(teacherOut, 'READY'));
    // A teacher already trained into a shared output folder by an earlier run is used as it is:
    // this run plans no teacher stage for it (a run that trained it has teacher checkpoints).
    const trainedHere = trainsTeacher && (!teacherReady || fs.existsSync(folder.teacherCheckpointsDir));
    const info = prep.data.info;
    const labels = info.isRegression ? ['LABEL_0'] : info.labels;
    let teacherCfg: BertConfig;
    let teacherTraining: { model: BertModel; stage: Stage; resume?: TrainingCheckpoint } | undefined;
    if (!trainsTeacher || teacherReady) {
      teacherCfg = loadCheckpoint(teacherOut, { numLabels: info.numLabels, labels, regression: info.isRegression }).config;
    } else {
      const t = teacherSpec.train;
      const latest = listCheckpoints(folder.teacherCheckpointsDir).pop();
      let model: BertModel;
      if (isScratchTraining(t)) {
        teacherCfg = {
          vocabSize: prep.tokenizer.vocabSize, hiddenSize: t.architecture.hiddenSize, numHiddenLayers: t.architecture.layers,
          numAttentionHeads: t.architecture.heads, intermediateSize: t.architecture.intermediateSize, hiddenAct: 'gelu',
          hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, maxPositionEmbeddings: t.architecture.maxPositions,
          typeVocabSize: 2, layerNormEps: 1e-12, initializerRange: 0.02, padTokenId: prep.tokenizer.padId,
          numLabels: info.numLabels, problemType: info.isRegression ? 'regression' : 'single_label_classification', labels,
        };
        model = BertModel.randomInit(teacherCfg, seed);
      } else {
        const base = loadCheckpoint(t.from, { numLabels: info.numLabels, labels, regression: info.isRegression });
        teacherCfg = base.config;
        model = BertModel.fromNamedTensors(base.config, base.tensors, { initHeadSeed: seed, source: t.from });
        for (const note of base.notes) sink.emit({ type: 'log', level: 'info', message: `teacher base: ${note}` });
      }
      disposables.push(model);
      let resume: TrainingCheckpoint | undefined;
      if (latest) {
        resume = loadTrainingCheckpoint(latest);
        model.dispose();
        model = BertModel.fromNamedTensors(teacherCfg, resume.weights, { source: path.join(latest, 'model.safetensors') });
        disposables.push(model);
      }
      const stage: Stage = {
        index: 0, name: 'teacher training', kind: 'classification', layers: [],
        losses: { hardLabel: 1 }, temperature: 1,
        epochs: t.epochs, patience: null, selectBest: true,
      };
      teacherTraining = { model, stage, resume };
    }

    // ---- student -------------------------------------------------------------------------
    const sCfg = applyDropout(studentConfig(teacherCfg, {
      layers: config.student.layers, hiddenSize: config.student.hiddenSize, heads: config.student.heads, intermediateSize: config.student.intermediateSize,
    }), config.optim.dropout);
    const pairs = resolveMapping(config.mapping, sCfg.numHiddenLayers, teacherCfg.numHiddenLayers);
    const stages = io.teacherOnly ? [] : planFor(config, pairs);
    // A run that trains its teacher numbers the teacher stage first, also when resumed after it.
    const teacherPlan = 'train' in teacherSpec && trainedHere ? teacherSpec.train : undefined;
    const plannedTeacher: PlannedStage[] = teacherPlan ? [{ index: 0, name: 'teacher training', kind: 'teacher', layers: [], losses: ['hard-label'], epochs: teacherPlan.epochs }] : [];
    const offset = plannedTeacher.length;
    const teacherSteps = teacherPlan ? teacherPlan.epochs * Math.ceil(prep.data.train.encodings.length / teacherPlan.batchSize) : 0;
    const plan: PlannedStage[] = [
      ...plannedTeacher,
      ...stages.map((s) => ({
        index: s.index + offset, name: s.name, kind: s.kind, layers: s.layers.map((p) => [p.student, p.teacher] as [number, number]),
        losses: LOSS_KEYS.filter((k) => s.losses[k] !== undefined).map((k) => LOSS_NAME_BY_KEY[k]),
        epochs: s.epochs,
      })),
    ];
    const studentResumeDir = listCheckpoints(folder.checkpointsDir).pop();
    const studentResume = studentResumeDir ? loadTrainingCheckpoint(studentResumeDir) : undefined;
    // On the event step axis: student steps follow the teacher's.
    const resumedFrom = studentResume
      ? { checkpoint: studentResume.dir, step: teacherSteps + studentResume.state.position.globalStep }
      : teacherTraining?.resume ? { checkpoint: teacherTraining.resume.dir, step: teacherTraining.resume.state.position.globalStep } : undefined;
    sink.emit({
      type: 'run-started', runDir: folder.dir, config, backend: { kind: prep.backend.kind, skipped: prep.backend.skipped, ...prep.kernels },
      params: { teacher: countParameters(teacherCfg), student: countParameters(sCfg) }, plan: { stages: plan },
      dataset: { train: prep.data.train.encodings.length, eval: prep.data.dev.encodings.length },
      ...(resuming && resumedFrom ? { resumedFrom } : {}),
    });
    for (const w of warnings) sink.emit({ type: 'warning', message: w, code: 'config' });
    if (resuming && previousStart) {
      const changed = resumeMismatch(previousStart, prep.backend.kind, prep.kernels.kernels);
      if (changed) sink.emit({ type: 'warning', code: 'resume-backend', message: changed });
    }
    if (trainsTeacher && !trainedHere) {
      sink.emit({ type: 'log', level: 'info', message: `teacher: ${teacherOut} was already trained (it has a READY file), so this run uses it as it is` });
    }

    const sample = pickSample(prep.data);
    const common = {
      data: prep.data, evalEverySteps: config.eval.everySteps, evalBatchSize: config.eval.batchSize,
      checkpointEverySteps: config.checkpoint.everySteps, keepCheckpoints: config.checkpoint.keep, padId: prep.tokenizer.padId,
    };
    const saveHf = (dir: string) => (m: BertModel): string => {
      saveCheckpoint(dir, m.config, m.toNamedTensors(), { vocabFile: prep.vocabFile, tokenizerConfig: { doLowerCase: prep.doLowerCase } });
      return dir;
    };

    // ---- teacher training (when the config asks for it) -----------------------------------
    if (teacherTraining) {
      const t = (config.teacher as { train: { lr: number; batchSize: number } }).train;
      const loop = new TrainingLoop({
        ...common, phase: 'teacher', model: teacherTraining.model, pairs: [], headAverage: false, stages: [teacherTraining.stage],
        optim: { ...config.optim, lr: t.lr }, batchSize: t.batchSize,
        checkpointsDir: folder.teacherCheckpointsDir, saveBest: saveHf(teacherOut), stageOffset: 0, stepOffset: 0,
      }, sink, io.stop);
      lastCheckpoint = () => loop.latestCheckpoint();
      const r = await loop.run(teacherTraining.resume);
      if (r.outcome === 'stopped') return stopped(folder, sink, io, r.checkpoint);
      writeFileAtomic(path.join(teacherOut, 'READY'), `${new Date().toISOString()}\n`);
      teacherTraining.model.dispose();
      if (io.teacherOnly) return finished(folder, sink, started, r.best ?? undefined, teacherOut, 'teacher');
    } else if (io.teacherOnly) {
      return finished(folder, sink, started, undefined, teacherOut, 'teacher');
    }

    const teacherCk = loadCheckpoint(teacherOut, { numLabels: info.numLabels, labels, regression: info.isRegression });
    if (!teacherCk.hasHead) {
      throw new UserError('the teacher checkpoint has no trained task head, so it cannot teach this task', {
        where: teacherOut, fix: 'fine-tune it first: set teacher.train.from to this folder (and teacher.train.epochs), or use a BertForSequenceClassification checkpoint',
      });
    }
    const teacher = BertModel.fromNamedTensors(teacherCk.config, teacherCk.tensors, { trainable: false, source: teacherOut });
    disposables.push(teacher);

    let resume: TrainingCheckpoint | undefined = studentResume;
    const student = buildStudent(config, sCfg, teacherCk.tensors, teacherCk.config, pairs, resume);
    disposables.push(student);
    let projection: tf.Variable | undefined;
    if (sCfg.hiddenSize !== teacherCk.config.hiddenSize && config.losses.clsCosine > 0) {
      const saved = resume?.weights.get(PROJECTION_NAME);
      const init = saved ? tf.tensor2d(saved.data, saved.shape as [number, number]) : tf.randomNormal([sCfg.hiddenSize, teacherCk.config.hiddenSize], 0, 0.02, 'float32', seed) as tf.Tensor2D;
      projection = tf.variable(init, true, `cls_projection_${Date.now()}`);
      init.dispose();
      disposables.push(projection);
    }
    // TinyBERT's fit_dense: one projection shared by hidden-mse and embedding-mse (as in TinyBERT),
    // when some stage trains them and the widths differ. Saved in checkpoints like the one above.
    let hiddenProjection: { weight: tf.Variable; bias: tf.Variable } | undefined;
    const mseStages = stages.some((st) => st.losses.hiddenMse !== undefined || st.losses.embeddingMse !== undefined);
    if (sCfg.hiddenSize !== teacherCk.config.hiddenSize && mseStages) {
      const [dS, dT] = [sCfg.hiddenSize, teacherCk.config.hiddenSize];
      const savedW = resume?.weights.get(HIDDEN_PROJECTION_WEIGHT);
      const savedB = resume?.weights.get(HIDDEN_PROJECTION_BIAS);
      const w0 = savedW ? tf.tensor2d(savedW.data, savedW.shape as [number, number]) : tf.randomNormal([dS, dT], 0, 0.02, 'float32', seed + 2) as tf.Tensor2D;
      const b0 = savedB ? tf.tensor1d(savedB.data) : tf.zeros([dT]) as tf.Tensor1D;
      const id = Date.now();
      hiddenProjection = { weight: tf.variable(w0, true, `hidden_projection_w_${id}`), bias: tf.variable(b0, true, `hidden_projection_b_${id}`) };
      tf.dispose([w0, b0]);
      disposables.push(hiddenProjection.weight, hiddenProjection.bias);
    }
    if (resume && resume.state.phase !== 'student') resume = undefined;

    const cache = config.teacherCache.enabled
      ? new TeacherCache({ maxBytes: Math.round(config.teacherCache.maxMiB * 2 ** 20), attentionPrecision: config.teacherCache.attentionPrecision })
      : undefined;
    const loop = new TrainingLoop({
      ...common, phase: 'student', model: student, teacher, pairs, projection, hiddenProjection, teacherCache: cache,
      headAverage: config.losses.attentionKlHeads === 'average' && sCfg.numAttentionHeads !== teacherCk.config.numAttentionHeads,
      stages, optim: config.optim, batchSize: config.optim.batchSize, checkpointsDir: folder.checkpointsDir,
      saveBest: saveHf(folder.bestDir), sample, stageOffset: offset, stepOffset: teacherSteps,
    }, sink, io.stop);
    lastCheckpoint = () => loop.latestCheckpoint();
    const r = await loop.run(resume);
    if (cache) sink.emit({ type: 'log', level: 'info', message: describeCache(cache.stats()) });
    if (r.outcome === 'stopped') return stopped(folder, sink, io, r.checkpoint);
    if (!fs.existsSync(path.join(folder.bestDir, 'model.safetensors'))) saveHf(folder.bestDir)(student);
    const exported = await exportStudent(folder.dir, { out: folder.studentDir });
    return finished(folder, sink, started, r.best ?? undefined, exported.dir, 'student');
  } catch (e) {
    const ck = safe(lastCheckpoint);
    const base = { lastCheckpoint: ck ?? undefined };
    if (e instanceof NonFiniteLossError) {
      sink.emit({
        type: 'run-failed', reason: e.message, where: e.term,
        // Resume replays the same steps exactly, so something must change first.
        fix: `lower optim.lr or raise optim.warmup, or check the data and the initial weights; to continue from the last good checkpoint, change ${folder.configFile} and run distillery resume`,
        ...base,
      });
    } else if (isUserError(e)) {
      sink.emit({ type: 'run-failed', reason: e.message, ...(e.where ? { where: e.where } : {}), ...(e.fix ? { fix: e.fix } : {}), ...base });
    } else {
      sink.emit({ type: 'run-failed', reason: e instanceof Error ? `${e.message}` : String(e), ...base });
    }
    folder.writeInfo({ status: 'failed', message: e instanceof Error ? e.message : String(e) });
    return { runDir: folder.dir, status: 'failed', error: e };
  } finally {
    for (const d of disposables) {
      try { d.dispose(); } catch { /* already disposed */ }
    }
  }
}


function safe<T>(f: () => T): T | null {
  try { return f(); } catch { return null; }
}

/**
 * Resume replays an uninterrupted run exactly only on the same backend and kernels: they round
 * differently and draw different dropout masks. Says what changed, or undefined.
 */
export function resumeMismatch(first: Pick<RunStartedEvent, 'backend'>, kind: string, kernels: string): string | undefined {
  const was = `${first.backend.kind}${first.backend.kernels ? ` with ${first.backend.kernels} kernels` : ''}`;
  const now = `${kind} with ${kernels} kernels`;
  if (first.backend.kind === kind && (first.backend.kernels === undefined || first.backend.kernels === kernels)) return undefined;
  return `this run started on ${was} and resumes on ${now}: training goes on from the checkpoint, but the remaining steps will not `
    + `match an uninterrupted run bit for bit (different rounding and dropout masks); resume with --backend ${first.backend.kind}`
    + `${first.backend.kernels ? ` and DISTILLERY_KERNELS=${first.backend.kernels}` : ''} for an exact continuation`;
}

function describeCache(s: TeacherCacheStats): string {
  const total = s.hits + s.misses;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  return `teacher cache: ${s.hits} of ${total} example passes served from the cache (${total ? ((100 * s.hits) / total).toFixed(1) : '0.0'} %), `
    + `${s.teacherPasses} teacher forward passes; ${s.entries} examples held in ${mib(s.bytes)} of ${mib(s.maxBytes)} MiB`
    + (s.rejected ? `; ${s.rejected} not stored for lack of room (raise teacherCache.maxMiB to keep them)` : '');
}

/** A finished run: its best evaluation and the model it made (the student, or the teacher with --teacher-only). */
function finished(folder: RunFolder, sink: EventSink, started: number, best: RunOutcome['best'] | undefined, modelDir: string, what: 'student' | 'teacher'): RunOutcome {
  const trainedNow = best ? `best dev ${best.metric} ${best.value.toFixed(4)} at step ${best.step}; ` : what === 'teacher' ? 'the teacher was already trained (READY); ' : '';
  const summary = `run ${folder.id} finished${what === 'teacher' ? ' (teacher only)' : ''}: ${trainedNow}${what} in ${modelDir}`;
  sink.emit({ type: 'run-finished', ...(best ? { best } : {}), studentDir: modelDir, durationMs: Date.now() - started, summary });
  folder.writeInfo({ status: 'finished', message: summary });
  return { runDir: folder.dir, status: 'finished', best, studentDir: modelDir };
}

function stopped(folder: RunFolder, sink: EventSink, io: RunIO, checkpoint: string): RunOutcome {
  sink.emit({ type: 'run-stopped', signal: io.stop.requested ?? 'stop', checkpoint });
  folder.writeInfo({ status: 'stopped', message: `stopped by ${io.stop.requested}; resume with: distillery resume ${folder.dir}` });
  return { runDir: folder.dir, status: 'stopped' };
}

async function prepare(folder: RunFolder, config: ResolvedConfig, io: RunIO): Promise<Prepared> {
  const backend = await initBackend(io.backend ?? config.backend);
  const t = config.teacher;
  let tokenizer: WordPieceTokenizer;
  let vocabFile: string;
  if ('checkpoint' in t || !isScratchTraining(t.train)) {
    // A sentence-transformers root keeps its vocabulary beside the encoder, in its Transformer folder.
    const modelDir = resolveModelFolder('checkpoint' in t ? t.checkpoint : t.train.from).dir;
    tokenizer = WordPieceTokenizer.fromModelDir(modelDir);
    vocabFile = path.join(modelDir, 'vocab.txt');
  } else if (t.train.vocab) {
    tokenizer = WordPieceTokenizer.fromVocabFile(t.train.vocab);
    vocabFile = t.train.vocab;
  } else {
    vocabFile = folder.vocabFile;
    if (!fs.existsSync(vocabFile)) {
      // Only from the rows the run trains on: with task.trainFraction < 1 the others are held out
      // (a data-scarcity run must not see them), and a vocabulary built from them would give the
      // teacher, and the student that shares its vocabulary, their words.
      const { train } = readRunDatasets(config.task, config.optim.seed);
      const texts = train.examples.flatMap((e) => (e.textB === undefined ? [e.textA] : [e.textA, e.textB]));
      writeFileAtomic(vocabFile, buildWordPieceVocab(texts, { maxSize: 8000, lowercase: true }).join('\n') + '\n');
    }
    tokenizer = WordPieceTokenizer.fromVocabFile(vocabFile);
  }
  const data = loadTaskData(config.task, tokenizer, config.optim.seed);
  if (data.train.encodings.length === 0) throw new UserError('the training set is empty', { where: 'task', fix: 'check task.dataDir and task.trainFraction' });
  return { backend, kernels: kernelsReport(backend.tfName), tokenizer, data, vocabFile, doLowerCase: tokenizer.options.lowercase };
}

function applyDropout(c: BertConfig, dropout: number | undefined): BertConfig {
  return dropout === undefined ? c : { ...c, hiddenDropoutProb: dropout, attentionProbsDropoutProb: dropout };
}

/** The configured loss weights, as the plan takes them (0 = off). */
export function lossWeights(config: ResolvedConfig): LossWeights {
  const l = config.losses;
  return {
    attentionKl: l.attentionKl, clsCosine: l.clsCosine, softLabel: l.softLabel.weight, hardLabel: l.hardLabel,
    hiddenMse: l.hiddenMse, embeddingMse: l.embeddingMse, valueRelation: l.valueRelation, temperature: l.softLabel.temperature,
  };
}

/** The run's stages, each with the losses it trains and their weights: what the trainer runs. */
export function planFor(config: ResolvedConfig, pairs: LayerPair[]): Stage[] {
  const weights = lossWeights(config);
  const schedules = config.losses.schedules;
  if (config.algorithm === 'custom') return planCustomStages(config.stages.custom ?? [], pairs, weights, schedules);
  return planStages(config.algorithm, {
    pairs,
    weights,
    schedules,
    epochsPerLayer: config.stages.epochsPerLayer,
    internalAllEpochs: config.stages.internalAllEpochs,
    classificationEpochs: config.stages.classificationEpochs,
    patience: config.stages.patience,
  });
}

export function buildStudent(config: ResolvedConfig, sCfg: BertConfig, teacherTensors: Map<string, { shape: number[]; data: Float32Array }>, teacherCfg: BertConfig, pairs: LayerPair[], resume: TrainingCheckpoint | undefined): BertModel {
  if (resume && resume.state.phase === 'student') {
    return BertModel.fromNamedTensors(sCfg, resume.weights, { source: path.join(resume.dir, 'model.safetensors') });
  }
  const init = config.student.init;
  if (init === 'teacher-layers') {
    return BertModel.fromNamedTensors(sCfg, initStudentFromTeacher(teacherTensors, teacherCfg, sCfg, pairs), { source: 'teacher' });
  }
  if (init === 'random') {
    // Keep the teacher's task head size and labels; everything else fresh.
    return BertModel.randomInit(sCfg, config.optim.seed + 1);
  }
  const ck = loadCheckpoint(init.checkpoint, { numLabels: sCfg.numLabels, labels: sCfg.labels, regression: sCfg.problemType === 'regression' });
  const c = ck.config;
  if (c.numHiddenLayers !== sCfg.numHiddenLayers || c.hiddenSize !== sCfg.hiddenSize || c.numAttentionHeads !== sCfg.numAttentionHeads || c.intermediateSize !== sCfg.intermediateSize) {
    throw new UserError(
      `the student checkpoint has ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ${c.numAttentionHeads} heads, intermediate ${c.intermediateSize}; the config asks for ${sCfg.numHiddenLayers}, ${sCfg.hiddenSize}, ${sCfg.numAttentionHeads}, ${sCfg.intermediateSize}`,
      { where: 'student.init.checkpoint', fix: 'set student.layers/hiddenSize/heads/intermediateSize to match the checkpoint' },
    );
  }
  return BertModel.fromNamedTensors({ ...sCfg, vocabSize: c.vocabSize }, ck.tensors, { initHeadSeed: config.optim.seed, source: init.checkpoint });
}

/** The dev example shown in attention heatmaps: the first one of 8–32 tokens (else the shortest). */
function pickSample(data: TaskData) {
  const encs = data.dev.encodings;
  if (encs.length === 0) return undefined;
  return encs.find((e) => e.inputIds.length >= 8 && e.inputIds.length <= 32) ?? [...encs].sort((a, b) => a.inputIds.length - b.inputIds.length)[0];
}
