"""This CPU's roofline and the decode-shaped projections of Gemma 3 270M: torch's F.linear against oneDNN with
pre-packed weights (engine.linear: packed) and MKL's packed GEMM, on weights too large for the caches.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/linear.py [--rows 1 8 32] [--repeat 3]

Prints the fp32 GEMM rate (torch.mm 2048^3), the read bandwidth (a sum over 256 MB), and per row count the
wall time of one layer set (18 Gemma layers' q, k, v, o, gate, up, down projections, random fp32 weights,
408 MB) per method, with whether each method's outputs equal F.linear's bit for bit. docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

# (out, in) of one Gemma 3 270M layer's projections: q, k, v, o, gate, up, down
LAYER = [(1024, 640), (256, 640), (256, 640), (640, 1024), (2048, 640), (2048, 640), (640, 2048)]


def best(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    big = torch.rand(64 * 1024 * 1024)
    gb_s = big.numel() * 4 / best(lambda: big.sum(), a.repeat) / 1e9
    x, y = torch.randn(2048, 2048), torch.randn(2048, 2048)
    gemm = 2 * 2048**3 / best(lambda: x @ y, a.repeat) / 1e9
    print(f"threads {torch.get_num_threads()}; fp32 GEMM {gemm:.0f} GFLOP/s; read {gb_s:.1f} GB/s")
    weights = [torch.randn(o, i) for _ in range(18) for o, i in LAYER]
    flops_row = 2 * sum(w.numel() for w in weights)
    rows = []
    for m in a.rows:
        rows += measure(weights, m, a.repeat, flops_row)
    summary = {"bench": "linear", "gemm_gflop_s": round(gemm), "read_gb_s": round(gb_s, 1), "rows": rows}
    print("BENCH_JSON " + json.dumps(summary))


def measure(weights: list[torch.Tensor], m: int, repeat: int, flops_row: int) -> list[dict[str, object]]:
    """Each method on ``m`` rows: best wall time, GFLOP/s, and its outputs against F.linear's."""
    xs = {i: torch.randn(m, i) for i in (640, 1024, 2048)}
    dnn = [torch.ops.mkldnn._reorder_linear_weight(w, m) for w in weights]
    mkl = [torch.ops.mkl._mkl_reorder_linear_weight(w, m) for w in weights]

    def plain() -> list[torch.Tensor]:
        return [F.linear(xs[w.shape[1]], w) for w in weights]

    def onednn() -> list[torch.Tensor]:
        return [torch.ops.mkldnn._linear_pointwise(xs[w.shape[1]], p, None, "none", [], "")
                for w, p in zip(weights, dnn, strict=True)]  # fmt: skip

    def mkl_packed() -> list[torch.Tensor]:
        return [torch.ops.mkl._mkl_linear(xs[w.shape[1]], p, w, None, m)
                for w, p in zip(weights, mkl, strict=True)]  # fmt: skip

    ref, out = plain(), []
    for name, fn in (("F.linear", plain), ("oneDNN packed", onednn), ("MKL packed", mkl_packed)):
        got = fn()
        same = all(torch.equal(u, v) for u, v in zip(got, ref, strict=True))
        diff = max(float((u - v).abs().max()) for u, v in zip(got, ref, strict=True))
        s = best(fn, repeat)
        rate = m * flops_row / s / 1e9
        out.append({"rows": m, "method": name, "ms": round(1e3 * s, 1), "gflop_s": round(rate),
                    "bit_equal": same, "max_abs_diff": diff})  # fmt: skip
        print(f"rows {m:>3}  {name:<14} {1e3 * s:7.1f} ms  {rate:6.0f} GFLOP/s  bit-equal {same}  "
              f"max |diff| {diff:.2g}")  # fmt: skip
    return out


if __name__ == "__main__":
    main()
