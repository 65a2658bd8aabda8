#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, from Debian's repositories only:
# Debian's PyTorch (the independent numerical reference for the model, losses and optimizer) and
# Debian's Chromium (the dashboard webview is rendered in it headless, driven by playwright-core;
# fonts-liberation gives its screenshots real fonts).
set -euo pipefail

need=()
/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 || need+=(python3-torch python3-numpy)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
# OpenBLAS and a C compiler for the optional native kernels (native/, docs/performance.md). Debian's
# PyTorch then also runs on OpenBLAS (libblas.so.3), the fast anchor of `npm run bench`.
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)

# ${need[@]+…}: an empty array is "unbound" to set -u in older bash.
bash "$(dirname "$0")/install-debian-packages.sh" setup-test-deps ${need[@]+"${need[@]}"}
/usr/bin/python3 -c 'import torch; print("setup-test-deps: torch", torch.__version__, "ready")' >&2
echo "setup-test-deps: $(chromium --version 2>/dev/null || echo 'chromium missing') ready" >&2
node "$(dirname "$0")/../native/build.mjs" --optional
