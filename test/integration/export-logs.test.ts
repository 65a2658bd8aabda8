/**
 * `distillery export-logs`: CRC-32C against published vectors, TensorBoard event files read back by
 * the `tensorboard` Python package's own loader (every scalar compared), the CSV read back by
 * Python's csv module and by a plain parser, and the user errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c, maskedCrc32c } from '../../src/logs/crc32c';
import { collectScalars, ScalarPoint } from '../../src/logs/scalars';
import { exportLogs, readRunEvents } from '../../src/logs/export-logs';
import { eventFileName } from '../../src/logs/tfevents';
import { createEvent, encodeEvent, TrainerEvent, TrainerEventBody } from '../../src/protocol/events';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';
import { REPO_ROOT } from '../helpers/paths';
import { ensureCliBuilt, expectUserError, runCli } from '../helpers/run-cli';
import { runMain } from '../helpers/cli-in-process';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-export-logs-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'events', 'demo-pid.events.jsonl');

/** A run folder holding the recorded events of a real demo run (pid: per-layer internal losses, evals). */
function fixtureRun(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(FIXTURE, path.join(dir, 'events.jsonl'));
  fs.writeFileSync(path.join(dir, 'config.json'), '{}\n');
  return dir;
}

/** A run folder written event by event: a resumed run (steps 2–3 repeated) with a diverged loss. */
function handRun(name: string): { dir: string; events: TrainerEvent[] } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.parse('2026-03-01T10:00:00.000Z');
  const step = (n: number, loss: number, at: number): TrainerEventBody => ({
    type: 'step',
    step: n,
    stage: 0,
    epoch: 1,
    lr: 1e-4 * n,
    loss,
    terms: [
      { name: 'attention-kl', layer: 1, value: loss / 2, weight: 1 },
      { name: 'soft-label', value: loss / 3, weight: 1 },
    ],
    gradNorm: 0.5,
    examplesPerSec: 100,
    elapsedMs: at,
  });
  const bodies: TrainerEventBody[] = [
    step(1, 3, 0),
    step(2, 2.5, 1),
    step(3, NaN, 2),
    step(2, 2.25, 3),
    step(3, 2.125, 4),
  ];
  const events = bodies.map((b, i) => createEvent('hand', b, new Date(t0 + i * 1500)) as TrainerEvent);
  events.push(
    createEvent(
      'hand',
      {
        type: 'eval',
        step: 3,
        stage: 0,
        epoch: 1,
        split: 'dev',
        metrics: { accuracy: 0.75, f1: Infinity, mcc: NaN },
        mainMetric: { name: 'accuracy', value: 0.75 },
        perLayer: [{ student: 1, teacher: 2, attentionKl: 0.125, clsCosine: 0.0625 }],
        isBest: true,
      },
      new Date(t0 + 9000),
    ) as TrainerEvent,
  );
  // A line cut off by a kill, and stray output, must not stop the export.
  fs.writeFileSync(
    path.join(dir, 'events.jsonl'),
    `${events.map(encodeEvent).join('\n')}\nnot json\n{"v":1,"type":"st`,
  );
  return { dir, events };
}

// ---- CRC-32C ------------------------------------------------------------------------------------

test('CRC-32C matches the published check values (RFC 3720 B.4 and the "123456789" check)', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test(
  "the masked CRC matches the tensorboard package's masked_crc32c",
  { skip: !pythonHas('tensorboard') && pythonMissing('tensorboard') },
  () => {
    const inputs = ['', 'a', '123456789', 'brain.Event:2', 'x'.repeat(1000)];
    const py = spawnSync(
      PYTHON,
      [
        '-c',
        [
          'import json, sys',
          'from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c',
          'print(json.dumps([masked_crc32c(s.encode()) for s in json.load(sys.stdin)]))',
        ].join('\n'),
      ],
      { input: JSON.stringify(inputs), encoding: 'utf8' },
    );
    assert.equal(py.status, 0, py.stderr);
    assert.deepEqual(
      JSON.parse(py.stdout),
      inputs.map((s) => maskedCrc32c(new TextEncoder().encode(s))),
    );
  },
);

// ---- TensorBoard ---------------------------------------------------------------------------------

/** Reads an event file with tensorboard's loaders: the first event's file_version and every scalar. */
function readWithTensorboard(file: string): {
  fileVersion: string;
  scalars: Record<string, [number, number, string][]>;
} {
  const py = spawnSync(
    PYTHON,
    [
      '-c',
      [
        'import json, sys',
        'from tensorboard.backend.event_processing import event_file_loader',
        'from tensorboard.backend.event_processing.event_accumulator import EventAccumulator',
        'f = sys.argv[1]',
        'first = next(iter(event_file_loader.EventFileLoader(f).Load()))',
        'acc = EventAccumulator(f, size_guidance={"scalars": 0})',
        'acc.Reload()',
        // repr: the exact double, and nan/inf, which JSON cannot carry.
        'out = {t: [[e.step, e.wall_time, repr(e.value)] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}',
        'print(json.dumps({"fileVersion": first.file_version, "scalars": out}))',
      ].join('\n'),
      file,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(py.status, 0, py.stderr);
  return JSON.parse(py.stdout) as { fileVersion: string; scalars: Record<string, [number, number, string][]> };
}

const pyFloat = (s: string): number =>
  s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);

/** Every expected point, by tag, as TensorBoard must return it (values rounded to float32). */
function assertSameScalars(read: Record<string, [number, number, string][]>, expected: ScalarPoint[]): void {
  const byTag = new Map<string, ScalarPoint[]>();
  for (const p of expected) byTag.set(p.tag, [...(byTag.get(p.tag) ?? []), p]);
  assert.deepEqual(Object.keys(read).sort(), [...byTag.keys()].sort());
  for (const [tag, points] of byTag) {
    const got = read[tag];
    assert.equal(got.length, points.length, `${tag}: ${got.length} points, expected ${points.length}`);
    points.forEach((p, i) => {
      const [step, wallTime, value] = got[i];
      assert.equal(step, p.step, `${tag}[${i}] step`);
      assert.equal(wallTime, p.wallTime, `${tag}[${i}] wall_time`);
      assert.ok(
        Object.is(pyFloat(value), Math.fround(p.value)),
        `${tag} at step ${p.step}: ${value}, expected ${Math.fround(p.value)}`,
      );
    });
  }
}

test(
  "a real run's events read back through tensorboard's EventAccumulator, every scalar equal",
  { skip: !pythonHas('tensorboard') && pythonMissing('tensorboard') },
  async () => {
    const dir = fixtureRun('pid');
    const r = await runMain(['export-logs', dir, '--format', 'tensorboard', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { file: string; scalars: number; tags: string[] };
    assert.equal(path.dirname(result.file), path.join(dir, 'logs'));
    assert.match(path.basename(result.file), /^events\.out\.tfevents\.\d{10}\.[A-Za-z0-9._-]+$/);
    const expected = collectScalars(readRunEvents(dir).events);
    assert.equal(result.scalars, expected.length);
    for (const tag of [
      'train/loss',
      'lr',
      'train/attention-kl/layer1',
      'train/cls-cosine/layer2',
      'train/soft-label',
      'dev/accuracy',
      'dev/attention-kl/layer1',
    ]) {
      assert.ok(result.tags.includes(tag), `no ${tag} in ${result.tags.join(', ')}`);
    }
    const read = readWithTensorboard(result.file);
    assert.equal(read.fileVersion, 'brain.Event:2');
    assertSameScalars(read.scalars, expected);
    // Exporting again replaces the file rather than adding a second one.
    assert.equal((await runMain(['export-logs', dir, '--format', 'tensorboard'])).code, 0);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'logs')), [path.basename(result.file)]);
  },
);

test(
  'a run with the TinyBERT / MiniLM terms and schedules: weights, temperature and dev measures are exported, read back by tensorboard',
  { skip: !pythonHas('tensorboard') && pythonMissing('tensorboard') },
  async () => {
    const dir = path.join(tmp, 'tinybert');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(
      path.join(REPO_ROOT, 'test', 'fixtures', 'events', 'tinybert-sid.events.jsonl'),
      path.join(dir, 'events.jsonl'),
    );
    const r = await runMain(['export-logs', dir, '--format', 'tensorboard', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { file: string; tags: string[] };
    for (const tag of [
      'train/hidden-mse/layer1',
      'train/embedding-mse',
      'train/value-relation/layer2',
      'train/weight/hidden-mse',
      'train/weight/value-relation',
      'train/temperature',
      'dev/hidden-mse/layer2',
      'dev/value-relation/layer1',
      'dev/embedding-mse',
    ]) {
      assert.ok(result.tags.includes(tag), `no ${tag} in ${result.tags.join(', ')}`);
    }
    const events = readRunEvents(dir).events;
    const expected = collectScalars(events);
    // the scheduled weight as the step events carry it: hidden-mse decays linearly 2 → 0.5 over the first 32-step stage
    const weight = expected.filter((p) => p.tag === 'train/weight/hidden-mse');
    assert.equal(weight[0].value, 2);
    assert.ok(Math.abs(weight[31].value - 0.5) < 1e-12, String(weight[31].value));
    assert.equal(expected.filter((p) => p.tag === 'train/temperature').length, 32, "the classification stage's steps");
    assertSameScalars(readWithTensorboard(result.file).scalars, expected);
  },
);

test(
  'a resumed run keeps the later value of a repeated step; NaN and Infinity survive',
  { skip: !pythonHas('tensorboard') && pythonMissing('tensorboard') },
  () => {
    const { dir, events } = handRun('resumed');
    const out = path.join(tmp, 'tb-out');
    const r = exportLogs(dir, { format: 'tensorboard', out, hostname: 'host name/with odd chars' });
    assert.equal(r.skippedLines, 2);
    assert.equal(path.basename(r.file), eventFileName(Date.parse(events[0].time) / 1000, 'host-name-with-odd-chars'));
    const expected = collectScalars(events);
    const loss = expected.filter((p) => p.tag === 'train/loss').map((p) => [p.step, p.value]);
    assert.deepEqual(loss, [
      [1, 3],
      [2, 2.25],
      [3, 2.125],
    ]);
    const read = readWithTensorboard(r.file);
    assertSameScalars(read.scalars, expected);
    assert.deepEqual(
      read.scalars['dev/f1'].map((x) => x[2]),
      ['inf'],
    );
    assert.deepEqual(
      read.scalars['dev/mcc'].map((x) => x[2]),
      ['nan'],
    );
  },
);

// ---- CSV -----------------------------------------------------------------------------------------

function parseCsv(text: string): ScalarPoint[] {
  const [header, ...rows] = text.trimEnd().split('\n');
  assert.equal(header, 'step,wall_time,tag,value');
  return rows.map((row) => {
    const [step, wallTime, tag, value] = row.split(',');
    return { step: Number(step), wallTime: Number(wallTime), tag, value: pyFloat(value) };
  });
}

test("CSV: one tidy step,wall_time,tag,value file that reads back exactly (here and in Python's csv module)", async () => {
  const { dir, events } = handRun('csv');
  const r = await runMain(['export-logs', dir, '--format', 'csv']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /skipped 2 line/);
  const file = path.join(dir, 'logs', 'scalars.csv');
  const expected = collectScalars(events);
  const parsed = parseCsv(fs.readFileSync(file, 'utf8'));
  assert.equal(parsed.length, expected.length);
  parsed.forEach((p, i) => {
    assert.equal(p.step, expected[i].step);
    assert.equal(p.wallTime, expected[i].wallTime);
    assert.equal(p.tag, expected[i].tag);
    assert.ok(Object.is(p.value, expected[i].value), `${p.tag}@${p.step}: ${p.value} vs ${expected[i].value}`);
  });
  if (fs.existsSync(PYTHON)) {
    const py = spawnSync(
      PYTHON,
      [
        '-c',
        [
          'import csv, json, sys',
          'rows = list(csv.DictReader(open(sys.argv[1], newline="")))',
          'print(json.dumps([[int(r["step"]), float(r["wall_time"]), r["tag"], repr(float(r["value"]))] for r in rows]))',
        ].join('\n'),
        file,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(py.status, 0, py.stderr);
    const rows = JSON.parse(py.stdout) as [number, number, string, string][];
    assert.deepEqual(
      rows.map(([s, w, t, v]) => ({ step: s, wallTime: w, tag: t, value: pyFloat(v) })),
      expected,
    );
  }
});

// ---- user errors ---------------------------------------------------------------------------------

test('bad RUN_DIR, no events, unknown or missing --format: a message naming the flag or folder, and a fix', async () => {
  const missing = await runMain(['export-logs', path.join(tmp, 'nope'), '--format', 'csv']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^distillery export-logs: .*nope: no such folder\n {2}fix: pass a run folder/);

  const notRun = path.join(tmp, 'not-a-run');
  fs.mkdirSync(notRun);
  const noEvents = await runMain(['export-logs', notRun, '--format', 'csv']);
  assert.equal(noEvents.code, 2);
  assert.match(noEvents.stderr, /not-a-run: not a run folder \(it has no events\.jsonl\)/);

  fs.writeFileSync(
    path.join(notRun, 'events.jsonl'),
    encodeEvent(createEvent('x', { type: 'log', level: 'info', message: 'starting' }) as TrainerEvent) + '\n',
  );
  const empty = await runMain(['export-logs', notRun, '--format', 'tensorboard']);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /events\.jsonl: has no step or eval events to export\n {2}fix: /);

  const dir = fixtureRun('errors');
  const unknown = await runMain(['export-logs', dir, '--format', 'parquet']);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /--format: unknown format "parquet"\n {2}fix: write --format tensorboard .* or --format csv/,
  );
  const none = await runMain(['export-logs', dir]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--format: is required\n {2}fix: /);

  fs.writeFileSync(path.join(tmp, 'a-file'), '');
  const outFile = await runMain(['export-logs', dir, '--format', 'csv', '--out', path.join(tmp, 'a-file')]);
  assert.equal(outFile.code, 2);
  assert.match(outFile.stderr, /--out .*a-file: is a file, not a folder/);
});

test('the real command (bin/distillery.js): a CSV export, and a user error as the CLI prints them', () => {
  ensureCliBuilt();
  const dir = fixtureRun('bundle');
  const ok = runCli(['export-logs', dir, '--format', 'csv', '--out', path.join(tmp, 'bundle-out')]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^wrote \d+ points of \d+ series over \d+ steps to .*scalars\.csv\n$/);
  assert.ok(fs.existsSync(path.join(tmp, 'bundle-out', 'scalars.csv')));
  const stderr = expectUserError(runCli(['export-logs', dir, '--format', 'json']), 'export-logs');
  assert.match(stderr, /--format: unknown format "json"/);
});
