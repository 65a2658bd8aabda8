/**
 * The loss vocabulary: every loss term, declared once. The rest derives from this table: the
 * config keys (`losses.<key>`), the names that `stages.custom[].losses` and the events use, which
 * terms work on mapped layer pairs, which need more of the teacher than its cache holds, and the
 * order of terms in messages and events. The function
 * that computes each term is in src/distill/objective.ts (TERMS, by key).
 *
 * No imports: the config types, the validator and the webview bundle all read it.
 */
export const LOSSES = [
  {
    name: 'attention-kl',
    key: 'attentionKl',
    field: 'losses.attentionKl',
    place: 'layer',
    cached: true,
    fullRows: false,
  },
  { name: 'cls-cosine', key: 'clsCosine', field: 'losses.clsCosine', place: 'layer', cached: true, fullRows: false },
  {
    name: 'soft-label',
    key: 'softLabel',
    field: 'losses.softLabel.weight',
    place: 'output',
    cached: true,
    fullRows: false,
  },
  { name: 'hard-label', key: 'hardLabel', field: 'losses.hardLabel', place: 'output', cached: true, fullRows: false },
  { name: 'hidden-mse', key: 'hiddenMse', field: 'losses.hiddenMse', place: 'layer', cached: false, fullRows: true },
  {
    name: 'embedding-mse',
    key: 'embeddingMse',
    field: 'losses.embeddingMse',
    place: 'embedding',
    cached: false,
    fullRows: true,
  },
  {
    name: 'value-relation',
    key: 'valueRelation',
    field: 'losses.valueRelation',
    place: 'layer',
    cached: false,
    fullRows: false,
  },
] as const satisfies ReadonlyArray<{
  /** In stages.custom[].losses, in events (step terms, the planned stages) and in messages. */
  name: string;
  /** Its weight's key under `losses` (soft-label's weight is losses.softLabel.weight). */
  key: string;
  /** The config field that holds its weight, for messages. */
  field: string;
  /** layer: on each mapped layer pair; embedding: on the embedding outputs; output: on the logits. */
  place: 'layer' | 'embedding' | 'output';
  /**
   * Whether the teacher cache (src/train/teacher-cache.ts: logits, [CLS] vectors, attention maps)
   * holds what it reads of the teacher; the others need whole hidden states or value vectors.
   */
  cached: boolean;
  /**
   * Whether it reads every row of a layer's output hidden state (hidden-mse, embedding-mse), so
   * that layer must be computed for all rows. The others read [CLS] rows, attention maps or value
   * vectors, which the top layer computes even when it carries only its [CLS] rows past the
   * attention probabilities (BertModel.forward's topRows 'cls', src/model/bert.ts).
   */
  fullRows: boolean;
}>;

export type LossSpec = (typeof LOSSES)[number];
export type LossName = LossSpec['name'];
export type LossKey = LossSpec['key'];

export const LOSS_NAMES: readonly LossName[] = LOSSES.map((l) => l.name);
export const LOSS_KEYS: readonly LossKey[] = LOSSES.map((l) => l.key);
export const LOSS_NAME_BY_KEY = Object.fromEntries(LOSSES.map((l) => [l.key, l.name])) as Readonly<
  Record<LossKey, LossName>
>;
export const LOSS_KEY_BY_NAME = Object.fromEntries(LOSSES.map((l) => [l.name, l.key])) as Readonly<
  Record<LossName, LossKey>
>;

const keysAt = (...places: Array<LossSpec['place']>): readonly LossKey[] =>
  LOSSES.filter((l) => places.includes(l.place)).map((l) => l.key);
type PerLayerSpec = Extract<LossSpec, { place: 'layer' }>;
/** A loss on mapped layer pairs; dev evaluations report each per pair under the same key (LayerEval). */
export type PerLayerKey = PerLayerSpec['key'];
/** Losses on mapped layer pairs: they use a stage's `layers`. */
export const PER_LAYER_KEYS: readonly PerLayerKey[] = LOSSES.filter((l): l is PerLayerSpec => l.place === 'layer').map(
  (l) => l.key,
);
/** Losses on the models' insides: the per-layer ones and embedding-mse (what internal stages train). */
export const INTERNAL_KEYS = keysAt('layer', 'embedding');
/** Losses on the logits (what classification stages train). */
export const OUTPUT_KEYS = keysAt('output');
/** Losses that read more of the teacher than the teacher cache holds. */
export const UNCACHED_KEYS: readonly LossKey[] = LOSSES.filter((l) => !l.cached).map((l) => l.key);

/** Losses that read every row of a layer's output hidden state (see `fullRows`). */
export const FULL_ROW_KEYS: readonly LossKey[] = LOSSES.filter((l) => l.fullRows).map((l) => l.key);

/** The config field that holds a loss's weight, for messages. */
export function lossWeightField(key: LossKey): string {
  return LOSSES.find((l) => l.key === key)!.field;
}

/** The loss of a name from a config or an event, or undefined when there is none (own keys only). */
export function lossKeyOf(name: string): LossKey | undefined {
  return Object.hasOwn(LOSS_KEY_BY_NAME, name) ? LOSS_KEY_BY_NAME[name as LossName] : undefined;
}
