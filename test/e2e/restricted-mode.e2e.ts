// An untrusted workspace (Restricted Mode): browsing runs and opening their dashboards works,
// starting a run is refused with an explanation and spawns nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session, tmpDir, until } from './harness';
import { makeWorkspace, tinyConfig, E2eWorkspace } from './workspace';
import { runCli, writeConfig } from '../helpers/train-fixtures';

describe('Distillery in Restricted Mode (code-server)', { timeout: 600_000 }, () => {
  let ws: E2eWorkspace;
  let s: Session;
  const runsOf = (): string[] => fs.readdirSync(path.join(ws.dir, 'runs'));

  before(
    async () => {
      ws = makeWorkspace(path.join(tmpDir('distillery-e2e-untrusted-'), 'project'), { nodePath: process.execPath });
      // A finished run to browse, trained from the command line before the window opens.
      writeConfig(ws.dir, 'tiny', tinyConfig({ stages: { epochsPerLayer: 1, classificationEpochs: 1 } }));
      const r = runCli(['train', 'tiny.distill.json', '--backend', 'wasm'], { cwd: ws.dir, timeoutMs: 180_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(runsOf().length, 1);
      s = await Session.start({ workspace: ws.dir, trusted: false, name: 'restricted-mode' });
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

  test('browsing works: the run shows in the tree and its dashboard opens', { timeout: 180_000 }, () =>
    s.step('browse', async () => {
      await s.page.locator('.part.statusbar').getByText('Restricted Mode').first().waitFor({ state: 'visible' });
      await s.command('Distillery: Focus on Runs View');
      const row = s.treeRow('Runs', 'tiny').first();
      await row.waitFor({ state: 'visible' });
      await until('the tree to show the run finished', async () =>
        /accuracy|finished/i.test((await row.textContent()) ?? ''),
      );
      await row.click();
      const frame = await s.dashboardFrame('run-view');
      await until(
        'the dashboard to show the finished run',
        async () => (await frame.locator('[data-testid="run-status"]').getAttribute('data-status')) === 'finished',
      );
      await until(
        'loss points',
        async () => Number(await frame.locator('[data-testid="chart-loss"]').getAttribute('data-points')) > 0,
      );
    }),
  );

  test('Start Run is refused with an explanation and starts nothing', { timeout: 180_000 }, () =>
    s.step('start-refused', async () => {
      await s.command('Distillery: Start Run');
      const warning = s.notification(/cannot start a run in Restricted Mode/);
      await warning.first().waitFor({ state: 'visible' });
      assert.match((await warning.first().textContent()) ?? '', /Trust the workspace to start a run/);
      await warning.first().getByRole('button', { name: 'Manage Workspace Trust' }).waitFor({ state: 'visible' });
      // The refusal comes before anything is spawned: still the one run, and no trainer for this
      // workspace (its config or its folder as the working directory; trainers of other projects on
      // the same machine are not this test's business).
      assert.deepEqual(runsOf().length, 1);
      const inWorkspace = (p: string) => p === ws.dir || p.startsWith(ws.dir + path.sep);
      const trainers = fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            if (!argv.some((a) => a.endsWith('distillery.js')) || !argv.includes('train')) return false;
            return inWorkspace(fs.readlinkSync(`/proc/${p}/cwd`)) || argv.some(inWorkspace);
          } catch {
            return false;
          }
        });
      assert.deepEqual(trainers, [], 'no trainer process started');
    }),
  );
});
