#!/usr/bin/env python3
"""torch's own sgemm (MKL in PyPI's CPU build) alone on a bench shape's largest product,
[batch*seq, hidden] @ [hidden, FF], at 1 and 2 threads: what the PyTorch peers' products can reach
on this machine. The best of several runs. `npm run bench` runs it beside `distillery bench --sgemm`.

  .venv/bin/python scripts/sgemm_probe.py --shape reference --json
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402  (the shapes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(bt.SHAPES), default="reference")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    c = bt.SHAPES[a.shape]
    m, k, n = c["batchSize"] * c["seqLen"], c["hiddenSize"], c["intermediateSize"]
    g = torch.Generator().manual_seed(0)
    x, w = torch.rand(m, k, generator=g) - 0.5, torch.rand(k, n, generator=g) - 0.5
    out = torch.empty(m, n)
    blas = "MKL" if torch.backends.mkl.is_available() else "BLAS"
    library = f"torch {torch.__version__.split('+')[0]} ({blas})"
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        ms = []
        for i in range(a.repeats + 1):
            t0 = time.perf_counter()
            torch.mm(x, w, out=out)
            if i > 0:  # the first warms up
                ms.append((time.perf_counter() - t0) * 1000)
        results.append(dict(library=library, threads=threads, gflops=2 * m * n * k / (min(ms) / 1000) / 1e9, samplesMs=ms))
    report = dict(shape=a.shape, m=m, k=k, n=n, results=results)
    if a.json:
        print(json.dumps(report))
    else:
        for r in results:
            print(f"sgemm [{m}, {k}] @ [{k}, {n}], {r['library']}, {r['threads']} thread(s): {r['gflops']:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
