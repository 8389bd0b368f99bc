"""Held-out split (stratified, deterministic, constraint-proportional) and leakage removal."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from selfalign.data.split import leakage, remove_leakage, split_held_out

CATS = {"math": 40, "writing": 25, "facts": 9, "code": 2, "rare": 1}


def _records(seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "do"]
    vocab = ["".join(rng.choice(syll) for _ in range(3)) for _ in range(500)]
    out = []
    for cat, n in CATS.items():
        for k in range(n):
            words = " ".join(rng.choice(vocab) for _ in range(8))
            rec: dict[str, Any] = {"id": f"{cat}-{k}", "category": cat, "text": f"{cat} task {k}: {words}"}
            if k % 4 == 0:
                rec["constraints"] = [{"type": "lowercase", "params": {}}]
            out.append(rec)
    rng.shuffle(out)
    return out


def test_stratified_counts() -> None:
    recs = _records()
    train, test = split_held_out(recs, 0.2, seed=1)
    assert len(train) + len(test) == len(recs)
    assert {r["id"] for r in train}.isdisjoint(r["id"] for r in test)
    per_cat = Counter(r["category"] for r in test)
    assert per_cat == {"math": 8, "writing": 5, "facts": 2, "code": 1}  # round(n * 0.2), >= 1 when n >= 2
    assert all(any(r["category"] == c for r in train) for c in CATS)  # every category also trains


def test_constraints_proportional_inside_category() -> None:
    recs = _records()
    _, test = split_held_out(recs, 0.25, seed=3)
    math = [r for r in test if r["category"] == "math"]
    assert len(math) == 10
    assert (
        sum(bool(r.get("constraints")) for r in math) == 3
    )  # 10 of math's 40 items carry constraints: 2.5 → 3


def test_deterministic_and_seed_dependent() -> None:
    recs = _records()
    a = split_held_out(recs, 0.2, seed=7)
    b = split_held_out(list(recs), 0.2, seed=7)
    c = split_held_out(recs, 0.2, seed=8)
    assert a == b
    assert [r["id"] for r in a[1]] != [r["id"] for r in c[1]]
    # Outputs keep input order.
    order = {r["id"]: i for i, r in enumerate(recs)}
    assert [order[r["id"]] for r in a[1]] == sorted(order[r["id"]] for r in a[1])


def test_bad_fraction() -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        split_held_out(_records(), 1.0, seed=0)


def test_leakage_found_then_removed() -> None:
    recs = _records()
    train, test = split_held_out(recs, 0.2, seed=1)
    assert leakage([r["text"] for r in train], [r["text"] for r in test]) == []
    # Plant a reworded copy of test item 3 (and an exact copy of item 0) in the train set.
    planted = [
        {"id": "leak-1", "category": "math", "text": test[3]["text"].upper().replace(":", " -") + "!!"},
        {"id": "leak-2", "category": "math", "text": test[0]["text"]},
    ]
    train = train[:10] + planted[:1] + train[10:] + planted[1:]
    pairs = leakage([r["text"] for r in train], [r["text"] for r in test])
    assert [(train[i]["id"], j) for i, j, _ in pairs] == [("leak-1", 3), ("leak-2", 0)]
    kept, dropped = remove_leakage(train, test)
    assert [r["id"] for r in dropped] == ["leak-1", "leak-2"]
    assert len(kept) == len(train) - 2
    assert leakage([r["text"] for r in kept], [r["text"] for r in test]) == []
