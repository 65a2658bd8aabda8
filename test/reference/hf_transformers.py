"""Runs the real Hugging Face stack on requests from the TypeScript tests, one process for all.

stdin: a JSON list of requests; stdout: a JSON list of answers, in order.
  {"op": "forward", "dir": D, "class": "BertModel" | "BertForSequenceClassification",
   "input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]]}
      -> {"logits"?: [[...]], "hidden_states": [layer][batch][seq][hidden],
          "attentions": [layer][batch][head][q][k], "newly_initialized": [...]}
     from `CLASS.from_pretrained(D, attn_implementation="eager")` (eager: attentions returned).
  {"op": "onnx", "file": F, "input_ids": ..., "attention_mask": ..., "token_type_ids": ...}
      -> {"logits": ...} from Python ONNX Runtime, after onnx.checker.check_model(full_check=True).
  {"op": "tokenize", "dir": D | null, "vocab": V | null, "lowercase": bool,
   "rows": [[a, b | null], ...], "max_length": N | null}
      -> {"input_ids": [...], "token_type_ids": [...]} from BertTokenizerFast: from_pretrained(D),
     or built from vocab.txt V (do_lower_case = lowercase; strip_accents follows it). With
     max_length: truncation="longest_first". An empty second text stays a pair (batched calls).
"""
import json
import sys

import transformers
from transformers import BertTokenizerFast

transformers.logging.set_verbosity_error()


def forward(req):
    # torch only here: a tokenize-only run starts in a fraction of the time.
    import torch
    from transformers import BertForSequenceClassification, BertModel

    torch.set_num_threads(1)
    cls = {"BertModel": BertModel, "BertForSequenceClassification": BertForSequenceClassification}[req["class"]]
    model, info = cls.from_pretrained(req["dir"], attn_implementation="eager", output_loading_info=True)
    model.eval()
    inputs = {k: torch.tensor(req[k], dtype=torch.long) for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
    res = {
        "hidden_states": [h.tolist() for h in out.hidden_states],
        "attentions": [a.tolist() for a in out.attentions],
        "newly_initialized": sorted(info.get("missing_keys", [])),
        "unexpected": sorted(info.get("unexpected_keys", [])),
    }
    if hasattr(out, "logits"):
        res["logits"] = out.logits.tolist()
    return res


def tokenize(req):
    if req.get("dir"):
        tok = BertTokenizerFast.from_pretrained(req["dir"])
    else:
        # transformers 5's BertTokenizerFast takes the vocabulary as a dict (token -> line index;
        # a repeated token keeps its last line, as the old load_vocab did).
        with open(req["vocab"], encoding="utf-8") as f:
            vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        tok = BertTokenizerFast(vocab=vocab, do_lower_case=req["lowercase"])
    kw = {"truncation": "longest_first", "max_length": req["max_length"]} if req.get("max_length") else {"truncation": False}
    # Batched calls, singles and pairs apart: one call per kind is fast, and a batched call keeps an
    # empty second text as a pair (transformers 5's single call drops text_pair="" as falsy).
    rows = req["rows"]
    ids, types = [None] * len(rows), [None] * len(rows)
    for pairs in (False, True):
        idx = [i for i, (_, b) in enumerate(rows) if (b is not None) == pairs]
        if not idx:
            continue
        a = [rows[i][0] for i in idx]
        enc = tok(a, [rows[i][1] for i in idx], **kw) if pairs else tok(a, **kw)
        for k, i in enumerate(idx):
            ids[i] = enc["input_ids"][k]
            types[i] = enc["token_type_ids"][k]
    return {"input_ids": ids, "token_type_ids": types, "class": type(tok).__name__, "transformers": transformers.__version__}


def onnx_run(req):
    import numpy as np
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(req["file"]), full_check=True)
    sess = ort.InferenceSession(req["file"], providers=["CPUExecutionProvider"])
    feeds = {k: np.array(req[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    return {"logits": sess.run(["logits"], feeds)[0].tolist(), "onnxruntime": ort.__version__}


def main():
    reqs = json.load(sys.stdin)
    ops = {"forward": forward, "tokenize": tokenize, "onnx": onnx_run}
    json.dump([ops[r["op"]](r) for r in reqs], sys.stdout)


if __name__ == "__main__":
    main()
