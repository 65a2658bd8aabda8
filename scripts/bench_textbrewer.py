#!/usr/bin/env python3
"""The distillation step of `distillery bench`, run by TextBrewer (PyPI `textbrewer`), the
distillation toolkit a user might pick instead: its GeneralDistiller trains a transformers student
from a transformers teacher with the same shapes and data as scripts/bench_hf.py, and prints the
same JSON report, so `npm run bench` puts it in the same table.

Run with the project's venv (scripts/setup-python.sh):
  .venv/bin/python scripts/bench_textbrewer.py --shape reference --json

Configured as close to our step as TextBrewer allows:
- soft labels: kd_loss_type "ce" at T = 1 (cross-entropy: the KL's gradient);
- attention: "attention_ce" on every mapped pair. TextBrewer softmaxes the attention it is given,
  so the adaptor passes log-probabilities (softmax(log p) = p); masked rows as ours;
- [CLS]: TextBrewer's "cos" loss takes whole hidden states under the input mask, so it runs over
  every token, not only [CLS] (a little more element-wise work; the same products);
- clip_grad_norm 1.0, AdamW (lr 5e-5, eps 1e-6, weight decay 0.01 except biases and LayerNorm).
Step time: the interval between consecutive optimizer steps inside TextBrewer's own loop.
"""
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone

import torch
import transformers
import textbrewer
from textbrewer import DistillationConfig, GeneralDistiller, TrainingConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402
import bench_hf  # noqa: E402  (the transformers models of the same shapes)


def model(c, layers):
    # TextBrewer calls the models itself, so they return attentions and hidden states by default.
    return bench_hf.model(c, layers, output_attentions=True, output_hidden_states=True)


def adaptor(batch, out):
    return {
        "logits": out.logits,
        "attention": [torch.log(a.clamp_min(bt.ATTENTION_LOG_EPSILON)) for a in out.attentions],
        "hidden": list(out.hidden_states),
        "inputs_mask": batch["attention_mask"],
    }


def main():
    a = bt.step_bench_args(__doc__, "accepted for the bench driver; TextBrewer has no teacher cache").parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    c = dict(bt.SHAPES[a.shape], name=a.shape)
    teacher = model(c, c["teacherLayers"]).eval()
    student = model(c, c["studentLayers"]).train()
    pairs = [(k, (k * c["teacherLayers"]) // c["studentLayers"]) for k in range(1, c["studentLayers"] + 1)]
    matches = []
    for k, t in pairs:
        matches.append({"layer_T": t - 1, "layer_S": k - 1, "feature": "attention", "loss": "attention_ce", "weight": 1})
        matches.append({"layer_T": t, "layer_S": k, "feature": "hidden", "loss": "cos", "weight": 1})
    no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n
    opt = torch.optim.AdamW([
        {"params": [p for n, p in student.named_parameters() if not no_decay(n)], "weight_decay": 0.01},
        {"params": [p for n, p in student.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ], lr=5e-5, eps=1e-6)

    # Optimizer steps inside TextBrewer's loop mark the step boundaries.
    marks = []
    inner_step = opt.step
    def timed_step(*args, **kwargs):
        r = inner_step(*args, **kwargs)
        marks.append((time.perf_counter(), time.process_time()))
        return r
    opt.step = timed_step

    g = torch.Generator().manual_seed(42)
    b, s, v = c["batchSize"], c["seqLen"], c["vocabSize"]
    ids = torch.randint(min(1000, v // 2), v, (b, s), generator=g)
    ids[:, 0], ids[:, -1] = min(101, v - 1), min(102, v - 1)
    batch = {"input_ids": ids, "token_type_ids": torch.zeros(b, s, dtype=torch.long), "attention_mask": torch.ones(b, s, dtype=torch.long)}
    steps = a.warmup + a.repeats
    dataloader = [batch] * steps

    losses = []
    def record_loss(*_args, **_kwargs):  # TextBrewer calls back at checkpoints only; losses come from the log below
        pass

    with tempfile.TemporaryDirectory() as out_dir:
        distiller = GeneralDistiller(
            train_config=TrainingConfig(device="cpu", output_dir=out_dir, log_dir=None, ckpt_steps=10 ** 9, ckpt_frequency=1),
            distill_config=DistillationConfig(temperature=1, kd_loss_type="ce", kd_loss_weight=1, hard_label_weight=0, intermediate_matches=matches),
            model_T=teacher, model_S=student, adaptor_T=adaptor, adaptor_S=adaptor)
        # The loss of each step: wrap the distiller's own loss computation.
        inner_loss = distiller.train_on_batch
        def loss_of(*args, **kwargs):
            total, parts = inner_loss(*args, **kwargs)
            losses.append(float(total.detach()))
            return total, parts
        distiller.train_on_batch = loss_of
        start = (time.perf_counter(), time.process_time())
        with distiller:
            distiller.train(opt, dataloader, num_steps=steps, max_grad_norm=1.0, callback=record_loss)
    bounds = [start] + marks
    ms = [(bounds[i + 1][0] - bounds[i][0]) * 1000 for i in range(len(marks))][a.warmup:]
    cpu = [(bounds[i + 1][1] - bounds[i][1]) * 1000 for i in range(len(marks))][a.warmup:]
    print(f"bench_textbrewer: steps (ms): {', '.join(f'{m:.0f}' for m in ms)}", file=sys.stderr)
    flops = bt.step_flops(c)
    t = bt.summarize(ms)
    report = dict(
        version=1, tool="textbrewer", shape=c, backend="pytorch-cpu",
        label=f"textbrewer {textbrewer.__version__} (transformers {transformers.__version__}, torch {torch.__version__}, {a.threads} threads)",
        kernels=dict(active="torch", torch=torch.__version__, transformers=transformers.__version__, textbrewer=textbrewer.__version__),
        warmup=a.warmup, repeats=a.repeats, flops=dict(flops, formula=bt.FLOPS_FORMULA),
        step=dict(timing=t, cpuMsMedian=statistics.median(cpu), sequencesPerSec=b / (t["medianMs"] / 1000),
                  gflopsPerSec=flops["total"] / (t["medianMs"] / 1000) / 1e9,
                  loss=dict(first=losses[a.warmup] if len(losses) > a.warmup else None, last=losses[-1] if losses else None)),
        memory=dict(maxRssBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, wasmHeapBytes=None),
        environment=dict(python=platform.python_version(), torch=torch.__version__, transformers=transformers.__version__,
                         textbrewer=textbrewer.__version__, threads=torch.get_num_threads(), cpus=os.cpu_count()),
        date=datetime.now(timezone.utc).isoformat(),
    )
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['label']}, {a.shape} shape: {t['medianMs']:.1f} ms median (min {t['minMs']:.1f}, max {t['maxMs']:.1f}), "
              f"{report['step']['sequencesPerSec']:.2f} sequences/s")


if __name__ == "__main__":
    main()
