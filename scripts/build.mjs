// Bundles each entry point with esbuild. TF.js packages stay external: they ship native or wasm
// binaries that must be loaded from node_modules at run time.
import { build } from 'esbuild';

const external = ['@tensorflow/*', 'vscode'];

await build({
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
});
