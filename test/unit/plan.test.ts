import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BUILT_IN_ALGORITHMS as ALGORITHMS } from '../../src/config/types';
import {
  planCustomStages as planCustom,
  planStages,
  type CustomStageSpec,
  type LossWeights,
  type PlanOptions,
  type Stage,
  type StageLosses,
} from '../../src/distill/plan';
import { resolveMapping, type LayerPair } from '../../src/distill/mapping';
import { UserError } from '../../src/util/errors';

const P = (student: number, teacher: number): LayerPair => ({ student, teacher });
const SIX_OF_TWELVE = resolveMapping('every-other', 6, 12);
const TWO_OF_FOUR = resolveMapping('every-other', 2, 4);

const INTERNAL: StageLosses = { attentionKl: 1, clsCosine: 1 };
/** The paper's defaults, with gold labels on (the baselines and custom stages may name them). */
const WEIGHTS: LossWeights = {
  attentionKl: 1,
  clsCosine: 1,
  softLabel: 1,
  hardLabel: 1,
  hiddenMse: 0,
  embeddingMse: 0,
  valueRelation: 0,
  temperature: 1,
};
const noHard = (w: Partial<LossWeights> = {}): LossWeights => ({ ...WEIGHTS, hardLabel: 0, ...w });
const planCustomStages = (specs: CustomStageSpec[], pairs: LayerPair[], weights: LossWeights = WEIGHTS): Stage[] =>
  planCustom(specs, pairs, weights);

function options(pairs: LayerPair[], over: Partial<PlanOptions> = {}): PlanOptions {
  return {
    pairs,
    weights: noHard(),
    epochsPerLayer: 1,
    internalAllEpochs: 4,
    classificationEpochs: 3,
    patience: 2,
    ...over,
  };
}

function classification(index: number, softLabel: boolean, hardLabel: boolean, patience: number | null = 2): Stage {
  const losses: StageLosses = { ...(softLabel ? { softLabel: 1 } : {}), ...(hardLabel ? { hardLabel: 1 } : {}) };
  return {
    index,
    name: 'classification',
    kind: 'classification',
    layers: [],
    losses,
    temperature: 1,
    epochs: 3,
    patience,
    selectBest: true,
  };
}

function internal(index: number, name: string, layers: LayerPair[], epochs = 1, losses: StageLosses = INTERNAL): Stage {
  return { index, name, kind: 'internal', layers, losses, temperature: 1, epochs, patience: 2, selectBest: false };
}

function assertUserError(fn: () => unknown, where: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.equal(e.where, where);
    assert.match(e.message, message);
    assert.ok(e.fix, 'a fix is suggested');
    return true;
  });
}

test('ALGORITHMS lists the six algorithms', () => {
  assert.deepEqual([...ALGORITHMS], ['hard', 'soft', 'hard+soft', 'internal-all', 'pid', 'sid']);
});

test('hard / soft / hard+soft are a single classification stage (soft ignores hard labels)', () => {
  for (const pairs of [SIX_OF_TWELVE, TWO_OF_FOUR]) {
    assert.deepEqual(planStages('hard', options(pairs, { weights: WEIGHTS })), [classification(0, false, true)]);
    assert.deepEqual(planStages('soft', options(pairs, { weights: WEIGHTS })), [classification(0, true, false)]);
    assert.deepEqual(planStages('hard+soft', options(pairs, { weights: WEIGHTS })), [classification(0, true, true)]);
  }
  // No internal loss and no pairs are needed for output-only algorithms.
  assert.deepEqual(
    planStages('soft', options([], { weights: noHard({ attentionKl: 0, clsCosine: 0 }), patience: null })),
    [classification(0, true, false, null)],
  );
  // An output loss at weight 0 is an error, not weight 1 (issue #18).
  assertUserError(() => planStages('hard', options(TWO_OF_FOUR)), 'losses', /losses.hardLabel is 0/);
});

test('internal-all: one stage with every pair, then classification', () => {
  assert.deepEqual(planStages('internal-all', options(SIX_OF_TWELVE)), [
    internal(0, 'all layers', [P(1, 2), P(2, 4), P(3, 6), P(4, 8), P(5, 10), P(6, 12)], 4),
    classification(1, true, false),
  ]);
  assert.deepEqual(planStages('internal-all', options(TWO_OF_FOUR, { weights: WEIGHTS })), [
    internal(0, 'all layers', [P(1, 2), P(2, 4)], 4),
    classification(1, true, true),
  ]);
});

test('pid: one stage per pair, bottom-up, then classification', () => {
  assert.deepEqual(planStages('pid', options(SIX_OF_TWELVE)), [
    internal(0, 'layer 1', [P(1, 2)]),
    internal(1, 'layer 2', [P(2, 4)]),
    internal(2, 'layer 3', [P(3, 6)]),
    internal(3, 'layer 4', [P(4, 8)]),
    internal(4, 'layer 5', [P(5, 10)]),
    internal(5, 'layer 6', [P(6, 12)]),
    classification(6, true, false),
  ]);
  assert.deepEqual(planStages('pid', options(TWO_OF_FOUR, { epochsPerLayer: 2, weights: WEIGHTS })), [
    internal(0, 'layer 1', [P(1, 2)], 2),
    internal(1, 'layer 2', [P(2, 4)], 2),
    classification(2, true, true),
  ]);
});

test('sid: stages stack the pairs [1], [1,2], …, [all], then classification', () => {
  const m = SIX_OF_TWELVE;
  assert.deepEqual(planStages('sid', options(m)), [
    internal(0, 'layer 1', [P(1, 2)]),
    internal(1, 'layers 1-2', [P(1, 2), P(2, 4)]),
    internal(2, 'layers 1-3', m.slice(0, 3)),
    internal(3, 'layers 1-4', m.slice(0, 4)),
    internal(4, 'layers 1-5', m.slice(0, 5)),
    internal(5, 'layers 1-6', m),
    classification(6, true, false),
  ]);
  assert.deepEqual(planStages('sid', options(TWO_OF_FOUR)), [
    internal(0, 'layer 1', [P(1, 2)]),
    internal(1, 'layers 1-2', [P(1, 2), P(2, 4)]),
    classification(2, true, false),
  ]);
});

test('internal stages carry only the enabled internal losses; explicit sparse mappings are named by layer', () => {
  const attentionOnly: StageLosses = { attentionKl: 1 };
  const sparse = resolveMapping(
    [
      [4, 12],
      [2, 6],
    ],
    4,
    12,
  );
  assert.deepEqual(planStages('sid', options(sparse, { weights: noHard({ clsCosine: 0 }) })), [
    internal(0, 'layer 2', [P(2, 6)], 1, attentionOnly),
    internal(1, 'layers 2, 4', [P(2, 6), P(4, 12)], 1, attentionOnly),
    classification(2, true, false),
  ]);
  const plan = planStages('pid', options(TWO_OF_FOUR, { weights: noHard({ attentionKl: 0, clsCosine: 0.5 }) }));
  assert.deepEqual(plan[0].losses, { clsCosine: 0.5 });
});

test('classificationEpochs 0 skips the classification stage of internal algorithms (then no output loss is needed)', () => {
  assert.deepEqual(
    planStages('pid', options(TWO_OF_FOUR, { classificationEpochs: 0, weights: noHard({ softLabel: 0 }) })),
    [internal(0, 'layer 1', [P(1, 2)]), internal(1, 'layer 2', [P(2, 4)])],
  );
  assertUserError(
    () => planStages('soft', options(TWO_OF_FOUR, { classificationEpochs: 0 })),
    'stages.classificationEpochs',
    /got 0/,
  );
});

test('planStages errors: internal algorithms need an internal loss and pairs; counts are checked', () => {
  for (const algorithm of ['internal-all', 'pid', 'sid'] as const) {
    assertUserError(
      () => planStages(algorithm, options(SIX_OF_TWELVE, { weights: noHard({ attentionKl: 0, clsCosine: 0 }) })),
      'losses',
      /every per-layer internal loss is off/,
    );
    assertUserError(() => planStages(algorithm, options([])), 'mapping', /at least one mapped layer pair/);
  }
  assertUserError(
    () => planStages('pid', options(TWO_OF_FOUR, { epochsPerLayer: 0 })),
    'stages.epochsPerLayer',
    /whole number ≥ 1, got 0/,
  );
  assertUserError(
    () => planStages('internal-all', options(TWO_OF_FOUR, { internalAllEpochs: 1.5 })),
    'stages.internalAllEpochs',
    /got 1.5/,
  );
  assertUserError(
    () => planStages('hard', options(TWO_OF_FOUR, { classificationEpochs: -1 })),
    'stages.classificationEpochs',
    /got -1/,
  );
  assertUserError(() => planStages('hard', options(TWO_OF_FOUR, { patience: 0 })), 'stages.patience', /patience/);
  assertUserError(() => planStages('distil' as never, options(TWO_OF_FOUR)), 'algorithm', /unknown algorithm "distil"/);
});

test('custom stages: layers pick mapped pairs, kinds and defaults follow the losses', () => {
  const specs: CustomStageSpec[] = [
    { layers: [3, 1], losses: ['attention-kl'], epochs: 2 },
    { losses: ['attention-kl', 'cls-cosine'], epochs: 1, patience: 3 },
    { name: 'joint', layers: [6], losses: ['cls-cosine', 'soft-label'], epochs: 1 },
    { losses: ['soft-label', 'hard-label'], epochs: 5, selectBest: false },
  ];
  assert.deepEqual(planCustomStages(specs, SIX_OF_TWELVE), [
    {
      index: 0,
      name: 'layers 1, 3',
      kind: 'internal',
      layers: [P(1, 2), P(3, 6)],
      losses: { attentionKl: 1 },
      temperature: 1,
      epochs: 2,
      patience: null,
      selectBest: false,
    },
    {
      index: 1,
      name: 'all layers',
      kind: 'internal',
      layers: SIX_OF_TWELVE,
      losses: INTERNAL,
      temperature: 1,
      epochs: 1,
      patience: 3,
      selectBest: false,
    },
    {
      index: 2,
      name: 'joint',
      kind: 'classification',
      layers: [P(6, 12)],
      losses: { clsCosine: 1, softLabel: 1 },
      temperature: 1,
      epochs: 1,
      patience: null,
      selectBest: true,
    },
    {
      index: 3,
      name: 'classification',
      kind: 'classification',
      layers: [],
      losses: { softLabel: 1, hardLabel: 1 },
      temperature: 1,
      epochs: 5,
      patience: null,
      selectBest: false,
    },
  ]);
});

test('custom stages: errors name the stage and field', () => {
  const sparse = resolveMapping(
    [
      [1, 4],
      [3, 12],
    ],
    3,
    12,
  );
  assertUserError(
    () =>
      planCustomStages(
        [
          { losses: ['attention-kl'], epochs: 1 },
          { layers: [1, 2], losses: ['attention-kl'], epochs: 1 },
        ],
        sparse,
      ),
    'stages[1].layers[1]',
    /student layer 2 has no teacher layer in the mapping/,
  );
  assertUserError(
    () => planCustomStages([{ layers: [1, 1], losses: ['cls-cosine'], epochs: 1 }], sparse),
    'stages[0].layers[1]',
    /listed twice/,
  );
  assertUserError(
    () => planCustomStages([{ layers: [1], losses: ['soft-label'], epochs: 1 }], sparse),
    'stages[0].layers',
    /only apply to internal losses/,
  );
  assertUserError(
    () => planCustomStages([{ layers: [], losses: ['cls-cosine'], epochs: 1 }], sparse),
    'stages[0].layers',
    /non-empty/,
  );
  assertUserError(
    () => planCustomStages([{ losses: ['soft-label', 'kd' as never], epochs: 1 }], sparse),
    'stages[0].losses[1]',
    /unknown loss "kd"/,
  );
  assertUserError(() => planCustomStages([{ losses: [], epochs: 1 }], sparse), 'stages[0].losses', /at least one loss/);
  assertUserError(() => planCustomStages([{ losses: ['hard-label'], epochs: 0 }], sparse), 'stages[0].epochs', /≥ 1/);
  assertUserError(
    () => planCustomStages([{ losses: ['hard-label'], epochs: 1, patience: 0.5 }], sparse),
    'stages[0].patience',
    /patience/,
  );
  assertUserError(
    () => planCustomStages([{ losses: ['attention-kl'], epochs: 1 }], []),
    'stages[0].losses',
    /mapping has no pairs/,
  );
  assertUserError(() => planCustomStages([], sparse), 'stages', /empty/);
  assertUserError(
    () => planCustomStages([{ losses: ['hard-label'], epochs: 1 }], sparse, noHard()),
    'stages[0].losses[0]',
    /weight 0 \(losses.hardLabel\)/,
  );
});

test('a resolved custom config plans as written: output-only stages without layers, internal ones on the mapped pairs', async () => {
  const { validateConfig } = await import('../../src/validate/validate');
  const { planFor } = await import('../../src/distill/plan');
  // Validation reads the teacher's config.json for its depth (file checks off: nothing else).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-plan-'));
  fs.mkdirSync(path.join(dir, 'teacher'));
  fs.writeFileSync(
    path.join(dir, 'teacher', 'config.json'),
    JSON.stringify({ model_type: 'bert', num_hidden_layers: 12, num_labels: 2 }),
  );
  const text = JSON.stringify({
    task: { name: 'sst2', dataDir: 'data' },
    teacher: { checkpoint: 'teacher' },
    student: { layers: 3 },
    mapping: [
      [1, 4],
      [3, 12],
    ],
    algorithm: 'custom',
    losses: { hardLabel: 1 },
    stages: {
      custom: [
        { losses: ['attention-kl'], epochs: 1 },
        { losses: ['soft-label', 'hard-label'], epochs: 2 },
        { losses: ['soft-label'], epochs: 1, layers: [3] },
      ],
    },
  });
  const { config, problems } = validateConfig(text, path.join(dir, 'run.distill.json'), { checkFiles: false });
  assert.deepEqual(
    problems.filter((p) => p.pathText.startsWith('stages')).map((p) => [p.pathText, p.severity]),
    [['stages.custom[2].layers', 'warning']],
  );
  assert.ok(config);
  const pairs = resolveMapping(config.mapping, 3, 12);
  const both: StageLosses = { softLabel: 1, hardLabel: 1 };
  assert.deepEqual(planFor(config, pairs), [
    {
      index: 0,
      name: 'stage 1',
      kind: 'internal',
      layers: [P(1, 4), P(3, 12)],
      losses: { attentionKl: 1 },
      temperature: 1,
      epochs: 1,
      patience: null,
      selectBest: false,
    },
    {
      index: 1,
      name: 'stage 2',
      kind: 'classification',
      layers: [],
      losses: both,
      temperature: 1,
      epochs: 2,
      patience: null,
      selectBest: true,
    },
    {
      index: 2,
      name: 'stage 3',
      kind: 'classification',
      layers: [],
      losses: { softLabel: 1 },
      temperature: 1,
      epochs: 1,
      patience: null,
      selectBest: true,
    },
  ]);
  // The planner on its own takes the resolved stages as they are (no layers to strip).
  assert.deepEqual(planCustomStages(config.stages.custom ?? [], pairs, WEIGHTS), planFor(config, pairs));
});
