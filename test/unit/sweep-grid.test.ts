/** The grid, cell ids, the sweep file and the plan (cell configs, shared teacher, validation); nothing trains. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  applyOverrides,
  checkConfigPath,
  expandGrid,
  GridError,
  knownConfigPaths,
  parseDottedPath,
  parseGrid,
  setPath,
  slug,
} from '../../src/sweep/grid';
import { readSweepFile } from '../../src/sweep/sweep-file';
import { planSweep } from '../../src/sweep/plan';
import { generateDemoTask } from '../../src/data/demo-task';
import { isUserError, UserError } from '../../src/util/errors';
import { resolveConfig } from '../../src/validate/validate';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-grid-'));
  made.push(d);
  return d;
}

function gridError(f: () => unknown): GridError {
  try {
    f();
  } catch (e) {
    if (e instanceof GridError) return e;
    throw e;
  }
  assert.fail('expected a GridError');
}

function userError(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    if (isUserError(e)) return e;
    throw e;
  }
  assert.fail('expected a UserError');
}

// ---- grid expansion and ids ----------------------------------------------------------------

test('the grid expands to the cartesian product, first axis slowest, with stable readable ids', () => {
  const axes = parseGrid({ algorithms: ['soft', 'hard+soft', 'pid'], seeds: [1, 2], fractions: [0.1, 1] });
  const cells = expandGrid(axes);
  assert.equal(cells.length, 12);
  assert.deepEqual(
    cells.slice(0, 4).map((c) => c.id),
    ['soft_seed1_frac0.1', 'soft_seed1_frac1', 'soft_seed2_frac0.1', 'soft_seed2_frac1'],
  );
  assert.equal(cells[4].id, 'hard-plus-soft_seed1_frac0.1');
  assert.deepEqual(
    cells.map((c) => c.index),
    [...Array(12).keys()],
  );
  assert.equal(new Set(cells.map((c) => c.id)).size, 12);
  for (const c of cells) assert.match(c.id, /^[a-z0-9._-]+$/, 'file-system safe');
  const pid = cells.find((c) => c.id === 'pid_seed2_frac0.1')!;
  assert.deepEqual(pid.overrides, [
    { path: ['algorithm'], value: 'pid' },
    { path: ['optim', 'seed'], value: 2 },
    { path: ['task', 'trainFraction'], value: 0.1 },
  ]);
  assert.equal(pid.values.fractions.label, '10 %');
  assert.equal(pid.values.seeds.label, 'seed 2');
  // Adding values to an axis leaves the existing ids alone (finished cells stay finished).
  const more = expandGrid(
    parseGrid({ algorithms: ['soft', 'hard+soft', 'pid', 'sid'], seeds: [1, 2, 3], fractions: [0.1, 1] }),
  );
  for (const c of cells)
    assert.ok(
      more.some((m) => m.id === c.id),
      c.id,
    );
});

test('any config field is an axis by dotted path; algorithm variants carry their own settings', () => {
  const axes = parseGrid({
    algorithms: [
      'soft',
      { name: 'internal-all (attention only)', algorithm: 'internal-all', set: { 'losses.clsCosine': 0 } },
    ],
    'losses.attentionKl': [0, 1],
    'student.layers': [2, 3],
    'teacher.train.architecture.layers': [4, 6],
    'stages.custom.0.epochs': [1],
  });
  assert.deepEqual(
    axes.map((a) => a.kind),
    ['algorithm', 'field', 'field', 'field', 'field'],
  );
  const cells = expandGrid(axes);
  assert.equal(cells.length, 2 * 2 * 2 * 2);
  const c = cells.find((x) => x.values.algorithms.label === 'internal-all (attention only)')!;
  // Two axes end in "layers", so both are named by their full path.
  assert.match(
    c.id,
    /^internal-all-attention-only_attentionkl-0_student\.layers-2_teacher\.train\.architecture\.layers-4_epochs-1$/,
  );
  assert.deepEqual(c.overrides.slice(0, 2), [
    { path: ['algorithm'], value: 'internal-all' },
    { path: ['losses', 'clsCosine'], value: 0 },
  ]);
  assert.deepEqual(c.overrides.find((o) => o.path[0] === 'stages')!.path, ['stages', 'custom', 0, 'epochs']);
  assert.equal(c.values['losses.attentionKl'].label, 'attentionKl=0');
  const cfg = applyOverrides({ algorithm: 'hard', losses: { softLabel: { weight: 1 } } }, c.overrides);
  assert.deepEqual(cfg.losses, { softLabel: { weight: 1 }, attentionKl: 0, clsCosine: 0 });
  assert.deepEqual(cfg.student, { layers: 2 });
  assert.deepEqual(cfg.stages, { custom: [{ epochs: 1 }] });
});

test('a task axis replaces the whole task before the fraction is applied', () => {
  const cells = expandGrid(
    parseGrid({
      fractions: [0.5],
      tasks: [
        { name: 'sst2', dataDir: 'glue/SST-2' },
        {
          label: 'cola-64',
          task: { name: 'cola', dataDir: 'glue/CoLA', maxSeqLen: 64 },
          set: { 'teacher.train.epochs': 5 },
        },
      ],
    }),
  );
  assert.deepEqual(
    cells.map((c) => c.id),
    ['frac0.5_sst2', 'frac0.5_cola-64'],
  );
  const cfg = applyOverrides({ task: { name: 'rte', maxSeqLen: 128 } }, cells[1].overrides);
  assert.deepEqual(cfg.task, { name: 'cola', dataDir: 'glue/CoLA', maxSeqLen: 64, trainFraction: 0.5 });
  assert.deepEqual(cfg.teacher, { train: { epochs: 5 } });
});

test('ids stay unique: values whose names collide get a short hash, repeated values are errors', () => {
  const cells = expandGrid(parseGrid({ 'task.custom.textA': ['a b', 'a-b'] }));
  assert.equal(cells.length, 2);
  assert.notEqual(cells[0].id, cells[1].id);
  assert.match(cells[0].id, /^texta-a-b-[0-9a-f]{6}$/);
  assert.match(gridError(() => parseGrid({ seeds: [1, 2, 1] })).message, /listed twice/);
  assert.match(
    gridError(() =>
      parseGrid({
        algorithms: [
          { name: 'x', algorithm: 'pid' },
          { name: 'x', algorithm: 'sid' },
        ],
      }),
    ).message,
    /both called "x"/,
  );
  // Long or structured values are hashed, never spilled into the file name.
  const [long] = expandGrid(
    parseGrid({
      mapping: [
        [
          [1, 2],
          [2, 4],
          [3, 6],
          [4, 8],
        ],
      ],
    }),
  );
  assert.match(long.id, /^mapping-h[0-9a-f]{8}$/);
  assert.equal(slug('Hard+Soft / T=2'), 'hard-plus-soft-t-2');
});

test('a grid key that is not a config field is an error naming the key, with the closest field', () => {
  const e = gridError(() => parseGrid({ seeds: [1], 'losses.atentionKl': [0, 1] }));
  assert.match(e.message, /grid key "losses\.atentionKl" is not a field of a run config/);
  assert.equal(e.fix, 'did you mean "losses.attentionKl"?');
  assert.deepEqual(e.at, ['grid', 'losses.atentionKl']);
  assert.match(
    gridError(() => checkConfigPath('student.layer', ['grid', 'student.layer'])).fix ?? '',
    /student\.layers/,
  );
  assert.match(gridError(() => parseGrid({ runsDir: ['a', 'b'] })).message, /cannot be varied/);
  assert.match(gridError(() => parseGrid({ algorithms: ['pdi'] })).fix ?? '', /"pid"/);
  assert.match(gridError(() => parseGrid({ fractions: [0, 0.5] })).message, /\(0, 1\]/);
  assert.match(gridError(() => parseGrid({ seeds: [] })).message, /one or more values/);
  assert.match(gridError(() => parseGrid({ seeds: [1], 'optim.seed': [2] })).message, /both vary optim\.seed/);
  assert.match(
    gridError(() => parseGrid({ algorithms: [{ algorithm: 'pid', set: { 'losses.nope': 1 } }] })).message,
    /"losses\.nope"/,
  );
  assert.ok(knownConfigPaths().includes('losses.softLabel.temperature'));
  assert.deepEqual(parseDottedPath('stages.custom.0.epochs'), ['stages', 'custom', 0, 'epochs']);
});

test('setPath creates the objects and arrays on the way and copies the value', () => {
  const root: Record<string, unknown> = {};
  const value = { deep: [1] };
  setPath(root, ['a', 'list', 0, 'x'], value);
  setPath(root, ['a', 'n'], 3);
  assert.deepEqual(root, { a: { list: [{ x: { deep: [1] } }], n: 3 } });
  value.deep.push(2);
  assert.deepEqual((root.a as { list: Array<{ x: { deep: number[] } }> }).list[0].x.deep, [1]);
});

// ---- the sweep file ------------------------------------------------------------------------

test('sweep file mistakes point at the line of the sweep file', () => {
  const dir = tmp();
  const file = path.join(dir, 'x.sweep.json');
  fs.writeFileSync(file, '{\n  "base": {},\n  "grid": {\n    "seeds": [1],\n    "losses.temprature": [1]\n  }\n}\n');
  const e = userError(() => readSweepFile(file));
  assert.match(e.message, /grid key "losses\.temprature" is not a field/);
  assert.match(e.where ?? '', /x\.sweep\.json:5:5/);
  assert.match(e.fix ?? '', /softLabel\.temperature/);

  fs.writeFileSync(file, '{ "base": "missing.distill.json", "grid": { "seeds": [1] } }');
  assert.match(userError(() => readSweepFile(file)).message, /base config not found/);
  fs.writeFileSync(file, '{ "base": {}, "grid": { "seeds": [1] }, "gird": {} }');
  assert.match(userError(() => readSweepFile(file)).message, /unknown field "gird"/);
  fs.writeFileSync(file, '{ "base": {}, "grid": { "seeds": [1], } , }');
  assert.equal(readSweepFile(file).name, 'x', 'JSONC: trailing commas are fine; the name comes from the file');
  fs.writeFileSync(file, '{ "base": {} "grid": {} }');
  assert.match(userError(() => readSweepFile(file)).message, /syntax error/);
});

// ---- the plan --------------------------------------------------------------------------------

function project(): { dir: string; base: Record<string, unknown> } {
  const dir = tmp();
  generateDemoTask(path.join(dir, 'data'), { trainSize: 20, devSize: 10, seed: 1 });
  const base = {
    task: {
      name: 'custom',
      maxSeqLen: 24,
      custom: { train: 'data/train.tsv', dev: 'data/dev.tsv', textA: 'sentence', label: 'label' },
    },
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 4, hiddenSize: 32, heads: 2, intermediateSize: 64 },
        vocab: 'data/vocab.txt',
        epochs: 2,
      },
    },
    student: { layers: 2 },
    algorithm: 'soft',
    stages: { classificationEpochs: 2 },
  };
  return { dir, base };
}

test('the plan writes complete configs with relative paths and one shared teacher per teacher setting', () => {
  const { dir, base } = project();
  fs.mkdirSync(path.join(dir, 'configs'));
  fs.writeFileSync(
    path.join(dir, 'configs', 'base.distill.json'),
    JSON.stringify(base).replace(/"data\//g, '"../data/'),
  );
  const file = path.join(dir, 'configs', 'grid.sweep.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'g',
      base: 'base.distill.json',
      grid: { algorithms: ['soft', 'pid'], seeds: [1, 2], 'teacher.train.architecture.layers': [2, 4] },
    }),
  );
  const plan = planSweep(file);
  assert.equal(plan.dir, path.join(dir, 'configs', 'sweeps', 'g'));
  assert.deepEqual(
    plan.teachers.map((t) => t.id),
    ['teacher_layers-2', 'teacher_layers-4'],
  );
  assert.equal(plan.cells.length, 8);
  const teacher = plan.teachers[0];
  assert.deepEqual(
    Object.keys(teacher.values),
    ['teacher.train.architecture.layers'],
    'the teacher depends only on the teacher axis',
  );
  assert.equal(teacher.config.algorithm, 'hard');
  assert.equal((teacher.config.stages as { classificationEpochs: number }).classificationEpochs, 1);
  assert.equal((teacher.config.teacher as { output: string }).output, '../teachers/teacher_layers-2');
  assert.equal((teacher.config.optim as { seed: number }).seed, 42, 'trained with the base seed');

  const cell = plan.cells.find((c) => c.id === 'pid_seed2_layers-4')!;
  assert.equal(cell.teacher, 'teacher_layers-4');
  assert.equal(cell.configFile, path.join(plan.dir, 'cells', 'pid_seed2_layers-4.distill.json'));
  assert.deepEqual(cell.config.teacher, { checkpoint: '../teachers/teacher_layers-4' });
  assert.equal(cell.config.runsDir, '../runs');
  assert.equal(cell.config.name, 'pid_seed2_layers-4');
  const task = cell.config.task as { custom: { train: string } };
  assert.equal(path.resolve(path.dirname(cell.configFile), task.custom.train), path.join(dir, 'data', 'train.tsv'));
  assert.ok(cell.reads.includes(path.join(dir, 'data', 'train.tsv')));
  // Defaults are filled, so the file alone reproduces the cell.
  assert.equal((cell.config.losses as { hardLabel: number }).hardLabel, 0);
  assert.equal((cell.config.optim as { seed: number }).seed, 2);
  // A cell config is itself a valid config once its teacher exists.
  const tdir = path.join(plan.dir, 'teachers', 'teacher_layers-4');
  fs.mkdirSync(tdir, { recursive: true });
  fs.writeFileSync(
    path.join(tdir, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 4,
      hidden_size: 32,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 512,
      vocab_size: 50,
      id2label: { 0: '0', 1: '1' },
    }),
  );
  for (const f of ['model.safetensors', 'vocab.txt']) fs.writeFileSync(path.join(tdir, f), '');
  fs.mkdirSync(path.dirname(cell.configFile), { recursive: true });
  fs.writeFileSync(cell.configFile, JSON.stringify(cell.config));
  const resolved = resolveConfig(JSON.stringify(cell.config), cell.configFile);
  assert.equal(resolved.algorithm, 'pid');
  assert.equal(resolved.runsDir, path.join(plan.dir, 'runs'));
});

test('a base config with a ready teacher needs no teacher cell', () => {
  const { dir, base } = project();
  const tdir = path.join(dir, 'teacher');
  fs.mkdirSync(tdir);
  fs.writeFileSync(
    path.join(tdir, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      num_hidden_layers: 2,
      hidden_size: 32,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 64,
      id2label: { 0: '0', 1: '1' },
    }),
  );
  for (const f of ['model.safetensors', 'vocab.txt']) fs.writeFileSync(path.join(tdir, f), '');
  const file = path.join(dir, 's.sweep.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      base: { ...base, teacher: { checkpoint: 'teacher' }, student: { layers: 1 } },
      grid: { seeds: [1, 2] },
      out: 'out',
    }),
  );
  const plan = planSweep(file);
  assert.equal(plan.teachers.length, 0);
  assert.equal(plan.dir, path.join(dir, 'out'));
  assert.deepEqual(
    plan.cells.map((c) => c.config.teacher),
    [{ checkpoint: '../../teacher' }, { checkpoint: '../../teacher' }],
  );
  assert.equal(plan.cells[0].teacher, undefined);
});

test('every cell is validated before anything runs; problems name the cell, the field and the grid key', () => {
  const { dir, base } = project();
  const file = path.join(dir, 'bad.sweep.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      base,
      grid: { algorithms: ['soft', 'pid'], 'student.heads': [2, 3], 'losses.attentionKl': [-1, 1] },
    }),
  );
  const e = userError(() => planSweep(file));
  assert.match(e.message, /nothing was run/);
  assert.match(
    e.message,
    /cell soft_heads-3_attentionkl--1, soft_heads-3_attentionkl-1, pid_heads-3_attentionkl--1, pid_heads-3_attentionkl-1: student\.heads: .*\[grid "student\.heads" = 3\]/,
  );
  assert.match(
    e.message,
    /cell soft_heads-2_attentionkl--1, .*: losses\.attentionKl: .*\[grid "losses\.attentionKl" = -1\]/,
  );
  assert.equal(fs.existsSync(path.join(dir, 'sweeps')), false, 'nothing written');
  // A field missing from the base config and the grid alike.
  const { algorithm: _a, ...noAlgorithm } = base;
  fs.writeFileSync(file, JSON.stringify({ base: noAlgorithm, grid: { seeds: [1] } }));
  assert.match(userError(() => planSweep(file)).message, /cell seed1: algorithm: missing required field 'algorithm'/);
});

test('warnings: about a grid value, or the base config in every cell; not a base field some algorithms ignore', () => {
  const { dir, base } = project();
  const file = path.join(dir, 'warn.sweep.json');
  // internalAllEpochs is used by internal-all only; losses.hardLabel is ignored by "soft".
  fs.writeFileSync(
    file,
    JSON.stringify({
      base: { ...base, stages: { internalAllEpochs: 2 } },
      grid: { algorithms: ['soft', 'internal-all'], 'losses.hardLabel': [0.5] },
    }),
  );
  const plan = planSweep(file);
  assert.equal(plan.warnings.length, 1, plan.warnings.join('\n'));
  assert.match(
    plan.warnings[0],
    /^cell soft_hardlabel-0\.5: losses\.hardLabel: .*ignored.*\[grid "losses\.hardLabel" = 0\.5\]$/,
  );
});
