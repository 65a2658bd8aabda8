#!/usr/bin/env python3
"""Independent PyTorch references for the TinyBERT / MiniLM terms of src/distill/losses.ts:
hidden-mse (also embedding-mse: the same loss on the embedding output) and value-relation.

The test (test/integration/internal-losses.test.ts) runs this with the project's .venv/bin/python and reads
one JSON object from stdout: seeded float32 inputs and the values and gradients torch computes
for them in float64. The formulas follow the papers' own code, written with torch.nn.functional
and masked_fill, not a transcription of the TypeScript:
- TinyBERT (Jiao et al., 2020): MSELoss(student_reps @ fit_dense, teacher_reps), here averaged
  over non-padded tokens only;
- MiniLM (Wang et al., 2020): KL(softmax(V_T V_Tᵀ/√d_T) ‖ softmax(V_S V_Sᵀ/√d_S)) per head,
  padded keys excluded from the softmax, rows averaged over non-padded queries, heads and batch.
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20250317)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def tj(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [float(x) for x in a.reshape(-1)]}


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def hidden_mse(teacher, student, mask, weight=None, bias=None):
    s = student if weight is None else F.linear(student, weight.T, bias)  # nn.Linear keeps [out, in]
    per_token = F.mse_loss(s, teacher, reduction="none").sum(-1)
    return (per_token * mask).sum() / (mask.sum() * teacher.shape[-1])


def value_relation(teacher_v, student_v, mask):
    pad = (mask == 0)[:, None, None, :]

    def log_rel(v):
        scores = v @ v.transpose(-1, -2) / math.sqrt(v.shape[-1])
        return F.log_softmax(scores.masked_fill(pad, float("-inf")), dim=-1)

    log_t, log_s = log_rel(teacher_v), log_rel(student_v)
    # kl_div(input=log q, target=log p, log_target=True) = p·(log p − log q); padded keys give
    # (-inf) − (-inf) = nan there, so they are zeroed before summing over keys.
    kl = F.kl_div(log_s, log_t, reduction="none", log_target=True).masked_fill(pad, 0.0)
    per_row = kl.sum(-1) * mask[:, None, :]
    return per_row.sum() / (teacher_v.shape[1] * mask.sum())


cases = []
mask = f32([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
m = t64(mask)

# hidden-mse, same width
ht = f32(rng.normal(size=(3, 5, 6)))
hs = f32(rng.normal(size=(3, 5, 6)))
hs_t = t64(hs, True)
v = hidden_mse(t64(ht), hs_t, m)
v.backward()
cases.append({"name": "hidden-mse", "kind": "hiddenMse", "teacher": tj(ht), "student": tj(hs), "mask": tj(mask),
              "expected": float(v.detach()), "gradStudent": tj(hs_t.grad.numpy())})

# hidden-mse through a projection (student 4 wide, teacher 6)
hs4 = f32(rng.normal(size=(3, 5, 4)))
w = f32(rng.normal(size=(4, 6)) * 0.5)
b = f32(rng.normal(size=(6,)) * 0.1)
hs4_t, w_t, b_t = t64(hs4, True), t64(w, True), t64(b, True)
v = hidden_mse(t64(ht), hs4_t, m, w_t, b_t)
v.backward()
cases.append({"name": "hidden-mse projected", "kind": "hiddenMse", "teacher": tj(ht), "student": tj(hs4), "mask": tj(mask),
              "weight": tj(w), "bias": tj(b), "expected": float(v.detach()),
              "gradStudent": tj(hs4_t.grad.numpy()), "gradWeight": tj(w_t.grad.numpy()), "gradBias": tj(b_t.grad.numpy())})

# value-relation: 2 heads; teacher head width 4, student head width 3
vt = f32(rng.normal(size=(3, 2, 5, 4)) * 1.5)
vs = f32(rng.normal(size=(3, 2, 5, 3)) * 1.5)
vs_t = t64(vs, True)
v = value_relation(t64(vt), vs_t, m)
v.backward()
cases.append({"name": "value-relation", "kind": "valueRelation", "teacher": tj(vt), "student": tj(vs), "mask": tj(mask),
              "expected": float(v.detach()), "gradStudent": tj(vs_t.grad.numpy())})

# value-relation, same widths, no padding, larger values (sharper relations)
mask_full = f32(np.ones((2, 4)))
vt2 = f32(rng.normal(size=(2, 3, 4, 8)) * 2.0)
vs2 = f32(rng.normal(size=(2, 3, 4, 8)) * 2.0)
vs2_t = t64(vs2, True)
v = value_relation(t64(vt2), vs2_t, t64(mask_full))
v.backward()
cases.append({"name": "value-relation unpadded", "kind": "valueRelation", "teacher": tj(vt2), "student": tj(vs2), "mask": tj(mask_full),
              "expected": float(v.detach()), "gradStudent": tj(vs2_t.grad.numpy())})

print(json.dumps({"generator": "test/reference/internal_losses_reference.py", "torch": torch.__version__, "cases": cases}))
