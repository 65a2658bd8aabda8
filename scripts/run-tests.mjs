// Checks formatting (Prettier) and lint (ESLint), type-checks, builds, then runs every
// test/**/*.test.ts with Node's own test runner (through tsx), so the output ends with node:test's
// summary. Pass file names to run a subset (no format, lint, type-check or build then).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Runs a check; on failure says what failed and the command that fixes it. */
function check(what, cmd, args, fix) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\n${what} failed. Fix it with \`${fix}\`, then run the tests again.`);
    process.exit(r.status ?? 1);
  }
}

const selected = process.argv.slice(2);
if (selected.length === 0) {
  // Both keep a cache in node_modules/.cache, so a second run looks only at changed files.
  check(
    'The formatting check (Prettier)',
    process.execPath,
    ['node_modules/prettier/bin/prettier.cjs', '--check', '--cache', '--log-level', 'warn', '.'],
    'npm run format',
  );
  check(
    'Lint (ESLint)',
    process.execPath,
    ['node_modules/eslint/bin/eslint.js', '--cache', '--cache-location', 'node_modules/.cache/eslint/', '.'],
    'npm run lint -- --fix',
  );
  // Every TypeScript project in the repo: engine/CLI/tests, extension host, webview.
  for (const project of ['tsconfig.json', 'tsconfig.extension.json', 'webview/tsconfig.json']) {
    if (existsSync(project)) run('npx', ['tsc', '--noEmit', '-p', project]);
  }
  run('node', ['scripts/build.mjs']);
}
// A folder (test/unit, test/integration) stands for the tests under it.
const files = selected.length
  ? selected.flatMap((p) => (existsSync(p) && statSync(p).isDirectory() ? findTests(p) : [p]))
  : findTests('test');
if (files.length === 0) {
  console.error(`No *.test.ts files in ${selected.join(' ')}.`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
run('node', ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files]);
