#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: the Python references in the ignored
# .venv/ (scripts/setup-python.sh: PyTorch CPU, transformers, tokenizers, ONNX Runtime, from PyPI
# and the on-disk torch build) and, from Debian's repositories, Chromium (the dashboard webview is
# rendered in it headless, driven by playwright-core; fonts-liberation gives its screenshots real
# fonts). The Kubernetes JSON schemas for the emitted manifests go into .cache/k8s-schema/
# (scripts/fetch-k8s-schema.sh).
set -euo pipefail

need=()
command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3 python3-venv)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
# OpenBLAS and a C compiler for the optional native kernels (native/, docs/performance.md).
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)

# ${need[@]+…}: an empty array is "unbound" to set -u in older bash.
bash "$(dirname "$0")/install-debian-packages.sh" setup-test-deps ${need[@]+"${need[@]}"}
bash "$(dirname "$0")/setup-python.sh"
echo "setup-test-deps: $(chromium --version 2>/dev/null || echo 'chromium missing') ready" >&2
node "$(dirname "$0")/../native/build.mjs" --optional
bash "$(dirname "$0")/fetch-k8s-schema.sh"
