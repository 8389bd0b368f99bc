"""Paired comparison of one condition across two runs on the same held-out items (an ablation).

Two runs that share the split (same instructions, seed and split config) evaluate the same items; this
pairs condition A of run 1 with condition B of run 2 item by item: pass counts, wins/losses, exact
McNemar, paired-bootstrap lift — and checks first that the runs really share items (the base conditions'
greedy answers should be identical). Used for docs/RESULTS.md's ablation table.

    python bench/compare_runs.py runs/proof sft runs/proof2 sft
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from selfalign.evaluate.stats import mcnemar, paired_bootstrap_lift, wilson_interval


def load(run: Path) -> dict[tuple[str, str], dict]:
    path = run / "evaluate" / "items.jsonl"
    with path.open(encoding="utf-8") as f:
        return {(r["condition"], r["id"]): r for r in map(json.loads, f)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("condition_a")
    ap.add_argument("run_b", type=Path)
    ap.add_argument("condition_b")
    args = ap.parse_args()
    a, b = load(args.run_a), load(args.run_b)
    ids = sorted(i for c, i in a if c == args.condition_a)
    missing = [i for i in ids if (args.condition_b, i) not in b]
    if missing or not ids:
        sys.exit(f"{args.run_b}: {len(missing)}/{len(ids)} items of {args.run_a} missing: other split")
    for cond in ("base_zero_shot", "base_few_shot"):
        keys = [k for k in a if k[0] == cond and k in b]
        same = sum(a[k]["output"] == b[k]["output"] for k in keys)
        print(f"{cond}: identical answers in both runs {same}/{len(keys)}")
    pa = [bool(a[(args.condition_a, i)]["passed"]) for i in ids]
    pb = [bool(b[(args.condition_b, i)]["passed"]) for i in ids]
    test = mcnemar(pa, pb, exact=True)
    lift, lo, hi = paired_bootstrap_lift([float(x) for x in pa], [float(x) for x in pb])
    for name, p in ((f"{args.run_a}:{args.condition_a}", pa), (f"{args.run_b}:{args.condition_b}", pb)):
        low, high = wilson_interval(sum(p), len(p))
        print(f"{name}: {sum(p)}/{len(p)} = {100 * sum(p) / len(p):.1f}% [{100 * low:.1f}, {100 * high:.1f}]")
    pairs = list(zip(pa, pb, strict=True))
    wins, losses = sum(y and not x for x, y in pairs), sum(x and not y for x, y in pairs)
    print(f"second vs first: {100 * lift:+.1f} pts [{100 * lo:.1f}, {100 * hi:.1f}], "
          f"{wins} wins / {losses} losses, exact McNemar p = {test.p_value:.2g}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
