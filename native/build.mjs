#!/usr/bin/env node
// Builds native/build/distillery_blas.node: the optional N-API addon that gives TF.js matrix
// kernels an optimised GEMM (OpenBLAS). Plain `cc`, Node's own headers, no npm packages, so it
// needs only a C compiler and the OpenBLAS development files (Debian/Ubuntu: libopenblas-dev).
// The project works without it: the kernels fall back to the pure-wasm path.
//
//   node native/build.mjs            build, exit 1 when it cannot
//   node native/build.mjs --optional build if possible, exit 0 either way (for install/test hooks)
//   node native/build.mjs --force    rebuild even when the addon is newer than its sources
//
// Overrides: CC (compiler), BLAS_CFLAGS (e.g. -I/opt/openblas/include), BLAS_LIBS (e.g.
// "-L/opt/openblas/lib -lopenblas").
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { compile, compileFlags, findNodeInclude, inputs, loadCheck, nativeDir, sources } from './toolchain.mjs';

const outDir = path.join(nativeDir, 'build');
const target = path.join(outDir, 'distillery_blas.node');
const optional = process.argv.includes('--optional');
const force = process.argv.includes('--force');

function fail(msg) {
  process.stderr.write(`native/build: ${msg}\n`);
  process.exit(optional ? 0 : 1);
}

if (process.platform === 'win32')
  fail('the BLAS addon is built on Linux and macOS only; the wasm kernels are used instead');
if (!force && existsSync(target) && inputs.every((f) => statSync(target).mtimeMs >= statSync(f).mtimeMs)) {
  process.stderr.write(`native/build: ${path.relative(process.cwd(), target)} is up to date\n`);
  process.exit(0);
}

const { dir: nodeInclude, candidates } = findNodeInclude();
if (!nodeInclude) fail(`node_api.h not found (looked in ${candidates.join(', ')})`);

const blasLibs = (process.env.BLAS_LIBS ?? '-lopenblas').split(/\s+/).filter(Boolean);
mkdirSync(outDir, { recursive: true });
const problem = compile([...compileFlags(nodeInclude), ...sources, '-o', target, ...blasLibs, '-lm']);
if (problem) fail(problem);
// Load it once here, so a broken library path is reported now rather than at training time.
let config;
try {
  config = loadCheck(target);
} catch (e) {
  fail(`built, but it does not load:\n${e.message}`);
}
process.stderr.write(`native/build: built ${path.relative(process.cwd(), target)} (${config})\n`);
