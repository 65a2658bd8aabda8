#!/usr/bin/env bash
# Creates the ignored virtual environment .venv/ with the Python references the tests use
# (PyTorch CPU, Hugging Face transformers/tokenizers/safetensors, ONNX Runtime), from
# scripts/python-requirements.txt. Idempotent: a stamp of the requirements' hash skips a venv that
# already matches. Python is for tests, references and fetch scripts only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/python-requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup-python: .venv is up to date" >&2
  exit 0
fi
PY="${DISTILLERY_PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || { echo "setup-python: $PY not found; install Python 3.11 with venv" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
echo "setup-python: installing $(grep -cv '^\s*#' "$req") packages into .venv (torch from the on-disk CPU build)" >&2
"$venv/bin/pip" install -q --disable-pip-version-check -r "$req" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
"$venv/bin/python" -c 'import torch, transformers, onnxruntime; print("setup-python: torch", torch.__version__, "transformers", transformers.__version__, "onnxruntime", onnxruntime.__version__)' >&2
echo "$want" > "$stamp"
