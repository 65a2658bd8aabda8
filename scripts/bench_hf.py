#!/usr/bin/env python3
"""The distillation step of `distillery bench`, on Hugging Face transformers' own
BertForSequenceClassification: what a user who distils with the HF stack would run. Same shapes,
losses, optimizer, data and JSON report as scripts/bench_torch.py (whose loss functions and
reporting it imports), so `npm run bench` puts it in the same table.

Run with the project's venv (scripts/setup-python.sh: torch 2.13.0 CPU, transformers):
  .venv/bin/python scripts/bench_hf.py --shape reference --json

The step: teacher forward without gradients (eval), student forward in train mode (dropout 0.1),
output_attentions + output_hidden_states (eager attention, the implementation that returns the
probabilities), attention-kl + cls-cosine on every mapped pair (student k <- teacher k*Lt/Ls) and
soft-label (T = 1), backward, clip_grad_norm_(1.0), AdamW (lr 5e-5, eps 1e-6, weight decay 0.01
except biases and LayerNorm).
"""
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402  (the shared losses, FLOP count and timing summary)


def model(c, layers, **config):
    """BertForSequenceClassification of the bench shape `c`; eager attention returns the probabilities."""
    cfg = BertConfig(vocab_size=c["vocabSize"], hidden_size=c["hiddenSize"], num_hidden_layers=layers,
                     num_attention_heads=c["heads"], intermediate_size=c["intermediateSize"],
                     max_position_embeddings=max(512, c["seqLen"]), num_labels=c["numLabels"],
                     hidden_act="gelu", layer_norm_eps=1e-12, attn_implementation="eager", **config)
    return BertForSequenceClassification(cfg)


def main():
    a = bt.step_bench_args(__doc__).parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    c = dict(bt.SHAPES[a.shape], name=a.shape)
    teacher = model(c, c["teacherLayers"]).eval()
    student = model(c, c["studentLayers"]).train()
    pairs = [(k, (k * c["teacherLayers"]) // c["studentLayers"]) for k in range(1, c["studentLayers"] + 1)]
    no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n
    opt = torch.optim.AdamW([
        {"params": [p for n, p in student.named_parameters() if not no_decay(n)], "weight_decay": 0.01},
        {"params": [p for n, p in student.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ], lr=5e-5, eps=1e-6)

    g = torch.Generator().manual_seed(42)
    b, s, v = c["batchSize"], c["seqLen"], c["vocabSize"]
    ids = torch.randint(min(1000, v // 2), v, (b, s), generator=g)
    ids[:, 0], ids[:, -1] = min(101, v - 1), min(102, v - 1)
    types, mask = torch.zeros(b, s, dtype=torch.long), torch.ones(b, s, dtype=torch.long)

    def run(m):
        out = m(input_ids=ids, token_type_ids=types, attention_mask=mask, output_attentions=True, output_hidden_states=True)
        return out.logits, out.hidden_states, out.attentions

    def teacher_outputs():
        with torch.no_grad():
            logits, hidden, att = run(teacher)
            return logits, {t: hidden[t][:, 0] for _, t in pairs}, {t: att[t - 1] for _, t in pairs}

    def step(cached=None):
        t_logits, t_cls, t_att = cached if cached is not None else teacher_outputs()
        logits, hidden, att = run(student)
        loss = bt.soft_label(t_logits, logits)
        for k, t in pairs:
            loss = loss + bt.attention_kl(t_att[t], att[k - 1], mask) + bt.cls_cosine(t_cls[t], hidden[k][:, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        return loss.item()

    def timed(n, cached=None):
        ms, cpu, losses = [], [], []
        for _ in range(n):
            c0, t0 = time.process_time(), time.perf_counter()
            losses.append(step(cached))
            ms.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        return ms, cpu, losses

    flops = bt.step_flops(c)
    for i in range(a.warmup):
        t0 = time.perf_counter()
        step()
        print(f"bench_hf: warm-up step {i + 1}/{a.warmup}: {(time.perf_counter() - t0) * 1000:.0f} ms", file=sys.stderr)
    ms, cpu, losses = timed(a.repeats)
    print(f"bench_hf: steps (ms): {', '.join(f'{m:.0f}' for m in ms)}", file=sys.stderr)

    def phase(ms, cpu, losses, f):
        t = bt.summarize(ms)
        return dict(timing=t, cpuMsMedian=statistics.median(cpu), sequencesPerSec=b / (t["medianMs"] / 1000),
                    gflopsPerSec=f / (t["medianMs"] / 1000) / 1e9, loss=dict(first=losses[0], last=losses[-1]))

    report = dict(
        version=1, tool="transformers", shape=c, backend="pytorch-cpu",
        label=f"transformers {transformers.__version__} (torch {torch.__version__}, {a.threads} threads)",
        kernels=dict(active="torch", torch=torch.__version__, transformers=transformers.__version__),
        warmup=a.warmup, repeats=a.repeats, flops=dict(flops, formula=bt.FLOPS_FORMULA),
        step=phase(ms, cpu, losses, flops["total"]),
        memory=dict(maxRssBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, wasmHeapBytes=None),
        environment=dict(python=platform.python_version(), torch=torch.__version__, transformers=transformers.__version__,
                         threads=torch.get_num_threads(), cpus=os.cpu_count()),
        date=datetime.now(timezone.utc).isoformat(),
    )
    if a.teacher_cache:
        cached = teacher_outputs()
        cms, ccpu, closses = timed(a.repeats, cached)
        print(f"bench_hf: cached steps (ms): {', '.join(f'{m:.0f}' for m in cms)}", file=sys.stderr)
        p = phase(cms, ccpu, closses, flops["cachedTotal"])
        report["cached"] = dict(p, speedup=report["step"]["timing"]["medianMs"] / p["timing"]["medianMs"])
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        t = report["step"]["timing"]
        print(f"{report['label']}, {a.shape} shape: {t['medianMs']:.1f} ms median (min {t['minMs']:.1f}, max {t['maxMs']:.1f}), "
              f"{report['step']['sequencesPerSec']:.2f} sequences/s, {report['step']['gflopsPerSec']:.1f} GFLOP/s, "
              f"peak RSS {report['memory']['maxRssBytes'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
