"""bf16 vs fp32 on CPU: speed, and whether outputs stay the same (greedy texts, critic decisions).

    python bench/dtype.py [--model smollm2-135m] [--n 48] [--max-new-tokens 32]

Greedy agreement: fraction of prompts whose greedy text is identical in both dtypes. Critic agreement:
fraction of (instruction, response) items on which the A/B pointwise critic's decision (P(good) > 0.5)
is the same. bf16 is recommended only where it is both faster and agrees highly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine
from generate import prompts
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.judge.ab import ABPointwise
from selfalign.judge.types import Item
from selfalign.prompts import pools
from selfalign.prompts.format import get_format


def items(n: int) -> list[Item]:
    ex = pools.examples()
    # Half matched (the pool's own answer), half mismatched (another item's answer): both decisions occur.
    return [
        Item(f"i{k}", ex[k % len(ex)].instruction, ex[(k if k % 2 == 0 else k + 7) % len(ex)].response)
        for k in range(n)
    ]


def measure(dtype: str, model: str, ps: list[str], its: list[Item], max_new: int) -> dict[str, object]:
    engine = Engine.load(ModelSpec(ref=model, dtype=dtype, sentinels=False))  # type: ignore[arg-type]
    params = GenParams(max_new_tokens=max_new, stop=get_format().stop, batch_size=16)
    engine.generate(ps[:2], GenParams(max_new_tokens=2))  # warm-up
    t = time.perf_counter()
    gens = engine.generate(ps, params)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    judged = ABPointwise().score(engine, its)
    critic_s = time.perf_counter() - t
    return {
        "texts": [g.text for g in gens],
        "tok_s": sum(g.n_tokens for g in gens) / gen_s,
        "decisions": [j.p_good > 0.5 for j in judged],
        "judgments_s": len(its) / critic_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    a = ap.parse_args()
    ps, its = prompts(a.n), items(a.n)
    f32 = measure("float32", a.model, ps, its, a.max_new_tokens)
    b16 = measure("bfloat16", a.model, ps, its, a.max_new_tokens)
    same_text = sum(x == y for x, y in zip(f32["texts"], b16["texts"], strict=True)) / a.n  # type: ignore[call-overload]
    same_dec = sum(x == y for x, y in zip(f32["decisions"], b16["decisions"], strict=True)) / a.n  # type: ignore[call-overload]
    speed = b16["tok_s"] / f32["tok_s"]  # type: ignore[operator]
    print(f"machine: {machine()}")
    print(f"generate tok/s fp32 {f32['tok_s']:.1f}  bf16 {b16['tok_s']:.1f}  (bf16/fp32 {speed:.2f}x)")
    print(f"critic judgments/s fp32 {f32['judgments_s']:.1f}  bf16 {b16['judgments_s']:.1f}")
    print(f"greedy texts identical: {same_text:.0%}   critic decisions agree: {same_dec:.0%}   (n={a.n})")
    print("BENCH_JSON " + json.dumps({
        "bench": "dtype", "unit": "tok/s", "goal": "info",
        "baseline": {"label": "fp32 engine.generate", "value": round(f32["tok_s"], 2)},  # type: ignore[arg-type]
        "optimized": {"label": "bf16 engine.generate", "value": round(b16["tok_s"], 2)},  # type: ignore[arg-type]
        "ratio": round(speed, 2), "greedy_identical": round(same_text, 3), "critic_agree": round(same_dec, 3),
        "judgments_s_fp32": round(f32["judgments_s"], 1), "judgments_s_bf16": round(b16["judgments_s"], 1),  # type: ignore[arg-type]
        "n": a.n,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
