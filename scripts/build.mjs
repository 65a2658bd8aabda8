// Bundles each entry point with esbuild:
//   dist/cli.js        the trainer and CLI (Node)
//   dist/extension.js  the VS Code extension host side (Node, `vscode` external)
//   dist/webview.js    the dashboard (browser, IIFE) and dist/webview.css
// TF.js packages stay external (the wasm backend loads its binaries from node_modules, tfjs-node
// its native addon), with one exception: tfjs-core's gradient registrations exist only as ES
// modules, so they are bundled. TF.js keeps its kernel and gradient registries in one global, so
// the bundled registrations serve the external tfjs-core. onnxruntime-node (optional, native, used
// only to check an ONNX export) stays external too and is required at run time when present;
// protobufjs, which writes the ONNX file, is plain JavaScript and is bundled.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const coreDir = path.dirname(require.resolve('@tensorflow/tfjs-core/package.json'));
const watch = process.argv.includes('--watch');

const bundleGradients = {
  name: 'bundle-tfjs-gradients',
  setup(b) {
    b.onResolve({ filter: /^@tensorflow\/tfjs-core\/dist\/register_all_gradients$/ }, () => ({
      path: path.join(coreDir, 'dist', 'register_all_gradients.js'),
    }));
  },
};

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['@tensorflow/*', 'vscode', 'onnxruntime-node'],
  plugins: [bundleGradients],
  // jsonc-parser's CommonJS build is UMD with dynamic requires esbuild cannot follow; its ES build bundles cleanly.
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};

const jobs = [build({ ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist' })];
if (existsSync('src/extension/extension.ts')) {
  // The config validator (schema, ajv, jsonc-parser) is its own file, loaded on first use, so
  // activation parses only the small host bundle.
  jobs.push(
    build({
      ...node,
      entryPoints: { extension: 'src/extension/extension.ts' },
      outdir: 'dist',
      external: [...node.external, './validator-entry'],
    }),
  );
  jobs.push(build({ ...node, entryPoints: { 'validator-entry': 'src/extension/validator-entry.ts' }, outdir: 'dist' }));
}
if (existsSync('webview/src/main.ts')) {
  jobs.push(
    build({
      entryPoints: { webview: 'webview/src/main.ts' },
      outdir: 'dist',
      bundle: true,
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      sourcemap: true,
      minify: !watch,
      loader: { '.css': 'css' },
      logLevel: 'warning',
    }),
  );
}
await Promise.all(jobs);
