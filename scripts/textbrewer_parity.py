#!/usr/bin/env python3
"""Dev accuracy of the same distillation in Distillery and in TextBrewer, on a slice of SST-2.

One teacher for both: a 2-layer, hidden-128 BERT trained from scratch by Distillery
(`distillery train --teacher-only`, saved as a Hugging Face folder) on the first --train-rows
sentences of SST-2's train.tsv. Then, per seed, the same student distilled twice from it:
1 layer, initialised from teacher layer 2 with the teacher's embeddings, pooler and head; student
layer 1 <- teacher layer 2; attention KL + [CLS] cosine + soft labels (T = 1), all weights 1, in
one stage of --epochs epochs over the same rows; AdamW (lr --lr, weight decay 0.01 except biases
and LayerNorm, eps 1e-6), linear warm-up over 10 % of the steps then linear decay to 0,
gradient clipping at 1.0, batch 32, dropout 0.1. Distillery runs `distillery train` on the wasm
backend; TextBrewer 0.2.1's GeneralDistiller runs on the venv's torch, with `attention_ce` on
log-probabilities (the KL plus the teacher's entropy: the same gradient), a [CLS]-only cosine
registered as a TextBrewer match loss, and kd_loss_type "ce" (the soft-label KL plus a constant).
Both evaluate the student once, after the last step, on the whole SST-2 dev set (872 sentences).
What differs: the shuffling and dropout draws (each framework's own generator, seeded), and
padding (Distillery pads a batch to its longest row, TextBrewer here too).

  .venv/bin/python scripts/textbrewer_parity.py --json    # 5 seeds, 8 000 rows: ~40 min on the loaded 2-core machine
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
import textbrewer
from textbrewer import DistillationConfig, GeneralDistiller, TrainingConfig
from textbrewer.presets import MATCH_LOSS_MAP
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast, get_linear_schedule_with_warmup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLUE = os.path.join(ROOT, "..", "..", "shared", "data", "glue", "SST-2")
ATTENTION_LOG_EPSILON = 1e-12


def cls_cosine(state_S, state_T, mask=None):
    """Distillery's cls-cosine: 1 - cos between the [CLS] vectors, averaged over the batch."""
    return (1 - F.cosine_similarity(state_S[:, 0], state_T[:, 0], dim=-1)).mean()


MATCH_LOSS_MAP["cls_cos"] = cls_cosine


def write_data(out, rows):
    """The first `rows` training sentences and the whole dev set, in GLUE's layout."""
    data = os.path.join(out, "SST-2")
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(GLUE, "train.tsv"), encoding="utf8") as f:
        lines = f.readlines()[: rows + 1]
    with open(os.path.join(data, "train.tsv"), "w", encoding="utf8") as f:
        f.writelines(lines)
    shutil.copyfile(os.path.join(GLUE, "dev.tsv"), os.path.join(data, "dev.tsv"))
    return data


def read_tsv(path):
    with open(path, encoding="utf8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f.readlines()[1:]]
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def distillery(args, cwd, log):
    """Runs the CLI; returns its eval events (JSON lines on stdout)."""
    cmd = [shutil.which("node") or "node", os.path.join(ROOT, "bin", "distillery.js"), *args, "--events"]
    t0 = time.time()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    with open(log, "w", encoding="utf8") as f:
        f.write(p.stderr)
    if p.returncode != 0:
        raise SystemExit(f"textbrewer_parity: {' '.join(cmd)} failed ({p.returncode}); see {log}")
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return [e for e in events if e.get("type") == "eval"], time.time() - t0


def train_teacher(out, a):
    teacher = os.path.join(out, "teacher")
    if os.path.exists(os.path.join(teacher, "config.json")):
        return teacher
    cfg = {
        "name": "parity-teacher",
        "task": {"name": "sst2", "dataDir": "SST-2", "maxSeqLen": a.max_seq_len},
        "teacher": {
            "train": {"from": "scratch", "vocab": os.path.join(ROOT, "models", "all-minilm-l6-v2", "vocab.txt"),
                      "architecture": {"layers": 2, "hiddenSize": 128, "heads": 2, "intermediateSize": 512, "maxPositions": 64},
                      "epochs": a.teacher_epochs, "lr": 5e-4, "batchSize": 32},
            "output": "teacher",
        },
        "student": {"layers": 1, "init": "teacher-layers"},
        "algorithm": "hard",
        "optim": {"lr": 1e-4, "batchSize": 32, "warmup": 0.1, "seed": 1},
        "backend": "wasm",
        "runsDir": "runs",
    }
    path = os.path.join(out, "teacher.distill.json")
    with open(path, "w", encoding="utf8") as f:
        json.dump(cfg, f, indent=2)
    evals, secs = distillery(["train", path, "--teacher-only"], out, os.path.join(out, "teacher.log"))
    print(f"textbrewer_parity: teacher trained in {secs:.0f} s; dev {evals[-1]['mainMetric'] if evals else '?'}", file=sys.stderr)
    return teacher


def ours(out, a, seed):
    cfg = {
        "name": f"parity-seed{seed}",
        "task": {"name": "sst2", "dataDir": "SST-2", "maxSeqLen": a.max_seq_len},
        "teacher": {"checkpoint": "teacher"},
        "student": {"layers": 1, "init": "teacher-layers"},
        "mapping": [[1, 2]],
        "algorithm": "custom",
        "losses": {"attentionKl": 1, "clsCosine": 1, "softLabel": {"weight": 1, "temperature": 1}},
        "stages": {"custom": [{"losses": ["attention-kl", "cls-cosine", "soft-label"], "epochs": a.epochs}]},
        "optim": {"lr": a.lr, "batchSize": 32, "warmup": 0.1, "weightDecay": 0.01, "maxGradNorm": 1, "eps": 1e-6, "seed": seed, "dropout": 0.1},
        "eval": {"everySteps": 10 ** 6},
        "backend": "wasm",
        "runsDir": "runs",
    }
    path = os.path.join(out, f"student-seed{seed}.distill.json")
    with open(path, "w", encoding="utf8") as f:
        json.dump(cfg, f, indent=2)
    evals, secs = distillery(["train", path], out, os.path.join(out, f"student-seed{seed}.log"))
    last = evals[-1]
    return dict(accuracy=last["mainMetric"]["value"], steps=last["step"], seconds=secs)


def textbrewer_run(out, teacher_dir, a, seed):
    torch.manual_seed(seed)
    tok = BertTokenizerFast(os.path.join(teacher_dir, "vocab.txt"), do_lower_case=True)
    kw = dict(attn_implementation="eager", output_attentions=True, output_hidden_states=True)
    teacher = BertForSequenceClassification.from_pretrained(teacher_dir, **kw).eval()
    scfg = BertConfig.from_pretrained(teacher_dir, num_hidden_layers=1, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, **kw)
    student = BertForSequenceClassification(scfg)
    # Distillery's "teacher-layers" init: embeddings, pooler and head from the teacher, student layer 1 = teacher layer 2.
    t_state = teacher.state_dict()
    s_state = {}
    for name in student.state_dict():
        src = name.replace("encoder.layer.0.", "encoder.layer.1.")
        s_state[name] = t_state[src].clone()
    student.load_state_dict(s_state)
    student.train()

    sentences, labels = read_tsv(os.path.join(out, "SST-2", "train.tsv"))
    g = torch.Generator().manual_seed(seed)

    def batches():
        order = torch.randperm(len(sentences), generator=g).tolist()
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            enc = tok([sentences[j] for j in idx], truncation=True, max_length=a.max_seq_len, padding="longest", return_tensors="pt")
            yield dict(enc, labels=torch.tensor([labels[j] for j in idx]))

    steps_per_epoch = (len(sentences) + 31) // 32
    total = steps_per_epoch * a.epochs

    class Loader:
        def __len__(self):
            return steps_per_epoch

        def __iter__(self):
            return batches()

    def adaptor(batch, o):
        return {"logits": o.logits, "attention": [torch.log(x.clamp_min(ATTENTION_LOG_EPSILON)) for x in o.attentions],
                "hidden": list(o.hidden_states), "inputs_mask": batch["attention_mask"]}

    def forward_inputs(batch):
        return {k: v for k, v in batch.items() if k != "labels"}

    matches = [{"layer_T": 1, "layer_S": 0, "feature": "attention", "loss": "attention_ce", "weight": 1},
               {"layer_T": 2, "layer_S": 1, "feature": "hidden", "loss": "cls_cos", "weight": 1}]
    no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n
    opt = torch.optim.AdamW([
        {"params": [p for n, p in student.named_parameters() if not no_decay(n)], "weight_decay": 0.01},
        {"params": [p for n, p in student.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ], lr=a.lr, eps=1e-6)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as od:
        d = GeneralDistiller(
            train_config=TrainingConfig(device="cpu", output_dir=od, log_dir=None, ckpt_steps=10 ** 9, ckpt_frequency=1),
            distill_config=DistillationConfig(temperature=1, kd_loss_type="ce", kd_loss_weight=1, hard_label_weight=0, intermediate_matches=matches),
            model_T=teacher, model_S=student, adaptor_T=adaptor, adaptor_S=adaptor)
        d.train(opt, Loader(), num_epochs=a.epochs, scheduler_class=get_linear_schedule_with_warmup,
                scheduler_args={"num_warmup_steps": int(round(0.1 * total)), "num_training_steps": total},
                max_grad_norm=1.0, batch_postprocessor=forward_inputs)
    secs = time.time() - t0
    student.eval()
    dev_s, dev_y = read_tsv(os.path.join(out, "SST-2", "dev.tsv"))
    correct = 0
    with torch.no_grad():
        for i in range(0, len(dev_s), 64):
            enc = tok(dev_s[i:i + 64], truncation=True, max_length=a.max_seq_len, padding="longest", return_tensors="pt")
            pred = student(**enc).logits.argmax(-1)
            correct += int((pred == torch.tensor(dev_y[i:i + 64])).sum())
    return dict(accuracy=correct / len(dev_s), steps=total, seconds=secs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--train-rows", type=int, default=8000)
    ap.add_argument("--max-seq-len", type=int, default=48)
    ap.add_argument("--teacher-epochs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache", "textbrewer-parity"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    write_data(a.out, a.train_rows)
    teacher_dir = train_teacher(a.out, a)
    results = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        o = ours(a.out, a, seed)
        t = textbrewer_run(a.out, teacher_dir, a, seed)
        print(f"textbrewer_parity: seed {seed}: distillery {100 * o['accuracy']:.2f} ({o['steps']} steps, {o['seconds']:.0f} s), "
              f"textbrewer {100 * t['accuracy']:.2f} ({t['steps']} steps, {t['seconds']:.0f} s)", file=sys.stderr)
        results.append(dict(seed=seed, distillery=o, textbrewer=t))
    mean = lambda xs: sum(xs) / len(xs)
    sd = lambda xs: (sum((x - mean(xs)) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
    summary = {k: dict(mean=mean([r[k]["accuracy"] for r in results]), sd=sd([r[k]["accuracy"] for r in results])) for k in ("distillery", "textbrewer")}
    report = dict(textbrewer=textbrewer.__version__, torch=torch.__version__, args=vars(a), results=results, summary=summary)
    if a.json:
        print(json.dumps(report, indent=2))
    for k, v in summary.items():
        print(f"textbrewer_parity: {k}: dev accuracy {100 * v['mean']:.2f} ± {100 * v['sd']:.2f} over {len(results)} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
