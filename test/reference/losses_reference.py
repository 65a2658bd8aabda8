"""Independent reference values for src/distill/losses.ts, computed with PyTorch.

Regenerate the fixture the tests read with:
    /usr/bin/python3 test/reference/losses_reference.py > test/reference/losses_reference.json

Inputs are drawn with a fixed seed and rounded to float32 (what TF.js sees); the references are
then computed in float64 with torch.nn.functional, so they check the TypeScript formulas, not a
re-implementation of them.
"""
import json

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20200207)
EPS_LOG = 1e-12  # ATTENTION_LOG_EPSILON in losses.ts


def f32(a):
    return np.asarray(a, dtype=np.float32)


def tensor_json(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [float(x) for x in a.reshape(-1)]}


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def attention_probs(batch, heads, seq, mask, scale):
    """Softmax rows with padded keys exactly 0; padded query rows are garbage distributions."""
    logits = rng.normal(size=(batch, heads, seq, seq)) * scale
    key_pad = (mask == 0)[:, None, None, :]
    masked = np.where(key_pad, -np.inf, logits)
    probs = torch.softmax(torch.from_numpy(masked), dim=-1).numpy()
    garbage = torch.softmax(torch.from_numpy(rng.normal(size=probs.shape)), dim=-1).numpy()
    row_pad = (mask == 0)[:, None, :, None]
    return f32(np.where(row_pad, garbage, probs))


def reference_attention_kl(teacher, student, mask, head_average):
    t, s, m = t64(teacher), t64(student), t64(mask)
    if head_average:
        t, s = t.mean(1, keepdim=True), s.mean(1, keepdim=True)
    kl = F.kl_div(torch.log(torch.clamp(s, min=EPS_LOG)), t, reduction="none")  # t·(log t − log s), 0 where t = 0
    kl = kl * m[:, None, None, :]
    per_row = kl.sum(-1) * m[:, None, :]
    return float(per_row.sum() / (t.shape[1] * m.sum()))


cases = []

mask = f32([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0]])
teacher = attention_probs(3, 2, 6, mask, 2.0)
student = attention_probs(3, 2, 6, mask, 1.0)
# Exact zeros inside valid positions: teacher 0 (0·log 0 := 0) and student 0 where the teacher has
# mass (the log is clamped).
teacher[0, 1, 2, :] = f32([0.5, 0.0, 0.25, 0.25, 0.0, 0.0])
student[0, 1, 2, :] = f32([0.0, 0.5, 0.25, 0.25, 0.0, 0.0])
cases.append({"name": "attention-kl", "kind": "attentionKl", "headAverage": False,
              "teacher": tensor_json(teacher), "student": tensor_json(student), "mask": tensor_json(mask),
              "expected": reference_attention_kl(teacher, student, mask, False)})

mask2 = f32([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
teacher4 = attention_probs(2, 4, 5, mask2, 1.5)
student2 = attention_probs(2, 2, 5, mask2, 1.5)
cases.append({"name": "attention-kl head-average", "kind": "attentionKl", "headAverage": True,
              "teacher": tensor_json(teacher4), "student": tensor_json(student2), "mask": tensor_json(mask2),
              "expected": reference_attention_kl(teacher4, student2, mask2, True)})

tc = f32(rng.normal(size=(4, 8)))
sc = f32(rng.normal(size=(4, 8)))
sc[2, :] = 0.0  # a zero vector: cos = 0
cases.append({"name": "cls-cosine", "kind": "clsCosine", "teacher": tensor_json(tc), "student": tensor_json(sc),
              "expected": float((1 - F.cosine_similarity(t64(tc), t64(sc), dim=1, eps=1e-8)).mean())})

sp = f32(rng.normal(size=(4, 5)))
proj = f32(rng.normal(size=(5, 8)) * 0.5)
cases.append({"name": "cls-cosine projected", "kind": "clsCosine", "teacher": tensor_json(tc), "student": tensor_json(sp),
              "projection": tensor_json(proj),
              "expected": float((1 - F.cosine_similarity(t64(tc), t64(sp) @ t64(proj), dim=1, eps=1e-8)).mean())})

zt = f32(rng.normal(size=(5, 3)) * 3)
zs = f32(rng.normal(size=(5, 3)) * 3)
for temperature in (1.0, 2.5):
    log_ps = F.log_softmax(t64(zs) / temperature, dim=1)
    pt = F.softmax(t64(zt) / temperature, dim=1)
    value = F.kl_div(log_ps, pt, reduction="batchmean") * temperature ** 2
    cases.append({"name": f"soft-label T={temperature}", "kind": "softLabel", "temperature": temperature,
                  "teacher": tensor_json(zt), "student": tensor_json(zs), "expected": float(value)})

labels = np.array([0, 2, 1, 2, 0])
cases.append({"name": "hard-label", "kind": "hardLabel", "student": tensor_json(zs), "labels": tensor_json(f32(labels)),
              "expected": float(F.cross_entropy(t64(zs), torch.from_numpy(labels)))})

pred = f32(rng.normal(size=(6, 1)))
teacher_pred = f32(rng.normal(size=(6, 1)))
target = f32(rng.normal(size=(6,)) * 2)
cases.append({"name": "soft-label regression", "kind": "softLabelRegression", "teacher": tensor_json(teacher_pred),
              "student": tensor_json(pred), "expected": float(F.mse_loss(t64(pred), t64(teacher_pred)))})
cases.append({"name": "hard-label regression", "kind": "hardLabelRegression", "student": tensor_json(pred),
              "labels": tensor_json(target), "expected": float(F.mse_loss(t64(pred).reshape(-1), t64(target)))})

print(json.dumps({"generator": "test/reference/losses_reference.py", "torch": torch.__version__, "cases": cases}, indent=1))
