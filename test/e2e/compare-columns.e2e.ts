// The compare view's config-field columns in a real VS Code (code-server, the packaged .vsix): two
// finished runs whose resolved configs differ only in optim.lr, compared from the Runs tree's
// "Compare Runs…", show one field column, optim.lr, with each run's value, and a parallel-
// coordinates plot with that axis and the metric's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACTS, Session, tmpDir, UI_TIMEOUT, until } from './harness';
import { tinyConfig, writeRecordedRun } from './workspace';

describe('Compare view: the configs\u2019 differing fields (code-server)', { timeout: 600_000 }, () => {
  let dir: string;
  let s: Session;

  before(
    async () => {
      dir = path.join(tmpDir('distillery-e2e-cols-'), 'project');
      fs.mkdirSync(dir, { recursive: true });
      // the same config but for the learning rate
      writeRecordedRun(dir, 'soft', tinyConfig({ optim: { lr: 5e-4, batchSize: 8, seed: 3 } }));
      writeRecordedRun(dir, 'pid', tinyConfig({ optim: { lr: 1e-3, batchSize: 8, seed: 3 } }));
      s = await Session.start({ workspace: dir, trusted: true, name: 'compare-columns' });
    },
    { timeout: 300_000 },
  );

  after(
    async () => {
      await s?.close();
      if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    },
    { timeout: 60_000 },
  );

  test(
    'two runs that differ in optim.lr: one field column, optim.lr, with both values; parallel coordinates with its axis',
    { timeout: 240_000 },
    async () => {
      await s.step('compare two runs', async () => {
        await s.closeQuickInput();
        await s.command('Distillery: Focus on Runs View');
        await s.treeRow('Runs', 'demo-pid').first().waitFor({ state: 'visible', timeout: 60_000 });
        await s.command('Distillery: Compare Runs…');
        const input = s.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ state: 'visible' });
        for (const name of ['demo-soft', 'demo-pid']) {
          const row = s.page
            .locator('.quick-input-widget .quick-input-list .monaco-list-row')
            .filter({ hasText: name })
            .first();
          await row.waitFor({ state: 'visible' });
          await row.locator('.label-name').first().click();
        }
        await input.press('Enter');
        const frame = await s.dashboardFrame('compare-view', 60_000);
        await until(
          'two rows in the compare table',
          async () => (await frame.locator('[data-testid="compare-row"]').count()) === 2,
          UI_TIMEOUT,
        );
        const cols = frame.locator('[data-testid="compare-field-col"]');
        await until('the differing field\u2019s column', async () => (await cols.count()) === 1, UI_TIMEOUT);
        assert.equal(await cols.first().getAttribute('data-field'), 'optim.lr');
        assert.equal((await cols.first().textContent())?.trim(), 'optim.lr');
        const values = await frame.locator('[data-testid="compare-row"] td[data-field="optim.lr"]').allTextContents();
        assert.deepEqual([...values].sort(), ['0.001', '5e-4']);
        // sorting by it, numerically: ascending puts 5e-4 first, descending last
        await cols.first().locator('button').click();
        await until(
          'sorted by optim.lr',
          async () => (await cols.first().getAttribute('aria-sort')) === 'ascending',
          UI_TIMEOUT,
        );
        assert.deepEqual(
          await frame.locator('[data-testid="compare-row"] td[data-field="optim.lr"]').allTextContents(),
          ['5e-4', '0.001'],
        );
        await cols.first().locator('button').click();
        await until(
          'sorted by optim.lr, descending',
          async () => (await cols.first().getAttribute('aria-sort')) === 'descending',
          UI_TIMEOUT,
        );
        assert.deepEqual(
          await frame.locator('[data-testid="compare-row"] td[data-field="optim.lr"]').allTextContents(),
          ['0.001', '5e-4'],
        );
        const plot = frame.locator('[data-testid="compare-parcoords"]');
        await until('the parallel coordinates', async () => (await plot.getAttribute('data-axes')) === '2', UI_TIMEOUT);
        assert.equal(await plot.getAttribute('data-lines'), '2');
        // two runs: Diff Configs is ready
        assert.equal(await frame.locator('[data-testid="btn-diff-configs"]').getAttribute('disabled'), null);
        fs.mkdirSync(path.join(ARTIFACTS, 'screenshots'), { recursive: true });
        await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'compare-columns.png') });
      });
    },
  );
});
