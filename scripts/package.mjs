// Packages the extension: the universal distillery.vsix (wasm kernels only; for every platform) and,
// where the addon can be built here, the platform package distillery-<target>.vsix that ships the
// native kernels (native/build-portable.mjs: OpenBLAS linked in, nothing to install at run time).
// The Marketplace serves a platform package to its platform and the universal one elsewhere.
//
//   node scripts/package.mjs                   both, into the repository root
//   node scripts/package.mjs --out DIR         into DIR
//   node scripts/package.mjs --skip-license    passed to vsce (the e2e runner packages without LICENSE checks)
//
// Prints one JSON line on stdout: {"universal": path, "platform": path | null, "target": "linux-x64" | null,
// "skipped": why there is no platform package}. Only the native target of this machine can be built
// (the addon is compiled and load-checked here), so a release builds each target on its own runner.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
process.chdir(root);
const log = (m) => process.stderr.write(`package: ${m}\n`);
const argv = process.argv.slice(2);
const outIndex = argv.indexOf('--out');
const outDir = resolve(outIndex >= 0 && argv[outIndex + 1] ? argv[outIndex + 1] : root);
const vsceExtra = argv.includes('--skip-license') ? ['--skip-license'] : [];

/** vsce's name for this machine's platform, or undefined where no package is built. */
function vsceTarget() {
  if (process.platform !== 'linux') return undefined;
  // A glibc addon does not load on musl (Alpine): vsce's alpine-* targets would need a musl build.
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
  if (!glibc) return undefined;
  return { x64: 'linux-x64', arm64: 'linux-arm64' }[process.arch];
}

/** vsce into a temporary name, renamed when complete: a failed run leaves no half-written .vsix. */
function vsce(out, extra) {
  const tmp = `${out}.tmp`;
  rmSync(tmp, { force: true });
  const r = spawnSync(
    'npx',
    ['--no-install', 'vsce', 'package', '--allow-missing-repository', ...vsceExtra, ...extra, '-o', tmp],
    { encoding: 'utf8' },
  );
  if (r.status !== 0 || !existsSync(tmp)) {
    process.stderr.write(`${r.stdout ?? ''}\n${r.stderr ?? ''}\n`);
    log(`vsce failed for ${relative(root, out)}`);
    process.exit(1);
  }
  renameSync(tmp, out);
  log(`wrote ${relative(root, out) || out}`);
}

mkdirSync(outDir, { recursive: true });
const universal = join(outDir, 'distillery.vsix');
vsce(universal, []);

const result = { universal, platform: null, target: null };
const target = vsceTarget();
if (!target) {
  result.skipped = `no platform package for ${process.platform}-${process.arch}: the portable addon is built for glibc Linux only`;
} else {
  const build = spawnSync(process.execPath, [join('native', 'build-portable.mjs')], { encoding: 'utf8' });
  process.stderr.write(build.stderr);
  const addon = join('native', 'prebuilds', `${process.platform}-${process.arch}`, 'distillery_blas.node');
  if (build.status !== 0 || !existsSync(addon)) {
    result.skipped = `the portable addon could not be built (${build.stderr.trim().split('\n')[0]})`;
  } else {
    // .vscodeignore leaves native/ out (the universal package); this one puts the addon back.
    const ignoreDir = join(root, '.cache', 'package');
    mkdirSync(ignoreDir, { recursive: true });
    const ignoreFile = join(ignoreDir, `vscodeignore-${target}`);
    writeFileSync(
      ignoreFile,
      `${readFileSync('.vscodeignore', 'utf8')}\n# The native kernels (scripts/package.mjs).\n!${addon.split('\\').join('/')}\n`,
    );
    const platform = join(outDir, `distillery-${target}.vsix`);
    vsce(platform, ['--target', target, '--ignoreFile', ignoreFile]);
    Object.assign(result, { platform, target });
  }
}
if (result.skipped) log(result.skipped);
process.stdout.write(`${JSON.stringify(result)}\n`);
