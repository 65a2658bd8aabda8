// The addon the platform package ships (native/build-portable.mjs): OpenBLAS linked in, so it needs
// only glibc's libraries (readelf), loads in a Node with LD_LIBRARY_PATH empty without mapping any
// shared BLAS or Fortran runtime (/proc/self/maps), computes a product right, and is what the
// trainer picks up and reports (kernelsReport) when it is the addon there is; without it the report
// says why. The addon cases are skipped, with the reason, where it cannot be built (not Linux, no
// static OpenBLAS).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

const ADDON = path.join(
  REPO_ROOT,
  'native',
  'prebuilds',
  `${process.platform}-${process.arch}`,
  'distillery_blas.node',
);
let skip: string | false = false;

before(() => {
  if (process.platform !== 'linux') {
    skip = `the portable addon is built on Linux only (this is ${process.platform})`;
    return;
  }
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'native', 'build-portable.mjs')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) skip = `native/build-portable.mjs could not build it: ${r.stderr.trim().split('\n')[0]}`;
});

test("it needs only glibc's own libraries", (t) => {
  if (skip) return t.skip(skip);
  const elf = spawnSync('readelf', ['-d', ADDON], { encoding: 'utf8' });
  assert.equal(elf.status, 0, elf.stderr);
  const needed = [...elf.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  assert.ok(needed.length > 0, elf.stdout);
  for (const lib of needed)
    assert.match(
      lib,
      /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux[-\w.]*\.so\.\d)$/,
    );
});

test('it loads with LD_LIBRARY_PATH empty, maps no shared BLAS, and multiplies', (t) => {
  if (skip) return t.skip(skip);
  const script = `
    const b = require(${JSON.stringify(ADDON)});
    const a = new Float32Array([1, 2, 3, 4, 5, 6]); // 2×3
    const x = new Float32Array([1, 0, 0, 1, 1, 1]); // 3×2
    const c = new Float32Array(4);
    b.sgemm(a, 0, x, 0, c, 0, false, false, 2, 2, 3, 1, 0, 0, 0, null, 0);
    const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
    const libs = [...new Set(maps.split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && p.includes('.so')))];
    process.stdout.write(JSON.stringify({ config: b.config(), c: [...c], libs }));`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: '', LD_BIND_NOW: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { config: string; c: number[]; libs: string[] };
  assert.match(out.config, /^OpenBLAS/);
  assert.deepEqual(out.c, [4, 5, 10, 11]);
  assert.deepEqual(
    out.libs.filter((l) => /blas|lapack|gfortran|quadmath/i.test(path.basename(l)) && l !== ADDON),
    [],
  );
});

/** kernelsReport in a fresh process on the wasm backend, with these environment variables. */
function report(env: Record<string, string>): {
  kernels: string;
  native?: { path: string; library: string; threads: number };
  nativeUnavailable?: string;
} {
  const script = `
    require('@tensorflow/tfjs-backend-wasm');
    const { initBackend } = require('./src/model/backend');
    const { kernelsReport } = require('./src/model/fast-kernels');
    initBackend('wasm').then((b) => process.stdout.write(JSON.stringify(kernelsReport(b.tfName))));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, LD_LIBRARY_PATH: '', DISTILLERY_KERNELS: '', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ReturnType<typeof report>;
}

test('the trainer reports it: blas kernels, this file, OpenBLAS', (t) => {
  if (skip) return t.skip(skip);
  // The prebuilt addon as the one to load (the packaged extension has no other).
  const r = report({ DISTILLERY_NATIVE_BLAS: ADDON });
  assert.equal(r.kernels, 'blas');
  assert.equal(r.native?.path, ADDON);
  assert.match(r.native?.library ?? '', /^OpenBLAS/);
  assert.ok((r.native?.threads ?? 0) >= 1);
  assert.equal(r.nativeUnavailable, undefined);
});

test('without the native kernels the report says why: the addon is off, or DISTILLERY_KERNELS chose others', () => {
  const off = report({ DISTILLERY_NATIVE_BLAS: 'off' });
  assert.equal(off.kernels, 'untransposed');
  assert.equal(off.native, undefined);
  assert.match(off.nativeUnavailable ?? '', /turned off by DISTILLERY_NATIVE_BLAS/);
  // Even with the addon missing as well, the explicit choice is the reason given.
  const chosen = report({ DISTILLERY_NATIVE_BLAS: 'off', DISTILLERY_KERNELS: 'untransposed' });
  assert.match(chosen.nativeUnavailable ?? '', /^DISTILLERY_KERNELS=untransposed/);
});
