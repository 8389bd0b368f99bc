"""Critic throughput: judgments per second per scorer, batched (one call for all items, the engine batches
internally) vs one item per call with batch size 1 — same model, same check-set items.

A judgment is one response judged (pointwise scorers) or one pair compared (ab-pairwise, both orders).

    python bench/critic.py [--model smollm2-135m] [--n 16] [--single-n 4] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table, timed
from selfalign.engine import Engine, ModelSpec
from selfalign.judge import MODEL_SCORERS, Item, PairItem, checkset, get_scorer
from selfalign.judge.types import Scorer


def items(n: int) -> tuple[list[Item], list[PairItem]]:
    cases = checkset.build(
        n_per_kind=max(1, n // len(checkset.OPEN_KINDS) + 1), seed=0, kinds=checkset.OPEN_KINDS
    )
    pairs = [c.pair for c in cases][:n]
    return [Item(p.id, p.instruction, p.a) for p in pairs], pairs


def judge(scorer: Scorer, engine: Engine, points: list[Item], pairs: list[PairItem]) -> int:
    got = scorer.score(engine, points) if scorer.pointwise else scorer.compare(engine, pairs)
    return len(got)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=16, help="items judged in the batched run")
    ap.add_argument("--single-n", type=int, default=4, help="items judged one call each (slow baseline)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--scorers", nargs="*", default=list(MODEL_SCORERS))
    args = ap.parse_args()
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    points, pairs = items(args.n)
    judge(get_scorer("likelihood-contrast"), engine, points[:2], pairs[:2])  # warm-up
    rows, figures = [], {}
    for name in args.scorers:
        scorer = get_scorer(name)
        scorer.batch_size = args.batch_size
        t_b, n_b = timed(lambda s=scorer: judge(s, engine, points, pairs))
        scorer.batch_size = 1

        def one_by_one(s: Scorer = scorer) -> int:
            k = args.single_n
            return sum(judge(s, engine, [p], [q]) for p, q in zip(points[:k], pairs[:k], strict=True))

        t_s, n_s = timed(one_by_one)
        batched, single = n_b / t_b, n_s / t_s
        figures[name] = {"batched": round(batched, 3), "single": round(single, 3)}
        rows.append({
            "scorer": name, "batched (n, s)": f"{n_b}, {t_b:.1f}", "batched judg/s": f"{batched:.2f}",
            "single (n, s)": f"{n_s}, {t_s:.1f}", "single judg/s": f"{single:.2f}",
            "speed-up": f"{batched / single:.1f}×",
        })  # fmt: skip
    load = os.getloadavg()[0]
    print(f"machine: {machine()}\nload average (1 min) at the end: {load:.1f}\nmodel: {args.model}, "
          f"batch size {args.batch_size}\n")  # fmt: skip
    print(table(rows))
    print(
        "BENCH_JSON "
        + json.dumps({"critic_judgments_per_s": figures, "model": args.model, "load_1min": load})
    )


if __name__ == "__main__":
    main()
