"""Held-out split (stratified, deterministic) and train/test leakage removal."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from selfalign.data.dedup import DEFAULT, DedupParams, near_duplicate_pairs

R = TypeVar("R", bound=Mapping[str, Any])


def _n_test(n: int, fraction: float) -> int:
    """Test items for a stratum of ``n``: proportional, at least 1 when n >= 2, never all of them."""
    if n < 2:
        return 0
    return min(max(1, round(n * fraction)), n - 1)


def _proportional(total: int, sizes: Sequence[int]) -> list[int]:
    """Split ``total`` across parts proportionally to ``sizes`` (largest remainder, ties to the first)."""
    n = sum(sizes)
    exact = [total * s / n for s in sizes]
    out = [int(x) for x in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda k: (-(exact[k] - out[k]), k))
    for k in by_remainder[: total - sum(out)]:
        out[k] += 1
    return out


def split_held_out(
    records: Sequence[R], test_fraction: float, seed: int, stratify_key: str = "category", salt: str = ""
) -> tuple[list[R], list[R]]:
    """Split into ``(train, test)``, both in input order.

    Stratified by ``record[stratify_key]`` (missing → its own stratum): each stratum contributes
    ``round(n * test_fraction)`` items, at least one when it has two or more, and always keeps one for
    training; a stratum of one item goes to train. Inside a stratum, items with constraints and items without
    get test slots in proportion to their counts, so the test set carries constraints like the data does.
    Deterministic for the same records, fraction, seed and ``salt``; a non-empty ``salt`` (e.g. ``"dev"``
    for the dev split carved from the training side) gives a draw independent of the unsalted one.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    strata: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        strata.setdefault(str(rec.get(stratify_key, "<none>")), []).append(i)
    test_idx: set[int] = set()
    for name in sorted(strata):
        members = strata[name]
        # One RNG per stratum (seeded by its name): adding a category does not reshuffle the others.
        rng = random.Random(f"{seed}:{stratify_key}:{name}" + (f":{salt}" if salt else ""))
        parts = [
            [i for i in members if records[i].get("constraints")],
            [i for i in members if not records[i].get("constraints")],
        ]
        quotas = _proportional(_n_test(len(members), test_fraction), [len(p) for p in parts])
        for part, quota in zip(parts, quotas, strict=True):
            if quota:
                test_idx.update(rng.sample(part, quota))
    train = [r for i, r in enumerate(records) if i not in test_idx]
    test = [r for i, r in enumerate(records) if i in test_idx]
    return train, test


def leakage(
    train_texts: Sequence[str], test_texts: Sequence[str], *, params: DedupParams = DEFAULT
) -> list[tuple[int, int, float]]:
    """Pairs ``(train index, test index, score)`` that are exact or near-duplicates (see dedup)."""
    return near_duplicate_pairs(train_texts, test_texts, params=params)


def remove_leakage(
    train: Sequence[R], test: Sequence[R], text_key: str = "text", *, params: DedupParams = DEFAULT
) -> tuple[list[R], list[R]]:
    """Drop train records that near-duplicate any test record; the test set is not touched.

    Returns ``(kept train, dropped train)``, both in input order.
    """
    pairs = leakage([str(r[text_key]) for r in train], [str(r[text_key]) for r in test], params=params)
    leaked = {i for i, _, _ in pairs}
    kept = [r for i, r in enumerate(train) if i not in leaked]
    dropped = [r for i, r in enumerate(train) if i in leaked]
    return kept, dropped
