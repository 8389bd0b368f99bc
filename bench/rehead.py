"""Recompute a finished run's headline from its ``evaluate/items.jsonl`` with the current code, as Markdown.

A run evaluated before a change to ``evaluate.headline`` keeps the old headline in ``results.json`` (the run's
outputs are never rewritten: their hashes key the stages after them). This prints the pooled tables the
current code gives for the same per-item outcomes, e.g. after 2026-12-06's per-subset stronger base:

    python bench/rehead.py runs/proof-2026-12-06 > /tmp/rehead.md
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from selfalign.evaluate.headline import headline
from selfalign.report.markdown import md_table
from selfalign.report.pooled import POOLED_HEAD, SEED_HEAD, lead_sentence, pooled_rows, seed_rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run dir with evaluate/items.jsonl (and split/test.jsonl)")
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args()
    records: dict[str, list[dict]] = defaultdict(list)
    for line in (args.run / "evaluate" / "items.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            records[rec["condition"]].append(rec)
    test = args.run / "split" / "test.jsonl"
    unseen = []
    if test.is_file():
        rows = [json.loads(x) for x in test.read_text("utf-8").splitlines() if x.strip()]
        unseen = [r["id"] for r in rows if r.get("wording") == "unseen"]
    h = headline(dict(records), {}, n_boot=args.n_boot, unseen_wording=unseen)
    print(f"Stronger base on all items: {h['stronger_base']}; per subset: {h['subset_bases']}\n")
    print(f"**{lead_sentence(h)}**\n")
    print(md_table(POOLED_HEAD, pooled_rows(h)))
    print()
    print(md_table(SEED_HEAD, seed_rows(h)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
