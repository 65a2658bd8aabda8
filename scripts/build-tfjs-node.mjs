#!/usr/bin/env node
// Builds the `tensorflow` backend (@tensorflow/tfjs-node) without its installer's download:
// the TensorFlow C library comes from PyPI's `tensorflow-cpu` wheel instead (pip download
// --no-deps; nothing of it is installed or imported), and the N-API binding is compiled from the
// sources the npm package ships, with node-gyp and this Node's own headers (no header download),
// plus native/tfjs-node/ (zero-copy tensor views for the fused kernels; the stock binding where
// that patch does not fit).
//
//   node scripts/build-tfjs-node.mjs [--tf-version 2.16.2] [--check]
//
// --check only reports whether the backend loads (exit 0) or not (exit 1), and whether with the views.
// The wheel's libtensorflow_cc.so.2 exports the whole C API (TF_* and TFE_*) that the binding
// uses; libtensorflow 2.9.1, which the installer would download, is only its older build.
// A GPU user would take the C library from `tensorflow[and-cuda]` the same way (docs/performance.md).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (m) => process.stderr.write(`build-tfjs-node: ${m}\n`);
const fail = (m) => {
  log(m);
  process.exit(1);
};

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const tfVersion = flag('--tf-version') ?? '2.16.2';
const pkgJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const tfjsNodeVersion = pkgJson.optionalDependencies?.['@tensorflow/tfjs-node'] ?? '4.22.0';
const pkgDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-node');

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  return r;
}

/** Loads the backend in a child process (a failed native load can abort the process). */
function check() {
  const r = run(
    process.execPath,
    [
      '-e',
      `
    const tf = require('@tensorflow/tfjs-node');
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const product = tf.matMul(x, x);
    const y = product.dataSync();
    if (tf.getBackend() !== 'tensorflow' || y[0] !== 7) process.exit(2);
    // The zero-copy entry points of native/tfjs-node/binding.patch, when it applied: a view of a
    // tensor's memory, and a new tensor written through its view.
    const b = tf.backend().binding;
    let views = 'stock binding';
    if (typeof b.tensorView === 'function') {
      const info = tf.backend().tensorMap.get(product.dataId);
      const v = new Float32Array(b.tensorView(info.id));
      const [id, buf] = b.allocTensor([2]);
      new Float32Array(buf).set([v[0], v[3]]);
      const back = b.tensorDataSync(id);
      b.releaseView(buf);
      b.deleteTensor(id);
      if (v[0] !== 7 || v[3] !== 22 || back[1] !== 22) process.exit(3);
      views = 'zero-copy views';
    }
    console.log((tf.version.tfjs ?? tf.version['tfjs-core']) + ', ' + views);
  `,
    ],
    { cwd: root, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } },
  );
  if (r.status === 0) return { ok: true, detail: r.stdout.trim() };
  // Node ends a crash with its version line: the error line above it says why.
  const lines = r.stderr.trim().split('\n');
  return {
    ok: false,
    detail: lines.find((l) => /Error|Cannot find/.test(l))?.trim() ?? lines.pop() ?? `exit ${r.status}`,
  };
}

if (args.includes('--check')) {
  const c = check();
  log(c.ok ? `the tensorflow backend loads (tfjs ${c.detail})` : `the tensorflow backend does not load: ${c.detail}`);
  process.exit(c.ok ? 0 : 1);
}

// 1. The npm package without its install script (which would download libtensorflow).
if (!fs.existsSync(path.join(pkgDir, 'binding.gyp'))) {
  log(`npm install --no-save --ignore-scripts @tensorflow/tfjs-node@${tfjsNodeVersion}`);
  const r = run(
    'npm',
    ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `@tensorflow/tfjs-node@${tfjsNodeVersion}`],
    { cwd: root, stdio: 'inherit' },
  );
  if (r.status !== 0 || !fs.existsSync(path.join(pkgDir, 'binding.gyp')))
    fail('could not install @tensorflow/tfjs-node from the npm registry');
}

// 2. The TensorFlow C library and headers from the PyPI wheel, cached per version.
const cache = path.join(root, '.cache', 'libtensorflow', tfVersion);
const libs = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
if (
  !libs.every((l) => fs.existsSync(path.join(cache, 'lib', l))) ||
  !fs.existsSync(path.join(cache, 'include', 'tensorflow', 'c', 'c_api.h'))
) {
  const python = fs.existsSync(path.join(root, '.venv', 'bin', 'python'))
    ? path.join(root, '.venv', 'bin', 'python')
    : 'python3';
  const dl = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-wheel-'));
  try {
    log(`pip download --no-deps tensorflow-cpu==${tfVersion} (about 210 MB)`);
    const r = run(
      python,
      [
        '-m',
        'pip',
        'download',
        '-q',
        '--disable-pip-version-check',
        '--no-deps',
        '--only-binary=:all:',
        '-d',
        dl,
        `tensorflow-cpu==${tfVersion}`,
      ],
      { stdio: ['ignore', 'inherit', 'pipe'] },
    );
    const wheel = fs.readdirSync(dl).find((f) => f.endsWith('.whl'));
    if (r.status !== 0 || !wheel)
      fail(
        `pip download of tensorflow-cpu==${tfVersion} failed (is PyPI reachable? is there a wheel for this Python?):\n${r.stderr}`,
      );
    const staging = `${cache}.partial`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    const x = run('unzip', [
      '-q',
      '-o',
      path.join(dl, wheel),
      ...libs.map((l) => `tensorflow/${l}`),
      'tensorflow/include/tensorflow/c/*',
      'tensorflow/include/tensorflow/core/platform/ctstring*',
      'tensorflow/include/tsl/*',
      '-d',
      staging,
    ]);
    if (x.status !== 0) fail(`unzip of ${wheel} failed (install Debian's unzip?): ${x.stderr}`);
    fs.mkdirSync(path.join(staging, 'lib'));
    for (const l of libs) fs.renameSync(path.join(staging, 'tensorflow', l), path.join(staging, 'lib', l));
    fs.renameSync(path.join(staging, 'tensorflow', 'include'), path.join(staging, 'include'));
    fs.rmSync(path.join(staging, 'tensorflow'), { recursive: true, force: true });
    fs.rmSync(cache, { recursive: true, force: true });
    fs.renameSync(staging, cache);
  } finally {
    fs.rmSync(dl, { recursive: true, force: true });
  }
}

// 3. deps/ as binding.gyp expects it: headers, and libtensorflow(.so) = the wheel's libtensorflow_cc.
const deps = path.join(pkgDir, 'deps');
fs.rmSync(deps, { recursive: true, force: true });
fs.mkdirSync(path.join(deps, 'lib'), { recursive: true });
fs.symlinkSync(path.join(cache, 'include'), path.join(deps, 'include'));
const link = (target, name) => fs.symlinkSync(path.join(cache, 'lib', target), path.join(deps, 'lib', name));
link('libtensorflow_cc.so.2', 'libtensorflow.so');
link('libtensorflow_cc.so.2', 'libtensorflow_cc.so.2');
link('libtensorflow_framework.so.2', 'libtensorflow_framework.so');
link('libtensorflow_framework.so.2', 'libtensorflow_framework.so.2');

// 4. The binding, against this Node's headers (node-gyp would otherwise download them).
const nodeDir = path.dirname(path.dirname(process.execPath));
if (!fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h')))
  fail(`no Node headers in ${nodeDir}/include/node (install your distribution's nodejs headers package)`);
const napiVersions = pkgJsonOf(pkgDir).binary?.napi_versions ?? [8];
const napi = Math.max(...napiVersions.filter((v) => v <= Number(process.versions.napi)));
const gyp = findNodeGyp();
const compile = () =>
  run(
    process.execPath,
    [
      gyp,
      'rebuild',
      `--nodedir=${nodeDir}`,
      '-j',
      String(Math.max(1, os.cpus().length)),
      '--module_name=tfjs_binding',
      `--module_path=lib/napi-v${napi}`,
      `--napi_build_version=${napi}`,
    ],
    { cwd: pkgDir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
const patched = applyBindingPatch();
log(`compiling the N-API binding (napi v${napi}${patched ? ', with zero-copy views' : ''}) with ${gyp}`);
let b = compile();
if (b.status !== 0 && patched) {
  // The stock binding still runs the trainer (with the composites instead of the fused kernels).
  log(`the patched binding did not compile; building the stock one:\n${errorLines(b.stderr)}`);
  patchBinding(true);
  b = compile();
}
if (b.status !== 0) fail(`node-gyp failed:\n${errorLines(b.stderr)}`);
const out = path.join(pkgDir, 'lib', `napi-v${napi}`);
fs.mkdirSync(out, { recursive: true });
fs.copyFileSync(path.join(pkgDir, 'build', 'Release', 'tfjs_binding.node'), path.join(out, 'tfjs_binding.node'));

const c = check();
if (!c.ok) fail(`built, but the backend does not load: ${c.detail}`);
log(
  `ready: @tensorflow/tfjs-node ${tfjsNodeVersion} on TensorFlow ${tfVersion} (the wheel's C library, in .cache/libtensorflow/${tfVersion})`,
);

function errorLines(stderr) {
  return stderr
    .split('\n')
    .filter((l) => /error|ERR/.test(l))
    .slice(0, 20)
    .join('\n');
}

/**
 * native/tfjs-node/binding.patch: zero-copy tensor views and allocation on the binding, for the
 * fused native kernels on this backend (src/model/fast-kernels/tensorflow-kernels.ts). Applied once
 * (a second build finds it applied); a package whose sources it does not fit (another tfjs-node
 * version) builds stock, and the trainer runs the composite ops there. Returns whether it is applied.
 */
function applyBindingPatch() {
  const patchFile = path.join(root, 'native', 'tfjs-node', 'binding.patch');
  fs.copyFileSync(
    path.join(root, 'native', 'tfjs-node', 'distillery_tensors.cc'),
    path.join(pkgDir, 'binding', 'distillery_tensors.cc'),
  );
  const dry = (reverse) =>
    run(
      'patch',
      ['-p1', '-s', '-f', '-F0', '--no-backup-if-mismatch', '--dry-run', ...(reverse ? ['-R'] : []), '-i', patchFile],
      { cwd: pkgDir },
    );
  try {
    if (dry(true).status === 0) return true;
    const d = dry(false);
    if (d.status !== 0) {
      log(
        `native/tfjs-node/binding.patch does not fit these sources (building the stock binding): ${d.stdout}${d.stderr}`,
      );
      return false;
    }
    return patchBinding(false);
  } catch (e) {
    log(`could not run patch (building the stock binding): ${e.message}`);
    return false;
  }
}

function patchBinding(reverse) {
  const patchFile = path.join(root, 'native', 'tfjs-node', 'binding.patch');
  const r = run(
    'patch',
    ['-p1', '-s', '-f', '-F0', '--no-backup-if-mismatch', ...(reverse ? ['-R'] : []), '-i', patchFile],
    { cwd: pkgDir },
  );
  if (r.status !== 0) fail(`patch ${reverse ? '-R ' : ''}failed: ${r.stdout}${r.stderr}`);
  return !reverse;
}

function pkgJsonOf(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
}

function findNodeGyp() {
  const candidates = [
    path.join(nodeDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) fail(`node-gyp not found (looked in ${candidates.join(', ')}); npm ships it`);
  return found;
}
