"""Two runs' seed-pooled policies on the same held-out items: per-item mean pass over run A's seeds minus run
B's (an ablation across seeds, e.g. steered vs unsteered SFT), with intervals over items and over items and
seeds, and a sign-flip test over items. Checks first that the runs share items (identical base answers).

    python bench/compare_pooled.py runs/pilot runs/pilot-unsteered --seeds sft-s0,sft-s1,sft-s2
    python bench/compare_pooled.py runs/cdpo runs/p8 --seeds dpo-s0,dpo-s1,dpo-s2 \
        --seeds-b sft-s0,sft-s1,sft-s2     # run B's policies under other names
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from selfalign.evaluate.stats import paired_bootstrap_lift


def passes(run: Path) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    with (run / "evaluate" / "items.jsonl").open(encoding="utf-8") as f:
        for r in map(json.loads, f):
            out.setdefault(r["condition"], {})[r["id"]] = bool(r["passed"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--seeds", default="sft-s0,sft-s1,sft-s2", help="the conditions pooled in each run")
    ap.add_argument("--seeds-b", default=None, help="run B's conditions, where named otherwise (same order)")
    ap.add_argument("--n-boot", type=int, default=4000)
    a = ap.parse_args()
    pa, pb, seeds = passes(a.run_a), passes(a.run_b), a.seeds.split(",")
    seeds_b = a.seeds_b.split(",") if a.seeds_b else seeds
    if len(seeds_b) != len(seeds):
        raise SystemExit(f"--seeds names {len(seeds)} conditions, --seeds-b {len(seeds_b)}")
    missing = sorted({*seeds_b} - pb.keys()) + sorted({*seeds} - pa.keys())
    if missing:
        raise SystemExit(f"no condition {missing[0]!r} in the runs' evaluate/items.jsonl")
    pb = {**pb, **{s: pb[t] for s, t in zip(seeds, seeds_b, strict=True)}}  # B's seeds under A's names
    for base in ("base_zero_shot", "base_few_shot"):
        if pa.get(base) != pb.get(base):
            raise SystemExit(f"{base} differs between the runs: not the same items or engine")
    ids = sorted(pa["base_zero_shot"])
    ma = [sum(pa[s][i] for s in seeds) / len(seeds) for i in ids]
    mb = [sum(pb[s][i] for s in seeds) / len(seeds) for i in ids]
    lift, lo, hi = paired_bootstrap_lift(mb, ma, n_boot=a.n_boot)
    rng, n = random.Random(0), len(ids)
    two_way = []
    for _ in range(a.n_boot):  # items and each arm's seeds resampled independently (pigeonhole bootstrap)
        sa, sb = [rng.choice(seeds) for _ in seeds], [rng.choice(seeds) for _ in seeds]
        idx = [rng.randrange(n) for _ in range(n)]
        two_way.append(sum(sum(pa[s][ids[k]] for s in sa) - sum(pb[s][ids[k]] for s in sb) for k in idx)
                       / (n * len(seeds)))  # fmt: skip
    two_way.sort()
    d = [x - y for x, y in zip(ma, mb, strict=True)]
    flips = sum(abs(sum(v if rng.random() < 0.5 else -v for v in d)) >= abs(sum(d)) - 1e-9
                for _ in range(a.n_boot))  # fmt: skip
    print(f"{n} items; {a.run_a} {100 * sum(ma) / n:.1f}% vs {a.run_b} {100 * sum(mb) / n:.1f}% "
          f"(per-item mean over {', '.join(seeds)})")  # fmt: skip
    low, high = two_way[int(0.025 * a.n_boot)], two_way[int(0.975 * a.n_boot) - 1]
    print(f"difference {100 * lift:+.1f} pts; 95% CI over items [{100 * lo:+.1f}, {100 * hi:+.1f}], over "
          f"items and seeds [{100 * low:+.1f}, {100 * high:+.1f}]; "
          f"sign-flip p = {flips / a.n_boot:.2f}; items better / worse: {sum(x > 0 for x in d)} / "
          f"{sum(x < 0 for x in d)}")  # fmt: skip


if __name__ == "__main__":
    main()
