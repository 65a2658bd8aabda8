/**
 * The loss vocabulary: every loss term, declared once. The rest derives from this table: the
 * config keys (`losses.<key>`), the names that `stages.custom[].losses` and the events use, which
 * terms work on mapped layer pairs, and the order of terms in messages and events. The function
 * that computes each term is in src/distill/objective.ts (TERMS, by key).
 *
 * No imports: the config types, the validator and the webview bundle all read it.
 */
export const LOSSES = [
  { name: 'attention-kl', key: 'attentionKl', field: 'losses.attentionKl', place: 'layer' },
  { name: 'cls-cosine', key: 'clsCosine', field: 'losses.clsCosine', place: 'layer' },
  { name: 'soft-label', key: 'softLabel', field: 'losses.softLabel.weight', place: 'output' },
  { name: 'hard-label', key: 'hardLabel', field: 'losses.hardLabel', place: 'output' },
  { name: 'hidden-mse', key: 'hiddenMse', field: 'losses.hiddenMse', place: 'layer' },
  { name: 'embedding-mse', key: 'embeddingMse', field: 'losses.embeddingMse', place: 'embedding' },
  { name: 'value-relation', key: 'valueRelation', field: 'losses.valueRelation', place: 'layer' },
] as const satisfies ReadonlyArray<{
  /** In stages.custom[].losses, in events (step terms, the planned stages) and in messages. */
  name: string;
  /** Its weight's key under `losses` (soft-label's weight is losses.softLabel.weight). */
  key: string;
  /** The config field that holds its weight, for messages. */
  field: string;
  /** layer: on each mapped layer pair; embedding: on the embedding outputs; output: on the logits. */
  place: 'layer' | 'embedding' | 'output';
}>;

export type LossSpec = (typeof LOSSES)[number];
export type LossName = LossSpec['name'];
export type LossKey = LossSpec['key'];

export const LOSS_NAMES: readonly LossName[] = LOSSES.map((l) => l.name);
export const LOSS_KEYS: readonly LossKey[] = LOSSES.map((l) => l.key);
export const LOSS_NAME_BY_KEY = Object.fromEntries(LOSSES.map((l) => [l.key, l.name])) as Readonly<Record<LossKey, LossName>>;
export const LOSS_KEY_BY_NAME = Object.fromEntries(LOSSES.map((l) => [l.name, l.key])) as Readonly<Record<LossName, LossKey>>;

const keysAt = (...places: Array<LossSpec['place']>): readonly LossKey[] => LOSSES.filter((l) => places.includes(l.place)).map((l) => l.key);
/** Losses on mapped layer pairs: they use a stage's `layers`. */
export const PER_LAYER_KEYS = keysAt('layer');
/** Losses on the models' insides: the per-layer ones and embedding-mse (what internal stages train). */
export const INTERNAL_KEYS = keysAt('layer', 'embedding');
/** Losses on the logits (what classification stages train). */
export const OUTPUT_KEYS = keysAt('output');

/** The config field that holds a loss's weight, for messages. */
export function lossWeightField(key: LossKey): string {
  return LOSSES.find((l) => l.key === key)!.field;
}

/** The loss of a name from a config or an event, or undefined when there is none (own keys only). */
export function lossKeyOf(name: string): LossKey | undefined {
  return Object.hasOwn(LOSS_KEY_BY_NAME, name) ? LOSS_KEY_BY_NAME[name as LossName] : undefined;
}
