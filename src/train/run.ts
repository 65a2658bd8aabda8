/**
 * One run of a config, start to finish: backend, data, teacher (loaded or trained), student
 * (initialised from the teacher), stage plan, training loop, export. `startRun` makes a new run
 * folder; `resumeRun` continues one from its latest checkpoints after a stop or a kill -9.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ResolvedConfig, isScratchTraining } from '../config/types';
import { loadConfigFile, resolveConfig } from '../validate/validate';
import { initBackend, BackendInfo, BackendRequest } from '../model/backend';
import { BertModel, countParameters } from '../model/bert';
import { BertConfig } from '../model/config';
import { loadCheckpoint, saveCheckpoint } from '../model/checkpoint';
import { WordPieceTokenizer } from '../data/tokenizer';
import { buildWordPieceVocab } from '../data/vocab-builder';
import { resolveMapping, LayerPair } from '../distill/mapping';
import { planFor, plannedStages, Stage } from '../distill/plan';
import { initStudentFromTeacher, studentConfig } from '../distill/student-init';
import { RunStartedEvent } from '../protocol/events';
import { kernelsReport } from '../model/fast-kernels';
import { resolveModelFolder } from '../model/model-folder';
import { UserError, isUserError } from '../util/errors';
import { recoverDir, writeFileAtomic } from '../util/atomic-fs';
import { isProcessAlive } from '../util/process-alive';
import { EventSink } from './event-sink';
import { loadTaskData, readRunDatasets, TaskData } from './task-data';
import { LoopResult, NonFiniteLossError, StopSignal, TrainingLoop } from './loop';
import {
  HIDDEN_PROJECTION_BIAS,
  HIDDEN_PROJECTION_WEIGHT,
  listCheckpoints,
  loadTrainingCheckpoint,
  PROJECTION_NAME,
  TrainingCheckpoint,
} from './checkpoint-store';
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
  const config = io.teacherCache
    ? { ...resolved, teacherCache: { ...resolved.teacherCache, enabled: true } }
    : resolved;
  if (io.teacherOnly && !('train' in config.teacher)) {
    throw new UserError('--teacher-only trains the teacher, but this config uses a ready one (teacher.checkpoint)', {
      where: configFile,
      fix: 'describe the teacher to train under teacher.train, or drop --teacher-only',
    });
  }
  const name = config.name ?? path.basename(configFile).replace(/\.distill\.json$|\.json$/i, '');
  const folder = RunFolder.create(config.runsDir, name);
  writeFileAtomic(folder.configFile, JSON.stringify(config, null, 2) + '\n');
  // Kept in run.json so that `resume` also stops after the teacher.
  folder.writeInfo({
    status: 'running',
    configFile: path.resolve(configFile),
    ...(io.teacherOnly ? { teacherOnly: true } : {}),
  });
  return execute(folder, config, io, warnings, false);
}

/** Continues a run from its newest checkpoints; the remaining steps equal an uninterrupted run's. */
export async function resumeRun(runDir: string, io: RunIO): Promise<RunOutcome> {
  const folder = RunFolder.open(runDir);
  const info = folder.readInfo();
  if (info?.status === 'finished') {
    throw new UserError('this run has already finished', {
      where: runDir,
      fix: `its student is in ${folder.studentDir}; start a new run with \`distillery train\``,
    });
  }
  if (info?.status === 'running' && info.pid !== process.pid && isProcessAlive(info.pid)) {
    throw new UserError(`this run is still running (pid ${info.pid})`, {
      where: runDir,
      fix: 'stop it first (distillery stop, or kill the process), then resume',
    });
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

/** What the parts of one invocation of a run share. */
interface RunContext {
  folder: RunFolder;
  config: ResolvedConfig;
  io: RunIO;
  sink: EventSink;
  prep: Prepared;
  /** Disposed when the invocation ends, however it ends. */
  disposables: Array<{ dispose(): void }>;
}

async function execute(
  folder: RunFolder,
  config: ResolvedConfig,
  io: RunIO,
  warnings: string[],
  resuming: boolean,
): Promise<RunOutcome> {
  // Read before this invocation appends its own run-started.
  const previousStart = resuming
    ? readEvents(folder.eventsFile).find((e): e is RunStartedEvent => e.type === 'run-started')
    : undefined;
  const sink = new EventSink(folder.id, folder.eventsFile, {
    stdout: io.stdout,
    stderr: io.stderr,
    interactive: io.interactive,
  });
  const started = Date.now();
  const disposables: Array<{ dispose(): void }> = [];
  let lastCheckpoint: () => string | null = () => listCheckpoints(folder.checkpointsDir).pop() ?? null;
  const follow = (loop: TrainingLoop): TrainingLoop => {
    lastCheckpoint = () => loop.latestCheckpoint();
    return loop;
  };
  try {
    // Lets the tests drive the internal-error path of a run (test/integration/cli-errors.test.ts).
    if (process.env.DISTILLERY_TEST_INTERNAL_ERROR === 'run')
      throw new Error('deliberate internal error in a run (DISTILLERY_TEST_INTERNAL_ERROR)');
    const run: RunContext = { folder, config, io, sink, prep: await prepare(folder, config, io), disposables };
    const teacher = prepareTeacher(run);
    const sCfg = applyDropout(
      studentConfig(teacher.config, {
        layers: config.student.layers,
        hiddenSize: config.student.hiddenSize,
        heads: config.student.heads,
        intermediateSize: config.student.intermediateSize,
      }),
      config.optim.dropout,
    );
    const pairs = resolveMapping(config.mapping, sCfg.numHiddenLayers, teacher.config.numHiddenLayers);
    // A run that trains its teacher numbers the teacher stage first, also when resumed after it.
    const stages = planFor(config, pairs, { teacher: teacher.trainedHere, student: !io.teacherOnly });
    const teacherStage = stages.find((s) => s.kind === 'teacher');
    const studentStages = stages.filter((s) => s.kind !== 'teacher');
    const studentResumeDir = listCheckpoints(folder.checkpointsDir).pop();
    const studentResume = studentResumeDir ? loadTrainingCheckpoint(studentResumeDir) : undefined;
    // On the event step axis: student steps follow the teacher's.
    const teacherSteps =
      teacherStage && 'train' in config.teacher
        ? teacherStage.epochs * Math.ceil(run.prep.data.train.encodings.length / config.teacher.train.batchSize)
        : 0;
    const resumedFrom = studentResume
      ? { checkpoint: studentResume.dir, step: teacherSteps + studentResume.state.position.globalStep }
      : teacher.training?.resume
        ? { checkpoint: teacher.training.resume.dir, step: teacher.training.resume.state.position.globalStep }
        : undefined;
    announce(run, { teacher, sCfg, stages, warnings, previousStart, resumedFrom: resuming ? resumedFrom : undefined });

    if (teacher.training && teacherStage) {
      const r = await trainTeacher(run, teacher.dir, teacher.training, teacherStage, follow);
      if (r.outcome === 'stopped') return stopped(folder, sink, io, r.checkpoint);
      if (io.teacherOnly) return finished(folder, sink, started, r.best ?? undefined, teacher.dir, 'teacher');
    } else if (io.teacherOnly) {
      return finished(folder, sink, started, undefined, teacher.dir, 'teacher');
    }

    const models = buildModels(run, teacher.dir, sCfg, pairs, studentStages, studentResume);
    const r = await distil(
      run,
      models,
      pairs,
      studentStages,
      { stageOffset: stages.length - studentStages.length, stepOffset: teacherSteps },
      follow,
    );
    if (r.outcome === 'stopped') return stopped(folder, sink, io, r.checkpoint);
    return await finishStudent(run, models.student, r.best ?? undefined, started);
  } catch (e) {
    return failed(folder, sink, e, safe(lastCheckpoint));
  } finally {
    for (const d of disposables) {
      try {
        d.dispose();
      } catch {
        /* already disposed */
      }
    }
  }
}

/** The teacher as this invocation finds it: ready, or still to train (then with the model to train). */
interface TeacherSetup {
  /** Where the teacher is, or goes once trained. */
  dir: string;
  config: BertConfig;
  /** This run trains (or trained) the teacher: it plans the teacher's stage. */
  trainedHere: boolean;
  /** Set while the teacher still needs training: the model and the checkpoint to resume from. */
  training?: { model: BertModel; resume?: TrainingCheckpoint };
}

function taskHead(data: TaskData): { numLabels: number; labels: string[]; regression: boolean } {
  const info = data.info;
  return {
    numLabels: info.numLabels,
    labels: info.isRegression ? ['LABEL_0'] : info.labels,
    regression: info.isRegression,
  };
}

/** Finds the teacher, or builds the model to train it from (scratch, a base checkpoint, or its latest checkpoint). */
function prepareTeacher(run: RunContext): TeacherSetup {
  const { folder, config, prep, sink } = run;
  const spec = config.teacher;
  const trains = 'train' in spec;
  const dir = trains ? (spec.output ?? folder.teacherDir) : spec.checkpoint;
  // The teacher may live outside the run folder (teacher.output): put it back if a kill left it aside.
  recoverDir(dir);
  const ready = !trains || fs.existsSync(path.join(dir, 'READY'));
  // A teacher already trained into a shared output folder by an earlier run is used as it is:
  // this run plans no teacher stage for it (a run that trained it has teacher checkpoints).
  const trainedHere = trains && (!ready || fs.existsSync(folder.teacherCheckpointsDir));
  const head = taskHead(prep.data);
  if (!trains || ready) return { dir, config: loadCheckpoint(dir, head).config, trainedHere };

  const t = spec.train;
  const seed = config.optim.seed;
  let teacherCfg: BertConfig;
  let model: BertModel;
  if (isScratchTraining(t)) {
    teacherCfg = {
      vocabSize: prep.tokenizer.vocabSize,
      hiddenSize: t.architecture.hiddenSize,
      numHiddenLayers: t.architecture.layers,
      numAttentionHeads: t.architecture.heads,
      intermediateSize: t.architecture.intermediateSize,
      hiddenAct: 'gelu',
      hiddenDropoutProb: 0.1,
      attentionProbsDropoutProb: 0.1,
      maxPositionEmbeddings: t.architecture.maxPositions,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      initializerRange: 0.02,
      padTokenId: prep.tokenizer.padId,
      numLabels: head.numLabels,
      problemType: head.regression ? 'regression' : 'single_label_classification',
      labels: head.labels,
    };
    model = BertModel.randomInit(teacherCfg, seed);
  } else {
    const base = loadCheckpoint(t.from, head);
    teacherCfg = base.config;
    model = BertModel.fromNamedTensors(base.config, base.tensors, { initHeadSeed: seed, source: t.from });
    for (const note of base.notes) sink.emit({ type: 'log', level: 'info', message: `teacher base: ${note}` });
  }
  run.disposables.push(model);
  const latest = listCheckpoints(folder.teacherCheckpointsDir).pop();
  let resume: TrainingCheckpoint | undefined;
  if (latest) {
    resume = loadTrainingCheckpoint(latest);
    model.dispose();
    model = BertModel.fromNamedTensors(teacherCfg, resume.weights, { source: path.join(latest, 'model.safetensors') });
    run.disposables.push(model);
  }
  return { dir, config: teacherCfg, trainedHere, training: { model, resume } };
}

/** The run-started event (the plan included), then the config's warnings and what a resume should know. */
function announce(
  run: RunContext,
  a: {
    teacher: TeacherSetup;
    sCfg: BertConfig;
    stages: Stage[];
    warnings: string[];
    previousStart?: RunStartedEvent;
    resumedFrom?: { checkpoint: string; step: number };
  },
): void {
  const { folder, config, prep, sink } = run;
  sink.emit({
    type: 'run-started',
    runDir: folder.dir,
    config,
    backend: { kind: prep.backend.kind, skipped: prep.backend.skipped, ...prep.kernels },
    params: { teacher: countParameters(a.teacher.config), student: countParameters(a.sCfg) },
    plan: { stages: plannedStages(a.stages) },
    dataset: { train: prep.data.train.encodings.length, eval: prep.data.dev.encodings.length },
    ...(a.resumedFrom ? { resumedFrom: a.resumedFrom } : {}),
  });
  for (const w of a.warnings) sink.emit({ type: 'warning', message: w, code: 'config' });
  if (a.previousStart) {
    const changed = resumeMismatch(a.previousStart, prep.backend.kind, prep.kernels.kernels);
    if (changed) sink.emit({ type: 'warning', code: 'resume-backend', message: changed });
  }
  if ('train' in config.teacher && !a.teacher.trainedHere) {
    sink.emit({
      type: 'log',
      level: 'info',
      message: `teacher: ${a.teacher.dir} was already trained (it has a READY file), so this run uses it as it is`,
    });
  }
}

/** The loop settings the teacher's and the student's training share. */
function loopCommon(run: RunContext) {
  const { config, prep } = run;
  return {
    data: prep.data,
    evalEverySteps: config.eval.everySteps,
    evalBatchSize: config.eval.batchSize,
    checkpointEverySteps: config.checkpoint.everySteps,
    keepCheckpoints: config.checkpoint.keep,
    padId: prep.tokenizer.padId,
  };
}

/** Saves a model into `dir` in the Hugging Face layout, with the run's vocabulary. */
function saveHf(run: RunContext, dir: string) {
  return (m: BertModel): string => {
    saveCheckpoint(dir, m.config, m.toNamedTensors(), {
      vocabFile: run.prep.vocabFile,
      tokenizerConfig: { doLowerCase: run.prep.doLowerCase },
    });
    return dir;
  };
}

/** Trains the teacher (teacher.train) into `dir`, marking it READY when done. */
async function trainTeacher(
  run: RunContext,
  dir: string,
  training: NonNullable<TeacherSetup['training']>,
  stage: Stage,
  follow: (l: TrainingLoop) => TrainingLoop,
): Promise<LoopResult> {
  const { folder, config, sink, io } = run;
  const t = (config.teacher as { train: { lr: number; batchSize: number } }).train;
  const loop = follow(
    new TrainingLoop(
      {
        ...loopCommon(run),
        phase: 'teacher',
        model: training.model,
        pairs: [],
        headAverage: false,
        stages: [stage],
        optim: { ...config.optim, lr: t.lr },
        batchSize: t.batchSize,
        checkpointsDir: folder.teacherCheckpointsDir,
        saveBest: saveHf(run, dir),
        stageOffset: 0,
        stepOffset: 0,
      },
      sink,
      io.stop,
    ),
  );
  const r = await loop.run(training.resume);
  if (r.outcome === 'finished') {
    writeFileAtomic(path.join(dir, 'READY'), `${new Date().toISOString()}\n`);
    training.model.dispose();
  }
  return r;
}

/** The frozen teacher, the student and the learned projections the student's losses need. */
interface DistilModels {
  teacher: BertModel;
  student: BertModel;
  /** Compare head-averaged attention maps (losses.attentionKlHeads "average", and the head counts differ). */
  headAverage: boolean;
  projection?: tf.Variable;
  hiddenProjection?: { weight: tf.Variable; bias: tf.Variable };
  resume?: TrainingCheckpoint;
}

function buildModels(
  run: RunContext,
  teacherDir: string,
  sCfg: BertConfig,
  pairs: LayerPair[],
  stages: Stage[],
  resume: TrainingCheckpoint | undefined,
): DistilModels {
  const { config, disposables } = run;
  const seed = config.optim.seed;
  const teacherCk = loadCheckpoint(teacherDir, taskHead(run.prep.data));
  if (!teacherCk.hasHead) {
    throw new UserError('the teacher checkpoint has no trained task head, so it cannot teach this task', {
      where: teacherDir,
      fix: 'fine-tune it first: set teacher.train.from to this folder (and teacher.train.epochs), or use a BertForSequenceClassification checkpoint',
    });
  }
  const teacher = BertModel.fromNamedTensors(teacherCk.config, teacherCk.tensors, {
    trainable: false,
    source: teacherDir,
  });
  disposables.push(teacher);
  const student = buildStudent(config, sCfg, teacherCk.tensors, teacherCk.config, pairs, resume);
  disposables.push(student);
  const [dS, dT] = [sCfg.hiddenSize, teacherCk.config.hiddenSize];
  let projection: tf.Variable | undefined;
  if (dS !== dT && config.losses.clsCosine > 0) {
    const saved = resume?.weights.get(PROJECTION_NAME);
    const init = saved
      ? tf.tensor2d(saved.data, saved.shape as [number, number])
      : (tf.randomNormal([dS, dT], 0, 0.02, 'float32', seed) as tf.Tensor2D);
    projection = tf.variable(init, true, `cls_projection_${Date.now()}`);
    init.dispose();
    disposables.push(projection);
  }
  // TinyBERT's fit_dense: one projection shared by hidden-mse and embedding-mse (as in TinyBERT),
  // when some stage trains them and the widths differ. Saved in checkpoints like the one above.
  let hiddenProjection: { weight: tf.Variable; bias: tf.Variable } | undefined;
  const mseStages = stages.some((st) => st.losses.hiddenMse !== undefined || st.losses.embeddingMse !== undefined);
  if (dS !== dT && mseStages) {
    const savedW = resume?.weights.get(HIDDEN_PROJECTION_WEIGHT);
    const savedB = resume?.weights.get(HIDDEN_PROJECTION_BIAS);
    const w0 = savedW
      ? tf.tensor2d(savedW.data, savedW.shape as [number, number])
      : (tf.randomNormal([dS, dT], 0, 0.02, 'float32', seed + 2) as tf.Tensor2D);
    const b0 = savedB ? tf.tensor1d(savedB.data) : (tf.zeros([dT]) as tf.Tensor1D);
    const id = Date.now();
    hiddenProjection = {
      weight: tf.variable(w0, true, `hidden_projection_w_${id}`),
      bias: tf.variable(b0, true, `hidden_projection_b_${id}`),
    };
    tf.dispose([w0, b0]);
    disposables.push(hiddenProjection.weight, hiddenProjection.bias);
  }
  return {
    teacher,
    student,
    projection,
    hiddenProjection,
    headAverage:
      config.losses.attentionKlHeads === 'average' && sCfg.numAttentionHeads !== teacherCk.config.numAttentionHeads,
    resume: resume && resume.state.phase === 'student' ? resume : undefined,
  };
}

/** Trains the student through its stages. */
async function distil(
  run: RunContext,
  m: DistilModels,
  pairs: LayerPair[],
  stages: Stage[],
  offsets: { stageOffset: number; stepOffset: number },
  follow: (l: TrainingLoop) => TrainingLoop,
): Promise<LoopResult> {
  const { folder, config, sink, io } = run;
  const cache = config.teacherCache.enabled
    ? new TeacherCache({
        maxBytes: Math.round(config.teacherCache.maxMiB * 2 ** 20),
        attentionPrecision: config.teacherCache.attentionPrecision,
      })
    : undefined;
  const loop = follow(
    new TrainingLoop(
      {
        ...loopCommon(run),
        phase: 'student',
        model: m.student,
        teacher: m.teacher,
        pairs,
        projection: m.projection,
        hiddenProjection: m.hiddenProjection,
        teacherCache: cache,
        headAverage: m.headAverage,
        stages,
        optim: config.optim,
        batchSize: config.optim.batchSize,
        checkpointsDir: folder.checkpointsDir,
        saveBest: saveHf(run, folder.bestDir),
        sample: pickSample(run.prep.data),
        ...offsets,
      },
      sink,
      io.stop,
    ),
  );
  const r = await loop.run(m.resume);
  if (cache) sink.emit({ type: 'log', level: 'info', message: describeCache(cache.stats()) });
  return r;
}

/** Keeps the student's last weights as the best when no evaluation chose one, and exports it. */
async function finishStudent(
  run: RunContext,
  student: BertModel,
  best: RunOutcome['best'] | undefined,
  started: number,
): Promise<RunOutcome> {
  const { folder, sink } = run;
  if (!fs.existsSync(path.join(folder.bestDir, 'model.safetensors'))) saveHf(run, folder.bestDir)(student);
  const exported = await exportStudent(folder.dir, { out: folder.studentDir });
  return finished(folder, sink, started, best, exported.dir, 'student');
}

/** A failed run: the event (with the fix, where there is one) and run.json. */
function failed(folder: RunFolder, sink: EventSink, e: unknown, lastCheckpoint: string | null): RunOutcome {
  const base = { lastCheckpoint: lastCheckpoint ?? undefined };
  if (e instanceof NonFiniteLossError) {
    sink.emit({
      type: 'run-failed',
      reason: e.message,
      where: e.term,
      // Resume replays the same steps exactly, so something must change first.
      fix: `lower optim.lr or raise optim.warmup, or check the data and the initial weights; to continue from the last good checkpoint, change ${folder.configFile} and run distillery resume`,
      ...base,
    });
  } else if (isUserError(e)) {
    sink.emit({
      type: 'run-failed',
      reason: e.message,
      ...(e.where ? { where: e.where } : {}),
      ...(e.fix ? { fix: e.fix } : {}),
      ...base,
    });
  } else {
    sink.emit({ type: 'run-failed', reason: e instanceof Error ? `${e.message}` : String(e), ...base });
  }
  folder.writeInfo({ status: 'failed', message: e instanceof Error ? e.message : String(e) });
  return { runDir: folder.dir, status: 'failed', error: e };
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

/**
 * Resume replays an uninterrupted run exactly only on the same backend and kernels: they round
 * differently and draw different dropout masks. Says what changed, or undefined.
 */
export function resumeMismatch(
  first: Pick<RunStartedEvent, 'backend'>,
  kind: string,
  kernels: string,
): string | undefined {
  const was = `${first.backend.kind}${first.backend.kernels ? ` with ${first.backend.kernels} kernels` : ''}`;
  const now = `${kind} with ${kernels} kernels`;
  if (first.backend.kind === kind && (first.backend.kernels === undefined || first.backend.kernels === kernels))
    return undefined;
  return (
    `this run started on ${was} and resumes on ${now}: training goes on from the checkpoint, but the remaining steps will not ` +
    `match an uninterrupted run bit for bit (different rounding and dropout masks); resume with --backend ${first.backend.kind}` +
    `${first.backend.kernels ? ` and DISTILLERY_KERNELS=${first.backend.kernels}` : ''} for an exact continuation`
  );
}

function describeCache(s: TeacherCacheStats): string {
  const total = s.hits + s.misses;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  return (
    `teacher cache: ${s.hits} of ${total} example passes served from the cache (${total ? ((100 * s.hits) / total).toFixed(1) : '0.0'} %), ` +
    `${s.teacherPasses} teacher forward passes; ${s.entries} examples held in ${mib(s.bytes)} of ${mib(s.maxBytes)} MiB` +
    (s.rejected ? `; ${s.rejected} not stored for lack of room (raise teacherCache.maxMiB to keep them)` : '')
  );
}

/** A finished run: its best evaluation and the model it made (the student, or the teacher with --teacher-only). */
function finished(
  folder: RunFolder,
  sink: EventSink,
  started: number,
  best: RunOutcome['best'] | undefined,
  modelDir: string,
  what: 'student' | 'teacher',
): RunOutcome {
  const trainedNow = best
    ? `best dev ${best.metric} ${best.value.toFixed(4)} at step ${best.step}; `
    : what === 'teacher'
      ? 'the teacher was already trained (READY); '
      : '';
  const summary = `run ${folder.id} finished${what === 'teacher' ? ' (teacher only)' : ''}: ${trainedNow}${what} in ${modelDir}`;
  sink.emit({
    type: 'run-finished',
    ...(best ? { best } : {}),
    studentDir: modelDir,
    durationMs: Date.now() - started,
    summary,
  });
  folder.writeInfo({ status: 'finished', message: summary });
  return { runDir: folder.dir, status: 'finished', best, studentDir: modelDir };
}

function stopped(folder: RunFolder, sink: EventSink, io: RunIO, checkpoint: string): RunOutcome {
  sink.emit({ type: 'run-stopped', signal: io.stop.requested ?? 'stop', checkpoint });
  folder.writeInfo({
    status: 'stopped',
    message: `stopped by ${io.stop.requested}; resume with: distillery resume ${folder.dir}`,
  });
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
  if (data.train.encodings.length === 0)
    throw new UserError('the training set is empty', {
      where: 'task',
      fix: 'check task.dataDir and task.trainFraction',
    });
  return {
    backend,
    kernels: kernelsReport(backend.tfName),
    tokenizer,
    data,
    vocabFile,
    doLowerCase: tokenizer.options.lowercase,
  };
}

function applyDropout(c: BertConfig, dropout: number | undefined): BertConfig {
  return dropout === undefined ? c : { ...c, hiddenDropoutProb: dropout, attentionProbsDropoutProb: dropout };
}

export function buildStudent(
  config: ResolvedConfig,
  sCfg: BertConfig,
  teacherTensors: Map<string, { shape: number[]; data: Float32Array }>,
  teacherCfg: BertConfig,
  pairs: LayerPair[],
  resume: TrainingCheckpoint | undefined,
): BertModel {
  if (resume && resume.state.phase === 'student') {
    return BertModel.fromNamedTensors(sCfg, resume.weights, { source: path.join(resume.dir, 'model.safetensors') });
  }
  const init = config.student.init;
  if (init === 'teacher-layers') {
    return BertModel.fromNamedTensors(sCfg, initStudentFromTeacher(teacherTensors, teacherCfg, sCfg, pairs), {
      source: 'teacher',
    });
  }
  if (init === 'random') {
    // Keep the teacher's task head size and labels; everything else fresh.
    return BertModel.randomInit(sCfg, config.optim.seed + 1);
  }
  const ck = loadCheckpoint(init.checkpoint, {
    numLabels: sCfg.numLabels,
    labels: sCfg.labels,
    regression: sCfg.problemType === 'regression',
  });
  const c = ck.config;
  if (
    c.numHiddenLayers !== sCfg.numHiddenLayers ||
    c.hiddenSize !== sCfg.hiddenSize ||
    c.numAttentionHeads !== sCfg.numAttentionHeads ||
    c.intermediateSize !== sCfg.intermediateSize
  ) {
    throw new UserError(
      `the student checkpoint has ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ${c.numAttentionHeads} heads, intermediate ${c.intermediateSize}; the config asks for ${sCfg.numHiddenLayers}, ${sCfg.hiddenSize}, ${sCfg.numAttentionHeads}, ${sCfg.intermediateSize}`,
      {
        where: 'student.init.checkpoint',
        fix: 'set student.layers/hiddenSize/heads/intermediateSize to match the checkpoint',
      },
    );
  }
  return BertModel.fromNamedTensors({ ...sCfg, vocabSize: c.vocabSize }, ck.tensors, {
    initHeadSeed: config.optim.seed,
    source: init.checkpoint,
  });
}

/** The dev example shown in attention heatmaps: the first one of 8–32 tokens (else the shortest). */
function pickSample(data: TaskData) {
  const encs = data.dev.encodings;
  if (encs.length === 0) return undefined;
  return (
    encs.find((e) => e.inputIds.length >= 8 && e.inputIds.length <= 32) ??
    [...encs].sort((a, b) => a.inputIds.length - b.inputIds.length)[0]
  );
}
