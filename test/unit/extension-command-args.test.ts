// What the distillery.* commands take as their argument (src/extension/command-args.ts), outside
// VS Code (test/fixtures/fake-vscode.ts): the typed tree nodes, paths and file Uris, and a clear
// error for anything else or for a node of the wrong kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeVscode, installFakeVscode } from '../fixtures/fake-vscode';
import { configNode, runChildren, runNodes } from '../../src/extension/tree-model';
import { outlineConfig } from '../../src/extension/config-outline';
import { deriveRunState } from '../../src/extension/run-state';

const RUN = '/ws/runs/sst2-pid-20250101-120000';

test('command arguments: tree nodes give their run, config or folder; paths and file Uris pass; the rest is refused by name', async () => {
  const fake = fakeVscode();
  const restore = installFakeVscode(fake.module);
  try {
    const { commandTarget, configFileOf, fileOf, runDirOf, CommandArgError } =
      await import('../../src/extension/command-args');
    const Uri = fake.module.Uri as { file(p: string): unknown };

    const state = deriveRunState(
      {
        runDir: RUN,
        events: [],
        info: { status: 'finished', pid: 1 },
        files: {
          checkpoints: [`${RUN}/checkpoints/step-00000004`],
          bestDir: `${RUN}/best`,
          studentDir: `${RUN}/student`,
        },
      },
      () => false,
    );
    const [launch, run] = runNodes([state], [{ id: 7, verb: 'train', target: '/ws/a.distill.json' }]);
    const kids = runChildren(state);
    const checkpoint = kids.find((k) => k.kind === 'checkpoints')?.children?.[0];
    const best = kids.find((k) => k.kind === 'best');
    const config = configNode(outlineConfig('{ "task": { "name": "sst2" } }', '/ws/a.distill.json'));
    assert.ok(checkpoint && best);

    // Nothing (the Command Palette): the command asks.
    assert.equal(commandTarget(undefined), undefined);
    assert.equal(runDirOf(commandTarget(undefined)), undefined);
    // A path (links, the status bar, the dashboard) and a file Uri (explorer, editor title, CodeLens).
    assert.deepEqual(commandTarget('/ws/runs/x'), { kind: 'path', path: '/ws/runs/x' });
    assert.deepEqual(commandTarget(Uri.file('/ws/a.distill.json')), { kind: 'path', path: '/ws/a.distill.json' });
    // The node itself, as VS Code hands it back.
    assert.equal(commandTarget(run), run);

    assert.equal(runDirOf(run), RUN);
    assert.equal(runDirOf(checkpoint), RUN);
    assert.equal(runDirOf(best), RUN);
    assert.equal(fileOf(run), RUN);
    assert.equal(fileOf(checkpoint), `${RUN}/checkpoints/step-00000004`);
    assert.equal(fileOf(best), `${RUN}/best`);
    assert.equal(configFileOf(config), '/ws/a.distill.json');
    assert.equal(launch.kind === 'launch' && launch.launchId, 7);

    // A node of the wrong kind, a Uri that is no file, and anything else.
    assert.throws(
      () => runDirOf(config),
      (e: unknown) => e instanceof CommandArgError && /the tree item "a" \(config\) is not a run/.test(e.message),
    );
    assert.throws(() => configFileOf(run), /\(run\) is not a config/);
    assert.throws(() => runDirOf(launch), /\(launch\) is not a run/);
    const untitled = Reflect.construct(fake.module.Uri as new (...a: unknown[]) => object, ['untitled', 'Untitled-1']);
    assert.throws(() => commandTarget(untitled), /untitled:\/\/Untitled-1 is not a file on this machine/);
    assert.throws(() => commandTarget(42), /cannot act on a number/);
    assert.throws(
      () => commandTarget({ kind: 'run' }),
      /cannot act on an object with kind/,
      'a look-alike without an id is no tree node',
    );
    assert.throws(() => commandTarget([RUN]), /cannot act on a list/);
  } finally {
    restore();
  }
});
