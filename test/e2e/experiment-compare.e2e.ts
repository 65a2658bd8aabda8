// New Experiment and the compare view in a real VS Code (code-server, the packaged .vsix), as a
// new user meets them: New Experiment for SST-2 with a teacher trained from scratch writes a
// maxSeqLen measured from the dev set (not 128) and learning rates for training from scratch (not
// fine-tuning's 5e-5), after showing the parameter counts and the time per epoch; and Compare
// Runs on soft (which trained its teacher first), pid and sid lines the students up at the start
// of distillation, with an x-axis choice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deriveExperimentDefaults, learningRates, SCRATCH_TEACHER } from '../../src/experiment/defaults';
import { GLUE_DIR } from '../helpers/paths';
import { ARTIFACTS, Session, tmpDir, UI_TIMEOUT, until } from './harness';
import { makeWorkspace, writeRecordedRun, E2eWorkspace } from './workspace';

/**
 * Answers the simple folder dialog: goes into the folder (it lists only subfolders, here just
 * "..") and presses its Choose button, which accepts the folder the dialog is in.
 */
async function chooseFolder(s: Session, dir: string, title: RegExp): Promise<void> {
  const widget = s.page.locator('.quick-input-widget');
  const heading = widget.locator('.quick-input-title').filter({ hasText: title });
  await heading.waitFor({ state: 'visible' });
  const input = widget.locator('.quick-input-box input');
  await s.retry(`choose the folder ${dir}`, 3, async () => {
    await input.fill(dir + path.sep);
    await widget
      .locator('.quick-input-list .monaco-list-row .label-name', { hasText: /^\.\.$/ })
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 });
    await until(
      `the dialog to hold ${dir}`,
      async () => (await input.inputValue()).replace(/[\\/]+$/, '') === dir,
      5_000,
    );
    await widget.locator('.monaco-button', { hasText: 'Choose' }).first().click();
    await heading.waitFor({ state: 'hidden', timeout: 10_000 });
  });
}

describe('New Experiment and Compare Runs (code-server)', { timeout: 900_000 }, () => {
  let ws: E2eWorkspace;
  let s: Session;
  let runDirs: string[] = [];

  before(
    async () => {
      ws = makeWorkspace(path.join(tmpDir('distillery-e2e-exp-'), 'project'), { nodePath: process.execPath });
      // the real SST-2 train and dev files, where a user keeps GLUE
      const sst2 = path.join(ws.dir, 'data', 'glue', 'SST-2');
      fs.mkdirSync(sst2, { recursive: true });
      for (const f of ['train.tsv', 'dev.tsv']) fs.copyFileSync(path.join(GLUE_DIR, 'SST-2', f), path.join(sst2, f));
      runDirs = (['soft', 'pid', 'sid'] as const).map((algo) => writeRecordedRun(ws.dir, algo));
      s = await Session.start({ workspace: ws.dir, trusted: true, name: 'experiment-compare' });
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

  test(
    'New Experiment for SST-2 with a teacher from scratch: maxSeqLen from the dev set, scratch learning rates, sizes and time per epoch shown first',
    { timeout: 420_000 },
    async () => {
      await s.step('new experiment sst2', async () => {
        await s.closeQuickInput();
        await s.command('Distillery: New Experiment…');
        await s.pick('Train a small teacher from scratch', {
          title: /New Experiment \(1\/7\)/,
          placeholder: /Where does the teacher come from/,
        });
        await s.pick('sst2', { label: /^sst2$/, title: /New Experiment \(2\/7\)/, placeholder: /Which task/ });
        await chooseFolder(s, path.join(ws.dir, 'data', 'glue', 'SST-2'), /the GLUE SST-2 folder/);
        await s.pick('2 layers', {
          label: /^2 layers/,
          title: /New Experiment \(4\/7\)/,
          placeholder: /How many layers/,
        });
        await s.pick('sid', {
          label: /^sid — stacked/,
          title: /New Experiment \(5\/7\)/,
          placeholder: /Which distillation algorithm/,
        });
        await s.answer('sst2-e2e', { title: /New Experiment \(6\/7\)/ });

        // step 7: the sizes and times, measured (a few timed steps on this machine), before writing
        const dialog = s.page.locator('.monaco-dialog-box').filter({ hasText: /New Experiment \(7\/7\)/ });
        await dialog.waitFor({ state: 'visible', timeout: 300_000 });
        const text = (await dialog.textContent()) ?? '';
        fs.mkdirSync(path.join(ARTIFACTS, 'screenshots'), { recursive: true });
        await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'new-experiment-estimate.png') });
        const expected = deriveExperimentDefaults({
          task: { kind: 'glue', name: 'sst2', dataDir: path.join(ws.dir, 'data', 'glue', 'SST-2') },
          teacher: { path: 'scratch', architecture: SCRATCH_TEACHER },
          studentLayers: 2,
        });
        assert.match(text, /teacher 5\.4 M parameters \(4 layers, hidden 256\)/);
        assert.match(text, /student 3\.8 M parameters/);
        assert.match(
          text,
          /≈ [\d.]+ (s|min|h) per epoch \(2,105 steps/,
          `the time per epoch was not measured: ${text}`,
        );
        assert.match(
          text,
          new RegExp(`longest dev example ${expected.longestDevTokens} tokens .*maxSeqLen ${expected.maxSeqLen}`),
        );
        await dialog.locator('.monaco-button').filter({ hasText: 'Write Config' }).first().click();

        const file = path.join(ws.dir, 'sst2-e2e.distill.json');
        await until('the new config on disk', () => fs.existsSync(file), UI_TIMEOUT);
        const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as {
          task: { maxSeqLen: number; name: string };
          teacher: { train: { lr: number; epochs: number } };
          optim: { lr: number };
        };
        assert.equal(cfg.task.name, 'sst2');
        // SST-2's longest dev sentence in the vocabulary the run will build, rounded up to 8: not 128
        assert.equal(cfg.task.maxSeqLen, expected.maxSeqLen);
        assert.ok(cfg.task.maxSeqLen < 128 && cfg.task.maxSeqLen % 8 === 0, `maxSeqLen ${cfg.task.maxSeqLen}`);
        // a teacher from scratch trains at 1e-4..1e-3, not fine-tuning's 5e-5
        assert.equal(cfg.teacher.train.lr, learningRates('scratch').teacher);
        assert.ok(cfg.teacher.train.lr >= 1e-4 && cfg.teacher.train.lr <= 1e-3);
        assert.equal(cfg.optim.lr, learningRates('scratch').student);
        assert.equal(cfg.teacher.train.epochs, 2);
        await s.page.locator('.tab.active').filter({ hasText: 'sst2-e2e.distill.json' }).waitFor({ state: 'visible' });
      });
    },
  );

  test(
    'Compare Runs: soft, which trained its teacher first, starts at distillation step 1 like pid and sid; epoch and wall-time axes',
    { timeout: 240_000 },
    async () => {
      await s.step('compare runs', async () => {
        await s.closeQuickInput();
        await s.command('Distillery: Focus on Runs View');
        await s.treeRow('Runs', 'demo-sid').first().waitFor({ state: 'visible', timeout: 60_000 });
        await s.command('Distillery: Compare Runs…');
        const input = s.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ state: 'visible' });
        for (const name of ['demo-soft', 'demo-pid', 'demo-sid']) {
          const row = s.page
            .locator('.quick-input-widget .quick-input-list .monaco-list-row')
            .filter({ hasText: name })
            .first();
          await row.waitFor({ state: 'visible' });
          // a click on a row of a multi-select quick pick toggles its checkbox
          await row.locator('.label-name').first().click();
        }
        await input.press('Enter');
        const frame = await s.dashboardFrame('compare-view', 60_000);
        const loss = frame.locator('[data-testid="compare-chart-loss"]');
        await until(
          'the three runs in the compare chart',
          async () => (await loss.getAttribute('data-series')) === '3',
          UI_TIMEOUT,
        );
        assert.equal(await frame.locator('[data-testid="compare-view"]').getAttribute('data-axis'), 'distill-step');
        // soft's 38 student steps (global 58–95) and pid's and sid's 76 share x = 1…76
        await until(
          'the loss chart on distillation steps',
          async () =>
            (await loss.getAttribute('data-points')) === '76' && (await loss.getAttribute('data-x-range')) === '0:76',
          UI_TIMEOUT,
        );
        const metric = frame.locator('[data-testid="compare-chart-metric"]');
        await until(
          'the metric chart on the same range',
          async () => (await metric.getAttribute('data-x-range')) === '0:76',
          UI_TIMEOUT,
        );
        await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'compare-distillation-steps.png') });

        for (const [axis, label] of [
          ['epoch', 'epoch'],
          ['time', 'wall time (s)'],
        ] as const) {
          await frame.locator('[data-testid="compare-axis"]').selectOption(axis);
          await until(
            `the ${axis} axis`,
            async () => (await frame.locator('[data-testid="compare-view"]').getAttribute('data-axis')) === axis,
            UI_TIMEOUT,
          );
          await until(
            `the loss chart redrawn on ${axis}`,
            async () => {
              const r = (await loss.getAttribute('data-x-range')) ?? '';
              return r.startsWith('0:') && r !== '0:76';
            },
            UI_TIMEOUT,
          );
          await frame
            .locator('[data-testid="compare-chart-loss"] .u-legend')
            .filter({ hasText: label })
            .first()
            .waitFor({ state: 'attached' });
        }
        assert.equal(runDirs.length, 3);
      });
    },
  );
});
