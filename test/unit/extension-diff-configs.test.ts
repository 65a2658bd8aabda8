// The "Diff Configs" command's wiring, outside VS Code (test/fixtures/fake-vscode.ts): which two
// runs it diffs for each way of calling it, and the `vscode.diff` call on their config.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeVscode, installFakeVscode } from '../fixtures/fake-vscode';
import type { TreeNode } from '../../src/extension/tree-model';

/** A Runs tree node as VS Code hands it to a context-menu command. */
function runNode(runDir: string): TreeNode {
  return {
    id: runDir,
    kind: 'run',
    runDir,
    label: path.basename(runDir),
    contextValue: 'run:finished',
    collapsible: 'collapsed',
  };
}

function runs(): { a: string; b: string; c: string; fresh: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-diffcfg-'));
  const mk = (name: string, config: boolean): string => {
    const dir = path.join(root, 'runs', name);
    fs.mkdirSync(dir, { recursive: true });
    if (config) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ algorithm: name }));
    return dir;
  };
  return { a: mk('a', true), b: mk('b', true), c: mk('c', true), fresh: mk('fresh', false) };
}

test("Diff Configs opens vscode.diff on two runs' config.json: from a pair, a tree selection, or one run plus a pick", async () => {
  const fake = fakeVscode();
  const restore = installFakeVscode(fake.module);
  try {
    const { diffConfigs } = await import('../../src/extension/diff-configs');
    const { runDirsOf } = await import('../../src/extension/command-args');
    const { a, b, c, fresh } = runs();
    const picks: Array<{ exclude: readonly string[]; placeHolder: string }> = [];
    let answer: string[] | undefined = [b];
    const deps = {
      label: (d: string) => `run ${path.basename(d)}`,
      pickRuns: async (exclude: readonly string[], placeHolder: string) => {
        picks.push({ exclude, placeHolder });
        return answer;
      },
    };
    const diffs = (): Array<{ left: string; right: string; title: unknown }> =>
      fake.record.executed
        .filter((e) => e.id === 'vscode.diff')
        .map((e) => ({
          left: (e.args[0] as { fsPath: string }).fsPath,
          right: (e.args[1] as { fsPath: string }).fsPath,
          title: e.args[2],
        }));

    // the compare view's button: a [a, b] pair
    await diffConfigs(deps, [a, b]);
    assert.deepEqual(diffs(), [
      { left: path.join(a, 'config.json'), right: path.join(b, 'config.json'), title: 'config.json: run a ↔ run b' },
    ]);
    assert.equal(picks.length, 0);

    // the Runs tree with two runs selected (the clicked node, then the selection)
    await diffConfigs(deps, runNode(c), [runNode(b), runNode(c)]);
    assert.deepEqual(diffs()[1], {
      left: path.join(b, 'config.json'),
      right: path.join(c, 'config.json'),
      title: 'config.json: run b ↔ run c',
    });

    // one run: asks for the other, leaving the first out
    await diffConfigs(deps, runNode(a));
    assert.deepEqual(picks, [{ exclude: [a], placeHolder: 'Diff the config of run a with…' }]);
    assert.equal(diffs()[2].right, path.join(b, 'config.json'));

    // the pick cancelled: nothing
    answer = undefined;
    await diffConfigs(deps, undefined);
    assert.equal(picks[1].placeHolder, 'Pick two runs to diff their configs');
    assert.equal(diffs().length, 3);

    // three runs picked: only two can be diffed
    answer = [a, b, c];
    await diffConfigs(deps, undefined);
    assert.equal(diffs().length, 3);
    assert.match(fake.record.messages.at(-1) ?? '', /exactly two runs \(3 given\)/);

    // a run that has not written its config.json yet
    await diffConfigs(deps, [a, fresh]);
    assert.equal(diffs().length, 3);
    assert.match(fake.record.messages.at(-1) ?? '', /run fresh has no config\.json yet/);

    // what callers pass, as run folders: duplicates dropped, junk refused with what it was
    assert.deepEqual(runDirsOf([a, a, runNode(b)]), [a, b]);
    assert.deepEqual(runDirsOf(undefined), []);
    assert.throws(() => runDirsOf([a, 3]), /cannot act on a number; pass a path, a file Uri or a Distillery tree item/);
    assert.throws(() => runDirsOf([{ runDir: b }]), /cannot act on an object with runDir/);
  } finally {
    restore();
  }
});
