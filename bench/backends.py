"""Engine backends compared on the pipeline's own workloads: torch (the reference) vs vLLM.

Run in ``.venv-vllm`` (``make vllm``), on an idle machine — both backends time the same calls:

    .venv-vllm/bin/python bench/backends.py [--model gemma3-270m] [--n 32] [--max-new-tokens 64]
                                            [--kv-cache-gb 2] [--only zero_shot,few_shot,best_of_n,critic]

Workloads: zero-shot generation (the bare ``Instruction: …\\nResponse:`` prompt), few-shot generation (the
responses stage's 2-shot prompts), best-of-N (4 samples a prompt at T=0.8 / top-p 0.95, the pairs stage),
and critic scoring (A/B pointwise, both label orders). Each prints tok/s (judgments/s for the critic), the
vLLM/torch ratio and, for greedy generation, how many rows agree; start-up (load + vLLM engine) is timed
apart. One JSON line per workload (``BENCH_JSON``), as the other benches.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table
from critic import items
from generate import prompts
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.judge import get_scorer

WORKLOADS = ("zero_shot", "few_shot", "best_of_n", "critic")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def workload(name: str, engine: Engine, n: int, max_new: int) -> tuple[float, int, Any]:
    """(seconds, units done, outputs) of one workload on one engine."""
    if name == "critic":
        points, _ = items(n)
        secs, got = timed(lambda: get_scorer("ab-pointwise").score(engine, points))
        return secs, len(got), [j.p_good >= 0.5 for j in got]
    if name == "best_of_n":
        ps = [p for p in prompts(n // 4, shots=2) for _ in range(4)]
        params = GenParams(max_new_tokens=max_new, temperature=0.8, top_p=0.95, batch_size=32, seed=1)
    else:
        ps = prompts(n, shots=0 if name == "zero_shot" else 2)
        params = GenParams(max_new_tokens=max_new, batch_size=32)
    secs, gens = timed(lambda: engine.generate(ps, params))
    return secs, sum(g.n_tokens for g in gens), [(g.text, g.stop_reason) for g in gens]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--kv-cache-gb", type=float, default=2.0)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    args = ap.parse_args()
    spec = ModelSpec(ref=args.model, sentinels=False)
    t_torch, torch_engine = timed(lambda: Engine.load(spec))
    # scoring="backend": the critic workload measures vLLM's own scoring (``auto`` scores in torch on a CPU)
    vspec = BackendSpec(backend="vllm", kv_cache_gb=args.kv_cache_gb, scoring="backend")
    t_vllm, vllm_engine = timed(lambda: Engine.load(spec, backend=vspec))
    print(f"machine: {machine()}\nmodel: {args.model}")
    print(f"start-up: torch {t_torch:.1f} s, vllm {t_vllm:.1f} s\n")
    rows = []
    for name in args.only.split(","):
        (ts, tn, tout), (vs, vn, vout) = (workload(name, e, args.n, args.max_new_tokens)
                                          for e in (torch_engine, vllm_engine))  # fmt: skip
        unit = "judgments/s" if name == "critic" else "tok/s"
        agree = sum(a == b for a, b in zip(tout, vout, strict=True)) if name != "best_of_n" else None
        rows.append({"workload": name, "torch": f"{tn / ts:.1f} {unit}", "vllm": f"{vn / vs:.1f} {unit}",
                     "ratio": f"{(vn / vs) / (tn / ts):.2f}×", "agree": "—" if agree is None else
                     f"{agree}/{len(tout)}"})  # fmt: skip
        print("BENCH_JSON " + json.dumps({
            "bench": f"backend_{name}", "unit": unit, "goal": "info", "model": args.model,
            "baseline": {"label": "torch backend", "value": round(tn / ts, 2)},
            "optimized": {"label": "vllm backend", "value": round(vn / vs, 2)},
            "ratio": round((vn / vs) / (tn / ts), 2), "agree": agree, "n": len(tout),
            "startup_s": {"torch": round(t_torch, 1), "vllm": round(t_vllm, 1)},
        }))  # fmt: skip
    print(table(rows))


if __name__ == "__main__":  # vLLM starts worker processes that re-import this module
    main()
