// In-host tests: run inside VS Code's extension host (loaded by @vscode/test-electron as
// extensionTestsPath), with the real `vscode` API and the extension under development. Plain
// CommonJS so it needs no compile step. Prints `N passed, N failed` and rejects on any failure.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');

const EXTENSION_ID = 'distillery.distillery';

async function until(what, check, ms = 120_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tests = [
  [
    'activates and returns the run manager; every distillery.* command is registered',
    async (ctx) => {
      const ext = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(ext, `${EXTENSION_ID} is loaded`);
      const api = await ext.activate();
      assert.ok(api && api.manager, 'activate() returns { manager }');
      ctx.manager = api.manager;
      const all = await vscode.commands.getCommands(true);
      const declared = ext.packageJSON.contributes.commands.map((c) => c.command);
      for (const id of declared) assert.ok(all.includes(id), `${id} is registered`);
    },
  ],
  [
    'distillery.startRun runs the workspace config to the end and exports the student',
    async (ctx) => {
      const config = process.env.DISTILLERY_E2E_CONFIG;
      assert.ok(config && fs.existsSync(config), 'the workspace config');
      await vscode.commands.executeCommand('distillery.startRun', config);
      const runsDir = path.join(path.dirname(config), 'runs');
      const runDir = await until('the run folder', () => {
        const dirs = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
        return dirs.length === 1 ? path.join(runsDir, dirs[0]) : undefined;
      });
      await until('the run to finish', () => ctx.manager.store.state(runDir)?.status === 'finished', 300_000);
      assert.ok(fs.existsSync(path.join(runDir, 'student', 'config.json')), 'the exported student');
    },
  ],
  [
    "a config with an out-of-range mapping gets a diagnostic with the validator's message and a Quick Fix",
    async () => {
      const config = process.env.DISTILLERY_E2E_CONFIG;
      const bad = path.join(path.dirname(config), 'bad-mapping.distill.json');
      const cfg = JSON.parse(fs.readFileSync(config, 'utf8'));
      fs.writeFileSync(bad, JSON.stringify({ ...cfg, name: 'bad-mapping', mapping: [[1, 5]] }, null, 2));
      const doc = await vscode.workspace.openTextDocument(bad);
      await vscode.window.showTextDocument(doc);
      const diag = await until(
        'the diagnostic',
        () => vscode.languages.getDiagnostics(doc.uri).find((d) => /teacher layer 5 is out of range/.test(d.message)),
        30_000,
      );
      const actions = await vscode.commands.executeCommand(
        'vscode.executeCodeActionProvider',
        doc.uri,
        diag.range,
        vscode.CodeActionKind.QuickFix.value,
      );
      assert.ok(
        actions.some((a) => /Clamp the teacher layer to 2/.test(a.title)),
        'the Quick Fix is offered',
      );
    },
  ],
];

exports.run = async function run() {
  const ctx = {};
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of tests) {
    try {
      await fn(ctx);
      passed++;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed++;
      console.error(`not ok - ${name}\n${e && e.stack ? e.stack : e}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (failed) throw new Error(`${failed} in-host test(s) failed`);
};
