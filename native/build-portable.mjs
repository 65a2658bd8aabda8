#!/usr/bin/env node
// Builds the addon the packaged extension ships: native/prebuilds/<platform>-<arch>/distillery_blas.node,
// with OpenBLAS linked in statically, so a user needs no BLAS package (or compiler) at run time. Same
// sources and flags as native/build.mjs (the developer's build, which links the system's shared
// OpenBLAS); only the libraries differ. Linux only: it needs a static OpenBLAS (Debian/Ubuntu's
// libopenblas-dev ships one) and a glibc no newer than the users' (the result names the version).
//
//   node native/build-portable.mjs             build, exit 1 when it cannot
//   node native/build-portable.mjs --optional  build if possible, exit 0 either way (packaging hooks)
//   node native/build-portable.mjs --force     rebuild even when the addon is newer than its sources
//
// After linking it checks what users would otherwise find out at training time: that the addon
// needs only glibc's own libraries (readelf), and that it loads in a Node with LD_LIBRARY_PATH empty
// and every symbol bound at load (LD_BIND_NOW), so a symbol the static library left unresolved fails here.
//
// Overrides: CC, BLAS_CFLAGS (as for build.mjs), BLAS_STATIC_LIB (the libopenblas.a to link).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, compileFlags, findNodeInclude, inputs, loadCheck, prebuildDir, sources } from './toolchain.mjs';

const optional = process.argv.includes('--optional');
const force = process.argv.includes('--force');
const outDir = prebuildDir();
const target = path.join(outDir, 'distillery_blas.node');

function fail(msg) {
  process.stderr.write(`native/build-portable: ${msg}\n`);
  process.exit(optional ? 0 : 1);
}

/** Libraries every glibc system has: the addon may need these and nothing else. */
const GLIBC_LIBRARIES =
  /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux[-\w.]*\.so\.\d)$/;

if (process.platform !== 'linux')
  fail(
    `the portable addon is built on Linux only (this is ${process.platform}); the universal package uses the wasm kernels`,
  );
// Up to date when newer than the C files, their headers and both build scripts (the link is what takes the time).
const depends = [...inputs, fileURLToPath(import.meta.url), fileURLToPath(new URL('./toolchain.mjs', import.meta.url))];
if (!force && existsSync(target) && depends.every((f) => statSync(target).mtimeMs >= statSync(f).mtimeMs)) {
  process.stderr.write(`native/build-portable: ${path.relative(process.cwd(), target)} is up to date\n`);
  process.exit(0);
}
const { dir: nodeInclude, candidates } = findNodeInclude();
if (!nodeInclude) fail(`node_api.h not found (looked in ${candidates.join(', ')})`);

// The pthread variant first: OpenBLAS's threads are what make it fast on several cores.
const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';
const staticCandidates = process.env.BLAS_STATIC_LIB
  ? [process.env.BLAS_STATIC_LIB]
  : [
      `/usr/lib/${multiarch}/openblas-pthread/libopenblas.a`,
      `/usr/lib/${multiarch}/libopenblas.a`,
      '/usr/lib64/libopenblas.a',
      '/usr/lib/libopenblas.a',
      '/usr/local/lib/libopenblas.a',
      '/opt/OpenBLAS/lib/libopenblas.a',
    ];
const staticLib = staticCandidates.find((f) => existsSync(f));
if (!staticLib) {
  fail(
    `no static OpenBLAS (looked for ${staticCandidates.join(', ')}); install it (Debian/Ubuntu: apt-get install libopenblas-dev) or set BLAS_STATIC_LIB to a libopenblas.a`,
  );
}

mkdirSync(outDir, { recursive: true });
const tmp = path.join(outDir, `distillery_blas.tmp-${process.pid}.node`);
const problem = compile([
  ...compileFlags(nodeInclude),
  ...sources,
  '-o',
  tmp,
  // Keep OpenBLAS's symbols private to the addon (no clash with another BLAS in the process), drop
  // what the addon never reaches, and strip: the whole of OpenBLAS's kernels for every CPU stays in.
  '-Wl,--exclude-libs,ALL',
  '-Wl,--gc-sections',
  '-s',
  staticLib,
  '-lm',
  '-lpthread',
]);
if (problem) fail(problem);

function cleanupFail(msg) {
  rmSync(tmp, { force: true });
  fail(msg);
}

const elf = spawnSync('readelf', ['-d', '-V', tmp], { encoding: 'utf8' });
if (elf.status !== 0) cleanupFail(`readelf failed (install binutils): ${elf.stderr || elf.error?.message}`);
const needed = [...elf.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
const foreign = needed.filter((n) => !GLIBC_LIBRARIES.test(n));
if (foreign.length) {
  cleanupFail(
    `${staticLib} left the addon needing ${foreign.join(', ')}; link a static OpenBLAS built without them (BLAS_STATIC_LIB)`,
  );
}
const glibc =
  [...elf.stdout.matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)]
    .map((m) => m[1])
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .pop() ?? 'unknown';

let config;
try {
  config = loadCheck(tmp, { ...process.env, LD_LIBRARY_PATH: '', LD_BIND_NOW: '1' });
} catch (e) {
  cleanupFail(`built, but it does not load with LD_LIBRARY_PATH empty:\n${e.message}`);
}
renameSync(tmp, target); // atomic: the packager never sees a half-written addon
process.stderr.write(
  `native/build-portable: built ${path.relative(process.cwd(), target)} (${config}; needs ${needed.join(', ')}; glibc ≥ ${glibc})\n`,
);
