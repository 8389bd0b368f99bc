"""A results.json headline from before per-subset bases, recomputed from the run's own per-item outcomes.

Until 2026-12-06 every subset was compared with the base that is stronger on *all* items; a report of such a
run would print its table under the new label ("stronger base on the items") with the old numbers. The
outcomes per item are in ``evaluate/items.jsonl`` beside ``results.json``, so the report recomputes the
headline with the current rule instead (the run's files are never rewritten) and says it did.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from selfalign.data.jsonl import iter_jsonl


def current(res: dict[str, Any], results_path: Path) -> dict[str, Any]:
    """``res`` with its headline recomputed when it predates ``subset_bases`` (and items.jsonl is there)."""
    from selfalign.evaluate.headline import headline  # here: evaluate.across imports the report's tables

    old = res.get("headline")
    items = results_path.parent / "items.jsonl"
    if not isinstance(old, dict) or "subset_bases" in old or not items.is_file():
        return res
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, rec in iter_jsonl(items):
        records[str(rec["condition"])].append(rec)
    test = results_path.parent.parent / "split" / "test.jsonl"
    rows = [r for _, r in iter_jsonl(test)] if test.is_file() else []
    unseen = [str(r["id"]) for r in rows if r.get("wording") == "unseen"]
    new = headline(dict(records), {}, n_boot=int(res.get("n_boot", 2000)), seed=int(res.get("seed", 0)),
                   confidence=float(res.get("confidence", 0.95)), alpha=float(res.get("alpha", 0.05)),
                   unseen_wording=unseen)  # fmt: skip
    new["conditions"] = old.get("conditions", new["conditions"])  # stop rates need the run's stop reasons
    new["recomputed"] = "from items.jsonl with the per-subset stronger base (results.json predates it)"
    return {**res, "headline": new}


__all__ = ["current"]
