#!/usr/bin/env python3
"""The distillation step of `distillery bench`, written with PyTorch: the anchor a user would
otherwise pick. Same shapes, model, losses, optimizer and reporting as src/bench/ (see
docs/performance.md); prints one JSON report (or a readable summary without --json).

Run with the project's venv (scripts/setup-python.sh, torch 2.13.0 CPU) or Debian's python3-torch:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \\
      .venv/bin/python scripts/bench_torch.py --shape reference --json
(torch.set_num_threads(2) is applied here; --threads changes it.)

The step: teacher forward without gradients (eval mode), student forward in train mode (dropout
0.1), attention-kl + cls-cosine on every mapped layer pair (student k <- teacher k*Lt/Ls) and
soft-label (T = 1), backward, clip_grad_norm_(1.0), AdamW (lr 5e-5, eps 1e-6, weight decay 0.01
except biases and LayerNorm). Synthetic data: full-length rows, no padding.
"""
import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
import torch.nn.functional as F
from torch import nn

SHAPES = {
    "reference": dict(teacherLayers=4, studentLayers=2, hiddenSize=256, heads=4, intermediateSize=1024, vocabSize=30522, batchSize=32, seqLen=128, numLabels=2),
    "minilm": dict(teacherLayers=12, studentLayers=6, hiddenSize=384, heads=12, intermediateSize=1536, vocabSize=30522, batchSize=32, seqLen=128, numLabels=2),
    "base": dict(teacherLayers=12, studentLayers=6, hiddenSize=768, heads=12, intermediateSize=3072, vocabSize=30522, batchSize=32, seqLen=128, numLabels=2),
    "gpu": dict(teacherLayers=12, studentLayers=6, hiddenSize=768, heads=12, intermediateSize=3072, vocabSize=30522, batchSize=32, seqLen=128, numLabels=2),
    "tiny": dict(teacherLayers=2, studentLayers=1, hiddenSize=32, heads=2, intermediateSize=64, vocabSize=500, batchSize=4, seqLen=16, numLabels=2),
}
ATTENTION_LOG_EPSILON = 1e-12
COSINE_EPSILON = 1e-8
FLOPS_FORMULA = "per layer 2N(4h²+2hf) + 4·b·s²·h (N = b·s); per model L·layer + 2bh² + 2bh·labels; step = teacher forward + 3 × student forward"


class Layer(nn.Module):
    def __init__(self, h, heads, ff, p):
        super().__init__()
        self.heads, self.d = heads, h // heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_norm = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        self.inter, self.out, self.out_norm = nn.Linear(h, ff), nn.Linear(ff, h), nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(p)

    def forward(self, x, mask_bias):
        b, s, h = x.shape
        split = lambda t: t.view(b, s, self.heads, self.d).transpose(1, 2)
        q, k, v = split(self.query(x) / math.sqrt(self.d)), split(self.key(x)), split(self.value(x))
        probs = torch.softmax(q @ k.transpose(-1, -2) + mask_bias, dim=-1)
        ctx = (self.drop(probs) @ v).transpose(1, 2).reshape(b, s, h)
        x1 = self.attn_norm(self.drop(self.attn_out(ctx)) + x)
        x2 = self.out_norm(self.drop(self.out(F.gelu(self.inter(x1)))) + x1)
        return x2, probs


class Bert(nn.Module):
    """BERT with a classification head, as src/model/bert.ts (Hugging Face's layout)."""

    def __init__(self, c, layers):
        super().__init__()
        h = c["hiddenSize"]
        self.word, self.pos, self.token_type = nn.Embedding(c["vocabSize"], h), nn.Embedding(max(512, c["seqLen"]), h), nn.Embedding(2, h)
        self.emb_norm, self.drop = nn.LayerNorm(h, eps=1e-12), nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer(h, c["heads"], c["intermediateSize"], 0.1) for _ in range(layers))
        self.pooler, self.classifier = nn.Linear(h, h), nn.Linear(h, c["numLabels"])
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids, types, mask):
        b, s = ids.shape
        x = self.word(ids) + self.pos.weight[:s] + self.token_type(types)
        x = self.drop(self.emb_norm(x))
        mask_bias = ((1.0 - mask.float()) * torch.finfo(torch.float32).min).view(b, 1, 1, s)
        hidden, attentions = [x], []
        for layer in self.layers:
            x, probs = layer(x, mask_bias)
            hidden.append(x)
            attentions.append(probs)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(self.drop(pooled)), hidden, attentions


def attention_kl(t, s, mask):
    b, heads, q, _ = t.shape
    m = mask.float()
    xlogx = t * torch.log(torch.clamp(t, min=1e-30))
    pointwise = xlogx - t * torch.log(torch.clamp(s, min=ATTENTION_LOG_EPSILON))
    per_row = (pointwise * m.view(b, 1, 1, q)).sum(-1, keepdim=True)
    total = (per_row * m.view(b, 1, q, 1)).sum()
    return total / torch.clamp(m.sum() * heads, min=1)


def cls_cosine(t, s):
    norm = lambda x: torch.sqrt(torch.clamp((x * x).sum(1), min=COSINE_EPSILON ** 2))
    return (1 - (t * s).sum(1) / (norm(t) * norm(s))).mean()


def soft_label(t, s, temperature=1.0):
    lt, ls = F.log_softmax(t / temperature, 1), F.log_softmax(s / temperature, 1)
    return (lt.exp() * (lt - ls)).sum(1).mean() * temperature ** 2


def step_flops(c):
    b, s, h, f = c["batchSize"], c["seqLen"], c["hiddenSize"], c["intermediateSize"]
    n = b * s
    layer = 2 * n * (4 * h * h + 2 * h * f) + 4 * b * s * s * h
    model = lambda L: L * layer + 2 * b * h * h + 2 * b * h * c["numLabels"]
    t, st = model(c["teacherLayers"]), model(c["studentLayers"])
    return dict(teacherForward=t, studentForward=st, studentBackward=2 * st, total=t + 3 * st, cachedTotal=3 * st)


def blas_library():
    """PyPI's torch names its BLAS (mkl); Debian's links the system libblas.so.3 (BLAS_INFO=generic):
    name what that resolves to."""
    info = torch.__config__.show()
    if "BLAS_INFO=" in info and info.split("BLAS_INFO=")[1].split(",")[0] != "generic":
        return info.split("BLAS_INFO=")[1].split(",")[0]
    for lib in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"):
        if os.path.exists(lib):
            real = os.path.realpath(lib)
            return "OpenBLAS (" + real + ")" if "openblas" in real else "reference BLAS (" + real + ")"
    info = torch.__config__.show()
    return info.split("BLAS_INFO=")[1].split(",")[0] if "BLAS_INFO=" in info else "unknown"


def summarize(ms):
    xs = sorted(ms)
    def q(p):
        pos = p * (len(xs) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
    return dict(medianMs=q(0.5), minMs=xs[0], maxMs=xs[-1], q1Ms=q(0.25), q3Ms=q(0.75), samplesMs=ms)


def step_bench_args(doc, teacher_cache_help="also time steps with precomputed teacher outputs"):
    """The flags every step benchmark takes (scripts/bench.mjs passes the same ones to each peer)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="reference")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--teacher-cache", action="store_true", help=teacher_cache_help)
    ap.add_argument("--json", action="store_true")
    return ap


def main():
    ap = step_bench_args(__doc__)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    dev = torch.device(a.device)
    c = dict(SHAPES[a.shape], name=a.shape)
    teacher = Bert(c, c["teacherLayers"]).to(dev).eval()
    student = Bert(c, c["studentLayers"]).to(dev).train()
    pairs = [(k, (k * c["teacherLayers"]) // c["studentLayers"]) for k in range(1, c["studentLayers"] + 1)]
    decay = [p for n, p in student.named_parameters() if not (n.endswith("bias") or "norm" in n)]
    no_decay = [p for n, p in student.named_parameters() if n.endswith("bias") or "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=5e-5, eps=1e-6)

    g = torch.Generator().manual_seed(42)
    b, s, v = c["batchSize"], c["seqLen"], c["vocabSize"]
    low = min(1000, v // 2)
    ids = torch.randint(low, v, (b, s), generator=g)
    ids[:, 0], ids[:, -1] = min(101, v - 1), min(102, v - 1)
    ids, types, mask = ids.to(dev), torch.zeros(b, s, dtype=torch.long, device=dev), torch.ones(b, s, dtype=torch.long, device=dev)

    def teacher_outputs():
        with torch.no_grad():
            logits, hidden, att = teacher(ids, types, mask)
            return logits, {m: hidden[m][:, 0] for _, m in pairs}, {m: att[m - 1] for _, m in pairs}

    def step(cached=None):
        t_logits, t_cls, t_att = cached if cached is not None else teacher_outputs()
        logits, hidden, att = student(ids, types, mask)
        loss = soft_label(t_logits, logits)
        for k, m in pairs:
            loss = loss + attention_kl(t_att[m], att[k - 1], mask) + cls_cosine(t_cls[m], hidden[k][:, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        return loss.item()

    def timed(n, cached=None):
        ms, cpu, losses = [], [], []
        for _ in range(n):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            c0, t0 = time.process_time(), time.perf_counter()
            losses.append(step(cached))
            if dev.type == "cuda":
                torch.cuda.synchronize()
            ms.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        return ms, cpu, losses

    flops = step_flops(c)
    for i in range(a.warmup):
        t0 = time.perf_counter()
        step()
        print(f"bench_torch: warm-up step {i + 1}/{a.warmup}: {(time.perf_counter() - t0) * 1000:.0f} ms", file=sys.stderr)
    ms, cpu, losses = timed(a.repeats)
    print(f"bench_torch: steps (ms): {', '.join(f'{m:.0f}' for m in ms)}", file=sys.stderr)

    def phase(ms, cpu, losses, f):
        t = summarize(ms)
        return dict(timing=t, cpuMsMedian=statistics.median(cpu), sequencesPerSec=b / (t["medianMs"] / 1000), gflopsPerSec=f / (t["medianMs"] / 1000) / 1e9, loss=dict(first=losses[0], last=losses[-1]))

    report = dict(
        version=1, tool="pytorch", shape=c, backend=f"pytorch-{dev.type}", label=f"pytorch ({dev.type}, {a.threads} threads)",
        kernels=dict(active="torch", torch=torch.__version__, blas=blas_library()),
        warmup=a.warmup, repeats=a.repeats, flops=dict(flops, formula=FLOPS_FORMULA),
        step=phase(ms, cpu, losses, flops["total"]),
        memory=dict(maxRssBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, wasmHeapBytes=None),
        environment=dict(python=platform.python_version(), torch=torch.__version__, threads=torch.get_num_threads(), cpus=os.cpu_count(),
                         openblasEnv={k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}),
        date=datetime.now(timezone.utc).isoformat(),
    )
    if a.teacher_cache:
        cached = teacher_outputs()
        cms, ccpu, closses = timed(a.repeats, cached)
        print(f"bench_torch: cached steps (ms): {', '.join(f'{m:.0f}' for m in cms)}", file=sys.stderr)
        p = phase(cms, ccpu, closses, flops["cachedTotal"])
        report["cached"] = dict(p, speedup=report["step"]["timing"]["medianMs"] / p["timing"]["medianMs"])
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        t = report["step"]["timing"]
        print(f"pytorch {torch.__version__} ({dev.type}, {a.threads} threads), {a.shape} shape: {t['medianMs']:.1f} ms median (min {t['minMs']:.1f}, max {t['maxMs']:.1f}), "
              f"cpu {report['step']['cpuMsMedian']:.0f} ms/step, {report['step']['sequencesPerSec']:.2f} sequences/s, {report['step']['gflopsPerSec']:.1f} GFLOP/s, peak RSS {report['memory']['maxRssBytes'] / 2**20:.0f} MiB")
        if "cached" in report:
            print(f"teacher cache: {report['cached']['timing']['medianMs']:.1f} ms median, {report['cached']['speedup']:.2f}x")


if __name__ == "__main__":
    main()
