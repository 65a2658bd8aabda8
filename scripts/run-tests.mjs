// Type-checks, builds, then runs every test/**/*.test.ts with Node's own test runner (through tsx),
// so the output ends with node:test's summary. Pass file names to run a subset.
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

const selected = process.argv.slice(2);
if (selected.length === 0) {
  // Every TypeScript project in the repo: engine/CLI/tests, extension host, webview.
  for (const project of ['tsconfig.json', 'tsconfig.extension.json', 'webview/tsconfig.json']) {
    if (existsSync(project)) run('npx', ['tsc', '--noEmit', '-p', project]);
  }
  run('node', ['scripts/build.mjs']);
}
const files = selected.length ? selected : findTests('test');
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
run('node', ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files]);
