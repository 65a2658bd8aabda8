// Chart export in a real VS Code (code-server, the packaged .vsix): the dashboard's export toolbar
// posts the chart to the extension host, VS Code's save dialog offers <run>-<chart>.<ext> in the
// run folder, and the file written there is the chart's CSV / a real PNG.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session, tmpDir, UI_TIMEOUT, until } from './harness';
import { makeWorkspace, writeRecordedRun, E2eWorkspace } from './workspace';

describe('dashboard chart export (code-server)', { timeout: 600_000 }, () => {
  let ws: E2eWorkspace;
  let s: Session;
  let runDir = '';

  before(
    async () => {
      ws = makeWorkspace(path.join(tmpDir('distillery-e2e-export-'), 'project'), { nodePath: process.execPath });
      runDir = writeRecordedRun(ws.dir, 'sid');
      s = await Session.start({ workspace: ws.dir, trusted: true, name: 'chart-export' });
    },
    { timeout: 300_000 },
  );

  after(
    async () => {
      await s?.close();
      if (ws) fs.rmSync(path.dirname(ws.dir), { recursive: true, force: true });
    },
    { timeout: 60_000 },
  );

  test('the loss chart saved as CSV and PNG through the save dialog, into the run folder', { timeout: 240_000 }, () =>
    s.step('export', async () => {
      await s.command('Distillery: Focus on Runs View');
      const row = s.treeRow('Runs', 'demo-sid').first();
      await row.waitFor({ state: 'visible', timeout: 60_000 });
      await row.click();
      const frame = await s.dashboardFrame('run-view');
      await until(
        'the loss chart drawn',
        async () => (await frame.locator('[data-testid="chart-loss"]').getAttribute('data-points')) === '76',
        UI_TIMEOUT,
      );

      const saved = (ext: string): string[] => fs.readdirSync(runDir).filter((f) => f.endsWith(`-loss.${ext}`));
      for (const ext of ['csv', 'png']) {
        await frame.locator(`[data-testid="chart-loss"] [data-testid="export-${ext}"]`).click();
        const title = s.quickInput
          .locator('.quick-input-title')
          .filter({ hasText: new RegExp(`Export loss as ${ext.toUpperCase()}`) });
        await title.waitFor({ state: 'visible' });
        const input = s.quickInput.locator('.quick-input-box input');
        // the offered name: <run>-loss.<ext> in the run folder
        const offered = await until(
          'the dialog to offer a file',
          async () => {
            const v = await input.inputValue();
            return v.endsWith(`-loss.${ext}`) ? v : undefined;
          },
          15_000,
        );
        assert.equal(path.dirname(offered), runDir, `offered ${offered}`);
        await input.press('Enter');
        await until(`the ${ext} in the run folder`, async () => saved(ext).length === 1, UI_TIMEOUT);
      }
      const csv = fs.readFileSync(path.join(runDir, saved('csv')[0]), 'utf8').split('\r\n');
      assert.match(csv[0], /^step,attention-kl L1,.*,total$/);
      assert.equal(csv.filter((l) => l !== '').length, 77);
      const png = fs.readFileSync(path.join(runDir, saved('png')[0]));
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.ok(png.length > 2000);
      // nothing else: no temporary files left beside them
      assert.deepEqual(
        fs.readdirSync(runDir).filter((f) => f.includes('.tmp-')),
        [],
      );
    }),
  );
});
