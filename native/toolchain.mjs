// What both addon builds share (native/build.mjs for a developer's checkout, native/build-portable.mjs
// for the packaged extension): the sources, the compiler, Node's N-API headers, the flags they are built with.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const nativeDir = path.dirname(fileURLToPath(import.meta.url));
const own = readdirSync(nativeDir).sort();
/** The addon's C files (native/README.md says what each holds), compiled together into one .node. */
export const sources = own.filter((f) => f.endsWith('.c')).map((f) => path.join(nativeDir, f));
/** What a build depends on: the C files and their headers (a build older than any of them is redone). */
export const inputs = [...sources, ...own.filter((f) => f.endsWith('.h')).map((f) => path.join(nativeDir, f))];
export const cc = process.env.CC || 'cc';

/** Where the packaged extension's addon goes: native/prebuilds/<platform>-<arch>/ (the loader looks there too). */
export function prebuildDir(platform = process.platform, arch = process.arch) {
  return path.join(nativeDir, 'prebuilds', `${platform}-${arch}`);
}

/** The folder holding node_api.h (Node ships it with its headers), or undefined with the places looked in. */
export function findNodeInclude() {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    process.config?.variables?.node_prefix ? path.join(process.config.variables.node_prefix, 'include', 'node') : '',
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  return { dir: candidates.find((d) => existsSync(path.join(d, 'node_api.h'))), candidates };
}

/** -I flags for cblas.h: BLAS_CFLAGS, then the distributions' own include folders. */
export function blasIncludeFlags() {
  const flags = (process.env.BLAS_CFLAGS ?? '').split(/\s+/).filter(Boolean);
  // Debian puts cblas.h on the default path; Fedora under openblas/, Homebrew under its prefix.
  for (const d of ['/usr/include/openblas', '/usr/local/opt/openblas/include', '/opt/homebrew/opt/openblas/include']) {
    if (existsSync(path.join(d, 'cblas.h'))) flags.push(`-I${d}`);
  }
  return flags;
}

/**
 * The compile flags of every C file, before the sources and libraries (the same for both builds, so
 * both run the same code). -ffp-contract=off keeps one rounding per operation (adamw.c matches the
 * op-by-op path bit for bit); -fvisibility=hidden keeps the files' shared functions out of the
 * process's symbol table (only N-API's registration is exported), so no other library's symbol of
 * the same name can take their place.
 */
export function compileFlags(nodeInclude) {
  const platformFlags = process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared'];
  return [
    '-O3',
    '-fno-math-errno',
    '-fno-trapping-math',
    '-ffp-contract=off',
    '-fopenmp-simd',
    '-fvisibility=hidden',
    '-fPIC',
    '-pthread',
    '-Wall',
    '-Wextra',
    ...platformFlags,
    '-DNODE_GYP_MODULE_NAME=distillery_blas',
    `-I${nodeInclude}`,
    ...blasIncludeFlags(),
  ];
}

/** Runs the compiler; returns undefined on success, else the message to show. */
export function compile(args) {
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error) return `cannot run ${cc} (${r.error.message}); install a C compiler (Debian: build-essential)`;
  if (r.status !== 0) {
    const out = `${r.stdout}${r.stderr}`.trim();
    const hint = /cblas\.h|lopenblas|openblas/.test(out)
      ? ' (install OpenBLAS: Debian/Ubuntu `apt-get install libopenblas-dev`, Fedora `dnf install openblas-devel`, macOS `brew install openblas`)'
      : '';
    return `${cc} failed${hint}:\n${out}`;
  }
  return undefined;
}

/** Loads the addon in a fresh Node; returns its config() string, or throws with the loader's message. */
export function loadCheck(file, env = process.env) {
  const r = spawnSync(
    process.execPath,
    ['-e', `const b = require(${JSON.stringify(file)}); process.stdout.write(b.config())`],
    { encoding: 'utf8', env },
  );
  if (r.status !== 0) throw new Error(r.stderr.trim() || `exit code ${r.status}`);
  return r.stdout.trim();
}
