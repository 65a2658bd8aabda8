// ESLint: a few rules that catch real mistakes, plus the import boundaries of docs/architecture.md.
// No type information (no parserOptions.project), so a full run takes seconds, not minutes.
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

// The layers of src/, lowest first. A file may import its own layer and lower ones, never a higher
// one. Each folder is one layer: config/ (types, defaults, bounds, parse, schema) is below
// everything, while validate/ checks configs against models, data and schedules and so sits above them.
const LAYERS = [
  ['src/util'],
  ['src/data', 'src/metrics'],
  ['src/config'],
  ['src/protocol'],
  ['src/model'],
  ['src/export'],
  ['src/distill'],
  ['src/validate'],
  ['src/train'],
  ['src/bench', 'src/logs', 'src/sweep'],
  ['src/experiment'],
  ['src/cli'],
  ['src/extension'],
];

/** The layer of a repository path (a file, or an import resolved without its extension), as [rank, folder], or undefined outside the table. */
function layerOf(rel) {
  for (const [rank, folders] of LAYERS.entries()) {
    const folder = folders.find((f) => rel === f || rel.startsWith(f + '/'));
    if (folder) return [rank, folder];
  }
  return undefined;
}

const toRepo = (abs) => path.relative(ROOT, abs).split(path.sep).join('/');

/** Calls check(node, specifier) for every static import, re-export, import() and require(). */
function eachImport(check) {
  const lit = (node, source) => {
    if (source && source.type === 'Literal' && typeof source.value === 'string') check(node, source.value);
  };
  return {
    ImportDeclaration: (n) => lit(n, n.source),
    ExportNamedDeclaration: (n) => lit(n, n.source),
    ExportAllDeclaration: (n) => lit(n, n.source),
    ImportExpression: (n) => lit(n, n.source),
    CallExpression: (n) => {
      if (n.callee.type === 'Identifier' && n.callee.name === 'require') lit(n, n.arguments[0]);
    },
  };
}

const layersRule = {
  meta: { type: 'problem', schema: [], docs: { description: 'Lower layers of src/ never import higher ones.' } },
  create(context) {
    const from = toRepo(context.filename);
    const own = layerOf(from);
    if (!own) return {};
    return eachImport((node, spec) => {
      if (!spec.startsWith('.')) return;
      const to = toRepo(path.resolve(path.dirname(context.filename), spec));
      const target = layerOf(to);
      if (target && target[0] > own[0]) {
        context.report({
          node,
          message: `${from} (layer ${own[1]}) imports ${to} (layer ${target[1]}, higher): lower layers never import higher ones (the table in eslint.config.mjs, docs/architecture.md).`,
        });
      }
    });
  },
};

// The webview bundle runs in a browser: it may import its own files, npm packages and src/protocol/.
const webviewRule = {
  meta: { type: 'problem', schema: [], docs: { description: 'webview/src imports only itself and src/protocol.' } },
  create(context) {
    return eachImport((node, spec) => {
      if (!spec.startsWith('.')) return;
      const to = toRepo(path.resolve(path.dirname(context.filename), spec));
      if (!to.startsWith('webview/src/') && !to.startsWith('src/protocol/')) {
        context.report({
          node,
          message: `The webview imports ${to}: it may import only webview/src/ and src/protocol/ (move what it needs into src/protocol/).`,
        });
      }
    });
  },
};

const local = { rules: { layers: layersRule, 'webview-imports': webviewRule } };

const noVscode = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        {
          name: 'vscode',
          message: 'Only src/extension/** imports vscode; the CLI and the engine run without VS Code.',
        },
      ],
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'out/**',
      'runs/**',
      '.cache/**',
      '.venv/**',
      'models/**',
      'tmp/**',
      'repro/**',
      'test-output/**',
      'distillery-demo/**',
      'native/prebuilds/**',
      'native/build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        // Node and browser globals the code uses; no-undef is off for TypeScript (tsc checks it).
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    plugins: { local },
    rules: {
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      // A `let` that closures read before its one assignment (late-bound wiring) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Flags `let x = default; try { x = … } catch { return }` and `m[j++]` in the last use: noise.
      'no-useless-assignment': 'off',
      // Prettier breaks long chains before `[…]`; with semicolons everywhere that is no ASI hazard.
      'no-unexpected-multiline': 'off',
      'no-throw-literal': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  {
    // CommonJS entry points and fixtures.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { exports: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['src/**/*.ts'], rules: { 'local/layers': 'error' } },
  {
    files: ['src/**/*.ts', 'webview/**/*.ts', 'test/**/*.ts', 'scripts/**/*.mjs', 'bin/**/*.js'],
    ignores: ['src/extension/**'],
    rules: noVscode,
  },
  { files: ['webview/src/**/*.ts'], rules: { 'local/webview-imports': 'error' } },
);
