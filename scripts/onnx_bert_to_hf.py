"""Turns a BERT encoder exported to ONNX back into a Hugging Face folder (config.json +
model.safetensors) that `teacher.train.from` accepts.

    python scripts/onnx_bert_to_hf.py MODEL.onnx OUT_DIR

Exporters keep the names of biases, LayerNorm parameters and embedding tables, but store each
Linear weight transposed, as an anonymous constant ("val_84", "onnx::MatMul_123") that a MatMul
multiplies by. Each such weight is named here by the graph itself: the MatMul's output feeds an
Add with a named bias ("...query.bias"), so the weight is "...query.weight", stored back as
[out, in]. The pooler is a Gemm (transB=1) on the named weight; when the exporter left its bias out,
the graph adds none, so a zero bias is written, which computes the same function. The config is read
off the graph: the widths from the tensors' shapes, the heads from the attention scale
(head_dim^-1/2, or head_dim^-1/4 applied to both queries and keys), the LayerNorm epsilon from its
node, the activation from the GELU's form. Nothing in the ONNX file is run.
"""

import json
import os
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import save_file

LAYER = re.compile(r"^encoder\.layer\.(\d+)\.")


def fail(msg: str) -> None:
    sys.exit(f"onnx_bert_to_hf: {msg}")


def convert(onnx_path: str, out_dir: str) -> dict:
    try:
        model = onnx.load(onnx_path, load_external_data=True)
    except Exception as e:  # a truncated file, missing external data, not ONNX at all
        fail(f"{onnx_path}: not a readable ONNX model with its external data ({e})")
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    tensors: dict[str, np.ndarray] = {}
    for name, t in inits.items():
        if t.data_type != onnx.TensorProto.FLOAT:
            continue  # position_ids / token_type buffers (int64): not parameters
        if name.startswith(("embeddings.", "encoder.", "pooler.")):
            tensors[name] = numpy_helper.to_array(t)

    for need in ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                 "embeddings.token_type_embeddings.weight"):
        if need not in tensors:
            fail(f"{onnx_path} has no initializer {need}: not an export of a transformers BertModel")

    # Anonymous MatMul weights, named by the bias their product is added to.
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        weight = next((i for i in node.input if i in inits and i not in tensors), None)
        if weight is None or len(inits[weight].dims) != 2:
            continue
        bias = None
        for nxt in consumers.get(node.output[0], []):
            if nxt.op_type == "Add":
                bias = next((i for i in nxt.input if i.endswith(".bias") and i in tensors), None)
            if bias:
                break
        if bias is None:
            fail(f"MatMul {node.name} multiplies by {weight} but no Add with a named bias follows it")
        name = bias[: -len(".bias")] + ".weight"
        if name in tensors:
            fail(f"two MatMuls map to {name} (nodes before {node.name})")
        tensors[name] = np.ascontiguousarray(numpy_helper.to_array(inits[weight]).T)

    for node in graph.node:
        if node.op_type == "Gemm" and "pooler.dense.weight" in node.input:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("transB", 0) != 1 or attrs.get("alpha", 1.0) != 1.0:
                fail(f"the pooler Gemm {node.name} is not x·Wᵀ (transB={attrs.get('transB')}, alpha={attrs.get('alpha')})")
            if len(node.input) >= 3 and node.input[2] in inits:
                tensors["pooler.dense.bias"] = numpy_helper.to_array(inits[node.input[2]])
    if "pooler.dense.weight" in tensors and "pooler.dense.bias" not in tensors:
        tensors["pooler.dense.bias"] = np.zeros(tensors["pooler.dense.weight"].shape[0], np.float32)

    layers = sorted({int(m.group(1)) for k in tensors if (m := LAYER.match(k))})
    if not layers or layers != list(range(len(layers))):
        fail(f"the graph's encoder layers are {layers}, expected 0..n-1")
    per_layer = [
        "attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "intermediate.dense", "output.dense",
        "attention.output.LayerNorm", "output.LayerNorm",
    ]
    # A parameter missing by name is one the exporter folded into another equal constant (an
    # untrained model's ones and zeros): its value is in the graph, but no longer its name.
    for i in layers:
        for p in per_layer:
            for suffix in ("weight", "bias"):
                if f"encoder.layer.{i}.{p}.{suffix}" not in tensors:
                    fail(f"no encoder.layer.{i}.{p}.{suffix} in the graph (folded into an equal constant by the exporter?)")

    vocab, hidden = tensors["embeddings.word_embeddings.weight"].shape
    heads = heads_from_scale(graph, inits, consumers, hidden)
    eps = next(
        (onnx.helper.get_attribute_value(a) for n in graph.node if n.op_type == "LayerNormalization"
         for a in n.attribute if a.name == "epsilon"),
        1e-12,
    )
    # Exact GELU is an Erf (opset < 20) or Gelu(approximate="none"); the tanh form is "gelu_new".
    gelus = [
        {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}.get("approximate", b"none")
        for n in graph.node if n.op_type == "Gelu"
    ]
    if any(n.op_type == "Erf" for n in graph.node) or (gelus and all(g == b"none" for g in gelus)):
        act = "gelu"
    elif gelus:
        act = "gelu_new"
    else:
        fail("found no GELU (an Erf or a Gelu node) in the graph: not a BERT encoder?")
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(vocab),
        "hidden_size": int(hidden),
        "num_hidden_layers": len(layers),
        "num_attention_heads": heads,
        "intermediate_size": int(tensors["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "hidden_act": act,
        "max_position_embeddings": int(tensors["embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(tensors["embeddings.token_type_embeddings.weight"].shape[0]),
        "layer_norm_eps": float(f"{eps:.6g}"),
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
    }
    os.makedirs(out_dir, exist_ok=True)
    # Each file written beside its final name, then renamed into place: never half a checkpoint.
    weights = os.path.join(out_dir, "model.safetensors")
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(tensors.items())},
              weights + ".partial", metadata={"format": "pt"})
    os.chmod(weights + ".partial", 0o644)  # save_file makes it private to the user, unlike every other file here
    os.replace(weights + ".partial", weights)
    with open(os.path.join(out_dir, "config.json.partial"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(out_dir, "config.json.partial"), os.path.join(out_dir, "config.json"))
    return config


def heads_from_scale(graph, inits, consumers: dict, hidden: int) -> int:
    """The attention scale is a scalar constant on the way from layer 0's queries to its softmax:
    head_dim^-1/2 on the scores, or head_dim^-1/4 on both queries and keys (the export of
    scaled_dot_product_attention). Either gives head_dim, and hidden / head_dim heads."""
    start = [n for n in graph.node if n.op_type == "Add" and "encoder.layer.0.attention.self.query.bias" in n.input]
    seen, frontier = set(), [o for n in start for o in n.output]
    for _ in range(12):  # Add → Reshape → Transpose → (Mul) → MatMul → (Div) → Add(mask) → Softmax
        nxt = []
        for value in frontier:
            for node in consumers.get(value, []):
                if node.name in seen or node.op_type == "Softmax":
                    continue
                seen.add(node.name)
                nxt.extend(node.output)
                if node.op_type not in ("Mul", "Div"):
                    continue
                for name in node.input:
                    t = inits.get(name)
                    if t is None or t.data_type != onnx.TensorProto.FLOAT or list(t.dims) not in ([], [1]):
                        continue
                    v = float(numpy_helper.to_array(t).reshape(-1)[0])
                    v = 1 / v if node.op_type == "Div" else v
                    for power in (2, 4):
                        d = v ** -power if v > 0 else 0
                        if round(d) >= 1 and abs(d - round(d)) < 1e-3 and hidden % round(d) == 0:
                            return hidden // round(d)
        frontier = nxt
    fail("found no attention scale (head_dim^-1/2 or ^-1/4) between layer 0's queries and its softmax")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: onnx_bert_to_hf.py MODEL.onnx OUT_DIR")
    cfg = convert(sys.argv[1], sys.argv[2])
    print(json.dumps({k: cfg[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads")}))
