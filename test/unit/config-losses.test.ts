// Config, validation and stage plans for the TinyBERT / MiniLM terms and the schedules (issue
// #17): defaults off, ranges and cross-field checks with fixes, and which stages train what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../src/validate/validate';
import type { ConfigProblem } from '../../src/config/parse';
import { resolveMapping } from '../../src/distill/mapping';
import { planCustomStages, planFor, stageWeightsAt } from '../../src/distill/plan';
import { UserError } from '../../src/util/errors';
import { runMain } from '../helpers/cli-in-process';

// Teacher: 4 layers, width 32, 2 heads. Student by default: 2 layers of the same width.
function configFile(over: Record<string, unknown>): { file: string; text: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-losses-cfg-'));
  fs.mkdirSync(path.join(dir, 'teacher'));
  fs.writeFileSync(
    path.join(dir, 'teacher', 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 4,
      hidden_size: 32,
      num_attention_heads: 2,
      intermediate_size: 64,
      num_labels: 2,
    }),
  );
  const text = JSON.stringify(
    {
      task: { name: 'sst2', dataDir: 'data' },
      teacher: { checkpoint: 'teacher' },
      student: { layers: 2 },
      algorithm: 'sid',
      ...over,
    },
    null,
    2,
  );
  const file = path.join(dir, 'run.distill.json');
  fs.writeFileSync(file, text);
  return { file, text };
}

function check(over: Record<string, unknown>) {
  const { file, text } = configFile(over);
  return validateConfig(text, file, { checkFiles: false });
}

function one(problems: ConfigProblem[], pathText: string, severity: 'error' | 'warning' = 'error'): ConfigProblem {
  const hits = problems.filter((p) => p.pathText === pathText && p.severity === severity);
  assert.equal(
    hits.length,
    1,
    `expected one ${severity} at '${pathText}', got: ${JSON.stringify(problems.map((p) => [p.pathText, p.severity, p.message]))}`,
  );
  return hits[0];
}

test("the new terms are off by default and there are no schedules: the paper's plan is unchanged", () => {
  const { config, problems } = check({});
  assert.deepEqual(problems, []);
  assert.ok(config);
  assert.equal(config.losses.hiddenMse, 0);
  assert.equal(config.losses.embeddingMse, 0);
  assert.equal(config.losses.valueRelation, 0);
  assert.equal(config.losses.schedules, undefined);
  const stages = planFor(config, resolveMapping(config.mapping, 2, 4));
  assert.deepEqual(
    stages.map((s) => s.losses),
    [{ attentionKl: 1, clsCosine: 1 }, { attentionKl: 1, clsCosine: 1 }, { softLabel: 1 }],
  );
  assert.ok(stages.every((s) => s.schedules === undefined));
});

test('schedules resolve with from filled from the configured value; each stage gets those of its own terms', () => {
  const { config, problems } = check({
    losses: {
      hiddenMse: 2,
      embeddingMse: 1,
      softLabel: { weight: 1, temperature: 6 },
      schedules: {
        hiddenMse: { shape: 'linear', to: 0 },
        temperature: { shape: 'cosine', to: 1 },
        attentionKl: { shape: 'constant', from: 0.5 },
      },
    },
  });
  assert.deepEqual(problems, []);
  assert.ok(config);
  assert.deepEqual(config.losses.schedules, {
    attentionKl: { shape: 'constant', from: 0.5, to: 0.5 },
    hiddenMse: { shape: 'linear', from: 2, to: 0 },
    temperature: { shape: 'cosine', from: 6, to: 1 },
  });
  const stages = planFor(config, resolveMapping(config.mapping, 2, 4));
  // sid: embedding-mse in every internal stage.
  assert.deepEqual(
    stages.map((s) => s.losses),
    [
      { attentionKl: 1, clsCosine: 1, hiddenMse: 2, embeddingMse: 1 },
      { attentionKl: 1, clsCosine: 1, hiddenMse: 2, embeddingMse: 1 },
      { softLabel: 1 },
    ],
  );
  assert.deepEqual(Object.keys(stages[0].schedules ?? {}), ['attentionKl', 'hiddenMse']);
  assert.deepEqual(Object.keys(stages[2].schedules ?? {}), ['temperature']);
  // At a stage's steps: the schedules applied, unscheduled weights as configured.
  assert.deepEqual(stageWeightsAt(stages[0], 0, 3).losses, {
    attentionKl: 0.5,
    clsCosine: 1,
    hiddenMse: 2,
    embeddingMse: 1,
  });
  assert.deepEqual(stageWeightsAt(stages[0], 2, 3).losses, {
    attentionKl: 0.5,
    clsCosine: 1,
    hiddenMse: 0,
    embeddingMse: 1,
  });
  assert.equal(stageWeightsAt(stages[2], 0, 5).temperature, 6);
  assert.ok(Math.abs(stageWeightsAt(stages[2], 4, 5).temperature - 1) < 1e-12);
});

test('pid trains embedding-mse with its first layer only; internal-all in its one internal stage', () => {
  const pid = check({ algorithm: 'pid', losses: { embeddingMse: 1, valueRelation: 0.5, clsCosine: 0 } }).config;
  assert.ok(pid);
  assert.deepEqual(
    planFor(pid, resolveMapping(pid.mapping, 2, 4)).map((s) => s.losses),
    [{ attentionKl: 1, valueRelation: 0.5, embeddingMse: 1 }, { attentionKl: 1, valueRelation: 0.5 }, { softLabel: 1 }],
  );
  const all = check({ algorithm: 'internal-all', losses: { attentionKl: 0, clsCosine: 0, hiddenMse: 1 } });
  assert.deepEqual(all.problems, [], 'hidden-mse alone is enough for an internal algorithm');
  assert.ok(all.config);
  assert.deepEqual(
    planFor(all.config, resolveMapping(all.config.mapping, 2, 4)).map((s) => s.losses),
    [{ hiddenMse: 1 }, { softLabel: 1 }],
  );
});

test('custom stages may name the new losses; embedding-mse alone has no layers', () => {
  const { config, problems } = check({
    algorithm: 'custom',
    losses: { hiddenMse: 1, embeddingMse: 1, valueRelation: 1 },
    stages: {
      custom: [
        { losses: ['embedding-mse'], epochs: 1 },
        { losses: ['hidden-mse', 'value-relation'], layers: [2], epochs: 1 },
        { losses: ['soft-label'], epochs: 1 },
      ],
    },
  });
  assert.deepEqual(problems, []);
  assert.ok(config);
  const stages = planFor(config, resolveMapping(config.mapping, 2, 4));
  assert.deepEqual(
    stages.map((s) => [s.name, s.kind, s.layers.map((p) => p.student), s.losses]),
    [
      ['stage 1', 'internal', [], { embeddingMse: 1 }],
      ['stage 2', 'internal', [2], { hiddenMse: 1, valueRelation: 1 }],
      ['stage 3', 'classification', [], { softLabel: 1 }],
    ],
  );
  const off = check({ algorithm: 'custom', stages: { custom: [{ losses: ['value-relation'], epochs: 1 }] } });
  const p = one(off.problems, 'stages.custom[0].losses[0]');
  assert.match(p.message, /'value-relation' has weight 0 \(losses.valueRelation\)/);
  assert.match(p.fix ?? '', /set losses.valueRelation above 0/);
  const layersIgnored = check({
    algorithm: 'custom',
    losses: { embeddingMse: 1 },
    stages: { custom: [{ losses: ['embedding-mse'], layers: [1], epochs: 1 }] },
  });
  one(layersIgnored.problems, 'stages.custom[0].layers', 'warning');
});

test('schedule errors: a loss that is off, a missing "to", a temperature that reaches 0, a bad shape', () => {
  const offLoss = check({ losses: { schedules: { valueRelation: { shape: 'linear', to: 1 } } } });
  const p = one(offLoss.problems, 'losses.schedules.valueRelation');
  assert.match(p.message, /value-relation, which is off \(losses.valueRelation is 0\)/);
  assert.match(p.fix ?? '', /set losses.valueRelation above 0, or remove the schedule/);
  assert.match(
    one(check({ losses: { schedules: { clsCosine: { shape: 'cosine' } } } }).problems, 'losses.schedules.clsCosine')
      .message,
    /needs "to"/,
  );
  assert.match(
    one(
      check({ losses: { schedules: { temperature: { shape: 'linear', to: 0 } } } }).problems,
      'losses.schedules.temperature.to',
    ).message,
    /above 0/,
  );
  assert.ok(
    check({ losses: { schedules: { temperature: { shape: 'step', to: 1 } } } }).problems.some(
      (q) => q.severity === 'error' && q.pathText.startsWith('losses.schedules.temperature'),
    ),
  );
  assert.ok(
    check({ losses: { hiddenMse: -1 } }).problems.some(
      (q) => q.severity === 'error' && q.pathText === 'losses.hiddenMse',
    ),
  );
  assert.ok(
    check({ losses: { schedules: { kd: { shape: 'linear', to: 1 } } } }).problems.some((q) => q.severity === 'error'),
  );
});

test('value-relation needs equal head counts; hidden-mse across widths warns about the projection; teacher cache and baselines', () => {
  const heads = check({ student: { layers: 2, heads: 4 }, losses: { valueRelation: 1, attentionKlHeads: 'average' } });
  const p = one(heads.problems, 'losses.valueRelation');
  assert.match(p.message, /4 attention heads and the teacher 2; value-relation/);
  assert.match(p.fix ?? '', /set student.heads to 2, or set losses.valueRelation to 0/);
  const narrow = check({
    student: { layers: 2, hiddenSize: 16, heads: 2, intermediateSize: 32, init: 'random' },
    losses: { hiddenMse: 1, embeddingMse: 1 },
  });
  assert.ok(
    narrow.problems.some(
      (q) =>
        q.severity === 'warning' &&
        /hidden-mse and embedding-mse compare through a learned 16→32 projection/.test(q.message),
    ),
    JSON.stringify(narrow.problems),
  );
  assert.ok(narrow.config, 'warnings only');
  assert.match(
    one(
      check({ losses: { valueRelation: 1 }, teacherCache: { enabled: true } }).problems,
      'teacherCache.enabled',
      'warning',
    ).message,
    /value-relation run the teacher every step/,
  );
  assert.match(
    one(check({ algorithm: 'soft', losses: { hiddenMse: 1 } }).problems, 'losses.hiddenMse', 'warning').message,
    /ignored: algorithm "soft" does not use hidden-mse/,
  );
});

test('custom stages override schedules key by key (stages.custom[i].schedules); the rest come from losses.schedules', () => {
  const { config, problems } = check({
    algorithm: 'custom',
    losses: {
      hiddenMse: 2,
      valueRelation: 1,
      softLabel: { weight: 1, temperature: 4 },
      schedules: {
        hiddenMse: { shape: 'linear', to: 0 },
        valueRelation: { shape: 'cosine', to: 0.5 },
        temperature: { shape: 'linear', to: 1 },
      },
    },
    stages: {
      custom: [
        {
          losses: ['hidden-mse', 'value-relation'],
          epochs: 1,
          schedules: { hiddenMse: { shape: 'linear', from: 0, to: 3 } },
        },
        { losses: ['hidden-mse', 'value-relation'], epochs: 1 },
        {
          losses: ['soft-label'],
          epochs: 1,
          schedules: { temperature: { shape: 'constant' }, softLabel: { shape: 'cosine', to: 0.25 } },
        },
      ],
    },
  });
  assert.deepEqual(problems, []);
  assert.ok(config);
  const custom = config.stages.custom ?? [];
  // Resolved: `from` filled from the configured weight or temperature; a stage without its own has none.
  assert.deepEqual(custom[0].schedules, { hiddenMse: { shape: 'linear', from: 0, to: 3 } });
  assert.equal(custom[1].schedules, undefined);
  assert.deepEqual(custom[2].schedules, {
    softLabel: { shape: 'cosine', from: 1, to: 0.25 },
    temperature: { shape: 'constant', from: 4, to: 4 },
  });
  const stages = planFor(config, resolveMapping(config.mapping, 2, 4));
  assert.deepEqual(
    stages.map((s) => s.schedules),
    [
      { hiddenMse: { shape: 'linear', from: 0, to: 3 }, valueRelation: { shape: 'cosine', from: 1, to: 0.5 } },
      { hiddenMse: { shape: 'linear', from: 2, to: 0 }, valueRelation: { shape: 'cosine', from: 1, to: 0.5 } },
      { softLabel: { shape: 'cosine', from: 1, to: 0.25 }, temperature: { shape: 'constant', from: 4, to: 4 } },
    ],
  );
  // The first stage's hidden-mse grows 0 → 3, the second's decays 2 → 0 (the run-wide schedule).
  assert.deepEqual(
    [0, 1, 2].map((i) => stageWeightsAt(stages[0], i, 3).losses.hiddenMse),
    [0, 1.5, 3],
  );
  assert.deepEqual(
    [0, 1, 2].map((i) => stageWeightsAt(stages[1], i, 3).losses.hiddenMse),
    [2, 1, 0],
  );
  assert.deepEqual(
    [0, 2].map((i) => stageWeightsAt(stages[2], i, 3).temperature),
    [4, 4],
  );
  // The resolved config (runs/<id>/config.json) is itself valid and resolves to the same stages.
  const again = check(
    JSON.parse(JSON.stringify({ algorithm: 'custom', losses: config.losses, stages: config.stages })),
  );
  assert.deepEqual(again.problems, []);
  assert.deepEqual(again.config?.stages.custom, custom);
});

test('stage schedule errors name the field: a loss the stage does not train, the temperature without soft-label, a missing "to", an unknown key', () => {
  const base = { algorithm: 'custom', losses: { hiddenMse: 1, embeddingMse: 1 } };
  const notTrained = check({
    ...base,
    stages: {
      custom: [{ losses: ['hidden-mse'], epochs: 1, schedules: { embeddingMse: { shape: 'linear', to: 0 } } }],
    },
  });
  const p = one(notTrained.problems, 'stages.custom[0].schedules.embeddingMse');
  assert.match(
    p.message,
    /^stages.custom\[0\].schedules.embeddingMse schedules embedding-mse, but this stage does not train embedding-mse \(stages.custom\[0\].losses is \["hidden-mse"\]\)/,
  );
  assert.match(p.fix ?? '', /add 'embedding-mse' to stages.custom\[0\].losses, or remove the schedule/);
  assert.equal(notTrained.config, undefined);
  const temp = check({
    ...base,
    stages: {
      custom: [
        { losses: ['soft-label'], epochs: 1 },
        { losses: ['hidden-mse'], epochs: 1, schedules: { temperature: { shape: 'linear', to: 1 } } },
      ],
    },
  });
  assert.match(
    one(temp.problems, 'stages.custom[1].schedules.temperature').message,
    /schedules the soft-label temperature, but this stage does not train soft-label/,
  );
  const noTo = check({
    ...base,
    stages: { custom: [{ losses: ['hidden-mse'], epochs: 1, schedules: { hiddenMse: { shape: 'cosine' } } }] },
  });
  assert.match(
    one(noTo.problems, 'stages.custom[0].schedules.hiddenMse').message,
    /a cosine schedule needs "to", the value at the last step of the stage/,
  );
  const cold = check({
    ...base,
    stages: { custom: [{ losses: ['soft-label'], epochs: 1, schedules: { temperature: { shape: 'linear', to: 0 } } }] },
  });
  assert.match(
    one(cold.problems, 'stages.custom[0].schedules.temperature.to').message,
    /the temperature must stay above 0/,
  );
  const unknown = check({
    ...base,
    stages: { custom: [{ losses: ['hidden-mse'], epochs: 1, schedules: { hiddenmse: { shape: 'linear', to: 0 } } }] },
  });
  const u = one(unknown.problems, 'stages.custom[0].schedules.hiddenmse');
  assert.match(u.message, /unknown field 'hiddenmse' in 'stages.custom\[0\].schedules' \(did you mean 'hiddenMse'\?\)/);
  // The plan itself refuses the same mistake when called without the validator.
  const pairs = resolveMapping('uniform', 2, 4);
  const weights = {
    attentionKl: 1,
    clsCosine: 1,
    softLabel: 1,
    hardLabel: 0,
    hiddenMse: 1,
    embeddingMse: 1,
    valueRelation: 0,
    temperature: 1,
  };
  assert.throws(
    () =>
      planCustomStages(
        [{ losses: ['hidden-mse'], epochs: 1, schedules: { softLabel: { shape: 'linear', from: 1, to: 0 } } }],
        pairs,
        weights,
      ),
    (e: unknown) =>
      e instanceof UserError &&
      e.where === 'stages[0].schedules.softLabel' &&
      /does not train soft-label/.test(e.message),
  );
});

test('distillery validate reports a stage schedule of a loss the stage does not train, at its line, and exits 2', async () => {
  const { file } = configFile({
    algorithm: 'custom',
    losses: { hiddenMse: 1 },
    stages: { custom: [{ losses: ['attention-kl'], epochs: 1, schedules: { hiddenMse: { shape: 'linear', to: 0 } } }] },
  });
  const bad = await runMain(['validate', '--no-files', file]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stdout,
    /run\.distill\.json:\d+:\d+: stages\.custom\[0\]\.schedules\.hiddenMse schedules hidden-mse, but this stage does not train hidden-mse/,
  );
  assert.match(bad.stdout, /add 'hidden-mse' to stages\.custom\[0\]\.losses, or remove the schedule/);
  const good = configFile({
    algorithm: 'custom',
    losses: { hiddenMse: 1 },
    stages: { custom: [{ losses: ['hidden-mse'], epochs: 1, schedules: { hiddenMse: { shape: 'linear', to: 0 } } }] },
  });
  const ok = await runMain(['validate', '--no-files', '--json', good.file]);
  assert.equal(ok.code, 0, ok.stdout);
  const report = JSON.parse(ok.stdout) as { resolved: { stages: { custom: Array<{ schedules?: unknown }> } } };
  assert.deepEqual(report.resolved.stages.custom[0].schedules, { hiddenMse: { shape: 'linear', from: 1, to: 0 } });
});
