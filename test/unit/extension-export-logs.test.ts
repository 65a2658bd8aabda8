// The "Export Logs" command outside VS Code (test/fixtures/fake-vscode.ts): the format picked in the
// quick pick is written into the run folder as `distillery export-logs` writes it, the message
// names the file, and a folder without events gets the export's own error and fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeVscode, installFakeVscode } from '../fixtures/fake-vscode';
import { REPO_ROOT } from '../helpers/paths';

const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'events', 'demo-pid.events.jsonl');

test('Export Logs writes the picked format into the run folder and says where; a run without events gets the fix', async () => {
  const fake = fakeVscode();
  const picks: string[] = [];
  let format = 'CSV';
  (fake.module.window as Record<string, unknown>).showQuickPick = async (
    items: Array<{ label: string }>,
    opts: { placeHolder: string },
  ) => {
    picks.push(opts.placeHolder);
    return items.find((i) => i.label === format);
  };
  const restore = installFakeVscode(fake.module);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-exportlogs-'));
  try {
    const { exportRunLogs } = await import('../../src/extension/export-logs-command');
    const run = path.join(root, 'runs', 'demo-pid');
    fs.mkdirSync(run, { recursive: true });
    fs.copyFileSync(FIXTURE, path.join(run, 'events.jsonl'));
    fs.writeFileSync(path.join(run, 'config.json'), '{}\n');

    const csv = await exportRunLogs({ runDir: async () => run });
    assert.equal(csv?.file, path.join(run, 'logs', 'scalars.csv'));
    assert.equal(fs.readFileSync(csv.file, 'utf8').split(/\r?\n/)[0], 'step,wall_time,tag,value');
    assert.ok(csv.scalars > 100 && csv.tags.includes('train/loss'), `${csv.scalars} points: ${csv.tags.join(', ')}`);
    assert.match(
      fake.record.messages.at(-1) ?? '',
      new RegExp(`wrote ${csv.scalars} points of ${csv.tags.length} series over \\d+ steps to .*scalars\\.csv`),
    );

    format = 'TensorBoard';
    const tb = await exportRunLogs({ runDir: async () => run });
    assert.match(path.basename(tb?.file ?? ''), /^events\.out\.tfevents\.\d+\./);
    assert.ok(fs.statSync(tb!.file).size > 0);
    assert.deepEqual(picks, ['Export the logs in which format?', 'Export the logs in which format?']);

    // Cancelled: neither a run nor a format means nothing is written.
    assert.equal(await exportRunLogs({ runDir: async () => undefined }), undefined);
    format = 'none';
    assert.equal(await exportRunLogs({ runDir: async () => run }), undefined);

    const empty = path.join(root, 'runs', 'empty');
    fs.mkdirSync(empty, { recursive: true });
    fs.writeFileSync(path.join(empty, 'config.json'), '{}\n');
    format = 'CSV';
    assert.equal(await exportRunLogs({ runDir: async () => empty }), undefined);
    assert.match(
      fake.record.messages.at(-1) ?? '',
      /^Distillery: could not export the logs: .*events\.jsonl[\s\S]*fix: /,
    );
  } finally {
    restore();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
