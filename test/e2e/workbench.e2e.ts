// The extension in a real VS Code (code-server 1.100, the packaged .vsix), driven as a user would:
// start a run from the palette, watch it in the tree, dashboard and status bar, stop it from the
// tree's context menu, resume it to the end, see the exported student; a config problem inline, in
// the Problems panel and its Quick Fix; New Experiment through its quick picks; screenshots of the
// dashboard in light and dark themes. The steps share one window and run in order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACTS, canvasStats, Session, tmpDir, UI_TIMEOUT, until } from './harness';
import { makeWorkspace, tinyConfig, writeBadMappingConfig, E2eWorkspace } from './workspace';
import { writeConfig } from '../helpers/train-fixtures';

/**
 * The trainer's part: 2 048 tiny steps. The suite runs the platform package, whose native kernels
 * finish the workspace's default 256 steps in about 3 s, before a Stop can land; this run takes
 * about 20 s there, and the evaluations and checkpoints are spaced so they do not dominate it.
 */
const RUN_TIMEOUT = 240_000;
const LONG_RUN = {
  stages: { epochsPerLayer: 128, classificationEpochs: 128 },
  eval: { everySteps: 64 },
  checkpoint: { everySteps: 128, keep: 2 },
};

describe('Distillery in VS Code (code-server)', { timeout: 900_000 }, () => {
  let ws: E2eWorkspace;
  let s: Session;
  let runDir = '';
  /** Later steps build on earlier ones: after a failure they are skipped rather than failing again. */
  let broken: string | undefined;

  const step = (name: string, fn: () => Promise<void>, timeout = 180_000): void => {
    test(name, { timeout }, async (t) => {
      if (broken) {
        t.skip(`an earlier step failed: ${broken}`);
        return;
      }
      try {
        await s.step(name, fn);
      } catch (e) {
        broken = name;
        throw e;
      }
    });
  };
  // Steps that do not depend on the run (config problems, New Experiment) still run after a failure.
  const independentStep = (name: string, fn: () => Promise<void>, timeout = 180_000): void => {
    test(name, { timeout }, async () => s.step(name, fn));
  };

  before(
    async () => {
      ws = makeWorkspace(path.join(tmpDir('distillery-e2e-ws-'), 'project'), { nodePath: process.execPath });
      writeConfig(ws.dir, 'tiny', tinyConfig(LONG_RUN));
      s = await Session.start({ workspace: ws.dir, trusted: true, name: 'workbench' });
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

  step('the packaged extension activates and shows the workspace config in its view', async () => {
    await s.command('Distillery: Focus on Configs View');
    await s.treeRow('Configs', 'tiny').first().waitFor({ state: 'visible' });
    // Nothing has run yet: the Runs view shows its welcome content.
    await s.pane('Runs').getByText('No training runs in this workspace yet.').waitFor({ state: 'visible' });
  });

  step(
    'Start Run from the command palette: the run shows in the tree, the dashboard charts receive points, the status bar shows progress',
    async () => {
      await s.command('Distillery: Start Run');
      await s.pick('tiny.distill.json', { placeholder: /Which config should run/ });
      runDir = await until(
        'the run folder',
        () => {
          const runs = path.join(ws.dir, 'runs');
          const dirs = fs.existsSync(runs)
            ? fs.readdirSync(runs).filter((d) => fs.existsSync(path.join(runs, d, 'run.json')))
            : [];
          return dirs.length === 1 ? path.join(runs, dirs[0]) : undefined;
        },
        60_000,
      );
      const runId = path.basename(runDir);

      const row = s.treeRow('Runs', runId.replace(/-\d{8}-\d{6}$/, '')).first();
      await row.waitFor({ state: 'visible' });

      // A run started from VS Code opens its dashboard; the loss chart fills as steps arrive.
      const frame = await s.dashboardFrame('run-view', 60_000);
      const loss = frame.locator('[data-testid="chart-loss"]');
      await until(
        'loss points on the dashboard',
        async () => Number(await loss.getAttribute('data-points')) >= 5,
        90_000,
      );
      assert.equal(await frame.locator('[data-testid="run-status"]').getAttribute('data-status'), 'running');

      const status = s.statusItem();
      await status.waitFor({ state: 'visible' });
      await until(
        'step progress in the status bar',
        async () => /step|\d+\s*\/\s*\d+|%/i.test((await status.textContent()) ?? ''),
        UI_TIMEOUT,
      );
      await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'running.png') });
    },
    RUN_TIMEOUT,
  );

  step(
    "Stop from the tree's context menu, Resume, and the run finishes with an exported student in the tree",
    async () => {
      const runId = path.basename(runDir);
      const label = runId.replace(/-\d{8}-\d{6}$/, '');
      const row = s.treeRow('Runs', label).first();
      const runJson = (): { status: string } =>
        JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { status: string };
      assert.equal(
        runJson().status,
        'running',
        'the run finished before the test could stop it: make the e2e config longer (test/e2e/workspace.ts)',
      );

      await s.retry('stop the run from the context menu', 3, async () => {
        await s.contextMenu(row, /^Stop Run/);
        // A click the menu swallowed (seen in CI: the menu stayed open, item focused) is retried.
        await until('the stop to take effect', () => runJson().status !== 'running', 30_000, 250);
      });
      await until('the run to stop with a checkpoint', () => runJson().status === 'stopped', 90_000);
      await until(
        'the tree to show the run stopped',
        async () => /stopped/i.test((await row.textContent()) ?? ''),
        UI_TIMEOUT,
      );

      await s.retry('resume the run from the context menu', 3, async () => {
        await s.contextMenu(row, /^Resume Run/);
        await until('the resume to take effect', () => runJson().status !== 'stopped', 30_000, 250);
      });
      await until(
        'the run to finish',
        () =>
          runJson().status === 'finished' ||
          (runJson().status === 'failed'
            ? (() => {
                throw new Error('the resumed run failed');
              })()
            : undefined),
        RUN_TIMEOUT,
        500,
      );
      assert.ok(fs.existsSync(path.join(runDir, 'student', 'config.json')), 'the student was exported');

      // The finished run shows its exported student: expand the run.
      await until(
        'the tree to show the run finished',
        async () => !/running|stopped/i.test((await row.textContent()) ?? ''),
        UI_TIMEOUT,
      );
      // Expand the run if it is collapsed (the twistie toggles, so only when aria-expanded says so;
      // clicking the row itself would open the dashboard).
      const student = s.treeRow('Runs', 'Exported student');
      await until(
        'the exported student in the Runs tree',
        async () => {
          if (await student.isVisible()) return true;
          if ((await row.getAttribute('aria-expanded')) === 'false') await row.locator('.monaco-tl-twistie').click();
          return student.isVisible();
        },
        UI_TIMEOUT,
        500,
      );
      const frame = await s.dashboardFrame('run-view');
      await until(
        'the dashboard to show the run finished',
        async () => (await frame.locator('[data-testid="run-status"]').getAttribute('data-status')) === 'finished',
        UI_TIMEOUT,
      );
    },
    RUN_TIMEOUT + 60_000,
  );

  step('dashboard screenshots in light and dark themes; the heatmaps are drawn', async () => {
    const shots = path.join(ARTIFACTS, 'screenshots');
    fs.mkdirSync(shots, { recursive: true });
    await s.command('Distillery: Open Dashboard');
    // Toasts ("tiny finished") would cover the charts in the screenshots.
    await s.command('Notifications: Clear All Notifications');
    await s.page.locator('.notification-toast').first().waitFor({ state: 'hidden' });
    for (const theme of ['dark', 'light'] as const) {
      await s.retry(`switch to the ${theme} theme`, 3, async () => {
        await s.command('Preferences: Color Theme');
        await s.pick(theme === 'dark' ? 'Dark Modern' : 'Light Modern', {
          label: theme === 'dark' ? /^Dark Modern$/ : /^Light Modern$/,
        });
        await s.page
          .locator(`.monaco-workbench.${theme === 'dark' ? 'vs-dark' : 'vs'}`)
          .waitFor({ state: 'attached', timeout: 10_000 });
      });
      const frame = await s.dashboardFrame('run-view');
      await until(
        `the dashboard body to take the ${theme} theme`,
        async () => frame.locator(`body.vscode-${theme}`).count(),
        UI_TIMEOUT,
      );

      await frame.locator('[data-testid="tab-training"]').click();
      const loss = frame.locator('[data-testid="chart-loss"]');
      await until(
        'the loss chart to be drawn',
        async () =>
          Number(await loss.getAttribute('data-points')) > 0 && (await loss.getAttribute('data-drawn')) !== null,
        UI_TIMEOUT,
      );
      await s.page.screenshot({ path: path.join(shots, `dashboard-training-${theme}.png`) });

      await frame.locator('[data-testid="tab-attention"]').click();
      const student = frame.locator('[data-testid="heatmap-student"]');
      await student.waitFor({ state: 'visible' });
      await until(
        'the student heatmap to be drawn',
        async () => (await student.getAttribute('data-step')) !== null,
        UI_TIMEOUT,
      );
      for (const id of ['heatmap-teacher', 'heatmap-student']) {
        const st = await until(
          `${id} to have colours`,
          async () => {
            const v = await canvasStats(frame, id);
            return v.colours > 20 ? v : undefined;
          },
          UI_TIMEOUT,
        ).catch(async () => canvasStats(frame, id));
        assert.ok(st.colours > 20, `${id} looks blank in the ${theme} theme: ${JSON.stringify(st)}`);
      }
      await s.page.screenshot({ path: path.join(shots, `dashboard-attention-${theme}.png`) });
    }
  });

  independentStep(
    'a layer mapping out of range: inline, in the Problems panel, and the Quick Fix repairs it',
    async () => {
      const file = writeBadMappingConfig(ws.dir);
      const message = 'teacher layer 5 is out of range: the teacher has 2 layers';
      // Open it from the Configs view, which picks up the new file by itself. (Ctrl+P is not used:
      // with focus inside the dashboard's iframe the keystroke does not reach the workbench.)
      const configRow = s.treeRow('Configs', 'bad-mapping').first();
      await configRow.waitFor({ state: 'visible' });
      await s.retry('open bad-mapping.distill.json', 3, async () => {
        await s.closeQuickInput();
        await configRow.click({ position: { x: 80, y: 10 } }); // on the label, clear of the inline ▶ action
        await s.page
          .locator('.tab.active')
          .filter({ hasText: 'bad-mapping.distill.json' })
          .waitFor({ state: 'visible', timeout: 10_000 });
      });
      const editor = s.page.locator('.editor-group-container.active .monaco-editor').first();
      await editor.locator('.squiggly-error').first().waitFor({ state: 'attached' });

      await s.command('View: Focus Problems (Errors, Warnings, Infos)');
      const problem = s.page.locator('.markers-panel .monaco-list-row').filter({ hasText: message });
      await problem.first().waitFor({ state: 'visible' });

      // Inline: Go to Next Problem shows the validator's message beside the line.
      await editor.click({ position: { x: 200, y: 10 } });
      await s.page.keyboard.press('Control+Home');
      await s.command('Go to Next Problem (Error, Warning, Info)');
      const inline = s.page.locator('.marker-widget').filter({ hasText: message });
      await inline.first().waitFor({ state: 'visible' });
      await s.page.keyboard.press('Escape');

      await s.retry('apply the Quick Fix', 3, async () => {
        await s.command('Quick Fix...');
        const fix = s.page
          .locator('.action-widget .monaco-list-row')
          .filter({ hasText: /Clamp the teacher layer to 2/ })
          .first();
        await fix.waitFor({ state: 'visible', timeout: 10_000 });
        // The action widget takes keys (a pointer block sits over it for clicks): move to the fix, accept it.
        for (let i = 0; i < 10 && !/\bfocused\b/.test((await fix.getAttribute('class')) ?? ''); i++)
          await s.page.keyboard.press('ArrowDown');
        assert.match((await fix.getAttribute('class')) ?? '', /\bfocused\b/, 'the Quick Fix is selected');
        await s.page.keyboard.press('Enter');
        await fix.waitFor({ state: 'hidden', timeout: 10_000 });
      });
      await s.command('File: Save');
      await until('the fixed mapping on disk', () => {
        const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as { mapping: unknown };
        return JSON.stringify(cfg.mapping) === '[[1,2]]';
      });
      await problem.first().waitFor({ state: 'detached' });
      await editor.locator('.squiggly-error').first().waitFor({ state: 'detached' });
    },
  );

  independentStep(
    'New Experiment: answering the quick picks writes a config',
    async () => {
      await s.closeQuickInput();
      await s.command('Distillery: New Experiment…');
      await s.pick('Train a small teacher from scratch', {
        title: /New Experiment \(1\/7\)/,
        placeholder: /Where does the teacher come from/,
      });
      await s.pick('Custom data', { title: /New Experiment \(2\/7\)/, placeholder: /Which task/ });
      // The file dialogs are VS Code's simple dialog (a quick input holding a path).
      await s.chooseFile(path.join(ws.dir, 'data', 'train.tsv'), /the training file/);
      await s.chooseFile(path.join(ws.dir, 'data', 'dev.tsv'), /the dev \(evaluation\) file/);
      await s.pick('sentence', { label: /^sentence$/, placeholder: /holds the text \(first sentence\)/ });
      await s.pick('(none)', { label: /^\(none\)$/, placeholder: /holds the second sentence/ });
      await s.pick('label', { label: /^label$/, placeholder: /holds the label/ });
      await s.pick('2 layers', {
        label: /^2 layers/,
        title: /New Experiment \(4\/7\)/,
        placeholder: /How many layers/,
      });
      await s.pick('pid', {
        label: /^pid — progressive/,
        title: /New Experiment \(5\/7\)/,
        placeholder: /Which distillation algorithm/,
      });
      await s.answer('e2e-experiment', { title: /New Experiment \(6\/7\)/ });
      // step 7: sizes and time per epoch, then write
      const dialog = s.page.locator('.monaco-dialog-box').filter({ hasText: /New Experiment \(7\/7\)/ });
      await dialog.waitFor({ state: 'visible', timeout: 300_000 });
      await dialog.locator('.monaco-button').filter({ hasText: 'Write Config' }).first().click();
      const file = path.join(ws.dir, 'e2e-experiment.distill.json');
      await until('the new config on disk', () => fs.existsSync(file));
      await s.page
        .locator('.tab.active')
        .filter({ hasText: 'e2e-experiment.distill.json' })
        .waitFor({ state: 'visible' });
      const text = fs.readFileSync(file, 'utf8');
      assert.match(text, /"custom"/);
      assert.match(text, /"sentence"/);
      assert.match(text, /"layers":\s*2/);
      await s.treeRow('Configs', 'e2e-experiment').first().waitFor({ state: 'visible' });
    },
    420_000,
  );
});
