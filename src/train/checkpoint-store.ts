/**
 * Training checkpoints: everything needed to continue a run exactly where it stopped — the
 * trained model's weights (and the cls-cosine and hidden-state projections), the optimizer's moments, the loop
 * position and early-stopping bookkeeping. Data order and dropout masks are pure functions of
 * (seed, stage, epoch, step), so the position is the RNG state. Each checkpoint is written to a
 * temporary folder and renamed, so a kill -9 leaves either the old or the new one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NamedTensors } from '../model/named-tensors';
import { readSafetensorsFile, serializeSafetensors, toFloat32 } from '../model/safetensors';
import { OptimizerState } from './optimizer';
import { UserError } from '../util/errors';
import { writeDirAtomic } from '../util/atomic-fs';

export const PROJECTION_NAME = 'distill.cls_projection.weight';
/** TinyBERT's fit_dense for hidden-mse and embedding-mse, [dStudent, dTeacher] and [dTeacher]. */
export const HIDDEN_PROJECTION_WEIGHT = 'distill.hidden_projection.weight';
export const HIDDEN_PROJECTION_BIAS = 'distill.hidden_projection.bias';
/** Tensors a training checkpoint holds besides the student's: dropped on export. */
export const DISTILL_ONLY_TENSORS: readonly string[] = [
  PROJECTION_NAME,
  HIDDEN_PROJECTION_WEIGHT,
  HIDDEN_PROJECTION_BIAS,
];

export interface LoopPosition {
  stageIndex: number;
  epoch: number;
  /** The next batch to run within the epoch. */
  batch: number;
  globalStep: number;
  stageStep: number;
}

export interface StageTracking {
  /** Best value of the stage's own criterion so far (lower loss, or higher metric). */
  best: number | null;
  /** Evaluations since it last improved. */
  badEvals: number;
}

export interface TrainingState {
  version: 1;
  phase: 'teacher' | 'student';
  position: LoopPosition;
  tracking: StageTracking;
  /** Best dev main metric of the classification stages, and where it was reached. */
  best: { metric: string; value: number; step: number } | null;
  seed: number;
  optimizerStep: number;
  optimizerVarSteps: Record<string, number>;
  reason: string;
  savedAt: string;
}

export interface TrainingCheckpoint {
  dir: string;
  state: TrainingState;
  weights: NamedTensors;
  optimizer: OptimizerState;
}

export function checkpointFolderName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

export function saveTrainingCheckpoint(root: string, ck: Omit<TrainingCheckpoint, 'dir'>): string {
  // Never replace a checkpoint in place (a kill between the two renames would leave none): a
  // second checkpoint at the same step (stage end after a periodic one) gets a suffix and sorts after it.
  let dir = path.join(root, checkpointFolderName(ck.state.position.globalStep));
  for (let n = 1; fs.existsSync(dir); n++)
    dir = path.join(root, `${checkpointFolderName(ck.state.position.globalStep)}-${n}`);
  const moments: NamedTensors = new Map();
  for (const m of ck.optimizer.moments) {
    moments.set(`m.${m.name}`, m.m);
    moments.set(`v.${m.name}`, m.v);
  }
  const state: TrainingState = {
    ...ck.state,
    optimizerStep: ck.optimizer.step,
    optimizerVarSteps: Object.fromEntries(ck.optimizer.moments.map((m) => [m.name, m.step ?? ck.optimizer.step])),
  };
  writeDirAtomic(dir, (tmp) => {
    fs.writeFileSync(
      path.join(tmp, 'model.safetensors'),
      serializeSafetensors(ck.weights, { format: 'distillery-training' }),
    );
    fs.writeFileSync(
      path.join(tmp, 'optimizer.safetensors'),
      serializeSafetensors(moments, { format: 'distillery-adamw' }),
    );
    // state.json last: a folder with it is complete.
    fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  });
  return dir;
}

/** Checkpoint folders under `root`, oldest first. */
export function listCheckpoints(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((n) => /^step-\d+(-\d+)?$/.test(n) && fs.existsSync(path.join(root, n, 'state.json')))
    .sort()
    .map((n) => path.join(root, n));
}

export function loadTrainingCheckpoint(dir: string): TrainingCheckpoint {
  const stateFile = path.join(dir, 'state.json');
  let state: TrainingState;
  try {
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TrainingState;
  } catch (e) {
    throw new UserError(`cannot read the training state (${(e as Error).message})`, {
      where: stateFile,
      fix: 'delete this checkpoint folder to resume from the one before it',
    });
  }
  if (state.version !== 1 || !state.position || typeof state.position.globalStep !== 'number') {
    throw new UserError('not a training state this version of distillery can resume', {
      where: stateFile,
      fix: 'delete this checkpoint folder to resume from the one before it',
    });
  }
  const readAll = (file: string): NamedTensors => {
    const st = readSafetensorsFile(file);
    const out: NamedTensors = new Map();
    for (const [name, e] of st.entries) out.set(name, { shape: e.shape, data: toFloat32(e, file) });
    return out;
  };
  const weights = readAll(path.join(dir, 'model.safetensors'));
  const momentsFile = readAll(path.join(dir, 'optimizer.safetensors'));
  const optimizer: OptimizerState = { step: state.optimizerStep, moments: [] };
  for (const [name, m] of momentsFile) {
    if (!name.startsWith('m.')) continue;
    const varName = name.slice(2);
    const v = momentsFile.get(`v.${varName}`);
    if (!v)
      throw new UserError(`optimizer state has m but no v for "${varName}"`, {
        where: path.join(dir, 'optimizer.safetensors'),
      });
    optimizer.moments.push({ name: varName, m, v, step: state.optimizerVarSteps[varName] });
  }
  return { dir, state, weights, optimizer };
}

/** Deletes all but the newest `keep` checkpoints. */
export function pruneCheckpoints(root: string, keep: number): void {
  const all = listCheckpoints(root);
  for (const dir of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(dir, { recursive: true, force: true });
}
