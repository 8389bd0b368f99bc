"""The torch engine on the pipeline's generation shapes, before and after continuous batching + shared-prefix
reuse (issue 27, items 1-2), interleaved A/B/A/B in one process (the machine is shared: ratios, not rates,
are what survive its load).

    python bench/batching.py [--model gemma3-270m] [--n 32] [--batch-size 16] [--max-new-tokens 64]
                             [--reps 2] [--shapes short,fewshot,bestofn]

Shapes (each one BENCH_JSON line, ``bench``: ``torch_<shape>``):
- ``short``: base zero-shot evaluation, the bare format prompt, greedy;
- ``fewshot``: base few-shot evaluation, the same 3 solved examples before every item (urial_prompt), greedy;
- ``bestofn``: the responses stage, a 3-shot prompt per instruction sampled 4 times (T 0.8, top-p 0.95).
A (before) = ``TorchOptions(refill=False, prefixes=False)``: the engine's decode of 2026-12-05 (a batch runs
until its last row is done; only identical prompts share a prefill); B (after) = both on. Greedy outputs of
A and B are compared row by row (``same``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.prompts import pools
from selfalign.prompts.builders import response_prompt, urial_prompt
from selfalign.prompts.format import get_format

SHAPES = ("short", "fewshot", "bestofn")


def workload(shape: str, n: int, max_new: int, batch: int) -> tuple[list[str], GenParams]:
    items = pools.examples()
    ins = [items[(7 * i) % len(items)].instruction for i in range(n)]
    greedy = GenParams(max_new_tokens=max_new, batch_size=batch)
    if shape == "short":
        return [get_format().prompt(x) for x in ins], greedy
    if shape == "fewshot":
        return [urial_prompt(x, k=3, seed=0) for x in ins], greedy
    samples = 4
    prompts = [
        response_prompt(x, random.Random(f"0:{i}:0"), k=3)[0] for i, x in enumerate(ins[: n // samples])
    ]
    params = GenParams(max_new_tokens=max_new, batch_size=batch, temperature=0.8, top_p=0.95, seed=0)
    return [p for p in prompts for _ in range(samples)], params


def measure(engine: Engine, prompts: list[str], params: GenParams, on: bool, head: bool = False
            ) -> tuple[float, list[str], int]:
    """One arm. ``head``: the shortlist head follows the arm too (A = the whole engine before issue 27)."""
    from selfalign.engine.head_shortlist import shortlist

    engine.torch.options.refill = engine.torch.options.prefixes = on
    with shortlist(on, sampled=False) if head else contextlib.nullcontext():
        t = time.perf_counter()
        gens = engine.generate(prompts, params)
        dt = time.perf_counter() - t
    return dt, [g.raw for g in gens], sum(g.n_tokens for g in gens)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--with-head", action="store_true",
                    help="arm A also turns the greedy shortlist head off: the engine before issue 27 in full")
    args = ap.parse_args()
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    engine.progress = False
    engine.generate(["Warm-up"], GenParams(max_new_tokens=2))
    rows, results = [], []
    for shape in args.shapes.split(","):
        prompts, params = workload(shape, args.n, args.max_new_tokens, args.batch_size)
        times: dict[bool, list[float]] = {False: [], True: []}
        tokens: dict[bool, int] = {}
        texts: dict[bool, list[str]] = {}
        for _ in range(args.reps):
            for on in (False, True):
                dt, texts[on], tokens[on] = measure(engine, prompts, params, on, args.with_head)
                times[on].append(dt)
        rate = {on: tokens[on] / min(times[on]) for on in (False, True)}
        same = sum(a == b for a, b in zip(texts[False], texts[True], strict=True))
        load = os.getloadavg()[0]
        prompt_tokens = sum(len(engine.guard.encode(p)) for p in prompts) / len(prompts)
        rows.append({"shape": shape, "rows": len(prompts), "prompt tok/row": f"{prompt_tokens:.0f}",
                     "before tok/s": f"{rate[False]:.1f}", "after tok/s": f"{rate[True]:.1f}",
                     "ratio": f"{rate[True] / rate[False]:.2f}×", "same rows": f"{same}/{len(prompts)}",
                     "s before": " ".join(f"{t:.1f}" for t in times[False]),
                     "s after": " ".join(f"{t:.1f}" for t in times[True]),
                     "load": f"{load:.1f}"})  # fmt: skip
        results.append({
            "bench": f"torch_{shape}", "unit": "tok/s", "goal": "info",
            "baseline": {"label": f"torch engine, {shape}, batches run to their last row",
                         "value": round(rate[False], 2)},
            "optimized": {"label": f"torch engine, {shape}, continuous batching + prefix reuse",
                          "value": round(rate[True], 2)},
            "ratio": round(rate[True] / rate[False], 3), "same_rows": same, "rows": len(prompts),
            "load_1min": round(load, 1),
        })  # fmt: skip
        print(f"{shape}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"machine: {machine()}\nmodel: {args.model}, batch {args.batch_size}, max_new_tokens "
          f"{args.max_new_tokens}, best of {args.reps} interleaved runs per arm\n")  # fmt: skip
    print(table(rows))
    for r in results:
        print("BENCH_JSON " + json.dumps(r))


if __name__ == "__main__":
    main()
