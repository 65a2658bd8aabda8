/**
 * Algorithm → stage plan. A stage is a span of training with a fixed set of active losses and
 * layer pairs and its own stopping rule; the trainer runs the stages in order.
 *
 * The algorithms of Aguilar et al. (AAAI 2020):
 * - hard, soft, hard+soft: one classification stage (gold labels, teacher soft labels, or both).
 * - internal-all: one internal stage with every mapped pair at once, then classification.
 * - pid (progressive internal distillation): one internal stage per pair, bottom-up, then
 *   classification.
 * - sid (stacked internal distillation): like pid, but each stage keeps the lower pairs' losses
 *   on ([1], [1,2], …, [all]), then classification.
 * Internal stages train every internal loss whose weight is above 0: the per-layer ones
 * (attention-kl, cls-cosine, hidden-mse, value-relation) on the stage's pairs, and embedding-mse
 * (the embedding output, below layer 1) in every internal stage of internal-all and sid and in the
 * first stage of pid, whose stages each train one layer from the bottom up.
 * The classification stage after internal distillation trains the output losses whose weight is
 * above 0 (soft labels by default, gold labels when losses.hardLabel > 0).
 *
 * A run that trains its teacher first plans a teacher stage before these (gold labels only).
 *
 * The plan (`planFor`) is the one place that decides which losses a stage trains and with what
 * weight: each stage carries the weights of its terms (a term is trained iff it is listed, with a
 * weight > 0); the trainer, the run-started event and the validator read them from here (issue #18:
 * a weight of 0 used to turn into 1).
 */
import { defaultSelectBest } from '../config/defaults';
import {
  INTERNAL_KEYS,
  LOSS_KEYS,
  LOSS_NAMES,
  LOSS_NAME_BY_KEY,
  OUTPUT_KEYS,
  PER_LAYER_KEYS,
  lossKeyOf,
  lossWeightField,
  type LossKey,
  type LossName,
} from '../config/loss-vocabulary';
import {
  BUILT_IN_ALGORITHMS,
  INTERNAL_ALGORITHMS,
  type BuiltInAlgorithm,
  type ResolvedConfig,
  type ResolvedLosses,
  type ScheduleKey,
} from '../config/types';
import type { PlannedStage } from '../protocol/events';
import { UserError } from '../util/errors';
import { pairSpec, type LayerPair } from './mapping';
import { scheduleValue, stageProgress, type Schedule } from './schedule';

/** The terms a stage trains, each with its weight (> 0); a term that is absent is not trained. */
export type StageLosses = Partial<Record<LossKey, number>>;

/** The configured weight of every loss (0 = off) and the soft-label temperature. */
export type LossWeights = Record<LossKey, number> & { temperature: number };

export type StageSchedules = Partial<Record<ScheduleKey, Schedule>>;

export interface Stage {
  /** Position in the run's plan (teacher stage first), 0-based. */
  index: number;
  /** For people: 'teacher training', 'layer 1', 'layers 1-2', 'all layers', 'classification'. */
  name: string;
  /** teacher: the teacher's own training on gold labels, before any distillation. */
  kind: 'teacher' | 'internal' | 'classification';
  /** Pairs whose internal losses are active in this stage (empty when none are). */
  layers: LayerPair[];
  losses: StageLosses;
  /** Softmax temperature of soft-label. */
  temperature: number;
  /**
   * How weights (and the temperature) move over the stage's steps, for the terms it trains;
   * absent: they stay as in `losses` / `temperature`.
   */
  schedules?: StageSchedules;
  /** Maximum epochs. */
  epochs: number;
  /**
   * Stop early after this many evaluations without improvement of the stage's own loss
   * (internal) or the dev metric (classification); null = never stop early.
   */
  patience: number | null;
  /** Keep the best dev checkpoint rather than the last (classification stages). */
  selectBest: boolean;
}

export interface PlanOptions {
  /** Resolved layer mapping, as from resolveMapping. */
  pairs: LayerPair[];
  /**
   * The configured weights: internal stages train the internal losses above 0; the classification
   * stage of internal algorithms trains soft-label and hard-label when above 0.
   */
  weights: LossWeights;
  /** losses.schedules, resolved: each stage gets those of the terms it trains. */
  schedules?: StageSchedules;
  epochsPerLayer: number;
  internalAllEpochs: number;
  classificationEpochs: number;
  patience: number | null;
}

export interface CustomStageSpec {
  name?: string;
  /** Student layers whose pairs are active; default: every mapped pair when an internal loss is on. */
  layers?: number[];
  losses: LossName[];
  epochs: number;
  /** Default: null (never stop early). */
  patience?: number | null;
  /** Default: true for stages with an output loss (soft/hard label), else false (defaultSelectBest). */
  selectBest?: boolean;
  /** This stage's own schedules: each replaces the run-wide one (losses.schedules) of its key here. */
  schedules?: StageSchedules;
}

/** The output losses of each built-in algorithm's classification stage; their weights come from the config. */
const CLASSIFICATION_KEYS: Readonly<Record<BuiltInAlgorithm, readonly LossKey[]>> = {
  hard: ['hardLabel'],
  soft: ['softLabel'],
  'hard+soft': ['softLabel', 'hardLabel'],
  'internal-all': OUTPUT_KEYS,
  pid: OUTPUT_KEYS,
  sid: OUTPUT_KEYS,
};

/**
 * Whether some stage of a built-in algorithm's plan trains `key`, without the layer pairs the plan
 * needs (the validator asks before the mapping resolves): its weight is above 0, and it is an
 * internal loss of an internal algorithm or an output loss of its classification stage.
 */
export function builtInTrains(algorithm: BuiltInAlgorithm, weights: LossWeights, key: LossKey): boolean {
  if (!(weights[key] > 0)) return false;
  return INTERNAL_KEYS.includes(key)
    ? INTERNAL_ALGORITHMS.includes(algorithm)
    : CLASSIFICATION_KEYS[algorithm].includes(key);
}

/** The listed keys whose weight is above 0, with their weights. */
function weighted(keys: readonly LossKey[], w: LossWeights): StageLosses {
  const out: StageLosses = {};
  for (const k of keys) if (w[k] > 0) out[k] = w[k];
  return out;
}

export function trainsInternal(losses: StageLosses): boolean {
  return INTERNAL_KEYS.some((k) => losses[k] !== undefined);
}

/** Whether a stage trains a loss on mapped layer pairs (and so has layers). */
export function usesLayers(losses: StageLosses): boolean {
  return PER_LAYER_KEYS.some((k) => losses[k] !== undefined);
}

/** The schedules of the terms a stage trains (and of the temperature, with soft-label); undefined when none. */
function stageSchedules(losses: StageLosses, all: StageSchedules | undefined): StageSchedules | undefined {
  if (!all) return undefined;
  const out: StageSchedules = {};
  for (const k of LOSS_KEYS) if (losses[k] !== undefined && all[k]) out[k] = { ...all[k] };
  if (losses.softLabel !== undefined && all.temperature) out.temperature = { ...all.temperature };
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The stage's schedules, when it has any, as an optional field. */
function withSchedules<T extends { losses: StageLosses }>(
  stage: T,
  all: StageSchedules | undefined,
): T & { schedules?: StageSchedules } {
  const schedules = stageSchedules(stage.losses, all);
  return schedules ? { ...stage, schedules } : stage;
}

export function trainsOutput(losses: StageLosses): boolean {
  return OUTPUT_KEYS.some((k) => losses[k] !== undefined);
}

function checkEpochs(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new UserError(`epochs must be a whole number ≥ 1, got ${JSON.stringify(value)}`, {
      where,
      fix: 'use e.g. 1',
    });
  }
  return value;
}

function checkPatience(value: unknown, where: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new UserError(`patience must be a whole number ≥ 1 or null, got ${JSON.stringify(value)}`, {
      where,
      fix: 'use e.g. 2, or null to never stop early',
    });
  }
  return value;
}

/** 'layer 3', 'layers 1-4' for a contiguous run, 'layers 2, 5' otherwise. */
function layersName(pairs: readonly LayerPair[]): string {
  const ks = pairs.map((p) => p.student);
  if (ks.length === 1) return `layer ${ks[0]}`;
  const contiguous = ks.every((k, i) => i === 0 || k === ks[i - 1] + 1);
  return contiguous ? `layers ${ks[0]}-${ks[ks.length - 1]}` : `layers ${ks.join(', ')}`;
}

function sortedPairs(pairs: readonly LayerPair[]): LayerPair[] {
  return pairs.map((p) => ({ ...p })).sort((a, b) => a.student - b.student);
}

/** Expands one of the built-in algorithms into its stages. Bad options raise UserError. */
export function planStages(algorithm: BuiltInAlgorithm, opts: PlanOptions): Stage[] {
  const patience = checkPatience(opts.patience, 'stages.patience');
  // 0 skips the classification stage of an internal algorithm (as the schema says); the
  // baselines are nothing but that stage, so they need 1 or more.
  const skipsClassification = opts.classificationEpochs === 0 && INTERNAL_ALGORITHMS.includes(algorithm);
  const classificationEpochs = skipsClassification
    ? 0
    : checkEpochs(opts.classificationEpochs, 'stages.classificationEpochs');
  const w = opts.weights;
  const temperature = w.temperature;
  // The baselines name their output losses; their weights still come from the config.
  const classification = (keys: readonly LossKey[]): Omit<Stage, 'index'> => {
    const losses = weighted(keys, w);
    if (!trainsOutput(losses)) {
      throw new UserError(
        `the classification stage of "${algorithm}" has no loss: ${keys.map(lossWeightField).join(' and ')} ${keys.length > 1 ? 'are' : 'is'} 0`,
        {
          where: 'losses',
          fix: `set ${keys.length > 1 ? 'one of them' : 'it'} above 0`,
        },
      );
    }
    return {
      name: 'classification',
      kind: 'classification',
      layers: [],
      losses,
      temperature,
      epochs: classificationEpochs,
      patience,
      selectBest: true,
    };
  };

  let stages: Array<Omit<Stage, 'index'>>;
  switch (algorithm) {
    case 'hard':
    case 'soft':
    case 'hard+soft':
      stages = [classification(CLASSIFICATION_KEYS[algorithm])];
      break;
    case 'internal-all':
    case 'pid':
    case 'sid': {
      const internalLosses = weighted(PER_LAYER_KEYS, w);
      if (!usesLayers(internalLosses)) {
        throw new UserError(
          `algorithm "${algorithm}" distils internal layers, but every per-layer internal loss is off`,
          {
            where: 'losses',
            fix: 'set losses.attentionKl, clsCosine, hiddenMse or valueRelation above 0, or use algorithm "soft" or "hard+soft"',
          },
        );
      }
      const embedding = weighted(['embeddingMse'], w);
      if (opts.pairs.length === 0) {
        throw new UserError(`algorithm "${algorithm}" needs at least one mapped layer pair`, {
          where: 'mapping',
          fix: 'use mapping "uniform"',
        });
      }
      const pairs = sortedPairs(opts.pairs);
      const internal = (
        name: string,
        layers: LayerPair[],
        epochs: number,
        withEmbedding: boolean,
      ): Omit<Stage, 'index'> => ({
        name,
        kind: 'internal',
        layers,
        losses: { ...internalLosses, ...(withEmbedding ? embedding : {}) },
        temperature,
        epochs,
        patience,
        selectBest: false,
      });
      if (algorithm === 'internal-all') {
        stages = [internal('all layers', pairs, checkEpochs(opts.internalAllEpochs, 'stages.internalAllEpochs'), true)];
      } else {
        const epochs = checkEpochs(opts.epochsPerLayer, 'stages.epochsPerLayer');
        stages = pairs.map((_, i) => {
          const layers = algorithm === 'pid' ? [pairs[i]] : pairs.slice(0, i + 1);
          // pid trains one layer at a time from the bottom: the embeddings go with the first.
          return internal(
            layersName(layers),
            layers.map((p) => ({ ...p })),
            epochs,
            algorithm === 'sid' || i === 0,
          );
        });
      }
      if (!skipsClassification) stages.push(classification(CLASSIFICATION_KEYS[algorithm]));
      break;
    }
    default:
      throw new UserError(`unknown algorithm ${JSON.stringify(algorithm)}`, {
        where: 'algorithm',
        fix: `use one of ${BUILT_IN_ALGORITHMS.map((a) => `"${a}"`).join(', ')}`,
      });
  }
  return stages.map((s, index) => withSchedules({ index, ...s }, opts.schedules));
}

/**
 * A custom stage that lists a loss whose configured weight is 0 would silently train nothing: the
 * problem, or undefined when the loss is on. The validator reports it with these words too.
 */
export function unweightedStageLoss(
  name: string,
  key: LossKey,
  weights: LossWeights,
): { message: string; fix: string } | undefined {
  if (weights[key] > 0) return undefined;
  const field = lossWeightField(key);
  return {
    message: `'${name}' has weight 0 (${field}), so this stage would not train it`,
    fix: `set ${field} above 0, or remove '${name}' from this stage`,
  };
}

/**
 * Builds a user-written stage list. Stages with an output loss (soft/hard label) are
 * classification stages; the rest are internal. A stage's own `schedules` replace the run-wide
 * ones key by key. Errors name the field, e.g. 'stages[1].layers[0]'.
 */
export function planCustomStages(
  stages: CustomStageSpec[],
  pairs: LayerPair[],
  weights: LossWeights,
  schedules?: StageSchedules,
): Stage[] {
  if (!Array.isArray(stages) || stages.length === 0) {
    throw new UserError('the custom stage list is empty', {
      where: 'stages',
      fix: 'give at least one stage, or use a built-in algorithm',
    });
  }
  const byStudent = new Map(pairs.map((p) => [p.student, p]));
  return stages.map((spec, i): Stage => {
    const at = `stages[${i}]`;
    if (!Array.isArray(spec.losses) || spec.losses.length === 0) {
      throw new UserError('a stage needs at least one loss', {
        where: `${at}.losses`,
        fix: `list some of ${LOSS_NAMES.map((n) => `"${n}"`).join(', ')}`,
      });
    }
    const losses: StageLosses = {};
    spec.losses.forEach((name, j) => {
      const key = lossKeyOf(name);
      if (!key) {
        throw new UserError(`unknown loss ${JSON.stringify(name)}`, {
          where: `${at}.losses[${j}]`,
          fix: `use one of ${LOSS_NAMES.map((n) => `"${n}"`).join(', ')}`,
        });
      }
      const off = unweightedStageLoss(name, key, weights);
      if (off) throw new UserError(off.message, { where: `${at}.losses[${j}]`, fix: off.fix });
      losses[key] = weights[key];
    });
    const usesInternal = usesLayers(losses);
    const kind: Stage['kind'] = trainsOutput(losses) ? 'classification' : 'internal';

    let layers: LayerPair[] = [];
    if (spec.layers !== undefined) {
      if (!usesInternal) {
        throw new UserError('layers only apply to internal losses, and this stage has none', {
          where: `${at}.layers`,
          fix: 'remove "layers", or add a per-layer loss ("attention-kl", "cls-cosine", "hidden-mse", "value-relation")',
        });
      }
      if (!Array.isArray(spec.layers) || spec.layers.length === 0) {
        throw new UserError('layers must be a non-empty list of student layers', {
          where: `${at}.layers`,
          fix: 'e.g. [1, 2], or leave it out for every mapped layer',
        });
      }
      const seen = new Set<number>();
      layers = spec.layers
        .map((k, j) => {
          const pair = byStudent.get(k);
          if (!pair) {
            const mapped = pairs.map((p) => p.student).join(', ');
            throw new UserError(`student layer ${JSON.stringify(k)} has no teacher layer in the mapping`, {
              where: `${at}.layers[${j}]`,
              fix: mapped ? `use a mapped student layer (${mapped}) or add it to "mapping"` : 'add pairs to "mapping"',
            });
          }
          if (seen.has(k))
            throw new UserError(`student layer ${k} is listed twice`, {
              where: `${at}.layers[${j}]`,
              fix: 'remove the duplicate',
            });
          seen.add(k);
          return { ...pair };
        })
        .sort((a, b) => a.student - b.student);
    } else if (usesInternal) {
      if (pairs.length === 0) {
        throw new UserError('this stage uses internal losses but the mapping has no pairs', {
          where: `${at}.losses`,
          fix: 'add pairs to "mapping"',
        });
      }
      layers = sortedPairs(pairs);
    }
    checkStageSchedules(spec.schedules, losses, `${at}.schedules`);

    return withSchedules(
      {
        index: i,
        name:
          spec.name ??
          (kind === 'classification'
            ? 'classification'
            : layers.length === 0
              ? 'embeddings'
              : layers.length === pairs.length
                ? 'all layers'
                : layersName(layers)),
        kind,
        layers,
        losses,
        temperature: weights.temperature,
        epochs: checkEpochs(spec.epochs, `${at}.epochs`),
        patience: checkPatience(spec.patience, `${at}.patience`),
        selectBest: spec.selectBest ?? defaultSelectBest(spec.losses),
      },
      spec.schedules ? { ...schedules, ...spec.schedules } : schedules,
    );
  });
}

/** The configured loss weights, as the plan takes them (0 = off). */
export function lossWeights(losses: ResolvedLosses): LossWeights {
  const w = Object.fromEntries(
    LOSS_KEYS.map((k) => [k, k === 'softLabel' ? losses.softLabel.weight : losses[k]]),
  ) as Record<LossKey, number>;
  return { ...w, temperature: losses.softLabel.temperature };
}

/** The teacher's own training (teacher.train): gold labels only, ending on its best evaluation. */
export function teacherStage(epochs: number): Stage {
  return {
    index: 0,
    name: 'teacher training',
    kind: 'teacher',
    layers: [],
    losses: { hardLabel: 1 },
    temperature: 1,
    epochs,
    patience: null,
    selectBest: true,
  };
}

/**
 * The run's stages, each with the losses it trains and their weights: what the trainer runs and
 * the run-started event announces, numbered as one plan. `teacher`: plan the teacher's training
 * (teacher.train) first (default: when the config has one; a run whose teacher an earlier run
 * trained plans none); `student: false` plans no student stages (train --teacher-only).
 */
export function planFor(
  config: ResolvedConfig,
  pairs: LayerPair[],
  opts: { teacher?: boolean; student?: boolean } = {},
): Stage[] {
  const t = config.teacher;
  const teacher = (opts.teacher ?? true) && 'train' in t ? [teacherStage(t.train.epochs)] : [];
  const student = opts.student === false ? [] : studentPlan(config, pairs);
  return teacher.length === 0 ? student : [...teacher, ...student].map((s, index) => ({ ...s, index }));
}

function studentPlan(config: ResolvedConfig, pairs: LayerPair[]): Stage[] {
  const weights = lossWeights(config.losses);
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

/** The plan as the run-started event gives it: each loss by name. */
export function plannedStages(stages: readonly Stage[]): PlannedStage[] {
  return stages.map((s) => ({
    index: s.index,
    name: s.name,
    kind: s.kind,
    layers: s.layers.map(pairSpec),
    losses: LOSS_KEYS.filter((k) => s.losses[k] !== undefined).map((k) => LOSS_NAME_BY_KEY[k]),
    epochs: s.epochs,
  }));
}

/** A custom stage's own schedules may only name what it trains (the validator says so first, with the config's paths). */
function checkStageSchedules(own: StageSchedules | undefined, losses: StageLosses, where: string): void {
  if (!own) return;
  for (const key of Object.keys(own) as ScheduleKey[]) {
    const trained = key === 'temperature' ? losses.softLabel !== undefined : losses[key] !== undefined;
    if (!trained) {
      const name = key === 'temperature' ? 'soft-label' : LOSS_NAME_BY_KEY[key];
      throw new UserError(
        `the stage schedules ${key === 'temperature' ? 'the soft-label temperature' : name} but does not train ${name}`,
        {
          where: `${where}.${key}`,
          fix: `add '${name}' to the stage's losses, or remove the schedule`,
        },
      );
    }
  }
}

/**
 * The stage's weights and temperature at step `stageStep` (0-based) of its `stageSteps`: its
 * schedules applied, or the stage's own values where it has none.
 */
export function stageWeightsAt(
  stage: Pick<Stage, 'losses' | 'temperature' | 'schedules'>,
  stageStep: number,
  stageSteps: number,
): { losses: StageLosses; temperature: number } {
  const sch = stage.schedules;
  if (!sch) return { losses: stage.losses, temperature: stage.temperature };
  const p = stageProgress(stageStep, stageSteps);
  const losses: StageLosses = {};
  for (const k of LOSS_KEYS) {
    const w = stage.losses[k];
    if (w === undefined) continue;
    const s = sch[k];
    losses[k] = s ? scheduleValue(s, p) : w;
  }
  return { losses, temperature: sch.temperature ? scheduleValue(sch.temperature, p) : stage.temperature };
}
