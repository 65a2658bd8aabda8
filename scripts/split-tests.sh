#!/usr/bin/env bash
# One-off (issue #18): splits test/*.test.ts into test/unit/ and test/integration/, fixes the moved
# files' relative paths, and updates every reference to a moved file (docs, .ci/run, scripts,
# comments). Shared helpers, fixtures and references stay in test/helpers/, test/fixtures/ and
# test/reference/. Run once, from a clean tree, after the branches that edit tests are merged:
#   bash scripts/split-tests.sh && npx tsc --noEmit -p tsconfig.json && git add -A test && git commit
#
# unit:        pure functions and in-memory models; no child process, no training run, no Python.
# integration: trains, runs the CLI, Python, Slurm, a browser, a compiler or esbuild, or reads the
#              real pre-trained checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."

UNIT=(
  atomic-fs batching bert checkpoint-layouts compare-config-fields config config-losses custom-data events
  experiment-defaults export-file extension-diagnostics extension-diff-configs extension-experiment
  extension-export-logs extension-mapping-advice extension-protocol extension-run-store extension-sweep-tree
  extension-tree-model field-outcomes fuzz-checkpoint fuzz-config fuzz-data fuzz-protocol fuzz-regressions glue
  kernels kernels-note losses mapping mapping-advisor metrics plan report sweep-grid tokenizer webview-export
  webview-loss-terms webview-modules webview-protocol
)
INTEGRATION=(
  advise-mapping bench-teacher-cache bench-verb bert-reference checkpoint cli-args cli-errors cli-eval cli-inspect
  cli-tokenize export-logs extension-activation extension-panel extension-real-trainer extension-run-manager
  fast-kernels heap-check hf-transformers input-bounds internal-losses native-portable onnx-export optimizer
  pretrained-parity pretrained-smoke safetensors stage-weights sweep-emit sweep-k8s-schema sweep-run sweep-slurm
  tensorflow-backend tokenizer-hf-parity train-algorithms train-demo train-errors train-internal-losses train-misc
  train-resume train-resume-backend train-teacher-cache train-teacher-only training-kernels webview-render
)

declare -A DEST
for n in "${UNIT[@]}"; do DEST[$n]=unit; done
for n in "${INTEGRATION[@]}"; do DEST[$n]=integration; done

# Every test file is in exactly one list (a test added since this was written must be placed).
missing=0
for f in test/*.test.ts; do
  n=$(basename "$f" .test.ts)
  if [[ -z "${DEST[$n]:-}" ]]; then echo "split-tests: $f is in neither list; add it to UNIT or INTEGRATION" >&2; missing=1; fi
done
for n in "${!DEST[@]}"; do
  [[ -f "test/$n.test.ts" ]] || { echo "split-tests: test/$n.test.ts does not exist (renamed or already moved?)" >&2; missing=1; }
done
[[ $missing == 0 ]] || exit 1

mkdir -p test/unit test/integration
moved=()
for n in "${!DEST[@]}"; do
  git mv "test/$n.test.ts" "test/${DEST[$n]}/$n.test.ts"
  moved+=("test/${DEST[$n]}/$n.test.ts")
done

# The moved files are one folder deeper: '../src/…' → '../../src/…', './helpers/…' → '../helpers/…',
# and paths built from __dirname ('..', 'fixtures', 'reference') gain a '..'.
sed -i -E \
  -e "s#(from |import |import\(|require\()'\.\./#\1'../../#g" \
  -e "s#(from |import |import\(|require\()'\./(helpers|fixtures)/#\1'../\2/#g" \
  -e "s#__dirname, '\.\.'#__dirname, '..', '..'#g" \
  -e "s#__dirname, '(fixtures|reference)'#__dirname, '..', '\1'#g" \
  "${moved[@]}"

# References to the moved files by path, anywhere in the repository.
for n in "${!DEST[@]}"; do
  files=$(git grep -lE "(^|[^/[:alnum:]_-])test/$n\.test\.ts" -- . ':!package-lock.json' || true)
  [[ -z "$files" ]] || sed -i -E "s#(^|[^/[:alnum:]_-])test/$n\.test\.ts#\1test/${DEST[$n]}/$n.test.ts#g" $files
done

# Globs over the moved files, and the README's description of test/.
files=$(git grep -l 'test/fuzz-\*\.test\.ts' -- . || true)
[[ -z "$files" ]] || sed -i 's#test/fuzz-\*\.test\.ts#test/unit/fuzz-*.test.ts#g' $files
anchor='- **Tests:** they live in `test/` and run'
if grep -qF -- "$anchor" README.md; then
  sed -i 's#^- \*\*Tests:\*\* they live in `test/` and run#- **Tests:** they live in `test/unit/` (pure functions and in-memory models: no child process, no\n  training run, no Python; `npm run test:unit`) and `test/integration/` (they train, run the CLI,\n  Python, Slurm, a browser or a compiler; `npm run test:integration`), with shared helpers in\n  `test/helpers/`, and run#' README.md
else
  echo "split-tests: README.md's Tests bullet changed; describe test/unit and test/integration there by hand" >&2
fi

# npm run test:unit / test:integration (scripts/run-tests.mjs expands a folder to its tests).
node -e '
const fs = require("node:fs");
const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
const s = {};
for (const [k, v] of Object.entries(p.scripts)) {
  s[k] = v;
  if (k === "test") { s["test:unit"] = "node scripts/run-tests.mjs test/unit"; s["test:integration"] = "node scripts/run-tests.mjs test/integration"; }
}
p.scripts = s;
fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");
'
echo "split-tests: ${#UNIT[@]} unit and ${#INTEGRATION[@]} integration test files moved"
