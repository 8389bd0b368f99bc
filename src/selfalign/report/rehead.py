"""A results.json headline from before per-subset bases, recomputed from the run's own per-item outcomes.

Until 2026-12-06 every subset was compared with the base that is stronger on *all* items; a report of such a
run would print its table under the new label ("stronger base on the items") with the old numbers. The
outcomes per item are in ``evaluate/items.jsonl`` beside ``results.json``, so the report recomputes the
headline with the current rule instead (the run's files are never rewritten) and says it did. The same
goes for the clean-pass headline (``evaluate.clean``), which runs evaluated before it existed (2026-12-06,
after the sixth proof run's evaluation) lack.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from selfalign.data.jsonl import iter_jsonl
from selfalign.evaluate.items import load_items


def current(res: dict[str, Any], results_path: Path) -> dict[str, Any]:
    """``res`` with its headline recomputed when it predates ``subset_bases``, and its clean-pass headline
    computed when it has none (needs items.jsonl; the clean pass also the split's test.jsonl)."""
    from selfalign.evaluate.clean import clean_headline  # here: evaluate.across imports the report's tables
    from selfalign.evaluate.headline import headline

    old = res.get("headline")
    items = results_path.parent / "items.jsonl"
    test = results_path.parent.parent / "split" / "test.jsonl"
    if not isinstance(old, dict) or not items.is_file():
        return res
    fresh = "subset_bases" in old
    need_clean = not isinstance(res.get("headline_clean"), dict) and test.is_file()
    if fresh and not need_clean:
        return res
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, rec in iter_jsonl(items):
        records[str(rec["condition"])].append(rec)
    held = load_items(test) if test.is_file() else []
    unseen = [it.id for it in held if it.wording == "unseen"]
    opts = {"n_boot": int(res.get("n_boot", 2000)), "seed": int(res.get("seed", 0)),
            "confidence": float(res.get("confidence", 0.95)),
            "alpha": float(res.get("alpha", 0.05))}  # fmt: skip
    out = dict(res)
    if not fresh:
        new = headline(dict(records), {}, unseen_wording=unseen, **opts)
        new["conditions"] = old.get("conditions", new["conditions"])  # stop rates need the run's stop reasons
        new["recomputed"] = "from items.jsonl with the per-subset stronger base (results.json predates it)"
        out["headline"] = new
    if need_clean:
        texts = {it.id: it.instruction for it in held}
        clean = clean_headline(dict(records), texts, unseen_wording=unseen, **opts)
        clean["recomputed"] = "from items.jsonl and split/test.jsonl (results.json predates the clean pass)"
        out["headline_clean"] = clean
    return out


__all__ = ["current"]
