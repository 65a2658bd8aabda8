// The Python of the test references: the project's virtual environment (.venv/, made by
// scripts/setup-python.sh) with PyTorch, transformers, tokenizers, safetensors and ONNX Runtime.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');

/** DISTILLERY_TEST_PYTHON overrides; otherwise the venv's python (which may not exist yet). */
export const PYTHON = process.env.DISTILLERY_TEST_PYTHON ?? VENV_PYTHON;

const found = new Map<string, boolean>();

/** True when PYTHON runs and can import every module named. Cached per module list. */
export function pythonHas(...modules: string[]): boolean {
  const key = modules.join(',');
  let ok = found.get(key);
  if (ok === undefined) {
    ok =
      fs.existsSync(PYTHON) &&
      spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' }).status === 0;
    found.set(key, ok);
  }
  return ok;
}

/** The message a test fails or skips with when the references are missing. */
export function pythonMissing(...modules: string[]): string {
  return `${PYTHON} cannot import ${modules.join(', ')}: run \`bash scripts/setup-python.sh\` (or scripts/setup-test-deps.sh)`;
}
