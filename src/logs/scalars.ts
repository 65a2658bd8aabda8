/**
 * The scalar series of a run, taken from its trainer events: what `export-logs` writes to
 * TensorBoard and CSV. Tags are TensorBoard-style paths, so the series group by prefix there:
 *
 *   step event:  lr, train/loss (weighted total), train/<loss> (each term, unweighted),
 *                train/<loss>/layer<k> (per student layer), train/weight/<loss> (the weight at
 *                that step, which schedules move), train/temperature (steps with soft labels),
 *                train/grad-norm, train/examples-per-sec, train/stage, train/live-tensors
 *   eval event:  <split>/<metric> (e.g. dev/accuracy), <split>/attention-kl/layer<k>,
 *                <split>/cls-cosine/layer<k> (student layer k against its mapped teacher layer),
 *                and when the run trains them <split>/hidden-mse/layer<k>,
 *                <split>/value-relation/layer<k>, <split>/embedding-mse
 */
import type { TrainerEvent } from '../protocol/events';

export interface ScalarPoint {
  step: number;
  /** Seconds since the Unix epoch (the event's time). */
  wallTime: number;
  tag: string;
  value: number;
}

/** The scalars one event carries, in a stable order; none for events without numbers. */
export function scalarsOf(e: TrainerEvent): ScalarPoint[] {
  const wallTime = Date.parse(e.time) / 1000;
  const out: ScalarPoint[] = [];
  const add = (step: number, tag: string, value: number): void => {
    out.push({ step, wallTime, tag, value });
  };
  if (e.type === 'step') {
    add(e.step, 'train/loss', e.loss);
    for (const t of e.terms)
      add(e.step, t.layer === undefined ? `train/${t.name}` : `train/${t.name}/layer${t.layer}`, t.value);
    // every layer of a loss shares its weight: one series per loss
    const weighted = new Set<string>();
    for (const t of e.terms) {
      if (weighted.has(t.name)) continue;
      weighted.add(t.name);
      add(e.step, `train/weight/${t.name}`, t.weight);
    }
    if (e.temperature !== undefined) add(e.step, 'train/temperature', e.temperature);
    add(e.step, 'lr', e.lr);
    add(e.step, 'train/grad-norm', e.gradNorm);
    add(e.step, 'train/examples-per-sec', e.examplesPerSec);
    add(e.step, 'train/stage', e.stage);
    if (e.liveTensors !== undefined) add(e.step, 'train/live-tensors', e.liveTensors);
  } else if (e.type === 'eval') {
    for (const [name, value] of Object.entries(e.metrics)) add(e.step, `${e.split}/${name}`, value);
    for (const l of e.perLayer) {
      add(e.step, `${e.split}/attention-kl/layer${l.student}`, l.attentionKl);
      add(e.step, `${e.split}/cls-cosine/layer${l.student}`, l.clsCosine);
      if (l.hiddenMse !== undefined) add(e.step, `${e.split}/hidden-mse/layer${l.student}`, l.hiddenMse);
      if (l.valueRelation !== undefined) add(e.step, `${e.split}/value-relation/layer${l.student}`, l.valueRelation);
    }
    if (e.embeddingMse !== undefined) add(e.step, `${e.split}/embedding-mse`, e.embeddingMse);
  }
  return out;
}

/**
 * Every scalar of the events, ordered by step (events of one step keep their order). A resumed run
 * repeats the steps after its checkpoint; the later value of a (tag, step) wins, as it is the one
 * the run's final model descends from.
 */
export function collectScalars(events: Iterable<TrainerEvent>): ScalarPoint[] {
  const byKey = new Map<string, ScalarPoint>();
  for (const e of events) {
    for (const p of scalarsOf(e)) {
      const key = `${p.step}\u0000${p.tag}`;
      byKey.delete(key); // re-insert so the surviving point takes the later position
      byKey.set(key, p);
    }
  }
  return [...byKey.values()].sort((a, b) => a.step - b.step); // Array.prototype.sort is stable
}
