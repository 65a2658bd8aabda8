import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { fakeVscode, installFakeVscode } from '../fixtures/fake-vscode';
import { COMMAND_IDS } from '../../src/extension/command-ids';

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  activationEvents: string[];
  extensionKind: string[];
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
  contributes: {
    commands: Array<{ command: string; category: string }>;
    views: Record<string, Array<{ id: string }>>;
    viewsWelcome: Array<{ view: string; contents: string }>;
    menus: Record<string, Array<{ command: string; when?: string }>>;
    configuration: { properties: Record<string, { default: unknown }> };
    jsonValidation: Array<{ fileMatch: string; url: string }>;
  };
};

/** The extension bundled exactly as scripts/build.mjs does, into a temporary file. */
async function bundleExtension(): Promise<string> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-ext-bundle-')), 'extension.js');
  await build({
    entryPoints: [path.join(ROOT, 'src', 'extension', 'extension.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['@tensorflow/*', 'vscode'],
    mainFields: ['module', 'main'],
    logLevel: 'error',
  });
  return out;
}

test('the bundle loads no TF.js, activates in well under 100 ms and registers every contributed command', async (t) => {
  const bundle = await bundleExtension();
  const text = fs.readFileSync(bundle, 'utf8');
  assert.doesNotMatch(text, /require\("@tensorflow\//, 'the extension host must never load TF.js');

  // An open config whose teacher folder is missing: the diagnostics provider must load the
  // validator lazily from the bundle and report it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-ext-act-'));
  const configFile = path.join(dir, 'a.distill.json');
  const configText =
    '{ "task": { "name": "sst2", "dataDir": "." }, "teacher": { "checkpoint": "no-teacher" }, "algorithm": "sid" }';
  const { module, record } = fakeVscode({}, [{ fileName: configFile, text: configText }]);
  const restore = installFakeVscode(module);
  try {
    const t0 = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(bundle) as { activate(ctx: unknown): unknown; deactivate(): void };
    const loaded = performance.now();
    const subscriptions: Array<{ dispose(): void }> = [];
    const memento = { get: (_k: string, d: unknown) => d, update: async () => undefined, keys: () => [] };
    const context = {
      subscriptions,
      extensionPath: ROOT,
      extensionUri: { scheme: 'file', fsPath: ROOT },
      workspaceState: memento,
      globalState: memento,
    };
    ext.activate(context);
    const activated = performance.now();
    const activateMs = activated - loaded;
    // Loading the bundle is parse time (the validator's modules are wrapped and initialised on first use).
    t.diagnostic(`require ${(loaded - t0).toFixed(1)} ms, activate() ${activateMs.toFixed(1)} ms`);
    assert.ok(activateMs < 100, `activate() took ${activateMs.toFixed(1)} ms`);
    assert.ok(activated - t0 < 400, `require + activate took ${(activated - t0).toFixed(1)} ms`);

    assert.deepEqual([...record.commands].sort(), [...COMMAND_IDS].sort());
    assert.deepEqual(record.treeViews.sort(), ['distillery.configs', 'distillery.runs']);
    assert.deepEqual(record.serializers, ['distillery.dashboard']);
    assert.deepEqual(record.outputChannels, ['Distillery']);
    assert.equal(record.codeActionProviders, 1);
    assert.equal(record.codeLensProviders, 1);
    assert.equal(record.hoverProviders, 1, 'the config hover (how runs that varied a field did)');
    for (let i = 0; i < 100 && record.diagnostics.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      record.diagnostics.some((d) => d.uri === configFile && d.count >= 1),
      JSON.stringify(record.diagnostics),
    );
    for (const s of subscriptions) s.dispose();
    ext.deactivate();
  } finally {
    restore();
  }
});

test('package.json: commands, views, menus and activation agree with the code', () => {
  assert.equal(pkg.main, './dist/extension.js');
  assert.deepEqual(pkg.extensionKind, ['workspace']);
  const contributed = pkg.contributes.commands.map((c) => c.command);
  assert.deepEqual([...contributed].sort(), [...COMMAND_IDS].sort());
  assert.ok(pkg.contributes.commands.every((c) => c.category === 'Distillery'));
  for (const [menu, items] of Object.entries(pkg.contributes.menus)) {
    for (const item of items)
      assert.ok(contributed.includes(item.command), `${menu} names unknown command ${item.command}`);
  }
  const views = Object.values(pkg.contributes.views)
    .flat()
    .map((v) => v.id);
  assert.deepEqual(views, ['distillery.runs', 'distillery.configs']);
  for (const w of pkg.contributes.viewsWelcome) {
    assert.ok(views.includes(w.view));
    for (const m of w.contents.matchAll(/\(command:([\w.]+)\)/g)) {
      assert.ok(contributed.includes(m[1]) || m[1].startsWith('workbench.'), `welcome content names ${m[1]}`);
    }
  }
  assert.ok(
    pkg.activationEvents.includes('onWebviewPanel:distillery.dashboard'),
    'restoring dashboards after a reload needs it',
  );
  const props = pkg.contributes.configuration.properties;
  for (const key of [
    'distillery.nodePath',
    'distillery.runsDir',
    'distillery.backend',
    'distillery.stopGracePeriodSeconds',
  ])
    assert.ok(key in props, key);
  assert.equal(props['distillery.nodePath'].default, 'node');
  assert.equal(props['distillery.runsDir'].default, 'runs');
  const trust = pkg.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, 'limited');
  for (const key of trust.restrictedConfigurations) assert.ok(key in props, `restricted ${key} is a setting`);
  assert.ok(trust.restrictedConfigurations.includes('distillery.nodePath'));
  const schema = pkg.contributes.jsonValidation[0];
  assert.equal(schema.fileMatch, '*.distill.json');
  assert.ok(fs.existsSync(path.join(ROOT, schema.url)));
});
