"""Independent reference for test/integration/optimizer.test.ts: torch.optim.AdamW (BERT param groups),
clip_grad_norm_ and transformers' linear warm-up/decay schedule (its lambda, re-stated here since
transformers is not installed).

stdin:  {"opts": {beta1, beta2, eps, weightDecay, maxNorm, peakLr, totalSteps, warmupSteps},
         "cases": [{"params": [{"name", "shape", "data"}], "grads": [{name: data | null}, ...]}]}
stdout: {"cases": [{"params": {name: data}, "norms": [...], "lrs": [...]}]}
A gradient of null means the parameter has no gradient that step (p.grad = None).
"""
import json
import sys

import torch

# The usual run_glue.py grouping, spelled independently of decayApplies in optimizer.ts.
NO_DECAY = ("bias", "LayerNorm.weight")


def linear_schedule(total, warmup):
    # transformers.get_linear_schedule_with_warmup's lr_lambda
    def lr_lambda(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return lr_lambda


def run_case(case, o):
    params = {}
    for p in case["params"]:
        t = torch.tensor(p["data"], dtype=torch.float32).reshape(p["shape"])
        params[p["name"]] = torch.nn.Parameter(t)
    groups = [
        {"params": [p for n, p in params.items() if not any(nd in n for nd in NO_DECAY)],
         "weight_decay": o["weightDecay"]},
        {"params": [p for n, p in params.items() if any(nd in n for nd in NO_DECAY)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=o["peakLr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(o["totalSteps"], o["warmupSteps"]))
    norms, lrs = [], []
    for step_grads in case["grads"]:
        opt.zero_grad(set_to_none=True)
        for name, p in params.items():
            g = step_grads.get(name)
            p.grad = None if g is None else torch.tensor(g, dtype=torch.float32).reshape(p.shape)
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), o["maxNorm"])
        norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"params": {n: p.detach().reshape(-1).tolist() for n, p in params.items()},
            "norms": norms, "lrs": lrs}


def main():
    req = json.load(sys.stdin)
    out = {"cases": [run_case(c, req["opts"]) for c in req["cases"]]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
