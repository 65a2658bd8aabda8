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
 * The plan is the one place that decides which losses a stage trains and with what weight: each
 * stage carries the weights of its terms (a term is trained iff it is listed, with a weight > 0),
 * and the trainer reads them from the stage (issue #18: a weight of 0 used to turn into 1).
 */
import { defaultSelectBest } from '../config/defaults';
import { LOSS_KEYS as CONFIG_LOSS_KEYS, LOSS_NAME_BY_KEY, LOSS_NAMES, lossWeightField, type LossKey, type LossName, type ScheduleKey } from '../config/types';
import { UserError } from '../util/errors';
import type { LayerPair } from './mapping';
import { scheduleValue, stageProgress, type Schedule } from './schedule';

export type Algorithm = 'hard' | 'soft' | 'hard+soft' | 'internal-all' | 'pid' | 'sid';
export const ALGORITHMS: readonly Algorithm[] = ['hard', 'soft', 'hard+soft', 'internal-all', 'pid', 'sid'];

export function isAlgorithm(s: string): s is Algorithm {
  return (ALGORITHMS as readonly string[]).includes(s);
}

/** The loss terms, by their config key (losses.<key>). */
export type { LossKey };
export const LOSS_KEYS: readonly LossKey[] = CONFIG_LOSS_KEYS;

/** The terms a stage trains, each with its weight (> 0); a term that is absent is not trained. */
export type StageLosses = Partial<Record<LossKey, number>>;

/** The configured weight of every loss (0 = off) and the soft-label temperature. */
export type LossWeights = Record<LossKey, number> & { temperature: number };

export type StageSchedules = Partial<Record<ScheduleKey, Schedule>>;

export interface Stage {
  /** Position in the plan, 0-based (what a checkpoint records to resume). */
  index: number;
  /** For people: 'layer 1', 'layers 1-2', 'all layers', 'classification'. */
  name: string;
  kind: 'internal' | 'classification';
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

export type StageLossName = LossName;
export const STAGE_LOSS_NAMES: readonly StageLossName[] = LOSS_NAMES;

export interface CustomStageSpec {
  name?: string;
  /** Student layers whose pairs are active; default: every mapped pair when an internal loss is on. */
  layers?: number[];
  losses: StageLossName[];
  epochs: number;
  /** Default: null (never stop early). */
  patience?: number | null;
  /** Default: true for stages with an output loss (soft/hard label), else false (defaultSelectBest). */
  selectBest?: boolean;
  /** This stage's own schedules: each replaces the run-wide one (losses.schedules) of its key here. */
  schedules?: StageSchedules;
}

const LOSS_KEY_BY_NAME = Object.fromEntries(LOSS_KEYS.map((k) => [LOSS_NAME_BY_KEY[k], k])) as Record<StageLossName, LossKey>;
/** Losses on mapped layer pairs: they use a stage's `layers`. */
export const PER_LAYER_KEYS: readonly LossKey[] = ['attentionKl', 'clsCosine', 'hiddenMse', 'valueRelation'];
/** Losses on the models' insides: the per-layer ones and embedding-mse. */
export const INTERNAL_KEYS: readonly LossKey[] = [...PER_LAYER_KEYS, 'embeddingMse'];
export const OUTPUT_KEYS: readonly LossKey[] = ['softLabel', 'hardLabel'];

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
function withSchedules<T extends { losses: StageLosses }>(stage: T, all: StageSchedules | undefined): T & { schedules?: StageSchedules } {
  const schedules = stageSchedules(stage.losses, all);
  return schedules ? { ...stage, schedules } : stage;
}

export function trainsOutput(losses: StageLosses): boolean {
  return OUTPUT_KEYS.some((k) => losses[k] !== undefined);
}

function checkEpochs(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new UserError(`epochs must be a whole number ≥ 1, got ${JSON.stringify(value)}`, { where, fix: 'use e.g. 1' });
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
export function planStages(algorithm: Algorithm, opts: PlanOptions): Stage[] {
  const patience = checkPatience(opts.patience, 'stages.patience');
  // 0 skips the classification stage of an internal algorithm (as the schema says); the
  // baselines are nothing but that stage, so they need 1 or more.
  const skipsClassification = opts.classificationEpochs === 0 && (algorithm === 'internal-all' || algorithm === 'pid' || algorithm === 'sid');
  const classificationEpochs = skipsClassification ? 0 : checkEpochs(opts.classificationEpochs, 'stages.classificationEpochs');
  const w = opts.weights;
  const temperature = w.temperature;
  // The baselines name their output losses; their weights still come from the config.
  const classification = (keys: readonly LossKey[]): Omit<Stage, 'index'> => {
    const losses = weighted(keys, w);
    if (!trainsOutput(losses)) {
      throw new UserError(`the classification stage of "${algorithm}" has no loss: ${keys.map(lossWeightField).join(' and ')} ${keys.length > 1 ? 'are' : 'is'} 0`, {
        where: 'losses', fix: `set ${keys.length > 1 ? 'one of them' : 'it'} above 0`,
      });
    }
    return { name: 'classification', kind: 'classification', layers: [], losses, temperature, epochs: classificationEpochs, patience, selectBest: true };
  };

  let stages: Array<Omit<Stage, 'index'>>;
  switch (algorithm) {
    case 'hard':
      stages = [classification(['hardLabel'])];
      break;
    case 'soft':
      stages = [classification(['softLabel'])];
      break;
    case 'hard+soft':
      stages = [classification(['softLabel', 'hardLabel'])];
      break;
    case 'internal-all':
    case 'pid':
    case 'sid': {
      const internalLosses = weighted(PER_LAYER_KEYS, w);
      if (!usesLayers(internalLosses)) {
        throw new UserError(`algorithm "${algorithm}" distils internal layers, but every per-layer internal loss is off`, {
          where: 'losses',
          fix: 'set losses.attentionKl, clsCosine, hiddenMse or valueRelation above 0, or use algorithm "soft" or "hard+soft"',
        });
      }
      const embedding = weighted(['embeddingMse'], w);
      if (opts.pairs.length === 0) {
        throw new UserError(`algorithm "${algorithm}" needs at least one mapped layer pair`, { where: 'mapping', fix: 'use mapping "uniform"' });
      }
      const pairs = sortedPairs(opts.pairs);
      const internal = (name: string, layers: LayerPair[], epochs: number, withEmbedding: boolean): Omit<Stage, 'index'> => ({
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
          return internal(layersName(layers), layers.map((p) => ({ ...p })), epochs, algorithm === 'sid' || i === 0);
        });
      }
      if (!skipsClassification) stages.push(classification(OUTPUT_KEYS));
      break;
    }
    default:
      throw new UserError(`unknown algorithm ${JSON.stringify(algorithm)}`, {
        where: 'algorithm',
        fix: `use one of ${ALGORITHMS.map((a) => `"${a}"`).join(', ')}`,
      });
  }
  return stages.map((s, index) => withSchedules({ index, ...s }, opts.schedules));
}

/**
 * Builds a user-written stage list. Stages with an output loss (soft/hard label) are
 * classification stages; the rest are internal. A stage's own `schedules` replace the run-wide
 * ones key by key. Errors name the field, e.g. 'stages[1].layers[0]'.
 */
export function planCustomStages(stages: CustomStageSpec[], pairs: LayerPair[], weights: LossWeights, schedules?: StageSchedules): Stage[] {
  if (!Array.isArray(stages) || stages.length === 0) {
    throw new UserError('the custom stage list is empty', { where: 'stages', fix: 'give at least one stage, or use a built-in algorithm' });
  }
  const byStudent = new Map(pairs.map((p) => [p.student, p]));
  return stages.map((spec, i): Stage => {
    const at = `stages[${i}]`;
    if (!Array.isArray(spec.losses) || spec.losses.length === 0) {
      throw new UserError('a stage needs at least one loss', { where: `${at}.losses`, fix: `list some of ${STAGE_LOSS_NAMES.map((n) => `"${n}"`).join(', ')}` });
    }
    const losses: StageLosses = {};
    spec.losses.forEach((name, j) => {
      const key = Object.prototype.hasOwnProperty.call(LOSS_KEY_BY_NAME, name) ? LOSS_KEY_BY_NAME[name] : undefined;
      if (!key) {
        throw new UserError(`unknown loss ${JSON.stringify(name)}`, {
          where: `${at}.losses[${j}]`,
          fix: `use one of ${STAGE_LOSS_NAMES.map((n) => `"${n}"`).join(', ')}`,
        });
      }
      // A listed loss with weight 0 would silently train nothing: the validator reports it too.
      if (!(weights[key] > 0)) {
        const field = lossWeightField(key);
        throw new UserError(`'${name}' has weight 0 (${field}), so this stage would not train it`, {
          where: `${at}.losses[${j}]`, fix: `set ${field} above 0, or remove '${name}' from this stage`,
        });
      }
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
        throw new UserError('layers must be a non-empty list of student layers', { where: `${at}.layers`, fix: 'e.g. [1, 2], or leave it out for every mapped layer' });
      }
      const seen = new Set<number>();
      layers = spec.layers.map((k, j) => {
        const pair = byStudent.get(k);
        if (!pair) {
          const mapped = pairs.map((p) => p.student).join(', ');
          throw new UserError(`student layer ${JSON.stringify(k)} has no teacher layer in the mapping`, {
            where: `${at}.layers[${j}]`,
            fix: mapped ? `use a mapped student layer (${mapped}) or add it to "mapping"` : 'add pairs to "mapping"',
          });
        }
        if (seen.has(k)) throw new UserError(`student layer ${k} is listed twice`, { where: `${at}.layers[${j}]`, fix: 'remove the duplicate' });
        seen.add(k);
        return { ...pair };
      }).sort((a, b) => a.student - b.student);
    } else if (usesInternal) {
      if (pairs.length === 0) {
        throw new UserError('this stage uses internal losses but the mapping has no pairs', { where: `${at}.losses`, fix: 'add pairs to "mapping"' });
      }
      layers = sortedPairs(pairs);
    }
    checkStageSchedules(spec.schedules, losses, `${at}.schedules`);

    return withSchedules({
      index: i,
      name: spec.name ?? (kind === 'classification' ? 'classification' : layers.length === 0 ? 'embeddings' : layers.length === pairs.length ? 'all layers' : layersName(layers)),
      kind,
      layers,
      losses,
      temperature: weights.temperature,
      epochs: checkEpochs(spec.epochs, `${at}.epochs`),
      patience: checkPatience(spec.patience, `${at}.patience`),
      selectBest: spec.selectBest ?? defaultSelectBest(spec.losses),
    }, spec.schedules ? { ...schedules, ...spec.schedules } : schedules);
  });
}

/** A custom stage's own schedules may only name what it trains (the validator says so first, with the config's paths). */
function checkStageSchedules(own: StageSchedules | undefined, losses: StageLosses, where: string): void {
  if (!own) return;
  for (const key of Object.keys(own) as ScheduleKey[]) {
    const trained = key === 'temperature' ? losses.softLabel !== undefined : losses[key] !== undefined;
    if (!trained) {
      const name = key === 'temperature' ? 'soft-label' : LOSS_NAME_BY_KEY[key];
      throw new UserError(`the stage schedules ${key === 'temperature' ? 'the soft-label temperature' : name} but does not train ${name}`, {
        where: `${where}.${key}`, fix: `add '${name}' to the stage's losses, or remove the schedule`,
      });
    }
  }
}

/**
 * The stage's weights and temperature at step `stageStep` (0-based) of its `stageSteps`: its
 * schedules applied, or the stage's own values where it has none.
 */
export function stageWeightsAt(stage: Pick<Stage, 'losses' | 'temperature' | 'schedules'>, stageStep: number, stageSteps: number): { losses: StageLosses; temperature: number } {
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
