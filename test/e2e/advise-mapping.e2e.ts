// The layer-mapping advisor in a real VS Code (code-server 1.100, the packaged .vsix), as a user
// meets it: a config whose mapping is not the least-cost one is open, "Distillery: Advise Layer
// Mapping" is run from the palette, the report with its text heatmaps opens beside the config, the
// notification offers the proposal, and the Quick Fix on "mapping" writes it. The saved file must
// differ from the original only in the mapping's value: comments and every other field stay as
// they were.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACTS, Session, tmpDir, until } from './harness';
import { makeWorkspace, tinyConfig, E2eWorkspace, STUDENT_LAYERS, TEACHER_LAYERS } from './workspace';

/**
 * A 1-layer student with random weights (`student.init: "random"`) under the 2-layer teacher, mapped
 * to teacher layer 1. With random init the advisor measures the student without copying the current
 * mapping's teacher layer, and it proposes [[1, 2]] (cost 0.000 against 2.000 for [[1, 1]];
 * deterministic, since the student is seeded by optim.seed). With the default "teacher-layers" init
 * it would favour whatever mapping is current, so there would be nothing to apply.
 */
const CURRENT = '[[1, 1]]';
const PROPOSED = '[[1, 2]]';

/** The config as a user writes it: JSONC with comments around and inside, mapping on one line. */
function adviseConfigText(): string {
  const json = JSON.stringify(
    tinyConfig({ name: 'advise', student: { layers: STUDENT_LAYERS, init: 'random' }, mapping: [[1, 1]] }),
    null,
    2,
  );
  const text = json
    .replace(
      /"mapping": \[\s*\[\s*1,\s*1\s*\]\s*\]/,
      `/* which teacher layer each student layer learns from */\n  "mapping": ${CURRENT}`,
    )
    .replace(/^\{\n/, '{\n  // e2e: the advisor proposes a different mapping for this random-init student\n')
    .replace(/"backend": "wasm",/, '"backend": "wasm", // no native TF.js on CI');
  assert.ok(
    text.includes(`"mapping": ${CURRENT}`) && text.includes('// no native TF.js') && text.includes('// e2e:'),
    text,
  );
  return text + '\n';
}

describe('Advise Layer Mapping and its Quick Fix (code-server)', { timeout: 300_000 }, () => {
  let ws: E2eWorkspace;
  let s: Session;
  let file = '';
  let original = '';

  before(
    async () => {
      assert.equal(TEACHER_LAYERS, 2, 'the proposal below is for the 2-layer teacher of workspace.ts');
      ws = makeWorkspace(path.join(tmpDir('distillery-e2e-advise-'), 'project'), { nodePath: process.execPath });
      file = path.join(ws.dir, 'advise.distill.json');
      original = adviseConfigText();
      fs.writeFileSync(file, original);
      s = await Session.start({ workspace: ws.dir, trusted: true, name: 'advise-mapping' });
    },
    { timeout: 180_000 },
  );

  after(
    async () => {
      await s?.close();
      if (ws) fs.rmSync(path.dirname(ws.dir), { recursive: true, force: true });
    },
    { timeout: 60_000 },
  );

  test(
    `Advise Layer Mapping proposes ${PROPOSED} for ${CURRENT}; its Quick Fix on "mapping" writes it and leaves the rest of the file as it was`,
    { timeout: 180_000 },
    async () => {
      const editor = s.page.locator('.editor-group-container.active .monaco-editor').first();
      const activeTab = s.page.locator('.editor-group-container.active .tab.active');

      await s.step('open the config', async () => {
        await s.command('Distillery: Focus on Configs View');
        const row = s.treeRow('Configs', 'advise').first();
        await row.waitFor({ state: 'visible' });
        await s.retry('open advise.distill.json', 3, async () => {
          await s.closeQuickInput();
          await row.click({ position: { x: 80, y: 10 } }); // on the label, clear of the inline ▶ action
          await activeTab.filter({ hasText: 'advise.distill.json' }).waitFor({ state: 'visible', timeout: 10_000 });
        });
        await editor
          .locator('.view-line')
          .filter({ hasText: /"mapping"/ })
          .first()
          .waitFor({ state: 'visible' });
      });

      await s.step('advise', async () => {
        await s.command('Distillery: Advise Layer Mapping');
        // The result: a notification with the proposal and its Apply button, and the report with the
        // text heatmaps beside the config (a second editor group), focus left on the config.
        const note = s.notification(
          new RegExp(
            `proposed mapping ${PROPOSED.replace(/[[\]]/g, '\\$&')}: cost 0\\.000 against 2\\.000 for the current ${CURRENT.replace(/[[\]]/g, '\\$&')}`,
          ),
        );
        await note.first().waitFor({ state: 'visible', timeout: 90_000 });
        await note
          .first()
          .locator('.monaco-button')
          .filter({ hasText: 'Apply to Config' })
          .waitFor({ state: 'visible' });
        const report = s.page.locator('.editor-group-container:not(.active) .monaco-editor .view-lines');
        await until('the report beside the config', async () => {
          const t = (
            (await report
              .first()
              .textContent({ timeout: 2_000 })
              .catch(() => null)) ?? ''
          ).replace(/\s+/g, ' ');
          return (
            t.includes('attention KL, KL(A_T') &&
            t.includes('[CLS] cosine distance') &&
            t.includes(`proposed: "mapping": ${PROPOSED}`)
          );
        });
        assert.equal(
          await s.page.locator('.editor-group-container').count(),
          2,
          'the report opened in a second group beside the config',
        );
        await activeTab.filter({ hasText: 'advise.distill.json' }).waitFor({ state: 'visible' });
        // Measuring must not have touched the file.
        assert.equal(fs.readFileSync(file, 'utf8'), original);
      });

      await s.step('quick fix', async () => {
        const mappingLine = editor
          .locator('.view-line')
          .filter({ hasText: /"mapping"/ })
          .first();
        const fix = s.page
          .locator('.action-widget .monaco-list-row')
          .filter({ hasText: `Apply the advised mapping ${PROPOSED}` })
          .first();
        await s.retry('apply the advised mapping Quick Fix', 3, async () => {
          await s.closeQuickInput();
          // The cursor on the "mapping" key: the fix is offered on the property's span, key to value
          // (Home: the line's first non-blank, its opening quote; the trailing comma is outside).
          await mappingLine.click({ position: { x: 40, y: 8 } });
          await s.page.keyboard.press('Home');
          // The lightbulb shows for the line; Ctrl+. opens its menu (the palette's Quick Fix... is the same action).
          await s.page.keyboard.press('Control+Period');
          if (
            !(await fix.waitFor({ state: 'visible', timeout: 10_000 }).then(
              () => true,
              () => false,
            ))
          ) {
            process.stderr.write(
              'e2e: Ctrl+. showed no "Apply the advised mapping": trying the palette\'s Quick Fix...\n',
            );
            await s.command('Quick Fix...');
            await fix.waitFor({ state: 'visible', timeout: 10_000 });
          }
          await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'advise-mapping-quick-fix.png') });
          // The action widget takes keys (a pointer block sits over it for clicks): move to the fix, accept it.
          for (let i = 0; i < 10 && !/\bfocused\b/.test((await fix.getAttribute('class')) ?? ''); i++)
            await s.page.keyboard.press('ArrowDown');
          assert.match((await fix.getAttribute('class')) ?? '', /\bfocused\b/, 'the Quick Fix is selected');
          await s.page.keyboard.press('Enter');
          await fix.waitFor({ state: 'hidden', timeout: 10_000 });
          await until(
            'the edited mapping in the editor',
            async () =>
              /"mapping":\s*\[\[1,\s*2\]\]/.test(((await mappingLine.textContent()) ?? '').replace(/\u00a0/g, ' ')),
            5_000,
          );
        });
        // Edited, not yet saved.
        assert.equal(fs.readFileSync(file, 'utf8'), original);
        await s.command('File: Save');
        const expected = original.replace(`"mapping": ${CURRENT}`, `"mapping": ${PROPOSED}`);
        await until('the advised mapping on disk', () => fs.readFileSync(file, 'utf8') === expected || undefined);
        // The whole file but the mapping's value is byte for byte the same: comments, order, layout.
        assert.equal(fs.readFileSync(file, 'utf8'), expected);
        await until(
          'the config tab to show it saved',
          async () => !/\bdirty\b/.test((await activeTab.first().getAttribute('class')) ?? ''),
        );
      });
    },
  );
});
