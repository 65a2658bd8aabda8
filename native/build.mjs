#!/usr/bin/env node
// Builds native/build/distillery_blas.node: the optional N-API addon that gives TF.js matrix
// kernels an optimised GEMM (OpenBLAS). Plain `cc`, Node's own headers, no npm packages, so it
// needs only a C compiler and the OpenBLAS development files (Debian/Ubuntu: libopenblas-dev).
// The project works without it: the kernels fall back to the pure-wasm path.
//
//   node native/build.mjs            build, exit 1 when it cannot
//   node native/build.mjs --optional build if possible, exit 0 either way (for install/test hooks)
//   node native/build.mjs --force    rebuild even when the addon is newer than its source
//
// Overrides: CC (compiler), BLAS_CFLAGS (e.g. -I/opt/openblas/include), BLAS_LIBS (e.g.
// "-L/opt/openblas/lib -lopenblas").
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, 'blas.c');
const outDir = path.join(here, 'build');
const target = path.join(outDir, 'distillery_blas.node');
const optional = process.argv.includes('--optional');
const force = process.argv.includes('--force');

function fail(msg) {
  process.stderr.write(`native/build: ${msg}\n`);
  process.exit(optional ? 0 : 1);
}

if (process.platform === 'win32') fail('the BLAS addon is built on Linux and macOS only; the wasm kernels are used instead');
if (!force && existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
  process.stderr.write(`native/build: ${path.relative(process.cwd(), target)} is up to date\n`);
  process.exit(0);
}

// Node ships node_api.h with its headers; find them next to the running node.
const includeCandidates = [
  path.join(path.dirname(process.execPath), '..', 'include', 'node'),
  process.config?.variables?.node_prefix ? path.join(process.config.variables.node_prefix, 'include', 'node') : '',
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const nodeInclude = includeCandidates.find((d) => existsSync(path.join(d, 'node_api.h')));
if (!nodeInclude) fail(`node_api.h not found (looked in ${includeCandidates.join(', ')})`);

const cc = process.env.CC || 'cc';
const blasCflags = (process.env.BLAS_CFLAGS ?? '').split(/\s+/).filter(Boolean);
const blasLibs = (process.env.BLAS_LIBS ?? '-lopenblas').split(/\s+/).filter(Boolean);
// Distribution include folders for cblas.h (Debian puts it on the default path; Fedora under openblas/).
for (const d of ['/usr/include/openblas', '/usr/local/opt/openblas/include', '/opt/homebrew/opt/openblas/include']) {
  if (existsSync(path.join(d, 'cblas.h'))) blasCflags.push(`-I${d}`);
}
const platformFlags = process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared'];
mkdirSync(outDir, { recursive: true });
const args = [
  '-O3', '-fno-math-errno', '-fno-trapping-math', '-ffp-contract=off', '-fopenmp-simd', '-fPIC', '-pthread', '-Wall', '-Wextra', ...platformFlags,
  '-DNODE_GYP_MODULE_NAME=distillery_blas', `-I${nodeInclude}`, ...blasCflags,
  source, '-o', target, ...blasLibs, '-lm',
];
const r = spawnSync(cc, args, { encoding: 'utf8' });
if (r.error) fail(`cannot run ${cc} (${r.error.message}); install a C compiler (Debian: build-essential)`);
if (r.status !== 0) {
  const out = `${r.stdout}${r.stderr}`.trim();
  const hint = /cblas\.h|lopenblas|openblas/.test(out) ? ' (install OpenBLAS: Debian/Ubuntu `apt-get install libopenblas-dev`, Fedora `dnf install openblas-devel`, macOS `brew install openblas`)' : '';
  fail(`${cc} failed${hint}:\n${out}`);
}
// Load it once here, so a broken library path is reported now rather than at training time.
const check = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(target)}); process.stdout.write(b.config())`], { encoding: 'utf8' });
if (check.status !== 0) fail(`built, but it does not load:\n${check.stderr.trim()}`);
process.stderr.write(`native/build: built ${path.relative(process.cwd(), target)} (${check.stdout.trim()})\n`);
