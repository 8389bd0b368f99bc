"""Recompute a finished run's headline from its ``evaluate/items.jsonl`` with the current code, as Markdown.

A run evaluated before a change to ``evaluate.headline`` keeps the old headline in ``results.json`` (the run's
outputs are never rewritten: their hashes key the stages after them). This prints the pooled tables the
current code gives for the same per-item outcomes, e.g. after 2026-12-06's per-subset stronger base:

    python bench/rehead.py runs/proof-2026-12-06 > /tmp/rehead.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from selfalign.report.markdown import md_table
from selfalign.report.pooled import POOLED_HEAD, SEED_HEAD, lead_sentence, pooled_rows, seed_rows
from selfalign.report.rehead import current


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run dir with evaluate/items.jsonl (and split/test.jsonl)")
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args()
    # An empty headline is "from before per-subset bases": current() recomputes it from items.jsonl.
    h = current({"headline": {}, "n_boot": args.n_boot}, args.run / "evaluate" / "results.json")["headline"]
    if "subset_bases" not in h:
        raise SystemExit(f"{args.run}/evaluate/items.jsonl: no such file (was the run evaluated?)")
    print(f"Stronger base on all items: {h['stronger_base']}; per subset: {h['subset_bases']}\n")
    print(f"**{lead_sentence(h)}**\n")
    print(md_table(POOLED_HEAD, pooled_rows(h)))
    print()
    print(md_table(SEED_HEAD, seed_rows(h)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
