/**
 * Opt-in: the in-host tests (./suite.cjs, run inside the extension host with the full `vscode`
 * API) against a VS Code already installed on this machine, through @vscode/test-electron.
 * `VSCODE_EXECUTABLE` is that VS Code's executable; nothing is downloaded. The package is not a
 * dependency of the project: install it with `npm i -D @vscode/test-electron` to use this path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../helpers/paths';
import { makeWorkspace } from '../workspace';

interface TestElectron {
  runTests(o: {
    vscodeExecutablePath: string;
    extensionDevelopmentPath: string;
    extensionTestsPath: string;
    launchArgs?: string[];
    extensionTestsEnv?: Record<string, string | undefined>;
  }): Promise<number>;
}

async function loadTestElectron(): Promise<TestElectron | undefined> {
  try {
    // A variable specifier: the package is optional, and the type-checker must not require it.
    const name = '@vscode/test-electron';
    return (await import(name)) as TestElectron;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const exe = process.env.VSCODE_EXECUTABLE;
  if (!exe) {
    process.stderr.write(
      'in-host: set VSCODE_EXECUTABLE to a local VS Code executable (e.g. /usr/share/code/code) to run these tests.\n',
    );
    return 1;
  }
  if (!fs.existsSync(exe)) {
    process.stderr.write(`in-host: VSCODE_EXECUTABLE=${exe} does not exist.\n`);
    return 1;
  }
  const te = await loadTestElectron();
  if (!te) {
    process.stderr.write(
      'in-host: @vscode/test-electron is not installed. It is an opt-in developer tool, not a project dependency:\n' +
        '  npm i -D @vscode/test-electron\n' +
        'then run `VSCODE_EXECUTABLE=/path/to/code node scripts/run-e2e.mjs` again.\n',
    );
    return 1;
  }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-in-host-'));
  const ws = makeWorkspace(path.join(home, 'project'), { nodePath: process.execPath });
  try {
    return await te.runTests({
      vscodeExecutablePath: exe,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: path.join(__dirname, 'suite.cjs'),
      launchArgs: [
        ws.dir,
        '--disable-extensions',
        '--disable-workspace-trust',
        '--user-data-dir',
        path.join(home, 'user'),
        '--skip-welcome',
        '--skip-release-notes',
      ],
      extensionTestsEnv: { DISTILLERY_E2E_CONFIG: ws.config },
    });
  } catch (e) {
    process.stderr.write(`in-host: ${String(e)}\n`);
    return 1;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`in-host: ${String(e)}\n`);
    process.exit(1);
  },
);
