"""Output head only where read, before/after on one model: generation (prompt pass + decode) and option
scoring, with the head computed at every position (``full_head``, the before) and only where its logits are
read (the engine's default). Outputs must be equal; the script exits 1 if they are not.

    .venv/bin/python bench/head.py [--model gemma3-270m] [--n 16] [--max-new-tokens 16]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table, timed
from generate import prompts
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.head import full_head
from selfalign.prompts.format import get_format


def score_requests(n: int) -> list[tuple[str, list[str]]]:
    """Critic-shaped requests: a few-shot prompt, then short answer options (the critic's labels)."""
    f = get_format()
    return [(p + f.completion("Apples are red.") + "\nQuestion: Is the response good?\nAnswer:",
             [" Yes", " No", " Partly"]) for p in prompts(n, shots=2)]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    engine.progress = False
    params = GenParams(max_new_tokens=args.max_new_tokens, batch_size=args.n)
    gen_prompts, requests = prompts(args.n, shots=2), score_requests(args.n)
    def generate() -> list:
        return [g.raw for g in engine.generate(gen_prompts, params)]

    def score() -> list:
        return [[s.token_logprobs for s in opts] for opts in engine.logprobs(requests)]

    work = {"generate (2-shot prompts, greedy)": generate, "score 3 options (critic shape)": score}
    rows, same = [], True
    for name, fn in work.items():
        fn()  # warm-up
        after, out_after = timed(fn, args.repeat)
        with full_head():
            before, out_before = timed(fn, args.repeat)
        equal = out_after == out_before if name.startswith("generate") else all(
            abs(a - b) < 1e-4 for x, y in zip(out_after, out_before, strict=True)
            for s, t in zip(x, y, strict=True) for a, b in zip(s, t, strict=True))  # fmt: skip
        same &= equal
        rows.append({"work": name, "full head s": f"{before:.2f}", "head where read s": f"{after:.2f}",
                     "speed-up": f"{before / after:.2f}x", "outputs equal": equal})  # fmt: skip
    print(f"# {args.model}, n={args.n}; {machine()}")
    print(table(rows))
    total_before = sum(float(r["full head s"]) for r in rows)
    total_after = sum(float(r["head where read s"]) for r in rows)
    print("BENCH_JSON " + json.dumps({
        "bench": "head", "unit": "s", "goal": "info", "model": args.model, "outputs_equal": same,
        "baseline": {"label": "output head at every position", "value": round(total_before, 2)},
        "optimized": {"label": "output head only where read", "value": round(total_after, 2)},
        "ratio": round(total_after / total_before, 3), "rows": rows}))  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
