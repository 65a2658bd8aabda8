// The dashboard's per-term data for the TinyBERT / MiniLM terms and the schedules (issue #17):
// each loss's weight and the temperature per step, dev hidden-mse (embedding-mse as layer 0) and
// value-relation by layer, all data-driven from the events, and dropped again by a resume replay;
// the value-relation maps of attention samples; the compare view's per-term curves and columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOSS_NAMES } from '../../src/config/loss-vocabulary';
import {
  createEvent,
  isTrainerEvent,
  type AttentionSampleEvent,
  type LossTerm,
  type TrainerEvent,
} from '../../src/protocol/events';
import { mapsOf, pairHead, sharedScaleMax } from '../../webview/src/sample-maps';
import { RunData, sanitizeUiState, termKey, termLabel } from '../../webview/src/state';
import {
  compareColumns,
  compareRow,
  studentStepCurveOn,
  termMean,
  termWeight,
  trainedTerms,
} from '../../webview/src/summary';

const RUN = 'r';
function step(s: number, terms: LossTerm[], temperature?: number): TrainerEvent {
  const loss = terms.reduce((a, t) => a + t.value * t.weight, 0);
  return createEvent(RUN, {
    type: 'step',
    step: s,
    stage: 0,
    epoch: 1,
    lr: 0.1,
    loss,
    terms,
    ...(temperature !== undefined ? { temperature } : {}),
    gradNorm: 1,
    examplesPerSec: 10,
    elapsedMs: 1,
  });
}
function evalAt(
  s: number,
  perLayer: Array<{ student: number; hiddenMse?: number; valueRelation?: number }>,
  embeddingMse?: number,
): TrainerEvent {
  return createEvent(RUN, {
    type: 'eval',
    step: s,
    stage: 0,
    epoch: 1,
    split: 'dev',
    metrics: { accuracy: 0.5 },
    mainMetric: { name: 'accuracy', value: 0.5 },
    perLayer: perLayer.map((l) => ({ teacher: 2 * l.student, attentionKl: 0.1, clsCosine: 0.2, ...l })),
    ...(embeddingMse !== undefined ? { embeddingMse } : {}),
    isBest: false,
  });
}

test('step weights by loss, the temperature, and the new terms as per-layer series', () => {
  const run = new RunData(RUN);
  run.apply(
    step(1, [
      { name: 'embedding-mse', value: 3, weight: 0.5 },
      { name: 'hidden-mse', layer: 1, value: 2, weight: 2 },
      { name: 'hidden-mse', layer: 2, value: 1, weight: 2 },
      { name: 'value-relation', layer: 1, value: 0.4, weight: 0 },
    ]),
  );
  run.apply(
    step(2, [
      { name: 'hidden-mse', layer: 1, value: 1.5, weight: 1 },
      { name: 'value-relation', layer: 1, value: 0.3, weight: 0.5 },
    ]),
  );
  run.apply(step(3, [{ name: 'soft-label', value: 0.7, weight: 1 }], 4));
  const w = (name: string) => [...(run.steps.weights.get(name)?.values() ?? [])];
  assert.deepEqual([...run.steps.weights.keys()], ['embedding-mse', 'hidden-mse', 'value-relation', 'soft-label']);
  assert.deepEqual(w('hidden-mse'), [2, 1, NaN]);
  assert.deepEqual(w('value-relation'), [0, 0.5, NaN]);
  assert.deepEqual(w('soft-label'), [NaN, NaN, 1]);
  assert.deepEqual([...run.steps.temperature.values()], [NaN, NaN, 4]);
  assert.deepEqual(
    [...run.steps.terms.keys()],
    ['embedding-mse', 'hidden-mse@1', 'hidden-mse@2', 'value-relation@1', 'soft-label'],
  );
  assert.equal(termLabel(termKey({ name: 'value-relation', layer: 2 })), 'value-relation L2');
  // A resume replays from step 2: the weights and temperature after it go too.
  run.apply(step(2, [{ name: 'hidden-mse', layer: 1, value: 1.4, weight: 1 }]));
  assert.deepEqual(w('hidden-mse'), [2, 1]);
  assert.deepEqual(w('soft-label'), [NaN, NaN]);
  assert.deepEqual([...run.steps.temperature.values()], [NaN, NaN]);
});

test('dev hidden-mse by layer (embedding-mse as L0) and value-relation; absent for runs without them', () => {
  const run = new RunData(RUN);
  run.apply(
    evalAt(
      2,
      [
        { student: 1, hiddenMse: 0.9, valueRelation: 0.3 },
        { student: 2, hiddenMse: 0.8, valueRelation: 0.2 },
      ],
      1.1,
    ),
  );
  run.apply(
    evalAt(
      4,
      [
        { student: 1, hiddenMse: 0.7 },
        { student: 2, hiddenMse: 0.6 },
      ],
      1.0,
    ),
  );
  assert.deepEqual(
    [...run.evals.hiddenMse.entries()].sort((a, b) => a[0] - b[0]),
    [
      [0, [1.1, 1.0]],
      [1, [0.9, 0.7]],
      [2, [0.8, 0.6]],
    ],
  );
  assert.deepEqual(
    [...run.evals.valueRelation.entries()],
    [
      [1, [0.3, NaN]],
      [2, [0.2, NaN]],
    ],
  );
  const paper = new RunData(RUN);
  paper.apply(evalAt(2, [{ student: 1 }]));
  assert.equal(paper.evals.hiddenMse.size, 0);
  assert.equal(paper.evals.valueRelation.size, 0);
  assert.deepEqual(paper.evals.attentionKl.get(1), [0.1]);
});

test('value relations next to the attention maps: present only in samples that carry them; one scale per kind', () => {
  const layer = (withRelations: boolean, scale: number) => ({
    student: 1,
    teacher: 2,
    teacherMaps: [
      [
        [0.6, 0.4],
        [0.5, 0.5],
      ],
    ],
    studentMaps: [
      [
        [0.7, 0.3],
        [0.2, 0.8],
      ],
    ],
    ...(withRelations
      ? {
          teacherValueRelations: [
            [
              [0.9 * scale, 0.1],
              [0.3, 0.7],
            ],
          ],
          studentValueRelations: [
            [
              [0.5, 0.5],
              [0.4, 0.6],
            ],
          ],
        }
      : {}),
  });
  const sample = (step: number, withRelations: boolean, scale = 1): AttentionSampleEvent =>
    createEvent(RUN, { type: 'attention-sample', step, tokens: ['[CLS]', 'x'], layers: [layer(withRelations, scale)] });
  const paper = sample(1, false);
  assert.deepEqual(mapsOf(paper.layers[0], 'attention'), {
    teacher: paper.layers[0].teacherMaps,
    student: paper.layers[0].studentMaps,
  });
  assert.equal(mapsOf(paper.layers[0], 'value-relation'), undefined);
  const minilm = [sample(1, true), sample(2, true, 0.5)];
  assert.deepEqual(mapsOf(minilm[0].layers[0], 'value-relation'), {
    teacher: [
      [
        [0.9, 0.1],
        [0.3, 0.7],
      ],
    ],
    student: [
      [
        [0.5, 0.5],
        [0.4, 0.6],
      ],
    ],
  });
  // The scale's top: the largest value of that kind over every sample, teacher and student.
  assert.equal(sharedScaleMax(minilm, 0, 0, 'value-relation'), 0.9);
  assert.equal(sharedScaleMax(minilm, 0, 0, 'attention'), 0.8);
  assert.equal(sharedScaleMax([paper], 0, 0, 'value-relation'), 1, 'nothing of that kind: the full 0–1 scale');
  assert.deepEqual(pairHead(mapsOf(minilm[1].layers[0], 'value-relation')!, -1).teacher, [
    [0.45, 0.1],
    [0.3, 0.7],
  ]);
  // The protocol accepts the maps, and a malformed one is refused.
  assert.ok(isTrainerEvent(minilm[0]));
  const bad = JSON.parse(JSON.stringify(minilm[0])) as { layers: Array<Record<string, unknown>> };
  bad.layers[0].studentValueRelations = [[['x']]];
  assert.ok(!isTrainerEvent(bad));
});

test('compare: per-term means and weights per step, the terms the runs trained, hidden-mse / value-relation columns', () => {
  const run = new RunData(RUN);
  run.apply(
    step(1, [
      { name: 'hidden-mse', layer: 1, value: 2, weight: 2 },
      { name: 'hidden-mse', layer: 2, value: 4, weight: 2 },
      { name: 'embedding-mse', value: 1, weight: 0.5 },
    ]),
  );
  run.apply(step(2, [{ name: 'hidden-mse', layer: 1, value: 1, weight: 1 }]));
  run.apply(step(3, [{ name: 'soft-label', value: 0.7, weight: 1 }], 2));
  assert.deepEqual(Array.from(termMean(run, 'hidden-mse').values()), [3, 1, NaN]);
  assert.deepEqual(Array.from(termMean(run, 'embedding-mse').values()), [1, NaN, NaN]);
  assert.deepEqual(Array.from(termWeight(run, 'hidden-mse').values()), [2, 1, NaN]);
  assert.deepEqual(
    Array.from(termWeight(run, 'value-relation').values()),
    [NaN, NaN, NaN],
    'a term the run never trained',
  );
  const paper = new RunData('paper');
  paper.apply(
    step(1, [
      { name: 'attention-kl', layer: 1, value: 0.1, weight: 1 },
      { name: 'cls-cosine', layer: 1, value: 0.2, weight: 1 },
    ]),
  );
  assert.deepEqual(trainedTerms([run, paper], LOSS_NAMES), [
    'attention-kl',
    'cls-cosine',
    'soft-label',
    'hidden-mse',
    'embedding-mse',
  ]);
  // On the compare axis: the mean curve of the term, by distillation step.
  const curve = studentStepCurveOn(run, termMean(run, 'hidden-mse'), 'distill-step');
  assert.deepEqual(Array.from({ length: curve.length }, (_, i) => [curve.x[i], curve.y[i]]).slice(0, 2), [
    [1, 3],
    [2, 1],
  ]);
  // The table: the last evaluation that measured them; nothing for runs without them.
  run.apply(
    evalAt(
      2,
      [
        { student: 1, hiddenMse: 0.9, valueRelation: 0.3 },
        { student: 2, hiddenMse: 0.8 },
      ],
      1.1,
    ),
  );
  run.apply(evalAt(3, [{ student: 1 }]));
  paper.apply(evalAt(1, [{ student: 1 }]));
  const rows = [compareRow(run), compareRow(paper)];
  assert.deepEqual(
    [...rows[0].hiddenMse],
    [
      [0, 1.1],
      [1, 0.9],
      [2, 0.8],
    ],
  );
  assert.deepEqual([...rows[0].valueRelation], [[1, 0.3]]);
  assert.equal(rows[1].hiddenMse.size + rows[1].valueRelation.size, 0);
  const cols = compareColumns(rows);
  assert.deepEqual([cols.hiddenLayers, cols.relationLayers], [[0, 1, 2], [1]]);
  assert.deepEqual(compareColumns([rows[1]]).hiddenLayers, []);
  // The chosen term survives a reload; anything else falls back to the first trained term.
  assert.equal(sanitizeUiState({ compareTerm: 'value-relation' }).compareTerm, 'value-relation');
  assert.equal(sanitizeUiState({ compareTerm: 'kd' }).compareTerm, null);
});
