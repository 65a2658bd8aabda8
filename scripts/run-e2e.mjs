// End-to-end tests in a real VS Code: packages the extension (.vsix; the platform package where
// the native addon builds), then runs test/e2e/*.e2e.ts
// with Node's test runner, one file at a time. Each file starts code-server (installed by
// scripts/setup-e2e.sh into .cache/code-server) with the .vsix installed and drives it with Chromium.
// The output ends with node:test's summary. Pass file names to run a subset.
//
// Opt-in: with VSCODE_EXECUTABLE set to a local VS Code, also runs the in-host tests
// (test/e2e/in-host/) through @vscode/test-electron (`npm i -D @vscode/test-electron` first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
process.chdir(root);
const started = Date.now();
const log = (m) => process.stderr.write(`run-e2e: ${m}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

const codeServer =
  process.env.E2E_CODE_SERVER_DIR ?? join(root, '.cache', 'code-server', 'node_modules', 'code-server');
if (!existsSync(join(codeServer, 'out', 'node', 'entry.js'))) {
  log(
    `code-server is not installed in ${codeServer}. Run \`bash scripts/setup-e2e.sh\` first (one-off, a few minutes; cached afterwards).`,
  );
  process.exit(1);
}

// The packaged extension, as users get it (vsce runs the build through vscode:prepublish): the
// platform package with the native kernels where scripts/package.mjs can build it, else the
// universal one. E2E_VSIX_TARGET tells the tests which, and E2E_UNIVERSAL_VSIX where the universal
// one is (test/e2e/packaged-kernels.e2e.ts compares the two).
let vsix = process.env.E2E_VSIX;
let universal = process.env.E2E_UNIVERSAL_VSIX ?? '';
let target =
  process.env.E2E_VSIX_TARGET ?? vsix?.match(/-((?:linux|darwin|win32|alpine)-[a-z0-9]+)\.vsix$/)?.[1] ?? 'universal';
if (!vsix) {
  const outDir = join(root, '.cache', 'e2e');
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir)) if (f.endsWith('.vsix')) rmSync(join(outDir, f), { force: true });
  log('packaging the extension (scripts/package.mjs)');
  const pkg = spawnSync(process.execPath, [join('scripts', 'package.mjs'), '--out', outDir, '--skip-license'], {
    encoding: 'utf8',
  });
  let result;
  try {
    result = JSON.parse(pkg.stdout.trim().split('\n').pop() ?? '');
  } catch {
    /* reported below */
  }
  if (pkg.status !== 0 || !result?.universal) {
    process.stderr.write(`${pkg.stdout}\n${pkg.stderr}\n`);
    log('packaging failed');
    process.exit(1);
  }
  if (result.skipped) log(`testing the universal package: ${result.skipped}`);
  vsix = result.platform ?? result.universal;
  target = result.target ?? 'universal';
  universal = result.universal;
}
log(`testing ${vsix} (${target})`);

rmSync(join(root, 'test-output', 'e2e'), { recursive: true, force: true });
mkdirSync(join(root, 'test-output', 'e2e', 'screenshots'), { recursive: true });

const selected = process.argv.slice(2);
const files = selected.length
  ? selected
  : readdirSync(join(root, 'test', 'e2e'))
      .filter((f) => f.endsWith('.e2e.ts'))
      .sort()
      .map((f) => join('test', 'e2e', f));
// One file at a time: each holds a code-server, a Chromium and a trainer on a 2-core machine.
let status = run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  env: { ...process.env, E2E_VSIX: vsix, E2E_VSIX_TARGET: target, E2E_UNIVERSAL_VSIX: universal },
});

if (process.env.VSCODE_EXECUTABLE) {
  log(`VSCODE_EXECUTABLE is set: in-host tests against ${process.env.VSCODE_EXECUTABLE}`);
  const inHost = run(process.execPath, ['--import', 'tsx', join('test', 'e2e', 'in-host', 'run-electron.ts')], {
    env: { ...process.env, E2E_VSIX: vsix },
  });
  if (inHost !== 0) status = status || inHost;
}

log(`done in ${Math.round((Date.now() - started) / 1000)} s; artifacts and screenshots in test-output/e2e/`);
process.exit(status);
