// The dashboard's per-term data for the TinyBERT / MiniLM terms and the schedules (issue #17):
// each loss's weight and the temperature per step, dev hidden-mse (embedding-mse as layer 0) and
// value-relation by layer, all data-driven from the events, and dropped again by a resume replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEvent, type LossTerm, type TrainerEvent } from '../src/protocol/events';
import { RunData, termKey, termLabel } from '../webview/src/state';

const RUN = 'r';
function step(s: number, terms: LossTerm[], temperature?: number): TrainerEvent {
  const loss = terms.reduce((a, t) => a + t.value * t.weight, 0);
  return createEvent(RUN, { type: 'step', step: s, stage: 0, epoch: 1, lr: 0.1, loss, terms, ...(temperature !== undefined ? { temperature } : {}), gradNorm: 1, examplesPerSec: 10, elapsedMs: 1 });
}
function evalAt(s: number, perLayer: Array<{ student: number; hiddenMse?: number; valueRelation?: number }>, embeddingMse?: number): TrainerEvent {
  return createEvent(RUN, {
    type: 'eval', step: s, stage: 0, epoch: 1, split: 'dev', metrics: { accuracy: 0.5 }, mainMetric: { name: 'accuracy', value: 0.5 },
    perLayer: perLayer.map((l) => ({ teacher: 2 * l.student, attentionKl: 0.1, clsCosine: 0.2, ...l })), ...(embeddingMse !== undefined ? { embeddingMse } : {}), isBest: false,
  });
}

test('step weights by loss, the temperature, and the new terms as per-layer series', () => {
  const run = new RunData(RUN);
  run.apply(step(1, [
    { name: 'embedding-mse', value: 3, weight: 0.5 },
    { name: 'hidden-mse', layer: 1, value: 2, weight: 2 },
    { name: 'hidden-mse', layer: 2, value: 1, weight: 2 },
    { name: 'value-relation', layer: 1, value: 0.4, weight: 0 },
  ]));
  run.apply(step(2, [{ name: 'hidden-mse', layer: 1, value: 1.5, weight: 1 }, { name: 'value-relation', layer: 1, value: 0.3, weight: 0.5 }]));
  run.apply(step(3, [{ name: 'soft-label', value: 0.7, weight: 1 }], 4));
  const w = (name: string) => [...(run.steps.weights.get(name)?.values() ?? [])];
  assert.deepEqual([...run.steps.weights.keys()], ['embedding-mse', 'hidden-mse', 'value-relation', 'soft-label']);
  assert.deepEqual(w('hidden-mse'), [2, 1, NaN]);
  assert.deepEqual(w('value-relation'), [0, 0.5, NaN]);
  assert.deepEqual(w('soft-label'), [NaN, NaN, 1]);
  assert.deepEqual([...run.steps.temperature.values()], [NaN, NaN, 4]);
  assert.deepEqual([...run.steps.terms.keys()], ['embedding-mse', 'hidden-mse@1', 'hidden-mse@2', 'value-relation@1', 'soft-label']);
  assert.equal(termLabel(termKey({ name: 'value-relation', layer: 2 })), 'value-relation L2');
  // A resume replays from step 2: the weights and temperature after it go too.
  run.apply(step(2, [{ name: 'hidden-mse', layer: 1, value: 1.4, weight: 1 }]));
  assert.deepEqual(w('hidden-mse'), [2, 1]);
  assert.deepEqual(w('soft-label'), [NaN, NaN]);
  assert.deepEqual([...run.steps.temperature.values()], [NaN, NaN]);
});

test('dev hidden-mse by layer (embedding-mse as L0) and value-relation; absent for runs without them', () => {
  const run = new RunData(RUN);
  run.apply(evalAt(2, [{ student: 1, hiddenMse: 0.9, valueRelation: 0.3 }, { student: 2, hiddenMse: 0.8, valueRelation: 0.2 }], 1.1));
  run.apply(evalAt(4, [{ student: 1, hiddenMse: 0.7 }, { student: 2, hiddenMse: 0.6 }], 1.0));
  assert.deepEqual([...run.evals.hiddenMse.entries()].sort((a, b) => a[0] - b[0]), [[0, [1.1, 1.0]], [1, [0.9, 0.7]], [2, [0.8, 0.6]]]);
  assert.deepEqual([...run.evals.valueRelation.entries()], [[1, [0.3, NaN]], [2, [0.2, NaN]]]);
  const paper = new RunData(RUN);
  paper.apply(evalAt(2, [{ student: 1 }]));
  assert.equal(paper.evals.hiddenMse.size, 0);
  assert.equal(paper.evals.valueRelation.size, 0);
  assert.deepEqual(paper.evals.attentionKl.get(1), [0.1]);
});
